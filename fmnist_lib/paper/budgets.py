"""The verdict across budgets, the convergence criterion, the search's fidelity and the margin:
figures, tables and sentences (results computed by ``evaluation.verdicts``,
``evaluation.convergence`` and ``evaluation.fidelity``).
"""
from __future__ import annotations

import math
import re
from typing import Mapping, Sequence

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from ..evaluation.verdicts import counted
from ..models import DISPLAY_NAMES
from .report import and_list
from .saliency_text import near

__all__ = ["plot_verdicts", "verdicts_sentence", "verdicts_table", "plot_accuracy_by_epoch",
           "convergence_sentence", "convergence_display", "fidelity_display", "plot_fidelity",
           "fidelity_sentence", "margin_sentence", "standing_sentence", "verdict_figure", "verdict_view",
           "verdict_text", "epoch_figure", "convergence_view", "convergence_text", "fidelity_view",
           "fidelity_figure", "fidelity_text", "margin_text", "standing_text", "selection_text",
           "overfit_sentence", "overfit_text"]

ORDER = ("simple", "lenet")


def _pp(x: float) -> str:
    return f"{100 * x:+.2f}"


def plot_verdicts(table: pd.DataFrame, margin: float) -> Figure:
    """Every estimate of LeNet-5 minus the Simple CNN against the margin band.

    Parameters
    ----------
    table : DataFrame
        :func:`fmnist_lib.evaluation.verdicts.estimate_rows` (first row: the headline).
    margin : float

    Returns
    -------
    Figure
        One row per estimate, top to bottom in table order: the point, its 90 % interval
        (thick, the TOST interval) and 95 % interval (thin), the ±margin band shaded, 0 dashed;
        each row's verdict printed at the right.
    """
    import matplotlib.pyplot as plt

    if table.empty:
        raise ValueError("plot_verdicts needs at least one estimate.")
    n = len(table)
    fig, ax = plt.subplots(figsize=(7, 0.5 + 0.42 * n), constrained_layout=True)
    ax.axvspan(-100 * margin, 100 * margin, color="0.88", zorder=0, label=f"±{100 * margin:g} pp margin")
    ax.axvline(0, color="0.4", lw=0.8, ls="--", zorder=1)
    colours = {"equivalent": "C2", "inconclusive": "C1", "different": "C3"}
    ys = np.arange(n)[::-1]
    for yv, r in zip(ys, table.itertuples()):
        c = colours[r.verdict]
        ax.plot([100 * r.ci95_low, 100 * r.ci95_high], [yv, yv], color=c, lw=1.0, zorder=2)
        ax.plot([100 * r.ci90_low, 100 * r.ci90_high], [yv, yv], color=c, lw=3.2, zorder=3,
                solid_capstyle="butt")
        ax.plot(100 * r.diff, yv, "o", color="white", mec=c, mew=1.5, ms=5.5, zorder=4)
    ax.set_yticks(ys, table["estimate"], fontsize=7.5)
    lo = min(-100 * margin, 100 * table["ci95_low"].min())
    hi = max(100 * margin, 100 * table["ci95_high"].max())
    pad = 0.08 * (hi - lo)
    ax.set_xlim(lo - pad, hi + pad)
    ax.set_ylim(-0.6, n - 0.4)
    trans = ax.get_yaxis_transform()
    for yv, v in zip(ys, table["verdict"]):
        ax.text(1.01, yv, v, transform=trans, va="center", fontsize=7.5, color=colours[v])
    ax.set_xlabel("LeNet-5 minus Simple CNN, test accuracy (percentage points)", fontsize=8)
    ax.tick_params(axis="x", labelsize=7.5)
    ax.grid(axis="x", alpha=0.3)
    ax.legend(loc="lower left", bbox_to_anchor=(0, 1.0), fontsize=7, frameon=False, ncol=3,
              handles=[plt.Rectangle((0, 0), 1, 1, color="0.88", label=f"±{100 * margin:g} pp margin"),
                       plt.Line2D([], [], color="0.3", lw=3.2, label="90 % CI (TOST)"),
                       plt.Line2D([], [], color="0.3", lw=1.0, label="95 % CI")])
    return fig


