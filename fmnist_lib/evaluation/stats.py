"""Is the difference real? Confidence intervals, McNemar's test, calibration.

The two models are scored on the same 10,000 test images, so their predictions are paired:
McNemar's exact test uses only the images on which exactly one model is right.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import binomtest

from .metrics import _check_preds, check_proba

__all__ = ["accuracy_ci", "mcnemar_exact", "reliability_curve", "expected_calibration_error"]


def accuracy_ci(y_true: object, y_pred: object, level: float = 0.95) -> tuple[float, float, float]:
    """Accuracy with its Wilson score interval (no continuity correction).

    Parameters
    ----------
    y_true, y_pred : array-like, shape (n,)
        Labels in 0..9.
    level : float
        Confidence level in (0, 1).

    Returns
    -------
    (accuracy, low, high) : tuple of float
    """
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must be in (0, 1), got {level}.")
    y, preds = _check_preds(y_true, {"y_pred": y_pred})
    k, n = int(np.sum(preds["y_pred"] == y)), len(y)
    ci = binomtest(k, n).proportion_ci(confidence_level=level, method="wilson")
    return k / n, float(ci.low), float(ci.high)


def mcnemar_exact(y_true: object, pred_a: object, pred_b: object) -> dict[str, float | int]:
    """McNemar's exact test on paired predictions of two classifiers.

    Parameters
    ----------
    y_true, pred_a, pred_b : array-like, shape (n,)
        Labels and each model's predicted labels on the same images.

    Returns
    -------
    dict
        ``b`` (a right, b wrong), ``c`` (a wrong, b right), ``both_right``, ``both_wrong``,
        ``n``, ``statistic`` (``min(b, c)``) and ``pvalue``: two-sided exact binomial test of
        ``b`` successes in ``b + c`` trials with p = 0.5 (1.0 when ``b + c == 0``).
    """
    y, preds = _check_preds(y_true, {"pred_a": pred_a, "pred_b": pred_b})
    right_a, right_b = preds["pred_a"] == y, preds["pred_b"] == y
    b, c = int(np.sum(right_a & ~right_b)), int(np.sum(~right_a & right_b))
    pvalue = binomtest(b, b + c, 0.5, alternative="two-sided").pvalue if b + c else 1.0
    return {"b": b, "c": c, "both_right": int(np.sum(right_a & right_b)),
            "both_wrong": int(np.sum(~right_a & ~right_b)), "n": len(y),
            "statistic": min(b, c), "pvalue": float(pvalue)}


def reliability_curve(y_true: object, y_proba: object, n_bins: int = 15) -> pd.DataFrame:
    """Accuracy against confidence (the top-class probability) in equal-width bins.

    Parameters
    ----------
    y_true : array-like, shape (n,)
    y_proba : array-like, shape (n, 10)
    n_bins : int
        Bins ``(i / n_bins, (i + 1) / n_bins]`` over the confidence.

    Returns
    -------
    pandas.DataFrame
        ``n_bins`` rows: ``bin_lower``, ``bin_upper``, ``confidence`` (mean top-class
        probability), ``accuracy`` (share correct) and ``count``; empty bins hold NaN.
    """
    if not (isinstance(n_bins, (int, np.integer)) and n_bins >= 1):
        raise ValueError(f"n_bins must be an int >= 1, got {n_bins!r}.")
    y, p = check_proba(y_true, y_proba)
    conf, correct = p.max(axis=1), (p.argmax(axis=1) == y).astype(float)
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    which = np.searchsorted(edges[1:-1], conf, side="left")  # bins closed on the right
    count = np.bincount(which, minlength=n_bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_conf = np.bincount(which, weights=conf, minlength=n_bins) / count
        acc = np.bincount(which, weights=correct, minlength=n_bins) / count
    return pd.DataFrame({"bin_lower": edges[:-1], "bin_upper": edges[1:], "confidence": mean_conf,
                         "accuracy": acc, "count": count})


def expected_calibration_error(y_true: object, y_proba: object, n_bins: int = 15) -> float:
    """ECE (Guo et al., 2017): the count-weighted mean |accuracy - confidence| over the bins.

    Parameters
    ----------
    y_true : array-like, shape (n,)
    y_proba : array-like, shape (n, 10)
    n_bins : int
        Equal-width confidence bins, as in :func:`reliability_curve`.

    Returns
    -------
    float
        In [0, 1]; 0 for a perfectly calibrated model.
    """
    curve = reliability_curve(y_true, y_proba, n_bins).query("count > 0")
    gap = (curve["accuracy"] - curve["confidence"]).abs()
    return float((gap * curve["count"]).sum() / curve["count"].sum())


