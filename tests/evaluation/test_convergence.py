"""fmnist_lib.evaluation.convergence: the doubling criterion, paired by seed."""
import pandas as pd
import pytest

from fmnist_lib.evaluation import convergence as cv


def run(seed, curve):
    return {"seed": seed, "history": pd.DataFrame({"val_acc": curve})}


def test_doubling_criterion_pairs_seeds_and_decides_per_model():
    full = {"simple": [run(0, [0.8, 0.85, 0.88, 0.90]), run(1, [0.8, 0.86, 0.89, 0.91])],
            "lenet": [run(0, [0.8, 0.86, 0.90, 0.92]), run(1, [0.8, 0.85, 0.9, 0.93])]}
    check = {"simple": [run(1, [0.8] * 7 + [0.911])], "lenet": [run(0, [0.8] * 7 + [0.93])]}
    short = {"simple": [run(0, [0.8, 0.84]), run(1, [0.8, 0.86])], "lenet": [run(0, [0.8, 0.83]), run(1, [0.8, 0.85])]}
    t = cv.convergence_table(full, check, short, tolerance=0.002).set_index("model")
    assert t.loc["Simple CNN", "gain"] == pytest.approx(0.911 - 0.91)  # paired with seed 1, not the mean
    assert t.loc["LeNet-5", "gain"] == pytest.approx(0.93 - 0.92)
    assert bool(t.loc["Simple CNN", "converged"]) and not bool(t.loc["LeNet-5", "converged"])
    assert t.loc["Simple CNN", "val_acc"] == pytest.approx(0.905) and t.loc["LeNet-5", "short_val_acc"] == pytest.approx(0.84)
    assert (t["epochs"] == 4).all() and (t["check_epochs"] == 8).all() and (t["short_epochs"] == 2).all()
    # last quarter of 4 epochs: the 4th; its gain over epoch 3
    assert t.loc["Simple CNN", "last_quarter_gain"] == pytest.approx((0.02 + 0.02) / 2)


def test_check_runs_need_a_partner_and_the_tolerance_is_positive():
    full = {"simple": [run(0, [0.8, 0.9])]}
    with pytest.raises(ValueError, match="seeds \\[3\\]"):
        cv.convergence_table(full, {"simple": [run(3, [0.9] * 4)]}, full, 0.002)
    with pytest.raises(ValueError, match="tolerance"):
        cv.convergence_table(full, full, full, 0.0)