def verdicts_table(table: pd.DataFrame) -> pd.DataFrame:
    """The estimates as a table for the page: difference and 90 % CI in percentage points,
    the verdict and the smallest margin each would pass, formatted."""
    return pd.DataFrame({
        "estimate": table["estimate"], "varies": table["source"],
        "difference (pp)": table["diff"].map(_pp),
        "90 % CI (pp)": [f"[{_pp(lo)}, {_pp(hi)}]" for lo, hi in zip(table["ci90_low"], table["ci90_high"])],
        "verdict": table["verdict"],
        "smallest margin (pp)": table["smallest_margin"].map(lambda m: f"{100 * m:.2f}"),
    })


def verdicts_sentence(table: pd.DataFrame, margin: float, repeats: Mapping[str, str] | None = None) -> str:
    """Which verdicts hold: the headline's (first row) and which estimates share it.

    E.g. ``"The headline estimate (tuned, 10 epochs, 5 seeds) is inconclusive ...; 5 of the other
    6 estimates agree; tuned, 4 epochs, 5 seeds is equivalent ([+0.07, +0.76] pp), but its 95 %
    interval ... reaches 0 ..."``. An estimate's label is set inline (:func:`_inline`), so no
    parenthesis opens inside another. What an equivalent estimate means is said with it: a
    difference inside the margin that is detectable (95 % interval excluding 0), or one whose
    95 % interval reaches 0, where not even which model is ahead is resolved. ``repeats`` maps
    the label of an estimate whose runs are another estimate's (the runner-up where it is the
    defaults) to why: it is not counted among those that agree or differ, and the why is said.
    """
    if table.empty:
        raise ValueError("verdicts_sentence needs at least one estimate.")
    head = table.iloc[0]
    repeats = dict(repeats or {})
    rest = table.iloc[1:]
    rest = rest[~rest["estimate"].isin(list(repeats))]
    agree = rest[rest["verdict"] == head["verdict"]]
    differ = rest[rest["verdict"] != head["verdict"]]
    text = (f"The headline estimate ({_inline(head['estimate'])}) is {head['verdict']} at the ±{100 * margin:g} pp "
            f"margin (90 % CI [{_pp(head['ci90_low'])}, {_pp(head['ci90_high'])}] pp){_meaning(head)}")
    if rest.empty and not repeats:
        return text + "."
    if differ.empty and not rest.empty:
        text += "; the other estimate agrees" if len(rest) == 1 else f"; all {len(rest)} other estimates agree"
    elif not differ.empty:
        text += f"; {len(agree)} of the other {len(rest)} estimates agree"
        text += "; " + "; ".join(f"{_inline(r['estimate'])} is {r['verdict']} ([{_pp(r['ci90_low'])}, "
                                  f"{_pp(r['ci90_high'])}] pp){_meaning(r)}" for _, r in differ.iterrows())
    for label, why in repeats.items():
        if label in set(table["estimate"]):
            text += f" ({_inline(label)} is not counted: {why})"
    signs = np.sign(table["diff"].to_numpy())
    if (signs > 0).all() or (signs < 0).all():
        ahead = "LeNet-5" if signs[0] > 0 else "the Simple CNN"
        text += f". Every point estimate has {ahead} ahead"
    else:
        text += (f". The point estimates change sign ({int((signs > 0).sum())} with LeNet-5 ahead, "
                 f"{int((signs < 0).sum())} with the Simple CNN ahead)")
    far = table.loc[table["smallest_margin"].idxmax()]
    text += (f"; the interval reaching farthest from no difference ({_inline(far['estimate'])}) would pass a "
             f"margin of ±{100 * far['smallest_margin']:.2f} pp")
    if {"kind", "epochs"} <= set(table.columns):
        tuned = table[(table["kind"] == "runs") & table["estimate"].str.startswith("tuned")]
        tuned = tuned.dropna(subset=["epochs"]).sort_values("epochs")
        if len(tuned) >= 3:
            values = ", ".join(f"{_pp(r['diff'])} pp at {int(r['epochs'])} epochs ({counted(int(r['seeds']), 'seed')})"
                               for _, r in tuned.iterrows())
            if tuned["ci90_low"].max() <= tuned["ci90_high"].min():  # one value lies in every interval
                text += (f". Over the budgets of the tuned values the difference is {values}; their 90 % "
                         "intervals overlap, so the budgets do not differ at this resolution")
            else:
                steps = np.diff(tuned["diff"].to_numpy())
                shape = ("grows with the budget" if (steps > 0).all() else "shrinks with the budget"
                         if (steps < 0).all() else "is not monotone in the budget")
                text += (". Over the budgets of the tuned values the difference " + shape + ": " + values
                         + " (not all of their 90 % intervals overlap)")
            if tuned["seeds"].nunique() > 1:
                text += "; the estimates rest on different numbers of seeds"
    return text + "."


