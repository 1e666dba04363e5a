"""Per-class figures and sentences that read both directions and follow the intervals: ROC
panels with both models on a log false-positive axis, per-class error differences, the
confusions each model makes more, the per-class AUC and the calibration order over seeds.

Tables come from ``evaluation.perclass``, ``evaluation.auc_bootstrap`` and
``evaluation.calibration`` (stored by the comparison stage); here they are only drawn and worded.
Differences are always LeNet-5 (``b``) minus the Simple CNN (``a``).
"""
from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from ..data import CLASSES
from ..evaluation.metrics import roc_curves_ovr
from ..models import DISPLAY_NAMES
from .report import and_list

__all__ = ["plot_roc_panels", "plot_class_errors", "class_error_sentence", "confusion_sentence",
           "auc_sentence", "calibration_seed_sentence", "pooled_seeds", "roc_figure", "class_error_figure",
           "class_error_text", "confusion_text", "auc_text", "auc_summary", "auc_summary_text", "calibration_text", "reliability_figure"]

A, B = DISPLAY_NAMES["simple"], DISPLAY_NAMES["lenet"]


def plot_roc_panels(y_true: object, probas: Mapping[str, Sequence[np.ndarray]], min_fpr: float = 1e-4) -> Figure:
    """One-vs-rest ROC of both models in each of the ten class panels, false-positive rate on a
    log axis (the curves saturate near the top-left corner on a linear one).

    Parameters
    ----------
    y_true : array-like, shape (n,)
    probas : dict
        ``{"simple": [proba (n, 10) per seed], "lenet": [...]}``: every seed is drawn (thin),
        the first seed darker; each panel gives both models' mean AUC over seeds.
    min_fpr : float
        Left end of the log axis (one negative in 9,000 is 1.1e-4).

    Returns
    -------
    Figure
        2 x 5 panels sharing both axes.
    """
    import matplotlib.pyplot as plt

    if not probas:
        raise ValueError("probas must map at least one model to its per-seed probabilities.")
    rocs = {n: [roc_curves_ovr(y_true, p) for p in ps] for n, ps in probas.items()}
    fig, axes = plt.subplots(2, 5, figsize=(7, 3.9), sharex=True, sharey=True, constrained_layout=True)
    grid = np.logspace(np.log10(min_fpr), 0, 200)
    for k, ax in enumerate(axes.flat):
        ax.plot(grid, grid, ls="--", lw=0.7, color="0.6")
        text = []
        for i, (name, curves) in enumerate(rocs.items()):
            for s, roc in enumerate(curves):
                ax.plot(np.maximum(roc[k]["fpr"], min_fpr), roc[k]["tpr"], color=f"C{i}",
                        lw=1.2 if s == 0 else 0.6, alpha=0.95 if s == 0 else 0.45,
                        label=DISPLAY_NAMES.get(name, name) if (k == 0 and s == 0) else None)
            text.append(f"{np.mean([c[k]['auc'] for c in curves]):.4f}")
        ax.set_xscale("log")
        ax.set(xlim=(min_fpr, 1), ylim=(0, 1.01))
        ax.set_title(CLASSES[k], fontsize=8)
        ax.text(0.97, 0.04, "\n".join(text), ha="right", va="bottom", fontsize=6.5, transform=ax.transAxes,
                bbox={"facecolor": "white", "alpha": 0.85, "lw": 0, "pad": 1.0},
                linespacing=1.1)
        ax.tick_params(labelsize=6.5)
        ax.grid(alpha=0.3, which="major")
    fig.supxlabel("false positive rate (log scale)", fontsize=8)
    fig.supylabel("true positive rate", fontsize=8)
    fig.legend(loc="outside upper center", ncol=len(rocs), fontsize=7.5, frameon=False,
               title="mean AUC over seeds in each panel, in this order", title_fontsize=7)
    return fig


