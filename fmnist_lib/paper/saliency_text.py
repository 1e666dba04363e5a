"""The saliency checks in words: where the maps point (foreground), whether they depend on the
learned weights (randomisation), whether they show what the models use (perturbation tests),
and which images occlusion explains. The numbers are computed in ``saliency/``; the words that
answer "do the two models look at the same parts?" are ``agreement_text``'s.
"""
from __future__ import annotations

import pandas as pd

from ..models import DISPLAY_NAMES
from ..saliency.faithfulness import BASELINE
from ..saliency.foreground import foreground_table
from .report import and_list

__all__ = ["MAP_LABELS", "near", "faithfulness_verdict", "faithful_clause", "brightness_clause", "foreground_sentence",
           "randomisation_verdict", "randomisation_caveat", "answers_caveat", "occlusion_scope"]

MAP_LABELS = {"gradcam": "Grad-CAM", "hirescam": "HiResCAM", "occlusion": "occlusion",
              "brightness": "brightness (no model)"}


def near(x: float, edges=(), signed: bool = False) -> str:
    """``x`` to 2 decimals, or to 3 (4) where 2 (3) would put it on or across one of the ``edges`` (the
    thresholds a verdict reads it against), so the number shown agrees with the verdict; with
    ``signed``, a sign on every non-zero value and none on zero (never "-0.00")."""
    for digits in (2, 3, 4):
        shown = round(x, digits)
        if all((shown > e) == (x > e) and (shown < e) == (x < e) for e in edges):
            break
    text = f"{x:+.{digits}f}" if signed else f"{x:.{digits}f}"
    return text.lstrip("+-") if float(text) == 0 else text


def _labels(labels: dict[str, str] | None) -> dict[str, str]:
    return {**DISPLAY_NAMES, **MAP_LABELS, **(labels or {})}


def _names(rows: pd.DataFrame) -> str:
    """E.g. "deletion with black and mean fill and ROAD insertion"."""
    parts = []
    for test, g in rows.groupby("test", sort=False):
        fills = [f for f in g["fill"] if f != "road"]
        if fills:
            parts.append(f"{test} with {and_list(fills)} fill")
        if (g["fill"] == "road").any():
            parts.append(f"ROAD {test}")
    return and_list(parts)


def faithfulness_verdict(summary: pd.DataFrame, model: str,
                         labels: dict[str, str] | None = None) -> str:
    """One short sentence on one model (``summary``: ``saliency.faithfulness.faithfulness_summary``):
    how many tests each model-based map passes, and where a map does significantly worse than
    random (whole 95 % CI of the gap below 0).

    Example: "On Simple CNN, HiResCAM passes 6 of 8 tests and Grad-CAM 5; significantly worse
    than random: Grad-CAM in deletion with black and mean fill."
    """
    labels = _labels(labels)
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
    labels = _labels(labels)
    parts, none = [], []
    for model, g in summary[summary["explainer"] != BASELINE].groupby("model", sort=False):
        ok = [labels.get(e, e) for e, h in g.groupby("explainer", sort=False) if h["passes"].all()]
        name = labels.get(model, model)
        if ok:
            parts.append(f"{' and '.join(ok)} pass{'es' if len(ok) == 1 else ''} every perturbation test on {name}")
        else:
            none.append(name)
    if none:  # said once, for every model where it holds
        parts.append("no map passes every perturbation test on "
                     + ("either model" if len(none) == 2 else and_list(none)))
    return "; ".join(parts)


def brightness_clause(summary: pd.DataFrame, labels: dict[str, str] | None = None) -> str:
    """Per model, where the model-free brightness map does significantly better than each
    model-based map (paired 95 % CI of the map's gap over brightness's below 0), as a sentence.

    Example: "The image's brightness, which knows nothing of the model: on Simple CNN it beats
    Grad-CAM on 3 of 8 tests and HiResCAM on 1; on LeNet-5 it beats no map."
    """
    labels = _labels(labels)
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
            parts.append(f"on {name} it beats " + and_list(
                [f"{e} on {k} of {n} tests" if i == 0 else f"{e} on {k}"
                 for i, (e, k, n) in enumerate(beaten)]))
    return f"The image's brightness, which knows nothing of the model: {'; '.join(parts)}."


