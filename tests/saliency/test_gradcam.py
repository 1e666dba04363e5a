"""Grad-CAM and HiResCAM: hooks, side effects, bad input, equality with pytorch-grad-cam and
the figures."""
import copy

import numpy as np
import pytest
import torch
from pytorch_grad_cam import GradCAM as RefGradCAM
from pytorch_grad_cam import HiResCAM as RefHiResCAM
from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget
from torch import nn

from fmnist_lib.saliency.gradcam import CAMResult, GradCAM, HiResCAM, compute_cams
from fmnist_lib.paper.gradcam_plots import (all_zero_counts, comparison_grid, overlay,
                                            pick_disagreements, pick_one_per_class)
from fmnist_lib.models import LeNet5, SimpleCNN

STATS = dict(mean=0.286, std=0.353)  # close to Fashion-MNIST's; keeps unit tests off the data


class InplaceNet(nn.Module):
    """A conv followed by an in-place ReLU, as in many torchvision models."""

    def __init__(self, inplace: bool = True) -> None:
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(inplace=inplace),
                                      nn.MaxPool2d(4))  # (B, 4, 7, 7)
        self.classifier = nn.Linear(4 * 7 * 7, 10)

    @property
    def last_conv(self) -> nn.Conv2d:
        return self.features[0]

    def forward(self, x):
        return self.classifier(torch.flatten(self.features(x), 1))


def hooks(layer: nn.Module) -> int:
    return (len(layer._forward_hooks) + len(layer._backward_hooks)
            + len(layer._forward_pre_hooks) + len(layer._backward_pre_hooks))


def reference_maps(model, x, targets=None, method=RefGradCAM, pick=None) -> np.ndarray:
    """pytorch-grad-cam's maps at the target layer's own resolution (min-max normalised);
    ``pick(model)`` names the layer (``model.last_act`` by default)."""
    model = copy.deepcopy(model)  # the reference leaves .grad and eval mode behind
    cats = None if targets is None else [ClassifierOutputTarget(int(t)) for t in targets]
    layer = pick(model) if pick else getattr(model, "last_act", getattr(model, "last_conv", None))
    with method(model, target_layers=[layer]) as ref:
        size = {}
        layer.register_forward_hook(lambda m, i, o: size.update(hw=o.shape[-2:]))  # returns None
        # its output is resized to the input by cv2; resizing to the layer's size is the identity
        ref.get_target_width_height = lambda t: tuple(size["hw"])[::-1] if size else (28, 28)
        return ref(input_tensor=x, targets=cats)


TOL = 1e-5


def normalised(layer_maps: np.ndarray) -> np.ndarray:
    """ReLU then per-image min-max as pytorch-grad-cam does it: ``scale_cam_image`` (min-max
    with a 1e-7 guard) applied twice, once per layer and once after aggregating layers."""
    m = np.maximum(layer_maps, 0)
    for _ in range(2):
        m = m - m.min((1, 2), keepdims=True)
        m = m / (1e-7 + m.max((1, 2), keepdims=True))
    return m


@pytest.fixture(params=[SimpleCNN, LeNet5], ids=["simple", "lenet"])
def model(request):
    return request.param()


@pytest.fixture
def x():
    return torch.randn(16, 1, 28, 28)


# ---- hooks and side effects -----------------------------------------------------------------

def test_hooks_held_inside_with_and_released_on_exit(model, x):
    with GradCAM(model) as cam:
        assert hooks(model.last_act) == 1
        cam(x)
        assert hooks(model.last_act) == 1
    assert hooks(model.last_act) == 0
    assert all(hooks(m) == 0 for m in model.modules())


def test_hooks_released_on_exception(model, x):
    with pytest.raises(RuntimeError, match="boom"):
        with GradCAM(model) as cam:
            cam(x)
            raise RuntimeError("boom")
    assert hooks(model.last_act) == 0
    with pytest.raises(ValueError):
        with GradCAM(model) as cam:
            cam(x, targets=10)  # fails between the forward and the backward pass
    assert hooks(model.last_act) == 0


def test_call_outside_with_leaves_no_hook(model, x):
    result = GradCAM(model)(x)
    assert hooks(model.last_act) == 0 and result.maps.shape == (16, 28, 28)


def test_plain_forward_inside_with_is_untouched(model, x):
    with GradCAM(model):
        out = model(x)
        out.sum().backward()
    assert all(p.grad is not None for p in model.parameters())  # the graph was not cut


def test_no_param_grads_mode_restored_inputs_kept(x):
    model = SimpleCNN(dropout=0.5).train()
    before = x.clone()
    result = GradCAM(model)(x)
    assert all(p.grad is None for p in model.parameters())
    assert model.training
    assert torch.equal(x, before)
    assert np.allclose(result.maps, GradCAM(model.eval())(x).maps)  # dropout off during CAM


def test_existing_param_grads_untouched(model, x):
    for p in model.parameters():
        p.grad = torch.full_like(p, 3.0)
    GradCAM(model)(x)
    assert all(torch.all(p.grad == 3.0) for p in model.parameters())


