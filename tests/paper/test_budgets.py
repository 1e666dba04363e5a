"""fmnist_lib.paper.budgets: the verdict figure and sentence, the convergence and fidelity wording,
the margin's history and the published standing, on synthetic results."""
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from fmnist_lib.config import MARGIN_HISTORY
from fmnist_lib.paper import budgets
from fmnist_lib.paper.report import PUBLISHED


def estimates(rows):
    t = pd.DataFrame(rows, columns=["estimate", "diff", "ci90_low", "ci90_high", "verdict"])
    t["source"] = "seeds and test images"
    t["ci95_low"], t["ci95_high"] = t["ci90_low"] - 0.001, t["ci90_high"] + 0.001
    t["smallest_margin"] = np.maximum(-t["ci90_low"], t["ci90_high"])
    t["seeds"] = 5
    return t


MIXED = estimates([("tuned", -0.004, -0.008, 0.0005, "equivalent"), ("defaults", 0.003, -0.002, 0.008, "equivalent"),
                   ("short", 0.012, 0.007, 0.017, "inconclusive")])


def test_verdict_sentence_names_what_agrees_and_what_does_not():
    text = budgets.verdicts_sentence(MIXED, 0.01)
    assert text.startswith("The headline estimate (tuned) is equivalent at the ±1 pp margin (90 % CI [-0.80, +0.05] pp)")
    assert "1 of the other 2 estimates agree" in text and "short is inconclusive ([+0.70, +1.70] pp)" in text
    # an equivalent estimate says what it means: here its 95 % interval [-0.90, +0.15] reaches 0
    assert ("(90 % CI [-0.80, +0.05] pp): the models lie within the margin of each other, but its 95 % "
            "interval, [-0.90, +0.15] pp, reaches 0, so which of them is ahead is not resolved") in text
    assert "change sign (2 with LeNet-5 ahead, 1 with the Simple CNN ahead)" in text
    assert "the interval reaching farthest from no difference (short) would pass a margin of ±1.70 pp" in text
    assert "Over the budgets" not in text  # no budgets given: nothing said about them
    same = budgets.verdicts_sentence(MIXED.iloc[:1], 0.01)
    assert same.endswith("is not resolved.") and "agree" not in same
    agree = budgets.verdicts_sentence(MIXED.iloc[:2].assign(diff=[0.004, 0.003]), 0.01)
    assert "; the other estimate agrees" in agree and "Every point estimate has LeNet-5 ahead" in agree


def test_verdict_sentence_says_how_the_difference_moves_with_the_budget():
    t = estimates([("tuned, 10 epochs (5 seeds)", 0.0094, 0.005, 0.0137, "inconclusive"),
                   ("seed ensembles, tuned", 0.0117, 0.008, 0.0155, "inconclusive"),
                   ("tuned, 4 epochs (5 seeds)", 0.0041, 0.0007, 0.0076, "equivalent"),
                   ("tuned, 20 epochs (1 seed)", 0.0055, 0.0009, 0.0104, "inconclusive")])
    t["kind"], t["epochs"] = ["runs", "ensemble", "runs", "runs"], [10, 10, 4, 20]
    t.loc[3, "seeds"] = 1
    text = budgets.verdicts_sentence(t, 0.01)
    # [+0.50, +1.37], [+0.07, +0.76] and [+0.09, +1.04] share +0.50 to +0.76: no shape is read into them
    assert ("Over the budgets of the tuned values the difference is +0.41 pp at 4 epochs (5 seeds), +0.94 pp at "
            "10 epochs (5 seeds), +0.55 pp at 20 epochs (1 seed); their 90 % intervals overlap, so the budgets "
            "do not differ at this resolution; the estimates rest on different numbers of seeds.") in text
    assert "not monotone" not in text and "gives the largest" not in text
    # labels are set inline: no parenthesis opens inside another
    assert "The headline estimate (tuned, 10 epochs, 5 seeds) is" in text and "((" not in text and "))" not in text
    assert "tuned, 4 epochs, 5 seeds is equivalent ([+0.07, +0.76] pp): the models lie within the margin" in text
    detectable = budgets.verdicts_sentence(t.assign(ci95_low=t["ci90_low"]), 0.01)
    assert ("tuned, 4 epochs, 5 seeds is equivalent ([+0.07, +0.76] pp): the models differ detectably (95 % "
            "interval [+0.07, +0.86] pp), but by less than the margin") in detectable
    apart = t.assign(diff=[0.005, 0.0117, 0.002, 0.008], ci90_low=[0.004, 0.008, 0.0, 0.0041],
                     ci90_high=[0.006, 0.0155, 0.0039, 0.012])  # 4 epochs' interval ends below 10's
    grows = budgets.verdicts_sentence(apart, 0.01)
    assert ("the difference grows with the budget: +0.20 pp at 4 epochs (5 seeds), +0.50 pp at 10 epochs "
            "(5 seeds), +0.80 pp at 20 epochs (1 seed) (not all of their 90 % intervals overlap)") in grows
    assert "not monotone" in budgets.verdicts_sentence(apart.assign(diff=[0.005, 0.0117, 0.002, 0.003]), 0.01)
    # an estimate that repeats another's runs is named, not counted
    counted_once = budgets.verdicts_sentence(t, 0.01, {"seed ensembles, tuned": "its runs are the headline's"})
    assert "; 1 of the other 2 estimates agree" in counted_once
    assert "(seed ensembles, tuned is not counted: its runs are the headline's)" in counted_once
    assert "; 2 of the other 3 estimates agree" in text


