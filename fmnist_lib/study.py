"""The study, stage by stage: each stage is loaded from the result store or computed first.

Chapters call these functions and nothing else computes: ``baseline_results``,
``grid_search``, ``final_models``, ``efficiency``, ``gradcam_analysis``. Each takes a profile
(name, ``Profile`` or ``None`` for the environment's choice) and computes whatever it
depends on, so any chapter runs alone on a fresh clone.
"""
from __future__ import annotations

import sys
import time
from dataclasses import asdict

import numpy as np
import pandas as pd

from . import training
from .config import Profile, TrainConfig, get_profile
from .data import get_arrays, get_data_loaders, stratified_subset
from .models import DISPLAY_NAMES, MODELS, model_summary
from .store import default_store

__all__ = ["LABELS", "NAMES", "test_set", "baseline_results", "grid_search", "final_models",
           "efficiency", "gradcam_analysis", "faithfulness", "stage_times", "run_all"]

NAMES = ("simple", "lenet")
LABELS = DISPLAY_NAMES


def _progress() -> bool:
    """Progress bars on a terminal only: a rendered report should not contain them."""
    return sys.stderr.isatty()


def _data_spec(p: Profile) -> dict:
    return {"subset": p.subset, "val_fraction": p.val_fraction, "data_seed": p.seed}


def _loaders(p: Profile, batch_size: int):
    return get_data_loaders(batch_size, val_fraction=p.val_fraction, seed=p.seed, subset=p.subset)


