"""fmnist_lib.evaluation.equivalence: the seed-and-image bootstrap against scipy, TOST and the verdicts."""
import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

from fmnist_lib.evaluation import equivalence as eq


def onehot(pred, k=10):
    return np.eye(k)[pred]


def test_image_counts_sum_to_n_per_replicate():
    counts = eq.image_counts(np.random.default_rng(0), 50, 300)
    assert counts.shape == (50, 300) and np.all(counts.sum(1) == 300) and counts.min() >= 0


def test_image_bootstrap_matches_scipy_percentile_interval():
    rng = np.random.default_rng(1)
    d = rng.choice([-1.0, 0.0, 1.0], p=[0.05, 0.88, 0.07], size=4000)
    ours = eq.percentile_ci(eq.hierarchical_bootstrap(d[None, :], n_boot=4000, seed=0), 0.95)
    ref = sps.bootstrap((d,), np.mean, n_resamples=4000, method="percentile", random_state=0).confidence_interval
    width = ref.high - ref.low
    assert abs(ours[0] - ref.low) < 0.1 * width and abs(ours[1] - ref.high) < 0.1 * width


def test_seed_bootstrap_matches_scipy_when_images_do_not_vary():
    seed_means = np.array([0.90, 0.905, 0.893, 0.91, 0.899])
    values = np.repeat(seed_means[:, None], 50, axis=1)  # each seed: the same value on every image
    ours = eq.percentile_ci(eq.hierarchical_bootstrap(values, n_boot=4000, seed=0), 0.90)
    ref = sps.bootstrap((seed_means,), np.mean, n_resamples=4000, method="percentile",
                        confidence_level=0.90, random_state=0).confidence_interval
    width = ref.high - ref.low
    assert abs(ours[0] - ref.low) < 0.1 * width and abs(ours[1] - ref.high) < 0.1 * width


def test_bootstrap_bad_input():
    with pytest.raises(ValueError, match="seeds, images"):
        eq.hierarchical_bootstrap(np.ones(5))
    with pytest.raises(ValueError, match="level"):
        eq.percentile_ci(np.ones(5), 1.5)


@pytest.mark.parametrize("low, high, verdict", [
    (-0.004, 0.006, "equivalent"), (-0.012, 0.003, "inconclusive"), (0.005, 0.015, "inconclusive"),
    (0.011, 0.02, "different"), (-0.03, -0.01, "different")])
def test_tost_verdict_each_side(low, high, verdict):
    assert eq.tost_verdict(low, high, 0.01) == verdict


def test_tost_rejects_a_reversed_interval():
    with pytest.raises(ValueError, match="exceeds"):
        eq.tost_verdict(0.1, 0.0, 0.01)


def test_accuracy_difference_identical_models_are_equivalent():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 10, 2000)
    probas = [onehot(np.where(rng.random(2000) < 0.9, y, (y + 1) % 10)) for _ in range(3)]
    res = eq.accuracy_difference(y, probas, probas, margin=0.01, n_boot=300)
    assert res["diff"] == 0 and res["ci90_low"] == res["ci90_high"] == 0 and res["verdict"] == "equivalent"
    assert "equivalent within it" in eq.equivalence_sentence(res, "A", "B")
    assert "includes 0" in eq.equivalence_sentence(res, "A", "B")


def test_accuracy_difference_far_apart_models_differ():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 10, 3000)
    worse = [onehot(np.where(rng.random(3000) < 0.80, y, (y + 1) % 10)) for _ in range(3)]
    better = [onehot(np.where(rng.random(3000) < 0.90, y, (y + 1) % 10)) for _ in range(3)]
    res = eq.accuracy_difference(y, worse, better, margin=0.01, n_boot=500)
    assert res["diff"] == pytest.approx(np.mean([(b.argmax(1) == y).mean() - (w.argmax(1) == y).mean()
                                                 for w, b in zip(worse, better)]))
    assert res["verdict"] == "different" and res["ci95_low"] > 0.05
    text = eq.equivalence_sentence(res, "Worse", "Better")
    assert "differ by more than the margin" in text and "excludes 0" in text and text.startswith("Better minus Worse")
    assert "test-image noise only" not in text and "so the models differ" in text
    one = {**res, "seeds": 1}
    text = eq.equivalence_sentence(one, "Worse", "Better", subject="the seed ensembles")
    assert "so the seed ensembles differ by more than the margin (test-image noise only)" in text


def test_accuracy_difference_needs_matching_seeds_and_a_margin():
    y = np.zeros(10, dtype=int)
    with pytest.raises(ValueError, match="same, non-zero number of seeds"):
        eq.accuracy_difference(y, [onehot(y)], [onehot(y), onehot(y)], 0.01)
    with pytest.raises(ValueError, match="margin"):
        eq.accuracy_difference(y, [onehot(y)], [onehot(y)], 0.0)


def test_mcnemar_seed_pairs_counts_every_pair_and_matches_the_single_test():
    from fmnist_lib.evaluation.stats import mcnemar_exact

    rng = np.random.default_rng(0)
    y = rng.integers(0, 10, 500)
    runs = {m: [onehot(np.where(rng.random(500) < acc, y, (y + 3) % 10)) for _ in range(3)]
            for m, acc in (("A", 0.7), ("B", 0.9))}
    table = eq.mcnemar_seed_pairs(y, runs)
    assert (table["kind"] == "between models").sum() == 9 and (table["kind"] == "within A").sum() == 3
    row = table.iloc[0]
    ref = mcnemar_exact(y, runs["A"][0].argmax(1), runs["B"][0].argmax(1))
    assert row["pvalue"] == ref["pvalue"] and row["a_only"] == ref["b"] and row["b_only"] == ref["c"]
    text = eq.mcnemar_sentence(table)
    assert "9 of 9 pairs between models" in text and "of 3 pairs within A" in text


def test_mcnemar_sentence_counts_only_small_p_values():
    table = pd.DataFrame({"kind": ["between models"] * 3, "pvalue": [0.01, 0.2, 0.049]})
    assert "2 of 3 pairs between models" in eq.mcnemar_sentence(table)
    assert "0 of 3" in eq.mcnemar_sentence(table, alpha=0.005)


def test_ensemble_is_the_mean_and_the_accuracy_table_is_formatted():
    a, b = np.full((4, 10), 0.1), onehot(np.array([0, 1, 2, 3]))
    assert np.allclose(eq.ensemble_proba([a, b]), (a + b) / 2)
    y = np.array([0, 1, 2, 3])
    table = eq.accuracy_table(y, {"m": [b, b]}, {"m": "Model"}, n_boot=50)
    assert table.loc[0, "model"] == "Model" and table.loc[0, "mean accuracy"] == "1.0000"
    assert table.loc[0, "95 % CI (seeds and images)"] == "[1.0000, 1.0000]"


def test_mcnemar_pivot_is_seed_by_seed():
    table = pd.DataFrame({"kind": ["between models"] * 4 + ["within A"], "a": ["A/0", "A/0", "A/1", "A/1", "A/0"],
                          "b": ["B/0", "B/1", "B/0", "B/1", "A/1"], "pvalue": [0.5, 0.01, 0.0001234, 1.0, 0.3]})
    wide = eq.mcnemar_pivot(table)
    assert wide.shape == (2, 3) and wide.iloc[1]["B/0"] == "0.00012" and wide.iloc[0]["B/1"] == "0.01"
