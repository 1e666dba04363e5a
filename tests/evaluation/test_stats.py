"""stats: Wilson interval, McNemar's exact test, the comparison sentence, calibration, seeds."""
import numpy as np
import pytest

from fmnist_lib.evaluation import stats


def paired(both_right, a_only, b_only, both_wrong):
    """Labels and two prediction vectors realising a given 2 x 2 table of right/wrong."""
    n = both_right + a_only + b_only + both_wrong
    y = np.arange(n) % 10
    wrong = (y + 1) % 10
    a_right = np.r_[np.ones(both_right + a_only), np.zeros(b_only + both_wrong)].astype(bool)
    b_right = np.r_[np.ones(both_right), np.zeros(a_only), np.ones(b_only), np.zeros(both_wrong)].astype(bool)
    return y, np.where(a_right, y, wrong), np.where(b_right, y, wrong)


# --- accuracy interval --------------------------------------------------------------------

def test_wilson_interval_hand_worked():
    # 80 of 100: p = 0.8, z = 1.95996; centre (p + z²/2n)/(1 + z²/n), half-width
    # z/(1 + z²/n) * sqrt(p(1-p)/n + z²/4n²)  ->  [0.71117, 0.86663]
    y, a, _ = paired(80, 0, 0, 20)
    acc, low, high = stats.accuracy_ci(y, a)
    assert acc == 0.8
    assert low == pytest.approx(0.7111708, abs=1e-6)
    assert high == pytest.approx(0.8666331, abs=1e-6)
    _, low99, high99 = stats.accuracy_ci(y, a, level=0.99)
    assert low99 < low and high99 > high


def test_wilson_interval_at_perfect_accuracy_stays_inside_0_1():
    y = np.arange(50) % 10
    acc, low, high = stats.accuracy_ci(y, y)
    assert acc == 1.0 and high == pytest.approx(1.0) and 0.9 < low < 1.0


def test_accuracy_ci_bad_input():
    with pytest.raises(ValueError, match="level"):
        stats.accuracy_ci([1, 2], [1, 2], level=95)
    with pytest.raises(ValueError, match="Length mismatch"):
        stats.accuracy_ci([1, 2, 3], [1, 2])
    with pytest.raises(ValueError, match="label 11"):
        stats.accuracy_ci([1, 11], [1, 2])


# --- McNemar -------------------------------------------------------------------------------

def test_mcnemar_hand_worked_table():
    # both right 5, a only 1, b only 9, both wrong 3: exact two-sided p for 1 of 10 at 0.5
    # = 2 * (C(10,0) + C(10,1)) / 2^10 = 22 / 1024
    y, a, b = paired(5, 1, 9, 3)
    res = stats.mcnemar_exact(y, a, b)
    assert (res["b"], res["c"], res["both_right"], res["both_wrong"], res["n"]) == (1, 9, 5, 3, 18)
    assert res["statistic"] == 1
    assert res["pvalue"] == pytest.approx(22 / 1024, abs=1e-12)
    swapped = stats.mcnemar_exact(y, b, a)
    assert (swapped["b"], swapped["c"]) == (9, 1) and swapped["pvalue"] == pytest.approx(res["pvalue"])


def test_mcnemar_no_discordant_pairs_and_balanced():
    y, a, _ = paired(7, 0, 0, 3)
    assert stats.mcnemar_exact(y, a, a)["pvalue"] == 1.0
    y, a, b = paired(0, 4, 4, 0)
    assert stats.mcnemar_exact(y, a, b)["pvalue"] == pytest.approx(1.0)


def test_mcnemar_does_not_mutate_and_checks_lengths():
    y, a, b = paired(5, 1, 9, 3)
    copies = y.copy(), a.copy(), b.copy()
    stats.mcnemar_exact(y, a, b)
    for arr, copy in zip((y, a, b), copies):
        np.testing.assert_array_equal(arr, copy)
    with pytest.raises(ValueError, match="Length mismatch"):
        stats.mcnemar_exact(y, a[:-1], b)


