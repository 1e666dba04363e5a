"""Per-class differences between two models with intervals over seeds and test images.

Per class: the error rate (1 - recall) of each model, mean over seeds, and ``b - a`` with a
bootstrap interval that resamples the class's test images and the seeds (paired, as in
:func:`~fmnist_lib.evaluation.equivalence.hierarchical_bootstrap`). Per confusion (true class i
predicted as j): the same for the share of class-i images sent to j. Both directions are kept,
so a sentence can name where each model errs more and whether the interval says anything.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

from ..data import CLASSES
from .equivalence import hierarchical_bootstrap, percentile_ci
from .metrics import check_labels

__all__ = ["class_error_differences", "confusion_differences"]


def _preds(probas: Sequence[np.ndarray], n: int) -> np.ndarray:
    preds = np.stack([np.asarray(p).argmax(1) for p in probas])  # (S, n)
    if preds.shape[1] != n:
        raise ValueError(f"Probabilities for {preds.shape[1]} images, labels for {n}.")
    return preds


def _check(y_true, probas_a, probas_b) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    y = check_labels(y_true)
    if len(probas_a) != len(probas_b) or not len(probas_a):
        raise ValueError(f"Both models need the same, non-zero number of seeds; got {len(probas_a)} "
                         f"and {len(probas_b)}.")
    return y, _preds(probas_a, len(y)), _preds(probas_b, len(y))


def class_error_differences(y_true: object, probas_a: Sequence[np.ndarray], probas_b: Sequence[np.ndarray],
                            n_boot: int = 2000, seed: int = 0, level: float = 0.95) -> pd.DataFrame:
    """Per class, error rate of ``a`` and of ``b`` (means over seeds) and ``b - a`` with intervals.

    Parameters
    ----------
    y_true : array-like, shape (n,)
    probas_a, probas_b : list of ndarray, shape (n, 10)
        One per seed, the seeds paired in order.
    n_boot, seed : int
    level : float
        Confidence level; a Bonferroni interval for the ten classes is added
        (``1 - (1 - level) / 10``).

    Returns
    -------
    pandas.DataFrame
        One row per class in class order: ``class, images, error_a, error_b, difference, low,
        high, low_bonf, high_bonf, seeds_b_lower`` (seeds in which ``b`` errs less than ``a``
        on the class), ``seeds``.
    """
    y, pa, pb = _check(y_true, probas_a, probas_b)
    k = len(CLASSES)
    rows = []
    for c in range(k):
        m = y == c
        ea, eb = (pa[:, m] != c).astype(float), (pb[:, m] != c).astype(float)  # (S, n_c)
        reps = hierarchical_bootstrap(eb - ea, n_boot, seed + c)
        lo, hi = percentile_ci(reps, level)
        lob, hib = percentile_ci(reps, 1 - (1 - level) / k)
        rows.append({"class": CLASSES[c], "images": int(m.sum()), "error_a": float(ea.mean()),
                     "error_b": float(eb.mean()), "difference": float((eb - ea).mean()), "low": lo,
                     "high": hi, "low_bonf": lob, "high_bonf": hib,
                     "seeds_b_lower": int((eb.mean(1) < ea.mean(1)).sum()), "seeds": len(pa)})
    return pd.DataFrame(rows)


def confusion_differences(y_true: object, probas_a: Sequence[np.ndarray], probas_b: Sequence[np.ndarray],
                          n_boot: int = 1000, seed: int = 0, level: float = 0.95) -> pd.DataFrame:
    """Every confusion (true ``i`` predicted as ``j != i``): its rate for ``a`` and ``b`` (share
    of class-``i`` images, mean over seeds) and ``b - a`` with an interval over seeds and the
    class's images.

    Returns
    -------
    pandas.DataFrame
        90 rows, largest ``|difference|`` first: ``true, predicted, rate_a, rate_b,
        difference, low, high, seeds_b_more`` (seeds in which ``b`` makes the confusion more
        often), ``seeds``.
    """
    y, pa, pb = _check(y_true, probas_a, probas_b)
    rows = []
    for i in range(len(CLASSES)):
        m = y == i
        for j in range(len(CLASSES)):
            if i == j:
                continue
            ca, cb = (pa[:, m] == j).astype(float), (pb[:, m] == j).astype(float)
            lo, hi = percentile_ci(hierarchical_bootstrap(cb - ca, n_boot, seed + i), level)  # one draw per row
            rows.append({"true": CLASSES[i], "predicted": CLASSES[j], "rate_a": float(ca.mean()),
                         "rate_b": float(cb.mean()), "difference": float((cb - ca).mean()), "low": lo,
                         "high": hi, "seeds_b_more": int((cb.mean(1) > ca.mean(1)).sum()), "seeds": len(pa)})
    table = pd.DataFrame(rows)
    order = np.argsort(-table["difference"].abs().to_numpy(), kind="stable")
    return table.iloc[order].reset_index(drop=True)
