"""Tables and figures of the grid search: heatmaps, top configurations, the chosen values.

The report's functions take ``{name: table}`` (names as in ``models.MODELS``: ``"simple"``,
``"lenet"``) and optional display names.
"""
from __future__ import annotations


import numpy as np
import pandas as pd

from ..models import DISPLAY_NAMES

__all__ = ["plot_cv_heatmaps", "top_configurations", "best_params_table", "failure_sentence",
           "NOT_LEARNED_AT_MOST"]


def _label(name: str, labels: dict[str, str] | None) -> str:
    return {**DISPLAY_NAMES, **(labels or {})}.get(name, name)


def plot_cv_heatmaps(tables: dict[str, pd.DataFrame], labels: dict[str, str] | None = None):
    """Mean CV accuracy over lr (rows) x weight decay (columns), one panel per model and batch size.

    Rows of panels are models, columns batch sizes; with a single batch size the models sit
    side by side instead (one row), so the figure is as wide as the page and short. All panels
    share one colour scale and one colour bar, spanning the configurations that learned: a
    configuration that did not (mean score at most :data:`NOT_LEARNED_AT_MOST`, chance being
    0.1 for ten balanced classes) would stretch the scale until the differences among the others
    vanish, so its cell is drawn hatched in light grey and annotated "chance" under its score.
    A diverged fit's cell is grey and annotated "failed".

    Parameters
    ----------
    tables : dict
        ``{name: DataFrame with lr, batch_size, weight_decay, mean_cv_acc, failed}``.
    labels : dict, optional
        Display names, e.g. ``{"simple": "Simple CNN"}``.

    Returns
    -------
    matplotlib.figure.Figure
    """
    import matplotlib.pyplot as plt

    if not tables:
        raise ValueError("plot_cv_heatmaps needs at least one table.")
    allt = pd.concat(tables.values())
    lrs, wds = sorted(allt["lr"].unique()), sorted(allt["weight_decay"].unique())
    batches = sorted(allt["batch_size"].unique())
    scores = allt["mean_cv_acc"].to_numpy(dtype=float)
    learned = scores[np.isfinite(scores) & (scores > NOT_LEARNED_AT_MOST)]
    finite = learned if learned.size else scores[np.isfinite(scores)]
    vmin, vmax = (finite.min(), finite.max()) if finite.size else (0.0, 1.0)
    if vmax - vmin < 1e-3:
        vmin, vmax = vmin - 5e-4, vmax + 5e-4
    side_by_side = len(batches) == 1 and len(tables) > 1
    nr, nc = (1, len(tables)) if side_by_side else (len(tables), len(batches))
    width = min(7.0, 1.4 + 2.2 * nc * max(1, len(wds)) / 3)
    fig, axes = plt.subplots(nr, nc, figsize=(width, 0.9 + 0.42 * len(lrs) * nr), squeeze=False,
                             constrained_layout=True, sharex=True, sharey=True)
    cmap = plt.get_cmap("viridis").with_extremes(bad="0.85")  # failed and chance cells in light grey
    image = None
    for r, (name, table) in enumerate(tables.items()):
        for c, bs in enumerate(batches):
            ax = axes[0, r] if side_by_side else axes[r, c]
            cell = (table[table["batch_size"] == bs]
                    .pivot_table(index="lr", columns="weight_decay", values="mean_cv_acc", dropna=False)
                    .reindex(index=lrs, columns=wds))
            values = cell.to_numpy(dtype=float)
            chance = np.isfinite(values) & (values <= NOT_LEARNED_AT_MOST) & bool(learned.size)
            image = ax.imshow(np.where(chance, np.nan, values), cmap=cmap, vmin=vmin, vmax=vmax,
                              origin="lower", aspect="auto")
            for i, lr in enumerate(lrs):
                for j, wd in enumerate(wds):
                    v = cell.loc[lr, wd]
                    if chance[i, j]:
                        ax.add_patch(plt.Rectangle((j - 0.5, i - 0.5), 1, 1, fill=False, hatch="///",
                                                   edgecolor="0.6", lw=0))
                        text = f"{v:.3f}\nchance"
                    else:
                        text = f"{v:.3f}" if np.isfinite(v) else ("failed" if _failed(table, lr, bs, wd) else "")
                    bright = np.isfinite(v) and not chance[i, j] and (v - vmin) / (vmax - vmin) > 0.6
                    ax.text(j, i, text, ha="center", va="center", fontsize=7 if chance[i, j] else 8,
                            color="black" if bright or chance[i, j] or not np.isfinite(v) else "white")
            ax.set_xticks(range(len(wds)), [f"{w:g}" for w in wds])
            ax.set_yticks(range(len(lrs)), [f"{lr:g}" for lr in lrs])
            ax.tick_params(labelsize=7)  # the paper's sizes: ticks 7, labels 8, titles 9 pt
            model = _label(name, labels)
            if side_by_side:
                ax.set_title(f"{model}, batch size {bs}", fontsize=9)
                ax.set_xlabel("weight decay", fontsize=8)
                if r == 0:
                    ax.set_ylabel("learning rate", fontsize=8)
                continue
            if r == 0:
                ax.set_title(f"batch size {bs}", fontsize=9)
            if r == nr - 1:
                ax.set_xlabel("weight decay", fontsize=8)
            if c == 0:
                ax.set_ylabel(f"{model}\nlearning rate", fontsize=8)
    bar = fig.colorbar(image, ax=axes, shrink=0.9)
    bar.set_label("mean CV accuracy", fontsize=8)
    bar.ax.tick_params(labelsize=7)
    return fig


