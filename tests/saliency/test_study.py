"""saliency.study: the stage's sizes come from the profile and decide what each analysis covers."""
import dataclasses

import numpy as np
import pytest
import torch

from fmnist_lib.config import PROFILES
from fmnist_lib.models import LeNet5, SimpleCNN
from fmnist_lib.saliency.study import analyse

SIZES = dict(occlusion_images=20, faith_images=4, road_images=2, randomisation_images=3)


@pytest.fixture(scope="module")
def small():
    torch.manual_seed(0)
    runs = {"simple": [SimpleCNN().eval() for _ in range(2)], "lenet": [LeNet5().eval() for _ in range(2)]}
    rng = np.random.default_rng(0)
    X = rng.standard_normal((40, 1, 28, 28)).astype(np.float32)
    X[:, :, :6] = X[:, :, -6:] = -0.8  # some background, as in the real images
    return runs, X, np.repeat(np.arange(10), 4)


def test_each_analysis_covers_the_images_its_size_gives(small):
    runs, X, y = small
    out = analyse(runs, X, y, **SIZES)
    occ = out["occlusion_images"]
    assert len(occ) == 20 and len(set(occ)) == 20 and set(np.bincount(y[occ])) == {2}  # stratified
    agree = out["agreement"]
    assert {e: agree.loc[agree["explainer"] == e, "image"].nunique() for e in ("gradcam", "occlusion")} == {
        "gradcam": 40, "occlusion": 20}
    assert set(agree.loc[agree["explainer"] == "occlusion", "image"]) == set(occ)
    areas = out["faith_areas"]
    per_fill = areas.groupby("fill")["image"].nunique().to_dict()
    assert per_fill == {"black": 4, "mean": 4, "blur": 4, "road": 2}
    assert out["randomisation"].groupby(["model", "explainer", "step"]).size().eq(3).all()
    ref = out["randomisation_reference"]  # the cascade's reference: the same images, per model and explainer
    assert ref.groupby(["model", "explainer"])["image"].apply(list).map(lambda i: i == [0, 1, 2]).all()
    assert len(ref.groupby(["model", "explainer"])) == 6


def test_sizes_capped_at_the_occlusion_images(small):
    runs, X, y = small
    out = analyse(runs, X[:20], y[:20], occlusion_images=50, faith_images=40, road_images=2,
                  randomisation_images=30)
    assert list(out["occlusion_images"]) == list(range(20))
    assert out["faith_areas"].query("fill == 'black'")["image"].nunique() == 20
    assert out["randomisation"].groupby(["model", "explainer", "step"]).size().eq(20).all()


def test_a_size_below_two_is_refused_before_any_map(small, monkeypatch):
    import fmnist_lib.saliency.study as study

    runs, X, y = small
    monkeypatch.setattr(study, "compute_cams", lambda *a, **k: pytest.fail("computed before checking"))
    with pytest.raises(ValueError, match="saliency size must be >= 2.*config.Profile"):
        analyse(runs, X, y, **{**SIZES, "road_images": 1})
    with pytest.raises(ValueError, match="occlusion_images >= 20"):
        analyse(runs, X, y, **{**SIZES, "occlusion_images": 10})


@pytest.mark.parametrize("changes, what", [
    (dict(agreement_images=10), "agreement_images and occlusion_images must be >= 20"),
    (dict(road_images=1), "other saliency sizes >= 2"),
    (dict(faith_images=150), "must nest"),          # above quick's 100 occlusion images
    (dict(randomisation_images=101), "must nest"),
    (dict(road_images=101, faith_images=100), "must nest"),
    (dict(occlusion_images=19, faith_images=10, randomisation_images=10), "must be >= 20"),
])
def test_profile_rejects_saliency_sizes_that_do_not_nest(changes, what):
    with pytest.raises(ValueError, match=what):
        dataclasses.replace(PROFILES["quick"], **changes)


def test_the_profiles_sizes_key_the_stage_and_reach_the_computation(monkeypatch):
    """gradcam_analysis puts the sizes in its store key and hands the same ones to the stage."""
    import fmnist_lib.saliency.study as study
    from fmnist_lib.pipeline import stages

    p = dataclasses.replace(PROFILES["quick"], occlusion_images=60, faith_images=30)
    monkeypatch.setattr(stages, "final_models", lambda _: {n: [{"config": {"seed": 0}, "model": n}]
                                                           for n in stages.NAMES})
    monkeypatch.setattr(stages, "test_set", lambda _: (np.zeros((200, 1, 28, 28)), np.arange(200) % 10))
    seen = {}

    class Store:
        def get_or_compute(self, name, spec, compute):
            seen["spec"] = spec
            return compute()

    monkeypatch.setattr(stages, "default_store", lambda _: Store())
    monkeypatch.setattr(study, "analyse", lambda runs, X, y, seed=0, **sizes: seen.update(sizes=sizes) or {})
    stages.gradcam_analysis(p)
    assert seen["sizes"] == p.saliency_sizes() == {k: seen["spec"][k] for k in p.saliency_sizes()}
    assert seen["sizes"]["occlusion_images"] == 60 and seen["spec"]["n"] == p.agreement_images
    quick, full = PROFILES["quick"].saliency_sizes(), PROFILES["full"].saliency_sizes()
    assert set(quick) == set(full) == set(SIZES) and all(quick[k] <= full[k] for k in quick)
