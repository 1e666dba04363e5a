"""Is the difference real? Confidence intervals, McNemar's test, calibration, seed spread.

The two models are scored on the same 10,000 test images, so their predictions are paired:
McNemar's exact test uses only the images on which exactly one model is right.
"""
from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
import pandas as pd
from scipy.stats import binomtest

from .metrics import _check_preds, check_proba, display_name, pair_order

__all__ = ["accuracy_ci", "mcnemar_exact", "describe_comparison", "reliability_curve",
           "expected_calibration_error", "seed_summary"]


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


def _pct(x: float) -> str:
    return f"{100 * x:.1f} %"


def _p(p: float) -> str:
    return f"p = {p:.3f}" if p >= 0.001 else f"p = {p:.1e}"


def describe_comparison(y_true: object, preds: Mapping[str, object],
                        names: Mapping[str, str] | None = None, level: float = 0.95,
                        alpha: float = 0.05) -> str:
    """One sentence: both accuracies with their intervals, McNemar's p-value, the verdict.

    Parameters
    ----------
    y_true : array-like, shape (n,)
    preds : dict
        ``{"simple": y_pred (n,), "lenet": y_pred (n,)}`` (any two names; LeNet-5 is the
        reference when present, otherwise the second).
    names : dict, optional
        Display names for the keys of ``preds``; default ``"Simple CNN"`` / ``"LeNet-5"``.
    level, alpha : float
        Confidence level of the intervals and significance level of the test.

    Returns
    -------
    str
    """
    simple, ref = pair_order(preds)
    names = {k: (names or {}).get(k, display_name(k)) for k in (simple, ref)}
    acc = {k: accuracy_ci(y_true, preds[k], level) for k in (simple, ref)}
    mc = mcnemar_exact(y_true, preds[simple], preds[ref])
    conf = f"{round(100 * level)} % CI"
    parts = [f"{names[k]} {_pct(a)} ({conf} {100 * lo:.1f}–{100 * hi:.1f} %)"
             for k, (a, lo, hi) in ((ref, acc[ref]), (simple, acc[simple]))]
    verdict = ("significant" if mc["pvalue"] < alpha else "not significant")
    return (f"On the {mc['n']:,} test images the accuracy is {parts[0]} against {parts[1]}; "
            f"McNemar's exact test on the {mc['b'] + mc['c']:,} images that exactly one model "
            f"classifies correctly ({names[ref]} alone on {mc['c']:,}, {names[simple]} alone on "
            f"{mc['b']:,}) gives {_p(mc['pvalue'])}, so the difference is {verdict} at the "
            f"{100 * alpha:g} % level.")


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


def seed_summary(accs: Mapping[str, Sequence[float]]) -> pd.DataFrame:
    """Mean ± sd of test accuracy over training seeds, one row per model.

    Parameters
    ----------
    accs : dict
        ``{model name: [accuracy of each seed]}``, in display order.

    Returns
    -------
    pandas.DataFrame
        Columns ``model`` (display name), ``mean``, ``sd`` (sample sd, ``ddof=1``; NaN for a
        single seed), ``n``, ``min``, ``max``.
    """
    if not accs:
        raise ValueError("accs must map at least one model name to its accuracies.")
    rows = []
    for name, values in accs.items():
        a = np.asarray(values, dtype=float)
        if a.ndim != 1 or a.size == 0:
            raise ValueError(f"accuracies of {name!r} must be a non-empty list, got shape {a.shape}.")
        if not np.all((a >= 0) & (a <= 1)):
            raise ValueError(f"accuracies of {name!r} must lie in [0, 1], got {a.tolist()}.")
        rows.append({"model": display_name(name), "mean": a.mean(),
                     "sd": a.std(ddof=1) if a.size > 1 else np.nan, "n": a.size,
                     "min": a.min(), "max": a.max()})
    return pd.DataFrame(rows)
