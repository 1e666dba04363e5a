"""gradcam_agreement: the common grid, Spearman against scipy, top-k overlap with ties by hand
and against random tie-breaking, exclusions counted, and the references' structure."""
import numpy as np
import pandas as pd
import pytest
from scipy.stats import spearmanr

from fmnist_lib.saliency.agreement import (agreement_table, defined_images, map_agreement, pool_to_grid,
                                          positive_cells_table, reference_agreement,
                                          same_class_partners, topk_membership,
                                          topk_overlap)


def test_pool_to_grid_by_hand():
    m = np.arange(16, dtype=float).reshape(1, 4, 4)
    assert np.array_equal(pool_to_grid(m, 2)[0], [[2.5, 4.5], [10.5, 12.5]])
    assert pool_to_grid(np.ones((3, 28, 28)), 2).shape == (3, 14, 14)
    assert pool_to_grid(np.ones((3, 28, 28)), 4).shape == (3, 7, 7)
    with pytest.raises(ValueError, match="must divide"):
        pool_to_grid(np.ones((1, 28, 28)), 3)


def test_pooling_removes_the_max_pool_speckle():
    """A map that is positive on one pixel of every 2 x 2 window (where max pooling routes the
    gradient), at a different pixel per window, is uniform on the 2-px grid."""
    rng = np.random.default_rng(0)
    speckle = np.zeros((1, 28, 28))
    for i in range(14):
        for j in range(14):
            speckle[0, 2 * i + rng.integers(2), 2 * j + rng.integers(2)] = 1.0
    assert np.allclose(pool_to_grid(speckle, 2), 0.25)


def test_spearman_matches_scipy_with_ties():
    rng = np.random.default_rng(1)
    a = rng.integers(0, 4, size=(5, 7, 7)).astype(float)  # many ties
    b = rng.random((5, 7, 7))
    got = map_agreement(a, b)["spearman"].to_numpy()
    want = [spearmanr(x.ravel(), z.ravel()).statistic for x, z in zip(a, b)]
    assert np.allclose(got, want)
    assert np.isnan(map_agreement(np.zeros((1, 7, 7)), b[:1])["spearman"].item())


def test_topk_membership_by_hand():
    flat = np.array([[5.0, 3.0, 3.0, 3.0, 0.0, 0.0]])
    # top 2: cell 0, then one place shared by the three cells tied at 3
    assert np.allclose(topk_membership(flat, 2), [[1, 1 / 3, 1 / 3, 1 / 3, 0, 0]])
    assert np.allclose(topk_membership(flat, 4), [[1, 1, 1, 1, 0, 0]])
    assert np.isnan(topk_membership(flat, 5)).all()  # four positive cells: no top 5
    assert np.allclose(topk_membership(flat, 2).sum(), 2)


def test_topk_overlap_equals_the_mean_over_random_tie_breaks():
    a = np.array([[4.0, 2.0, 2.0, 2.0, 1.0, 1.0, 0.5, 0.2]])
    b = np.array([[1.0, 2.0, 2.0, 0.3, 0.3, 0.3, 5.0, 0.1]])
    k, rng, draws = 3, np.random.default_rng(2), []
    for _ in range(20000):
        ka, kb = rng.random(8), rng.random(8)
        ta = set(np.lexsort((ka, -a[0]))[:k])
        tb = set(np.lexsort((kb, -b[0]))[:k])
        draws.append(len(ta & tb) / k)
    assert topk_overlap(a, b, k)[0] == pytest.approx(np.mean(draws), abs=0.01)
    # without ties it is the plain set overlap
    x, z = np.array([[9.0, 8, 7, 1, 0.5]]), np.array([[1.0, 9, 0.5, 8, 7]])
    assert topk_overlap(x, z, 3)[0] == pytest.approx(1 / 3)  # only cell 1 in both top 3


def test_few_positive_cells_are_excluded_and_counted():
    maps = np.zeros((3, 28, 28))
    maps[0] = np.random.default_rng(3).random((28, 28))
    maps[1, :2, :2] = 1.0  # one positive cell on the 14 x 14 grid
    df = map_agreement(pool_to_grid(maps, 2), pool_to_grid(maps[[0, 0, 0]], 2))
    assert df["top5"].notna().tolist() == [True, False, False]  # k = 10 cells of 196
    counts = positive_cells_table({"m": maps}).iloc[0]
    assert counts["all zero"] == 1 and counts["too few for top 5 %"] == 2
    assert counts["too few for top 20 %"] == 2 and counts["n"] == 3


