"""gradcam_sanity: rank correlation against scipy, the cascade, verdicts on both sides."""
import numpy as np
import pandas as pd
import torch
from scipy import stats

from fmnist_lib.gradcam_sanity import (cascading_layers, cascading_randomisation,
                                       randomisation_summary, randomisation_verdict,
                                       rank_correlation)
from fmnist_lib.models import LeNet5, SimpleCNN


def test_rank_correlation_equals_scipy():
    rng = np.random.default_rng(0)
    a, b = rng.random((3, 28, 28)), rng.random((3, 28, 28))
    b[1] = a[1] ** 3  # monotone: rho = 1
    rho = rank_correlation(a, b)
    for i in range(3):
        assert np.isclose(rho[i], stats.spearmanr(a[i].ravel(), b[i].ravel()).statistic)
    assert np.isclose(rho[1], 1.0)
    assert np.isnan(rank_correlation(np.zeros((1, 28, 28)), a[:1])[0])


def test_cascade_order_and_model_untouched():
    assert cascading_layers(LeNet5()) == ["classifier.4", "classifier.2", "classifier.0",
                                          "features.3", "features.0"]
    torch.manual_seed(0)
    model = SimpleCNN().eval()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    x = torch.randn(6, 1, 28, 28)
    df = cascading_randomisation(model, x, np.arange(6) % 10)
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert list(df["layer"].unique()) == ["classifier.1", "features.0"] and len(df) == 12
    again = cascading_randomisation(model, x, np.arange(6) % 10)
    assert df.equals(again)  # seeded


def summary(values_first, values_last):
    return randomisation_summary(pd.DataFrame({
        "step": [1] * 20 + [2] * 20, "layer": ["fc"] * 20 + ["conv"] * 20,
        "image": list(range(20)) * 2, "spearman": list(values_first) + list(values_last)}))


def test_verdicts_on_both_sides():
    rng = np.random.default_rng(0)
    low, high = rng.normal(0.05, 0.05, 20), rng.normal(0.9, 0.02, 20)
    assert "passes" in randomisation_verdict(summary(low, low), "Grad-CAM on LeNet-5")
    assert "check fails" in randomisation_verdict(summary(high, high), "Grad-CAM on LeNet-5")
    assert "only for the whole network" in randomisation_verdict(summary(high, low), "X on Y")
