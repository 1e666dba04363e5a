"""Chapter "Baseline": both models trained with the shared defaults."""
from __future__ import annotations

from types import SimpleNamespace

from ...config import Profile, get_profile
from ...models import DISPLAY_NAMES
from ...pipeline import stages
from ..training_plots import plot_learning_curves
from .. import report
from ..evaluation_text import equivalence_sentence, runs_table

__all__ = ["context", "curves_figure", "results_table"]


def context(profile: str | Profile | None = None) -> SimpleNamespace:
    """The chapter's values: ``profile``, the baseline runs and the recipe and its verdict in words."""
    p = get_profile(profile)
    schedule = "a cosine learning-rate schedule" if p.final_schedule == "cosine" else "a constant learning rate"
    return SimpleNamespace(
        profile=p, base=stages.baseline_results(p), y_test=stages.test_set(p)[1], schedule=schedule,
        seeds=", ".join(map(str, p.seeds)),
        default_gap=equivalence_sentence(stages.comparison(p)["equivalence_default"], "the Simple CNN", "LeNet-5"))


def curves_figure(ch: SimpleNamespace):
    """The first seed's learning curves of both models."""
    fig = plot_learning_curves({n: runs[0]["history"] for n, runs in ch.base.items()}, labels=DISPLAY_NAMES)
    return report.letter(fig)


def results_table(ch: SimpleNamespace):
    """The baseline runs over all seeds, as a markdown table."""
    return report.md(runs_table(ch.base, ch.y_test))
