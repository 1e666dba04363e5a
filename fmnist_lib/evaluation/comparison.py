"""The comparison stage's computation: equivalence, effect of tuning, seed pairs, calibration,
per-class AUC.

Computed from the stored runs of ``pipeline.stages.baseline_results`` and ``final_models``;
``pipeline.stages.comparison`` stores it (the bootstraps take a few seconds), keyed by those
runs' recipes.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..models import DISPLAY_NAMES
from .auc_bootstrap import auc_differences
from .calibration import calibration_by_seed, calibration_table
from .equivalence import (accuracy_difference, accuracy_table, hierarchical_bootstrap,
                          mcnemar_seed_pairs, percentile_ci)
from .perclass import class_error_differences, confusion_differences
from .verdicts import ensemble_difference

__all__ = ["compare"]


def _tuning_effect(y: np.ndarray, base: dict, finals: dict, n_boot: int, seed: int) -> pd.DataFrame:
    rows = []
    for name in base:
        d = np.stack([(f["test_proba"].argmax(1) == y).astype(float) - (b["test_proba"].argmax(1) == y)
                      for b, f in zip(base[name], finals[name])])  # (S, n), paired by seed
        lo, hi = percentile_ci(hierarchical_bootstrap(d, n_boot, seed), 0.95)
        rows.append({"model": DISPLAY_NAMES[name], "default": float(np.mean([(b["test_proba"].argmax(1) == y).mean()
                                                                            for b in base[name]])),
                     "tuned": float(np.mean([(f["test_proba"].argmax(1) == y).mean() for f in finals[name]])),
                     "difference": float(d.mean()), "low": lo, "high": hi})
    return pd.DataFrame(rows)


def compare(y: np.ndarray, y_val: np.ndarray, base: dict[str, list[dict]], finals: dict[str, list[dict]],
            margin: float, n_boot: int, seed: int) -> dict:
    """Every statistic of the comparison, for the tuned finals (and the defaults where said).

    Parameters
    ----------
    y, y_val : ndarray
        Test and validation labels.
    base, finals : dict
        ``{"simple": [run per seed], "lenet": [...]}`` as ``pipeline.dispatch.train_runs`` returns them.
    margin, n_boot, seed : float, int, int
        Equivalence margin, bootstrap replicates and their seed.

    Returns
    -------
    dict
        ``"equivalence"`` (dict, :func:`accuracy_difference` of LeNet-5 minus the simple CNN,
        tuned), ``"equivalence_default"`` (the same for the baseline runs), ``"ensemble"``
        (the same for the two seed ensembles, images resampled only), ``"accuracy"``
        (DataFrame, :func:`accuracy_table`), ``"tuning"`` (DataFrame: per model default and
        tuned mean accuracy, paired difference and 95 % CI), ``"mcnemar"`` (DataFrame,
        :func:`mcnemar_seed_pairs`), ``"calibration"`` (DataFrame, :func:`calibration_table`)
        ``"calibration_seeds"`` (DataFrame, :func:`calibration_by_seed`), ``"auc"`` (DataFrame,
        :func:`auc_differences`), ``"class_errors"`` (DataFrame,
        :func:`~fmnist_lib.evaluation.perclass.class_error_differences`, LeNet-5 minus the simple
        CNN) and ``"confusions"`` (DataFrame, :func:`~fmnist_lib.evaluation.perclass.confusion_differences`).
    """
    probas = {n: [r["test_proba"] for r in rs] for n, rs in finals.items()}
    base_probas = {n: [r["test_proba"] for r in rs] for n, rs in base.items()}
    labels = DISPLAY_NAMES
    return {
        "equivalence": accuracy_difference(y, probas["simple"], probas["lenet"], margin, n_boot, seed),
        "equivalence_default": accuracy_difference(y, base_probas["simple"], base_probas["lenet"],
                                                   margin, n_boot, seed),
        # seeds and test images resampled: an ensemble over test images alone hides seed noise
        "ensemble": ensemble_difference(y, probas["simple"], probas["lenet"], margin, n_boot, seed),
        "accuracy": accuracy_table(y, probas, labels, n_boot, seed),
        "tuning": _tuning_effect(y, base, finals, n_boot, seed),
        "mcnemar": mcnemar_seed_pairs(y, {labels[n]: ps for n, ps in probas.items()}),
        "calibration": calibration_table(y_val, y, finals, labels),
        "calibration_seeds": calibration_by_seed(y_val, y, finals, labels),
        "class_errors": class_error_differences(y, probas["simple"], probas["lenet"], n_boot, seed),
        "confusions": confusion_differences(y, probas["simple"], probas["lenet"], max(200, n_boot // 2), seed),
        "auc": auc_differences(y, probas["simple"], probas["lenet"],
                               {"a": labels["simple"], "b": labels["lenet"]},
                               n_boot=max(200, n_boot // 2), seed=seed),
    }
