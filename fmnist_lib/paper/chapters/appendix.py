"""Chapter "Reproducibility": the profile, the stages' times and the software."""
from __future__ import annotations

from types import SimpleNamespace

from ...config import Profile, get_profile
from ...pipeline import stages
from .. import report

__all__ = ["context", "profile_table", "times_table", "environment_table"]


def context(profile: str | Profile | None = None) -> SimpleNamespace:
    """The chapter's values: ``profile`` and its seeds as text."""
    p = get_profile(profile)
    return SimpleNamespace(profile=p, seeds=", ".join(map(str, p.seeds)))


def profile_table(ch: SimpleNamespace):
    """The profile's settings."""
    return report.md(report.profile_table(ch.profile))


def times_table(ch: SimpleNamespace):
    """Each stage's training time when it was computed."""
    return report.md(stages.stage_times(ch.profile), floatfmt=".1f")


def environment_table(ch: SimpleNamespace):
    """The kernel's software and hardware."""
    return report.md(report.environment_table())
