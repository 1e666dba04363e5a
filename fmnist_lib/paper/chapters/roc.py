"""Chapter "ROC analysis": macro and micro AUCs and the per-class AUC differences."""
from __future__ import annotations

from types import SimpleNamespace

import numpy as np

from ...config import Profile, get_profile
from ...evaluation import metrics
from ...models import DISPLAY_NAMES
from ...pipeline import stages
from .. import perclass_plots, report

__all__ = ["context", "auc_table"]


def context(profile: str | Profile | None = None) -> SimpleNamespace:
    """The chapter's values: ``profile``, the per-class AUC table and the mean AUCs as text."""
    p = get_profile(profile)
    finals = stages.final_models(p)
    _, y_test = stages.test_set(p)
    mean_auc = {kind: {n: np.mean([metrics.roc_curves_ovr(y_test, r["test_proba"])[kind]["auc"] for r in runs])
                       for n, runs in finals.items()} for kind in ("macro", "micro")}
    aucs = stages.comparison(p)["auc"]
    lowest = float(aucs[[DISPLAY_NAMES["simple"], DISPLAY_NAMES["lenet"]]].min().min())
    return SimpleNamespace(
        profile=p, aucs=aucs, where=perclass_plots.auc_text(p), lowest_auc=f"{lowest:.4f}",
        **{f"{kind}_{n}": f"{mean_auc[kind][n]:.4f}" for kind in mean_auc for n in finals})


def auc_table(ch: SimpleNamespace):
    """Per-class AUCs and their differences, as a markdown table."""
    return report.md(ch.aucs.rename(columns={"low": "95 % low", "high": "95 % high", "low_bonf": "99.5 % low",
                                             "high_bonf": "99.5 % high", "pairs_b_higher": "pairs LeNet-5 higher",
                                             "pairs": "seed pairs"}), floatfmt=".5f")
