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


# --- the figure (paper.gradcam_plots.plot_faithfulness) under mutation (issue 25, part B) ----------

def test_plot_faithfulness_shows_each_gap_in_its_row_colour_and_panel():
    """What a reader reads off the figure, against values set here: one panel per model titled
    with its name, one row per test and fill (labelled, in the order the summary first names
    them, first row on top, the same rows and x scale in every panel), each explainer's points in
    its own colour (the same in every panel) and offset within the row, the interval as the error
    bar, no line joining the points, a black zero line, and a legend naming every explainer."""
    import matplotlib.colors as mcolors
    import matplotlib.pyplot as plt

    from fmnist_lib.paper.gradcam_plots import plot_faithfulness

    rows_order = [("deletion", "black"), ("deletion", "mean"), ("insertion", "black"), ("insertion", "mean")]
    explainers = ["gradcam", "mine", "zeta"]  # a map label, one from `labels`, one unknown
    recs = []
    for m_i, model in enumerate(["simple", "tiny"]):  # a display name, an unknown key
        for j, e in enumerate(explainers):
            for r in ((2, 0, 3, 1) if m_i == 0 else (3, 1, 0, 2)):  # the second model's rows in another order
                t, f = rows_order[r]
                gap = 0.1 * (r + 1) - 0.05 * j + 0.3 * m_i
                recs.append({"model": model, "explainer": e, "test": t, "fill": f, "gap": gap,
                             "gap_low": gap - 0.01 * (r + 1), "gap_high": gap + 0.02 * (j + 1)})
    s = pd.DataFrame(recs)
    shown = [rows_order[r] for r in (2, 0, 3, 1)]  # the rows as the summary first names them
    fig = plot_faithfulness(s, labels={"mine": "My map"})
    axes = fig.axes
    assert [ax.get_title() for ax in axes] == ["Simple CNN", "tiny"]
    offsets = [-0.8 / 3, 0.0, 0.8 / 3]  # three explainers share each row's 0.8
    for ax, model in zip(axes, ["simple", "tiny"]):
        assert len(ax.containers) == 3
        for j, (c, e) in enumerate(zip(ax.containers, explainers)):
            sub = s[(s["model"] == model) & (s["explainer"] == e)]
            expect_y = [shown.index((t, f)) + offsets[j] for t, f in zip(sub["test"], sub["fill"])]
            x, y = (np.asarray(v, float) for v in c.lines[0].get_data())
            np.testing.assert_allclose(x, sub["gap"].to_numpy())
            np.testing.assert_allclose(y, expect_y, atol=1e-12)
            segs = np.asarray(c.lines[2][0].get_segments())  # (points, 2 ends, x/y)
            np.testing.assert_allclose(segs[:, 0, 0], sub["gap_low"].to_numpy())
            np.testing.assert_allclose(segs[:, 1, 0], sub["gap_high"].to_numpy())
            np.testing.assert_allclose(segs[:, :, 1], np.c_[expect_y, expect_y], atol=1e-12)
            colour = mcolors.to_rgba(f"C{j}")
            assert mcolors.to_rgba(c.lines[0].get_color()) == colour
            assert tuple(c.lines[2][0].get_colors()[0]) == colour
            assert c.lines[0].get_linestyle() == "None" and c.lines[0].get_marker() == "o"
        zero = [ln for ln in ax.get_lines() if ln not in [c.lines[0] for c in ax.containers]]
        assert len(zero) == 1 and list(zero[0].get_xdata()) == [0, 0]
        assert mcolors.to_rgba(zero[0].get_color()) == mcolors.to_rgba("k")
        assert ax.get_xlabel() == "gap over random order (area)"
        assert ax.yaxis_inverted() and ax.get_ylim() == axes[0].get_ylim()
        assert ax.get_xlim() == axes[0].get_xlim()
        assert any(g.get_visible() for g in ax.xaxis.get_gridlines())
        assert not any(g.get_visible() for g in ax.yaxis.get_gridlines())
    assert [t.get_text() for t in axes[0].get_yticklabels()] == [f"{t}, {f}" for t, f in shown]
    assert list(axes[0].get_yticks()) == [0, 1, 2, 3]
    assert axes[0].get_legend() is None
    assert [t.get_text() for t in axes[1].get_legend().get_texts()] == ["Grad-CAM", "My map", "zeta"]
    # the other panel's points lie in the first panel's x range too (shared x axis)
    lo, hi = axes[0].get_xlim()
    assert lo <= s["gap_low"].min() and s["gap_high"].max() <= hi
    assert fig.get_size_inches()[0] == 7  # the page's text width
    plt.close(fig)


