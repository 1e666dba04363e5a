"""Per-class one-vs-rest AUC differences with paired bootstrap intervals over seeds and images.

The weighted AUC of :func:`weighted_auc` equals scikit-learn's ``roc_auc_score`` with
``sample_weight`` (ties count one half), so a bootstrap replicate needs no re-sorting:
resampling images is a vector of counts per image.
"""
from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from ..data import CLASSES
from .equivalence import image_counts
from .metrics import check_labels

__all__ = ["weighted_auc", "auc_differences"]


def _sorted_groups(scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    order = np.argsort(scores, kind="stable")
    s = scores[order]
    starts = np.flatnonzero(np.r_[True, s[1:] != s[:-1]])  # first index of each tie group
    return order, starts


def weighted_auc(scores: np.ndarray, positive: np.ndarray, weights: np.ndarray,
                 _groups: tuple | None = None) -> np.ndarray:
    """AUC of ``scores`` for ``positive`` under each row of ``weights``.

    Parameters
    ----------
    scores : ndarray, shape (n,)
    positive : ndarray of bool, shape (n,)
    weights : ndarray, shape (B, n) or (n,)
        Non-negative weight of each sample (bootstrap counts).

    Returns
    -------
    ndarray, shape (B,) (or a float for 1-D weights)
    """
    # float32 is exact here: counts, their sums and the products below are integers or
    # halves far below 2**24; the final sums are taken in float64
    w = np.atleast_2d(np.asarray(weights, dtype=np.float32))
    order, starts = _groups or _sorted_groups(np.asarray(scores))
    pos = np.asarray(positive, dtype=bool)[order]
    ws = w[:, order]
    neg_w, pos_w = ws * ~pos, ws * pos
    if len(starts) == len(order):  # no ties: every sample is its own group
        neg_g, pos_g = neg_w, pos_w
    else:
        neg_g = np.add.reduceat(neg_w, starts, axis=1)  # (B, groups) negative weight per tie group
        pos_g = np.add.reduceat(pos_w, starts, axis=1)
    below = np.cumsum(neg_g, axis=1) - neg_g  # negative weight strictly below each group
    num = (pos_g * (below + 0.5 * neg_g)).sum(1, dtype=np.float64)
    auc = num / (pos_g.sum(1, dtype=np.float64) * neg_g.sum(1, dtype=np.float64))
    return auc if np.ndim(weights) == 2 else float(auc[0])


def auc_differences(y_true: object, probas_a: Sequence[np.ndarray], probas_b: Sequence[np.ndarray],
                    labels: Mapping[str, str], n_boot: int = 1000, seed: int = 0,
                    chunk: int = 100) -> pd.DataFrame:
    """Per class, mean AUC over seeds of each model and ``b - a`` with bootstrap intervals.

    Each replicate resamples the test images (one draw for every model, seed and class) and
    the seeds (one draw for both models), so the intervals are paired.

    Parameters
    ----------
    probas_a, probas_b : list of ndarray, shape (n, 10)
        One per seed, same seeds in the same order.
    labels : dict
        ``{"a": display name, "b": display name}``.

    Returns
    -------
    pandas.DataFrame
        One row per class, largest ``b - a`` first: ``class``, both AUCs, ``difference``,
        ``low``/``high`` (95 %) and ``low_bonf``/``high_bonf`` (Bonferroni for 10 classes,
        99.5 %), ``pairs_b_higher`` (of the ``pairs`` = S x S seed pairs, those where ``b``'s
        AUC is higher).
    """
    y = check_labels(y_true)
    if len(probas_a) != len(probas_b) or not probas_a:
        raise ValueError("Both models need the same, non-zero number of seeds.")
    S, K = len(probas_a), len(CLASSES)
    runs = [np.asarray(p) for p in (*probas_a, *probas_b)]  # a's seeds, then b's
    groups = [[_sorted_groups(r[:, k]) for k in range(K)] for r in runs]
    point = np.array([[weighted_auc(r[:, k], y == k, np.ones(len(y)), groups[i][k])
                       for k in range(K)] for i, r in enumerate(runs)])  # (2S, K)
    rng = np.random.default_rng(seed)
    diffs = np.empty((n_boot, K))
    for start in range(0, n_boot, chunk):
        b = min(chunk, n_boot - start)
        w = image_counts(rng, b, len(y))
        pick = rng.integers(0, S, size=(b, S))
        for k in range(K):
            aucs = np.stack([weighted_auc(r[:, k], y == k, w, groups[i][k]) for i, r in enumerate(runs)], 1)
            mean_a = np.take_along_axis(aucs[:, :S], pick, 1).mean(1)
            mean_b = np.take_along_axis(aucs[:, S:], pick, 1).mean(1)
            diffs[start:start + b, k] = mean_b - mean_a
    q = np.quantile(diffs, [0.025, 0.975, 0.05 / K / 2, 1 - 0.05 / K / 2], axis=0)
    table = pd.DataFrame({"class": list(CLASSES), labels["a"]: point[:S].mean(0),
                          labels["b"]: point[S:].mean(0)})
    table["difference"] = table[labels["b"]] - table[labels["a"]]
    table["low"], table["high"], table["low_bonf"], table["high_bonf"] = q
    # every (seed of a, seed of b) pair in which b's AUC is the higher: (K,) counts of S * S pairs
    table["pairs_b_higher"] = (point[S:][None, :, :] > point[:S][:, None, :]).sum((0, 1))
    table["pairs"] = S * S
    return table.sort_values("difference", ascending=False, kind="stable", ignore_index=True)


