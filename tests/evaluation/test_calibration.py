"""fmnist_lib.evaluation.calibration: NLL against scikit-learn, the fitted temperature against a grid."""
import numpy as np
import pandas as pd
import pytest
from scipy.special import softmax
from sklearn.metrics import log_loss

from fmnist_lib.evaluation import calibration as cal


def overconfident(n=3000, seed=0, scale=3.0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 10, n)
    z = rng.normal(size=(n, 10))
    z[np.arange(n), y] += 1.5
    return y, scale * z  # logits of a well-calibrated model (scale 1) blown up by ``scale``


def test_nll_matches_sklearn_log_loss():
    y, z = overconfident()
    assert cal.nll(y, z) == pytest.approx(log_loss(y, softmax(z, 1), labels=range(10)), rel=1e-9)
    assert cal.nll(y, z, 2.0) == pytest.approx(log_loss(y, softmax(z / 2, 1), labels=range(10)), rel=1e-9)


def test_fitted_temperature_is_the_grid_minimum_and_undoes_the_scaling():
    y, z = overconfident(scale=3.0)
    t = cal.fit_temperature(y, z)
    grid = np.exp(np.linspace(np.log(0.5), np.log(10), 4001))
    best = grid[np.argmin([cal.nll(y, z, g) for g in grid])]
    assert t == pytest.approx(best, rel=2e-3)
    assert 2.0 < t < 4.0 and cal.nll(y, z, t) < cal.nll(y, z)


def test_bad_logits_and_temperature_raise():
    with pytest.raises(ValueError, match="logits"):
        cal.nll([0, 1], np.zeros((3, 10)))
    with pytest.raises(ValueError, match="temperature"):
        cal.nll([0], np.zeros((1, 10)), 0.0)


def test_calibration_table_scaling_lowers_ece_of_an_overconfident_model():
    y, z = overconfident(scale=3.0)
    yv, zv = overconfident(seed=1, scale=3.0)
    yc, zc = overconfident(scale=1.0)
    yvc, zvc = overconfident(seed=1, scale=1.0)
    assert np.array_equal(y, yc) and np.array_equal(yv, yvc)
    runs = {"over": [{"val_logits": zv, "test_logits": z}], "fine": [{"val_logits": zvc, "test_logits": zc}]}
    table = cal.calibration_table(yv, y, runs, {"over": "Over", "fine": "Fine"})
    over = table.set_index("model").loc["Over"]
    assert over["ECE scaled"] < over["ECE"] and over["NLL scaled"] < over["NLL"] and over["T"] > 2
    text = cal.calibration_sentence(table)
    assert text.startswith("Before scaling the lower test ECE is Fine's")


@pytest.mark.parametrize("after, word", [([0.01, 0.02], "the same model still leads"),
                                         ([0.02, 0.01], "the order changes, but on a gap of 0.0100")])
def test_calibration_sentence_each_side(after, word):
    table = pd.DataFrame({"model": ["A", "B"], "ECE": [0.01, 0.04], "ECE scaled": after,
                          "NLL scaled": [0.3, 0.2]})
    text = cal.calibration_sentence(table)
    assert word in text and "scaled NLL is B's" in text


def test_calibration_sentence_calls_a_tie():
    table = pd.DataFrame({"model": ["A", "B"], "ECE": [0.01, 0.0101], "ECE scaled": [0.01, 0.02],
                          "NLL scaled": [0.3, 0.2]})
    assert "neither model" in cal.calibration_sentence(table)


def test_calibration_sentence_names_a_model_that_scaling_made_worse():
    table = pd.DataFrame({"model": ["A", "B"], "ECE": [0.0089, 0.0170], "ECE scaled": [0.0099, 0.0089],
                          "NLL": [0.3304, 0.2925], "NLL scaled": [0.3307, 0.2884]})
    text = cal.calibration_sentence(table)
    assert "no interval is computed" in text
    assert "temperature scaling made A (ECE 0.0089 → 0.0099, NLL 0.3304 → 0.3307) slightly worse" in text
    assert "B (" not in text


def test_calibration_sentence_is_silent_when_scaling_helps_both():
    table = pd.DataFrame({"model": ["A", "B"], "ECE": [0.02, 0.03], "ECE scaled": [0.01, 0.02],
                          "NLL": [0.4, 0.5], "NLL scaled": [0.3, 0.4]})
    assert "worse" not in cal.calibration_sentence(table)
