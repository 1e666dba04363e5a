"""The study, stage by stage: each stage is loaded from the result store or computed first.

Chapters (through :mod:`fmnist_lib.paper`) call these functions and nothing else computes:
``grid_search``, ``baseline_results``, ``candidate_runs``, ``selection``, ``final_models``,
``short_runs``, ``runner_up_runs``, ``check_runs``, ``efficiency``, ``comparison``, ``verdicts``,
``gradcam_analysis``. Each takes a profile (name, ``Profile`` or ``None`` for the
environment's choice) and computes whatever it depends on, so any chapter runs alone on a
fresh clone. What each stage stores, what it is computed from and the function computing it
are declared once, in :mod:`fmnist_lib.pipeline.registry`; here each stage builds its spec
and calls that function.
"""
from __future__ import annotations

import sys
import time

import numpy as np
import pandas as pd

from ..config import DEFAULTS, EQUIVALENCE_MARGIN, Profile, get_profile
from ..data import get_arrays
from ..fused import check_kernels
from ..models import DISPLAY_NAMES
from .registry import STAGES
from .dispatch import train_runs
from .runs import data_spec, run_config
from .store import default_store

__all__ = ["NAMES", "test_set", "val_labels", "baseline_results", "grid_search", "all_runs",
           "candidate_runs", "selection", "final_models", "short_runs", "runner_up_runs", "check_runs",
           "convergence", "fidelity", "efficiency", "comparison", "verdicts", "gradcam_analysis",
           "explorer_maps", "explorer_data", "faithfulness", "stage_times",
           "run_all"]

NAMES = ("simple", "lenet")


def _progress() -> bool:
    """Progress bars on a terminal only: a rendered report should not contain them."""
    return sys.stderr.isatty()


def test_set(profile: str | Profile | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The official 10,000 test images, normalised: ``X (10000, 1, 28, 28)``, ``y (10000,)``."""
    p = get_profile(profile)
    return get_arrays(val_fraction=p.val_fraction, seed=p.seed, subset=p.subset)["test"]


def baseline_results(profile: str | Profile | None = None) -> dict[str, list[dict]]:
    """Both models trained with the seed's defaults (Adam, lr 1e-3, batch 64, no weight decay).

    The same recipe (epochs, schedule, seeds) as the tuned finals, so the effect of tuning
    is the paired difference per seed; where a model's tuned values equal the defaults,
    its runs are the same store entries.

    Returns
    -------
    dict
        ``{name: [run per seed]}``, each run as :func:`fmnist_lib.pipeline.dispatch.train_runs` returns it.
    """
    p = get_profile(profile)
    return _runs(p, {n: DEFAULTS for n in NAMES})


def _jobs(p: Profile, params: dict[str, dict], seeds=None, epochs: int | None = None) -> list:
    seeds = p.seeds if seeds is None else seeds
    return [(name, run_config(p, params[name], seed, _progress(), epochs)) for name in NAMES for seed in seeds]


def _runs(p: Profile, params: dict[str, dict], seeds=None, epochs: int | None = None) -> dict[str, list[dict]]:
    jobs = _jobs(p, params, seeds, epochs)
    runs = train_runs(p, jobs)
    return {name: [r for (n, _), r in zip(jobs, runs) if n == name] for name in NAMES}


def _grid_spec(p: Profile, name: str) -> dict:
    return {**data_spec(p), "model": name, "grid": p.grid, "grid_subset": p.grid_subset, "grid_splits": p.grid_splits,
            "grid_epochs": p.grid_epochs, "schedule": p.final_schedule, "scored_on": "validation split",
            "defaults": DEFAULTS, "kernels": check_kernels("auto")}


def grid_search(profile: str | Profile | None = None) -> dict[str, dict]:
    """The search over ``profile.grid``, the same grid and recipe for both models.

    Returns
    -------
    dict
        ``{name: {"table": DataFrame (one row per configuration), "best_params": dict,
        "seconds": float}}``.
    """
    from .cluster import grid_backend

    p = get_profile(profile)
    stage, out = STAGES["grid"], {}
    for name in NAMES:
        def compute(name=name):
            # on $FMNIST_SCHEDULER's Dask cluster when set: same table, so same store key
            return stage.function()(name, p, kernels=check_kernels("auto"), verbose=_progress(),
                                    **grid_backend())

        raw = default_store(p.name).get_or_compute(stage.name, _grid_spec(p, name), compute)
        out[name] = {"table": raw["table"], "best_params": raw["best_params"],
                     "seconds": raw["_seconds"]}
    return out


def _candidates(p: Profile) -> dict[str, list[dict]]:
    from ..tuning.grid_search import candidate_params

    return {n: candidate_params(g["table"], DEFAULTS) for n, g in grid_search(p).items()}


def _candidate_jobs(p: Profile) -> list:
    return [(n, run_config(p, c, p.seeds[0], _progress())) for n, cs in _candidates(p).items() for c in cs]


def candidate_runs(profile: str | Profile | None = None) -> dict[str, list[tuple[dict, dict]]]:
    """The search's candidates (:func:`fmnist_lib.tuning.grid_search.candidate_params`: the best
    configuration of each learning rate, and the defaults) at the full recipe, first seed:
    ``{name: [(params, run), ...]}`` in the candidates' order."""
    p = get_profile(profile)
    jobs = _candidate_jobs(p)
    runs = train_runs(p, jobs)
    out = {n: [] for n in NAMES}
    for c, ((n, _), r) in zip((c for cs in _candidates(p).values() for c in cs), zip(jobs, runs)):
        out[n].append((c, r))
    return out