def test_works_under_no_grad(model, x):
    with torch.no_grad():
        result = GradCAM(model)(x)
    assert np.allclose(result.maps, GradCAM(model)(x).maps)


def test_inplace_activation():
    inplace = InplaceNet(inplace=True)
    plain = InplaceNet(inplace=False)
    plain.load_state_dict(inplace.state_dict())
    x = torch.randn(12, 1, 28, 28)
    ours = GradCAM(inplace)(x)
    assert np.allclose(ours.maps, GradCAM(plain)(x).maps, atol=1e-6)
    assert np.abs(ours.maps - reference_maps(plain, x, pick=lambda m: m.last_conv)).max() < TOL
    assert ours.layer_size == (28, 28)


# ---- results --------------------------------------------------------------------------------

def test_shapes_and_ranges(model, x):
    r = GradCAM(model)(x)
    assert r.maps.shape == r.raw.shape == (16, 28, 28) and r.maps.dtype == np.float32
    assert r.probs.shape == (16, 10) and r.targets.shape == r.preds.shape == (16,)
    assert r.maps.min() >= 0 and r.maps.max() <= 1 and r.raw.min() >= 0
    live = r.raw.reshape(16, -1).max(1) > 0
    assert live.any()
    assert np.allclose(r.maps[live].reshape(live.sum(), -1).max(1), 1)
    assert np.allclose(r.maps[live].reshape(live.sum(), -1).min(1), 0)
    assert np.allclose(r.probs.sum(1), 1, atol=1e-5)
    assert np.array_equal(r.preds, r.probs.argmax(1)) and np.array_equal(r.targets, r.preds)
    assert np.array_equal(r.preds, model.eval()(x).argmax(1).numpy())
    assert r.layer_size == ((28, 28) if isinstance(model, SimpleCNN) else (10, 10))


def test_batched_equals_one_by_one(model, x):
    batched = GradCAM(model)(x)
    with GradCAM(model) as cam:
        single = CAMResult.concat([cam(x[i:i + 1]) for i in range(len(x))])
    assert np.allclose(batched.maps, single.maps, atol=1e-6)
    assert np.allclose(batched.raw, single.raw, rtol=1e-5, atol=1e-7)


def test_targets_forms(model, x):
    y = torch.randint(0, 10, (16,))
    with GradCAM(model) as cam:
        by_tensor = cam(x, targets=y)
        assert np.array_equal(by_tensor.targets, y.numpy())
        assert np.allclose(cam(x, targets=y.tolist()).maps, by_tensor.maps)
        assert np.allclose(cam(x, targets=y.numpy()).maps, by_tensor.maps)
        assert np.array_equal(cam(x, targets=np.int64(3)).targets, np.full(16, 3))
        assert np.array_equal(cam(x, targets=3).targets, np.full(16, 3))


def test_compute_cams_and_indexing(model, x):
    y = np.arange(16) % 10
    whole = GradCAM(model)(x, targets=y)
    chunked = compute_cams(model, x.numpy(), targets=y, batch_size=5)
    assert np.allclose(whole.maps, chunked.maps, atol=1e-6)
    assert np.array_equal(chunked[[2, 7]].targets, y[[2, 7]])
    assert len(chunked[3]) == 1 and len(chunked[2:9]) == 7
    assert np.allclose(chunked.confidence, chunked.probs.max(1))


# ---- the reference --------------------------------------------------------------------------

@pytest.mark.parametrize("given", [False, True], ids=["predicted", "ClassifierOutputTarget"])
@pytest.mark.parametrize("ours_cls, ref_cls", [(GradCAM, RefGradCAM), (HiResCAM, RefHiResCAM)],
                         ids=["gradcam", "hirescam"])
def test_equals_pytorch_grad_cam(model, given, ours_cls, ref_cls):
    x = torch.randn(32, 1, 28, 28)
    targets = torch.randint(0, 10, (32,)) if given else None
    ours = ours_cls(model)(x, targets=targets)
    ref = reference_maps(model, x, targets, ref_cls)
    assert ref.shape == ours.layer_maps.shape
    assert np.abs(normalised(ours.layer_maps) - ref).max() < TOL
    if isinstance(model, SimpleCNN):  # 28x28 layer: no upsampling, the 28x28 maps are equal too
        assert np.abs(ours.maps - ref).max() < TOL


def test_target_is_the_activation_after_the_last_conv(model):
    x = torch.randn(8, 1, 28, 28)
    after = GradCAM(model)(x)
    before = GradCAM(model, target_layer=model.last_conv)(x)
    assert np.abs(normalised(before.layer_maps) - reference_maps(model, x, None, RefGradCAM,
                                                                 lambda m: m.last_conv)).max() < TOL
    assert not np.allclose(after.layer_maps, before.layer_maps)


def test_hirescam_sums_to_logit_minus_bias():
    torch.manual_seed(0)
    model = SimpleCNN().eval()
    x, t = torch.randn(8, 1, 28, 28), torch.randint(0, 10, (8,))
    r = HiResCAM(model)(x, targets=t)
    logit = model(x).gather(1, t[:, None])[:, 0] - model.classifier[1].bias[t]
    assert np.allclose(r.layer_maps.sum((1, 2)), logit.detach().numpy(), atol=1e-4)
    g = GradCAM(model)(x, targets=t)  # Grad-CAM's channel means do not have this property
    assert not np.allclose(g.layer_maps.sum((1, 2)), logit.detach().numpy(), atol=1e-2)


