"""The answer to "do the two models look at the same parts?" in words, from
``saliency.answer.agreement_position`` (the numbers are computed there).

Thresholds on the position (0 at chance, 1 at self-agreement): below ``LOW`` "barely", from
``LOW`` to ``HIGH`` "partly", from ``HIGH`` "yes"; "no" when the cross-model agreement's excess
over chance has a 95 % CI reaching 0; "cannot tell" when a model's seeds do not agree above
chance, or when the metric is defined for every comparison on fewer than ``MIN_DEFINED`` of the
images. The word is read from the position itself; where its interval reaches past a threshold,
the sentence says which other words it admits (``admits``), so a small sample does not read as a
firm answer.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..saliency.agreement import CELL
from ..saliency.answer import agreement_position
from .saliency_text import near

__all__ = ["LOW", "HIGH", "MIN_DEFINED", "verdict", "admits", "same_parts_answer", "same_parts_answers",
           "headline_answer", "seeds_phrase"]

LOW, HIGH = 0.25, 0.75
MIN_DEFINED = 0.5  # share of the images that must have every comparison defined


def verdict(p: dict) -> str:
    """``"yes"``, ``"partly"``, ``"barely"``, ``"no"`` or ``"cannot tell"`` for an
    ``agreement_position`` result (thresholds ``LOW`` and ``HIGH`` on the position)."""
    if not p["within"] or not p["reproducible"] or p["n"] < MIN_DEFINED * p["images"]:
        return "cannot tell"
    if not p["above_chance"]:
        return "no"
    return _word(p["position"])


def _at(position: float) -> str:
    """A position or an end of its interval, with the decimals that keep it on its side of LOW and HIGH."""
    return near(position, (LOW, HIGH))


def _word(position: float) -> str:
    return "yes" if position >= HIGH else "partly" if position >= LOW else "barely"


def admits(p: dict) -> str:
    """The other words the position's 95 % interval admits, e.g. ', which also admits “barely”'
    for a "partly" whose interval reaches below ``LOW``; "" when it admits only its own word."""
    words = ("barely", "partly", "yes")
    lo, hi = words.index(_word(p["low"])), words.index(_word(p["high"]))
    others = [w for w in words[lo:hi + 1] if w != _word(p["position"])]
    return f", which also admits {' and '.join(f'“{w}”' for w in others)}" if others else ""


def _brightness_clause(p: dict, explainer: str = "", placed: bool = True) -> str:
    """How each model's agreement with the image's brightness compares with the two models';
    on the position's scale only where the answer is ``placed`` on it (yes, partly, barely)."""
    parts = []
    for c, b in p["brightness"].items():
        how = ("more than" if b["beats_cross"] else "less than" if b["below_cross"]
               else "about as much as")
        scale = (f", {b['position']:.2f} of the way on the same scale"
                 if placed and np.isfinite(b.get("position", np.nan)) else "")
        parts.append(f"with {c.removesuffix(' vs brightness')}'s at {b['mean']:.2f} "
                     f"({how} the two models agree with each other{scale})")
    if not parts:
        return ""
    text = f" On those images the image's brightness (no model) agrees {' and '.join(parts)}."
    placed_at = {c.removesuffix(" vs brightness"): b["position"] for c, b in p["brightness"].items()
                 if np.isfinite(b.get("position", np.nan))}
    positions = list(placed_at.values())
    if placed and positions and np.isfinite(p.get("position", np.nan)) and max(positions) >= 0.5 * p["position"]:
        # brightness can account for the models' agreement with each other only as far as it
        # goes for the map that tracks it least
        reach = " and ".join(f"{v:.2f} for {m}'s maps" for m, v in placed_at.items())
        text += (f" A map that uses no model thus reaches {reach}, against {p['position']:.2f} for the two "
                 "models' agreement with each other: "
                 + ("brightness alone goes as far for every model, so all of that agreement beyond chance may "
                    "be where the garment is bright." if min(positions) >= p["position"] else
                    "some of that agreement beyond chance may be where the garment is bright."))
    elif any(not b["below_cross"] for b in p["brightness"].values()):  # brightness as close as the other model
        by = f" by {explainer}" if explainer else ""
        text += (f" So{by} the two models agree with each other no more than one of them agrees with a map "
                 "that uses no model: what they share may be where the garment is bright, not features both learned.")
    return text


