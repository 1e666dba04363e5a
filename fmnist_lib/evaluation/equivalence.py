"""Is the simple CNN as accurate as LeNet-5? Bootstrap over seeds and test images, and TOST.

Every model is trained once per seed, and all are scored on the same test images, so two
sources of noise matter: which seed was drawn and which images the test set holds. The
bootstrap here resamples both (the seeds, and one shared set of image indices per replicate,
which keeps the two models paired on images). Equivalence is judged the TOST way: the two
models are equivalent within a margin fixed beforehand when the 90 % interval of the
difference lies inside (-margin, +margin).
"""
from __future__ import annotations

from itertools import combinations, product
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from .metrics import check_labels
from .stats import accuracy_ci, mcnemar_exact

__all__ = ["image_counts", "hierarchical_bootstrap", "percentile_ci", "accuracy_difference",
           "tost_verdict", "effect_verdict",
           "mcnemar_seed_pairs", "ensemble_proba", "accuracy_table"]


def image_counts(rng: np.random.Generator, n_boot: int, n: int) -> np.ndarray:
    """How often each of ``n`` items is drawn in each of ``n_boot`` resamples: (n_boot, n), float32."""
    draws = rng.integers(0, n, size=(n_boot, n)) + np.arange(n_boot)[:, None] * n
    return np.bincount(draws.ravel(), minlength=n_boot * n).reshape(n_boot, n).astype(np.float32)


def hierarchical_bootstrap(values: np.ndarray, n_boot: int = 2000, seed: int = 0,
                           chunk: int = 200) -> np.ndarray:
    """Bootstrap replicates of a mean over seeds and images.

    Parameters
    ----------
    values : ndarray, shape (S, n)
        One row per seed, one column per test image (e.g. 1.0 where correct, or the
        difference of two models' correctness on the same seed and image).
    n_boot : int
    seed : int
        Seeds the resampling.

    Returns
    -------
    ndarray, shape (n_boot,)
        Each replicate: images resampled with replacement (one draw shared by every seed),
        seeds resampled with replacement, then the mean over both.
    """
    v = np.asarray(values, dtype=np.float64)
    if v.ndim != 2 or v.size == 0:
        raise ValueError(f"values must have shape (seeds, images), got {v.shape}.")
    if n_boot < 1:
        raise ValueError(f"n_boot must be >= 1, got {n_boot}.")
    S, n = v.shape
    rng = np.random.default_rng(seed)
    out = np.empty(n_boot)
    for start in range(0, n_boot, chunk):
        b = min(chunk, n_boot - start)
        per_seed = image_counts(rng, b, n) @ v.T.astype(np.float32) / n  # (b, S)
        pick = rng.integers(0, S, size=(b, S))
        out[start:start + b] = np.take_along_axis(per_seed, pick, axis=1).mean(axis=1)
    return out


def percentile_ci(replicates: np.ndarray, level: float) -> tuple[float, float]:
    """The percentile interval of bootstrap replicates at confidence ``level``."""
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must be in (0, 1), got {level}.")
    lo, hi = np.quantile(replicates, [(1 - level) / 2, (1 + level) / 2])
    return float(lo), float(hi)


def _correct(y: np.ndarray, probas: Sequence[np.ndarray]) -> np.ndarray:
    return np.stack([np.asarray(p).argmax(1) == y for p in probas]).astype(np.float64)  # (S, n)


def check_pair(y_true: object, probas_a: Sequence[np.ndarray], probas_b: Sequence[np.ndarray],
               margin: float) -> np.ndarray:
    """The labels as an array, after checking that both models have the same, non-zero number
    of seeds and that the margin is positive (the inputs of a difference of two models)."""
    y = check_labels(y_true)
    if len(probas_a) != len(probas_b) or not probas_a:
        raise ValueError(f"Both models need the same, non-zero number of seeds; got {len(probas_a)} "
                         f"and {len(probas_b)}.")
    if not margin > 0:
        raise ValueError(f"margin must be > 0, got {margin}.")
    return y


