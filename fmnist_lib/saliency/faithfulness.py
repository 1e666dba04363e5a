"""Is a map faithful? Gaps of the perturbation tests with confidence intervals.

Per image, the *gap* is how much better the map's order does than a random order: for
deletion the random order's area minus the map's (the probability should fall faster), for
insertion the map's area minus the random order's (it should rise faster). A test is passed
when the 95 % confidence interval of the mean gap over images lies above 0; a map beats the
model-free baseline (image brightness) when its paired gap over the baseline's does the same.
The counts, verdicts and the figure are ``paper``'s (``saliency_text``, ``saliency_tables``,
``gradcam_plots``).
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

__all__ = ["BASELINE", "mean_ci", "faithfulness_summary"]

BASELINE = "brightness"
_TESTS = ("deletion", "insertion")


def mean_ci(values, level: float = 0.95) -> tuple[float, float, float]:
    """Mean and Student-t confidence interval of the mean: ``(mean, low, high)``.

    NaNs are dropped; fewer than two values give ``(mean, nan, nan)``.
    """
    v = np.asarray(values, dtype=np.float64)
    v = v[~np.isnan(v)]
    if len(v) == 0:
        return float("nan"), float("nan"), float("nan")
    m = float(v.mean())
    if len(v) < 2:
        return m, float("nan"), float("nan")
    half = stats.t.ppf(0.5 + level / 2, len(v) - 1) * v.std(ddof=1) / np.sqrt(len(v))
    return m, float(m - half), float(m + half)


def _gap(test: str, area, reference) -> np.ndarray:
    a, r = np.asarray(area, float), np.asarray(reference, float)
    return r - a if test == "deletion" else a - r


def faithfulness_summary(areas: pd.DataFrame) -> pd.DataFrame:
    """One row per model, explainer, test and fill.

    Parameters
    ----------
    areas : DataFrame
        Long format, columns ``model, explainer, test, fill, image, area``: the area under
        each image's curve; ``explainer`` includes ``"random"`` (the reference) and
        ``BASELINE``.

    Returns
    -------
    DataFrame
        Columns ``model, explainer, test, fill, n, area, random_area, gap, gap_low, gap_high,
        passes`` (``gap_low > 0``) and, for explainers other than the baseline, ``vs_baseline``
        (mean paired gap over the baseline's), ``vs_baseline_low``, ``vs_baseline_high``,
        ``beats_baseline`` (CI above 0) and ``loses_to_baseline`` (CI below 0: the model-free
        brightness map does significantly better).
    """
    need = {"model", "explainer", "test", "fill", "image", "area"}
    if not need <= set(areas.columns):
        raise ValueError(f"areas needs columns {sorted(need)}, got {sorted(areas.columns)}.")
    wide = areas.pivot_table(index=["model", "test", "fill", "image"], columns="explainer",
                             values="area", aggfunc="first")
    if "random" not in wide:
        raise ValueError("areas has no 'random' explainer, the reference of every test.")
    rows = []
    for (model, test, fill), g in wide.groupby(level=["model", "test", "fill"], sort=False):
        for explainer in [e for e in g.columns if e != "random" and g[e].notna().any()]:
            gap = _gap(test, g[explainer], g["random"])
            m, low, high = mean_ci(gap)
            row = {"model": model, "explainer": explainer, "test": test, "fill": fill,
                   "n": int(np.isfinite(gap).sum()), "area": float(g[explainer].mean()),
                   "random_area": float(g["random"].mean()), "gap": m, "gap_low": low,
                   "gap_high": high, "passes": bool(low > 0)}
            if explainer != BASELINE and BASELINE in g:
                vm, vlow, vhigh = mean_ci(_gap(test, g[explainer], g[BASELINE]))
                row.update(vs_baseline=vm, vs_baseline_low=vlow, vs_baseline_high=vhigh,
                           beats_baseline=bool(vlow > 0), loses_to_baseline=bool(vhigh < 0))
            rows.append(row)
    return pd.DataFrame(rows)
