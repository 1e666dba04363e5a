"""fmnist_lib.fused: the fused conv -> ReLU -> max-pool kernels against PyTorch's modules.

The reference is autograd through ``nn.Conv2d``, ``nn.ReLU`` and ``nn.MaxPool2d`` (the models'
own modules, run with the kernels switched off): forward outputs must be bit-identical (ReLU
and max are exact, the convolution is PyTorch's in both), gradients equal up to float
reordering. Where no C++ compiler is present the kernel tests skip, and fail with ``CI=true``.
"""
import copy
import os
import subprocess
import sys

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from fmnist_lib import fused
from fmnist_lib.config import TrainConfig
from fmnist_lib.data import TensorLoader
from fmnist_lib.errors import ConfigError
from fmnist_lib.models import BACKGROUND, LeNet5, SimpleCNN
from fmnist_lib.training import build_model, fit

from quarto_render import in_ci


@pytest.fixture(autouse=True)
def kernels_needed(request):
    """Skip where the kernels are not available here (fail with ``CI=true``: CI has g++)."""
    if request.node.get_closest_marker("no_kernels") is None and fused.backend() != "fused":
        if in_ci():
            pytest.fail(f"CI=true: the fused kernels are not available: {fused.status()}", pytrace=False)
        pytest.skip(f"the fused kernels are not available: {fused.status()}")


def _step_grads(model: nn.Module, x: torch.Tensor, y: torch.Tensor, kernels: str):
    """(logits, {name: grad}) of one cross-entropy backward pass with ``kernels``."""
    model.zero_grad(set_to_none=True)
    model.train()
    with fused.use_kernels(kernels):
        logits = model(x)
        F.cross_entropy(logits, y).backward()
    return logits.detach(), {n: p.grad.clone() for n, p in model.named_parameters()}


