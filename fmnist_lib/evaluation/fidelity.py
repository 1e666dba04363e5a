"""The search's fidelity: does its short, cheap score rank configurations the way the full
recipe does? For a few configurations per model, the search score (mean over its splits) is
set against the full-recipe validation accuracy (mean over that configuration's seeds), and
the two rankings are compared by Spearman's rank correlation with an exact permutation p-value.
"""
from __future__ import annotations

import itertools
import math
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd
from scipy.stats import rankdata

from ..models import DISPLAY_NAMES

__all__ = ["rank_correlation", "fidelity_check"]


def _pearson(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a - a.mean(), b - b.mean()
    den = math.sqrt(float((a * a).sum() * (b * b).sum()))
    return float((a * b).sum() / den) if den > 0 else float("nan")


def rank_correlation(x: Sequence[float], y: Sequence[float], groups: Sequence[Any] | None = None,
                     n_perm: int = 20000, seed: int = 0) -> dict[str, float]:
    """Spearman's rank correlation of ``x`` and ``y`` with a one-sided permutation p-value.

    Parameters
    ----------
    x, y : sequence of float, length n
    groups : sequence, length n, optional
        Rank within each group and permute within each group (a stratified test: e.g. both
        models' configurations pooled without comparing one model's scores with the other's).
    n_perm : int
        Random permutations when the exact enumeration would exceed 50,000 arrangements.

    Returns
    -------
    dict
        ``rho`` (Pearson correlation of the average ranks: Spearman's rho; with one group it
        equals ``scipy.stats.spearmanr``), ``p_value`` (share of within-group permutations of
        ``y`` whose rho is >= the observed one: H1 is a positive association), ``n``,
        ``exact`` (1.0 when every arrangement was enumerated, else 0.0).
    """
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if x.shape != y.shape or x.ndim != 1 or len(x) < 3:
        raise ValueError(f"x and y must be 1-D of the same length >= 3, got {x.shape} and {y.shape}.")
    if not (np.isfinite(x).all() and np.isfinite(y).all()):
        raise ValueError("x and y must be finite (leave failed configurations out).")
    g = np.zeros(len(x), dtype=int) if groups is None else pd.factorize(np.asarray(groups))[0]
    members = [np.flatnonzero(g == k) for k in np.unique(g)]
    rx, ry = np.empty(len(x)), np.empty(len(y))
    for m in members:
        rx[m], ry[m] = rankdata(x[m]), rankdata(y[m])
    rho = _pearson(rx, ry)
    arrangements = math.prod(math.factorial(len(m)) for m in members)
    exact = arrangements <= 50_000
    if exact:
        perms = itertools.product(*(itertools.permutations(m) for m in members))
    else:
        rng = np.random.default_rng(seed)
        perms = ([rng.permutation(m) for m in members] for _ in range(n_perm))
    count = total = 0
    for perm in perms:
        ryp = np.empty(len(y))
        for m, pm in zip(members, perm):
            ryp[m] = ry[list(pm)]
        count += _pearson(rx, ryp) >= rho - 1e-12
        total += 1
    return {"rho": rho, "p_value": count / total, "n": float(len(x)), "exact": float(exact)}


def _config_key(params: Mapping[str, Any]) -> tuple:
    return (float(params["lr"]), int(params["batch_size"]), float(params["optimizer__weight_decay"]))


def fidelity_check(tables: Mapping[str, pd.DataFrame],
                   runs: Mapping[str, Sequence[tuple[str, Mapping[str, Any], Sequence[Mapping]]]]) -> dict:
    """Search score against full-recipe validation accuracy, per model and pooled.

    Parameters
    ----------
    tables : dict
        ``{name: results table of the search}`` (``tuning.grid_search.results_table``).
    runs : dict
        ``{name: [(role, params, [run per seed]), ...]}``: each configuration's full-recipe
        runs (``history`` with ``val_acc``); a configuration listed under two roles (e.g. the
        defaults were the best) is one point, its roles joined and its runs pooled.

    Returns
    -------
    dict
        ``"table"`` (DataFrame: ``model, role, lr, weight_decay, search_rank, search_mean,
        search_sd, full_val_acc, full_val_sd, seeds``; ``full_val_sd`` is NaN for one seed) and
        ``"correlation"`` (DataFrame: ``model`` (or ``"both, within-model ranks"``), ``n``,
        ``rho``, ``p_value``, ``exact``).
    """
    rows = []
    for name, entries in runs.items():
        table = tables[name]
        merged: dict[tuple, dict] = {}
        for role, params, rs in entries:
            key = _config_key(params)
            if key in merged:
                merged[key]["roles"].append(role)
                seen = {r["seed"] for r in merged[key]["runs"]}  # the same stored run, loaded twice
                merged[key]["runs"] += [r for r in rs if r["seed"] not in seen]
            else:
                merged[key] = {"roles": [role], "runs": list(rs)}
        for (lr, bs, wd), m in merged.items():
            hit = table[(table["lr"] == lr) & (table["batch_size"] == bs) & (table["weight_decay"] == wd)]
            if len(hit) != 1:
                raise ValueError(f"{DISPLAY_NAMES.get(name, name)}: configuration lr={lr:g}, batch={bs}, "
                                 f"weight decay={wd:g} is not in the search's table (was it searched?).")
            val = np.array([float(r["history"]["val_acc"].iloc[-1]) for r in m["runs"]])
            rows.append({"model": DISPLAY_NAMES.get(name, name), "role": " = ".join(m["roles"]), "lr": lr,
                         "weight_decay": wd, "search_rank": int(hit["rank"].iloc[0]),
                         "search_mean": float(hit["mean_cv_acc"].iloc[0]),
                         "search_sd": float(hit["std_cv_acc"].iloc[0]), "full_val_acc": float(val.mean()),
                         "full_val_sd": float(val.std(ddof=1)) if len(val) > 1 else float("nan"),
                         "seeds": len(val)})
    table = pd.DataFrame(rows)
    ok = table[np.isfinite(table["search_mean"])]
    corr = []
    for model, g in ok.groupby("model", sort=False):
        if len(g) >= 3:
            corr.append({"model": model, **rank_correlation(g["search_mean"], g["full_val_acc"])})
    if ok["model"].nunique() > 1 and len(ok) >= 3:
        corr.append({"model": "both, within-model ranks",
                     **rank_correlation(ok["search_mean"], ok["full_val_acc"], groups=ok["model"])})
    correlation = pd.DataFrame(corr, columns=["model", "rho", "p_value", "n", "exact"])
    correlation["n"] = correlation["n"].astype(int)
    return {"table": table, "correlation": correlation}
