"""fmnist_lib.evaluation.benchmark: interleaved timing on one thread, summaries, ratios."""
import numpy as np
import pandas as pd
import pytest
import torch

from fmnist_lib.evaluation import benchmark
from fmnist_lib.models import LeNet5, SimpleCNN


def test_cost_benchmark_interleaves_and_restores_threads(monkeypatch):
    monkeypatch.setitem(benchmark.BENCH, "train_steps", 2)
    monkeypatch.setitem(benchmark.BENCH, "infer_images", 256)
    monkeypatch.setitem(benchmark.BENCH, "infer_batch", 128)
    threads = torch.get_num_threads()
    X = np.random.default_rng(0).normal(size=(300, 1, 28, 28)).astype(np.float32)
    t = benchmark.cost_benchmark({"S": SimpleCNN, "L": LeNet5}, X, repeats=2)
    assert torch.get_num_threads() == threads
    assert len(t) == 2 * 2 * 2 and (t["images_per_s"] > 0).all()
    assert t[t.repeat == 0]["model"].iloc[0] == "S" and t[t.repeat == 1]["model"].iloc[0] == "L"
    s = benchmark.summarise(t)
    assert set(s.columns) >= {"median", "q25", "q75"} and (s["q25"] <= s["median"]).all()
    with pytest.raises(ValueError, match="at least 256"):
        benchmark.cost_benchmark({"S": SimpleCNN}, X[:10])
    with pytest.raises(ValueError, match="repeats"):
        benchmark.cost_benchmark({"S": SimpleCNN}, X, repeats=0)


def test_summary_and_ratio_against_numpy():
    t = pd.DataFrame({"repeat": [0, 0, 1, 1, 2, 2] * 2, "model": ["A", "B"] * 6,
                      "task": ["train"] * 6 + ["inference"] * 6,
                      "images_per_s": [10, 5, 12, 5, 8, 4, 30, 30, 31, 29, 29, 31.0]})
    s = benchmark.summarise(t).set_index(["model", "task"])
    assert s.loc[("A", "train"), "median"] == 10 and s.loc[("A", "train"), "q25"] == np.quantile([10, 12, 8], 0.25)
    r = benchmark.speed_ratios(t, "A", "B")
    assert r["train"] == np.median([2.0, 2.4, 2.0]) and r["inference"] == pytest.approx(np.median([1, 31 / 29, 29 / 31]))
