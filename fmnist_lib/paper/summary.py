"""The front page's and the conclusions' sentences: what the comparison says, in words.

These functions only word results that other modules computed (``comparison.comparison``,
``search_space.grid_edges``); editing them never changes a stored result.
"""
from __future__ import annotations

from typing import Any, Mapping, Sequence

import pandas as pd

from ..evaluation.equivalence import effect_verdict
from ..tuning.search_space import grid_edges
from .report import fmt_pct

__all__ = ["difference_ci", "abstract_result", "conclusion_verdict", "recipe_dependence", "ensemble_clause", "seed_overlap_sentence", "tuning_summary",
           "edge_count_clause", "cost_clause"]


def difference_ci(r: Mapping) -> str:
    """An :func:`equivalence.accuracy_difference` result in percentage points with its 90 % CI:
    ``"+0.11 pp (90 % CI [-0.30, +0.53])"``."""
    return f"{100 * r['diff']:+.2f} pp (90 % CI [{100 * r['ci90_low']:+.2f}, {100 * r['ci90_high']:+.2f}])"


def abstract_result(tuned: Mapping, default: Mapping, a: str, b: str) -> str:
    """The result in one sentence for the abstract: ``b`` minus ``a`` with each model's tuned
    values and with the shared defaults, each with its 90 % CI and its verdict against the
    margin (:func:`equivalence.accuracy_difference` results)."""
    def verdict(r: Mapping) -> str:
        m = f"±{100 * r['margin']:g} pp"
        return {"equivalent": f"equivalent within the {m} margin",
                "different": f"a difference larger than the {m} margin",
                "inconclusive": f"neither equivalence nor a difference beyond the {m} margin"}[r["verdict"]]

    def value(r: Mapping) -> str:
        return f"{100 * r['diff']:+.2f} pp (90 % CI [{100 * r['ci90_low']:+.2f}, {100 * r['ci90_high']:+.2f}])"

    if tuned["verdict"] == default["verdict"] and tuned["margin"] == default["margin"]:  # said once
        return (f"{b}'s test accuracy minus the {a}'s is {value(tuned)} with each model's tuned "
                f"hyperparameters and {value(default)} with the defaults both share: both times "
                f"{verdict(tuned)}.")
    return (f"{b}'s test accuracy minus the {a}'s is {value(tuned)}, {verdict(tuned)}, with each model's "
            f"tuned hyperparameters, and {value(default)}, {verdict(default)}, with the defaults both share.")


def recipe_dependence(tuned: Mapping, default: Mapping, a: str, b: str) -> str:
    """Whether the equivalence verdict survives a change of hyperparameters, in one sentence.

    Parameters
    ----------
    tuned, default : dict
        :func:`equivalence.accuracy_difference` results (``b`` minus ``a``) for the tuned
        runs and for the runs with the shared defaults; their ``verdict`` is
        ``"equivalent"``, ``"different"`` or ``"inconclusive"``.
    """
    if tuned["verdict"] == default["verdict"]:
        return (f"The verdict is the same ({tuned['verdict']}) with the defaults both models share "
                f"and with each model's tuned values.")
    return (f"The verdict therefore depends on the hyperparameters: {default['verdict']} with the "
            f"defaults both models share, {tuned['verdict']} with each model's tuned values.")


def conclusion_verdict(tuned: Mapping, default: Mapping, a: str, b: str) -> str:
    """The answer to the question in one sentence for the conclusions, from the two verdicts
    (``b`` minus ``a``, :func:`equivalence.accuracy_difference` results): what they establish
    and, where both 95 % intervals exclude 0 on one side, which model is ahead.

    E.g. ``"Both verdicts are inconclusive: the simple CNN is neither shown to match LeNet-5
    within the ±1 pp margin nor to differ from it by more than the margin, although LeNet-5 is
    detectably ahead in both"`` ("detectably": both 95 % intervals exclude 0).
    """
    m = f"±{100 * tuned['margin']:g} pp"
    ahead = [b if r["ci95_low"] > 0 else a if r["ci95_high"] < 0 else None for r in (tuned, default)]
    lead = (f", although {ahead[0]} is detectably ahead in both"
            if ahead[0] is not None and ahead[0] == ahead[1] else "")
    if tuned["verdict"] != default["verdict"]:
        return (f"The verdict depends on the hyperparameters: {default['verdict']} with the defaults both share, "
                f"{tuned['verdict']} with each model's tuned values{lead}")
    return {"equivalent": f"Both verdicts are equivalent: the {a} matches {b} within the {m} margin{lead}",
            "different": f"Both verdicts are different: the two models differ by more than the {m} margin{lead}",
            "inconclusive": f"Both verdicts are inconclusive: the {a} is neither shown to match {b} within the "
                            f"{m} margin nor to differ from it by more than the margin{lead}"}[tuned["verdict"]]


