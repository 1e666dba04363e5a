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

from .equivalence import accuracy_difference, check_pair, percentile_ci, tost_verdict

__all__ = ["smallest_margin", "ensemble_difference", "estimate_rows", "verdict_entry", "counted"]

Probas = Mapping[str, Sequence[np.ndarray]]  # {"simple": [proba (n, 10) per seed], "lenet": [...]}


def smallest_margin(low: float, high: float) -> float:
    """The margin at which the interval (low, high) would just count as equivalent: any margin
    larger than ``max(-low, high)`` contains it (TOST needs ``-margin < low`` and ``high < margin``)."""
    if low > high:
        raise ValueError(f"The interval's low end {low} exceeds its high end {high}.")
    return float(max(-low, high))


def ensemble_difference(y_true: object, probas_a: Sequence[np.ndarray], probas_b: Sequence[np.ndarray],
                        margin: float, n_boot: int = 2000, seed: int = 0) -> dict[str, float | str]:
    """Accuracy of ``b``'s seed ensemble minus ``a``'s, with intervals over seeds and test images.

    Each bootstrap replicate draws each model's seeds with replacement, independently (an
    ensemble pools its own seeds; seed i of one model is not a partner of seed i of the other:
    their accuracies are not correlated by construction), forms each model's ensemble of the
    drawn seeds (mean probabilities, a seed drawn twice counted twice), and draws one set of test
    images with replacement, shared by both models. So the
    interval holds the seeds' noise (another machine's float noise changes a run as another
    seed does), which an interval over test images alone leaves out.

    Returns
    -------
    dict
        As :func:`~fmnist_lib.evaluation.equivalence.accuracy_difference`: ``diff`` (the
        ensembles of all seeds), ``ci90_low/high``, ``ci95_low/high``, ``margin``, ``verdict``,
        ``seeds``, ``n``.
    """
    y = check_pair(y_true, probas_a, probas_b, margin)
    if n_boot < 1:
        raise ValueError(f"n_boot must be >= 1, got {n_boot}.")
    stacks = [np.stack([np.asarray(q, dtype=np.float64) for q in ps]) for ps in (probas_a, probas_b)]
    n_seeds, n = len(probas_a), len(y)

    caches: list[dict[tuple[int, ...], np.ndarray]] = [{}, {}]

    def correct(m: int, counts: np.ndarray) -> np.ndarray:  # (n,): model m's ensemble of these seed counts right?
        key = tuple(int(c) for c in counts)
        if key not in caches[m]:
            caches[m][key] = np.tensordot(counts / counts.sum(), stacks[m], axes=1).argmax(1) == y
        return caches[m][key]

    rng = np.random.default_rng(seed)
    reps = np.empty(n_boot)
    for b in range(n_boot):
        ca = correct(0, np.bincount(rng.integers(0, n_seeds, n_seeds), minlength=n_seeds))
        cb = correct(1, np.bincount(rng.integers(0, n_seeds, n_seeds), minlength=n_seeds))
        i = rng.integers(0, n, n)
        reps[b] = cb[i].mean() - ca[i].mean()
    ones = np.ones(n_seeds, dtype=np.int64)
    full = np.stack([correct(0, ones), correct(1, ones)])
    (l90, h90), (l95, h95) = percentile_ci(reps, 0.90), percentile_ci(reps, 0.95)
    return {"diff": float(full[1].mean() - full[0].mean()), "ci90_low": l90, "ci90_high": h90,
            "ci95_low": l95, "ci95_high": h95, "margin": float(margin),
            "verdict": tost_verdict(l90, h90, margin), "seeds": n_seeds, "n": n}


def estimate_rows(y: np.ndarray, estimates: Sequence[tuple[str, str, Probas]], margin: float,
                  n_boot: int, seed: int) -> pd.DataFrame:
    """One row per estimate: :func:`~fmnist_lib.evaluation.equivalence.accuracy_difference` of
    ``lenet`` minus ``simple`` (seeds paired in order), plus its smallest passing margin.

    Parameters
    ----------
    y : ndarray, shape (n,)
    estimates : list of (label, source, probas) or (label, source, probas, kind, epochs)
        ``source`` says what varies: ``"seeds and test images"`` or ``"test images"`` (one
        seed); ``probas`` as :data:`Probas`; ``kind`` ``"runs"`` (mean over seeds, the default)
        or ``"ensemble"`` (:func:`ensemble_difference`); ``epochs`` the budget (or ``None``).
    margin : float
    n_boot, seed : int

    Returns
    -------
    pandas.DataFrame
        ``estimate, source, kind, epochs, seeds, diff, ci90_low, ci90_high, ci95_low, ci95_high,
        verdict, smallest_margin``, in the order given.
    """
    rows = []
    for label, source, probas, *rest in estimates:
        kind, epochs = rest if rest else ("runs", None)
        if kind not in ("runs", "ensemble"):
            raise ValueError(f"estimate {label!r}: kind must be 'runs' or 'ensemble', got {kind!r}.")
        difference = ensemble_difference if kind == "ensemble" else accuracy_difference
        r = difference(y, probas["simple"], probas["lenet"], margin, n_boot, seed)
        rows.append({"estimate": label, "source": source, "kind": kind, "epochs": epochs,
                     "seeds": r["seeds"], "diff": r["diff"],
                     "ci90_low": r["ci90_low"], "ci90_high": r["ci90_high"], "ci95_low": r["ci95_low"],
                     "ci95_high": r["ci95_high"], "verdict": r["verdict"],
                     "smallest_margin": smallest_margin(r["ci90_low"], r["ci90_high"])})
    return pd.DataFrame(rows)


def counted(n: int, noun: str) -> str:
    """``counted(1, "seed")`` -> ``"1 seed"``, ``counted(5, "seed")`` -> ``"5 seeds"``."""
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


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
    varies = {k: "seeds and test images" if n[k] > 1 else "test images" for k in n}
    estimates = [
        (f"tuned, {counted(full, 'epoch')} ({counted(n['tuned'], 'seed')})", varies["tuned"], sets["tuned"], "runs", full),
        (f"defaults, {counted(full, 'epoch')} ({counted(n['defaults'], 'seed')})", varies["defaults"], sets["defaults"], "runs", full),
        (f"seed ensembles, tuned ({n['tuned']} seeds each)", varies["tuned"], sets["tuned"], "ensemble", full),
        (f"seed ensembles, defaults ({n['defaults']} seeds each)", varies["defaults"], sets["defaults"],
         "ensemble", full),
        (f"tuned, {counted(short, 'epoch')} ({counted(n['short'], 'seed')})", varies["short"], sets["short"], "runs", short),
        (f"tuned, {counted(check, 'epoch')} ({counted(n['check'], 'seed')})", varies["check"], sets["check"], "runs", check),
        (f"runner-up configurations, {counted(full, 'epoch')} ({counted(n['runner-up'], 'seed')})", varies["runner-up"],
         sets["runner-up"], "runs", full),
    ]
    return {"table": estimate_rows(y, estimates, margin, n_boot, seed)}
