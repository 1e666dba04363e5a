"""The paper's front (report.qmd): the abstract, the summary, the question and the conclusions."""
from __future__ import annotations

from types import SimpleNamespace

import numpy as np

from ...config import EQUIVALENCE_MARGIN, Profile, get_profile
from ...models import DISPLAY_NAMES
from ...pipeline import stages
from ...saliency.sanity import randomisation_checks
from .. import budgets, evaluation_text, perclass_plots, report, summary
from ...saliency import study
from ...saliency.agreement import CELL
from ...saliency.answer import agreement_position
from ..agreement_text import headline_answer, verdict
from ..saliency_text import MAP_LABELS, faithful_clause, randomisation_caveat

__all__ = ["context", "conclusions", "standing_clause", "headline_table", "published_table"]


def _seed_accuracies(finals: dict, y_test: np.ndarray) -> dict[str, list[float]]:
    return {n: [float((r["test_proba"].argmax(1) == y_test).mean()) for r in runs] for n, runs in finals.items()}


def _shared(p: Profile) -> dict:
    """What the summary and the conclusions both state: the size shares, the two differences, the margin."""
    eff = stages.efficiency(p)["complexity"].set_index("model")
    cmp = stages.comparison(p)
    S, L = DISPLAY_NAMES["simple"], DISPLAY_NAMES["lenet"]
    return dict(profile=p, cmp=cmp, margin=f"{100 * EQUIVALENCE_MARGIN:g}",
                parameter_share=report.fmt_pct(eff.loc[S, "parameters"] / eff.loc[L, "parameters"]),
                mac_share=report.fmt_pct(eff.loc[S, "macs"] / eff.loc[L, "macs"]),
                tuned_diff=summary.difference_ci(cmp["equivalence"]),
                default_diff=summary.difference_ci(cmp["equivalence_default"]))


def context(profile: str | Profile | None = None) -> SimpleNamespace:
    """The front's values: ``profile``, the abstract's result and the summary's sentences."""
    p = get_profile(profile)
    shared = _shared(p)
    cmp = shared["cmp"]
    finals = stages.final_models(p)
    _, y_test = stages.test_set(p)
    seed_accs = _seed_accuracies(finals, y_test)
    S, L = DISPLAY_NAMES["simple"], DISPLAY_NAMES["lenet"]
    two_conv = [acc for name, _, acc in report.PUBLISHED if name.startswith("2 conv")]
    half_width = 1.96 * (0.9 * 0.1 / len(y_test)) ** 0.5  # one model's 95 % interval at 90 % accuracy
    return SimpleNamespace(
        **shared, seed_accs=seed_accs,
        result=summary.abstract_result(cmp["equivalence"], cmp["equivalence_default"], "simple CNN", "LeNet-5"),
        standing=standing_clause({_the(DISPLAY_NAMES[n]): float(np.mean(a)) for n, a in seed_accs.items()},
                                 {_the(k): v for k, v in budgets._mean_cis(p).items()}, report.PUBLISHED),
        dependence=summary.recipe_dependence(cmp["equivalence"], cmp["equivalence_default"], S, L),
        tuning_effect=summary.tuning_summary(cmp["tuning"]),
        edge_clause=summary.edge_count_clause({n: t["params"].iloc[0] for n, t in stages.selection(p).items()},
                                              p.grid, DISPLAY_NAMES),
        overlap=summary.seed_overlap_sentence(seed_accs["simple"], seed_accs["lenet"], S, L),
        ensembles=summary.ensemble_clause(cmp["ensemble"], S, L),
        verdicts=budgets.verdict_text(p), half_width=f"{100 * half_width:.1f}",
        paired_half_width=f"{50 * (cmp['equivalence']['ci90_high'] - cmp['equivalence']['ci90_low']):.2f}",
        two_conv_low=f"{min(two_conv):.3f}", two_conv_high=f"{max(two_conv):.3f}")


