"""saliency.sanity: rank correlation against scipy, the cascade and its reference by hand, and the
rule on both sides of its margin (the sentence: tests/paper/test_saliency_text.py)."""
import numpy as np
import pytest
import pandas as pd
import torch
from scipy import stats

from fmnist_lib.saliency.sanity import (MARGIN, cascading_layers, cascading_randomisation,
                                       independent_randomisation, layer_labels, randomisation_check,
                                       randomisation_outcome, randomisation_summary, rank_correlation)
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


# --- the reference and the rule -------------------------------------------------------------

def two_reset_networks_by_hand(model, x, t, seeds, method=None):
    """Per image, scipy's rank correlation of pytorch-grad-cam's maps of two copies of ``model``
    with every layer reset, one at each of ``seeds``."""
    import copy

    from pytorch_grad_cam import GradCAM
    from test_gradcam import reference_maps

    maps = []
    for s in seeds:
        fresh = copy.deepcopy(model)
        modules = dict(fresh.named_modules())
        torch.manual_seed(s)
        for name in cascading_layers(model):
            modules[name].reset_parameters()
        maps.append(reference_maps(fresh, x, t, method=method or GradCAM))
    return [stats.spearmanr(maps[0][i].ravel(), maps[1][i].ravel()).statistic for i in range(len(x))]


def test_independent_randomisation_equals_two_networks_reset_by_hand():
    """Two copies with every layer reset (seeds seed + 1 and seed + 2), maps by pytorch-grad-cam,
    correlations by scipy; the trained weights play no part and the model is untouched."""
    torch.manual_seed(0)
    model = SimpleCNN().eval()  # its layer has the image's grid: pytorch-grad-cam's maps are ours
    before = {k: v.clone() for k, v in model.state_dict().items()}
    x, t = torch.randn(6, 1, 28, 28), np.arange(6) % 10
    state = torch.random.get_rng_state()
    ref = independent_randomisation(model, x, t, seed=4)
    assert torch.equal(torch.random.get_rng_state(), state)
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    by_hand = two_reset_networks_by_hand(model, x, t, (5, 6))
    assert list(ref.columns) == ["image", "spearman"] and list(ref["image"]) == list(range(6))
    np.testing.assert_allclose(ref["spearman"], by_hand, atol=1e-4)  # float32 maps: near-ties may swap
    torch.manual_seed(1)
    other = SimpleCNN().eval()  # other trained weights, the same architecture: the same reference
    assert np.allclose(independent_randomisation(other, x, t, seed=4)["spearman"], ref["spearman"], equal_nan=True)


@pytest.mark.parametrize("low, high, outcome", [
    (-0.2, np.nextafter(MARGIN, 0), "passes"), (-0.2, MARGIN, "undecided"),
    (np.nextafter(MARGIN, 1), 0.3, "fails"), (MARGIN, 0.3, "undecided"),
    (0.05, 0.15, "undecided"), (np.nan, np.nan, "undecided")])
def test_randomisation_outcome_at_the_margins_edges(low, high, outcome):
    assert randomisation_outcome(low, high) == outcome


def test_randomisation_outcome_refuses_a_reversed_interval():
    with pytest.raises(ValueError, match=r"^low \(0\.2\) must not exceed high \(0\.1\)\.$"):
        randomisation_outcome(0.2, 0.1)


def steps(last, early, n):
    return pd.DataFrame({"step": [1] * n + [2] * n, "layer": ["fc"] * n + ["conv"] * n,
                         "image": list(range(n)) * 2, "spearman": np.r_[early, last]})


