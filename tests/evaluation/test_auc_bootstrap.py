"""fmnist_lib.evaluation.auc_bootstrap: the weighted AUC against scikit-learn, intervals and wording."""
import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from fmnist_lib.evaluation import auc_bootstrap as ab
from synthetic import probas


@pytest.mark.parametrize("decimals", [1, None], ids=["ties", "no-ties"])
def test_weighted_auc_matches_sklearn_with_weights(decimals):
    rng = np.random.default_rng(0)
    scores = rng.random(400) if decimals is None else np.round(rng.random(400), decimals)
    pos = rng.random(400) < 0.3
    w = rng.integers(0, 4, size=(5, 400)).astype(float)
    ours = ab.weighted_auc(scores, pos, w)
    ref = [roc_auc_score(pos, scores, sample_weight=wi) for wi in w]
    assert np.allclose(ours, ref, atol=1e-12)
    assert ab.weighted_auc(scores, pos, np.ones(400)) == pytest.approx(roc_auc_score(pos, scores))


def test_auc_differences_same_model_gives_zero_and_a_worse_model_loses():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 10, 1500)
    good = [probas(y, 1.0, rng) for _ in range(2)]
    table = ab.auc_differences(y, good, good, {"a": "A", "b": "B"}, n_boot=50)
    assert np.allclose(table[["difference", "low", "high"]], 0)
    bad = [probas(y, 3.0, rng) for _ in range(2)]
    table = ab.auc_differences(y, bad, good, {"a": "A", "b": "B"}, n_boot=100)
    assert (table["low"] > 0).all() and table["difference"].is_monotonic_decreasing
    k = list(ab.CLASSES).index(table["class"].iloc[0])
    assert table["A"].iloc[0] == pytest.approx(np.mean([roc_auc_score(y == k, p[:, k]) for p in bad]))
    assert (table["pairs_b_higher"] == table["pairs"]).all()  # every seed pair agrees here


# --- pinned to independent references (issue 25) ------------------------------------------

def mann_whitney(scores, positive, w):
    """Weighted AUC from its definition: P(score of a positive > a negative's), ties one half."""
    sp, sn = scores[positive], scores[~positive]
    wp, wn = w[..., positive], w[..., ~positive]
    win = (sp[:, None] > sn[None, :]) + 0.5 * (sp[:, None] == sn[None, :])  # (pos, neg)
    return np.einsum("...i,ij,...j->...", wp, win, wn) / (wp.sum(-1) * wn.sum(-1))


def replay_auc_differences(y, pa, pb, n_boot, seed, chunk):
    """(n_boot, 10) replicates of b - a by the documented resampling, in its draw order: per chunk,
    the images of every replicate (bincounts of one (b, n) draw), then the seeds (one (b, S) draw)."""
    replay, n, S = np.random.default_rng(seed), len(y), len(pa)
    diffs = []
    for start in range(0, n_boot, chunk):
        b = min(chunk, n_boot - start)
        draws = replay.integers(0, n, size=(b, n))
        w = np.stack([np.bincount(d, minlength=n) for d in draws]).astype(float)
        pick = replay.integers(0, S, size=(b, S))
        per_class = []
        for k in range(10):
            auc_a = np.stack([mann_whitney(p[:, k], y == k, w) for p in pa], 1)  # (b, S)
            auc_b = np.stack([mann_whitney(p[:, k], y == k, w) for p in pb], 1)
            per_class.append(np.take_along_axis(auc_b, pick, 1).mean(1) - np.take_along_axis(auc_a, pick, 1).mean(1))
        diffs.append(np.stack(per_class, 1))
    return np.concatenate(diffs)


def test_auc_intervals_equal_a_replay_of_the_documented_resampling():
    """Per replicate: one image draw for every model, seed and class, one seed draw shared by
    both models; intervals at 95 % and at Bonferroni's 1 - 0.05 / 10, the AUCs by definition."""
    rng = np.random.default_rng(7)
    n, S, B, chunk = 300, 2, 70, 25
    y = np.r_[np.arange(10), rng.integers(0, 10, n - 10)]
    pa = [np.round(probas(y, 1.5, rng), 2) for _ in range(S)]  # rounded: ties too
    pb = [np.round(probas(y, 1.0, rng), 2) for _ in range(S)]
    table = ab.auc_differences(y, pa, pb, {"a": "A", "b": "B"}, n_boot=B, seed=4, chunk=chunk)
    diffs = replay_auc_differences(y, pa, pb, B, 4, chunk)
    got = table.set_index("class").loc[list(ab.CLASSES)]
    for col, q in (("low", 0.025), ("high", 0.975), ("low_bonf", 0.0025), ("high_bonf", 0.9975)):
        np.testing.assert_allclose(got[col], np.quantile(diffs, q, axis=0), atol=1e-9, err_msg=col)
    for k, c in enumerate(ab.CLASSES):
        a = np.mean([roc_auc_score(y == k, p[:, k]) for p in pa])
        b = np.mean([roc_auc_score(y == k, p[:, k]) for p in pb])
        assert (got.loc[c, "A"], got.loc[c, "B"]) == pytest.approx((a, b), abs=1e-12)
        assert got.loc[c, "difference"] == pytest.approx(b - a, abs=1e-12)
    assert (got["low_bonf"] <= got["low"]).all() and (got["high"] <= got["high_bonf"]).all()


