"""Chapter "Grad-CAM": the maps shown, where they point, the sanity and faithfulness checks, and
whether the two models look at the same parts."""
from __future__ import annotations

from types import SimpleNamespace

import pandas as pd

from ...config import Profile, get_profile
from ...models import DISPLAY_NAMES
from ...pipeline import stages
from ...saliency import agreement, gradcam, occlusion, sanity, study
from .. import agreement_text, gradcam_plots, report, saliency_tables, saliency_text

__all__ = ["METHODS", "context", "classes_figure", "disagree_figure", "foreground_table",
           "randomisation_table", "faith_counts_table", "faithfulness_figure", "cells_table",
           "agreement_figure", "agreement_table"]

METHODS = {"gradcam": "Grad-CAM", "hirescam": "HiResCAM", "occlusion": "occlusion"}


def _shown(p: Profile, models: dict, X_test, y_test, preds: dict) -> tuple[dict, dict]:
    """The images the two figures show (one per class, disagreements) and every map of them."""
    picks = {"classes": gradcam_plots.pick_one_per_class(y_test, seed=p.seed),
             "disagree": gradcam_plots.pick_disagreements(preds["simple"], preds["lenet"], k=6, y_true=y_test)}
    shown = {key: {f"{n}-{m}": gradcam.compute_cams(models[n], X_test[idx], method=m)
                   for n in stages.NAMES for m in METHODS}
             for key, idx in picks.items()}
    return picks, shown


def _randomisation(analysis: dict, models: dict, checks: dict) -> tuple[str, pd.DataFrame, int]:
    """The cascade's verdict sentences (the rule against its reference), its table and the most
    images in one of its steps."""
    rand, ref = analysis["randomisation"], analysis["randomisation_reference"]
    text = " ".join(saliency_text.randomisation_verdict(
        {METHODS[m]: c for (n2, m), c in checks.items() if n2 == n}, DISPLAY_NAMES[n]) for n in stages.NAMES)
    table = saliency_tables.randomisation_display(rand, ref, {n: sanity.layer_labels(models[n]) for n in models},
                                                  METHODS)
    return text, table, int(rand.groupby(["model", "explainer", "step"]).size().max())


def context(profile: str | Profile | None = None) -> SimpleNamespace:
    """The chapter's values: ``profile``, the stored analysis, the maps shown and the sentences."""
    p = get_profile(profile)
    finals = stages.final_models(p)
    X_test, y_test = stages.test_set(p)
    models = {n: runs[0]["model"] for n, runs in finals.items()}
    preds = {n: runs[0]["test_proba"].argmax(1) for n, runs in finals.items()}
    analysis = stages.gradcam_analysis(p)
    faith = stages.faithfulness(p)
    names = {**DISPLAY_NAMES, **METHODS}
    cell = agreement.CELL
    labels = {f"{n}-{m}": f"{DISPLAY_NAMES[n]}\n{name}" for n in stages.NAMES for m, name in METHODS.items()}
    picks, shown = _shown(p, models, X_test, y_test, preds)
    checks = sanity.randomisation_checks(analysis["randomisation"], analysis["randomisation_reference"])
    rand_text, rand_table, n_rand = _randomisation(analysis, models, checks)
    answers = agreement_text.same_parts_answers(analysis["agreement"], cell, METHODS)
    coarse = study.GRIDS[1]
    return SimpleNamespace(
        profile=p, X_test=X_test, y_test=y_test, analysis=analysis, faith=faith, names=names, cell=cell,
        labels=labels, picks=picks, shown=shown, rand_table=rand_table, answers=answers, coarse=coarse,
        patch=f"{occlusion.PATCH} × {occlusion.PATCH}",
        n_passes=((28 - occlusion.PATCH) // occlusion.STRIDE + 1) ** 2,
        n_occ=f"{len(analysis['occlusion_images']):,}", n_images=f"{len(analysis['indices']):,}",
        occlusion_scope=saliency_text.occlusion_scope(len(analysis["occlusion_images"]), len(analysis["indices"])),
        zero_classes=gradcam_plots.all_zero_counts(shown["classes"], labels),
        zero_disagree=gradcam_plots.all_zero_counts(shown["disagree"], labels),
        foreground=saliency_text.foreground_sentence(analysis["foreground"], names),
        rand_text=rand_text, n_rand=n_rand,
        answers_caveat=saliency_text.answers_caveat(checks, {"simple": "the Simple CNN", "lenet": "LeNet-5"}, METHODS),
        verdicts=" ".join(saliency_text.faithfulness_verdict(faith, n, labels=DISPLAY_NAMES) for n in stages.NAMES),
        brightness=saliency_text.brightness_clause(faith, labels=DISPLAY_NAMES),
        n_faith=int(faith.loc[faith["fill"] != "road", "n"].max()),
        n_road=int(faith.loc[faith["fill"] == "road", "n"].max()),
        grid=f"{28 // cell} × {28 // cell}",
        seeds=agreement_text.seeds_phrase({DISPLAY_NAMES[n]: len(runs) for n, runs in finals.items()}),
        coarse_answer=agreement_text.headline_answer(analysis["agreement"], coarse, METHODS))


def _grid(ch: SimpleNamespace, key: str):
    idx = ch.picks[key]
    return gradcam_plots.comparison_grid(ch.X_test[idx], ch.y_test[idx], ch.shown[key], labels=ch.labels)


def classes_figure(ch: SimpleNamespace):
    """Every map of one test image per class."""
    return _grid(ch, "classes")


def disagree_figure(ch: SimpleNamespace):
    """Every map of test images where the two models disagree."""
    return _grid(ch, "disagree")


def foreground_table(ch: SimpleNamespace):
    """The maps' mass on the silhouette and on the frame."""
    return report.md(saliency_tables.foreground_display(ch.analysis["foreground"], ch.names), floatfmt=".3f")


def randomisation_table(ch: SimpleNamespace):
    """The cascading randomisation check."""
    return report.md(ch.rand_table, floatfmt=".2f")


def faith_counts_table(ch: SimpleNamespace):
    """The perturbation tests passed and failed per model and map."""
    return report.md(saliency_tables.faithfulness_counts(ch.faith, labels=DISPLAY_NAMES))


def faithfulness_figure(ch: SimpleNamespace):
    """The gap of each map's perturbation curve over a random order."""
    return gradcam_plots.plot_faithfulness(ch.faith, labels=DISPLAY_NAMES)


def cells_table(ch: SimpleNamespace):
    """Maps without enough positive cells on the common grid."""
    return report.md(saliency_tables.positive_cells_display(ch.analysis["positive_cells"], ch.cell, ch.names))


def agreement_figure(ch: SimpleNamespace):
    """Agreement within and across models against its references."""
    return gradcam_plots.plot_agreement_references(ch.analysis["agreement"], ch.cell, METHODS)


def agreement_table(ch: SimpleNamespace):
    """Agreement of maps of the same images, per explainer."""
    return report.md(saliency_tables.agreement_display(ch.analysis["agreement"], ch.cell, METHODS))
