"""gradcam_sanity: rank correlation against scipy, the cascade, verdicts on both sides."""
import numpy as np
import pandas as pd
import torch
from scipy import stats

from fmnist_lib.saliency.sanity import (cascading_layers, cascading_randomisation,
                                       randomisation_summary, randomisation_verdict,
                                       layer_labels, rank_correlation)
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
    trace = rng.normal(0.15, 0.02, 20)
    both = randomisation_verdict({"Grad-CAM": summary(low, low), "HiResCAM": summary(high, trace)},
                                 "LeNet-5")
    assert both.startswith("On LeNet-5, Grad-CAM's correlation with the trained maps peaks at") and "both layers random" in both
    assert "only Grad-CAM passes" in both and "HiResCAM (0.1" in both and "weak dependence" in both
    passed = randomisation_verdict({"Grad-CAM": summary(low - 0.1, low - 0.1)}, "X")
    assert "it passes" in passed and "weak dependence" not in passed
    assert "check fails" in randomisation_verdict({"Grad-CAM": summary(high, high)}, "X")
    # a non-monotone cascade fails when any step stays similar, whatever its end
    assert "check fails" in randomisation_verdict({"Grad-CAM": summary(high, low)}, "X")


def test_layer_labels():
    assert layer_labels(LeNet5()) == {"features.0": "conv1", "features.3": "conv2",
                                      "classifier.0": "fc120", "classifier.2": "fc84",
                                      "classifier.4": "fc10"}
