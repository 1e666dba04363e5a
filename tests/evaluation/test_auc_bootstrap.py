"""fmnist_lib.evaluation.auc_bootstrap: the weighted AUC against scikit-learn, intervals and wording."""
import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from fmnist_lib.evaluation import auc_bootstrap as ab


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


def probas(y, noise, rng):
    z = rng.normal(scale=noise, size=(len(y), 10))
    z[np.arange(len(y)), y] += 2
    return np.exp(z) / np.exp(z).sum(1, keepdims=True)


def test_auc_differences_same_model_gives_zero_and_a_worse_model_loses():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 10, 1500)
    good = [probas(y, 1.0, rng) for _ in range(2)]
    table = ab.auc_differences(y, good, good, {"a": "A", "b": "B"}, n_boot=50)
    assert np.allclose(table[["difference", "low", "high"]], 0)
    assert "No class's 95 % CI" in ab.auc_loss_sentence(table, "A", "B")
    bad = [probas(y, 3.0, rng) for _ in range(2)]
    table = ab.auc_differences(y, bad, good, {"a": "A", "b": "B"}, n_boot=100)
    assert (table["low"] > 0).all() and table["difference"].is_monotonic_decreasing
    k = list(ab.CLASSES).index(table["class"].iloc[0])
    assert table["A"].iloc[0] == pytest.approx(np.mean([roc_auc_score(y == k, p[:, k]) for p in bad]))
    text = ab.auc_loss_sentence(table, "A", "B")
    assert text.startswith("Where the 95 % CI excludes 0, the A loses ") and "AUC on" in text and "Bonferroni" in text
    assert "+" not in text.split(";")[0]  # sizes unsigned: "loses 0.0084 AUC", never "loses ... (+0.0084)"


def test_auc_loss_sentence_reports_gains_too():
    table = pd.DataFrame({"class": ["Shirt", "Bag"], "difference": [0.001, -0.004], "low": [-0.001, -0.006],
                          "high": [0.003, -0.002], "low_bonf": [-0.002, -0.007], "high_bonf": [0.004, 0.001]})
    text = ab.auc_loss_sentence(table, "A", "B")
    assert "the A gains 0.0040 AUC on Bag" in text and "loses" not in text and "0 of these 1" in text
    assert "negligible" not in text


def test_auc_loss_sentence_calls_tiny_losses_negligible_and_large_ones_not():
    table = pd.DataFrame({"class": ["Shirt", "Sneaker", "Sandal"], "difference": [0.0084, 0.0004, 0.0003],
                          "low": [0.005, 0.0001, 0.0001], "high": [0.012, 0.0008, 0.0005],
                          "low_bonf": [0.003, -0.0001, 0.00004], "high_bonf": [0.013, 0.001, 0.0007]})
    text = ab.auc_loss_sentence(table, "A", "B")
    assert "the A loses 0.0084 AUC on Shirt, 0.0004 on Sneaker, 0.0003 on Sandal" in text
    assert "differences of 0.0003–0.0004 (Sneaker, Sandal) are practically negligible" in text
    assert "Shirt)" not in text.split("negligible")[0].split("differences of")[1]
    assert "negligible" not in ab.auc_loss_sentence(table, "A", "B", negligible=0.0001)
