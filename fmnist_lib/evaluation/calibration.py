"""Calibration before and after temperature scaling (Guo et al., 2017).

One scalar ``T`` per run divides its logits; it is fitted on the validation split by
minimising the negative log-likelihood, so the test set only measures the result. Scaling by
``T`` never changes a prediction (the argmax), only the confidence.
"""
from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
import pandas as pd
from scipy.optimize import minimize_scalar
from scipy.special import log_softmax, softmax

from .metrics import check_labels
from .stats import expected_calibration_error

__all__ = ["nll", "fit_temperature", "scaled_proba", "calibration_by_seed", "calibration_table", "seed_order"]


def _check(y_true: object, logits: object) -> tuple[np.ndarray, np.ndarray]:
    y = check_labels(y_true)
    z = np.asarray(logits, dtype=np.float64)
    if z.ndim != 2 or len(z) != len(y) or not np.all(np.isfinite(z)):
        raise ValueError(f"logits must be finite with shape ({len(y)}, classes), got {z.shape}.")
    return y, z


def nll(y_true: object, logits: object, temperature: float = 1.0) -> float:
    """Mean negative log-likelihood of ``softmax(logits / temperature)``; ``logits (n, 10)``."""
    if not temperature > 0:
        raise ValueError(f"temperature must be > 0, got {temperature}.")
    y, z = _check(y_true, logits)
    return float(-log_softmax(z / temperature, axis=1)[np.arange(len(y)), y].mean())


def fit_temperature(y_val: object, logits_val: object) -> float:
    """The ``T`` in [0.05, 20] that minimises the validation NLL (bounded search on log T)."""
    y, z = _check(y_val, logits_val)
    res = minimize_scalar(lambda t: nll(y, z, float(np.exp(t))), bounds=(np.log(0.05), np.log(20.0)),
                          method="bounded", options={"xatol": 1e-6})
    return float(np.exp(res.x))


def scaled_proba(y_val: object, run: Mapping) -> np.ndarray:
    """Test probabilities of ``run`` after temperature scaling fitted on its validation logits."""
    t = fit_temperature(y_val, run["val_logits"])
    return softmax(np.asarray(run["test_logits"], dtype=np.float64) / t, axis=1)


def calibration_by_seed(y_val: object, y_test: object, runs: Mapping[str, Sequence[Mapping]],
                        labels: Mapping[str, str] | None = None) -> pd.DataFrame:
    """Test ECE and NLL of every run before and after temperature scaling.

    Parameters
    ----------
    y_val, y_test : array-like, shape (n_val,) and (n_test,)
    runs : dict
        ``{model name: [run with "val_logits" (n_val, 10) and "test_logits" (n_test, 10)]}``.

    Returns
    -------
    pandas.DataFrame
        One row per run: ``model``, ``seed`` (index in the run list), ``T`` (fitted
        temperature), ``ECE``, ``ECE scaled``, ``NLL``, ``NLL scaled``.
    """
    labels = labels or {}
    rows = []
    for name, rs in runs.items():
        for i, r in enumerate(rs):
            t = fit_temperature(y_val, r["val_logits"])
            z = np.asarray(r["test_logits"], dtype=np.float64)
            rows.append({"model": labels.get(name, name), "seed": i, "T": t,
                         "ECE": expected_calibration_error(y_test, softmax(z, axis=1)),
                         "ECE scaled": expected_calibration_error(y_test, softmax(z / t, axis=1)),
                         "NLL": nll(y_test, z), "NLL scaled": nll(y_test, z, t)})
    return pd.DataFrame(rows)


def calibration_table(y_val: object, y_test: object, runs: Mapping[str, Sequence[Mapping]],
                      labels: Mapping[str, str] | None = None) -> pd.DataFrame:
    """Test ECE and NLL of each model before and after temperature scaling, mean over seeds.

    Returns
    -------
    pandas.DataFrame
        ``model``, ``T`` (mean fitted temperature), ``ECE``, ``ECE scaled``, ``NLL``,
        ``NLL scaled`` (means over seeds of :func:`calibration_by_seed`) and ``seeds``.
    """
    per = calibration_by_seed(y_val, y_test, runs, labels)
    table = per.groupby("model", sort=False)[["T", "ECE", "ECE scaled", "NLL", "NLL scaled"]].mean()
    table["seeds"] = per.groupby("model", sort=False).size()
    return table.reset_index()


def seed_order(per_seed: pd.DataFrame, column: str, a: str, b: str) -> int:
    """In how many seeds (paired by index) ``b``'s ``column`` is lower than ``a``'s."""
    wide = per_seed.pivot(index="seed", columns="model", values=column)
    return int((wide[b] < wide[a]).sum())