def test_auc_differences_count_the_seed_pairs_each_way():
    rng = np.random.default_rng(2)
    y = rng.integers(0, 10, 1200)
    good = [probas(y, 1.0, rng) for _ in range(3)]
    bad = [probas(y, 3.0, rng) for _ in range(3)]
    table = ab.auc_differences(y, bad, good, {"a": "A", "b": "B"}, n_boot=30).set_index("class")
    assert (table["pairs"] == 9).all()
    for k, c in enumerate(ab.CLASSES):
        a = [roc_auc_score(y == k, p[:, k]) for p in bad]
        b = [roc_auc_score(y == k, p[:, k]) for p in good]
        assert table.loc[c, "pairs_b_higher"] == sum(bj > ai for ai in a for bj in b)


# --- mutation survivors (issue 25) ---------------------------------------------------------

@pytest.mark.parametrize("decimals", [2, None], ids=["ties", "no-ties"])
def test_weighted_auc_sums_in_float64_beyond_float32s_integers(decimals):
    """20,000 samples: the weighted pair counts pass 2**24, where float32 stops being exact."""
    rng = np.random.default_rng(1)
    n = 20000
    scores = rng.random(n) if decimals is None else np.round(rng.random(n), decimals)
    pos = rng.random(n) < 0.5
    w = rng.integers(0, 3, size=(1, n)).astype(float)
    ours = ab.weighted_auc(scores, pos, w)
    assert isinstance(ours, np.ndarray) and ours.shape == (1,)
    assert ours[0] == pytest.approx(roc_auc_score(pos, scores, sample_weight=w[0]), abs=1e-12)
    plain = ab.weighted_auc(scores, pos, np.ones(n))
    assert type(plain) is float and plain == pytest.approx(roc_auc_score(pos, scores), abs=1e-12)


def test_weighted_auc_with_ties_in_the_lowest_scores_by_hand():
    """Scores 0, 0 | 1 | 2: the first tie group starts at index 0."""
    scores = np.array([0.0, 0.0, 1.0, 2.0])
    pos = np.array([True, False, False, True])
    # pairs (positive, negative): (0 vs 0) half, (0 vs 1) loss, (2 vs 0) win, (2 vs 1) win
    assert ab.weighted_auc(scores, pos, np.ones(4)) == pytest.approx(2.5 / 4, abs=1e-15)
    assert ab.weighted_auc(scores, pos.astype(int), np.ones(4)) == pytest.approx(2.5 / 4, abs=1e-15)  # 0/1 labels
    w = np.array([[2.0, 1.0, 1.0, 3.0]])  # positive weights 2, 3; negative 1, 1
    assert ab.weighted_auc(scores, pos, w)[0] == pytest.approx((2 * 0.5 + 0 + 3 + 3) / (5 * 2), abs=1e-15)


