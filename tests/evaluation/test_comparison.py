"""fmnist_lib.evaluation.comparison: the paired effect of tuning and the runs table, on synthetic runs."""
import numpy as np
import pandas as pd
import pytest

from fmnist_lib.evaluation import comparison


def run(y, acc, rng):
    pred = np.where(rng.random(len(y)) < acc, y, (y + 1) % 10)
    return {"test_proba": np.eye(10)[pred], "history": pd.DataFrame({"val_acc": [0.5, acc]}), "seconds": 2.0}


def test_tuning_effect_is_the_paired_mean_difference():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 10, 2000)
    base = {n: [run(y, 0.80, rng) for _ in range(3)] for n in ("simple", "lenet")}
    tuned = {"simple": [run(y, 0.90, rng) for _ in range(3)], "lenet": [dict(r) for r in base["lenet"]]}
    table = comparison._tuning_effect(y, base, tuned, n_boot=300, seed=0).set_index("model")
    acc = lambda r: (r["test_proba"].argmax(1) == y).mean()  # noqa: E731
    simple = table.loc["Simple CNN"]
    assert simple["difference"] == pytest.approx(np.mean([acc(t) - acc(b) for b, t in zip(base["simple"], tuned["simple"])]))
    assert simple["low"] > 0.05 and simple["low"] < simple["difference"] < simple["high"]
    lenet = table.loc["LeNet-5"]  # the same runs: no effect, an interval of zero width
    assert lenet["difference"] == lenet["low"] == lenet["high"] == 0


def test_runs_table_formats_means_and_ranges():
    rng = np.random.default_rng(1)
    y = rng.integers(0, 10, 500)
    runs = {"simple": [run(y, 0.9, rng), run(y, 0.8, rng)]}
    row = comparison.runs_table(runs, y).iloc[0]
    accs = [(r["test_proba"].argmax(1) == y).mean() for r in runs["simple"]]
    assert row["model"] == "Simple CNN" and row["seeds"] == 2 and row["epochs"] == 2
    assert row["test accuracy (mean)"] == f"{np.mean(accs):.4f}"
    assert row["test accuracy (seed range)"] == f"{min(accs):.4f} to {max(accs):.4f}"