def _inline(label: str) -> str:
    """An estimate's label for running text inside parentheses: its own parenthesis becomes a
    comma ("tuned, 10 epochs (5 seeds)" -> "tuned, 10 epochs, 5 seeds"), so none nests."""
    return re.sub(r"\s*\(([^()]*)\)", r", \1", label)


def _meaning(row) -> str:
    """What an equivalent verdict says, where the table has the 95 % interval: a detectable
    difference inside the margin, or an interval that reaches 0 (which model is ahead is not
    resolved). Other verdicts need no gloss: the question's section defines them."""
    if row["verdict"] != "equivalent" or "ci95_low" not in row:
        return ""
    lo, hi = row["ci95_low"], row["ci95_high"]
    if lo > 0 or hi < 0:
        return (f": the models differ detectably (95 % interval [{_pp(lo)}, {_pp(hi)}] pp), but by less "
                "than the margin")
    # to as many digits as keep each end on its side of 0 (never "-0.00" for -0.0002)
    return (f": the models lie within the margin of each other, but its 95 % interval, "
            f"[{near(100 * lo, (0,), True)}, {near(100 * hi, (0,), True)}] pp, reaches 0, so which of them "
            "is ahead is not resolved")


def plot_accuracy_by_epoch(full: Mapping[str, Sequence[Mapping]], check: Mapping[str, Sequence[Mapping]],
                           short: Mapping[str, Sequence[Mapping]], metric: str = "test_acc") -> Figure:
    """Accuracy after every epoch of the three budgets' recipes, one panel per model.

    Parameters
    ----------
    full, check, short : dict
        ``{name: [run per seed]}`` (histories with ``metric`` per epoch): the budget of the
        comparison (mean line and min-max band over seeds), the convergence check (dashed, per
        seed) and the short budget (its own runs: mean and min-max band, dotted).
    metric : {"test_acc", "val_acc"}

    Returns
    -------
    Figure
        Two panels sharing the y axis; each recipe on its own schedule, so a curve shows where
        that recipe stands after each of its epochs.
    """
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    names = [n for n in ORDER if n in full]
    fig, axes = plt.subplots(1, len(names), figsize=(7, 2.9), sharey=True, constrained_layout=True,
                             squeeze=False)
    what = {"test_acc": "test accuracy", "val_acc": "validation accuracy"}[metric]
    for ax, name in zip(axes[0], names):
        for runs, style, colour in ((short[name], ":", "C1"), (full[name], "-", "C0")):
            curves = np.array([r["history"][metric].to_numpy() for r in runs])  # (S, epochs)
            ep = np.arange(1, curves.shape[1] + 1)
            ax.fill_between(ep, curves.min(0), curves.max(0), color=colour, alpha=0.22, lw=0)
            ax.plot(ep, curves.mean(0), ls=style, color=colour, lw=1.6, marker="o", ms=2.5,
                    label=f"{curves.shape[1]} epoch{'s' if curves.shape[1] > 1 else ''}, mean and range of "
                          f"{len(runs)} seeds")
        for i, r in enumerate(check[name]):
            h = r["history"]
            ax.plot(h["epoch"], h[metric], ls="--", color="C3", lw=1.1,
                    label=f"{len(h)} epochs, seed {r['seed']}" if i == 0 else None)
        ax.set_title(DISPLAY_NAMES.get(name, name), fontsize=9)
        ax.set_xlabel("epoch", fontsize=8)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.tick_params(labelsize=7.5)
        ax.grid(alpha=0.3)
    axes[0, 0].set_ylabel(what, fontsize=8)
    lows = [np.min([r["history"][metric].to_numpy()[min(2, len(r["history"]) - 1):].min() for r in runs])
            for d in (full, check, short) for runs in d.values()]
    axes[0, 0].set_ylim(bottom=max(0.0, min(lows) - 0.005))
    axes[0, -1].legend(fontsize=6.5, loc="lower right")
    return fig