def test_auc_differences_defaults_equal_a_replay_and_ties_are_not_wins():
    """1000 replicates, seed 0, chunks of 100; identical seeds of both models win no pair;
    rows sorted by difference keep the class order when tied, indexed 0..9."""
    rng = np.random.default_rng(11)
    n = 150  # about 15 images per class: every replicate holds both sides of every class
    y = np.r_[np.repeat(np.arange(10), 10), rng.integers(0, 10, n - 100)]
    pa, pb = [np.round(probas(y, 2.0, rng), 1)], [np.round(probas(y, 1.0, rng), 1)]
    table = ab.auc_differences(y, pa, pb, {"a": "A", "b": "B"})
    replay = np.random.default_rng(0)
    diffs = []
    for _ in range(10):  # chunks of 100
        draws = replay.integers(0, n, size=(100, n))
        w = np.stack([np.bincount(d, minlength=n) for d in draws]).astype(float)
        replay.integers(0, 1, size=(100, 1))  # the seed draw: one seed, always seed 0
        diffs.append(np.stack([mann_whitney(pb[0][:, k], y == k, w) - mann_whitney(pa[0][:, k], y == k, w)
                               for k in range(10)], 1))
    diffs = np.concatenate(diffs)
    got = table.set_index("class").loc[list(ab.CLASSES)]
    for col, q in (("low", 0.025), ("high", 0.975), ("low_bonf", 0.0025), ("high_bonf", 0.9975)):
        np.testing.assert_allclose(got[col], np.quantile(diffs, q, axis=0), atol=1e-9, err_msg=col)
    same = ab.auc_differences(y, pa, pa, {"a": "A", "b": "B"}, n_boot=20)
    assert (same["pairs_b_higher"] == 0).all() and (same["pairs"] == 1).all()
    assert list(same["class"]) == list(ab.CLASSES) and same.index.equals(pd.RangeIndex(10))
    assert table.index.equals(pd.RangeIndex(10))
    assert list(table.columns) == ["class", "A", "B", "difference", "low", "high", "low_bonf", "high_bonf",
                                   "pairs_b_higher", "pairs"]


def test_auc_differences_needs_the_same_non_zero_number_of_seeds():
    y = np.arange(10)
    p = [np.eye(10)[y]]
    for a, b in ((p, p + p), ([], [])):
        with pytest.raises(ValueError, match=r"^Both models need the same, non-zero number of seeds\.$"):
            ab.auc_differences(y, a, b, {"a": "A", "b": "B"}, n_boot=5)


def test_auc_differences_default_chunks_with_two_seeds_equal_a_replay():
    """With two seeds each chunk of 100 replicates draws its images, then its seed picks, so the
    chunk size decides the random stream (with one seed the picks draw nothing)."""
    rng = np.random.default_rng(5)
    n, S = 150, 2  # about 15 images per class: every replicate holds both sides of every class
    y = np.r_[np.repeat(np.arange(10), 10), rng.integers(0, 10, n - 100)]
    pa = [np.round(probas(y, 2.0, rng), 1) for _ in range(S)]
    pb = [np.round(probas(y, 1.0, rng), 1) for _ in range(S)]
    table = ab.auc_differences(y, pa, pb, {"a": "A", "b": "B"}).set_index("class").loc[list(ab.CLASSES)]
    replay = np.random.default_rng(0)
    diffs = []
    for _ in range(10):  # 1000 replicates in chunks of 100
        draws = replay.integers(0, n, size=(100, n))
        w = np.stack([np.bincount(d, minlength=n) for d in draws]).astype(float)
        pick = replay.integers(0, S, size=(100, S))
        per_class = []
        for k in range(10):
            auc_a = np.stack([mann_whitney(p[:, k], y == k, w) for p in pa], 1)
            auc_b = np.stack([mann_whitney(p[:, k], y == k, w) for p in pb], 1)
            per_class.append(np.take_along_axis(auc_b, pick, 1).mean(1) - np.take_along_axis(auc_a, pick, 1).mean(1))
        diffs.append(np.stack(per_class, 1))
    diffs = np.concatenate(diffs)
    for col, q in (("low", 0.025), ("high", 0.975), ("low_bonf", 0.0025), ("high_bonf", 0.9975)):
        np.testing.assert_allclose(table[col], np.quantile(diffs, q, axis=0), atol=1e-9, err_msg=col)


def test_rows_with_equal_differences_keep_the_class_order():
    """b is a's copy except on three classes' columns: the seven others tie at difference 0 and
    stay in class order (Python's sort is stable; numpy's quicksort reorders such ties)."""
    rng = np.random.default_rng(6)
    y = np.r_[np.repeat(np.arange(10), 4), rng.integers(0, 10, 40)]
    pa = probas(y, 3.0, rng)
    pb = pa.copy()
    for k, noise in ((1, 1.0), (4, 0.5), (7, 2.0)):  # less noise: a better column k
        pb[:, k] = (y == k) + rng.normal(scale=noise, size=len(y))
    table = ab.auc_differences(y, [pa], [pb], {"a": "A", "b": "B"}, n_boot=5)
    diff = [roc_auc_score(y == k, pb[:, k]) - roc_auc_score(y == k, pa[:, k]) for k in range(10)]
    assert sum(d == 0 for d in diff) == 7
    order = sorted(range(10), key=lambda k: -diff[k])
    assert list(table["class"]) == [ab.CLASSES[k] for k in order]