def test_set(profile: str | Profile | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The official 10,000 test images, normalised: ``X (10000, 1, 28, 28)``, ``y (10000,)``."""
    p = get_profile(profile)
    return get_arrays(val_fraction=p.val_fraction, seed=p.seed, subset=p.subset)["test"]


def baseline_results(profile: str | Profile | None = None) -> dict[str, dict]:
    """Both models trained with identical default hyperparameters (Adam, lr 1e-3, batch 64).

    Returns
    -------
    dict
        ``{name: {"history": DataFrame, "test_acc": float, "seconds": float}}``.
    """
    p = get_profile(profile)
    config = TrainConfig(epochs=p.baseline_epochs, seed=p.seed, progress=_progress())
    spec = {**_data_spec(p), "config": {k: v for k, v in asdict(config).items() if k != "progress"}}

    def compute():
        out = training.baseline(_loaders(p, config.batch_size), config)
        items = {f"history_{n}": r["history"] for n, r in out.items()}
        items["summary"] = {n: {"test_acc": r["test_acc"], "seconds": r["seconds"]}
                            for n, r in out.items()}
        return items

    raw = default_store(p.name).get_or_compute("baseline", spec, compute)
    return {n: {"history": raw[f"history_{n}"], **raw["summary"][n]} for n in NAMES}


def _grid_spec(p: Profile, name: str) -> dict:
    return {**_data_spec(p), "model": name, "grid": p.grid, "grid_subset": p.grid_subset,
            "cv_folds": p.cv_folds, "grid_epochs": p.grid_epochs}


def grid_search(profile: str | Profile | None = None) -> dict[str, dict]:
    """The cross-validated search over ``profile.grid``, the same grid for both models.

    Returns
    -------
    dict
        ``{name: {"table": DataFrame (one row per configuration), "best_params": dict}}``.
    """
    from .cluster import grid_backend
    from .tuning import run_grid_search

    p = get_profile(profile)
    out = {}
    for name in NAMES:
        def compute(name=name):
            # on $FMNIST_SCHEDULER's Dask cluster when set: same table, so same store key
            table, best = run_grid_search(MODELS[name], p, n_jobs=p.n_jobs, verbose=_progress(),
                                          **grid_backend())
            return {"table": table, "best_params": best}

        raw = default_store(p.name).get_or_compute("grid", _grid_spec(p, name), compute)
        out[name] = {"table": raw["table"], "best_params": raw["best_params"],
                     "seconds": raw["_seconds"]}
    return out


def _final_config(p: Profile, best: dict, seed: int) -> TrainConfig:
    return TrainConfig(epochs=p.final_epochs, batch_size=int(best["batch_size"]), lr=float(best["lr"]),
                       weight_decay=float(best["optimizer__weight_decay"]), seed=seed,
                       patience=p.patience, lr_schedule=p.final_schedule, progress=_progress())


def final_models(profile: str | Profile | None = None) -> dict[str, list[dict]]:
    """Each model retrained with its best parameters on the training split, once per seed.

    Returns
    -------
    dict
        ``{name: [{"seed", "model" (eval mode, CPU), "history" (DataFrame), "test_proba"
        (ndarray (10000, 10)), "seconds", "epochs_run", "best_epoch", "config"} per seed]}``.
    """
    from .metrics import predict_proba

    p = get_profile(profile)
    best = {n: g["best_params"] for n, g in grid_search(p).items()}
    out: dict[str, list[dict]] = {n: [] for n in NAMES}
    for name in NAMES:
        for seed in p.seeds:
            config = _final_config(p, best[name], seed)
            spec = {**_data_spec(p), "model": name, "seed": seed,
                    "config": {k: v for k, v in asdict(config).items() if k != "progress"}}

            def compute(name=name, config=config):
                loaders = _loaders(p, config.batch_size)
                model = training.build_model(name, seed=config.seed)
                start = time.perf_counter()
                history = training.fit(model, loaders, config)
                seconds = time.perf_counter() - start
                return {"weights": model.state_dict(), "history": history,
                        "test_proba": predict_proba(model, loaders[2]).astype(np.float32),
                        "seconds": seconds, "epochs_run": len(history),
                        "best_epoch": int(history.attrs["best_epoch"])}

            raw = default_store(p.name).get_or_compute("final", spec, compute)
            model = MODELS[name]()
            model.load_state_dict(raw.pop("weights"))
            out[name].append({**raw, "seed": seed, "model": model.eval(), "config": asdict(config)})
    return out


def efficiency(profile: str | Profile | None = None) -> pd.DataFrame:
    """Parameters, multiply-adds, training seconds per epoch, inference images/s, accuracy."""
    from .metrics import inference_speed

    p = get_profile(profile)
    finals = final_models(p)
    X, y = test_set(p)
    spec = {**_data_spec(p), "finals": {n: [r["config"] for r in runs] for n, runs in finals.items()}}

    def compute():
        rows = []
        for name, runs in finals.items():
            summary = model_summary(runs[0]["model"])
            accs = [float((r["test_proba"].argmax(1) == y).mean()) for r in runs]
            rows.append({"model": LABELS[name], "conv_layers": summary["conv_layers"],
                         "fc_layers": summary["fc_layers"], "parameters": summary["parameters"],
                         "macs": summary["macs"],
                         "train_s_per_epoch": float(np.mean([r["history"]["seconds"].mean() for r in runs])),
                         "inference_img_per_s": inference_speed(runs[0]["model"], X),
                         "test_acc_mean": float(np.mean(accs)), "test_acc_sd": float(np.std(accs, ddof=1))
                         if len(accs) > 1 else float("nan"), "seeds": len(accs)})
        return {"table": pd.DataFrame(rows)}

    return default_store(p.name).get_or_compute("efficiency", spec, compute)["table"]


def gradcam_analysis(profile: str | Profile | None = None) -> dict:
    """Grad-CAM and HiResCAM of every final model on stratified test images: agreement within
    and across models and by chance, perturbation tests, randomisation check
    (``gradcam_study.analyse``; plus ``"indices"``, the test images used).
    """
    from .gradcam_study import analyse

    p = get_profile(profile)
    finals = final_models(p)
    X, y = test_set(p)
    spec = {**_data_spec(p), "n": p.agreement_images,
            "finals": {n: [r["config"] for r in runs] for n, runs in finals.items()}}

    def compute():
        idx = stratified_subset(y, p.agreement_images, seed=p.seed)
        runs = {n: [r["model"] for r in finals[n]] for n in NAMES}
        return {"indices": idx, **analyse(runs, X[idx], seed=p.seed)}

    return default_store(p.name).get_or_compute("gradcam", spec, compute)


def faithfulness(profile: str | Profile | None = None) -> pd.DataFrame:
    """``gradcam_faithfulness.faithfulness_summary`` of the stored perturbation tests."""
    from .gradcam_faithfulness import faithfulness_summary

    out = faithfulness_summary(gradcam_analysis(profile)["faith_areas"])
    order = out["model"].map({n: i for i, n in enumerate(NAMES)})
    return out.iloc[np.argsort(order.to_numpy(), kind="stable")].reset_index(drop=True)


def stage_times(profile: str | Profile | None = None) -> pd.DataFrame:
    """Wall time of each stage as stored with its results (for the appendix)."""
    p = get_profile(profile)
    rows = [("baseline", baseline_results(p)[n]["seconds"], LABELS[n]) for n in NAMES]
    rows += [("grid search", g["seconds"], LABELS[n]) for n, g in grid_search(p).items()]
    rows += [("final models", sum(r["_seconds"] for r in runs), LABELS[n])
             for n, runs in final_models(p).items()]
    return pd.DataFrame(rows, columns=["stage", "seconds", "model"])


def run_all(profile: str | Profile | None = None, echo=print) -> dict[str, float]:
    """Compute (or load) every stage, printing each stage's wall time and the headline."""
    p = get_profile(profile)
    times = {}
    for stage, fn in (("baseline", baseline_results), ("grid search", grid_search),
                      ("final models", final_models), ("efficiency", efficiency),
                      ("grad-cam", gradcam_analysis)):
        start = time.perf_counter()
        fn(p)
        times[stage] = time.perf_counter() - start
        echo(f"[{p.name}] {stage:<13} {times[stage]:8.1f} s")
    echo(efficiency(p)[["model", "parameters", "macs", "test_acc_mean", "test_acc_sd"]].to_string(index=False))
    return times