def selection(profile: str | Profile | None = None) -> dict[str, pd.DataFrame]:
    """Per model, the candidates ranked by their full-recipe validation accuracy (first seed;
    ties: the search's rank): the first is the tuned configuration, the second the runner-up.

    Returns
    -------
    dict
        ``{name: DataFrame}`` with ``lr, batch_size, weight_decay, search_rank, search_mean,
        search_sd, val_acc, params`` (the dict a run is trained with), best first.
    """
    p = get_profile(profile)
    grid = grid_search(p)
    out = {}
    for n, pairs in candidate_runs(p).items():
        t = grid[n]["table"].set_index(["lr", "batch_size", "weight_decay"])
        rows = []
        for c, r in pairs:
            key = (c["lr"], c["batch_size"], c["optimizer__weight_decay"])
            rows.append({"lr": key[0], "batch_size": key[1], "weight_decay": key[2],
                         "search_rank": int(t.loc[key, "rank"]), "search_mean": float(t.loc[key, "mean_cv_acc"]),
                         "search_sd": float(t.loc[key, "std_cv_acc"]),
                         "val_acc": float(r["history"]["val_acc"].iloc[-1]), "params": c})
        table = pd.DataFrame(rows).sort_values(["val_acc", "search_rank"], ascending=[False, True],
                                               kind="stable", ignore_index=True)
        out[n] = table
    return out


def _tuned(p: Profile) -> dict[str, dict]:
    return {n: t["params"].iloc[0] for n, t in selection(p).items()}


def _runner_up(p: Profile) -> dict[str, dict]:
    return {n: t["params"].iloc[1] for n, t in selection(p).items()}


def all_runs(profile: str | Profile | None = None) -> int:
    """Train every run the study compares that is not stored yet, in two parallel batches (the
    defaults and the search's candidates, then everything the selection decides: the tuned
    runs, the short budget, the runner-up, the convergence check), the longest first in each,
    so both cores stay busy to the end; returns how many runs it covers. Each stage then
    loads its runs from the store."""
    p = get_profile(profile)
    first = _jobs(p, {n: DEFAULTS for n in NAMES}) + _candidate_jobs(p)
    train_runs(p, first)
    tuned, runner_up = _tuned(p), _runner_up(p)
    second = (_jobs(p, tuned) + _jobs(p, tuned, epochs=p.short_epochs)
              + _jobs(p, runner_up, p.seeds[:p.runner_up_seeds])
              + _jobs(p, tuned, p.seeds[-p.check_seeds:], epochs=p.check_epochs))
    train_runs(p, second)
    return len(first) + len(second)


