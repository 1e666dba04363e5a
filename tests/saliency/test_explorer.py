"""The explorer's data (fmnist_lib.explorer): image choice, map classes, the stored stage."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from fmnist_lib.pipeline import stages as study
from fmnist_lib.saliency import explorer
from fmnist_lib.config import PROFILES
from fmnist_lib.saliency.gradcam import compute_cams
from fmnist_lib.models import LeNet5, SimpleCNN


def test_predictions_rows_are_seeds_then_ensemble():
    a = np.array([[0.6, 0.4], [0.2, 0.8]])
    b = np.array([[0.3, 0.7], [0.1, 0.9]])  # image 0: seeds disagree, the mean picks class 1
    out = explorer.predictions([a, b])
    assert out.tolist() == [[0, 1], [1, 1], [1, 1]]
    with pytest.raises(ValueError, match="at least one seed"):
        explorer.predictions([])


def test_choose_images_covers_every_stratum_first():
    rng = np.random.default_rng(1)
    y = rng.integers(0, 10, 3000)
    a = np.where(rng.random(3000) < 0.8, y, rng.integers(0, 10, 3000))
    b = np.where(rng.random(3000) < 0.9, y, rng.integers(0, 10, 3000))
    strata = {(int(t), int(p), int(q)) for t, p, q in zip(y, a, b)}
    n = len(strata) + 40
    idx = explorer.choose_images(y, a, b, n, seed=0)
    assert len(idx) == n == len(set(idx.tolist())) and np.all(np.diff(idx) > 0)
    assert {(int(y[i]), int(a[i]), int(b[i])) for i in idx} == strata  # every stratum is in
    again = explorer.choose_images(y, a, b, n, seed=0)
    assert np.array_equal(idx, again)  # one seed, one choice
    assert not np.array_equal(idx, explorer.choose_images(y, a, b, n, seed=1))
    assert len(explorer.choose_images(y[:5], a[:5], b[:5], 50)) == 5  # n > N: all of them


def test_choose_images_bad_input():
    with pytest.raises(ValueError, match="one length"):
        explorer.choose_images(np.zeros(4), np.zeros(3), np.zeros(4), 2)
    with pytest.raises(ValueError, match="n must be"):
        explorer.choose_images(np.zeros(4), np.zeros(4), np.zeros(4), 0)


def test_map_classes_true_class_first_then_predictions():
    y = np.array([3, 5])
    preds = {"simple": np.array([[3, 5], [4, 5], [3, 5]]),  # seed 0, seed 1, ensemble
             "lenet": np.array([[6, 5], [3, 5], [3, 5]])}
    assert explorer.map_classes(y, preds) == [[3, 4, 6], [5]]


@pytest.fixture
def tiny_study(monkeypatch, tmp_path):
    """Two seeds of untrained models on 60 random 'test' images, behind study's stage functions."""
    monkeypatch.setenv("FMNIST_RESULTS", str(tmp_path / "results"))
    X = torch.randn(60, 1, 28, 28).numpy()
    y = np.arange(60) % 10
    runs = {}
    for name, cls in (("simple", SimpleCNN), ("lenet", LeNet5)):
        runs[name] = []
        for seed in (0, 1):
            torch.manual_seed(seed + (10 if name == "lenet" else 0))
            model = cls().eval()
            with torch.no_grad():
                proba = model(torch.from_numpy(X)).softmax(1).numpy()
            runs[name].append({"seed": seed, "model": model, "test_proba": proba,
                               "config": {"model": name, "seed": seed}})
    monkeypatch.setattr(study, "final_models", lambda p=None: runs)
    monkeypatch.setattr(study, "test_set", lambda p=None: (X, y))
    monkeypatch.setattr(explorer, "N_IMAGES", 12)
    return X, y, runs


def test_stage_maps_equal_compute_cams_and_are_stored(tiny_study):
    X, y, runs = tiny_study
    out = study.explorer_maps(PROFILES["quick"])
    idx, pi, pc = out["indices"], out["pair_image"], out["pair_class"]
    assert len(idx) == 12 and len(pi) == len(pc) >= 12
    preds = {n: explorer.predictions([r["test_proba"] for r in rs]) for n, rs in runs.items()}
    assert [[int(c) for c in pc[pi == k]] for k in range(12)] == \
        explorer.map_classes(y[idx], {n: p[:, idx] for n, p in preds.items()})
    for method in ("gradcam", "hirescam"):
        maps = out[f"maps_{method}"]
        assert maps.shape == (2, 2, len(pi), 28, 28) and maps.dtype == np.float16
        assert maps.min() >= 0 and maps.max() <= 1
        for m, name in enumerate(study.NAMES):
            ref = compute_cams(runs[name][1]["model"], X[idx][pi], targets=pc, method=method)
            assert np.abs(maps[m, 1].astype(np.float32) - ref.maps).max() < 1e-3
    again = study.explorer_maps(PROFILES["quick"])  # read back from the store
    assert again["_seconds"] == out["_seconds"] and np.array_equal(again["maps_hirescam"], out["maps_hirescam"])


def test_explorer_data_probabilities_are_the_runs(tiny_study):
    X, y, runs = tiny_study
    data = study.explorer_data(PROFILES["quick"])
    assert data["seeds"] == [0, 1] and data["names"] == list(study.NAMES)
    assert np.array_equal(data["proba"]["lenet"][1], runs["lenet"][1]["test_proba"])
    assert np.array_equal(data["y"], y)