def test_verdict_figure_has_one_row_per_estimate_and_the_margin_band():
    fig = budgets.plot_verdicts(MIXED, 0.01)
    ax = fig.axes[0]
    ticks = dict(zip(ax.get_yticks(), (t.get_text() for t in ax.get_yticklabels())))
    assert [ticks[k] for k in sorted(ticks, reverse=True)] == list(MIXED["estimate"])  # the headline on top
    band = [p for p in ax.patches if p.get_x() == pytest.approx(-1.0)]
    assert band and band[0].get_width() == pytest.approx(2.0)  # ±1 pp, in percentage points
    assert {t.get_text() for t in ax.texts} == {"equivalent", "inconclusive"}
    plt.close(fig)
    table = budgets.verdicts_table(MIXED)
    assert table["90 % CI (pp)"].iloc[2] == "[+0.70, +1.70]" and table["smallest margin (pp)"].iloc[2] == "1.70"


def run(seed, acc):
    acc = np.asarray(acc, dtype=float)
    return {"seed": seed, "history": pd.DataFrame({"epoch": np.arange(1, len(acc) + 1), "test_acc": acc,
                                                   "val_acc": acc})}


def test_accuracy_by_epoch_draws_every_budget_for_both_models():
    full = {n: [run(s, np.linspace(0.8, 0.9, 4) + 0.001 * s) for s in range(3)] for n in ("simple", "lenet")}
    check = {n: [run(0, np.linspace(0.8, 0.9, 8))] for n in ("simple", "lenet")}
    short = {n: [run(s, [0.8, 0.85]) for s in range(3)] for n in ("simple", "lenet")}
    fig = budgets.plot_accuracy_by_epoch(full, check, short)
    assert [a.get_title() for a in fig.axes] == ["Simple CNN", "LeNet-5"]
    lengths = sorted(len(line.get_xdata()) for line in fig.axes[0].lines)
    assert lengths == [2, 4, 8]  # the short mean, the budget's mean and the check run
    plt.close(fig)


def conv(gains, sd=0.001):
    return pd.DataFrame({"model": ["Simple CNN", "LeNet-5"], "epochs": 10, "val_acc": 0.9, "val_sd": sd,
                         "short_epochs": 4, "short_val_acc": 0.89, "check_epochs": 20, "check_val_acc": 0.9,
                         "check_seeds": 1, "gain": gains, "last_quarter_gain": 0.002,
                         "converged": [g < 0.002 for g in gains]})


def test_convergence_sentence_follows_the_criterion():
    ok = budgets.convergence_sentence(conv([-0.005, 0.001]), 0.002)
    assert "from 10 to 20 epochs" in ok and "Simple CNN -0.50 pp and LeNet-5 +0.10 pp" in ok
    # one seed cannot resolve 0.2 pp: "no gain is detected", not "converged"
    assert "no gain is detected (no model gains 0.2 pp or more)" in ok and "has converged" not in ok
    assert "the doubled recipe ends lower for Simple CNN" in ok and "on the last seed" in ok
    # one seed, seed sd 0.1 pp: two single runs differ with sd 0.14 pp, twice that is above 0.2 pp
    assert ("The check has 1 seed: with the budget's seed sd of validation accuracy (Simple CNN 0.10 pp, LeNet-5 "
            "0.10 pp), a difference between two single runs has an sd of about Simple CNN 0.14 pp, LeNet-5 0.14 pp, "
            "and twice that exceeds the 0.2 pp it tests:") in ok and "cannot resolve one of 0.2 pp" in ok
    resolved = budgets.convergence_sentence(conv([-0.005, 0.001]).assign(check_seeds=3), 0.002)
    assert "cannot resolve" not in resolved and "(For scale, the seed sd: Simple CNN 0.10 pp" in resolved
    assert "two means of 3 runs has an sd of about Simple CNN 0.08 pp" in resolved  # 0.1 x sqrt(2/3)
    assert "so the budget has converged" in resolved
    assert "on the last 3 seeds" in resolved
    noisy = budgets.convergence_sentence(conv([-0.005, 0.001], sd=0.003).assign(check_seeds=3), 0.002)
    assert "cannot resolve one of 0.2 pp" in noisy  # 3 seeds, but a seed sd above the tolerance
    one = budgets.convergence_sentence(conv([-0.005, 0.001]).assign(val_sd=[0.003, 0.0005], check_seeds=3), 0.002)
    assert "twice that exceeds the 0.2 pp it tests for Simple CNN:" in one  # LeNet-5: 2 x 0.04 pp
    half = budgets.convergence_sentence(conv([-0.005, 0.004]), 0.002)
    assert "for Simple CNN only; LeNet-5 has not converged" in half
    assert "has not converged" in budgets.convergence_sentence(conv([0.003, 0.004]), 0.002)
    shown = budgets.convergence_display(conv([-0.005, 0.001]))
    assert shown["gain from doubling (pp)"].tolist() == ["-0.50", "+0.10"]