def convergence_display(table: pd.DataFrame) -> pd.DataFrame:
    """:func:`fmnist_lib.evaluation.convergence.convergence_table`, formatted for the page."""
    return pd.DataFrame({
        "model": table["model"],
        "short budget, val accuracy": [f"{a:.4f} ({e} epoch{'s' if e > 1 else ''})" for a, e in zip(table["short_val_acc"], table["short_epochs"])],
        "budget, val accuracy (mean ± sd)": [f"{a:.4f} ± {s:.4f} ({e} epochs)" for a, s, e in
                                             zip(table["val_acc"], table["val_sd"], table["epochs"])],
        "doubled, val accuracy": [f"{a:.4f} ({e} epochs, {k} seed{'s' if k > 1 else ''})" for a, e, k in
                                  zip(table["check_val_acc"], table["check_epochs"], table["check_seeds"])],
        "gain from doubling (pp)": table["gain"].map(_pp),
        "last quarter's gain within the run (pp)": table["last_quarter_gain"].map(_pp),
    })


def convergence_sentence(table: pd.DataFrame, tolerance: float) -> str:
    """The convergence criterion applied: the gain from doubling per model, signed, the verdict,
    and what the check can resolve given its seeds and the seed noise.

    The check runs on the last seeds (``pipeline.stages.check_runs``), not on the first, whose
    run of the budget is the candidate the selection chose.
    """
    parts = [f"{r['model']} {_pp(r['gain'])} pp" for _, r in table.iterrows()]
    ok = table[table["converged"]]
    seeds = int(table["check_seeds"].iloc[0])
    which = "the last seed" if seeds == 1 else f"the last {seeds} seeds"
    what = (f"Doubling the budget from {table['epochs'].iloc[0]} to {table['check_epochs'].iloc[0]} epochs "
            f"(its own cosine schedule, on {which}, each paired with the same seed's run of the budget; "
            f"the first seed's run is the one the selection chose) changes the final validation accuracy by "
            f"{and_list(parts)}")
    sd = ", ".join(f"{r['model']} {100 * r['val_sd']:.2f} pp" for _, r in table.iterrows())
    lower = table[table["gain"] < 0]["model"].tolist()
    noise = table["val_sd"] * math.sqrt(2 / seeds)  # sd of a difference of two means of `seeds` runs
    over = table.loc[2 * noise > tolerance, "model"].tolist()  # ~95 % half-width beyond the tolerance
    noisy = bool(over)
    if len(ok) == len(table):
        verdict = ((f"no gain is detected (no model gains {100 * tolerance:.1f} pp or more)" if noisy else
                    f"no model gains {100 * tolerance:.1f} pp or more, the criterion, so the budget has converged")
                   + (f"; the doubled recipe ends lower for {and_list(lower)}" if lower else ""))
    elif ok.empty:
        verdict = f"at least {100 * tolerance:.1f} pp for every model: the budget has not converged"
    else:
        verdict = (f"a gain below the {100 * tolerance:.1f} pp criterion for {and_list(ok['model'])} only; "
                   f"{and_list(table.loc[~table['converged'], 'model'])} has not converged")
    pairs = "two single runs" if seeds == 1 else f"two means of {seeds} runs"
    spread = ", ".join(f"{m} {100 * v:.2f} pp" for m, v in zip(table["model"], noise))
    whom = "" if len(over) in (0, len(table)) else f" for {and_list(over)}"
    caveat = (f" The check has {counted(seeds, 'seed')}: with the budget's seed sd of validation accuracy "
              f"({sd}), a difference between {pairs} has an sd of about {spread}, and twice that exceeds the "
              f"{100 * tolerance:.1f} pp it tests{whom}: it shows that doubling brings no gain of the size of "
              f"the seed noise, and cannot resolve one of {100 * tolerance:.1f} pp." if noisy else
              f" (For scale, the seed sd: {sd}; a difference between {pairs} has an sd of about {spread}.)")
    return f"{what}: {verdict}.{caveat}"