def _map_name(maps: str, labels: dict[str, str]) -> str:
    model, _, explainer = maps.partition("/")
    return (f"{labels.get(model, model)}'s {labels.get(explainer, explainer)}" if explainer
            else labels.get(model, model))


def foreground_sentence(shares: pd.DataFrame, labels: dict[str, str] | None = None) -> str:
    """Which maps put more of their mass on the garment than its area, which less (95 % CI of
    the paired excess wholly above or below 0), in one sentence (``shares``:
    ``saliency.foreground.foreground_shares``)."""
    labels = labels or {}
    t = foreground_table(shares)
    groups: dict[str, list[str]] = {"more": [], "less": [], "about as much": []}
    for _, r in t.iterrows():
        key = ("more" if r["excess low"] > 0 else "less" if r["excess high"] < 0
               else "about as much")
        groups[key].append(f"{_map_name(r['maps'], labels)} ({100 * r['on silhouette']:.0f} %)")
    widest = t.loc[t["n"].idxmax()]  # the area over the most images (occlusion explains a subset)
    said = [f"{k} for {', '.join(v)}" for k, v in groups.items() if v]
    text = (f"The garment covers {100 * widest['silhouette area']:.0f} % of an analysed image on average; "
            "the share of a map's mass on it is " + "; ".join(said) + ".")
    frame = [f"{_map_name(r['maps'], labels)} ({100 * r['on frame']:.1f} %)"
             for _, r in t.iterrows() if r["frame excess low"] > 0]
    return text + (f" The 1-px frame covers {100 * t['frame area'].iloc[0]:.1f} % of the image; a larger "
                   f"share of the mass than that lies on it for {', '.join(frame)}." if frame else
                   " No map puts a larger share of its mass on the 1-px frame than the frame's share of the image.")


_OUTCOME = {"passes": ("passes", "pass"), "fails": ("fails", "fail"),
            "undecided": ("is undecided", "are undecided")}


def randomisation_verdict(checks: dict[str, dict], model: str) -> str:
    """One sentence on one model's maps (``checks``: ``{explainer: saliency.sanity.randomisation_check}``):
    each map's correlation with the trained maps once every layer is random, against the
    two-random-networks reference, their paired excess with its 95 % CI, and the outcome of the
    rule (passes: the CI below the margin; fails: above it; undecided: across it). The numbers
    are the table's (``saliency_tables.randomisation_display``), on the images it states.

    Example: "On LeNet-5, with all 5 layers random, Grad-CAM's maps correlate with the trained ones
    at 0.01 against -0.06 for two independently initialised networks' (excess +0.07 [-0.02,
    +0.16]; 84 of 100 images, the others have a constant map) and HiResCAM's at 0.00 against 0.09
    (-0.08 [-0.13, -0.03]): HiResCAM passes; Grad-CAM is undecided."
    """
    if not checks:
        raise ValueError("checks is empty.")
    margins = {c["margin"] for c in checks.values()}
    if len(margins) != 1:
        raise ValueError(f"The checks use different margins {sorted(margins)}; use one.")
    edge = (margins.pop(),)
    parts, groups = [], {o: [] for o in _OUTCOME}
    for i, (explainer, c) in enumerate(checks.items()):
        (last, _, _), (ref, _, _), (ex, lo, hi) = c["last"], c["reference"], c["excess"]
        n = f"; {c['n']:,} of {c['images']:,} images, the others have a constant map" if c["n"] < c["images"] else ""
        parts.append(f"{explainer}'s" + (" maps correlate with the trained ones at" if i == 0 else " at")
                     + f" {near(last)} against {near(ref)}"
                     + (" for two independently initialised networks'" if i == 0 else "")
                     + f" ({'excess ' if i == 0 else ''}{near(ex, signed=True)} "
                       f"[{near(lo, edge, True)}, {near(hi, edge, True)}]{n})")
        groups[c["outcome"]].append(explainer)
    every = ("both layers" if (k := next(iter(checks.values()))["steps"]) == 2 else f"all {k} layers")
    said = [f"{and_list(es)} {_OUTCOME[o][len(es) > 1]}" for o, es in groups.items() if es]
    return f"On {model}, with {every} random, {and_list(parts)}: {'; '.join(said)}."