def _images(n: int, seed: int = 0) -> torch.Tensor:
    """Normalised-looking images with flat background (ties in every background window)."""
    g = torch.Generator().manual_seed(seed)
    x = torch.full((n, 1, 28, 28), BACKGROUND)
    x[:, :, 6:22, 8:20] = torch.randn(n, 1, 16, 12, generator=g) + 1.0
    x[: n // 4] = BACKGROUND  # whole blank images: every window of every map ties
    return x


@pytest.mark.parametrize("cls", [LeNet5, SimpleCNN])
@pytest.mark.parametrize("layout", ["contiguous", "channels_last"])
def test_a_training_step_matches_the_modules(cls, layout):
    torch.manual_seed(1)
    model = cls()
    if layout == "channels_last":
        model = model.to(memory_format=torch.channels_last)  # as fit trains
    with torch.no_grad():  # biases up so that many windows tie at a positive value
        for m in model.modules():
            if isinstance(m, nn.Conv2d):
                m.bias.add_(0.3)
    x, y = _images(64), torch.randint(0, 10, (64,), generator=torch.Generator().manual_seed(2))
    ref_logits, ref = _step_grads(model, x, y, "pytorch")
    logits, got = _step_grads(model, x, y, "fused")
    _, exact = _step_grads(copy.deepcopy(model).double(), x.double(), y, "pytorch")  # float64
    torch.testing.assert_close(logits, ref_logits, rtol=1e-5, atol=1e-6)  # sums in another order
    _no_worse_than_pytorch([got[n] for n in ref], [ref[n] for n in ref], [exact[n] for n in ref], list(ref))


def _no_worse_than_pytorch(ours, torchs, exact, what):
    """``ours`` is as close to the float64 ``exact`` as PyTorch's float32 ``torchs`` (or 1e-6)."""
    for name, o, t, e in zip(what, ours, torchs, exact):
        scale = e.abs().max().item()
        assert scale > 0, name  # a gradient the test does not reach would compare zeros
        err_o, err_t = ((v.double() - e).abs().max().item() for v in (o, t))
        assert err_o <= max(3 * err_t, 1e-6 * scale), (name, err_o, err_t)


@pytest.mark.parametrize("cin, cout, k, pad, size", [
    (1, 6, 5, 2, 28), (1, 8, 3, 1, 28), (6, 16, 5, 0, 14),   # the models' blocks
    (1, 7, 3, 1, 13), (1, 5, 5, 0, 9), (6, 32, 5, 0, 11),    # odd sizes, other widths
    (6, 7, 5, 0, 14)])                                        # PyTorch convolves, the kernels pool
def test_one_block_against_autograd_on_odd_and_even_sizes(cin, cout, k, pad, size):
    g = torch.Generator().manual_seed(size + k)
    conv = nn.Conv2d(cin, cout, k, padding=pad)
    x = torch.randn(5, cin, size, size, generator=g, requires_grad=cin > 1)
    side = (size + 2 * pad - k + 1) // 2
    grad_out = torch.randn(5, cout, side, side, generator=g)

    def grads(conv, x, out):
        return torch.autograd.grad(out, [conv.weight, conv.bias] + ([x] if cin > 1 else []), grad_out.to(out.dtype))

    ref = F.max_pool2d(F.relu(conv(x)), 2)  # floor: an odd last row/column is dropped
    conv64, x64 = copy.deepcopy(conv).double(), x.detach().double().requires_grad_(cin > 1)
    exact = grads(conv64, x64, F.max_pool2d(F.relu(conv64(x64)), 2))
    with fused.use_kernels("fused"):
        out, _ = fused.conv_relu_pool(x, conv)
    if cin == 1 or cout % 16 == 0:  # convolved by the kernels: another order of the same sums
        torch.testing.assert_close(out, ref, rtol=1e-5, atol=1e-6)
    else:  # convolved by PyTorch: ReLU and max are exact
        assert torch.equal(out, ref)
    _no_worse_than_pytorch(grads(conv, x, out), grads(conv, x, ref), exact, ["weight", "bias", "input"])


def test_the_nhwc_copy_is_the_output_in_another_layout():
    conv = nn.Conv2d(1, 6, 5, padding=2)
    x = torch.randn(3, 1, 28, 28)
    out, nhwc = fused.conv_relu_pool(x, conv, want_nhwc=True)
    n = out.numel()
    assert torch.equal(nhwc[:n].view(3, 14, 14, 6).permute(0, 3, 1, 2), out)
    assert torch.equal(nhwc[n:], torch.zeros(fused.SLACK))  # the slack the kernels may read


def test_background_padding_is_the_models_pad_value():
    model = LeNet5()
    conv = model.features[0]
    x = torch.full((2, 1, 28, 28), BACKGROUND)
    out, _ = fused.conv_relu_pool(x, conv)
    ref = model.features[2](model.features[1](conv(x)))
    torch.testing.assert_close(out, ref, rtol=1e-6, atol=1e-6)  # a zero pad changes the frame by ~0.1


def test_ties_take_the_first_maximum_as_max_pool2d_does():
    conv = nn.Conv2d(1, 1, 3, padding=1)  # the identity: each output is its input pixel
    with torch.no_grad():
        conv.weight.zero_()
        conv.weight[0, 0, 1, 1] = 1.0
        conv.bias.zero_()
    for window in ([[2.0, 2.0], [2.0, 2.0]],   # all four tie: the first (top left) wins
                   [[1.0, 3.0], [3.0, 3.0]],   # top right ties both bottom ones: top right wins
                   [[1.0, 0.5], [3.0, 3.0]]):  # bottom left ties bottom right
        x = torch.tensor([[window]])
        ref = torch.autograd.grad(F.max_pool2d(F.relu(conv(x)), 2).sum(), conv.weight)[0]
        out, _ = fused.conv_relu_pool(x, conv)
        got = torch.autograd.grad(out.sum(), conv.weight)[0]
        assert torch.equal(got, ref), window  # the gradient reaches the same input pixel


def test_nan_propagates_like_the_modules():
    conv = nn.Conv2d(1, 3, 3, padding=1)
    x = torch.randn(2, 1, 8, 8)
    x[0, 0, 3, 3] = float("nan")
    ref = F.max_pool2d(F.relu(conv(x)), 2)
    out, _ = fused.conv_relu_pool(x, conv)
    assert torch.equal(out.isnan(), ref.isnan()) and out.isnan().any()
    torch.testing.assert_close(out.nan_to_num(), ref.nan_to_num(), rtol=1e-6, atol=1e-6)


def _calls(model: nn.Module, x: torch.Tensor) -> int:
    """How many times the fused autograd function ran in ``model(x)``."""
    seen = []
    original = fused._ConvReluPool.apply
    fused._ConvReluPool.apply = lambda *a: seen.append(1) or original(*a)
    try:
        model(x)
    finally:
        fused._ConvReluPool.apply = original
    return len(seen)


def test_the_kernels_run_only_where_they_compute_what_the_modules_do():
    x = torch.randn(4, 1, 28, 28)
    model = LeNet5().train()
    assert _calls(model, x) == 2
    assert _calls(SimpleCNN().train(), x) == 1
    assert _calls(SimpleCNN(dropout=0.3).train(), x) == 1  # dropout follows, on the modules
    assert _calls(model.eval(), x) == 0  # evaluation, predictions, Grad-CAM: the modules
    with torch.no_grad():
        assert _calls(model.train(), x) == 0
    assert _calls(LeNet5(activation="tanh", pooling="avg").train(), x) == 0
    assert _calls(LeNet5().double().train(), x.double()) == 0
    handle = model.last_act.register_forward_hook(lambda *a: None)
    try:
        assert _calls(model.train(), x) == 0  # a hook (Grad-CAM's) sees the modules
    finally:
        handle.remove()
    with fused.use_kernels("pytorch"):
        assert _calls(model.train(), x) == 0
    assert _calls(model.train(), x) == 2  # the choice ends with the block


def _loaders(n: int = 320):
    g = torch.Generator().manual_seed(3)
    X, y = _images(n, seed=4), torch.randint(0, 10, (n,), generator=g)
    return (TensorLoader(X, y, 32, shuffle=True), TensorLoader(X[:64], y[:64], 32))


@pytest.mark.parametrize("name", ["simple", "lenet"])
def test_fit_trains_the_same_mathematics_with_either_kernels(name):
    models = {}
    for kernels in ("pytorch", "fused", "fused"):
        model = build_model(name, seed=5)
        config = TrainConfig(epochs=2, batch_size=32, lr=1e-3, seed=5, progress=False, kernels=kernels)
        history = fit(model, _loaders(), config)
        models.setdefault(kernels, []).append((model.state_dict(), history))
    (ref, ref_hist), = models["pytorch"]
    (a, hist_a), (b, _) = models["fused"]
    assert all(torch.equal(a[k], b[k]) for k in a)  # one seed, one result
    for k in ref:  # 20 steps of reordered sums: close, not equal
        torch.testing.assert_close(a[k], ref[k], rtol=1e-3, atol=1e-4, msg=k)
    assert not all(torch.equal(a[k], ref[k]) for k in a)  # the kernels did run
    torch.testing.assert_close(hist_a["train_loss"], ref_hist["train_loss"], rtol=1e-4, atol=0)


def test_fit_refuses_fused_kernels_it_cannot_build(monkeypatch):
    monkeypatch.setattr(fused, "_library", lambda: (None, "PyTorch's kernels: no C++ compiler found"))
    model = build_model("simple")
    with pytest.raises(ConfigError, match="no C.. compiler found"):
        fit(model, _loaders(), TrainConfig(epochs=1, progress=False, kernels="fused"))
    with pytest.raises(ConfigError, match="kernels='gpu'"):
        fit(model, _loaders(), TrainConfig(epochs=1, progress=False, kernels="gpu"))


@pytest.mark.no_kernels
def test_a_runs_key_says_which_kernels_trained_it(monkeypatch):
    from fmnist_lib.config import get_profile
    from fmnist_lib.pipeline.runs import run_config, run_spec

    p, params = get_profile("quick"), {"lr": 1e-3, "batch_size": 64, "optimizer__weight_decay": 0.0}
    keys = {}
    for lib in ("fused", None):
        monkeypatch.setattr(fused, "_library", lambda lib=lib: (lib, "why"))
        config = run_config(p, params, seed=0)
        keys[config.kernels] = run_spec(p, "lenet", config)
    assert set(keys) == {"fused", "pytorch"} and keys["fused"] != keys["pytorch"]


def _python(code: str, **env) -> subprocess.CompletedProcess:
    full = {**os.environ, **env}
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=full, timeout=300)