# --- the sentence ---------------------------------------------------------------------------

# --- calibration ----------------------------------------------------------------------------

def one_hot_conf(y, pred, conf):
    """Rows with probability ``conf`` on ``pred`` and the rest spread evenly."""
    p = np.full((len(y), 10), 0.0)
    p[:] = ((1 - np.asarray(conf)) / 9)[:, None] if np.ndim(conf) else (1 - conf) / 9
    p[np.arange(len(y)), pred] = conf
    return p


def test_ece_zero_when_calibrated_and_hand_worked_when_not():
    y = np.zeros(4, dtype=int)
    pred = np.array([0, 0, 0, 1])                   # 3 of 4 right at confidence 0.75
    assert stats.expected_calibration_error(y, one_hot_conf(y, pred, 0.75)) == pytest.approx(0.0, abs=1e-12)
    wrong = np.ones(4, dtype=int)
    assert stats.expected_calibration_error(y, one_hot_conf(y, wrong, 0.95)) == pytest.approx(0.95)
    # two bins: {0.35 x2, one right} gap 0.15; {0.95 x2, both right} gap 0.05 -> ECE 0.10
    y = np.array([0, 0, 0, 0])
    p = one_hot_conf(y, np.array([0, 1, 0, 0]), np.array([0.35, 0.35, 0.95, 0.95]))
    assert stats.expected_calibration_error(y, p, n_bins=10) == pytest.approx(0.10)


def test_bins_are_closed_on_the_right():
    y = np.arange(10)
    curve = stats.reliability_curve(y, np.eye(10)[y], n_bins=15)
    assert len(curve) == 15 and curve["count"].iloc[-1] == 10 and curve["count"].sum() == 10
    at_edge = stats.reliability_curve(y, one_hot_conf(y, y, 0.5), n_bins=4)  # 0.5 is an edge
    assert list(at_edge["count"]) == [0, 10, 0, 0]  # (0.25, 0.5]
    assert stats.expected_calibration_error(y, np.eye(10)[y]) == pytest.approx(0.0, abs=1e-12)


def test_reliability_curve_matches_a_plain_loop():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 10, 300)
    p = rng.dirichlet(np.full(10, 0.3), 300)
    curve = stats.reliability_curve(y, p, n_bins=15)
    assert len(curve) == 15 and curve["count"].sum() == 300
    conf, right = p.max(1), p.argmax(1) == y
    ece = 0.0
    for i, row in curve.iterrows():
        inside = (conf > i / 15) & (conf <= (i + 1) / 15)
        assert row["count"] == inside.sum()
        if inside.any():
            assert row["confidence"] == pytest.approx(conf[inside].mean())
            assert row["accuracy"] == pytest.approx(right[inside].mean())
            ece += inside.sum() / 300 * abs(right[inside].mean() - conf[inside].mean())
        else:
            assert np.isnan(row["accuracy"])
    assert stats.expected_calibration_error(y, p, 15) == pytest.approx(ece, abs=1e-12)


def test_calibration_bad_input():
    y = np.arange(10)
    with pytest.raises(ValueError, match="sum to 1"):
        stats.expected_calibration_error(y, np.full((10, 10), 0.2))
    with pytest.raises(ValueError, match="n_bins"):
        stats.reliability_curve(y, np.full((10, 10), 0.1), n_bins=0)


# --- seeds -----------------------------------------------------------------------------------



