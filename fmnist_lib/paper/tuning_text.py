"""The search in words: chosen values on the grid's edge (the search's computation is in
``tuning/``; its failures are worded by ``tuning_plots.failure_sentence``)."""
from __future__ import annotations

from typing import Any, Mapping

from ..tuning.search_space import AXIS_NAMES, grid_edges
from .report import and_list

__all__ = ["edge_sentence"]


def edge_sentence(best: Mapping[str, Mapping[str, Any]], grid: Mapping[str, list[Any]],
                  labels: Mapping[str, str] | None = None) -> str:
    """One sentence naming every chosen value on the grid's edge, or saying that none is
    (:func:`_edge_core`), then the axes the grid holds at one value, named as fixed: a value that
    was never searched lies neither inside the grid nor on its edge."""
    text = _edge_core(best, grid, labels)
    fixed = [f"the {AXIS_NAMES.get(k, k)} is fixed at {v[0]:g}" for k, v in grid.items() if len(v) == 1]
    if fixed:
        text += " Not searched: " + ", ".join(fixed) + "."
    return text


def _edge_core(best: Mapping[str, Mapping[str, Any]], grid: Mapping[str, list[Any]],
                  labels: Mapping[str, str] | None = None) -> str:
    """One sentence naming every chosen value on the grid's edge, or saying that none is.

    Only an edge that a wider grid could move past can mean the search stopped short. A
    weight decay of 0 on the grid's lowest edge is the lowest possible value (the grid's edge
    by construction): it is named as such, never with the "may lie beyond" clause.

    Parameters
    ----------
    best : dict
        ``{model name: chosen values}``.
    grid : dict
    labels : dict, optional
        Display names of the models.
    """
    labels = labels or {}
    beyond, floor = [], []  # edges a wider grid could move past; weight decays of 0
    for name, chosen in best.items():
        shown = labels.get(name, name)
        for key, where in grid_edges(chosen, grid).items():
            if where not in ("lowest", "highest"):
                continue
            if key == "optimizer__weight_decay" and where == "lowest" and chosen[key] == 0:
                floor.append(f"{shown}'s")
                continue
            beyond.append(f"{shown}'s {AXIS_NAMES.get(key, key)} ({chosen[key]:g}) is the grid's {where}")
    reason = "the grid's lowest by construction: no weight decay can be smaller, so the search did not stop short there"
    if not beyond:
        if floor:
            return f"Every chosen value lies inside the grid except {and_list(floor)} weight decay (0, no decay), {reason}."
        return "Every chosen value lies inside the grid, not on its edge."
    text = ("On the grid's edge: " + "; ".join(beyond) + ". A value on such an edge may mean the "
            "best value lies beyond the grid.")
    if floor:
        verb = "is" if len(floor) == 1 else "are"
        text += f" {and_list(floor)} weight decay (0, no decay) {verb} {reason}."
    return text
