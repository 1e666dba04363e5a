"""gradcam_sanity: rank correlation against scipy, the cascade, verdicts on both sides."""
import numpy as np
import pytest
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


# --- pinned to independent references (issue 25) ------------------------------------------

def test_cascade_equals_pytorch_grad_cam_and_scipy_and_changes_the_maps():
    """The cascade redone by hand: the same cumulative re-initialisation from the output,
    maps by pytorch-grad-cam, correlations by scipy. A "randomisation" that changed nothing
    would give correlations of 1 and fail here."""
    import copy

    from test_gradcam import reference_maps

    torch.manual_seed(0)
    model = SimpleCNN().eval()
    x, t = torch.randn(8, 1, 28, 28), np.arange(8) % 10
    df = cascading_randomisation(model, x, t, seed=3)
    trained = reference_maps(model, x, t)
    randomised = copy.deepcopy(model)
    modules = dict(randomised.named_modules())
    torch.manual_seed(3)
    for step, name in enumerate(["classifier.1", "features.0"], start=1):
        modules[name].reset_parameters()
        maps = reference_maps(randomised, x, t)
        ref = [stats.spearmanr(trained[i].ravel(), maps[i].ravel()).statistic for i in range(8)]
        got = df[df["step"] == step]
        assert set(got["layer"]) == {name}
        np.testing.assert_allclose(got["spearman"], ref, atol=1e-6)
    assert df.groupby("step")["spearman"].mean().max() < 0.8


def test_randomisation_summary_equals_scipy_per_step():
    rng = np.random.default_rng(0)
    rho = rng.normal(0.3, 0.2, 40)
    rho[[3, 25]] = np.nan  # constant maps: left out, and not counted
    df = pd.DataFrame({"step": [1] * 20 + [2] * 20, "layer": ["fc"] * 20 + ["conv"] * 20,
                       "image": list(range(20)) * 2, "spearman": rho})
    s = randomisation_summary(df).set_index("step")
    for step, part in ((1, rho[:20]), (2, rho[20:])):
        v = part[~np.isnan(part)]
        ci = stats.ttest_1samp(v, 0).confidence_interval(0.95)
        row = s.loc[step]
        assert row["n"] == 19 and row["spearman"] == pytest.approx(v.mean())
        assert (row["low"], row["high"]) == pytest.approx((ci.low, ci.high))
    assert list(s["layer"]) == ["fc", "conv"]


def cascade(highs, last_low, means=None):
    """A randomisation summary with the given upper CI ends per step and lower end at the last."""
    highs = list(highs)
    means = means or [h - 0.05 for h in highs]
    lows = [m - 0.05 for m in means[:-1]] + [last_low]
    return pd.DataFrame({"step": range(1, len(highs) + 1), "layer": [f"l{i}" for i in range(len(highs))],
                         "spearman": means, "low": lows, "high": highs, "n": 20})


@pytest.mark.parametrize("high, passes", [(0.5, False), (np.nextafter(0.5, 0), True)])
def test_randomisation_verdict_at_the_threshold(high, passes):
    text = randomisation_verdict({"Grad-CAM": cascade([0.2, high], -0.1)}, "X")
    assert ("it passes" in text) == passes and ("check fails" in text) == (not passes)
    # one step at the threshold anywhere in the cascade is enough to fail
    early = randomisation_verdict({"Grad-CAM": cascade([high, 0.1, 0.1], -0.1)}, "X")
    assert ("it passes" in early) == passes


@pytest.mark.parametrize("low, keeps", [(0.0, False), (np.nextafter(0.0, 1), True)])
def test_randomisation_verdict_weak_dependence_at_zero(low, keeps):
    text = randomisation_verdict({"Grad-CAM": cascade([0.2, 0.1], low, means=[0.1, 0.05])}, "X")
    assert ("weak dependence" in text) == keeps and "it passes" in text


def test_randomisation_verdict_numbers_and_mixed_outcome():
    s = {"Grad-CAM": cascade([0.3, 0.2, 0.1], -0.05, means=[0.25, 0.15, 0.05]),
         "HiResCAM": cascade([0.9, 0.4, 0.3], 0.2, means=[0.85, 0.35, 0.25])}
    text = randomisation_verdict(s, "LeNet-5")
    assert text == ("On LeNet-5, Grad-CAM's correlation with the trained maps peaks at 0.25 and ends "
                    "at 0.05 with all 3 layers random and HiResCAM's peaks at 0.85 and ends at 0.25: "
                    "only Grad-CAM passes, though HiResCAM (0.20–0.30) keeps a weak dependence on the "
                    "image with every layer random (CI above 0).")


def test_summary_orders_steps_whatever_the_row_order_and_verdict_needs_summaries():
    rng = np.random.default_rng(1)
    df = pd.DataFrame({"step": [1] * 10 + [2] * 10 + [3] * 10, "layer": ["c"] * 10 + ["b"] * 10 + ["a"] * 10,
                       "image": list(range(10)) * 3, "spearman": np.r_[rng.normal(0.6, 0.05, 10),
                                                                        rng.normal(0.3, 0.05, 10),
                                                                        rng.normal(0.1, 0.05, 10)]})
    s = randomisation_summary(df.sample(frac=1, random_state=0))  # rows shuffled
    assert list(s["step"]) == [1, 2, 3] and list(s["layer"]) == ["c", "b", "a"]
    with pytest.raises(ValueError, match=r"^summaries is empty\.$"):
        randomisation_verdict({}, "X")


