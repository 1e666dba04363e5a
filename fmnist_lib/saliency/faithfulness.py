"""Is a map faithful? Gaps of the perturbation tests with confidence intervals, and verdicts.

Per image, the *gap* is how much better the map's order does than a random order: for
deletion the random order's area minus the map's (the probability should fall faster), for
insertion the map's area minus the random order's (it should rise faster). A test is passed
when the 95 % confidence interval of the mean gap over images lies above 0; a map beats the
model-free baseline (image brightness) when its paired gap over the baseline's does the same.
Verdicts are worded by what holds across fills, since no fill is neutral.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from ..models import DISPLAY_NAMES

__all__ = ["EXPLAINERS", "BASELINE", "mean_ci", "faithfulness_summary", "faithfulness_counts",
           "faithfulness_verdict", "faithful_clause", "brightness_clause", "plot_faithfulness"]

EXPLAINERS = {"gradcam": "Grad-CAM", "hirescam": "HiResCAM", "occlusion": "occlusion",
              "brightness": "brightness (no model)"}
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


def _names(rows: pd.DataFrame) -> str:
    """E.g. "deletion with black and mean fill and ROAD insertion"."""
    parts = []
    for test, g in rows.groupby("test", sort=False):
        fills = [f for f in g["fill"] if f != "road"]
        if fills:
            parts.append(f"{test} with {_join(fills)} fill")
        if (g["fill"] == "road").any():
            parts.append(f"ROAD {test}")
    return _join(parts)


def _join(items: list[str]) -> str:
    return ", ".join(items[:-1]) + (" and " if len(items) > 1 else "") + items[-1]


def faithfulness_counts(summary: pd.DataFrame, labels: dict[str, str] | None = None) -> pd.DataFrame:
    """Per model and explainer: tests passed, tests done significantly worse than random
    (whole 95 % CI of the gap below 0), tests where the map beats the brightness baseline and
    tests where the brightness baseline does significantly better than the map."""
    labels = {**DISPLAY_NAMES, **EXPLAINERS, **(labels or {})}
    rows = []
    for (model, explainer), g in summary.groupby(["model", "explainer"], sort=False):
        beats = (str(int(g["beats_baseline"].sum())) if "beats_baseline" in g
                 and g["beats_baseline"].notna().all() else "")
        rows.append({"model": labels.get(model, model),
                     "explainer": _cap(labels.get(explainer, explainer)),
                     f"passed (of {len(g)})": int(g["passes"].sum()),
                     "worse than random": int((g["gap_high"] < 0).sum()),
                     "beats brightness": beats,
                     "brightness better": (str(int(g["loses_to_baseline"].sum()))
                                           if "loses_to_baseline" in g and beats else "")})
    return pd.DataFrame(rows)


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


def faithfulness_verdict(summary: pd.DataFrame, model: str,
                         labels: dict[str, str] | None = None) -> str:
    """One short sentence on one model: how many tests each model-based map passes, and where a map does
    significantly worse than random (whole 95 % CI of the gap below 0).

    Example: "On Simple CNN, HiResCAM passes 6 of 8 tests and Grad-CAM 5; Grad-CAM does
    significantly worse than random in deletion with black and mean fill."
    """
    labels = {**DISPLAY_NAMES, **EXPLAINERS, **(labels or {})}
    rows = summary[(summary["model"] == model) & (summary["explainer"] != BASELINE)]
    if rows.empty:
        raise ValueError(f"No rows for model {model!r} in the summary.")
    counts = [(labels.get(e, e), int(g["passes"].sum()), len(g), g[g["gap_high"] < 0])
              for e, g in rows.groupby("explainer", sort=False)]
    counts.sort(key=lambda c: -c[1])
    (first, k, n, _), rest = counts[0], counts[1:]
    s = f"On {labels.get(model, model)}, {first} passes {k} of {n} tests"
    s += "".join(f"{', ' if i < len(rest) - 1 else ' and '}{e} {k}" for i, (e, k, _, _) in
                 enumerate(rest))
    worse = [f"{e} in {_names(w)}" for e, _, _, w in counts if len(w)]
    if worse:
        s += "; significantly worse than random: " + "; ".join(worse)
    else:
        s += "; no map does significantly worse than random"
    return s + "."


def faithful_clause(summary: pd.DataFrame, labels: dict[str, str] | None = None) -> str:
    """Per model, which model-based explainers pass every perturbation test, as a clause."""
    labels = {**DISPLAY_NAMES, **EXPLAINERS, **(labels or {})}
    parts = []
    for model, g in summary[summary["explainer"] != BASELINE].groupby("model", sort=False):
        ok = [labels.get(e, e) for e, h in g.groupby("explainer", sort=False) if h["passes"].all()]
        name = labels.get(model, model)
        parts.append(f"{' and '.join(ok)} pass{'es' if len(ok) == 1 else ''} every perturbation "
                     f"test on {name}" if ok else f"no map passes every perturbation test on {name}")
    return "; ".join(parts)


def brightness_clause(summary: pd.DataFrame, labels: dict[str, str] | None = None) -> str:
    """Per model, where the model-free brightness map does significantly better than each
    model-based map (paired 95 % CI of the map's gap over brightness's below 0), as a sentence.

    Example: "The image's brightness, which knows nothing of the model, beats Grad-CAM on 3 of
    8 tests and HiResCAM on 1 on Simple CNN; on LeNet-5 it beats no map."
    """
    labels = {**DISPLAY_NAMES, **EXPLAINERS, **(labels or {})}
    rows = summary[summary["explainer"] != BASELINE]
    if "loses_to_baseline" not in rows or rows.empty:
        raise ValueError("The summary has no comparison with the brightness baseline.")
    parts = []
    for model, g in rows.groupby("model", sort=False):
        counts = [(labels.get(e, e), int(h["loses_to_baseline"].sum()), len(h))
                  for e, h in g.groupby("explainer", sort=False)]
        beaten = [(e, k, n) for e, k, n in counts if k]
        name = labels.get(model, model)
        if not beaten:
            parts.append(f"on {name} it beats no map")
        else:
            parts.append(f"on {name} it beats " + _join(
                [f"{e} on {k} of {n} tests" if i == 0 else f"{e} on {k}"
                 for i, (e, k, n) in enumerate(beaten)]))
    text = "; ".join(parts)
    return f"The image's brightness, which knows nothing of the model: {text}."


def plot_faithfulness(summary: pd.DataFrame, labels: dict[str, str] | None = None):
    """Mean gap with its 95 % CI per test and fill (rows), explainer (colour), model (panel)."""
    import matplotlib.pyplot as plt

    labels = {**DISPLAY_NAMES, **EXPLAINERS, **(labels or {})}
    models = list(dict.fromkeys(summary["model"]))
    tests = summary[["test", "fill"]].drop_duplicates().reset_index(drop=True)
    explainers = list(dict.fromkeys(summary["explainer"]))
    fig, axes = plt.subplots(1, len(models), figsize=(7, 0.32 * len(tests) + 1.5),
                             sharey=True, sharex=True, constrained_layout=True, squeeze=False)
    for ax, model in zip(axes[0], models):
        for j, e in enumerate(explainers):
            sub = summary[(summary["model"] == model) & (summary["explainer"] == e)]
            y = [tests.index[(tests["test"] == t) & (tests["fill"] == f)][0]
                 + 0.8 / len(explainers) * (j - (len(explainers) - 1) / 2)
                 for t, f in zip(sub["test"], sub["fill"])]
            ax.errorbar(sub["gap"], y, xerr=[sub["gap"] - sub["gap_low"], sub["gap_high"] - sub["gap"]],
                        fmt="o", ms=3.5, color=f"C{j}", label=labels.get(e, e))
        ax.axvline(0, color="k", lw=0.8)
        ax.set_title(labels.get(model, model), fontsize=9)
        ax.set_xlabel("gap over random order (area)", fontsize=8)
        ax.tick_params(labelsize=8)
        ax.grid(axis="x", alpha=0.3)
    axes[0, 0].set_yticks(range(len(tests)), [f"{t}, {f}" for t, f in zip(tests["test"], tests["fill"])])
    axes[0, 0].invert_yaxis()
    axes[0, -1].legend(fontsize=7, loc="lower right")
    return fig
