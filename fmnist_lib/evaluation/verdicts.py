"""The verdict across budgets and sources of variation: every estimate of LeNet-5 minus the
Simple CNN, each with its bootstrap intervals and TOST verdict, in one table.

An answer that holds only for one budget, one configuration or one way of averaging seeds is
not an answer; this table puts the estimates side by side so the paper can say which verdicts
agree (``paper.verdicts``). ``pipeline.stages.verdicts`` stores it.
"""
from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from .equivalence import accuracy_difference, ensemble_proba

__all__ = ["smallest_margin", "estimate_rows", "verdict_entry"]

Probas = Mapping[str, Sequence[np.ndarray]]  # {"simple": [proba (n, 10) per seed], "lenet": [...]}


def smallest_margin(low: float, high: float) -> float:
    """The margin at which the interval (low, high) would just count as equivalent: any margin
    larger than ``max(-low, high)`` contains it (TOST needs ``-margin < low`` and ``high < margin``)."""
    if low > high:
        raise ValueError(f"The interval's low end {low} exceeds its high end {high}.")
    return float(max(-low, high))


def estimate_rows(y: np.ndarray, estimates: Sequence[tuple[str, str, Probas]], margin: float,
                  n_boot: int, seed: int) -> pd.DataFrame:
    """One row per estimate: :func:`~fmnist_lib.evaluation.equivalence.accuracy_difference` of
    ``lenet`` minus ``simple`` (seeds paired in order), plus its smallest passing margin.

    Parameters
    ----------
    y : ndarray, shape (n,)
    estimates : list of (label, source, probas)
        ``source`` says what varies: ``"seeds and test images"`` or ``"test images"`` (one
        seed or an ensemble); ``probas`` as :data:`Probas`.
    margin : float
    n_boot, seed : int

    Returns
    -------
    pandas.DataFrame
        ``estimate, source, seeds, diff, ci90_low, ci90_high, ci95_low, ci95_high, verdict,
        smallest_margin``, in the order given.
    """
    rows = []
    for label, source, probas in estimates:
        r = accuracy_difference(y, probas["simple"], probas["lenet"], margin, n_boot, seed)
        rows.append({"estimate": label, "source": source, "seeds": r["seeds"], "diff": r["diff"],
                     "ci90_low": r["ci90_low"], "ci90_high": r["ci90_high"], "ci95_low": r["ci95_low"],
                     "ci95_high": r["ci95_high"], "verdict": r["verdict"],
                     "smallest_margin": smallest_margin(r["ci90_low"], r["ci90_high"])})
    return pd.DataFrame(rows)


def _seeds(n: int) -> str:
    return "1 seed" if n == 1 else f"{n} seeds"


def _epochs(n: int) -> str:
    return "1 epoch" if n == 1 else f"{n} epochs"


def verdict_entry(y: np.ndarray, sets: Mapping[str, Probas], epochs: Mapping[str, int], margin: float,
                  n_boot: int, seed: int) -> dict[str, pd.DataFrame]:
    """The verdicts stage's items: ``{"table": estimate_rows(...)}`` for the study's estimates.

    Parameters
    ----------
    sets : dict
        ``"tuned"``, ``"defaults"`` (the full budget), ``"short"`` (tuned, short budget),
        ``"check"`` (tuned, the convergence check's budget) and ``"runner-up"``, each
        :data:`Probas`.
    epochs : dict
        ``{"full", "short", "check"}``: the budgets, for the labels.
    """
    full, short, check = epochs["full"], epochs["short"], epochs["check"]
    n = {k: len(v["simple"]) for k, v in sets.items()}
    ens = {k: {m: [ensemble_proba(ps)] for m, ps in sets[k].items()} for k in ("tuned", "defaults")}
    estimates = [
        (f"tuned, {_epochs(full)} ({_seeds(n['tuned'])})", "seeds and test images", sets["tuned"]),
        (f"defaults, {_epochs(full)} ({_seeds(n['defaults'])})", "seeds and test images", sets["defaults"]),
        (f"seed ensembles, tuned ({n['tuned']} seeds each)", "test images", ens["tuned"]),
        (f"seed ensembles, defaults ({n['defaults']} seeds each)", "test images", ens["defaults"]),
        (f"tuned, {_epochs(short)} ({_seeds(n['short'])})", "seeds and test images", sets["short"]),
        (f"tuned, {_epochs(check)} ({_seeds(n['check'])})",
         "seeds and test images" if n["check"] > 1 else "test images", sets["check"]),
        (f"runner-up configurations, {_epochs(full)} ({_seeds(n['runner-up'])})",
         "seeds and test images" if n["runner-up"] > 1 else "test images", sets["runner-up"]),
    ]
    return {"table": estimate_rows(y, estimates, margin, n_boot, seed)}
