"""The search space: validation before any fit, and where the chosen values sit in it.

A chosen value on the edge of its axis means the search may have stopped short of the best
value; the paper says so for every such value (``paper.tuning_text.edge_sentence``).
"""
from __future__ import annotations

import numbers
from typing import Any, Mapping

__all__ = ["GRID_KEYS", "AXIS_NAMES", "COLUMN_NAMES", "validate_param_grid", "grid_edges"]

GRID_KEYS = ("lr", "batch_size", "optimizer__weight_decay")
AXIS_NAMES = {"lr": "learning rate", "batch_size": "batch size", "optimizer__weight_decay": "weight decay"}
# table headers for the same axes, also under the short column names of the tuning tables
COLUMN_NAMES = {**AXIS_NAMES, "weight_decay": "weight decay"}


def validate_param_grid(grid: dict[str, list[Any]]) -> None:
    """Check a search space before any training: known keys, non-empty lists, valid values.

    Raises
    ------
    ValueError
        For an empty grid, an unknown key, an empty value list, ``lr <= 0``,
        ``batch_size`` not a positive integer, or ``optimizer__weight_decay < 0``.
    """
    if not isinstance(grid, dict) or not grid:
        raise ValueError(f"The parameter grid must be a non-empty dict with keys from {list(GRID_KEYS)}, "
                         f"got {grid!r}.")
    unknown = sorted(set(grid) - set(GRID_KEYS))
    if unknown:
        raise ValueError(f"Unknown grid key(s) {unknown}; valid keys: {list(GRID_KEYS)}.")
    rules = {"lr": ("> 0", lambda v: v > 0), "optimizer__weight_decay": (">= 0", lambda v: v >= 0),
             "batch_size": ("a positive integer", lambda v: isinstance(v, numbers.Integral) and v > 0)}
    for key, values in grid.items():
        if isinstance(values, (str, bytes)) or not hasattr(values, "__len__") or len(values) == 0:
            raise ValueError(f"Grid key {key!r} needs a non-empty list of values, got {values!r}.")
        rule, ok = rules[key]
        bad = [v for v in values if isinstance(v, bool) or not isinstance(v, numbers.Real) or not ok(v)]
        if bad:
            raise ValueError(f"Grid values {bad} for {key!r} are invalid: each must be {rule}.")


def grid_edges(best: Mapping[str, Any], grid: Mapping[str, list[Any]]) -> dict[str, str]:
    """Where each chosen value sits on its axis of ``grid``.

    Parameters
    ----------
    best : dict
        Chosen values, e.g. ``{"lr": 3e-3, "batch_size": 64, "optimizer__weight_decay": 0.0}``.
    grid : dict
        The search space.

    Returns
    -------
    dict
        ``{key: "lowest" | "highest" | "interior" | "only"}`` for every key of ``grid``
        (``"only"``: the axis has one value, so it was fixed, not searched).
    """
    out = {}
    for key, values in grid.items():
        values = sorted(values)
        if key not in best:
            raise ValueError(f"best has no value for grid key {key!r}.")
        if len(values) == 1:
            out[key] = "only"
        elif best[key] == values[0]:
            out[key] = "lowest"
        elif best[key] == values[-1]:
            out[key] = "highest"
        else:
            out[key] = "interior"
    return out
