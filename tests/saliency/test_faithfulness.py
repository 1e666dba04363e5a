"""gradcam_faithfulness: CIs against scipy, gaps and verdicts on both sides."""
import numpy as np
import pandas as pd
import pytest
from scipy import stats

from fmnist_lib.saliency.faithfulness import (brightness_clause, faithful_clause, faithfulness_summary,
                                             faithfulness_counts, faithfulness_verdict, mean_ci, plot_faithfulness)

FILLS = ("black", "mean", "blur", "road")


def test_mean_ci_equals_scipy():
    v = np.random.default_rng(0).normal(0.3, 1.0, 50)
    m, low, high = mean_ci(v)
    ref = stats.ttest_1samp(v, 0).confidence_interval(0.95)
    assert np.isclose(m, v.mean()) and np.isclose(low, ref.low) and np.isclose(high, ref.high)
    assert np.isnan(mean_ci([1.0])[1]) and np.isnan(mean_ci([])[0])
    assert mean_ci([1.0, np.nan, 3.0])[0] == 2.0


def areas(effects: dict, n: int = 40, seed: int = 0) -> pd.DataFrame:
    """Areas where ``effects[(explainer, fill)]`` is how much better than random the map does."""
    rng = np.random.default_rng(seed)
    rows = []
    for fill in FILLS:
        for test in ("deletion", "insertion"):
            base = rng.uniform(0.3, 0.7, n)
            rows.append(pd.DataFrame({"explainer": "random", "area": base}))
            for e in ("gradcam", "brightness"):
                d = effects.get((e, fill), 0.0) + rng.normal(0, 0.02, n)
                rows[-1:] += [pd.DataFrame({"explainer": e,
                                            "area": base - d if test == "deletion" else base + d})]
            for df in rows[-3:]:
                df["test"], df["fill"], df["image"], df["model"] = test, fill, np.arange(n), "simple"
    return pd.concat(rows, ignore_index=True)


def test_summary_gaps_by_hand():
    s = faithfulness_summary(areas({("gradcam", f): 0.2 for f in FILLS}))
    g = s[s["explainer"] == "gradcam"]
    assert len(g) == 8 and g["passes"].all() and np.allclose(g["gap"], 0.2, atol=0.02)
    assert g["beats_baseline"].all()  # brightness has no effect here
    b = s[s["explainer"] == "brightness"]
    assert not b["passes"].any() and "beats_baseline" not in b.dropna(axis=1).columns
    with pytest.raises(ValueError, match="random"):
        faithfulness_summary(areas({}).query("explainer != 'random'"))


def test_verdicts_on_both_sides():
    every = faithfulness_summary(areas({("gradcam", f): 0.2 for f in FILLS}))
    text = faithfulness_verdict(every, "simple")
    assert text == ("On Simple CNN, Grad-CAM passes 8 of 8 tests; no map does significantly "
                    "worse than random.")
    none = faithfulness_summary(areas({("gradcam", f): -0.2 for f in FILLS}))
    text = faithfulness_verdict(none, "simple")
    assert "passes 0 of 8" in text and ("worse than random: Grad-CAM in deletion with black, "
                                        "blur and mean fill, ROAD deletion, insertion") in text
    mixed = faithfulness_summary(areas({("gradcam", "black"): 0.2, ("brightness", "black"): 0.4}))
    counts = faithfulness_counts(mixed).set_index("explainer")
    assert counts.loc["Grad-CAM", "passed (of 8)"] == 2 and counts.loc["Grad-CAM", "beats brightness"] == "0"
    assert counts.loc["Brightness (no model)", "beats brightness"] == ""  # capitalised, no self-test
    assert counts.loc["Brightness (no model)", "worse than random"] == 0
    assert counts.loc["Grad-CAM", "worse than random"] == 0
    assert faithfulness_counts(none).set_index("explainer").loc["Grad-CAM", "worse than random"] == 8
    assert faithful_clause(every) == "Grad-CAM passes every perturbation test on Simple CNN"
    assert faithful_clause(mixed) == "no map passes every perturbation test on Simple CNN"
    with pytest.raises(ValueError, match="No rows"):
        faithfulness_verdict(every, "lenet")
    assert len(plot_faithfulness(every).axes) == 1  # one panel per model (data: see below)