def test_randomisation_check_reads_every_number_on_one_set_of_images():
    """The images where a step or the reference is undefined leave every number; the excess is the
    paired difference on the rest (its mean is last minus reference) and the rule reads its CI, so
    a map well below the old fixed 0.5 can fail, and one high in an early step still passes when
    its end is at the reference."""
    rng = np.random.default_rng(2)
    ref = rng.normal(0.15, 0.05, 30)
    last, early = ref + 0.15 + rng.normal(0, 0.01, 30), np.full(30, 0.9)
    last[3], early[7], ref[11] = np.nan, np.nan, np.nan
    c = randomisation_check(steps(last, early, 30), pd.DataFrame({"image": range(30), "spearman": ref}))
    keep = np.setdiff1d(np.arange(30), [3, 7, 11])
    d = last[keep] - ref[keep]
    ci = stats.ttest_1samp(d, 0).confidence_interval(0.95)
    assert c["excess"] == pytest.approx((d.mean(), ci.low, ci.high))
    assert c["excess"][0] == pytest.approx(c["last"][0] - c["reference"][0])
    assert (c["n"], c["images"], c["steps"]) == (27, 30, 2)
    assert c["last"][0] == pytest.approx(last[keep].mean()) and c["reference"][0] == pytest.approx(ref[keep].mean())
    assert list(c["summary"]["n"]) == [27, 27] and c["summary"]["spearman"].iloc[-1] == pytest.approx(c["last"][0])
    assert c["outcome"] == "fails" and c["last"][2] < 0.5
    full = pd.DataFrame({"image": range(30), "spearman": np.nan_to_num(ref, nan=0.15)})
    near = randomisation_check(steps(full["spearman"].to_numpy() + 0.02, np.full(30, 0.9), 30), full)
    assert near["outcome"] == "passes" and near["margin"] == MARGIN and near["summary"]["spearman"].iloc[0] == pytest.approx(0.9)
    with pytest.raises(ValueError, match="same images"):
        randomisation_check(steps(last, last, 30), pd.DataFrame({"image": range(1, 31), "spearman": ref}))
    with pytest.raises(ValueError, match="must both have rows"):
        randomisation_check(steps(last, last, 30).iloc[:0], pd.DataFrame({"image": range(30), "spearman": ref}))


def test_randomisation_checks_pair_each_cascade_with_its_own_reference():
    from fmnist_lib.saliency.sanity import randomisation_checks

    rng = np.random.default_rng(3)
    ref_a, ref_b = rng.normal(0.1, 0.02, 20), rng.normal(0.5, 0.02, 20)
    rows, refs = [], []
    for (model, explainer), ref in ((("simple", "gradcam"), ref_a), (("lenet", "gradcam"), ref_b)):
        s = steps(ref_a + 0.3, np.full(20, 0.9), 20)  # both cascades end 0.3 above reference a
        rows.append(s.assign(model=model, explainer=explainer))
        refs.append(pd.DataFrame({"image": range(20), "spearman": ref, "model": model, "explainer": explainer}))
    checks = randomisation_checks(pd.concat(rows), pd.concat(refs))
    assert list(checks) == [("simple", "gradcam"), ("lenet", "gradcam")]
    # against its own reference the first fails (0.3 above), the second passes (about 0.1 below b)
    assert checks[("simple", "gradcam")]["outcome"] == "fails"
    assert checks[("lenet", "gradcam")]["outcome"] == "passes"
    assert checks[("lenet", "gradcam")]["reference"][0] == pytest.approx(ref_b.mean())


# --- mutation survivors of the reference and the rule (issue 25) ----------------------------

def test_randomisation_summary_orders_the_steps_whatever_the_rows_order():
    df = pd.DataFrame({"step": [2, 2, 2, 1, 1, 1], "layer": ["conv"] * 3 + ["fc"] * 3,
                       "image": [0, 1, 2] * 2, "spearman": [0.1, 0.2, 0.6, 0.5, 0.7, 0.9]})
    s = randomisation_summary(df)
    assert list(s["step"]) == [1, 2] and list(s["layer"]) == ["fc", "conv"]
    assert list(s["spearman"]) == pytest.approx([0.7, 0.3])