def randomisation_caveat(checks: dict[tuple[str, str], dict], models: dict[str, str],
                         explainers: dict[str, str]) -> str:
    """The randomisation check in one sentence for the conclusions (``checks``:
    ``saliency.sanity.randomisation_checks``): which maps do not pass it, on which model, or that
    every map passes. E.g. "In the randomisation check occlusion fails on the Simple CNN and
    Grad-CAM is undecided on LeNet-5: a map that does not pass it stays close to the trained
    model's when the weights are random, so its agreement is weaker evidence of what the trained
    models learned."""
    if not checks:
        raise ValueError("checks is empty.")
    bad: dict[tuple[str, str], list[str]] = {}
    for (model, explainer), c in checks.items():
        if c["outcome"] != "passes":
            bad.setdefault((c["outcome"], model), []).append(explainers.get(explainer, explainer))
    if not bad:
        return "Every map passes the randomisation check on both models."
    said = [f"{and_list(es)} {_OUTCOME[o][len(es) > 1]} on {models.get(m, m)}" for (o, m), es in bad.items()]
    outcomes = {o for o, _ in bad}
    why = {frozenset({"fails"}): "a map that fails it stays close to the trained model's when the weights are "
                                 "random, so its agreement is",
           frozenset({"undecided"}): "an undecided map may stay close to the trained model's when the weights "
                                     "are random, so its agreement is",
           frozenset({"fails", "undecided"}): "a map that fails it stays close to the trained model's when the "
                                              "weights are random, and an undecided one may, so their agreement is"}
    return (f"In the randomisation check {and_list(said)}: {why[frozenset(outcomes)]} weaker evidence of "
            "what the trained models learned.")


def answers_caveat(checks: dict[tuple[str, str], dict], models: dict[str, str],
                   explainers: dict[str, str], close: float = 0.01) -> str:
    """The randomisation check beside the same-parts answers, for the maps that do not pass it,
    with the excess's CI against the margin and "borderline" where the CI's end nearest the
    margin lies within ``close`` of it (another bootstrap draw could move the outcome). Empty
    when every map passes."""
    said = []
    for (model, explainer), c in checks.items():
        if c["outcome"] == "passes":
            continue
        ex, lo, hi = c["excess"]
        edge = (c["margin"],)
        nearest = lo if c["outcome"] == "fails" else min(lo, hi, key=lambda v: abs(v - c["margin"]))
        verb = "fails" if c["outcome"] == "fails" else "is undecided in"
        said.append(f"{explainers.get(explainer, explainer)} {verb} it on {models.get(model, model)} (excess "
                    f"{near(ex, signed=True)} [{near(lo, edge, True)}, {near(hi, edge, True)}] against the "
                    f"{c['margin']:g} margin" + (", borderline" if abs(nearest - c["margin"]) < close else "") + ")")
    if not said:
        return ""
    return (f"These answers stand beside the randomisation check: {and_list(said)}, so the agreement of "
            f"{'that map' if len(said) == 1 else 'those maps'} is weaker evidence of what the trained models learned.")


def occlusion_scope(n_occ: int, n_images: int) -> str:
    """Which of the analysed images occlusion explains, as a clause: "it explains a stratified
    300 of the 1,000 analysed test images; Grad-CAM and HiResCAM explain all of them"."""
    if not 1 <= n_occ <= n_images:
        raise ValueError(f"n_occ must be between 1 and n_images={n_images}, got {n_occ}.")
    if n_occ == n_images:
        return f"it explains all {n_images:,} analysed test images, as Grad-CAM and HiResCAM do"
    return (f"it explains a stratified {n_occ:,} of the {n_images:,} analysed test images; "
            "Grad-CAM and HiResCAM explain all of them")
