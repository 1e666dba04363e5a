"""gradcam_geometry: each unit of a layer lands on the centre of the pixels it sees."""
import numpy as np
import pytest
import torch
from torch import nn

from fmnist_lib.saliency.geometry import layer_geometry, upsample
from fmnist_lib.models import LeNet5, SimpleCNN


def test_geometry_by_hand():
    # SimpleCNN: 3x3 conv with padding 1 keeps every unit on its pixel
    simple = SimpleCNN()
    assert layer_geometry(simple, simple.last_act) == ((1.0, 1.0), (0.0, 0.0))
    # LeNet-5: C1 (5x5, pad 2) keeps the grid, S2 halves it (centre 2i + 0.5), C3 (5x5, no pad)
    # sees S2 units i..i+4, centred on i + 2, i.e. input 2(i + 2) + 0.5 = 2i + 4.5
    lenet = LeNet5()
    assert layer_geometry(lenet, lenet.last_act) == ((2.0, 2.0), (4.5, 4.5))
    assert layer_geometry(lenet, lenet.features[2]) == ((2.0, 2.0), (0.5, 0.5))


def test_geometry_matches_the_receptive_field_centre():
    """The input gradient of one C3 unit (linear net: no ReLU gates) is centred on 2i + 4.5."""
    torch.manual_seed(0)
    lenet = LeNet5(activation="tanh", pooling="avg")  # avg pooling: a symmetric footprint
    for mod in lenet.features:
        if isinstance(mod, nn.Conv2d):
            nn.init.constant_(mod.weight, 1.0)
    x = torch.zeros(1, 1, 28, 28, requires_grad=True)
    feats = lenet.features[:4](x)  # (1, 16, 10, 10), C3 before its activation
    for i, j in [(0, 0), (3, 7), (9, 9)]:
        (g,) = torch.autograd.grad(feats[0, 0, i, j], x, retain_graph=True)
        w = g[0, 0].abs().double()
        rows, cols = torch.arange(28, dtype=torch.float64), torch.arange(28, dtype=torch.float64)
        centre = ((w.sum(1) * rows).sum() / w.sum(), (w.sum(0) * cols).sum() / w.sum())
        # pixels outside the image (padding) carry no gradient, so edge units shift inwards
        if 0 < i < 9 and 0 < j < 9:
            assert np.allclose([c.item() for c in centre], [2 * i + 4.5, 2 * j + 4.5], atol=1e-6)


def test_upsample_places_units_on_their_centres():
    cam = torch.zeros(1, 10, 10)
    cam[0, 3, 6] = 1.0
    up = upsample(cam, (28, 28), (2.0, 2.0), (4.5, 4.5))
    # unit (3, 6) is centred on pixel (10.5, 16.5): pixels 10/11 x 16/17, each 0.25 px from
    # it (0.75 of the way, per axis), share its peak 0.75 ** 2
    peak = up[0].max()
    assert torch.isclose(peak, torch.tensor(0.5625))
    assert {tuple(p) for p in torch.nonzero(up[0] == peak).tolist()} == {
        (10, 16), (10, 17), (11, 16), (11, 17)}
    # bilinear F.interpolate would put the same unit's centre at 2.8 * i + 0.9 instead
    naive = nn.functional.interpolate(cam[None], size=(28, 28), mode="bilinear")[0, 0]
    assert torch.nonzero(naive == naive.max())[0, 0].item() in (9, 10)
    assert torch.nonzero(naive == naive.max())[0, 1].item() in (17, 18)


def test_upsample_identity_and_edges():
    cam = torch.rand(2, 28, 28)
    assert torch.equal(upsample(cam, (28, 28), (1.0, 1.0), (0.0, 0.0)), cam)
    small = torch.rand(1, 10, 10)
    up = upsample(small, (28, 28), (2.0, 2.0), (4.5, 4.5))
    assert torch.allclose(up[0, :5, :5], small[0, 0, 0].expand(5, 5))  # held beyond the centre
    assert torch.allclose(up[0, 24:, 24:], small[0, 9, 9].expand(4, 4))


def test_unknown_geometry_is_an_error():
    lenet = LeNet5()
    with pytest.raises(ValueError, match="not a direct child"):
        layer_geometry(lenet, lenet.classifier[0])

    class Odd(nn.Module):
        def __init__(self):
            super().__init__()
            self.features = nn.Sequential(nn.Upsample(scale_factor=2), nn.Conv2d(1, 1, 3))

    odd = Odd()
    with pytest.raises(ValueError, match="No geometry for Upsample"):
        layer_geometry(odd, odd.features[1])