def accuracy_difference(y_true: object, probas_a: Sequence[np.ndarray], probas_b: Sequence[np.ndarray],
                        margin: float, n_boot: int = 2000, seed: int = 0) -> dict[str, float | str]:
    """Mean accuracy of ``b`` minus ``a`` over seeds, with bootstrap intervals and a TOST verdict.

    Parameters
    ----------
    y_true : array-like, shape (n,)
    probas_a, probas_b : list of ndarray, shape (n, 10)
        One probability matrix per seed, the same seeds in the same order for both models.
    margin : float
        Equivalence margin on the accuracy difference (e.g. 0.01 for 1 percentage point).

    Returns
    -------
    dict
        ``diff``, ``ci90_low``, ``ci90_high`` (for TOST), ``ci95_low``, ``ci95_high``,
        ``margin``, ``verdict`` (see :func:`tost_verdict`), ``seeds``, ``n``.
    """
    y = check_pair(y_true, probas_a, probas_b, margin)
    d = _correct(y, probas_b) - _correct(y, probas_a)  # (S, n), paired by seed and image
    reps = hierarchical_bootstrap(d, n_boot, seed)
    (l90, h90), (l95, h95) = percentile_ci(reps, 0.90), percentile_ci(reps, 0.95)
    return {"diff": float(d.mean()), "ci90_low": l90, "ci90_high": h90, "ci95_low": l95,
            "ci95_high": h95, "margin": float(margin), "verdict": tost_verdict(l90, h90, margin),
            "seeds": len(probas_a), "n": len(y)}


def tost_verdict(low: float, high: float, margin: float) -> str:
    """``"equivalent"`` when (low, high) lies inside (-margin, margin); ``"different"`` when it
    lies wholly outside it (beyond +margin or below -margin); else ``"inconclusive"``."""
    if low > high:
        raise ValueError(f"The interval's low end {low} exceeds its high end {high}.")
    if -margin < low and high < margin:
        return "equivalent"
    if low >= margin or high <= -margin:
        return "different"
    return "inconclusive"


def effect_verdict(low: float, high: float) -> str:
    """``"improved"`` when the interval lies above 0, ``"worsened"`` below, else ``"unclear"``."""
    if low > high:
        raise ValueError(f"The interval's low end {low} exceeds its high end {high}.")
    return "improved" if low > 0 else "worsened" if high < 0 else "unclear"


def mcnemar_seed_pairs(y_true: object, probas: Mapping[str, Sequence[np.ndarray]]) -> pd.DataFrame:
    """McNemar's exact test for every pair of runs: across the two models and within each.

    Parameters
    ----------
    probas : dict
        ``{model name: [proba (n, 10) per seed]}`` for two models.

    Returns
    -------
    pandas.DataFrame
        ``kind`` (``"between models"`` or ``"within <name>"``), ``a``, ``b`` (run labels
        ``name/seed index``), ``b_only`` / ``a_only`` (images only that run gets right), ``pvalue``.
    """
    names = list(probas)
    if len(names) != 2:
        raise ValueError(f"Expected two models, got {names}.")
    runs = {n: [np.asarray(p).argmax(1) for p in probas[n]] for n in names}
    pairs = [("between models", (names[0], i), (names[1], j))
             for i, j in product(range(len(runs[names[0]])), range(len(runs[names[1]])))]
    pairs += [(f"within {n}", (n, i), (n, j)) for n in names for i, j in combinations(range(len(runs[n])), 2)]
    rows = []
    for kind, (na, i), (nb, j) in pairs:
        mc = mcnemar_exact(y_true, runs[na][i], runs[nb][j])
        rows.append({"kind": kind, "a": f"{na}/{i}", "b": f"{nb}/{j}", "a_only": mc["b"],
                     "b_only": mc["c"], "pvalue": mc["pvalue"]})
    return pd.DataFrame(rows)


def ensemble_proba(probas: Sequence[np.ndarray]) -> np.ndarray:
    """The seed ensemble: mean of the seeds' probabilities, ``(n, 10)``."""
    if not len(probas):
        raise ValueError("ensemble_proba needs at least one probability matrix.")
    return np.mean(np.stack([np.asarray(p, dtype=np.float64) for p in probas]), axis=0)


def accuracy_table(y_true: object, probas: Mapping[str, Sequence[np.ndarray]], labels: Mapping[str, str],
                   n_boot: int = 2000, seed: int = 0) -> pd.DataFrame:
    """Per model: mean accuracy over seeds with its bootstrap 95 % CI, the seed range, and the
    seed ensemble's accuracy with its Wilson 95 % CI. Numbers are formatted strings."""
    y = check_labels(y_true)
    rows = []
    for name, ps in probas.items():
        c = _correct(y, ps)
        lo, hi = percentile_ci(hierarchical_bootstrap(c, n_boot, seed), 0.95)
        acc, elo, ehi = accuracy_ci(y, ensemble_proba(ps).argmax(1))
        rows.append({"model": labels.get(name, name), "seeds": len(ps),
                     "mean accuracy": f"{c.mean():.4f}", "95 % CI (seeds and images)": f"[{lo:.4f}, {hi:.4f}]",
                     "seed range": f"{c.mean(1).min():.4f} to {c.mean(1).max():.4f}",
                     "ensemble accuracy": f"{acc:.4f}", "ensemble 95 % CI (Wilson)": f"[{elo:.4f}, {ehi:.4f}]"})
    return pd.DataFrame(rows)