def overfit_sentence(check: Mapping[str, Sequence[Mapping]]) -> str:
    """What the doubled budget's runs show of overfitting, per model: the epoch of the lowest
    validation loss, how much it rose after it and the final training accuracy (mean over the
    check's seeds where there are several)."""
    parts = []
    for name, runs in check.items():
        h = [r["history"] for r in runs]
        best = [int(x["val_loss"].to_numpy().argmin()) + 1 for x in h]
        rise = float(np.mean([x["val_loss"].iloc[-1] - x["val_loss"].min() for x in h]))
        train = float(np.mean([x["train_acc"].iloc[-1] for x in h]))
        epochs = len(h[0])
        where = (f"lowest at epoch {best[0]} of {epochs}" if len(best) == 1 else
                 f"lowest at epochs {', '.join(map(str, best))} of {epochs}")
        trend = (f"then rises by {rise:.3f} to the end" if rise > 0 else "still falling at the end")
        parts.append(f"{DISPLAY_NAMES.get(name, name)}'s validation loss is {where}, {trend}, at a final "
                     f"training accuracy of {train:.3f}")
    return "; ".join(parts)


def fidelity_display(result: Mapping) -> pd.DataFrame:
    """The fidelity check's points for the page: role, values, search score (mean ± sd over
    its splits) and full-recipe validation accuracy (mean ± sd over its seeds)."""
    t = result["table"]
    return pd.DataFrame({
        "model": t["model"], "configuration": t["role"],
        "learning rate": t["lr"].map(lambda v: f"{v:g}"), "weight decay": t["weight_decay"].map(lambda v: f"{v:g}"),
        "search rank": t["search_rank"].astype(str),
        "search score (mean ± sd)": [f"{m:.4f} ± {s:.4f}" for m, s in zip(t["search_mean"], t["search_sd"])],
        "full recipe, val accuracy": [f"{m:.4f}" + (f" ± {s:.4f}" if np.isfinite(s) else "") + f" ({k} seed"
                                      + ("s" if k > 1 else "") + ")"
                                      for m, s, k in zip(t["full_val_acc"], t["full_val_sd"], t["seeds"])],
    })


def plot_fidelity(result: Mapping) -> Figure:
    """Search score against full-recipe validation accuracy, one panel per model, each point a
    configuration labelled by its role, Spearman's rho in the title."""
    import matplotlib.pyplot as plt

    t, corr = result["table"], result["correlation"].set_index("model")
    models = list(dict.fromkeys(t["model"]))
    fig, axes = plt.subplots(1, len(models), figsize=(7, 2.9), constrained_layout=True, squeeze=False)
    for ax, model in zip(axes[0], models):
        g = t[t["model"] == model]
        ax.errorbar(g["search_mean"], g["full_val_acc"], xerr=g["search_sd"],
                    yerr=g["full_val_sd"].fillna(0.0), fmt="o", ms=4, color="C0", ecolor="0.55", lw=0.9,
                    capsize=2)
        for r in g.itertuples():
            ax.annotate(f"{r.role}\nlr {r.lr:g}, wd {r.weight_decay:g}", (r.search_mean, r.full_val_acc),
                        textcoords="offset points", xytext=(4, 3), fontsize=6.2)
        rho = f", Spearman ρ = {corr.loc[model, 'rho']:+.2f}" if model in corr.index else ""
        ax.set_title(f"{model}{rho}", fontsize=8.5)
        ax.set_xlabel("search score (validation, mean over splits)", fontsize=7.5)
        ax.tick_params(labelsize=7)
        ax.grid(alpha=0.3)
        ax.margins(x=0.35, y=0.25)
    axes[0, 0].set_ylabel("full recipe, validation accuracy", fontsize=7.5)
    return fig