def test_ece_default_is_15_bins_by_hand():
    # confidences 0.62 (one of two right) and 0.68 (both right): 15 bins part them,
    # (0.600, 0.667] and (0.667, 0.733]; 10 bins put all four in (0.6, 0.7]
    y = np.zeros(4, dtype=int)
    p = one_hot_conf(y, np.array([0, 1, 0, 0]), np.array([0.62, 0.62, 0.68, 0.68]))
    fifteen = (2 * abs(0.5 - 0.62) + 2 * abs(1.0 - 0.68)) / 4  # 0.22
    assert stats.expected_calibration_error(y, p) == pytest.approx(fifteen, abs=1e-12)
    assert stats.expected_calibration_error(y, p, n_bins=10) == pytest.approx(abs(0.75 - 0.65), abs=1e-12)
    assert len(stats.reliability_curve(y, p)) == 15


@pytest.mark.parametrize("b, c", [(0, 7), (3, 3), (4, 11), (12, 30), (1, 0)])
def test_mcnemar_exact_p_by_hand(b, c):
    from math import comb

    y, pa, pb = paired(5, b, c, 2)
    n, k = b + c, min(b, c)
    expected = min(1.0, 2 * sum(comb(n, i) for i in range(k + 1)) / 2 ** n)
    res = stats.mcnemar_exact(y, pa, pb)
    assert (res["b"], res["c"], res["statistic"]) == (b, c, k)
    assert res["pvalue"] == pytest.approx(expected, rel=1e-12)


def test_wilson_interval_against_the_formula_at_other_levels():
    y, a, _ = paired(137, 0, 0, 63)
    z = {0.90: 1.6448536269514722, 0.99: 2.5758293035489004}
    for level, zz in z.items():
        n, p = 200, 137 / 200
        centre = (p + zz ** 2 / (2 * n)) / (1 + zz ** 2 / n)
        half = zz / (1 + zz ** 2 / n) * np.sqrt(p * (1 - p) / n + zz ** 2 / (4 * n ** 2))
        _, low, high = stats.accuracy_ci(y, a, level=level)
        assert (low, high) == pytest.approx((centre - half, centre + half), abs=1e-12)


@pytest.mark.parametrize("level", [0.0, 1.0, 1.5, -0.1])
def test_accuracy_ci_level_must_lie_strictly_between_0_and_1(level):
    y = np.arange(10)
    with pytest.raises(ValueError, match=r"level must be in \(0, 1\)"):
        stats.accuracy_ci(y, y, level=level)


# --- mutation survivors of the reliability curve and ECE (issue 25) ------------------------

def test_one_bin_ece_is_the_gap_of_the_means_and_numpy_ints_are_bins():
    y = np.zeros(4, dtype=int)
    p = one_hot_conf(y, np.array([0, 1, 0, 0]), np.array([0.3, 0.6, 0.9, 1.0]))
    # one bin (0, 1]: accuracy 3/4, mean confidence 0.7
    assert stats.expected_calibration_error(y, p, n_bins=1) == pytest.approx(0.05, abs=1e-12)
    curve = stats.reliability_curve(y, p, n_bins=np.int64(2))
    assert list(curve["count"]) == [1, 3] and list(curve["bin_upper"]) == [0.5, 1.0]
    assert list(curve["bin_lower"]) == [0.0, 0.5]
    assert curve["confidence"].tolist() == pytest.approx([0.3, (0.6 + 0.9 + 1.0) / 3])
    assert curve["accuracy"].tolist() == pytest.approx([1.0, 2 / 3])


@pytest.mark.parametrize("n_bins", [0, -3, 2.0, "15"])
def test_n_bins_must_be_a_positive_int(n_bins):
    import re

    y = np.arange(10)
    with pytest.raises(ValueError, match="^" + re.escape(f"n_bins must be an int >= 1, got {n_bins!r}.") + "$"):
        stats.reliability_curve(y, np.eye(10)[y], n_bins=n_bins)


def test_empty_bins_are_nan_without_a_warning():
    import warnings

    y = np.arange(10)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # 0 / 0 in an empty bin must stay silent
        curve = stats.reliability_curve(y, np.eye(10)[y], n_bins=4)
    assert list(curve["count"]) == [0, 0, 0, 10] and curve["accuracy"].iloc[:3].isna().all()
