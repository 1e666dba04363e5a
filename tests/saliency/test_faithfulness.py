"""saliency.faithfulness: CIs against scipy, the gaps and their pass on both sides of zero (the
counts, verdicts and figure: tests/paper/test_saliency_text.py, test_saliency_tables.py,
test_gradcam_plots.py)."""
import numpy as np
import pandas as pd
import pytest
from scipy import stats

from fmnist_lib.saliency.faithfulness import faithfulness_summary, mean_ci
from synthetic import FILLS, constant_gaps, faith_areas as areas


def test_mean_ci_equals_scipy():
    v = np.random.default_rng(0).normal(0.3, 1.0, 50)
    m, low, high = mean_ci(v)
    ref = stats.ttest_1samp(v, 0).confidence_interval(0.95)
    assert np.isclose(m, v.mean()) and np.isclose(low, ref.low) and np.isclose(high, ref.high)
    assert np.isnan(mean_ci([1.0])[1]) and np.isnan(mean_ci([])[0])
    assert mean_ci([1.0, np.nan, 3.0])[0] == 2.0


def test_summary_gaps_by_hand():
    s = faithfulness_summary(areas({("gradcam", f): 0.2 for f in FILLS}))
    g = s[s["explainer"] == "gradcam"]
    assert len(g) == 8 and g["passes"].all() and np.allclose(g["gap"], 0.2, atol=0.02)
    assert g["beats_baseline"].all()  # brightness has no effect here
    b = s[s["explainer"] == "brightness"]
    assert not b["passes"].any() and "beats_baseline" not in b.dropna(axis=1).columns
    with pytest.raises(ValueError, match="random"):
        faithfulness_summary(areas({}).query("explainer != 'random'"))


# --- pinned to independent references (issue 25) ------------------------------------------

def test_summary_gap_direction_and_interval_equal_scipy():
    rng = np.random.default_rng(3)
    n = 30
    base, dele, ins = rng.uniform(0.3, 0.7, n), rng.uniform(0.2, 0.6, n), rng.uniform(0.4, 0.8, n)
    frames = []
    for test, area in (("deletion", dele), ("insertion", ins)):
        for e, a in (("random", base), ("gradcam", area), ("brightness", base + rng.normal(0, 0.05, n))):
            frames.append(pd.DataFrame({"model": "simple", "explainer": e, "test": test, "fill": "black",
                                        "image": np.arange(n), "area": a}))
    areas = pd.concat(frames, ignore_index=True)
    s = faithfulness_summary(areas).set_index(["explainer", "test"])
    bright = {t: areas.query("explainer == 'brightness' and test == @t")["area"].to_numpy()
              for t in ("deletion", "insertion")}
    for test, gap, vs in (("deletion", base - dele, bright["deletion"] - dele),
                          ("insertion", ins - base, ins - bright["insertion"])):
        row = s.loc[("gradcam", test)]
        ci = stats.ttest_1samp(gap, 0).confidence_interval(0.95)
        assert row["gap"] == pytest.approx(gap.mean()) and row["n"] == n
        assert (row["gap_low"], row["gap_high"]) == pytest.approx((ci.low, ci.high))
        assert row["passes"] == (ci.low > 0)
        vci = stats.ttest_1samp(vs, 0).confidence_interval(0.95)
        assert row["vs_baseline"] == pytest.approx(vs.mean())
        assert row["vs_baseline_low"] == pytest.approx(vci.low) and row["beats_baseline"] == (vci.low > 0)
        assert row["area"] == pytest.approx(areas.query("explainer == 'gradcam' and test == @test")["area"].mean())
        assert row["random_area"] == pytest.approx(base.mean())


@pytest.mark.parametrize("gap, passes", [(0.0, False), (1e-9, True), (-1e-9, False)])
def test_pass_at_a_gap_of_zero(gap, passes):
    s = faithfulness_summary(constant_gaps({("deletion", "black"): gap, ("insertion", "black"): 0.1}))
    row = s.set_index("test").loc["deletion"]
    assert row["gap_low"] == pytest.approx(gap, abs=1e-12) and row["gap_high"] == pytest.approx(gap, abs=1e-12)
    assert bool(row["passes"]) == passes


# --- mutation survivors of mean_ci (issue 25) ----------------------------------------------

@pytest.mark.parametrize("n", [2, 3])
def test_mean_ci_from_two_values_on_equals_scipy(n):
    """The smallest samples that have an interval: the t quantile with n - 1 degrees of freedom."""
    v = np.array([0.2, 0.7, 0.45])[:n]
    m, low, high = mean_ci(v)
    ci = stats.ttest_1samp(v, 0).confidence_interval(0.95)
    assert m == pytest.approx(v.mean(), abs=1e-15)
    assert (low, high) == pytest.approx((ci.low, ci.high), abs=1e-12)
    one = mean_ci([0.3, np.nan])  # one value left: its mean, no interval
    assert one[0] == 0.3 and np.isnan(one[1]) and np.isnan(one[2])
    assert all(np.isnan(mean_ci([np.nan, np.nan])))


def test_mean_ci_at_other_levels_equals_scipy():
    v = np.random.default_rng(4).normal(-0.1, 0.5, 12)
    for level in (0.5, 0.9, 0.99):
        _, low, high = mean_ci(v, level=level)
        ci = stats.ttest_1samp(v, 0).confidence_interval(level)
        assert (low, high) == pytest.approx((ci.low, ci.high), abs=1e-12), level


def test_mean_ci_computes_in_float64_whatever_the_input():
    v32 = np.random.default_rng(5).normal(0.3, 1.0, 1000).astype(np.float32)
    v = v32.astype(np.float64)
    m, low, high = mean_ci(v32)
    ci = stats.ttest_1samp(v, 0).confidence_interval(0.95)
    assert m == pytest.approx(v.mean(), abs=1e-15)
    assert (low, high) == pytest.approx((ci.low, ci.high), abs=1e-14)
    assert mean_ci([1, 2, 4]) == pytest.approx(mean_ci([1.0, 2.0, 4.0]), abs=0)
