"""The comparison stage: equivalence, effect of tuning, seed pairs, calibration, per-class AUC.

Computed from the stored runs of ``study.baseline_results`` and ``study.final_models`` and
stored itself (the bootstraps take a few seconds), keyed by those runs' recipes.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..pipeline import stages as study
from .auc_bootstrap import auc_differences
from .calibration import calibration_table
from ..config import EQUIVALENCE_MARGIN, Profile, get_profile
from .equivalence import (accuracy_difference, accuracy_table, ensemble_proba, hierarchical_bootstrap,
                          mcnemar_seed_pairs, percentile_ci)
from ..pipeline.store import default_store

__all__ = ["comparison", "runs_table"]


def runs_table(runs: dict[str, list[dict]], y_test: np.ndarray) -> pd.DataFrame:
    """Per model, over its seeds: epochs, mean validation and test accuracy, the test accuracy's
    seed range and the mean training seconds of one run (on one thread). Formatted strings."""
    rows = []
    for name, rs in runs.items():
        test = [float((r["test_proba"].argmax(1) == y_test).mean()) for r in rs]
        rows.append({"model": study.LABELS[name], "seeds": len(rs), "epochs": len(rs[0]["history"]),
                     "final val accuracy (mean)": f"{np.mean([r['history']['val_acc'].iloc[-1] for r in rs]):.4f}",
                     "test accuracy (mean)": f"{np.mean(test):.4f}",
                     "test accuracy (seed range)": f"{min(test):.4f} to {max(test):.4f}",
                     "seconds per run": f"{np.mean([r['seconds'] for r in rs]):.0f}"})
    return pd.DataFrame(rows)


def _tuning_effect(y: np.ndarray, base: dict, finals: dict, n_boot: int, seed: int) -> pd.DataFrame:
    rows = []
    for name in study.NAMES:
        d = np.stack([(f["test_proba"].argmax(1) == y).astype(float) - (b["test_proba"].argmax(1) == y)
                      for b, f in zip(base[name], finals[name])])  # (S, n), paired by seed
        lo, hi = percentile_ci(hierarchical_bootstrap(d, n_boot, seed), 0.95)
        rows.append({"model": study.LABELS[name], "default": float(np.mean([(b["test_proba"].argmax(1) == y).mean()
                                                                            for b in base[name]])),
                     "tuned": float(np.mean([(f["test_proba"].argmax(1) == y).mean() for f in finals[name]])),
                     "difference": float(d.mean()), "low": lo, "high": hi})
    return pd.DataFrame(rows)


def comparison(profile: str | Profile | None = None) -> dict:
    """Every statistic of the comparison, for the tuned finals (and the defaults where said).

    Returns
    -------
    dict
        ``"equivalence"`` (dict, :func:`accuracy_difference` of LeNet-5 minus the simple CNN,
        tuned), ``"equivalence_default"`` (the same for the baseline runs), ``"ensemble"``
        (the same for the two seed ensembles, images resampled only), ``"accuracy"``
        (DataFrame, :func:`accuracy_table`), ``"tuning"`` (DataFrame: per model default and
        tuned mean accuracy, paired difference and 95 % CI), ``"mcnemar"`` (DataFrame,
        :func:`mcnemar_seed_pairs`), ``"calibration"`` (DataFrame, :func:`calibration_table`)
        and ``"auc"`` (DataFrame, :func:`auc_differences`).
    """
    p = get_profile(profile)
    finals, base = study.final_models(p), study.baseline_results(p)
    _, y = study.test_set(p)
    y_val = study.val_labels(p)
    spec = {"finals": {n: [r["config"] for r in rs] for n, rs in finals.items()},
            "baseline": {n: [r["config"] for r in rs] for n, rs in base.items()},
            "data": {"subset": p.subset, "val_fraction": p.val_fraction, "data_seed": p.seed},
            "n_boot": p.n_boot, "margin": EQUIVALENCE_MARGIN}

    def compute():
        probas = {n: [r["test_proba"] for r in rs] for n, rs in finals.items()}
        base_probas = {n: [r["test_proba"] for r in rs] for n, rs in base.items()}
        ens = {n: [ensemble_proba(ps)] for n, ps in probas.items()}
        labels = study.LABELS
        return {
            "equivalence": accuracy_difference(y, probas["simple"], probas["lenet"], EQUIVALENCE_MARGIN,
                                               p.n_boot, p.seed),
            "equivalence_default": accuracy_difference(y, base_probas["simple"], base_probas["lenet"],
                                                       EQUIVALENCE_MARGIN, p.n_boot, p.seed),
            "ensemble": accuracy_difference(y, ens["simple"], ens["lenet"], EQUIVALENCE_MARGIN,
                                            p.n_boot, p.seed),
            "accuracy": accuracy_table(y, probas, labels, p.n_boot, p.seed),
            "tuning": _tuning_effect(y, base, finals, p.n_boot, p.seed),
            "mcnemar": mcnemar_seed_pairs(y, {labels[n]: ps for n, ps in probas.items()}),
            "calibration": calibration_table(y_val, y, finals, labels),
            "auc": auc_differences(y, probas["simple"], probas["lenet"],
                                   {"a": labels["simple"], "b": labels["lenet"]},
                                   n_boot=max(200, p.n_boot // 2), seed=p.seed),
        }

    return default_store(p.name).get_or_compute("comparison", spec, compute)
