"""The saliency tables as the chapter shows them: agreement on the common grid, maps short of
positive cells, the maps' mass on the garment, the perturbation tests' counts and the cascading
randomisation beside its reference (the numbers are computed in ``saliency/``).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..models import DISPLAY_NAMES
from ..saliency.agreement import agreement_table
from ..saliency.foreground import foreground_table
from ..saliency.sanity import randomisation_check
from .saliency_text import MAP_LABELS

__all__ = ["agreement_display", "positive_cells_display", "foreground_display", "faithfulness_counts",
           "randomisation_display"]

REFERENCE = "two random networks"  # the layer column of the cascade's reference rows


def _ci(mean: float, low: float, high: float) -> str:
    return "" if np.isnan(mean) else f"{mean:.2f} [{low:.2f}, {high:.2f}]"


def agreement_display(agreement, cell: int, labels: dict[str, str] | None = None,
                      explainer: str | None = None):
    """The agreement table on one grid as the chapter shows it: per explainer (all, or the one
    named) and comparison, mean Spearman and top-k overlaps with 95 % CIs, the images analysed
    and, per metric, the images used: those where every comparison is defined, the same for
    every row of an explainer (and the ones the text's answer uses)."""
    if explainer is None:
        labels = labels or {}
        return pd.concat([agreement_display(agreement, cell, labels, e).assign(
            explainer=labels.get(e, e)) for e in dict.fromkeys(agreement["explainer"])],
            ignore_index=True).pipe(lambda d: d[["explainer", *d.columns[:-1]]])
    rows = agreement[(agreement["explainer"] == explainer) & (agreement["cell"] == cell)]
    if rows.empty:
        raise ValueError(f"No agreement rows for {explainer!r} on {cell}-px cells.")
    t = agreement_table(rows.drop(columns=["explainer", "cell"]))
    metrics = list(dict.fromkeys(t.columns.get_level_values(0)))
    out = pd.DataFrame({"comparison": t.index})
    for m in metrics:
        name = "Spearman" if m == "spearman" else f"top {m.removeprefix('top')} %"
        out[name] = [_ci(*t.loc[c, [(m, "mean"), (m, "low"), (m, "high")]]) for c in t.index]
    out["images"] = t[(metrics[0], "n")].to_numpy() + t[(metrics[0], "excluded")].to_numpy()
    out["used (Spearman / top k)"] = [" / ".join(str(int(t.loc[c, (m, "n")])) for m in metrics)
                                      for c in t.index]
    return out


def foreground_display(foreground, labels: dict[str, str] | None = None):
    """``saliency.foreground.foreground_table`` with readable names and the CI as text."""
    labels = labels or {}
    t = foreground_table(foreground)
    model, explainer = zip(*(m.split("/") for m in t["maps"]))
    out = t.assign(model=[labels.get(m, m) for m in model],
                   explainer=[labels.get(e, e) for e in explainer])
    out["excess over area [95 % CI]"] = [
        _ci(a - b, lo, hi) for a, b, lo, hi in zip(t["on silhouette"], t["silhouette area"],
                                                   t["excess low"], t["excess high"])]
    return out[["model", "explainer", "n", "no mass", "on silhouette", "silhouette area",
                "excess over area [95 % CI]", "on frame", "frame area"]]


def positive_cells_display(cells, cell: int, labels: dict[str, str] | None = None):
    """``positive_cells`` of one grid with readable names (counts of ``n`` seed-0 maps)."""
    labels = labels or {}
    t = cells[cells["cell"] == cell].drop(columns=["cell"]).dropna(axis=1)
    t = t.assign(model=t["model"].map(lambda m: labels.get(m, m)),
                 explainer=t["explainer"].map(lambda e: labels.get(e, e)))
    first = ["model", "explainer", "n", "all zero"]
    return t[first + [c for c in t.columns if c not in first]].reset_index(drop=True)


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


def faithfulness_counts(summary: pd.DataFrame, labels: dict[str, str] | None = None) -> pd.DataFrame:
    """Per model and explainer (``summary``: ``saliency.faithfulness.faithfulness_summary``):
    tests passed, tests done significantly worse than random (whole 95 % CI of the gap below 0),
    tests where the map beats the brightness baseline and tests where the brightness baseline
    does significantly better than the map."""
    labels = {**DISPLAY_NAMES, **MAP_LABELS, **(labels or {})}
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


def randomisation_display(randomisation: pd.DataFrame, reference: pd.DataFrame,
                          layer_names: dict[str, dict[str, str]], labels: dict[str, str] | None = None
                          ) -> pd.DataFrame:
    """Per model and explainer, each step of the cascade and, last, the reference (the maps of
    two independently initialised networks, layer ``REFERENCE``), every row of a block on the same
    images: those ``saliency.sanity.randomisation_check`` reads (no map constant).

    Parameters
    ----------
    randomisation, reference : DataFrame
        The stage's ``randomisation`` and ``randomisation_reference`` items.
    layer_names : dict
        ``{model: saliency.sanity.layer_labels(model)}``.
    """
    labels = {**DISPLAY_NAMES, **MAP_LABELS, **(labels or {})}
    parts = []
    for (n, m), g in randomisation.groupby(["model", "explainer"], sort=False):
        check = randomisation_check(g, reference[(reference["model"] == n) & (reference["explainer"] == m)])
        mean, low, high = check["reference"]
        s = pd.concat([check["summary"].assign(layer=lambda d: d["layer"].map(layer_names[n])),
                       pd.DataFrame([{"step": "", "layer": REFERENCE, "spearman": mean, "low": low,
                                      "high": high, "n": check["n"]}])], ignore_index=True)
        parts.append(s.assign(model=labels.get(n, n), explainer=labels.get(m, m)))
    return pd.concat(parts, ignore_index=True)[
        ["model", "explainer", "step", "layer", "spearman", "low", "high", "n"]].rename(
        columns={"spearman": "mean Spearman", "low": "CI low", "high": "CI high"})