def final_models(profile: str | Profile | None = None) -> dict[str, list[dict]]:
    """Each model trained with its tuned values (:func:`selection`) on the training split, once per seed.

    Returns
    -------
    dict
        ``{name: [{"seed", "model" (eval mode, CPU), "history" (DataFrame), "test_proba"
        (ndarray (10000, 10)), "val_proba", "test_logits", "val_logits", "seconds",
        "epochs_run", "best_epoch", "config"} per seed]}``.
    """
    p = get_profile(profile)
    return _runs(p, _tuned(p))


def short_runs(profile: str | Profile | None = None) -> dict[str, list[dict]]:
    """The tuned values trained for the short budget (``profile.short_epochs``), every seed."""
    p = get_profile(profile)
    return _runs(p, _tuned(p), epochs=p.short_epochs)


def runner_up_runs(profile: str | Profile | None = None) -> dict[str, list[dict]]:
    """Each model's runner-up (second in :func:`selection`) at the full recipe, ``profile.runner_up_seeds`` seeds."""
    p = get_profile(profile)
    return _runs(p, _runner_up(p), p.seeds[:p.runner_up_seeds])


def check_runs(profile: str | Profile | None = None) -> dict[str, list[dict]]:
    """The convergence check: the tuned values trained for ``profile.check_epochs`` (twice the
    budget, its own cosine schedule), on the last ``profile.check_seeds`` seeds: the first seed's run of the budget is the
    candidate the selection chose, a maximum that a check paired with it would be measured against."""
    p = get_profile(profile)
    return _runs(p, _tuned(p), p.seeds[-p.check_seeds:], epochs=p.check_epochs)


def convergence(profile: str | Profile | None = None) -> pd.DataFrame:
    """The convergence criterion applied to the stored runs
    (:func:`fmnist_lib.evaluation.convergence.convergence_table`)."""
    from ..config import CONVERGENCE_TOLERANCE
    from ..evaluation.convergence import convergence_table

    p = get_profile(profile)
    return convergence_table(final_models(p), check_runs(p), short_runs(p), CONVERGENCE_TOLERANCE)


def fidelity(profile: str | Profile | None = None) -> dict:
    """Search score against full-recipe validation accuracy for the candidates, first seed
    (:func:`fmnist_lib.evaluation.fidelity.fidelity_check`)."""
    from ..evaluation.fidelity import fidelity_check

    p = get_profile(profile)
    grid = grid_search(p)
    runs = {}
    for n, t in selection(p).items():
        by_params = {tuple(c.items()): r for c, r in candidate_runs(p)[n]}
        runs[n] = []
        for i, c in enumerate(t["params"]):
            role = ("tuned" if i == 0 else "runner-up" if i == 1 else f"best at lr {c['lr']:g}")
            if c == DEFAULTS:
                role = "defaults" if i > 1 else f"{role} = defaults"
            runs[n].append((role, c, [by_params[tuple(c.items())]]))
    return fidelity_check({n: g["table"] for n, g in grid.items()}, runs)


def val_labels(profile: str | Profile | None = None) -> np.ndarray:
    """Labels of the validation split, ``(n_val,)``, in the order of the runs' ``val_logits``."""
    p = get_profile(profile)
    return get_arrays(val_fraction=p.val_fraction, seed=p.seed, subset=p.subset)["val"][1]