def test_randomisation_verdict_wording_for_two_and_three_maps():
    good, bad = cascade([0.2, 0.1], -0.1, means=[0.1, 0.0]), cascade([0.9, 0.8], 0.6, means=[0.85, 0.7])
    two = randomisation_verdict({"A": good, "B": good}, "M")
    assert two == ("On M, A's correlation with the trained maps peaks at 0.10 and ends at 0.00 with both "
                   "layers random and B's peaks at 0.10 and ends at 0.00: both pass.")
    three = randomisation_verdict({"A": good, "B": good, "C": good}, "M")
    assert three.startswith("On M, A's correlation with the trained maps peaks at 0.10 and ends at 0.00 "
                            "with both layers random, B's peaks") and three.endswith(": all pass.")
    mixed = randomisation_verdict({"A": good, "B": bad, "C": good}, "M")
    assert ": only A and C pass, though B (0.60–0.80) keeps a weak dependence" in mixed
    both_keep = randomisation_verdict({"A": bad, "B": bad}, "M")
    assert "the check fails, though A (0.60–0.80) and B (0.60–0.80) keep a weak" in both_keep


def test_randomisation_verdict_exact_sentence_for_one_map():
    text = randomisation_verdict({"Grad-CAM": cascade([0.2, 0.1], -0.1, means=[0.1, 0.0])}, "M")
    assert text == ("On M, Grad-CAM's correlation with the trained maps peaks at 0.10 and ends at 0.00 "
                    "with both layers random: it passes.")


# --- mutation survivors of the correlations and the cascade (issue 25) ---------------------

def test_row_pearson_equals_numpy_per_row_and_is_nan_for_a_constant_row():
    from fmnist_lib.saliency.sanity import row_pearson

    rng = np.random.default_rng(5)
    a, b = rng.normal(size=(4, 9)), rng.normal(size=(4, 9))  # not square: rows and columns differ
    b[1] = 2 * a[1] - 3  # an affine image of its row: r = 1
    b[2] = 5.0  # a constant row: undefined
    r = row_pearson(a, b)
    assert r.shape == (4,)
    for i in (0, 1, 3):
        assert r[i] == pytest.approx(np.corrcoef(a[i], b[i])[0, 1], abs=1e-12)
    assert r[1] == pytest.approx(1.0, abs=1e-12) and np.isnan(r[2])
    small = 1e-3 * a  # rows of small spread (denominator below 1) are still correlated
    np.testing.assert_allclose(row_pearson(small, 1e-3 * b)[[0, 1, 3]], r[[0, 1, 3]], atol=1e-12)
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the constant row's 0 / 0 stays silent
        row_pearson(a, b)


def test_rank_correlation_on_non_square_maps_with_ties_and_its_shape_error():
    rng = np.random.default_rng(6)
    a = rng.integers(0, 3, size=(3, 4, 7)).astype(float)  # ties: average ranks
    b = rng.random((3, 4, 7))
    rho = rank_correlation(a, b)
    ref = [stats.spearmanr(a[i].ravel(), b[i].ravel()).statistic for i in range(3)]
    np.testing.assert_allclose(rho, ref, atol=1e-12)
    with pytest.raises(ValueError, match=r"^maps_a \(2, 16\) and maps_b \(3, 16\) differ\.$"):
        rank_correlation(np.ones((2, 4, 4)), np.ones((3, 4, 4)))
    with pytest.raises(ValueError, match=r"^maps_a \(2, 16\) and maps_b \(2, 9\) differ\.$"):
        rank_correlation(np.ones((2, 4, 4)), np.ones((2, 3, 3)))


def test_cascade_of_hirescam_with_the_default_seed_equals_pytorch_grad_cam():
    """The method and the default seed reach every step; the frame is indexed 0..n-1 and the
    caller's torch generator is left as it was."""
    import copy

    from pytorch_grad_cam import HiResCAM as RefHiResCAM
    from test_gradcam import reference_maps

    torch.manual_seed(1)
    model = SimpleCNN().eval()
    x, t = torch.randn(4, 1, 28, 28), np.array([3, 1, 4, 1])
    torch.manual_seed(123)
    state = torch.random.get_rng_state()
    df = cascading_randomisation(model, x, t, method="hirescam")
    assert torch.equal(torch.random.get_rng_state(), state)
    assert list(df.columns) == ["step", "layer", "image", "spearman"]
    assert df.index.equals(pd.RangeIndex(8)) and list(df["image"]) == [0, 1, 2, 3] * 2
    trained = reference_maps(model, x, t, method=RefHiResCAM)
    randomised = copy.deepcopy(model)
    modules = dict(randomised.named_modules())
    torch.manual_seed(0)
    for step, name in enumerate(["classifier.1", "features.0"], start=1):
        modules[name].reset_parameters()
        maps = reference_maps(randomised, x, t, method=RefHiResCAM)
        ref = [stats.spearmanr(trained[i].ravel(), maps[i].ravel()).statistic for i in range(4)]
        got = df[df["step"] == step]
        assert list(got["layer"]) == [name] * 4
        np.testing.assert_allclose(got["spearman"], ref, atol=1e-6)


def test_cascading_layers_names_a_model_without_layers():
    with pytest.raises(ValueError, match=r"^ReLU has no conv or linear layer to randomise\.$"):
        cascading_layers(torch.nn.ReLU())