def fidelity(best_full):
    t = pd.DataFrame({"model": "Simple CNN", "role": ["best", "runner-up", "defaults", "middle of the ranking"],
                      "lr": [1e-2, 3e-3, 1e-3, 3e-2], "weight_decay": 0.0, "search_rank": [1, 2, 8, 4],
                      "search_mean": [0.86, 0.85, 0.83, 0.84], "search_sd": 0.004,
                      "full_val_acc": best_full, "full_val_sd": [0.001, np.nan, 0.001, np.nan], "seeds": [5, 1, 5, 1]})
    corr = pd.DataFrame({"model": ["Simple CNN"], "rho": [0.4], "p_value": [0.29], "n": [4], "exact": [1.0]})
    return {"table": t, "correlation": corr}


def test_fidelity_sentence_says_whether_the_search_best_wins_at_the_full_recipe():
    text = budgets.fidelity_sentence(fidelity([0.904, 0.908, 0.89, 0.9]))
    assert "Simple CNN ρ = +0.40 (4 configurations, one-sided permutation p = 0.29)" in text
    assert ("the full recipe reverses the search's first place: the search's best (lr 0.01, weight decay 0) "
            "reaches 0.9040, the full recipe's best (lr 0.003, weight decay 0) 0.9080") in text
    assert "even a perfect ordering has a one-sided p of 1/24 = 0.042, so only a perfect ordering reaches" in text
    three = fidelity([0.904, 0.908, 0.89, 0.9])
    three["correlation"]["n"] = [3]
    assert "1/6 = 0.167, so no ρ can reach p < 0.05" in budgets.fidelity_sentence(three)
    assert "is also the best at the full recipe" in budgets.fidelity_sentence(fidelity([0.91, 0.908, 0.89, 0.9]))
    shown = budgets.fidelity_display(fidelity([0.904, 0.908, 0.89, 0.9]))
    assert shown["full recipe, val accuracy"].tolist()[:2] == ["0.9040 ± 0.0010 (5 seeds)", "0.9080 (1 seed)"]
    fig = budgets.plot_fidelity(fidelity([0.904, 0.908, 0.89, 0.9]))
    assert "ρ = +0.40" in fig.axes[0].get_title()
    plt.close(fig)


def test_margin_sentence_is_dated_by_the_history_and_computed_from_the_published_table():
    text = budgets.margin_sentence(MARGIN_HISTORY, 0.01, 10_000, PUBLISHED)
    assert "entered the project on 2026-11-29 (commit ca57941)" in text and "f38d8f3" in text
    assert "was not fixed before every run" in text and "100 of the 10,000 test images" in text
    convs = [a for m, _, a in PUBLISHED if m.startswith("2 conv")]
    assert f"span {min(convs):.3f} to {max(convs):.3f}" in text


def test_standing_sentence_counts_the_published_entries_below():
    text = budgets.standing_sentence({"Simple CNN": 0.8996, "LeNet-5": 0.9101}, PUBLISHED)
    convs = sorted(a for m, _, a in PUBLISHED if m.startswith("2 conv"))
    below = sum(a < 0.9101 for a in convs)
    assert f"LeNet-5 (0.9101) is above {below} of the {len(convs)} two-convolution entries and above the MLP" in text
    assert "Simple CNN (0.8996)" in text and "below the MLP (0.900)" in text
    level = budgets.standing_sentence({"Simple CNN": 0.8997, "LeNet-5": 0.9092}, PUBLISHED,
                                      cis={"Simple CNN": (0.8940, 0.9055), "LeNet-5": (0.9038, 0.9144)})
    assert "Simple CNN (0.8997) is above" in level and "level with the MLP (0.900, inside its 95 % CI)" in level
    assert "LeNet-5 (0.9092) is above" in level and "and above the MLP (0.900)" in level
    # the two-convolution entries inside a model's CI are level with it, neither above nor below
    s_cis = (0.8940, 0.9055)
    inside = [a for a in convs if s_cis[0] <= a <= s_cis[1]]
    assert inside  # the published list has one (0.903): the check below can fail
    n_above = sum(a < 0.8997 and a not in inside for a in convs)
    n_below = sum(a > 0.8997 and a not in inside for a in convs)
    assert (f"Simple CNN (0.8997) is above {n_above} of the {len(convs)} two-convolution entries, level with "
            f"{len(inside)} ({', '.join(f'{a:.3f}' for a in inside)}, inside its 95 % CI) and below {n_below}") in level


