"""metrics: ROC against scikit-learn, tables, validation, no mutation."""
import re

import numpy as np
import pytest
from sklearn.metrics import precision_recall_fscore_support, roc_auc_score
from sklearn.preprocessing import label_binarize

from fmnist_lib.evaluation import metrics
from fmnist_lib.data import CLASSES


def tied_probas(n=400, pool=25, seed=0):
    """Labels with every class present and probabilities drawn from a small pool of rows,
    so every column has many tied scores."""
    rng = np.random.default_rng(seed)
    y = np.concatenate([np.arange(10), rng.integers(0, 10, n - 10)])
    rows = rng.dirichlet(np.ones(10), size=pool)
    return y, rows[rng.integers(0, pool, n)]


def peaked_probas(y, strength, seed=0):
    rng = np.random.default_rng(seed)
    logits = rng.normal(size=(len(y), 10))
    logits[np.arange(len(y)), y] += strength
    e = np.exp(logits)
    return e / e.sum(1, keepdims=True)


# --- ROC ---------------------------------------------------------------------------------

def test_roc_auc_matches_sklearn_with_ties():
    y, p = tied_probas()
    assert all(len(np.unique(p[:, k])) <= 25 for k in range(10))  # the ties are real
    roc = metrics.roc_curves_ovr(y, p)
    per_class = roc_auc_score(y, p, multi_class="ovr", average=None)
    for k in range(10):
        assert abs(roc[k]["auc"] - per_class[k]) < 1e-12
        assert abs(roc[k]["auc"] - roc_auc_score(y == k, p[:, k])) < 1e-12
    assert abs(roc["macro"]["auc"] - roc_auc_score(y, p, multi_class="ovr", average="macro")) < 1e-12
    Y = label_binarize(y, classes=np.arange(10))
    assert abs(roc["micro"]["auc"] - roc_auc_score(Y, p, average="micro")) < 1e-12


def test_roc_curves_are_monotone_from_0_to_1():
    y, p = tied_probas(seed=1)
    roc = metrics.roc_curves_ovr(y, p)
    for key in list(range(10)) + ["micro", "macro"]:
        fpr, tpr = roc[key]["fpr"], roc[key]["tpr"]
        assert fpr[0] == 0 and fpr[-1] == 1 and tpr[-1] == pytest.approx(1)
        assert np.all(np.diff(fpr) >= 0) and np.all(np.diff(tpr) >= -1e-12)
    assert "thresholds" in roc[0] and "thresholds" in roc["micro"]


def test_perfect_classifier_auc_1_and_constant_auc_half():
    y = np.repeat(np.arange(10), 5)
    perfect = metrics.roc_curves_ovr(y, np.eye(10)[y])
    constant = metrics.roc_curves_ovr(y, np.full((50, 10), 0.1))
    for key in list(range(10)) + ["micro", "macro"]:
        assert perfect[key]["auc"] == pytest.approx(1.0, abs=1e-12)
        assert constant[key]["auc"] == pytest.approx(0.5, abs=1e-12)


def test_roc_undefined_for_a_missing_class():
    y = np.repeat(np.arange(9), 3)  # no Ankle boot
    with pytest.raises(ValueError, match="Ankle boot"):
        metrics.roc_curves_ovr(y, np.full((len(y), 10), 0.1))


# --- validation --------------------------------------------------------------------------

@pytest.mark.parametrize("y, p, match", [
    (np.arange(10), np.full((10, 9), 1 / 9), r"shape \(n, 10\)"),
    (np.arange(10), np.full(10, 0.1), r"shape \(n, 10\)"),
    (np.arange(10), np.full((10, 10), 0.11), "sum to 1"),
    (np.arange(10), np.full((10, 10), 0.1) + np.r_[-0.2, 0.2, np.zeros(8)],
     r"in \[0, 1\]"),  # rows sum to 1 but hold a negative entry
    (np.arange(10), np.where(np.eye(10) > 0, np.nan, 0.1), "finite"),
    (np.append(np.arange(9), 10), np.full((10, 10), 0.1), "label 10"),
    (np.append(np.arange(9), -1), np.full((10, 10), 0.1), "label -1"),
    (np.arange(10) + 0.5, np.full((10, 10), 0.1), "integer"),
    (np.arange(10), np.full((11, 10), 0.1), "Length mismatch"),
    (np.arange(10).reshape(2, 5), np.full((10, 10), 0.1), "1-D"),
    (np.array([], dtype=int), np.zeros((0, 10)), "non-empty"),
])
def test_check_proba_rejects_bad_input(y, p, match):
    with pytest.raises(ValueError, match=match):
        metrics.check_proba(y, p)


def test_check_proba_accepts_float32_softmax():
    y, p = tied_probas()
    y_out, p_out = metrics.check_proba(y, p.astype(np.float32))
    assert p_out.dtype == np.float64 and y_out.dtype == np.int64


