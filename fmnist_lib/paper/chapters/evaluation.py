"""Chapter "Evaluation": accuracy, equivalence, paired tests, per-class errors, calibration, cost."""
from __future__ import annotations

from types import SimpleNamespace

from ...config import EQUIVALENCE_MARGIN, Profile, get_profile
from ... import fused
from ...evaluation import benchmark, equivalence, metrics
from ...models import DISPLAY_NAMES
from ...pipeline import stages
from .. import budgets, evaluation_plots, evaluation_text, perclass_plots, report

__all__ = ["context", "mcnemar_table", "classification_table", "verdicts_table", "confusion_figure", "efficiency_table", "mistakes_figure"]


def context(profile: str | Profile | None = None) -> SimpleNamespace:
    """The chapter's values: ``profile``, the comparison, the seed ensembles and the sentences."""
    p = get_profile(profile)
    finals = stages.final_models(p)
    X_test, y_test = stages.test_set(p)
    c = stages.comparison(p)
    S, L = DISPLAY_NAMES["simple"], DISPLAY_NAMES["lenet"]
    ens = {n: equivalence.ensemble_proba([r["test_proba"] for r in runs]) for n, runs in finals.items()}
    eff = stages.efficiency(p)
    return SimpleNamespace(
        profile=p, c=c, X_test=X_test, y_test=y_test, ens=ens, eff=eff,
        ens_preds={DISPLAY_NAMES[n]: pr.argmax(1) for n, pr in ens.items()},
        margin=f"{100 * EQUIVALENCE_MARGIN:g}", margin_text=budgets.margin_text(p),
        tost=evaluation_text.equivalence_sentence(c["equivalence"], S, L),
        ensemble=evaluation_text.equivalence_sentence(c["ensemble"], f"the {S} ensemble", f"the {L} ensemble",
                                                      subject="the seed ensembles"),
        mcnemar=evaluation_text.mcnemar_sentence(c["mcnemar"]),
        confusion=perclass_plots.confusion_text(p), class_errors=perclass_plots.class_error_text(p),
        standing=budgets.standing_text(p),
        size_lenet=f"{int(eff['complexity'].set_index('model').loc[L, 'parameters']):,}",
        calibration=perclass_plots.calibration_text(p),
        train_batch=benchmark.BENCH["train_batch"], infer_batch=benchmark.BENCH["infer_batch"],
        kernels=("the study's fused CPU kernels (each convolution, its ReLU and its pooling in one "
                 "pass; module fmnist_lib.fused)" if fused.backend() == "fused" else
                 "PyTorch's own kernels (the study's fused ones were not available)"),
        inference="inference was timed at one batch size" + (
            f", where {clause}" if (clause := evaluation_text.inference_clause(eff["summary"], fused.backend())) else ""),
        speed=evaluation_text.speed_sentence(benchmark.speed_ratios(eff["timings"], S, L), S, L,
                                             evaluation_text.ratio_spread(eff["timings"], S, L)))


def classification_table(ch: SimpleNamespace):
    """Per-class precision, recall and F1 of both seed ensembles."""
    return report.md(metrics.classification_table(ch.y_test, ch.ens_preds).drop(index="accuracy"), index=True)


def confusion_figure(ch: SimpleNamespace):
    """Both seed ensembles' confusion matrices and their difference."""
    return evaluation_plots.plot_confusion_matrices(ch.y_test, ch.ens_preds)


def efficiency_table(ch: SimpleNamespace):
    """Size and measured speed of both models."""
    return report.md(evaluation_text.cost_table(ch.eff["complexity"], ch.eff["summary"]))


def mistakes_figure(ch: SimpleNamespace):
    """The most confident mistakes of each seed ensemble."""
    return evaluation_plots.plot_confident_mistakes(ch.X_test, ch.y_test,
                                                    {DISPLAY_NAMES[n]: pr for n, pr in ch.ens.items()}, k=6)


def mcnemar_table(ch: SimpleNamespace):
    """McNemar's test for every pair of tuned runs across the models."""
    return report.md(report.mcnemar_table(ch.c["mcnemar"]))


def verdicts_table(ch: SimpleNamespace):
    """Every estimate of the difference with its verdict."""
    return report.md(budgets.verdict_view(ch.profile))