def plot_class_errors(table: pd.DataFrame) -> Figure:
    """Per-class error rate difference (LeNet-5 minus Simple CNN) with 95 % and Bonferroni
    intervals, from :func:`fmnist_lib.evaluation.perclass.class_error_differences`."""
    import matplotlib.pyplot as plt

    n = len(table)
    fig, ax = plt.subplots(figsize=(7, 0.6 + 0.3 * n), constrained_layout=True)
    ys = np.arange(n)[::-1]
    ax.axvline(0, color="0.4", lw=0.8, ls="--")
    for yv, r in zip(ys, table.itertuples()):
        ax.plot([100 * r.low_bonf, 100 * r.high_bonf], [yv, yv], color="0.6", lw=1.0)
        ax.plot([100 * r.low, 100 * r.high], [yv, yv], color="C0", lw=3.0, solid_capstyle="butt")
        ax.plot(100 * r.difference, yv, "o", color="white", mec="C0", mew=1.4, ms=5)
    ax.set_yticks(ys, [f"{c} ({100 * a:.1f} / {100 * b:.1f} %)" for c, a, b in
                       zip(table["class"], table["error_a"], table["error_b"])], fontsize=7.5)
    ax.set_xlabel(f"error rate, {B} minus {A} (percentage points); left of 0: {B} errs less", fontsize=8)
    ax.tick_params(axis="x", labelsize=7.5)
    ax.grid(axis="x", alpha=0.3)
    ax.legend(handles=[plt.Line2D([], [], color="C0", lw=3, label="95 % CI (seeds and the class's images)"),
                       plt.Line2D([], [], color="0.6", lw=1, label=f"Bonferroni, {n} classes")],
              fontsize=7, loc="lower left", bbox_to_anchor=(0, 1.0), frameon=False, ncol=2)
    return fig


def _interval(r, scale: float = 100.0, unit: str = " pp", low: str = "low", high: str = "high",
              value: str = "difference") -> str:
    return (f"{scale * r[value]:+.1f}{unit} [{scale * r[low]:+.1f}, {scale * r[high]:+.1f}]"
            if unit else f"{r[value]:+.4f} [{r[low]:+.4f}, {r[high]:+.4f}]")


def _excludes(r, low: str = "low", high: str = "high") -> bool:
    return r[low] > 0 or r[high] < 0


def class_error_sentence(table: pd.DataFrame) -> str:
    """Where each model errs more, by class, and whether any interval excludes 0."""
    more_b = table[table["difference"] > 0].sort_values("difference", ascending=False)
    more_a = table[table["difference"] < 0].sort_values("difference")
    seeds = int(table["seeds"].iloc[0])

    def name(rows, who) -> str:
        if rows.empty:
            return f"{who} errs more on no class"
        return f"{who} errs more on " + ", ".join(f"{r['class']} ({_interval(r)})" for _, r in rows.head(3).iterrows())

    sig = table[[_excludes(r) for _, r in table.iterrows()]]
    bonf = table[[_excludes(r, "low_bonf", "high_bonf") for _, r in table.iterrows()]]
    if sig.empty:
        tail = ("no class's 95 % interval excludes 0, so these differences are within the noise of "
                f"{seeds} seeds and the test images")
    else:
        by = {who: sig[(sig["difference"] > 0) == (who == B)]["class"].tolist() for who in (B, A)}
        tail = ("the 95 % interval excludes 0 for " + " and for ".join(  # with the direction of each
                    f"{and_list(cs)} ({who} errs more)" for who, cs in by.items() if cs)
                + (f"; {len(bonf)} of them also after a Bonferroni correction for {len(table)} classes"
                   if len(bonf) else f"; none of them after a Bonferroni correction for {len(table)} classes"))
    return (f"Per class (error rate, {B} minus {A}, 95 % CI over seeds and the class's images): "
            f"{name(more_b, B)}; {name(more_a, A)}; {tail}.")