@pytest.mark.parametrize("func", [
    lambda y, p: metrics.roc_curves_ovr(y, p),
    lambda y, p: metrics.most_confident_mistakes(y, p),
    lambda y, p: metrics.classification_table(y, {"simple": p.argmax(1)}),
    lambda y, p: metrics.confusion(y, p.argmax(1)),
])
def test_bad_input_raises_in_every_public_function(func):
    y, p = tied_probas()
    with pytest.raises(ValueError):
        func(y[:-1], p)  # length mismatch
    with pytest.raises(ValueError):
        func(np.where(y == 3, 12, y), p)  # label outside 0..9


def test_inputs_are_not_mutated():
    y, p = tied_probas()
    p32 = p.astype(np.float32)
    y0, p0, p320 = y.copy(), p.copy(), p32.copy()
    metrics.roc_curves_ovr(y, p)
    metrics.roc_curves_ovr(y, p32)
    metrics.most_confident_mistakes(y, p, k=5)
    preds = {"simple": p.argmax(1), "lenet": p32.argmax(1)}
    preds0 = {k: v.copy() for k, v in preds.items()}
    metrics.classification_table(y, preds)
    metrics.confusion(y, preds["simple"], normalize="true")
    np.testing.assert_array_equal(y, y0)
    np.testing.assert_array_equal(p, p0)
    np.testing.assert_array_equal(p32, p320)
    for k in preds:
        np.testing.assert_array_equal(preds[k], preds0[k])


# --- tables ------------------------------------------------------------------------------

def test_classification_table_matches_sklearn():
    y = np.repeat(np.arange(10), 30)
    preds = {"simple": peaked_probas(y, 1.5, 1).argmax(1), "lenet": peaked_probas(y, 3.0, 2).argmax(1)}
    table = metrics.classification_table(y, preds)
    assert list(table.index) == list(CLASSES) + ["accuracy", "macro avg", "weighted avg"]
    assert list(table.columns) == [
        "Simple CNN precision", "LeNet-5 precision", "Simple CNN recall", "LeNet-5 recall",
        "Simple CNN F1", "LeNet-5 F1", "support"]
    for name, label in (("simple", "Simple CNN"), ("lenet", "LeNet-5")):
        p, r, f, s = precision_recall_fscore_support(y, preds[name], labels=np.arange(10), zero_division=0)
        np.testing.assert_allclose(table[f"{label} precision"].iloc[:10], p, atol=1e-12)
        np.testing.assert_allclose(table[f"{label} recall"].iloc[:10], r, atol=1e-12)
        np.testing.assert_allclose(table[f"{label} F1"].iloc[:10], f, atol=1e-12)
        assert table.loc["accuracy", f"{label} F1"] == pytest.approx(np.mean(preds[name] == y))
        assert np.isnan(table.loc["accuracy", [f"{label} precision", f"{label} recall"]]).all()
        assert table.loc["macro avg", f"{label} F1"] == pytest.approx(f.mean())
    np.testing.assert_array_equal(table["support"].iloc[:10], s)
    assert table.loc["accuracy", "support"] == len(y)
    assert table.loc["accuracy", "LeNet-5 F1"] > table.loc["accuracy", "Simple CNN F1"]
    # renders as a report table: counts stay integers next to 4-decimal floats
    assert re.search(r"\|\s+300 \|$", table.to_markdown(floatfmt=".4f"), re.M)


def test_confusion_counts_and_row_normalisation():
    rng = np.random.default_rng(3)
    y, pred = rng.integers(0, 10, 200), rng.integers(0, 10, 200)
    counts = metrics.confusion(y, pred)
    expected = np.zeros((10, 10), dtype=int)
    for t, p in zip(y, pred):
        expected[t, p] += 1
    np.testing.assert_array_equal(counts, expected)
    rows = metrics.confusion(y, pred, normalize="true")
    np.testing.assert_allclose(rows.sum(1), 1.0)
    np.testing.assert_allclose(rows, expected / expected.sum(1, keepdims=True))
    with pytest.raises(ValueError, match="normalize"):
        metrics.confusion(y, pred, normalize="rows")


def test_most_confident_mistakes_hand_worked():
    y = np.array([0, 1, 2, 3])
    p = np.full((4, 10), 0.0)
    p[0, 0] = 1.0                              # right
    p[1, 5], p[1, 1] = 0.7, 0.3                # wrong, confidence 0.7
    p[2, 4], p[2, 2] = 0.9, 0.1                # wrong, confidence 0.9
    p[3, 7], p[3, 3] = 0.6, 0.4                # wrong, confidence 0.6
    np.testing.assert_array_equal(metrics.most_confident_mistakes(y, p, k=2), [2, 1])
    np.testing.assert_array_equal(metrics.most_confident_mistakes(y, p, k=10), [2, 1, 3])
