"""gradcam_agreement: the common grid, Spearman against scipy, top-k overlap with ties by hand
and against random tie-breaking, exclusions counted, and the references' structure."""
import numpy as np
import pytest
from scipy.stats import spearmanr

from fmnist_lib.saliency.agreement import (agreement_table, map_agreement, pool_to_grid,
                                          positive_cells_table, reference_agreement,
                                          same_class_partners, seeds_phrase, topk_membership,
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


def test_seeds_phrase():
    assert seeds_phrase({"Simple CNN": 5, "LeNet-5": 5}) == "five seeds of each"
    assert seeds_phrase({"a": 1, "b": 3}) == "a: one seed, b: three seeds"
