"""Chapter "Hyperparameter tuning": the search, its candidates, the budget and tuning's effect."""
from __future__ import annotations

from types import SimpleNamespace

import pandas as pd

from ...config import CONVERGENCE_TOLERANCE, Profile, get_profile
from ...models import DISPLAY_NAMES
from ...pipeline import stages
from ...tuning import grid_search, search_space
from .. import budgets, report, tuning_plots, tuning_text
from ..summary import tuning_summary

__all__ = ["context", "grid_table", "heatmaps_figure", "top_table", "candidates_table", "best_table",
           "convergence_table", "effect_table"]


def context(profile: str | Profile | None = None) -> SimpleNamespace:
    """The chapter's values: ``profile``, the search's tables, the tuned values and the sentences."""
    p = get_profile(profile)
    tables = {n: g["table"] for n, g in stages.grid_search(p).items()}
    best = {n: t["params"].iloc[0] for n, t in stages.selection(p).items()}  # chosen at the full recipe
    effect = stages.comparison(p)["tuning"]
    return SimpleNamespace(
        profile=p, tables=tables, best=best, effect=effect,
        n_configs=len(tables["simple"]),
        diverged=tuning_plots.failure_sentence(tables, DISPLAY_NAMES),
        grid_subset=f"{p.grid_subset:,}", n_val=f"{len(stages.val_labels(p)):,}",
        edges=tuning_text.edge_sentence(best, p.grid, DISPLAY_NAMES),
        effects=f"{tuning_summary(effect)}.",
        within=f"{100 * grid_search.CANDIDATE_WITHIN:g}", min_candidates=grid_search.MIN_CANDIDATES,
        tolerance=f"{100 * CONVERGENCE_TOLERANCE:g}",
        selection=budgets.selection_text(p), fidelity=budgets.fidelity_text(p),
        convergence=budgets.convergence_text(p), overfit=budgets.overfit_text(p))


def grid_table(ch: SimpleNamespace):
    """The search space, one row per hyperparameter."""
    values = pd.DataFrame({"parameter": [search_space.COLUMN_NAMES.get(k, k) for k in ch.profile.grid],
                           "values": [", ".join(f"{v:g}" for v in vs) for vs in ch.profile.grid.values()]})
    return report.md(values)


def heatmaps_figure(ch: SimpleNamespace):
    """The search score over learning rate × weight decay, both models."""
    return tuning_plots.plot_cv_heatmaps(ch.tables, labels=DISPLAY_NAMES)


def top_table(ch: SimpleNamespace):
    """The five best configurations of each model by the search's score."""
    top = tuning_plots.top_configurations(ch.tables, k=5, labels=DISPLAY_NAMES)
    return report.md(top.rename(columns={"mean_cv_acc": "validation accuracy (mean)", "std_cv_acc": "sd over splits",
                                         **search_space.COLUMN_NAMES}))


def best_table(ch: SimpleNamespace):
    """The tuned hyperparameters of each model."""
    return report.md(tuning_plots.best_params_table(ch.best).rename(columns=search_space.COLUMN_NAMES))


def effect_table(ch: SimpleNamespace):
    """Tuned against default runs, paired by seed."""
    return report.md(ch.effect)


def candidates_table(ch: SimpleNamespace):
    """The candidates' search scores against their validation accuracy at the full recipe."""
    return report.md(budgets.fidelity_view(ch.profile))


def convergence_table(ch: SimpleNamespace):
    """Validation accuracy at the three budgets of the tuned values."""
    return report.md(budgets.convergence_view(ch.profile))
