"""gradcam_occlusion: a linear model's map in closed form, a loop over windows, the interface."""
import numpy as np
import pytest
import torch
from torch import nn

from fmnist_lib.saliency.gradcam import compute_cams
from fmnist_lib.saliency.occlusion import occlusion_cams, occlusion_windows
from fmnist_lib.models import BACKGROUND, SimpleCNN


def test_windows_tile_the_axis():
    assert occlusion_windows(28, 4, 2).tolist() == list(range(0, 25, 2))
    with pytest.raises(ValueError, match="tile"):
        occlusion_windows(28, 5, 2)


def test_linear_model_in_closed_form():
    """For logits W x + b, occluding a window P lowers logit t by sum_{p in P} W_tp (x_p - fill);
    a pixel's value is the mean of that over the windows that cover it."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(784, 10))
    x = torch.randn(3, 1, 28, 28)
    result = occlusion_cams(model, x, targets=[1, 4, 7])
    W = model[1].weight.detach().double().numpy().reshape(10, 28, 28)
    for i, t in enumerate([1, 4, 7]):
        contrib = W[t] * (x[i, 0].double().numpy() - BACKGROUND)
        total, count = np.zeros((28, 28)), np.zeros((28, 28))
        for r in range(0, 25, 2):
            for c in range(0, 25, 2):
                total[r:r + 4, c:c + 4] += contrib[r:r + 4, c:c + 4].sum()
                count[r:r + 4, c:c + 4] += 1
        assert np.allclose(result.layer_maps[i], total / count, atol=1e-4)
    assert np.allclose(result.raw, np.maximum(result.layer_maps, 0))
    assert result.maps.max() == pytest.approx(1.0) and result.maps.min() >= 0


def test_cnn_against_a_loop_over_windows_and_batches():
    torch.manual_seed(1)
    model = SimpleCNN().eval()
    x = torch.randn(3, 1, 28, 28)
    x[:, :, :12] = BACKGROUND  # windows wholly on background are skipped (their drop is 0)
    x[0, :, 20:, :9] = BACKGROUND
    before = x.clone()
    fast = occlusion_cams(model, x, batch_size=2)
    assert torch.equal(x, before)  # inputs not mutated
    with torch.no_grad():
        logits = model(x)
        t = logits.argmax(1)
        total, count = np.zeros((3, 28, 28)), np.zeros((28, 28))
        for r in range(0, 25, 2):
            for c in range(0, 25, 2):
                occluded = x.clone()
                occluded[:, :, r:r + 4, c:c + 4] = BACKGROUND
                drop = (logits - model(occluded)).gather(1, t[:, None])[:, 0].double().numpy()
                total[:, r:r + 4, c:c + 4] += drop[:, None, None]
                count[r:r + 4, c:c + 4] += 1
    assert np.allclose(fast.layer_maps, total / count, atol=1e-4)
    assert np.array_equal(fast.targets, t.numpy()) and fast.preds.tolist() == t.tolist()
    via = compute_cams(model, x, method="occlusion")
    assert np.allclose(via.maps, fast.maps, atol=1e-5)  # other batches: float32 rounding


def test_equals_captum_where_installed():
    """captum's Occlusion (the same windows, baseline and target) as the reference; captum is not
    a dependency, so this runs only where it is installed (checked with captum 0.9.0)."""
    attr = pytest.importorskip("captum.attr")
    torch.manual_seed(0)
    model = SimpleCNN().eval()
    x = torch.randn(4, 1, 28, 28)
    ours = occlusion_cams(model, x)
    ref = attr.Occlusion(model).attribute(x, sliding_window_shapes=(1, 4, 4), strides=(1, 2, 2),
                                          baselines=BACKGROUND, target=torch.as_tensor(ours.targets))
    assert np.allclose(ref[:, 0].detach().numpy(), ours.layer_maps, atol=1e-5)
