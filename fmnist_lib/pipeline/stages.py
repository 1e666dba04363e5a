"""The study, stage by stage: each stage is loaded from the result store or computed first.

Chapters (through :mod:`fmnist_lib.paper`) call these functions and nothing else computes:
``baseline_results``, ``grid_search``, ``final_models``, ``efficiency``, ``comparison``,
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
from ..models import DISPLAY_NAMES
from .registry import STAGES
from .runs import data_spec, run_config, train_runs
from .store import default_store

__all__ = ["NAMES", "test_set", "val_labels", "baseline_results", "grid_search",
           "final_models", "efficiency", "comparison", "gradcam_analysis", "explorer_maps", "explorer_data",
           "faithfulness", "stage_times",
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
        ``{name: [run per seed]}``, each run as :func:`fmnist_lib.runs.train_runs` returns it.
    """
    p = get_profile(profile)
    return _runs(p, {n: DEFAULTS for n in NAMES})


def _runs(p: Profile, params: dict[str, dict]) -> dict[str, list[dict]]:
    jobs = [(name, run_config(p, params[name], seed, _progress())) for name in NAMES for seed in p.seeds]
    runs = train_runs(p, jobs)
    return {name: [r for (n, _), r in zip(jobs, runs) if n == name] for name in NAMES}


def _grid_spec(p: Profile, name: str) -> dict:
    return {**data_spec(p), "model": name, "grid": p.grid, "grid_subset": p.grid_subset,
            "grid_epochs": p.grid_epochs, "schedule": p.final_schedule, "scored_on": "validation split"}


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
            return stage.function()(name, p, verbose=_progress(), **grid_backend())

        raw = default_store(p.name).get_or_compute(stage.name, _grid_spec(p, name), compute)
        out[name] = {"table": raw["table"], "best_params": raw["best_params"],
                     "seconds": raw["_seconds"]}
    return out


def final_models(profile: str | Profile | None = None) -> dict[str, list[dict]]:
    """Each model retrained with its best parameters on the training split, once per seed.

    Returns
    -------
    dict
        ``{name: [{"seed", "model" (eval mode, CPU), "history" (DataFrame), "test_proba"
        (ndarray (10000, 10)), "val_proba", "test_logits", "val_logits", "seconds",
        "epochs_run", "best_epoch", "config"} per seed]}``.
    """
    p = get_profile(profile)
    return _runs(p, {n: g["best_params"] for n, g in grid_search(p).items()})


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
    spec = {"repeats": p.bench_repeats, **BENCH}
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
    spec = {**data_spec(p), "n": p.agreement_images,
            "finals": {n: [r["config"] for r in runs] for n, runs in finals.items()}}

    stage = STAGES["gradcam"]
    runs = {n: [r["model"] for r in finals[n]] for n in NAMES}
    return default_store(p.name).get_or_compute(
        stage.name, spec, lambda: stage.function()(runs, X, y, p.agreement_images, seed=p.seed))


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
    from ..saliency.explorer import N_IMAGES

    p = get_profile(profile)
    finals = final_models(p)
    X, y = test_set(p)
    spec = {**data_spec(p), "n": N_IMAGES, "finals": {n: [r["config"] for r in runs] for n, runs in finals.items()}}
    stage = STAGES["explorer"]
    return default_store(p.name).get_or_compute(
        stage.name, spec, lambda: stage.function()(finals, X, y, N_IMAGES, seed=p.seed))


def explorer_data(profile: str | Profile | None = None) -> dict:
    """Everything the explorer shows: :func:`explorer_maps` plus, for every test image, the label
    and each seed's probabilities (``"y"``, ``"seeds"``, ``"names"``, ``"proba"``:
    ``{name: ndarray (n_seeds, N, 10)}``)."""
    p = get_profile(profile)
    finals = final_models(p)
    _, y = test_set(p)
    proba = {n: np.stack([r["test_proba"] for r in finals[n]]) for n in NAMES}
    return {**explorer_maps(p), "y": y, "seeds": [int(r["seed"]) for r in finals[NAMES[0]]],
            "names": list(NAMES), "proba": proba}


def faithfulness(profile: str | Profile | None = None) -> pd.DataFrame:
    """``gradcam_faithfulness.faithfulness_summary`` of the stored perturbation tests."""
    from ..saliency.faithfulness import faithfulness_summary

    out = faithfulness_summary(gradcam_analysis(profile)["faith_areas"])
    order = out["model"].map({n: i for i, n in enumerate(NAMES)})
    return out.iloc[np.argsort(order.to_numpy(), kind="stable")].reset_index(drop=True)


def stage_times(profile: str | Profile | None = None) -> pd.DataFrame:
    """Training time of each stage as stored with its results, in core-seconds (for the appendix)."""
    p = get_profile(profile)
    rows = [("baseline", sum(r["seconds"] for r in runs), DISPLAY_NAMES[n]) for n, runs in baseline_results(p).items()]
    rows += [("grid search", float(g["table"]["mean_fit_time"].sum()), DISPLAY_NAMES[n]) for n, g in grid_search(p).items()]
    rows += [("final models", sum(r["seconds"] for r in runs), DISPLAY_NAMES[n])
             for n, runs in final_models(p).items()]
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