def test_same_class_partners_is_a_derangement_within_each_class():
    y = np.repeat(np.arange(4), [2, 3, 5, 7])
    p = same_class_partners(y, seed=0)
    assert (p != np.arange(len(y))).all() and (y[p] == y).all()
    assert sorted(p) == list(range(len(y)))  # a permutation
    with pytest.raises(ValueError, match="one image"):
        same_class_partners(np.array([0, 0, 1]))


def _data(n=60, seed=0):
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 5
    template = rng.random((5, 28, 28))  # where each class's garments lie
    own = rng.random((n, 28, 28))  # what is particular to each image
    return rng, y, template[y] + own, own


def test_reference_agreement_structure_and_order():
    rng, y, shared, own = _data()
    seeds = lambda base, k: [base + 0.3 * rng.random(base.shape) for _ in range(k)]  # noqa: E731
    df = reference_agreement({"simple": seeds(shared, 3), "lenet": seeds(shared, 2)}, y, own)
    assert list(dict.fromkeys(df["comparison"])) == [
        "Simple CNN seeds", "LeNet-5 seeds", "Simple CNN vs LeNet-5", "same class, other image",
        "Simple CNN vs brightness", "LeNet-5 vs brightness"]
    t = agreement_table(df)
    rho = t[("spearman", "mean")]
    assert rho["Simple CNN vs LeNet-5"] > rho["same class, other image"] > 0.05
    assert t[("top10", "n")].min() == 60 and t[("top10", "excluded")].max() == 0
    # identical seeds agree perfectly; one seed per model gives no within-model rows
    same = reference_agreement({"simple": [shared, shared], "lenet": [shared]}, y, own)
    assert np.allclose(same.query("comparison == 'Simple CNN seeds'")[["spearman", "top5"]], 1)
    assert "LeNet-5 seeds" not in set(same["comparison"])
    with pytest.raises(ValueError, match="two models"):
        reference_agreement({"simple": [shared]}, y, own)


# --- mutation survivors (issue 25): the common grid, the references and the table -----------