def fidelity_sentence(result: Mapping) -> str:
    """What the rank correlations say, with their permutation p-values, and whether the
    search's best is also the best at the full recipe, per model."""
    corr, t = result["correlation"], result["table"]
    parts = [f"{r['model']} ρ = {r['rho']:+.2f} ({int(r['n'])} configurations, one-sided permutation "
             f"p = {r['p_value']:.2f})" for _, r in corr.iterrows()]
    text = "Spearman's rank correlation of the search score with the full recipe's validation accuracy: " + "; ".join(parts)
    tops = []
    for model, g in t.groupby("model", sort=False):
        best_full = g.loc[g["full_val_acc"].idxmax()]
        best_search = g.loc[g["search_mean"].idxmax()]
        tops.append(f"for {model} the search's best ({best_search['role']}) is also the best at the full recipe"
                    if best_full.name == best_search.name else
                    f"for {model} the full recipe reverses the search's first place: the search's best "
                    f"(lr {best_search['lr']:g}, weight decay {best_search['weight_decay']:g}) reaches "
                    f"{best_search['full_val_acc']:.4f}, the full recipe's best (lr {best_full['lr']:g}, "
                    f"weight decay {best_full['weight_decay']:g}) {best_full['full_val_acc']:.4f}")
    small = int(corr["n"].min()) if len(corr) else 0
    floor = 1 / math.factorial(small) if small else 1.0
    caveat = (f" With {small} points even a perfect ordering has a one-sided p of 1/{math.factorial(small)} = "
              f"{floor:.3f}" + (", so no ρ can reach p < 0.05" if floor >= 0.05 else
                               ", so only a perfect ordering reaches p < 0.05")
              + ": a weak or negative ρ is a warning, not a measurement of the search's precision."
              if small and small <= 5 else "")
    return text + "; " + "; ".join(tops) + "." + caveat


def margin_sentence(history: Mapping[str, str], margin: float, n_test: int,
                    published: Sequence[tuple[str, str, float]]) -> str:
    """Where the margin comes from, dated by the project's history, and what it means in test
    images and against the published small networks (``paper.report.PUBLISHED``)."""
    images = round(margin * n_test)
    convs = [a for m, _, a in published if m.startswith("2 conv")]
    mlp = [a for m, _, a in published if m.startswith("MLP")]
    scale = (f"; the published two-convolution networks span {min(convs):.3f} to {max(convs):.3f} "
             f"({100 * (max(convs) - min(convs)):.1f} pp)" if convs else "")
    if convs and mlp:
        scale += f" and the best of them is {100 * (max(convs) - mlp[0]):.1f} pp above the benchmark's MLP"
    return (f"The margin of ±{100 * margin:g} percentage points entered the project on "
            f"{history['date']} (commit {history['commit']}); the first version of this paper "
            f"({history['first_paper_date']}, commit {history['first_paper']}) had already computed and "
            f"reported a verdict without any margin, so the margin was not fixed before every run: it "
            f"was fixed before any run of the converged design reported here and has not been changed "
            f"since. In practical terms ±{100 * margin:g} pp is {images:,} of the {n_test:,} test images, "
            f"at most one more mistake in a hundred for choosing the smaller network{scale}. Because the "
            f"choice is a judgement, every estimate below also states the smallest margin it would pass.")


