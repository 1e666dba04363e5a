"""Chapter "Data": the splits, the normalisation, the class balance and example images."""
from __future__ import annotations

from types import SimpleNamespace

from ...config import Profile, get_profile
from ...data import get_arrays, normalisation_stats
from .. import report

__all__ = ["context", "classes_table", "examples_figure"]


def context(profile: str | Profile | None = None) -> SimpleNamespace:
    """The chapter's values: ``profile``, ``splits`` and the sizes and statistics as text."""
    p = get_profile(profile)
    splits = get_arrays(val_fraction=p.val_fraction, seed=p.seed, subset=p.subset)
    mean, std = normalisation_stats()
    n_train, n_val, n_test = (len(splits[s][1]) for s in ("train", "val", "test"))
    return SimpleNamespace(profile=p, splits=splits, n_train=f"{n_train:,}", n_val=f"{n_val:,}",
                           n_test=f"{n_test:,}", mean=f"{mean:.4f}", std=f"{std:.4f}")


def classes_table(ch: SimpleNamespace):
    """Images per class in each split, as a markdown table."""
    return report.md(report.class_counts(ch.splits))


def examples_figure(ch: SimpleNamespace):
    """Six random training images of each class."""
    return report.plot_examples(*ch.splits["train"], seed=ch.profile.seed)