def conclusions(profile: str | Profile | None = None) -> SimpleNamespace:
    """The conclusions' values: the front's shared ones, the verdict in words, the per-class summary
    and the saliency clauses."""
    p = get_profile(profile)
    shared = _shared(p)
    cmp = shared["cmp"]
    return SimpleNamespace(
        **shared, auc_summary=perclass_plots.auc_summary_text(p),
        verdict=summary.conclusion_verdict(cmp["equivalence"], cmp["equivalence_default"], "simple CNN", "LeNet-5"),
        cam_answer=_cam_answer(stages.gradcam_analysis(p)["agreement"]),
        faith_clause=faithful_clause(stages.faithfulness(p), labels=DISPLAY_NAMES),
        sanity_caveat=_sanity_caveat(p))


def _cam_answer(agreement) -> str:
    """The same-parts answer on the common grid, and on the coarser one too where a word changes
    with the grid (the answer then depends on it, and the conclusions say so)."""
    labels = {"gradcam": "Grad-CAM", "hirescam": "HiResCAM"}
    fine = headline_answer(agreement, labels=labels)
    coarse_cell = study.GRIDS[1]
    if coarse_cell not in set(agreement["cell"]):
        return fine
    words = {cell: {e: verdict(agreement_position(g.drop(columns=["explainer", "cell"])))
                    for e, g in agreement[agreement["cell"] == cell].groupby("explainer", sort=False)}
             for cell in (CELL, coarse_cell)}
    if words[CELL] == words[coarse_cell]:
        return fine
    return f"{fine}; {headline_answer(agreement, coarse_cell, labels)}, so the answer depends on the grid"


def _sanity_caveat(p: Profile) -> str:
    analysis = stages.gradcam_analysis(p)
    checks = randomisation_checks(analysis["randomisation"], analysis["randomisation_reference"])
    return randomisation_caveat(checks, {n: _the(name) for n, name in DISPLAY_NAMES.items()}, MAP_LABELS)


def standing_clause(accs: dict[str, float], cis: dict[str, tuple[float, float]],
                    published: list[tuple[str, str, float]]) -> str:
    """Where each model stands among the published entries: how many score above its 95 %
    interval (the model "scores below" them), which lie inside it (the model is "level with"
    them, and they are not counted as above it), and where it stands against the benchmark's
    MLP when that one is not among them. E.g. ``"the Simple CNN scores below 5 of the 9
    published entries and level with 2, whose accuracies (0.900 and 0.903) lie inside its 95 % CI,
    the benchmark's MLP among them; LeNet-5 scores below 5 and is above the benchmark's MLP
    (0.900)"``."""
    parts = []
    mlp = [(m, a) for m, _, a in published if m.startswith("MLP")]
    for i, (name, acc) in enumerate(accs.items()):
        low, high = cis[name]
        above = sum(a > high for _, _, a in published)
        level = [(m, a) for m, _, a in published if low <= a <= high]
        part = f"{name} scores below {above}" + (f" of the {len(published)} published entries" if i == 0 else "")
        if level:
            values = report.and_list([f"{a:.3f}" for _, a in level])
            part += (f" and level with {len(level)}, whose {'accuracies' if len(level) > 1 else 'accuracy'} "
                     f"({values}) {'lie' if len(level) > 1 else 'lies'} inside its 95 % CI"
                     + (", the benchmark's MLP among them" if mlp and mlp[0] in level and len(level) > 1 else
                        ": the benchmark's MLP" if mlp and mlp[0] in level else ""))
        if mlp and mlp[0] not in level:
            part += (f"{', and it' if level else ' and'} is {'above' if acc > mlp[0][1] else 'below'} the "
                     f"benchmark's MLP ({mlp[0][1]:.3f})")
        parts.append(part)
    return "; ".join(parts)


_the = evaluation_text.prose_name  # "the Simple CNN", "LeNet-5"


def headline_table(ch: SimpleNamespace):
    """The paper's answer in one table."""
    return report.md(report.headline_table(ch.profile))


def published_table(ch: SimpleNamespace):
    """The published Fashion-MNIST results beside this study's models (mean over seeds)."""
    ours = {f"{DISPLAY_NAMES[n]} (this study, mean of {len(a)} seeds)": float(np.mean(a))
            for n, a in ch.seed_accs.items()}
    return report.md(report.published_baselines(ours), floatfmt=".3f")