def efficiency(profile: str | Profile | None = None) -> dict:
    """Complexity of both models and the interleaved cost benchmark.

    Returns
    -------
    dict
        ``"complexity"`` (DataFrame: model, conv_layers, fc_layers, parameters, macs),
        ``"timings"`` (DataFrame, one row per model, task and repeat) and ``"summary"``
        (DataFrame: median and IQR per model and task, see :func:`fmnist_lib.benchmark.summarise`).
    """
    from ..evaluation.benchmark import BENCH, summarise

    p = get_profile(profile)
    spec = {"repeats": p.bench_repeats, **BENCH, "kernels": check_kernels("auto")}  # timed training steps
    stage = STAGES["efficiency"]
    raw = default_store(p.name).get_or_compute(
        stage.name, spec, lambda: stage.function()(data_spec(p), repeats=p.bench_repeats, seed=p.seed))
    return {"complexity": raw["complexity"], "timings": raw["timings"],
            "summary": summarise(raw["timings"])}


def gradcam_analysis(profile: str | Profile | None = None) -> dict:
    """Grad-CAM, HiResCAM and occlusion of every final model on stratified test images:
    agreement on a common grid within and across models and against references, foreground
    test, perturbation tests, randomisation check
    (``saliency.study.analyse``; plus ``"indices"``, the test images used).
    """
    p = get_profile(profile)
    finals = final_models(p)
    X, y = test_set(p)
    spec = {**data_spec(p), "n": p.agreement_images, **p.saliency_sizes(),
            "finals": {n: [r["config"] for r in runs] for n, runs in finals.items()}}

    stage = STAGES["gradcam"]
    runs = {n: [r["model"] for r in finals[n]] for n in NAMES}
    return default_store(p.name).get_or_compute(
        stage.name, spec, lambda: stage.function()(runs, X, y, p.agreement_images, seed=p.seed,
                                                   **p.saliency_sizes()))


def comparison(profile: str | Profile | None = None) -> dict:
    """Every statistic of the comparison (:func:`fmnist_lib.evaluation.comparison.compare`),
    computed from the baseline and final runs, stored and keyed by their recipes."""
    p = get_profile(profile)
    finals, base = final_models(p), baseline_results(p)
    _, y = test_set(p)
    y_val = val_labels(p)
    spec = {"finals": {n: [r["config"] for r in rs] for n, rs in finals.items()},
            "baseline": {n: [r["config"] for r in rs] for n, rs in base.items()},
            "data": data_spec(p), "n_boot": p.n_boot, "margin": EQUIVALENCE_MARGIN}
    stage = STAGES["comparison"]
    return default_store(p.name).get_or_compute(
        stage.name, spec, lambda: stage.function()(y, y_val, base, finals, EQUIVALENCE_MARGIN, p.n_boot, p.seed))


def explorer_maps(profile: str | Profile | None = None) -> dict:
    """The HTML explorer's maps: every seed's Grad-CAM and HiResCAM of ``saliency.explorer.N_IMAGES``
    test images for their true and every predicted class (:func:`fmnist_lib.saliency.explorer.explorer_entry`)."""
    p = get_profile(profile)
    return _explorer_maps(p, final_models(p))


def _explorer_maps(p: Profile, finals: dict[str, list[dict]]) -> dict:
    from ..saliency.explorer import N_IMAGES

    X, y = test_set(p)
    spec = {**data_spec(p), "n": N_IMAGES, "finals": _configs(finals)}
    stage = STAGES["explorer"]
    return default_store(p.name).get_or_compute(
        stage.name, spec, lambda: stage.function()(finals, X, y, N_IMAGES, seed=p.seed))


def explorer_data(profile: str | Profile | None = None) -> dict:
    """Everything the explorer shows: :func:`explorer_maps` plus, for every test image, the label
    and each seed's probabilities (``"y"``, ``"seeds"``, ``"names"``, ``"proba"``:
    ``{name: ndarray (n_seeds, N, 10)}``)."""
    p = get_profile(profile)
    finals = final_models(p)  # loaded once, for the maps and the probabilities
    _, y = test_set(p)
    proba = {n: np.stack([r["test_proba"] for r in finals[n]]) for n in NAMES}
    return {**_explorer_maps(p, finals), "y": y, "seeds": [int(r["seed"]) for r in finals[NAMES[0]]],
            "names": list(NAMES), "proba": proba}


