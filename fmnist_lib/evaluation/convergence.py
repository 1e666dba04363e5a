"""Has the budget converged? The criterion of the paper, computed from the stored runs.

With a cosine schedule the recipe for E epochs is not the first E epochs of a longer run, and
its last epochs are the annealing, which always adds accuracy; so a run's own curve cannot show
a plateau. The criterion compares recipes instead: the budget of E epochs is converged when
the recipe of ``check`` epochs (twice as long, its own schedule) raises the final validation
accuracy, paired by seed, by less than ``tolerance``. The within-run gain of the last quarter
of the epochs is reported beside it, for readers who expect that criterion.
"""
from __future__ import annotations

import math
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from ..models import DISPLAY_NAMES

__all__ = ["final_val", "convergence_table"]


def final_val(run: Mapping) -> float:
    """Validation accuracy after the run's last epoch."""
    return float(run["history"]["val_acc"].iloc[-1])


def _last_quarter_gain(run: Mapping) -> float:
    acc = run["history"]["val_acc"].to_numpy()
    start = math.ceil(0.75 * len(acc))  # the last quarter's first epoch is start + 1 (1-based)
    return float(acc[-1] - acc[start - 1]) if start >= 1 else float("nan")


def convergence_table(full: Mapping[str, Sequence[Mapping]], check: Mapping[str, Sequence[Mapping]],
                      short: Mapping[str, Sequence[Mapping]], tolerance: float) -> pd.DataFrame:
    """Per model: the three budgets' validation accuracy and the convergence verdict.

    Parameters
    ----------
    full, check, short : dict
        ``{name: [run per seed]}`` for the budget under test, the longer check (its seeds a
        prefix of ``full``'s, or any seeds found in ``full``) and the short budget.
    tolerance : float
        Largest gain of the check over the budget that still counts as converged (0.002:
        0.2 percentage points).

    Returns
    -------
    pandas.DataFrame
        ``model, epochs, val_acc, val_sd`` (the budget's mean and sd over seeds), ``short_epochs,
        short_val_acc``, ``check_epochs, check_val_acc`` (mean over the check's seeds),
        ``check_seeds``, ``gain`` (check minus budget, the same seeds), ``last_quarter_gain``
        (within the budget's runs, mean over seeds), ``converged`` (``gain < tolerance``).
    """
    if tolerance <= 0:
        raise ValueError(f"tolerance must be > 0, got {tolerance}.")
    rows = []
    for name, runs in full.items():
        by_seed = {r["seed"]: r for r in runs}
        missing = [r["seed"] for r in check[name] if r["seed"] not in by_seed]
        if missing:
            raise ValueError(f"{DISPLAY_NAMES.get(name, name)}: check runs with seeds {missing} have no run of "
                             f"the budget under test to pair with.")
        vals = np.array([final_val(r) for r in runs])
        gains = [final_val(c) - final_val(by_seed[c["seed"]]) for c in check[name]]
        gain = float(np.mean(gains))
        rows.append({"model": DISPLAY_NAMES.get(name, name), "epochs": len(runs[0]["history"]),
                     "val_acc": float(vals.mean()), "val_sd": float(vals.std(ddof=1)) if len(vals) > 1 else float("nan"),
                     "short_epochs": len(short[name][0]["history"]),
                     "short_val_acc": float(np.mean([final_val(r) for r in short[name]])),
                     "check_epochs": len(check[name][0]["history"]),
                     "check_val_acc": float(np.mean([final_val(r) for r in check[name]])),
                     "check_seeds": len(check[name]), "gain": gain,
                     "last_quarter_gain": float(np.mean([_last_quarter_gain(r) for r in runs])),
                     "converged": bool(gain < tolerance)})
    return pd.DataFrame(rows)
