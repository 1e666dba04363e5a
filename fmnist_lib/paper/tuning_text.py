"""The search in words: chosen values on the grid's edge, diverged configurations (the search's
computation is in ``tuning/``)."""
from __future__ import annotations

from typing import Any, Mapping

from ..tuning.search_space import AXIS_NAMES, grid_edges

__all__ = ["edge_sentence", "diverged_sentence"]


def edge_sentence(best: Mapping[str, Mapping[str, Any]], grid: Mapping[str, list[Any]],
                  labels: Mapping[str, str] | None = None) -> str:
    """One sentence naming every chosen value on the grid's edge, or saying that none is.

    A weight decay of 0 is the lowest possible value, not only the grid's, and is named as such.

    Parameters
    ----------
    best : dict
        ``{model name: chosen values}``.
    grid : dict
    labels : dict, optional
        Display names of the models.
    """
    labels = labels or {}
    parts = []
    for name, chosen in best.items():
        for key, where in grid_edges(chosen, grid).items():
            if where not in ("lowest", "highest"):
                continue
            value = f"{chosen[key]:g}"
            note = (" (no weight decay, the smallest possible value)"
                    if key == "optimizer__weight_decay" and chosen[key] == 0 else "")
            parts.append(f"{labels.get(name, name)}'s {AXIS_NAMES.get(key, key)} ({value}) is the "
                         f"grid's {where}{note}")
    if not parts:
        return "Every chosen value lies inside the grid, not on its edge."
    return ("On the grid's edge: " + "; ".join(parts) + ". A value on the edge may mean the best "
            "value lies beyond the grid.")


def diverged_sentence(n_failed: int) -> str:
    """How many grid configurations diverged, e.g. ``"No configuration diverged."``."""
    if n_failed < 0:
        raise ValueError(f"n_failed must be >= 0, got {n_failed}.")
    if n_failed == 0:
        return "No configuration diverged."
    if n_failed == 1:
        return "One configuration diverged and was scored as failed."
    return f"{n_failed} configurations diverged and were scored as failed."