@pytest.mark.realdata
def test_equals_pytorch_grad_cam_on_real_images(model):
    from fmnist_lib.data import get_arrays

    X, y = get_arrays(subset=200)["test"]
    x = torch.from_numpy(X[:64])
    ours = GradCAM(model)(x, targets=y[:64])
    assert np.abs(normalised(ours.layer_maps) - reference_maps(model, x, y[:64])).max() < TOL
    rgb = overlay(x[0], ours.maps[0])  # default normalisation_stats()
    assert rgb.shape == (28, 28, 3) and 0 <= rgb.min() and rgb.max() <= 1


# ---- bad input ------------------------------------------------------------------------------

def test_bad_layer():
    bare = nn.Sequential(nn.Conv2d(1, 2, 3), nn.Flatten(), nn.LazyLinear(10))
    with pytest.raises(ValueError, match="last_act"):
        GradCAM(bare)
    with pytest.raises(ValueError, match="nn.Module"):
        GradCAM(LeNet5(), target_layer="features.3")
    lenet = LeNet5()
    with pytest.raises(ValueError, match=r"\(B, K, h, w\)"):
        GradCAM(lenet, target_layer=lenet.classifier[0])(torch.zeros(2, 1, 28, 28))
    with pytest.raises(ValueError, match="submodule"):
        GradCAM(LeNet5(), target_layer=nn.Conv2d(1, 2, 3))


@pytest.mark.parametrize("shape", [(4, 28, 28), (1, 28, 28), (4, 3, 28, 28), (4, 1, 32, 32),
                                   (0, 1, 28, 28)])
def test_bad_shape(shape):
    with pytest.raises(ValueError, match="GradCAM expects"):
        GradCAM(SimpleCNN())(torch.zeros(shape))


@pytest.mark.parametrize("targets", [10, -1, [0, 1, 2], [0, 1, 2, 99], 2.0, [True] * 4])
def test_bad_targets(targets):
    model = SimpleCNN()
    with pytest.raises(ValueError, match="targets"):
        GradCAM(model)(torch.zeros(4, 1, 28, 28), targets=targets)
    assert hooks(model.last_act) == 0


# ---- pictures -------------------------------------------------------------------------------

def test_overlay():
    image = torch.randn(1, 28, 28)
    cam = np.random.rand(28, 28)
    rgb = overlay(image, cam, **STATS)
    assert rgb.shape == (28, 28, 3) and rgb.min() >= 0 and rgb.max() <= 1
    gray = overlay(image[0].numpy(), cam, alpha=0.0, **STATS)
    expected = np.clip(image[0].numpy() * STATS["std"] + STATS["mean"], 0, 1)
    assert np.allclose(gray, expected[..., None].repeat(3, -1), atol=1e-6)
    with pytest.raises(ValueError):
        overlay(image, cam[:10], **STATS)


def test_comparison_grid_and_picks():
    y = np.arange(30) % 10
    x = torch.randn(30, 1, 28, 28)
    results = {"simple": GradCAM(SimpleCNN())(x), "lenet": GradCAM(LeNet5())(x)}
    idx = pick_one_per_class(y, seed=1)
    assert np.array_equal(y[idx], np.arange(10))
    diff = pick_disagreements(results["simple"].preds, results["lenet"].preds, k=4, y_true=y)
    assert len(diff) <= 4 and np.all(results["simple"].preds[diff] != results["lenet"].preds[diff])
    fig = comparison_grid(x[idx[:3]], y[idx[:3]], {k: r[idx[:3]] for k, r in results.items()},
                          **STATS)
    assert len(fig.axes) == 10  # 3 x 3 panels and the shared colour bar
    assert "normalised per image" in fig.axes[-1].get_xlabel()
    titles = [ax.get_title() for ax in fig.axes[:3]]
    assert titles[0].startswith("Input") and "T-shirt/top" in titles[0]
    assert titles[1].startswith("Simple CNN") and titles[2].startswith("LeNet-5")
    with pytest.raises(ValueError):
        comparison_grid(x[:3], y[:2], {k: r[:3] for k, r in results.items()}, **STATS)
    # a map that is zero everywhere is drawn as such and counted, not as a coloured square
    r = results["simple"][idx[:2]]
    zero = type(r)(r.maps * 0, r.raw * 0, r.targets, r.probs, r.preds, r.layer_maps)
    fig = comparison_grid(x[idx[:2]], y[idx[:2]], {"simple": zero, "lenet": results["lenet"][idx[:2]]},
                          **STATS)
    assert [t.get_text() for t in fig.axes[1].texts] == ["all zero"]
    assert all_zero_counts({"simple": zero, "lenet": results["lenet"][idx[:2]]}).startswith(
        "maps zero everywhere (drawn hatched): Simple CNN 2 of 2")