def confusion_sentence(table: pd.DataFrame, k: int = 3) -> str:
    """The confusions each model makes more often (``k`` largest each way), with intervals."""
    def part(rows, who) -> str:
        if rows.empty:
            return f"{who} makes no confusion more often"
        named = [f"{r['true']} → {r['predicted']} ({_interval(r)})" for _, r in rows.head(k).iterrows()]
        return f"{who} makes more of " + ", ".join(named)

    b_more = table[table["difference"] > 0].sort_values("difference", ascending=False)
    a_more = table[table["difference"] < 0].sort_values("difference")
    sig = [f"{r['true']} → {r['predicted']}" for _, r in table.iterrows() if _excludes(r)]  # all, not only those named
    if not sig:
        tail = ("no confusion's interval excludes 0: the two models' confusions differ within seed and "
                "test-image noise")
    else:
        from scipy.stats import binom

        chance = 0.05 * len(table)
        p_more = float(binom.sf(len(sig) - 1, len(table), 0.05))  # P(at least this many by chance)
        tail = (f"the 95 % interval excludes 0 for {len(sig)} of the {len(table)} confusions compared "
                f"({', '.join(sig)}), " + (f"about as many as chance gives ({chance:.1f} expected, P(≥ {len(sig)}) "
                f"= {p_more:.2f}), so none of them is read as a real difference" if p_more >= 0.05 else
                f"more than chance gives ({chance:.1f} expected, P(≥ {len(sig)}) = {p_more:.3f})"))
    return (f"Share of the true class sent to the wrong class, {B} minus {A} (mean over seeds, 95 % CI): "
            f"{part(b_more, B)}; {part(a_more, A)}; {tail}.")


def auc_sentence(table: pd.DataFrame) -> str:
    """Per-class AUC differences both ways, with the seed pairs that agree and the intervals
    (:func:`fmnist_lib.evaluation.auc_bootstrap.auc_differences`, ``b`` = LeNet-5)."""
    def part(rows, who) -> str:
        if rows.empty:
            return f"{who}'s AUC is higher on no class"
        return (f"{who}'s AUC is higher on " + ", ".join(
            f"{r['class']} ({abs(r['difference']):.4f}, in {int(r['pairs_b_higher']) if who == B else int(r['pairs'] - r['pairs_b_higher'])} "
            f"of {int(r['pairs'])} seed pairs)" for _, r in rows.head(3).iterrows()))

    shown = table["difference"].abs() >= 0.00005  # what rounds to 0.0000 is level, not higher
    b_up = table[shown & (table["difference"] > 0)].sort_values("difference", ascending=False)
    a_up = table[shown & (table["difference"] < 0)].sort_values("difference")
    sig = table[[_excludes(r) for _, r in table.iterrows()]]
    tail = ("no class's 95 % interval of the difference excludes 0" if sig.empty else
            f"the 95 % interval excludes 0 for {', '.join(sig['class'])} and includes it for every other class")
    if {"low_bonf", "high_bonf"} <= set(table.columns) and not sig.empty:
        bonf = [c for c, (_, r) in zip(table["class"], table.iterrows()) if _excludes(r, "low_bonf", "high_bonf")]
        tail += "; " + (f"the Bonferroni interval excludes 0 for all {len(bonf)} of them as well" if len(bonf) == len(sig)
                        else f"the Bonferroni interval excludes 0 for {len(bonf)} of them ({', '.join(bonf)})"
                        if bonf else "the Bonferroni interval includes 0 for every one of them")
    return f"{part(b_up, B)}; {part(a_up, A)}; {tail}"


def auc_summary(table: pd.DataFrame) -> str:
    """The per-class AUC result in one clause for the conclusions: the classes on which each
    model's AUC is higher with the Bonferroni interval excluding 0 (the ten classes at once)."""
    column = ("low_bonf", "high_bonf") if {"low_bonf", "high_bonf"} <= set(table.columns) else ("low", "high")
    what = "Bonferroni interval" if column[0] == "low_bonf" else "95 % interval"
    held = table[[_excludes(r, *column) for _, r in table.iterrows()]]
    b_up, a_up = held[held["difference"] > 0]["class"].tolist(), held[held["difference"] < 0]["class"].tolist()

    def names(cs):
        return cs[0] if len(cs) == 1 else ", ".join(cs[:-1]) + " and " + cs[-1]

    if not b_up and not a_up:
        return f"no class's AUC differs between the models (every {what} of the difference includes 0)"
    parts = [f"{who}'s AUC is higher on {names(cs)}" for who, cs in ((B, b_up), (A, a_up)) if cs]
    none = [f"{who}'s on none" for who, cs in ((B, b_up), (A, a_up)) if not cs]
    return f"by the {what}s of the difference, " + " and ".join(parts) + (f", {none[0]}" if none else "")


