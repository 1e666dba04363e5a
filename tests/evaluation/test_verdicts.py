"""fmnist_lib.evaluation.verdicts: every estimate equals accuracy_difference, the smallest margin
passes TOST and nothing below it does, and the study's estimates are all present."""
import numpy as np
import pytest

from fmnist_lib.evaluation import equivalence as eq
from fmnist_lib.evaluation import verdicts as vd


def onehot(pred):
    p = np.full((len(pred), 10), 0.01)
    p[np.arange(len(pred)), pred] = 0.91
    return p


def runs(y, acc, seeds, rng):
    out = []
    for _ in range(seeds):
        pred = y.copy()
        wrong = rng.random(len(y)) > acc
        pred[wrong] = (y[wrong] + 1) % 10
        out.append(onehot(pred))
    return out


@pytest.mark.parametrize("low, high, expected", [(-0.004, 0.003, 0.004), (0.002, 0.009, 0.009),
                                                 (-0.02, -0.01, 0.02)])
def test_smallest_margin_is_where_tost_turns_equivalent(low, high, expected):
    m = vd.smallest_margin(low, high)
    assert m == pytest.approx(expected)
    assert eq.tost_verdict(low, high, m * 1.001) == "equivalent"
    assert eq.tost_verdict(low, high, m) != "equivalent"  # the ends must lie strictly inside
    with pytest.raises(ValueError, match="exceeds"):
        vd.smallest_margin(0.1, 0.0)


def test_estimate_rows_equal_accuracy_difference_in_the_given_order():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 10, 800)
    a, b = runs(y, 0.85, 3, rng), runs(y, 0.88, 3, rng)
    table = vd.estimate_rows(y, [("first", "seeds and test images", {"simple": a, "lenet": b}),
                                 ("second", "test images", {"simple": a[:1], "lenet": a[:1]})],
                             margin=0.01, n_boot=200, seed=3)
    ref = eq.accuracy_difference(y, a, b, 0.01, 200, 3)
    row = table.iloc[0]
    assert list(table["estimate"]) == ["first", "second"]
    for k in ("diff", "ci90_low", "ci90_high", "ci95_low", "ci95_high", "verdict", "seeds"):
        assert row[k] == ref[k]
    assert row["smallest_margin"] == vd.smallest_margin(ref["ci90_low"], ref["ci90_high"])
    same = table.iloc[1]  # a model against itself: zero, equivalent at any margin
    assert same["diff"] == 0 and same["verdict"] == "equivalent" and same["seeds"] == 1


def test_verdict_entry_lists_every_budget_and_source():
    rng = np.random.default_rng(1)
    y = rng.integers(0, 10, 500)

    def pair(seeds):
        return {"simple": runs(y, 0.85, seeds, rng), "lenet": runs(y, 0.86, seeds, rng)}

    sets = {"tuned": pair(3), "defaults": pair(3), "short": pair(3), "check": pair(1), "runner-up": pair(2)}
    table = vd.verdict_entry(y, sets, {"full": 10, "short": 4, "check": 20}, 0.01, 100, 0)["table"]
    assert list(table["estimate"]) == [
        "tuned, 10 epochs (3 seeds)", "defaults, 10 epochs (3 seeds)", "seed ensembles, tuned (3 seeds each)",
        "seed ensembles, defaults (3 seeds each)", "tuned, 4 epochs (3 seeds)", "tuned, 20 epochs (1 seed)",
        "runner-up configurations, 10 epochs (2 seeds)"]
    # the ensembles resample their seeds too (issue 19's review: test images alone hid seed noise)
    assert list(table["source"]) == ["seeds and test images"] * 5 + ["test images", "seeds and test images"]
    assert list(table["kind"]) == ["runs", "runs", "ensemble", "ensemble", "runs", "runs", "runs"]
    assert list(table["epochs"]) == [10, 10, 10, 10, 4, 20, 10]
    ens = vd.ensemble_difference(y, sets["tuned"]["simple"], sets["tuned"]["lenet"], 0.01, 100, 0)
    assert table.iloc[2]["diff"] == ens["diff"] and table.iloc[2]["seeds"] == 3
    by_hand = ((eq.ensemble_proba(sets["tuned"]["lenet"]).argmax(1) == y).mean()
               - (eq.ensemble_proba(sets["tuned"]["simple"]).argmax(1) == y).mean())
    assert ens["diff"] == pytest.approx(by_hand, abs=1e-12)


def reference_ensemble_replicates(y, a, b, n_boot, seed):
    """The bootstrap of ensemble_difference written plainly: each model's seeds drawn, ensembles rebuilt, images drawn."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n_boot):
        sa = rng.integers(0, len(a), len(a))  # each model's seeds drawn on their own
        sb = rng.integers(0, len(b), len(b))
        ea = np.mean([a[k] for k in sa], axis=0)
        eb = np.mean([b[k] for k in sb], axis=0)
        i = rng.integers(0, len(y), len(y))
        out.append((eb.argmax(1) == y)[i].mean() - (ea.argmax(1) == y)[i].mean())
    return np.array(out)


def test_ensemble_difference_equals_a_plain_reimplementation():
    rng = np.random.default_rng(4)
    y = rng.integers(0, 10, 300)
    a, b = runs(y, 0.8, 4, rng), runs(y, 0.83, 4, rng)
    r = vd.ensemble_difference(y, a, b, 0.01, n_boot=300, seed=7)
    reps = reference_ensemble_replicates(y, a, b, 300, 7)
    lo90, hi90 = np.quantile(reps, [0.05, 0.95])
    lo95, hi95 = np.quantile(reps, [0.025, 0.975])
    assert (r["ci90_low"], r["ci90_high"], r["ci95_low"], r["ci95_high"]) == pytest.approx((lo90, hi90, lo95, hi95))
    assert r["verdict"] == eq.tost_verdict(lo90, hi90, 0.01) and r["seeds"] == 4 and r["n"] == 300


def test_ensemble_difference_holds_the_seeds_noise():
    # every image alike, so the images add no noise; model b's two seeds disagree: seed 0 right
    # everywhere, seed 1 wrong with confidence, their ensemble wrong. Resampling seeds gives
    # replicates 0 (both draws seed 0, p = 1/4) and -1; over test images alone it would be [-1, -1].
    y = np.zeros(50, dtype=int)
    right = np.tile(np.r_[0.9, 0.1, np.zeros(8)], (50, 1))
    wrong = np.tile(np.r_[0.05, 0.95, np.zeros(8)], (50, 1))
    r = vd.ensemble_difference(y, [right, right], [right, wrong], 0.01, n_boot=2000, seed=0)
    assert r["diff"] == -1.0
    assert (r["ci90_low"], r["ci90_high"]) == (-1.0, 0.0) and r["verdict"] == "inconclusive"


@pytest.mark.parametrize("bad, match", [(dict(probas_b=[]), "same, non-zero"), (dict(margin=0), "margin"),
                                        (dict(n_boot=0), "n_boot")])
def test_ensemble_difference_rejects_bad_input(bad, match):
    y = np.zeros(5, dtype=int)
    p = [np.tile(np.r_[1.0, np.zeros(9)], (5, 1))]
    kwargs = dict(y_true=y, probas_a=p, probas_b=p, margin=0.01, n_boot=10, seed=0) | bad
    with pytest.raises(ValueError, match=match):
        vd.ensemble_difference(**kwargs)


def test_counted_says_one_without_plural():
    from fmnist_lib.evaluation.verdicts import counted

    assert counted(1, "seed") == "1 seed" and counted(5, "seed") == "5 seeds" and counted(0, "epoch") == "0 epochs"