def ensemble_clause(ensemble: Mapping, a: str, b: str) -> str:
    """The seed ensembles' difference (``b`` minus ``a``) with what its interval resamples
    (``evaluation.verdicts.ensemble_difference``: the seeds and the test images)."""
    m = f"±{100 * ensemble['margin']:g} pp"
    word = {"equivalent": f"inside the {m} margin", "different": f"wholly outside the {m} margin",
            "inconclusive": f"across the {m} margin"}[ensemble["verdict"]]
    return (f"averaging each model's probabilities over its seeds, the {b} ensemble minus the {a} "
            f"ensemble is {100 * ensemble['diff']:+.2f} pp (90 % CI [{100 * ensemble['ci90_low']:+.2f}, "
            f"{100 * ensemble['ci90_high']:+.2f}], "
            f"{'test-image noise only' if ensemble.get('seeds', 1) == 1 else 'seeds and test images resampled'}), {word}")


def seed_overlap_sentence(accs_a: Sequence[float], accs_b: Sequence[float], a: str, b: str) -> str:
    """Do the two models' per-seed test accuracies overlap?"""
    if not len(accs_a) or not len(accs_b):
        raise ValueError("Both models need at least one seed's accuracy.")
    lo_a, hi_a, lo_b, hi_b = min(accs_a), max(accs_a), min(accs_b), max(accs_b)
    pct = lambda x: fmt_pct(x, 2)  # noqa: E731 (the paper's one percentage style)
    ranges = f"{a} {pct(lo_a)} to {pct(hi_a)}, {b} {pct(lo_b)} to {pct(hi_b)}"
    if lo_b > hi_a:
        return f"Every {b} seed scores higher than every {a} seed ({ranges})."
    if lo_a > hi_b:
        return f"Every {a} seed scores higher than every {b} seed ({ranges})."
    return f"The two models' seed ranges overlap ({ranges})."


def tuning_summary(tuning: pd.DataFrame) -> str:
    """Per model, what tuning did, from the paired tuned-minus-default table.

    Parameters
    ----------
    tuning : DataFrame
        ``model``, ``difference``, ``low``, ``high`` (95 % CI), one row per model.
    """
    words = {"improved": "raised", "worsened": "lowered", "unclear": "did not measurably change"}
    parts = [f"{words[effect_verdict(r.low, r.high)]} {r.model}'s accuracy ({100 * r.difference:+.2f} pp, "
             f"95 % CI [{100 * r.low:+.2f}, {100 * r.high:+.2f}])" for r in tuning.itertuples()]
    return "Tuning " + " and ".join(parts)


def edge_count_clause(best: Mapping[str, Mapping[str, Any]], grid: Mapping[str, list[Any]],
                      labels: Mapping[str, str] | None = None) -> str:
    """How many of each model's chosen values sit on an edge of the grid that a wider grid
    could move past, as a clause. A weight decay of 0 on the grid's lowest edge is the lowest
    possible value, so nothing better can lie below it and it is not counted."""
    labels = labels or {}

    def extendable(chosen: Mapping[str, Any], key: str, where: str) -> bool:
        return where in ("lowest", "highest") and not (
            key == "optimizer__weight_decay" and where == "lowest" and chosen[key] == 0)

    counts = {labels.get(n, n): sum(extendable(c, k, w) for k, w in grid_edges(c, grid).items())
              for n, c in best.items()}
    if not any(counts.values()):
        return "no chosen value lies on an edge of the grid that a wider grid could move past"
    searched = sum(len(v) > 1 for v in grid.values())  # an axis held at one value was not chosen
    parts = [f"{k} of {name}'s {searched} searched values" for name, k in counts.items()]
    verb = "lies" if sum(counts.values()) == 1 and len(counts) == 1 else "lie"
    return (" and ".join(parts) + f" {verb} on an edge of the grid that a wider grid could move "
            "past, so better values may lie beyond it")




def cost_clause(mac_ratio: float, ratios: Mapping[str, float],
                spread: Mapping[str, tuple[float, float, int]] | None = None) -> str:
    """Whether fewer multiply-adds went with more speed in the benchmark.

    Parameters
    ----------
    mac_ratio : float
        The simple model's multiply-adds per image over the other's.
    ratios : dict
        ``{"train": ratio, "inference": ratio}`` of the simple model's measured speed to the
        other's (``benchmark.speed_ratios``).
    spread : dict, optional
        ``paper.evaluation_text.ratio_spread``: a task whose per-repeat ratios lie on both sides
        of 1 counts as neither faster nor slower.
    """
    fewer = f"{1 / mac_ratio:.1f} times fewer multiply-adds per image"
    if mac_ratio >= 1:
        return "The simple CNN does not need fewer multiply-adds per image."
    tasks = (("trains", "train"), ("classifies", "inference"))
    mixed = [w for w, k in tasks if spread is not None and spread[k][0] < 1 < spread[k][1]]
    slower = [w for w, k in tasks if ratios[k] < 1 and w not in mixed]
    if slower:
        return (f"Multiply-adds do not predict these ratios: with {fewer}, the simple CNN still "
                f"{' and '.join(slower)} more slowly. This benchmark measures the cost; it does not "
                "explain it (no per-layer profile was taken).")
    if mixed:
        faster = [w for w, _ in tasks if w not in mixed]
        return (f"With {fewer}, the simple CNN " + (f"{' and '.join(faster)} faster but " if faster else "")
                + f"is not consistently faster when it {' and '.join(mixed)}: the per-repeat ratios lie on "
                "both sides of 1 at the one batch size it was timed at.")
    return (f"With {fewer}, the simple CNN is faster at both, though not in proportion to the "
            "multiply-adds.")