def test_randomisation_outcome_of_an_interval_of_zero_width():
    assert randomisation_outcome(0.2, 0.2) == "fails" and randomisation_outcome(0.0, 0.0) == "passes"
    assert randomisation_outcome(MARGIN, MARGIN) == "undecided"


def test_randomisation_check_pairs_a_shuffled_reference_by_image_and_reads_its_margin():
    """The reference's rows in another order are paired by image, not by position; the CI of the
    excess straddling the margin is undecided, and a margin given is the one the rule reads."""
    rng = np.random.default_rng(4)
    n = 12
    ref = rng.normal(0.2, 0.05, n)
    last = ref + MARGIN + rng.normal(0, 0.05, n)  # the excess's CI straddles 0.1
    ref[5] = np.nan
    order = rng.permutation(n)
    reference = pd.DataFrame({"image": order, "spearman": ref[order]})
    c = randomisation_check(steps(last, np.full(n, 0.8), n), reference)
    keep = np.delete(np.arange(n), 5)
    d = last[keep] - ref[keep]
    ci = stats.ttest_1samp(d, 0).confidence_interval(0.95)
    assert c["excess"] == pytest.approx((d.mean(), ci.low, ci.high)) and ci.low < MARGIN < ci.high
    assert c["reference"][0] == pytest.approx(ref[keep].mean()) and c["n"] == n - 1
    assert c["outcome"] == "undecided"
    wide = randomisation_check(steps(last, np.full(n, 0.8), n), reference, margin=ci.high + 0.01)
    assert wide["outcome"] == "passes" and wide["margin"] == ci.high + 0.01
    assert randomisation_check(steps(last, np.full(n, 0.8), n), reference, margin=ci.low - 0.01)["outcome"] == "fails"


def test_randomisation_check_errors_say_what_is_wrong_and_the_fix():
    last = np.linspace(0, 0.5, 30)
    with pytest.raises(ValueError, match=r"^cascade and reference must both have rows \(one model and "
                                         r"explainer each\)\.$"):
        randomisation_check(steps(last, last, 30).iloc[:0], pd.DataFrame({"image": range(30), "spearman": last}))
    with pytest.raises(ValueError, match=r"^cascade and reference must both have rows"):
        randomisation_check(steps(last, last, 30), pd.DataFrame({"image": [], "spearman": []}))
    with pytest.raises(ValueError, match=r"^The cascade has images \[0, 1, 2, 3, 4\]\.\.\., the reference "
                                         r"\[1, 2, 3, 4, 5\]\.\.\.: compute both on the same images\.$"):
        randomisation_check(steps(last, last, 30), pd.DataFrame({"image": range(1, 31), "spearman": last}))


def test_randomisation_checks_pass_their_margin_on():
    from fmnist_lib.saliency.sanity import randomisation_checks

    rng = np.random.default_rng(8)
    ref = rng.normal(0.1, 0.02, 20)
    cascade = steps(ref + 0.3 + rng.normal(0, 0.01, 20), np.full(20, 0.9), 20).assign(model="simple", explainer="gradcam")
    reference = pd.DataFrame({"image": range(20), "spearman": ref, "model": "simple", "explainer": "gradcam"})
    assert randomisation_checks(cascade, reference)[("simple", "gradcam")]["outcome"] == "fails"
    loose = randomisation_checks(cascade, reference, margin=0.5)[("simple", "gradcam")]
    assert loose["outcome"] == "passes" and loose["margin"] == 0.5


def test_independent_randomisation_of_hirescam_with_the_default_seed():
    """The method reaches both networks' maps and the default seed is 0 (networks 1 and 2)."""
    from pytorch_grad_cam import HiResCAM

    torch.manual_seed(2)
    model = SimpleCNN().eval()
    x, t = torch.randn(4, 1, 28, 28), np.array([2, 7, 1, 8])
    ref = independent_randomisation(model, x, t, method="hirescam")
    np.testing.assert_allclose(ref["spearman"], two_reset_networks_by_hand(model, x, t, (1, 2), HiResCAM), atol=1e-4)
