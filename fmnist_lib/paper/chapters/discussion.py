"""Chapter "Discussion": the sizes, what the cost benchmark means, the limitations."""
from __future__ import annotations

from types import SimpleNamespace

from ...config import Profile, get_profile
from ...evaluation import benchmark
from ...models import DISPLAY_NAMES
from ...pipeline import stages
from .. import evaluation_text, report, summary

__all__ = ["context"]


def context(profile: str | Profile | None = None) -> SimpleNamespace:
    """The chapter's values: ``profile`` and its sentences and shares as text."""
    p = get_profile(profile)
    S, L = DISPLAY_NAMES["simple"], DISPLAY_NAMES["lenet"]
    eff = stages.efficiency(p)
    size = eff["complexity"].set_index("model")
    ratios = benchmark.speed_ratios(eff["timings"], S, L)
    return SimpleNamespace(
        profile=p, parameter_share=report.fmt_pct(size.loc[S, "parameters"] / size.loc[L, "parameters"]),
        mac_share=report.fmt_pct(size.loc[S, "macs"] / size.loc[L, "macs"]),
        cost_note=summary.cost_clause(size.loc[S, "macs"] / size.loc[L, "macs"], ratios,
                                      evaluation_text.ratio_spread(eff["timings"], S, L)),
        grid_subset=f"{p.grid_subset:,}")