def block_means(maps, cell):
    """Pooling by a plain loop over the blocks."""
    n, H, W = maps.shape
    out = np.empty((n, H // cell, W // cell))
    for i in range(H // cell):
        for j in range(W // cell):
            out[:, i, j] = maps[:, i * cell:(i + 1) * cell, j * cell:(j + 1) * cell].mean((1, 2))
    return out


def agreement_by_hand(x, z, k):
    """Spearman (scipy) and top-k set overlap of two tie-free flat maps; NaN where undefined."""
    rho = np.nan if np.ptp(x) == 0 or np.ptp(z) == 0 else spearmanr(x, z).statistic
    top = (np.nan if min((x > 0).sum(), (z > 0).sum()) < k
           else len(set(np.argsort(-x)[:k]) & set(np.argsort(-z)[:k])) / k)
    return rho, top


def test_pool_to_grid_on_non_square_maps_and_its_errors():
    m = np.random.default_rng(0).random((2, 4, 6))
    np.testing.assert_allclose(pool_to_grid(m, 2), block_means(m, 2), atol=1e-15)
    assert np.array_equal(pool_to_grid(m, 1), m)  # one-pixel cells: the maps themselves
    with pytest.raises(ValueError, match=r"^cell 4 must divide the maps' 4 x 6 px \(e\.g\. 2, 4 or 7 for 28\)\.$"):
        pool_to_grid(m, 4)
    with pytest.raises(ValueError, match=r"^cell 3 must divide the maps' 4 x 6 px"):
        pool_to_grid(m, 3)
    with pytest.raises(ValueError, match=r"^cell 0 must divide"):
        pool_to_grid(m, 0)
    with pytest.raises(ValueError, match=r"^maps must have shape \(n, H, W\), got \(4, 6\)\.$"):
        pool_to_grid(m[0], 2)


def test_topk_membership_k_from_one_to_all_cells_and_a_single_tied_value():
    flat = np.array([[3.0, 1.0, 2.0, 0.5]])
    assert np.array_equal(topk_membership(flat, 1), [[1, 0, 0, 0]])  # one cell at the k-th value
    assert np.array_equal(topk_membership(flat, 4), [[1, 1, 1, 1]])
    for k in (0, 5):
        with pytest.raises(ValueError, match=rf"^flat must be \(n, P\) and k in 1\.\.P, got \(1, 4\) and {k}\.$"):
            topk_membership(flat, k)
    with pytest.raises(ValueError, match=r"^flat must be \(n, P\) and k in 1\.\.P, got \(4,\) and 1\.$"):
        topk_membership(flat[0], 1)


def test_map_agreement_shares_name_their_columns_and_must_keep_a_cell():
    rng = np.random.default_rng(1)
    a, b = rng.random((3, 4, 4)), rng.random((3, 4, 4))
    df = map_agreement(a, b, top_k=(0.25, 0.5, 0.7))
    assert list(df.columns) == ["spearman", "top25", "top50", "top70"]
    for i in range(3):
        x, z = a[i].ravel(), b[i].ravel()
        assert (df["spearman"][i], df["top25"][i]) == pytest.approx(agreement_by_hand(x, z, 4), abs=1e-12)
        assert df["top50"][i] == pytest.approx(agreement_by_hand(x, z, 8)[1], abs=1e-12)
        assert df["top70"][i] == pytest.approx(agreement_by_hand(x, z, 11)[1], abs=1e-12)  # round(11.2)
    for share in (1.0, 0.0, 0.01, -0.5):
        with pytest.raises(ValueError, match=rf"^top-k shares must be in \(0, 1\) and keep >= 1 cell, got {share}\.$"):
            map_agreement(a, b, top_k=(share,))
    with pytest.raises(ValueError, match=r"^maps_a \(3, 4, 4\) and maps_b \(3, 2, 2\) differ\.$"):
        map_agreement(a, b[:, :2, :2])


def test_same_class_partners_is_one_cycle_per_class_and_seeded_by_default_with_0():
    y = np.repeat([2, 0, 1], [6, 4, 2])
    p = same_class_partners(y)
    for c in (0, 1, 2):
        idx = np.flatnonzero(y == c)
        seen, i = [], idx[0]
        for _ in range(len(idx)):  # follow the cycle from the class's first image
            seen.append(i)
            i = p[i]
        assert i == idx[0] and sorted(seen) == list(idx)  # back after visiting every image once
    assert np.array_equal(p, same_class_partners(y, seed=0))
    assert any(not np.array_equal(p, same_class_partners(y, seed=s)) for s in (1, 2))
    with pytest.raises(ValueError, match=r"^Class 5 has one image; same-class chance needs two per class\.$"):
        same_class_partners(np.array([3, 3, 5]))


def test_reference_agreement_equals_the_pairs_means_by_hand():
    """Every row against scipy's Spearman and plain top-k sets on a 7 x 7 grid (cell 4), with
    a constant map whose pairs are left out of the means, custom labels and the default seed."""
    rng = np.random.default_rng(2)
    n, k = 6, 5  # round(0.1 * 49) cells
    y = np.array([0, 0, 0, 1, 1, 1])
    maps = {"simple": [rng.random((n, 28, 28)) for _ in range(3)],
            "lenet": [rng.random((n, 28, 28)) for _ in range(2)]}
    maps["simple"][1][4] = 0.0  # constant: its pairs are undefined
    bright = rng.random((n, 28, 28))
    df = reference_agreement(maps, y, bright, cell=4, top_k=(0.1,), labels={"simple": "S"})
    assert list(df.columns) == ["comparison", "image", "spearman", "top10"]
    assert df.index.equals(pd.RangeIndex(6 * n))
    g = {name: [block_means(m, 4).reshape(n, -1) for m in runs] for name, runs in maps.items()}
    b = block_means(bright, 4).reshape(n, -1)
    partner = same_class_partners(y, 0)
    s, l = g["simple"], g["lenet"]  # noqa: E741
    expected = {
        "S seeds": [(s[0], s[1]), (s[0], s[2]), (s[1], s[2])],
        "LeNet-5 seeds": [(l[0], l[1])],
        "S vs LeNet-5": [(x, z) for x in s for z in l],
        "same class, other image": [(x, z[partner]) for x in s for z in l],
        "S vs brightness": [(x, b) for x in s],
        "LeNet-5 vs brightness": [(x, b) for x in l],
    }
    assert list(dict.fromkeys(df["comparison"])) == list(expected)
    for comp, pairs in expected.items():
        got = df[df["comparison"] == comp]
        assert list(got["image"]) == list(range(n))
        for i in range(n):
            vals = np.array([agreement_by_hand(x[i], z[i], k) for x, z in pairs])  # (pairs, 2)
            ref = [np.mean(c[~np.isnan(c)]) if (~np.isnan(c)).any() else np.nan for c in vals.T]
            np.testing.assert_allclose(got[["spearman", "top10"]].iloc[i], ref, atol=1e-12,
                                       err_msg=f"{comp}, image {i}")
    # image 4's simple seed 1 is constant: its seed pairs average the one defined pair, (0, 2)
    assert df.query("comparison == 'S seeds' and image == 4")["spearman"].item() == pytest.approx(
        spearmanr(s[0][4], s[2][4]).statistic, abs=1e-12)


def test_reference_agreement_errors_name_what_is_missing():
    m = np.ones((2, 28, 28))
    y = np.array([0, 0])
    for maps in ({"a": [m]}, {"a": [m], "b": []}, {"a": [m], "b": [m], "c": [m]}):
        with pytest.raises(ValueError, match=r"^maps must hold two models, each with the maps of at least one seed\.$"):
            reference_agreement(maps, y, m)
    with pytest.raises(ValueError, match=r"^Every model's and seed's maps and the brightness must have one shape\.$"):
        reference_agreement({"a": [m], "b": [np.ones((3, 28, 28))]}, y, m)
    with pytest.raises(ValueError, match=r"^Every model's and seed's maps"):
        reference_agreement({"a": [m], "b": [m]}, y, np.ones((2, 28, 24)))


def test_agreement_table_equals_scipy_per_comparison_in_their_order():
    from scipy import stats

    rng = np.random.default_rng(3)
    rho = rng.normal(0.4, 0.2, 12)
    rho[[2, 7, 8]] = np.nan
    df = pd.DataFrame({"comparison": ["z"] * 6 + ["a"] * 6, "image": list(range(6)) * 2,
                       "spearman": rho, "top5": rng.random(12)})
    t = agreement_table(df)
    assert list(t.index) == ["z", "a"] and t.index.name == "comparison"
    assert list(t.columns) == [(m, s) for m in ("spearman", "top5") for s in ("mean", "low", "high", "n", "excluded")]
    keep = [0, 3, 4, 5]  # z is undefined on image 2, a on images 1 and 2: every row drops all three
    assert list(defined_images(df, "spearman")) == keep and list(defined_images(df, "top5")) == list(range(6))
    assert list(defined_images(df)) == keep  # Spearman's by default
    for comp, part in (("z", rho[:6]), ("a", rho[6:])):
        v = part[keep]
        ci = stats.ttest_1samp(v, 0).confidence_interval(0.95)
        row = t.loc[comp]
        assert row[("spearman", "mean")] == pytest.approx(v.mean(), abs=1e-12)
        assert (row[("spearman", "low")], row[("spearman", "high")]) == pytest.approx((ci.low, ci.high), abs=1e-12)
        assert (row[("spearman", "n")], row[("spearman", "excluded")]) == (4, 2)
        assert (row[("top5", "n")], row[("top5", "excluded")]) == (6, 0)
    with pytest.raises(ValueError, match=r"^No metric 'top9'"):
        defined_images(df, "top9")
    # the two key columns are columns of the table but not metrics; the error lists the metrics
    for bad in ("top9", "comparison", "image"):
        with pytest.raises(ValueError) as err:
            defined_images(df, bad)
        assert str(err.value) == f"No metric '{bad}'; the table has ['spearman', 'top5']."


def test_positive_cells_table_at_exactly_k_cells_and_on_a_coarser_grid():
    maps = np.zeros((3, 28, 28))
    # on the 14 x 14 grid top 5, 10 and 20 % need k = 10, 20 and 39 cells
    maps[0, :6, :26] = 1.0  # 3 x 13 = 39 positive cells: exactly top 20 %'s k
    maps[1, :2, :20] = 1.0  # 1 x 10 cells: exactly top 5 %'s k, too few for top 10 %
    t = positive_cells_table({"m": maps}).iloc[0]
    assert (t["n"], t["all zero"]) == (3, 1)
    assert (t["too few for top 5 %"], t["too few for top 10 %"], t["too few for top 20 %"]) == (1, 2, 2)
    assert list(positive_cells_table({"m": maps}, top_k=(0.7,)).columns)[-1] == "too few for top 70 %"
    coarse = positive_cells_table({"m": maps, "none": np.zeros((2, 28, 28))}, cell=4, top_k=(0.1,))
    # on 7 x 7 cells (k = 5): map 0 covers 2 x 7 = 14 cells, map 1 exactly 1 x 5 = 5
    assert list(coarse.columns) == ["maps", "n", "all zero", "too few for top 10 %"]
    assert coarse.to_dict("records") == [
        {"maps": "m", "n": 3, "all zero": 1, "too few for top 10 %": 1},
        {"maps": "none", "n": 2, "all zero": 2, "too few for top 10 %": 2}]


def replay_partners(y, seed):
    """The documented derangement, replayed: per class in sorted order, one permutation of its
    images from the seeded stream, each image's partner the next one in that cycle."""
    rng, partner = np.random.default_rng(seed), np.empty(len(y), dtype=int)
    for c in np.unique(y):
        idx = np.flatnonzero(y == c)
        order = rng.permutation(len(idx))
        partner[idx[order]] = idx[np.roll(order, -1)]
    return partner


def test_reference_agreement_names_unlabelled_models_by_their_keys_and_uses_its_seed():
    rng = np.random.default_rng(4)
    n, k = 8, 5  # round(0.1 * 49) cells on the 7 x 7 grid
    y = np.repeat([0, 1], 4)
    maps = {"a": [rng.random((n, 28, 28)) for _ in range(2)], "b": [rng.random((n, 28, 28)) for _ in range(2)]}
    df = reference_agreement(maps, y, rng.random((n, 28, 28)), cell=4, top_k=(0.1,), seed=3)
    assert list(dict.fromkeys(df["comparison"])) == [
        "a seeds", "b seeds", "a vs b", "same class, other image", "a vs brightness", "b vs brightness"]
    partner = replay_partners(y, 3)
    assert not np.array_equal(partner, replay_partners(y, 0))  # the seed changes the partners
    a, b = ([block_means(m, 4).reshape(n, -1) for m in maps[name]] for name in ("a", "b"))
    got = df[df["comparison"] == "same class, other image"]
    for i in range(n):
        vals = np.array([agreement_by_hand(x[i], z[partner[i]], k) for x in a for z in b])
        np.testing.assert_allclose(got[["spearman", "top10"]].iloc[i], vals.mean(0), atol=1e-12)


def test_pool_to_grid_averages_float32_maps_in_float64():
    """Grad-CAM maps arrive as float32; their cell means are taken in float64 (ties between
    cells, which the ranks and the top k see, must not come from float32 rounding)."""
    m = np.random.default_rng(5).random((2, 4, 4)).astype(np.float32)
    got = pool_to_grid(m, 2)
    assert got.dtype == np.float64
    np.testing.assert_array_equal(got, block_means(m.astype(np.float64), 2))


def test_map_agreement_keeps_a_top_k_of_one_cell():
    rng = np.random.default_rng(6)
    a, b = rng.random((3, 4, 4)), rng.random((3, 4, 4))
    b[0] = a[0] + 0.01  # the same top cell
    df = map_agreement(a, b, top_k=(0.05,))  # round(0.05 * 16) = 1 cell
    want = [float(np.argmax(x) == np.argmax(z)) for x, z in zip(a, b)]
    assert list(df.columns) == ["spearman", "top5"] and df["top5"].tolist() == want and want[0] == 1.0