def _failed(table: pd.DataFrame, lr: float, bs: int, wd: float) -> bool:
    row = table[(table["lr"] == lr) & (table["batch_size"] == bs) & (table["weight_decay"] == wd)]
    return bool(len(row)) and bool(row["failed"].any())


def top_configurations(tables: dict[str, pd.DataFrame], k: int = 5,
                       labels: dict[str, str] | None = None) -> pd.DataFrame:
    """The ``k`` best configurations of each model, best first (failed ones never listed).

    Returns
    -------
    pandas.DataFrame
        ``model, rank, lr, batch_size, weight_decay, mean_cv_acc, std_cv_acc``.
    """
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}.")
    cols = ["rank", "lr", "batch_size", "weight_decay", "mean_cv_acc", "std_cv_acc"]
    parts = []
    for name, table in tables.items():
        top = table[~table["failed"]].sort_values(["rank", "lr", "batch_size", "weight_decay"]).head(k)
        parts.append(top[cols].assign(model=_label(name, labels)))
    out = pd.concat(parts, ignore_index=True)
    return out[["model", *cols]]


def best_params_table(best: dict[str, dict], labels: dict[str, str] | None = None) -> pd.DataFrame:
    """The best parameters of each model side by side, one row per model.

    Parameters
    ----------
    best : dict
        ``{name: {"lr", "batch_size", "optimizer__weight_decay"}}`` from ``run_grid_search``.

    Returns
    -------
    pandas.DataFrame
        ``model, lr, batch_size, weight_decay``.
    """
    rows = [{"model": _label(name, labels), "lr": float(b["lr"]), "batch_size": int(b["batch_size"]),
             "weight_decay": float(b["optimizer__weight_decay"])} for name, b in best.items()]
    return pd.DataFrame(rows, columns=["model", "lr", "batch_size", "weight_decay"])


# A configuration whose mean search score is at most this did not learn: ten balanced classes
# give a constant prediction 0.1 on the validation split; twice that is no classifier either.
NOT_LEARNED_AT_MOST = 0.2


def failure_sentence(tables: dict[str, pd.DataFrame], labels: dict[str, str] | None = None) -> str:
    """What failed in the search: fits that diverged (a non-finite loss, scored NaN) and
    configurations that did not learn (mean score at most :data:`NOT_LEARNED_AT_MOST`, with
    chance 0.1 for ten balanced classes), named by model and learning rate.

    E.g. ``"No configuration diverged to a non-finite loss. LeNet-5 did not learn at learning
    rate 0.03: all 4 weight decays scored at most 0.100 (chance is 0.100)."``
    """
    diverged, parts = 0, []
    for name, t in tables.items():
        diverged += int(t["failed"].sum())
        scored = t[~t["failed"]]
        low = scored[scored["mean_cv_acc"] <= NOT_LEARNED_AT_MOST]
        for lr, rows in low.groupby("lr", sort=True):
            at_lr = scored[scored["lr"] == lr]
            what = (f"all {len(rows)} weight decays" if len(rows) == len(at_lr) and len(rows) > 1 else
                    f"{len(rows)} of its {len(at_lr)} configurations" if len(at_lr) > 1 else "its configuration")
            parts.append(f"{_label(name, labels)} did not learn at learning rate {lr:g}: {what} scored at "
                         f"most {rows['mean_cv_acc'].max():.3f} (chance is 0.100)")
    first = ("No configuration diverged to a non-finite loss" if diverged == 0 else
             "One configuration diverged and was scored as failed" if diverged == 1 else
             f"{diverged} configurations diverged and were scored as failed")
    if not parts:
        return f"{first}, and every configuration learned." if diverged == 0 else f"{first}."
    return f"{first}. " + "; ".join(parts) + "."
