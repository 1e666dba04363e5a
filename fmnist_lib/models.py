"""The two contenders: LeNet-5 (LeCun et al., 1998) and a deliberately smaller SimpleCNN.

Both follow torchvision's layout: ``features`` then ``classifier``, logits out, the last conv
reachable as ``model.last_conv`` and the activation after it (the Grad-CAM target) as
``model.last_act``.

Padded convolutions pad with the *background* value, not with 0: the inputs are normalised
(``(x - mean) / std``), so a zero pad would be mid-grey around a black image and the image's
frame would become an edge that every first-layer filter responds to.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from . import fused

__all__ = ["LeNet5", "SimpleCNN", "MODELS", "DISPLAY_NAMES", "BACKGROUND", "BackgroundPadConv2d",
           "model_summary", "count_macs"]

# A black pixel after normalisation, -mean / std with Fashion-MNIST's training-set moments
# (data.normalisation_stats(): 0.2860406, 0.3530242); a real-data test checks the two agree.
BACKGROUND = -0.2860405969887955 / 0.3530242445149226


class BackgroundPadConv2d(nn.Conv2d):
    """``nn.Conv2d`` whose zero padding is replaced by padding with ``pad_value``.

    Same parameters, state-dict keys and output shape as ``nn.Conv2d`` with the same arguments;
    ``padding`` keeps its meaning (pixels added on each side), only the value differs.
    """

    def __init__(self, *args, pad_value: float = BACKGROUND, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if self.padding_mode != "zeros" or isinstance(self.padding, str):
            raise ValueError("BackgroundPadConv2d takes integer padding and padding_mode='zeros'.")
        self.pad_value = float(pad_value)

    def _conv_forward(self, x: torch.Tensor, weight: torch.Tensor, bias) -> torch.Tensor:
        ph, pw = self.padding
        if ph or pw:
            x = F.pad(x, (pw, pw, ph, ph), value=self.pad_value)  # (B, C, H + 2ph, W + 2pw)
        return F.conv2d(x, weight, bias, self.stride, 0, self.dilation, self.groups)

    def extra_repr(self) -> str:
        return super().extra_repr() + f", pad_value={self.pad_value:.4f}"


def _check_input(x: torch.Tensor, name: str) -> None:
    if not isinstance(x, torch.Tensor) or x.ndim != 4 or tuple(x.shape[1:]) != (1, 28, 28):
        shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
        raise ValueError(
            f"{name} expects a float tensor of shape (B, 1, 28, 28), got {shape}. "
            "Add a batch dimension with x.unsqueeze(0), use one grayscale channel, and keep "
            "images at 28x28 (get_arrays(size=28))."
        )


def _linear_nhwc(linear: nn.Linear, x: torch.Tensor) -> torch.Tensor:
    """``linear(torch.flatten(x, 1))`` for a channels-last ``x`` (B, C, H, W), without its copy.

    Flattening a channels-last tensor in (C, H, W) order copies it, and its gradient comes back
    in the other layout, so the max-pool's backward copies again (a quarter of the Simple CNN's
    step on one CPU thread). Flattened in memory order (H, W, C), it is a view; the weight's
    columns are permuted to match: the same products, summed in another order.
    """
    B, C, H, W = x.shape
    weight = linear.weight.view(-1, C, H, W).permute(0, 2, 3, 1).reshape(linear.out_features, -1)
    return F.linear(x.permute(0, 2, 3, 1).reshape(B, -1), weight, linear.bias)


class LeNet5(nn.Module):
    """LeNet-5 on 28x28 input: C1 6@5x5 (padding 2), S2, C3 16@5x5, S4, F5 120, F6 84, 10.

    61,706 parameters.

    Parameters
    ----------
    activation : {"relu", "tanh"}
        ``"tanh"`` with ``pooling="avg"`` is the 1998 original; ``"relu"`` with ``"max"`` the
        modern variant (trains faster and is the report's default).
    pooling : {"max", "avg"}
    """

    def __init__(self, activation: str = "relu", pooling: str = "max") -> None:
        super().__init__()
        acts = {"relu": nn.ReLU, "tanh": nn.Tanh}
        pools = {"max": nn.MaxPool2d, "avg": nn.AvgPool2d}
        if activation not in acts or pooling not in pools:
            raise ValueError(f"activation must be one of {sorted(acts)} and pooling one of "
                             f"{sorted(pools)}; got {activation!r}, {pooling!r}.")
        self.activation, self.pooling = activation, pooling
        act, pool = acts[activation], pools[pooling]
        self.features = nn.Sequential(
            BackgroundPadConv2d(1, 6, kernel_size=5, padding=2), act(), pool(2),  # (B, 6, 14, 14)
            nn.Conv2d(6, 16, kernel_size=5), act(), pool(2),            # (B, 16, 5, 5)
        )
        self.classifier = nn.Sequential(
            nn.Linear(16 * 5 * 5, 120), act(),
            nn.Linear(120, 84), act(),
            nn.Linear(84, 10),
        )

    @property
    def last_conv(self) -> nn.Conv2d:
        """C3: output (B, 16, 10, 10)."""
        return self.features[3]

    @property
    def last_act(self) -> nn.Module:
        """The activation after C3, the Grad-CAM target: what the rest of the network sees."""
        return self.features[4]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _check_input(x, "LeNet5")
        f = self.features
        if fused.applies(self, x, [(f[0], f[1], f[2]), (f[3], f[4], f[5])]):  # training on the CPU
            x, x_nhwc = fused.conv_relu_pool(x, f[0], want_nhwc=True)  # (B, 6, 14, 14)
            x, _ = fused.conv_relu_pool(x, f[3], x_nhwc=x_nhwc)        # (B, 16, 5, 5)
        else:
            x = f(x)  # (B, 16, 5, 5)
        return self.classifier(torch.flatten(x, 1))


class SimpleCNN(nn.Module):
    """One conv block and one linear layer: strictly simpler than LeNet-5 on every axis.

    Conv 3x3 (``width`` maps, padding 1), ReLU, 2x2 max pooling, dropout, linear to 10.
    With the default ``width=8``: 15,770 parameters and about 72k multiply-adds per image
    (LeNet-5: 61,706 and about 417k).

    Parameters
    ----------
    width : int
        Filters of the conv layer, 1..16 (wider would no longer be smaller than LeNet-5).
    dropout : float
        Dropout before the classifier, in [0, 1).
    """

    MAX_WIDTH = 16

    def __init__(self, width: int = 8, dropout: float = 0.0) -> None:
        super().__init__()
        if not (isinstance(width, int) and 1 <= width <= self.MAX_WIDTH):
            raise ValueError(f"SimpleCNN width must be an int in 1..{self.MAX_WIDTH} "
                             f"(to stay simpler than LeNet-5), got {width!r}.")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"SimpleCNN dropout must be in [0, 1), got {dropout!r}.")
        self.width, self.dropout = width, dropout
        self.features = nn.Sequential(
            BackgroundPadConv2d(1, width, kernel_size=3, padding=1), nn.ReLU(), nn.MaxPool2d(2),  # (B, w, 14, 14)
        )
        self.classifier = nn.Sequential(nn.Dropout(dropout), nn.Linear(width * 14 * 14, 10))

    @property
    def last_conv(self) -> nn.Conv2d:
        """The only conv layer: output (B, width, 28, 28)."""
        return self.features[0]

    @property
    def last_act(self) -> nn.Module:
        """The ReLU after the conv, the Grad-CAM target: what the pooling and classifier see."""
        return self.features[1]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _check_input(x, "SimpleCNN")
        if fused.applies(self, x, [tuple(self.features)]):  # training on the CPU
            x, _ = fused.conv_relu_pool(x, self.features[0])  # (B, width, 14, 14), contiguous
            return self.classifier(torch.flatten(x, 1))
        x = self.features(x)  # (B, width, 14, 14)
        channels_last = x.is_contiguous(memory_format=torch.channels_last) and not x.is_contiguous()
        if channels_last and not (self.training and self.dropout > 0):  # dropout draws in (C, H, W) order
            return _linear_nhwc(self.classifier[1], x)
        return self.classifier(torch.flatten(x, 1))


MODELS = {"simple": SimpleCNN, "lenet": LeNet5}
DISPLAY_NAMES = {"simple": "Simple CNN", "lenet": "LeNet-5"}  # how the report names them


def display_name(name: str) -> str:
    """``"simple" -> "Simple CNN"``, ``"lenet" -> "LeNet-5"``; any other name unchanged."""
    return DISPLAY_NAMES.get(name, name)


def count_macs(model: nn.Module) -> int:
    """Multiply-adds of conv and linear layers for one 1x28x28 image (forward pass)."""
    macs, hooks = [], []

    def conv_hook(m: nn.Conv2d, _inp, out: torch.Tensor) -> None:
        k = m.kernel_size[0] * m.kernel_size[1] * m.in_channels // m.groups
        macs.append(out[0].numel() * k)

    def linear_hook(m: nn.Linear, _inp, out: torch.Tensor) -> None:
        macs.append(m.in_features * m.out_features)

    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            hooks.append(m.register_forward_hook(conv_hook))
        elif isinstance(m, nn.Linear):
            hooks.append(m.register_forward_hook(linear_hook))
    device = next(model.parameters()).device
    try:
        with torch.no_grad():
            model(torch.zeros(1, 1, 28, 28, device=device))
    finally:
        for h in hooks:
            h.remove()
    return int(sum(macs))


def model_summary(model: nn.Module) -> dict[str, object]:
    """One row of the report's complexity table.

    Returns
    -------
    dict
        ``model``, ``conv_layers``, ``fc_layers``, ``parameters``, ``macs`` (multiply-adds per
        image) and ``layers`` (a compact description).
    """
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    fcs = [m for m in model.modules() if isinstance(m, nn.Linear)]
    layers = [f"conv{m.kernel_size[0]}x{m.kernel_size[1]}@{m.out_channels}" for m in convs]
    layers += [f"fc{m.out_features}" for m in fcs]
    return {
        "model": type(model).__name__,
        "conv_layers": len(convs),
        "fc_layers": len(fcs),
        "parameters": sum(p.numel() for p in model.parameters()),
        "macs": count_macs(model),
        "layers": " > ".join(layers),
    }
