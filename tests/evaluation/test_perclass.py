"""fmnist_lib.evaluation.perclass: per-class error and confusion differences against scikit-learn's
confusion matrix, with intervals over seeds and images."""
import numpy as np
import pytest
from sklearn.metrics import confusion_matrix

from fmnist_lib.evaluation import perclass as pc


def onehot(pred):
    p = np.full((len(pred), 10), 0.01)
    p[np.arange(len(pred)), pred] = 0.91
    return p


def noisy(y, flip, rng, to=None):
    pred = y.copy()
    wrong = rng.random(len(y)) < flip
    pred[wrong] = (y[wrong] + 1) % 10 if to is None else to
    return pred


@pytest.fixture
def data():
    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(10), 200)
    a = [noisy(y, 0.10, rng) for _ in range(3)]
    b = [noisy(y, 0.10, rng) for _ in range(3)]
    b = [np.where((y == 6) & (rng.random(len(y)) < 0.2), 0, p) for p in b]  # b sends more Shirts to T-shirt
    return y, a, b


def test_class_errors_match_the_confusion_matrix(data):
    y, a, b = data
    table = pc.class_error_differences(y, [onehot(p) for p in a], [onehot(p) for p in b], n_boot=300)
    recall = lambda p: np.diag(confusion_matrix(y, p, normalize="true"))  # noqa: E731
    err_a = np.mean([1 - recall(p) for p in a], axis=0)
    err_b = np.mean([1 - recall(p) for p in b], axis=0)
    np.testing.assert_allclose(table["error_a"], err_a)
    np.testing.assert_allclose(table["difference"], err_b - err_a)
    assert (table["low"] <= table["difference"]).all() and (table["difference"] <= table["high"]).all()
    assert (table["low_bonf"] <= table["low"]).all() and (table["high"] <= table["high_bonf"]).all()
    shirt = table.set_index("class").loc["Shirt"]
    assert shirt["low"] > 0 and shirt["seeds_b_lower"] == 0  # b errs more on Shirt in every seed
    assert (table["images"] == 200).all() and (table["seeds"] == 3).all()


def test_confusions_match_the_normalised_confusion_matrix(data):
    y, a, b = data
    table = pc.confusion_differences(y, [onehot(p) for p in a], [onehot(p) for p in b], n_boot=200)
    assert len(table) == 90 and table["difference"].abs().is_monotonic_decreasing
    ca = np.mean([confusion_matrix(y, p, normalize="true") for p in a], axis=0)
    cb = np.mean([confusion_matrix(y, p, normalize="true") for p in b], axis=0)
    top = table.iloc[0]
    assert (top["true"], top["predicted"]) == ("Shirt", "T-shirt/top") and top["low"] > 0
    assert top["rate_a"] == pytest.approx(ca[6, 0]) and top["rate_b"] == pytest.approx(cb[6, 0])
    assert top["seeds_b_more"] == 3


def test_the_same_model_differs_by_nothing(data):
    y, a, _ = data
    p = [onehot(x) for x in a]
    t = pc.class_error_differences(y, p, p, n_boot=50)
    assert np.allclose(t[["difference", "low", "high"]], 0)
    with pytest.raises(ValueError, match="same, non-zero number of seeds"):
        pc.confusion_differences(y, p, p[:1])