def _configs(runs: dict[str, list[dict]]) -> dict[str, list[dict]]:
    return {n: [r["config"] for r in rs] for n, rs in runs.items()}


def verdicts(profile: str | Profile | None = None) -> pd.DataFrame:
    """Every estimate of LeNet-5 minus the Simple CNN, with its intervals and TOST verdict
    (:func:`fmnist_lib.evaluation.verdicts.verdict_entry`): the tuned runs and the defaults at
    the full budget, their seed ensembles, the short budget, the convergence check's budget
    and the search's runner-up configurations."""
    p = get_profile(profile)
    sets = {"tuned": final_models(p), "defaults": baseline_results(p), "short": short_runs(p),
            "check": check_runs(p), "runner-up": runner_up_runs(p)}
    _, y = test_set(p)
    spec = {"runs": {k: _configs(v) for k, v in sets.items()}, "data": data_spec(p), "n_boot": p.n_boot,
            "margin": EQUIVALENCE_MARGIN}
    stage = STAGES["verdicts"]
    probas = {k: {n: [r["test_proba"] for r in rs] for n, rs in v.items()} for k, v in sets.items()}
    epochs = {"full": p.final_epochs, "short": p.short_epochs, "check": p.check_epochs}
    raw = default_store(p.name).get_or_compute(
        stage.name, spec, lambda: stage.function()(y, probas, epochs, EQUIVALENCE_MARGIN, p.n_boot, p.seed))
    return raw["table"]


def faithfulness(profile: str | Profile | None = None) -> pd.DataFrame:
    """``gradcam_faithfulness.faithfulness_summary`` of the stored perturbation tests."""
    from ..saliency.faithfulness import faithfulness_summary

    out = faithfulness_summary(gradcam_analysis(profile)["faith_areas"])
    order = out["model"].map({n: i for i, n in enumerate(NAMES)})
    return out.iloc[np.argsort(order.to_numpy(), kind="stable")].reset_index(drop=True)


def stage_times(profile: str | Profile | None = None) -> pd.DataFrame:
    """Training time of each stage as stored with its results, in core-seconds (for the appendix).

    A stored run that two stages share (the defaults' first seed is also a candidate; a tuned
    value or the runner-up can equal the defaults) is counted once, under the first stage listed,
    so a stage whose runs were all counted before shows 0 s.
    """
    import json

    p = get_profile(profile)
    # mean_fit_time is scikit-learn's mean over the splits: times the splits, the seconds of every fit
    rows = [("grid search", float(g["table"]["mean_fit_time"].sum()) * p.grid_splits, DISPLAY_NAMES[n])
            for n, g in grid_search(p).items()]
    seen = set()
    stages = (("baseline", baseline_results(p)), ("candidates", {n: [r for _, r in pairs] for n, pairs in
                                                              candidate_runs(p).items()}),
              ("final models", final_models(p)), ("short budget", short_runs(p)), ("runner-up", runner_up_runs(p)),
              ("convergence check", check_runs(p)))
    for stage, runs in stages:
        for n, rs in runs.items():
            seconds = 0.0
            for r in rs:
                key = (n, json.dumps(r["config"], sort_keys=True))  # the config holds the seed
                if key not in seen:
                    seen.add(key)
                    seconds += r["seconds"]
            rows.append((stage, seconds, DISPLAY_NAMES[n]))
    return pd.DataFrame(rows, columns=["stage", "seconds", "model"])


def run_all(profile: str | Profile | None = None, echo=print) -> dict[str, float]:
    """Compute (or load) every declared stage, printing each one's wall time and the headline."""
    p = get_profile(profile)
    times = {}
    for loader in (name for stage in STAGES.values() for name in stage.loaders):
        start = time.perf_counter()
        globals()[loader](p)
        times[loader] = time.perf_counter() - start
        echo(f"[{p.name}] {loader:<17} {times[loader]:8.1f} s")
    echo(comparison(p)["accuracy"].to_string(index=False))
    return times