def test_plot_faithfulness_offsets_two_explainers_symmetrically_and_grows_with_its_rows():
    from fmnist_lib.paper.gradcam_plots import plot_faithfulness
    import matplotlib.pyplot as plt

    s = pd.DataFrame({"model": "lenet", "explainer": ["hirescam", "occlusion"], "test": "deletion",
                      "fill": "road", "gap": [0.1, 0.2], "gap_low": [0.0, 0.1], "gap_high": [0.2, 0.3]})
    fig = plot_faithfulness(s)
    (ax,) = fig.axes
    four = plot_faithfulness(pd.concat([s.assign(fill=f) for f in ("black", "mean", "blur", "road")]))
    # each row keeps its height (0.32 in) as rows are added, so labels never crowd
    assert four.get_size_inches()[1] - fig.get_size_inches()[1] == pytest.approx(3 * 0.32)
    plt.close(four)
    assert ax.get_title() == "LeNet-5"
    assert [float(c.lines[0].get_data()[1][0]) for c in ax.containers] == pytest.approx([-0.2, 0.2], abs=1e-12)
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["HiResCAM", "occlusion"]
    plt.close(fig)


# --- mutation survivors of faithfulness_summary (issue 25, part B) ----------------------------

def test_summary_baseline_comparison_on_both_sides_and_at_zero():
    """``loses_to_baseline`` exactly when the paired CI over the baseline lies below 0,
    ``beats_baseline`` exactly when above; a paired gap of exactly 0 is neither."""
    n = 8
    base = np.linspace(0.3, 0.7, n)
    rows = []
    for model, d_map, d_bright in (("worse", 0.1, 0.2), ("tie", 0.1, 0.1), ("better", 0.3, 0.1)):
        for e, d in (("random", 0.0), ("gradcam", d_map), ("brightness", d_bright)):
            rows.append(pd.DataFrame({"model": model, "explainer": e, "test": "insertion", "fill": "black",
                                      "image": np.arange(n), "area": base + d}))
    s = faithfulness_summary(pd.concat(rows, ignore_index=True)).query("explainer == 'gradcam'").set_index("model")
    # insertion: the map's area minus the baseline's, the same on every image, so the CI is that value
    for model, vs in (("worse", -0.1), ("tie", 0.0), ("better", 0.2)):
        r = s.loc[model]
        assert (r["vs_baseline"], r["vs_baseline_low"], r["vs_baseline_high"]) == pytest.approx((vs, vs, vs), abs=1e-12)
        assert (bool(r["beats_baseline"]), bool(r["loses_to_baseline"])) == (vs > 0, vs < 0)
    assert s.loc["tie", "vs_baseline_high"] == 0.0 and s.loc["tie", "vs_baseline_low"] == 0.0


def test_summary_interval_over_the_baseline_equals_scipy_at_both_ends():
    rng = np.random.default_rng(8)
    n = 25
    base, m, b = rng.uniform(0.3, 0.7, n), rng.uniform(0.2, 0.6, n), rng.uniform(0.2, 0.6, n)
    areas = pd.concat([pd.DataFrame({"model": "simple", "explainer": e, "test": "deletion", "fill": "mean",
                                     "image": np.arange(n), "area": a})
                       for e, a in (("random", base), ("gradcam", m), ("brightness", b))], ignore_index=True)
    r = faithfulness_summary(areas).set_index("explainer").loc["gradcam"]
    ci = stats.ttest_1samp(b - m, 0).confidence_interval(0.95)  # deletion: the baseline's area minus the map's
    assert (r["vs_baseline_low"], r["vs_baseline_high"]) == pytest.approx((ci.low, ci.high), abs=1e-12)
    assert bool(r["loses_to_baseline"]) == (ci.high < 0) and bool(r["beats_baseline"]) == (ci.low > 0)


def test_summary_gaps_in_float64_from_float32_areas():
    rng = np.random.default_rng(9)
    n = 200
    base, m = rng.uniform(0.3, 0.7, n).astype(np.float32), rng.uniform(0.2, 0.6, n).astype(np.float32)
    areas = pd.concat([pd.DataFrame({"model": "simple", "explainer": e, "test": "deletion", "fill": "mean",
                                     "image": np.arange(n), "area": a})
                       for e, a in (("random", base), ("gradcam", m))], ignore_index=True)
    r = faithfulness_summary(areas).iloc[0]
    gap = base.astype(np.float64) - m.astype(np.float64)  # each difference exact in float64
    assert r["gap"] == pytest.approx(gap.mean(), abs=1e-15, rel=0)


def test_summary_errors_name_what_is_missing():
    with pytest.raises(ValueError, match=r"^areas needs columns \['area', 'explainer', 'fill', 'image', 'model', "
                                         r"'test'\], got \['area', 'explainer', 'model'\]\.$"):
        faithfulness_summary(pd.DataFrame({"model": ["m"], "explainer": ["gradcam"], "area": [0.5]}))
    with pytest.raises(ValueError, match=r"^areas has no 'random' explainer, the reference of every test\.$"):
        faithfulness_summary(areas({}).query("explainer != 'random'"))