def same_parts_answer(df: pd.DataFrame, explainer: str, metric: str = "spearman",
                      grid: str = "14 × 14", seed: int = 0) -> str:
    """The answer by one explainer with the numbers it rests on, then a sentence on how the
    maps agree with the model-free brightness map."""
    p = agreement_position(df, metric, seed=seed)
    sym = "ρ" if metric == "spearman" else f"top-{metric.removeprefix('top')} % overlap"
    seeds = " and ".join(f"{c.removesuffix(' seeds')} {m:.2f}" for c, m in p["within"].items())
    numbers = (f"on the {grid} grid the two models' maps agree at {sym} = {p['cross']:.2f}, "
               f"against {p['chance']:.2f} for maps of other images of the same class")
    n = (f"{p['n']:,} images" if p["n"] == p["images"] else
         f"{p['n']:,} of {p['images']:,} images, those with at least one seed pair of non-constant maps in "
         "every comparison (a pair with a constant map is left out of its image's mean)")
    word = verdict(p)
    if not p["within"]:
        text = (f"{explainer} cannot place the agreement: with one seed per model, how far a "
                f"model's own maps reproduce is unknown ({numbers}; {n}).")
    elif word == "cannot tell" and p["n"] < MIN_DEFINED * p["images"]:
        text = (f"{explainer} cannot answer: its maps are constant (zero everywhere) on too many "
                f"images, so the agreement rests on {n}.")
    elif word == "cannot tell":
        text = (f"{explainer} cannot answer: a model's own seeds agree no better than chance "
                f"({numbers}; seeds: {seeds}; {n}).")
    elif word == "no":
        text = f"No, by {explainer}: {numbers}, no more than chance (seeds: {seeds}; {n})."
    else:
        text = (f"{word.capitalize()}, by {explainer}: {numbers} and {seeds} across each "
                f"model's own seeds, {_at(p['position'])} of the way from chance to self-agreement "
                f"(95 % CI {_at(p['low'])}–{_at(p['high'])}{admits(p)}; {n}).")
    return text + _brightness_clause(p, explainer, placed=word in ("yes", "partly", "barely"))


def _rows(agreement: pd.DataFrame, cell: int | None) -> tuple[int, pd.DataFrame]:
    cell = CELL if cell is None else cell
    rows = agreement[agreement["cell"] == cell]
    if rows.empty:
        raise ValueError(f"No agreement on a grid of {cell}-px cells; the table has cells "
                         f"{sorted(agreement['cell'].unique())}.")
    return cell, rows


def same_parts_answers(agreement: pd.DataFrame, cell: int | None = None,
                       labels: dict[str, str] | None = None, metric: str = "spearman") -> dict:
    """``{explainer label: same_parts_answer}`` from the stage's stored ``agreement`` table
    (columns ``explainer`` and ``cell`` beside ``reference_agreement``'s), on the grid of
    ``cell`` px cells (``saliency.agreement.CELL`` by default)."""
    cell, rows = _rows(agreement, cell)
    grid = f"{28 // cell} × {28 // cell}"
    return {(labels or {}).get(e, e): same_parts_answer(g.drop(columns=["explainer", "cell"]),
                                                        (labels or {}).get(e, e), metric, grid)
            for e, g in rows.groupby("explainer", sort=False)}


def headline_answer(agreement: pd.DataFrame, cell: int | None = None,
                    labels: dict[str, str] | None = None, metric: str = "spearman") -> str:
    """Every explainer's verdict with its position, interval and images, in one clause, e.g.
    "partly by HiResCAM (0.25 of the way from chance to self-agreement, 95 % CI 0.18–0.31; n =
    1,000) and by occlusion (0.57, 0.48–0.65; n = 300); Grad-CAM cannot tell" on the grid of
    ``cell`` px cells."""
    cell, rows = _rows(agreement, cell)
    words: dict[str, list[str]] = {}
    for e, g in rows.groupby("explainer", sort=False):
        p = agreement_position(g.drop(columns=["explainer", "cell"]), metric)
        word, name = verdict(p), (labels or {}).get(e, e)
        if word in ("yes", "partly", "barely"):
            first = not any(w in words for w in ("yes", "partly", "barely"))
            pos = ((f"{_at(p['position'])} of the way from chance to self-agreement, 95 % CI "
                    if first else f"{_at(p['position'])}, ") + f"{_at(p['low'])}–{_at(p['high'])}" + admits(p)
                   + f"; n = {p['n']:,}" + (f" of {p['images']:,}" if p["n"] < p["images"] else ""))
            name = f"{name} ({pos})"
        words.setdefault(word, []).append(name)
    said = [f"{'not' if w == 'no' else w} by {' and by '.join(es)}" for w, es in words.items() if w != "cannot tell"]
    if "cannot tell" in words:
        said.append(f"{' and '.join(words['cannot tell'])} cannot tell")
    return f"on the {28 // cell} × {28 // cell} grid, " + "; ".join(said)


_WORDS = ("no", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten")


def seeds_phrase(seeds: dict[str, int]) -> str:
    """E.g. "five seeds of each" or "Simple CNN: five seeds, LeNet-5: three seeds"."""
    def count(k: int) -> str:
        return f"{_WORDS[k] if k < len(_WORDS) else k} seed{'' if k == 1 else 's'}"
    if len(set(seeds.values())) == 1:
        return f"{count(next(iter(seeds.values())))} of each"
    return ", ".join(f"{name}: {count(k)}" for name, k in seeds.items())