def test_brightness_beating_the_maps_is_said_plainly():
    mixed = faithfulness_summary(areas({("gradcam", "black"): 0.2, ("brightness", "black"): 0.4,
                                        ("brightness", "blur"): 0.3}))
    g = mixed[mixed["explainer"] == "gradcam"].set_index(["test", "fill"])
    # brightness does better with black and blur fills (both tests): 4 of 8
    assert g["loses_to_baseline"].sum() == 4 and g.loc[("deletion", "black"), "loses_to_baseline"]
    assert (g["vs_baseline_high"] < 0).sum() == 4
    counts = faithfulness_counts(mixed).set_index("explainer")
    assert counts.loc["Grad-CAM", "brightness better"] == "4"
    assert brightness_clause(mixed) == ("The image's brightness, which knows nothing of the model: "
                                        "on Simple CNN it beats Grad-CAM on 4 of 8 tests.")
    every = faithfulness_summary(areas({("gradcam", f): 0.2 for f in FILLS}))
    assert brightness_clause(every).endswith("on Simple CNN it beats no map.")



# --- pinned to independent references (issue 25) ------------------------------------------

def constant_gaps(gaps: dict, n: int = 10) -> pd.DataFrame:
    """Areas whose per-image gap over random is exactly ``gaps[(test, fill)]`` on every image
    (so the 95 % CI is that single value) for Grad-CAM on the simple model."""
    rows = []
    for (test, fill), g in gaps.items():
        base = np.linspace(0.25, 0.75, n)
        area = base - g if test == "deletion" else base + g
        for e, a in (("random", base), ("gradcam", area)):
            rows.append(pd.DataFrame({"model": "simple", "explainer": e, "test": test, "fill": fill,
                                      "image": np.arange(n), "area": a}))
    return pd.concat(rows, ignore_index=True)


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


@pytest.mark.parametrize("gap, passes, worse", [(0.0, False, False), (1e-9, True, False), (-1e-9, False, True)])
def test_pass_and_worse_than_random_at_a_gap_of_zero(gap, passes, worse):
    s = faithfulness_summary(constant_gaps({("deletion", "black"): gap, ("insertion", "black"): 0.1}))
    row = s.set_index("test").loc["deletion"]
    assert row["gap_low"] == pytest.approx(gap, abs=1e-12) and row["gap_high"] == pytest.approx(gap, abs=1e-12)
    assert bool(row["passes"]) == passes
    text = faithfulness_verdict(s, "simple")
    assert text.startswith(f"On Simple CNN, Grad-CAM passes {1 + passes} of 2 tests")
    assert ("worse than random: Grad-CAM in deletion with black fill" in text) == worse
    counts = faithfulness_counts(s).iloc[0]
    assert counts["passed (of 2)"] == 1 + passes and counts["worse than random"] == int(worse)


def test_verdict_orders_explainers_by_tests_passed():
    gaps = {("deletion", "black"): 0.1, ("insertion", "black"): 0.1, ("deletion", "road"): -0.1}
    s = faithfulness_summary(constant_gaps(gaps))
    hires = s.assign(explainer="hirescam", passes=True, gap_high=0.2)
    text = faithfulness_verdict(pd.concat([s, hires]), "simple")
    assert text == ("On Simple CNN, HiResCAM passes 3 of 3 tests and Grad-CAM 2; significantly worse "
                    "than random: Grad-CAM in ROAD deletion.")


def test_plot_faithfulness_draws_each_gap_with_its_interval():
    s = faithfulness_summary(areas({("gradcam", f): 0.2 for f in FILLS}))
    fig = plot_faithfulness(s)
    ax = fig.axes[0]
    drawn = ax.containers  # one errorbar container per explainer
    for container, e in zip(drawn, dict.fromkeys(s["explainer"])):
        sub = s[s["explainer"] == e]
        x, _ = container.lines[0].get_data()
        np.testing.assert_allclose(np.asarray(x, float), sub["gap"].to_numpy(float))
        segs = container.lines[2][0].get_segments()
        np.testing.assert_allclose([seg[0][0] for seg in segs], sub["gap_low"].to_numpy(float))
        np.testing.assert_allclose([seg[1][0] for seg in segs], sub["gap_high"].to_numpy(float))
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert sorted(labels) == sorted(f"{t}, {f}" for t in ("deletion", "insertion") for f in FILLS)


def test_verdict_names_unknown_models_and_keeps_tied_explainers_in_table_order():
    s = faithfulness_summary(constant_gaps({("deletion", "black"): 0.1, ("insertion", "black"): -0.1}))
    s["model"] = "tiny"
    three = pd.concat([s.assign(explainer="zeta"), s.assign(explainer="alpha"), s.assign(explainer="mid")])
    text = faithfulness_verdict(three, "tiny")
    assert text == ("On tiny, zeta passes 1 of 2 tests, alpha 1 and mid 1; significantly worse than "
                    "random: zeta in insertion with black fill; alpha in insertion with black fill; "
                    "mid in insertion with black fill.")


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
