"""gradcam_perturb: rankings, fills, ROAD against pytorch-grad-cam, curves on a toy model."""
import numpy as np
import pytest
import torch
from pytorch_grad_cam.metrics.perturbation_confidence import (PerturbationConfidenceMetric,
                                                              RemoveMostRelevantFirst)
from pytorch_grad_cam.metrics.road import NoisyLinearImputer
from pytorch_grad_cam.utils.model_targets import ClassifierOutputSoftmaxTarget
from torch import nn

from fmnist_lib.saliency.perturb import (blur, curve_areas, perturbation_curves, random_ranking,
                                        rank_pixels, road_impute)
from fmnist_lib.models import BACKGROUND, SimpleCNN


class PixelSum(nn.Module):
    """Toy classifier with a known answer: logit 0 = 10 * (mean of the left half), logit 1 = 0."""

    def forward(self, x):
        left = x[:, 0, :, :14].mean((1, 2)) * 10
        return torch.stack([left, torch.zeros_like(left)], 1)


def test_rank_pixels_orders_and_breaks_ties_at_random():
    maps = np.zeros((2, 28, 28))
    maps[:, 5, 7], maps[:, 20, 3] = 1.0, 0.5
    r = rank_pixels(maps, seed=0)
    assert r.shape == (2, 784) and (np.sort(r, 1) == np.arange(784)).all()
    assert list(r[0, :2]) == [5 * 28 + 7, 20 * 28 + 3]
    # ties (the 782 zeros) are not in index order, and differ between images
    assert not (np.diff(r[0, 2:]) > 0).all() and not np.array_equal(r[0, 2:], r[1, 2:])
    assert np.array_equal(rank_pixels(maps, seed=0), r)  # one seed, one order
    rr = random_ranking(3, 784, seed=1)
    assert rr.shape == (3, 784) and (np.sort(rr, 1) == np.arange(784)).all()


def test_blur_keeps_constants_and_smooths():
    x = torch.full((2, 1, 28, 28), 0.3)
    assert torch.allclose(blur(x), x, atol=1e-6)
    dot = torch.zeros(1, 1, 28, 28)
    dot[0, 0, 14, 14] = 1.0
    b = blur(dot)
    assert b.max() < 0.1 and abs(b.sum().item() - 1) < 1e-4 and b[0, 0, 14, 14] == b.max()


@pytest.mark.parametrize("share", [0.0, 0.2, 0.6, 1.0])
def test_road_impute_equals_pytorch_grad_cam(share):
    torch.manual_seed(0)
    img = torch.randn(1, 28, 28)
    keep = torch.rand(28, 28) >= share
    ref = NoisyLinearImputer(noise=0)(img, keep.float())[0].numpy()
    ours = road_impute(img[0].numpy(), keep.numpy(), noise=0)
    assert np.abs(ours - ref).max() < 1e-5
    assert np.array_equal(ours[keep.numpy()], img[0].numpy()[keep.numpy()].astype(np.float64))
    noisy = road_impute(img[0].numpy(), keep.numpy(), noise=0.01, rng=np.random.default_rng(0))
    assert share == 0 or 0 < np.abs(noisy - ours).max() < 0.1


def test_road_deletion_equals_pytorch_grad_cam_road_metric():
    """Our ROAD deletion of the top 20 % equals pytorch-grad-cam's ROADMostRelevantFirst(80)
    (noise off on both sides; a tie-free map so both pick the same pixels)."""
    torch.manual_seed(0)
    model = SimpleCNN().eval()
    x = torch.randn(6, 1, 28, 28)
    cams = np.random.default_rng(0).random((6, 28, 28)).astype(np.float32)
    targets = model(x).argmax(1).numpy()
    metric = PerturbationConfidenceMetric(RemoveMostRelevantFirst(80, NoisyLinearImputer(noise=0)))
    ref = metric(x, cams, [ClassifierOutputSoftmaxTarget(int(t)) for t in targets], model,
                 return_diff=False)
    ours = perturbation_curves(model, x, rank_pixels(cams), targets, fill="road",
                               fractions=[0.0, 0.2], road_noise=0.0)
    assert np.allclose(ours[:, 1], ref, atol=1e-5)


def test_deletion_and_insertion_on_a_toy_model_with_a_known_answer():
    model = PixelSum()
    x = torch.ones(4, 1, 28, 28)
    left = np.zeros((4, 28, 28))
    left[:, :, :14] = 1.0  # the map that points at the pixels the model uses
    right = 1.0 - left
    t = np.zeros(4, dtype=int)
    fr = np.linspace(0, 1, 3)
    kw = dict(fill="black", fractions=fr)
    good = perturbation_curves(model, x, rank_pixels(left), t, mode="deletion", **kw)
    bad = perturbation_curves(model, x, rank_pixels(right), t, mode="deletion", **kw)
    # by hand: p0 = sigmoid(10 * mean(left half)); half deleted = the whole left half black
    p = lambda v: 1 / (1 + np.exp(-10 * v))
    assert np.allclose(good[:, 0], p(1.0)) and np.allclose(good[:, 1], p(BACKGROUND))
    assert np.allclose(bad[:, 1], p(1.0)) and np.allclose(good[:, 2], bad[:, 2])
    assert (curve_areas(good) < curve_areas(bad)).all()
    ins_good = perturbation_curves(model, x, rank_pixels(left), t, mode="insertion", **kw)
    assert np.allclose(ins_good[:, 1], p(1.0)) and np.allclose(ins_good[:, 0], p(BACKGROUND))
    mean = perturbation_curves(model, x, rank_pixels(left), t, mode="deletion", fill="mean",
                               fractions=fr)
    assert np.allclose(mean[:, 1], p(0.0))


def test_curve_areas_by_hand():
    assert np.allclose(curve_areas([[1.0, 0.0], [0.5, 0.5]]), [0.5, 0.5])
    assert np.isclose(curve_areas([[0.0, 1.0, 1.0]], [0.0, 0.5, 1.0])[0], 0.75)


def test_bad_input():
    model, x = PixelSum(), torch.zeros(2, 1, 28, 28)
    r = random_ranking(2, 784)
    with pytest.raises(ValueError, match="ranking"):
        perturbation_curves(model, x, r[:1], [0, 0])
    with pytest.raises(ValueError, match="fill"):
        perturbation_curves(model, x, r, [0, 0], fill="white")
    with pytest.raises(ValueError, match="fractions"):
        perturbation_curves(model, x, r, [0, 0], fractions=[0, 1.5])
    with pytest.raises(ValueError, match="maps"):
        rank_pixels(np.zeros((28, 28)))
