"""Where a conv layer's map lies on the input: the layer's geometry and upsampling by it.

A unit ``i`` of a layer reached through convolutions and poolings sees input pixels centred
on ``stride * i + offset`` (pixel centres at integer coordinates). Bilinear resizing of the
whole map to 28 x 28 (``F.interpolate``) instead stretches the map's first and last units
onto the image's corners: for LeNet-5's C3 (10 x 10, ``stride 2``, ``offset 4.5``) that puts
units up to 3.6 px away from the pixels they see. ``upsample`` interpolates between the
units' true centres and holds the edge units' values beyond them.
"""
from __future__ import annotations

import torch
from torch import nn

__all__ = ["layer_geometry", "upsample"]


def _pair(v) -> tuple[int, int]:
    return (v, v) if isinstance(v, int) else tuple(v)


def layer_geometry(model: nn.Module, target: nn.Module) -> tuple[tuple[float, float],
                                                                  tuple[float, float]]:
    """``(stride, offset)`` per axis (rows, columns) of ``target``'s units on the input.

    Walks ``model.features`` (an ``nn.Sequential``) up to and including ``target``: a conv or
    pooling with kernel ``k``, stride ``s`` and padding ``p`` maps its unit ``i`` to the centre
    ``s * i - p + (k - 1) / 2`` of its input; element-wise layers change nothing.

    Raises
    ------
    ValueError
        If ``target`` is not in ``model.features`` or a layer before it has no known geometry.
    """
    layers = list(getattr(model, "features", []))
    if not any(m is target for m in layers):
        raise ValueError(f"The target {type(target).__name__} is not a direct child of "
                         f"{type(model).__name__}.features, so its geometry is unknown.")
    stride, offset = [1.0, 1.0], [0.0, 0.0]
    for m in layers:
        if isinstance(m, (nn.Conv2d, nn.MaxPool2d, nn.AvgPool2d)):
            k, s, p = _pair(m.kernel_size), _pair(m.stride), _pair(m.padding)
            d = _pair(getattr(m, "dilation", 1))
            for ax in (0, 1):
                offset[ax] += stride[ax] * ((k[ax] - 1) * d[ax] / 2 - p[ax])
                stride[ax] *= s[ax]
        elif not isinstance(m, (nn.ReLU, nn.Tanh, nn.Sigmoid, nn.GELU, nn.Dropout,
                                nn.BatchNorm2d, nn.Identity)):
            raise ValueError(f"No geometry for {type(m).__name__} in {type(model).__name__}.")
        if m is target:
            break
    return (stride[0], stride[1]), (offset[0], offset[1])


def _axis_weights(n_out: int, n_in: int, stride: float, offset: float, device):
    src = ((torch.arange(n_out, dtype=torch.float64, device=device) - offset) / stride)
    src = src.clamp(0, n_in - 1)  # hold the edge units' values beyond their centres
    lo = src.floor().long()
    hi = (lo + 1).clamp(max=n_in - 1)
    w = (src - lo).to(torch.float32)
    return lo, hi, w


def upsample(cam: torch.Tensor, size: tuple[int, int], stride: tuple[float, float],
             offset: tuple[float, float]) -> torch.Tensor:
    """Bilinear interpolation of ``cam`` between its units' centres on the input grid.

    Parameters
    ----------
    cam : Tensor, shape (B, h, w)
    size : (H, W)
        The input's size.
    stride, offset : pairs of float
        From :func:`layer_geometry`.

    Returns
    -------
    Tensor, shape (B, H, W)
        Equal to ``cam`` where a unit's centre falls on a pixel (the identity for a stride-1
        layer with ``offset`` 0).
    """
    lo, hi, w = _axis_weights(size[0], cam.shape[1], stride[0], offset[0], cam.device)
    rows = cam[:, lo] * (1 - w)[None, :, None] + cam[:, hi] * w[None, :, None]  # (B, H, w)
    lo, hi, w = _axis_weights(size[1], cam.shape[2], stride[1], offset[1], cam.device)
    return rows[:, :, lo] * (1 - w) + rows[:, :, hi] * w  # (B, H, W)