def standing_sentence(accs: Mapping[str, float], published: Sequence[tuple[str, str, float]],
                      cis: Mapping[str, tuple[float, float]] | None = None) -> str:
    """Where the models' mean test accuracies stand among the published results.

    Parameters
    ----------
    accs : dict
        ``{display name: mean test accuracy}``.
    published : list of (method, preprocessing, accuracy)
        ``paper.report.PUBLISHED``.
    cis : dict, optional
        ``{display name: (low, high)}``, the 95 % interval of each mean: a published value
        inside it is "level with" the model, not above or below it.
    """
    parts = []
    convs = [(m, a) for m, _, a in published if m.startswith("2 conv")]
    mlp = [a for m, _, a in published if m.startswith("MLP")]
    for name, acc in accs.items():
        low, high = (cis or {}).get(name, (acc, acc))
        level = [a for _, a in convs if cis and low <= a <= high]  # inside the model's 95 % CI
        above = [m for m, a in convs if a < acc and a not in level]
        below = [m for m, a in convs if a > acc and a not in level]
        part = (f"{name} ({acc:.4f}) is above {len(above)} of the {len(convs)} two-convolution entries"
                + (f", level with {len(level)} ({', '.join(f'{a:.3f}' for a in level)}, inside its 95 % CI)"
                   f" and below {len(below)}" if level else ""))
        if mlp:
            if low <= mlp[0] <= high and cis:
                part += f" and level with the MLP ({mlp[0]:.3f}, inside its 95 % CI)"
            else:
                part += f" and {'above' if acc > mlp[0] else 'below'} the MLP ({mlp[0]:.3f})"
        parts.append(part)
    return "; ".join(parts)


# ---------------------------------------------------------------- one call per chapter cell
# Each takes a profile (name, Profile or None) and loads what it shows from the pipeline.

def _stages():
    from ..pipeline import stages

    return stages


def verdict_figure(profile=None) -> Figure:
    """:func:`plot_verdicts` of the study's estimates (``pipeline.stages.verdicts``)."""
    from ..config import EQUIVALENCE_MARGIN

    return plot_verdicts(_stages().verdicts(profile), EQUIVALENCE_MARGIN)


def verdict_view(profile=None) -> pd.DataFrame:
    """:func:`verdicts_table` of the study's estimates."""
    return verdicts_table(_stages().verdicts(profile))


def verdict_text(profile=None) -> str:
    """:func:`verdicts_sentence` of the study's estimates; the runner-up's row is not counted as
    a check of its own where every model's runner-up is its defaults (its runs are theirs)."""
    from ..config import DEFAULTS, EQUIVALENCE_MARGIN

    st = _stages()
    table = st.verdicts(profile)
    runner = [t["params"].iloc[1] for t in st.selection(profile).values() if len(t) > 1]
    labels = [e for e in table["estimate"] if e.startswith("runner-up")]
    repeats = ({labels[0]: "every model's runner-up is its defaults, so this row repeats the defaults' "
                           "estimate on the seeds they share"}  # the params its runs train with, as fidelity()
               if labels and runner and all(c == DEFAULTS for c in runner) else {})
    return verdicts_sentence(table, EQUIVALENCE_MARGIN, repeats)


def epoch_figure(profile=None, metric: str = "test_acc") -> Figure:
    """:func:`plot_accuracy_by_epoch` of the tuned runs at the three budgets."""
    st = _stages()
    return plot_accuracy_by_epoch(st.final_models(profile), st.check_runs(profile), st.short_runs(profile), metric)


def convergence_view(profile=None) -> pd.DataFrame:
    """:func:`convergence_display` of ``pipeline.stages.convergence``."""
    return convergence_display(_stages().convergence(profile))


def convergence_text(profile=None) -> str:
    """:func:`convergence_sentence` of ``pipeline.stages.convergence`` at the configured tolerance."""
    from ..config import CONVERGENCE_TOLERANCE

    return convergence_sentence(_stages().convergence(profile), CONVERGENCE_TOLERANCE)


def overfit_text(profile=None) -> str:
    """:func:`overfit_sentence` of the convergence check's runs (``pipeline.stages.check_runs``)."""
    return overfit_sentence(_stages().check_runs(profile))


def fidelity_view(profile=None) -> pd.DataFrame:
    """:func:`fidelity_display` of ``pipeline.stages.fidelity``."""
    return fidelity_display(_stages().fidelity(profile))