def test_overfit_sentence_reads_the_check_runs():
    def hist(loss, train):
        return {"history": pd.DataFrame({"val_loss": loss, "train_acc": train})}
    check = {"simple": [hist([0.4, 0.3, 0.28, 0.27], [0.8, 0.85, 0.88, 0.9])],
             "lenet": [hist([0.35, 0.27, 0.3, 0.33], [0.9, 0.95, 0.97, 0.983])]}
    text = budgets.overfit_sentence(check)
    assert text == ("Simple CNN's validation loss is lowest at epoch 4 of 4, still falling at the end, at a final "
                    "training accuracy of 0.900; LeNet-5's validation loss is lowest at epoch 2 of 4, then rises by "
                    "0.060 to the end, at a final training accuracy of 0.983")


def test_an_interval_end_just_below_zero_is_not_shown_as_zero():
    text = budgets._meaning({"verdict": "equivalent", "ci95_low": -0.000002, "ci95_high": 0.0084})
    assert "[-0.0002, +0.84] pp, reaches 0" in text
    assert "detectably" in budgets._meaning({"verdict": "equivalent", "ci95_low": 0.0007, "ci95_high": 0.0084})


class FakeStages:
    """What selection_text and verdict_text read from the store, for one model."""

    def __init__(self, runner_up_lr: float, val_accs=(0.905, 0.909, 0.903, 0.907, 0.901)):
        self.runner_up_lr, self.val_accs = runner_up_lr, val_accs

    def grid_search(self, profile=None):
        return {"simple": {"best_params": {"lr": 0.01, "optimizer__weight_decay": 0.0}}}

    def final_models(self, profile=None):
        return {"simple": [{"history": pd.DataFrame({"val_acc": [0.8, v]})} for v in self.val_accs]}

    def selection(self, profile=None):
        params = [{"lr": lr, "batch_size": 64, "optimizer__weight_decay": 0.0} for lr in (0.003, self.runner_up_lr)]
        return {"simple": pd.DataFrame({"lr": [0.003, self.runner_up_lr], "batch_size": 64, "weight_decay": 0.0,
                                        "val_acc": [0.9087, 0.9034], "params": params})}

    def verdicts(self, profile=None):
        return estimates([("tuned, 10 epochs (5 seeds)", 0.008, 0.004, 0.012, "inconclusive"),
                          ("defaults, 10 epochs (5 seeds)", 0.011, 0.007, 0.015, "inconclusive"),
                          ("runner-up configurations, 10 epochs (3 seeds)", 0.010, 0.005, 0.016, "inconclusive")])


def test_the_selections_lead_is_measured_against_the_noise_of_a_difference(monkeypatch):
    monkeypatch.setattr(budgets, "_stages", lambda: FakeStages(0.001))
    text = budgets.selection_text()
    # seed sd of (0.905, 0.909, 0.903, 0.907, 0.901) = 0.316 pp; two single runs: x sqrt(2) = 0.447 pp
    sd = 100 * np.sqrt(2) * np.std([0.905, 0.909, 0.903, 0.907, 0.901], ddof=1)
    assert f"its lead over the runner-up, 0.53 pp on one seed, is {0.53 / sd:.1f} times the sd" in text
    assert "(0.45 pp, √2 × the seed sd" in text and "so the choice between the two is not resolved" in text
    # a lead of 2 such sds or more is resolved: no "not resolved"
    monkeypatch.setattr(budgets, "_stages", lambda: FakeStages(0.001, val_accs=(0.905, 0.9051, 0.9052, 0.9049, 0.905)))
    assert "not resolved" not in budgets.selection_text()


def test_a_runner_up_that_is_the_defaults_is_not_counted_as_its_own_check(monkeypatch):
    monkeypatch.setattr(budgets, "_stages", lambda: FakeStages(0.001))  # lr 1e-3, batch 64, wd 0: the defaults
    text = budgets.verdict_text()
    assert "; the other estimate agrees (runner-up" in text
    assert "(runner-up configurations, 10 epochs, 3 seeds is not counted: every model's runner-up is its defaults" in text
    monkeypatch.setattr(budgets, "_stages", lambda: FakeStages(0.01))
    other = budgets.verdict_text()
    assert "all 2 other estimates agree" in other and "not counted" not in other