@pytest.mark.no_kernels
def test_without_a_compiler_training_says_why_and_uses_pytorch(tmp_path):
    done = _python("from fmnist_lib import fused; print(fused.backend()); print(fused.status())",
                   CXX=str(tmp_path / "no-such-compiler"), FMNIST_KERNEL_CACHE=str(tmp_path))
    assert done.returncode == 0, done.stderr
    backend, status = done.stdout.splitlines()
    assert backend == "pytorch" and "no C++ compiler found" in status and "CXX" in status
    done = _python("from fmnist_lib import fused; print(fused.backend(), fused.status())",
                   FMNIST_KERNELS="pytorch")
    assert done.stdout.split()[0] == "pytorch" and "FMNIST_KERNELS=pytorch" in done.stdout
    done = _python("from fmnist_lib import fused; fused.backend()", FMNIST_KERNELS="fast")
    assert done.returncode != 0 and "FMNIST_KERNELS=fast" in done.stderr and "pytorch" in done.stderr


def test_the_library_is_built_once_into_the_cache(tmp_path):
    code = "from fmnist_lib import fused; print(fused.backend())"
    first = _python(code, FMNIST_KERNEL_CACHE=str(tmp_path))
    assert first.stdout.strip() == "fused", first.stderr
    built = list(tmp_path.glob("fused-*.so"))
    assert len(built) == 1 and not list(tmp_path.glob(".build-*"))  # no half-written file left
    stamp = built[0].stat().st_mtime_ns
    assert _python(code, FMNIST_KERNEL_CACHE=str(tmp_path)).stdout.strip() == "fused"
    assert built[0].stat().st_mtime_ns == stamp  # loaded, not rebuilt