def fidelity_figure(profile=None) -> Figure:
    """:func:`plot_fidelity` of ``pipeline.stages.fidelity``."""
    return plot_fidelity(_stages().fidelity(profile))


def fidelity_text(profile=None) -> str:
    """:func:`fidelity_sentence` of ``pipeline.stages.fidelity``."""
    return fidelity_sentence(_stages().fidelity(profile))


def margin_text(profile=None) -> str:
    """:func:`margin_sentence` with the project's margin, its history and the test set's size."""
    from ..config import EQUIVALENCE_MARGIN, MARGIN_HISTORY
    from .report import PUBLISHED

    _, y = _stages().test_set(profile)
    return margin_sentence(MARGIN_HISTORY, EQUIVALENCE_MARGIN, len(y), PUBLISHED)


def standing_text(profile=None) -> str:
    """:func:`standing_sentence` for the tuned runs' mean test accuracy."""
    from .report import PUBLISHED

    st = _stages()
    _, y = st.test_set(profile)
    accs = {DISPLAY_NAMES[n]: float(np.mean([(r["test_proba"].argmax(1) == y).mean() for r in rs]))
            for n, rs in st.final_models(profile).items()}
    return standing_sentence(accs, PUBLISHED, cis=_mean_cis(profile))


def _mean_cis(profile=None) -> dict[str, tuple[float, float]]:
    """Each model's 95 % interval of its mean test accuracy over seeds: the bootstrap of the
    accuracy table (``evaluation.equivalence.accuracy_table``), with the same replicates and seed."""
    from ..config import get_profile
    from ..evaluation.equivalence import hierarchical_bootstrap, percentile_ci

    st, p = _stages(), get_profile(profile)
    _, y = st.test_set(p)
    out = {}
    for n, rs in st.final_models(p).items():
        c = np.stack([r["test_proba"].argmax(1) == y for r in rs]).astype(np.float64)
        out[DISPLAY_NAMES[n]] = percentile_ci(hierarchical_bootstrap(c, p.n_boot, p.seed), 0.95)
    return out


def selection_text(profile=None) -> str:
    """How the tuned values were chosen: per model, the candidates' full-recipe validation
    accuracy and the search's own choice when the full recipe overturned it."""
    st = _stages()
    grid = st.grid_search(profile)
    finals = st.final_models(profile)
    parts = []
    for n, t in st.selection(profile).items():
        chosen, search = t.iloc[0], grid[n]["best_params"]
        values = ", ".join(f"lr {r.lr:g} (wd {r.weight_decay:g}) {r.val_acc:.4f}" for r in t.itertuples())
        same = (chosen["lr"] == search["lr"] and chosen["weight_decay"] == search["optimizer__weight_decay"])
        verdict = ("the search's own choice" if same else
                   f"overturning the search's choice of lr {search['lr']:g}, wd {search['optimizer__weight_decay']:g}")
        lead = 100 * (t["val_acc"].iloc[0] - t["val_acc"].iloc[1]) if len(t) > 1 else float("nan")
        vals = [float(r["history"]["val_acc"].iloc[-1]) for r in finals[n]]
        # two single runs differ with sd sqrt(2) x the seed sd; a lead of 2 of those is resolved
        sd = 100 * math.sqrt(2) * float(np.std(vals, ddof=1)) if len(vals) > 1 else float("nan")
        resolved = (f"; its lead over the runner-up, {lead:.2f} pp on one seed, is {lead / sd:.1f} times the sd "
                    f"of a difference between two single runs ({sd:.2f} pp, √2 × the seed sd of the tuned runs' "
                    "validation accuracy)" + (", so the choice between the two is not resolved (the runner-up's "
                    "own runs, among the verdicts, show what it changes)" if lead < 2 * sd else "")
                    if np.isfinite(lead) and np.isfinite(sd) and sd > 0 else "")
        parts.append(f"{DISPLAY_NAMES[n]}: {values}; chosen lr {chosen['lr']:g}, weight decay "
                     f"{chosen['weight_decay']:g}, {verdict}{resolved}")
    return "; ".join(parts)