def calibration_seed_sentence(per_seed: pd.DataFrame) -> str:
    """Which model has the lower test ECE and NLL, before and after temperature scaling, in how
    many seeds (paired by index), from :func:`fmnist_lib.evaluation.calibration.calibration_by_seed`."""
    from ..evaluation.calibration import seed_order

    S = per_seed["seed"].nunique()
    means = per_seed.groupby("model")[["ECE", "ECE scaled", "NLL scaled"]].mean()
    parts = []
    for col, what in (("ECE", "ECE before scaling"), ("ECE scaled", "ECE after temperature scaling"),
                      ("NLL scaled", "NLL after scaling")):
        k = seed_order(per_seed, col, A, B)  # seeds where LeNet-5 is lower
        lead, n = (B, k) if k > S - k else (A, S - k) if k < S - k else (None, k)
        vals = f"means {A} {means.loc[A, col]:.4f}, {B} {means.loc[B, col]:.4f}"
        if lead is None:
            parts.append(f"the {what} is lower for each model in {k} of {S} seeds ({vals})")
        else:
            firm = "every seed" if n == S else f"{n} of {S} seeds"
            parts.append(f"{lead} has the lower {what} in {firm} ({vals})")
    return "; ".join(parts)


def pooled_seeds(y_true: np.ndarray, runs: Mapping[str, Sequence[np.ndarray]]) -> tuple[np.ndarray, dict]:
    """Every seed's test predictions stacked (and the labels repeated), for a reliability
    diagram over all seeds instead of one: ``(y (S * n,), {name: proba (S * n, 10)})``."""
    sizes = {len(ps) for ps in runs.values()}
    if len(sizes) != 1:
        raise ValueError(f"Every model needs the same number of seeds, got {sorted(sizes)}.")
    S = sizes.pop()
    return np.tile(np.asarray(y_true), S), {n: np.vstack(ps) for n, ps in runs.items()}


# ---------------------------------------------------------------- one call per chapter cell
# Each takes a profile (name, Profile or None) and loads what it shows from the pipeline.

def _stages():
    from ..pipeline import stages

    return stages


def _tuned_probas(profile) -> dict[str, list[np.ndarray]]:
    return {n: [r["test_proba"] for r in rs] for n, rs in _stages().final_models(profile).items()}


def roc_figure(profile=None) -> Figure:
    """:func:`plot_roc_panels` of every tuned run."""
    _, y = _stages().test_set(profile)
    return plot_roc_panels(y, _tuned_probas(profile))


def class_error_figure(profile=None) -> Figure:
    """:func:`plot_class_errors` of the comparison's per-class error differences."""
    return plot_class_errors(_stages().comparison(profile)["class_errors"])


def class_error_text(profile=None) -> str:
    return class_error_sentence(_stages().comparison(profile)["class_errors"])


def confusion_text(profile=None) -> str:
    return confusion_sentence(_stages().comparison(profile)["confusions"])


def auc_text(profile=None) -> str:
    return auc_sentence(_stages().comparison(profile)["auc"])


def auc_summary_text(profile=None) -> str:
    return auc_summary(_stages().comparison(profile)["auc"])


def calibration_text(profile=None) -> str:
    return calibration_seed_sentence(_stages().comparison(profile)["calibration_seeds"])


def reliability_figure(profile=None) -> Figure:
    """The reliability diagram of every seed's test predictions pooled, before and after
    temperature scaling (each run scaled by its own temperature)."""
    from ..evaluation.calibration import scaled_proba
    from .evaluation_plots import plot_reliability

    st = _stages()
    _, y = st.test_set(profile)
    y_val = st.val_labels(profile)
    runs = {}
    for n, rs in st.final_models(profile).items():
        runs[DISPLAY_NAMES[n]] = [r["test_proba"] for r in rs]
        runs[f"{DISPLAY_NAMES[n]}, scaled"] = [scaled_proba(y_val, r) for r in rs]
    yy, pooled = pooled_seeds(y, runs)
    return plot_reliability(yy, pooled)
