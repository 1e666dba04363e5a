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
    assert list(table["source"]) == ["seeds and test images"] * 2 + ["test images"] * 2 + [
        "seeds and test images", "test images", "seeds and test images"]
    ens = eq.accuracy_difference(y, [eq.ensemble_proba(sets["tuned"]["simple"])],
                                 [eq.ensemble_proba(sets["tuned"]["lenet"])], 0.01, 100, 0)
    assert table.iloc[2]["diff"] == ens["diff"] and table.iloc[2]["seeds"] == 1
