"""Occlusion (Zeiler & Fergus, 2014): a gradient-free map beside Grad-CAM and HiResCAM.

A ``PATCH`` x ``PATCH`` square slides over the image ``STRIDE`` px at a time; at each position
the square is set to the background value (the normalised black of the images' background, so
an occluded patch looks like empty background, not like a grey blot) and the explained class's
*logit* is recorded. A pixel's value is the mean drop of the logit over the positions whose
square covers it (as captum's ``Occlusion`` averages over the windows covering each input);
the map is its positive part, like Grad-CAM's ReLU: the evidence for the class.

The logit, not the probability: the models are confident on most test images, and a softmax
at 99 % barely moves when one small patch goes, so probability drops would be zero (tied)
over most of the image.

With a stride of 2 px every 2 x 2 cell of the image is covered by the same windows, so the
map is constant on the 2-px cells of ``saliency.agreement``'s common grid: it lives there natively.

Cost: one forward pass per position and image, ``((28 - PATCH) / STRIDE + 1) ** 2`` = 169 at
the defaults, less the positions whose square lies wholly on background (within ``SAME`` of
the fill): occluding them changes nothing, so their drop is 0 without a forward pass. About
half of a Fashion-MNIST image is background.
"""
from __future__ import annotations

import numpy as np
import torch
from torch import nn

from .result import CAMResult, Targets, _check_images, _check_targets
from ..models import BACKGROUND

__all__ = ["PATCH", "STRIDE", "occlusion_windows", "occlusion_cams"]

PATCH, STRIDE = 4, 2
SAME = 1e-6  # a pixel this close to the fill is not changed by occluding it
CHUNK = 4096  # occluded images per forward pass


def occlusion_windows(size: int, patch: int = PATCH, stride: int = STRIDE) -> np.ndarray:
    """Top-left corners along one axis: ``0, stride, ..., size - patch``.

    Raises
    ------
    ValueError
        If the windows do not tile the axis exactly (an edge pixel would never be occluded).
    """
    if not (1 <= patch <= size and stride >= 1) or (size - patch) % stride:
        raise ValueError(f"patch {patch} and stride {stride} must tile {size} px exactly "
                         f"((size - patch) % stride == 0), e.g. patch 4 and stride 2 for 28.")
    return np.arange(0, size - patch + 1, stride)


def occlusion_cams(model: nn.Module, X, targets: Targets = None, *, patch: int = PATCH,
                   stride: int = STRIDE, fill: float = BACKGROUND,
                   batch_size: int = 32) -> CAMResult:
    """Occlusion maps of images ``X``, as a :class:`CAMResult` like ``compute_cams``'.

    Parameters
    ----------
    model : nn.Module
        Evaluated in eval mode without gradients (its mode is restored).
    X : Tensor or ndarray, shape (n, 1, 28, 28)
        Normalised images; never modified.
    targets : None, int or array of shape (n,)
        ``None``: each image's predicted class.
    patch, stride : int
        Side of the occluding square and its step, in pixels.
    fill : float
        Value of the occluded pixels (the normalised black background by default).
    batch_size : int
        Images per forward call (each expands to one copy per window position).

    Returns
    -------
    CAMResult
        ``layer_maps``: the signed mean logit drop (n, 28, 28); ``raw``: its positive part;
        ``maps``: ``raw`` min-max normalised per image (all zero when no patch lowers the logit).
    """
    X = _check_images(X)
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}.")
    H, W = X.shape[-2:]
    rows, cols = occlusion_windows(H, patch, stride), occlusion_windows(W, patch, stride)
    masks = torch.zeros(len(rows) * len(cols), H, W, dtype=torch.bool)  # (P, H, W)
    for i, (r, c) in enumerate((r, c) for r in rows for c in cols):
        masks[i, r:r + patch, c:c + patch] = True
    cover = masks.sum(0).double()  # windows covering each pixel, >= 1
    device = next(model.parameters()).device
    was_training, parts = model.training, []
    model.eval()
    try:
        with torch.no_grad():
            for start in range(0, len(X), batch_size):
                x = X[start:start + batch_size].detach().to(device, torch.float32)  # (b, 1, H, W)
                b = len(x)
                logits = model(x)  # (b, n_classes)
                t = _check_targets(targets if targets is None or np.ndim(targets) == 0
                                   else np.asarray(targets)[start:start + b], logits)
                m = masks.to(device)
                differs = ((x[:, 0] - fill).abs() > SAME)  # (b, H, W)
                image, window = (differs[:, None] & m[None]).any((2, 3)).nonzero(as_tuple=True)
                drop = torch.zeros(b, len(masks), dtype=torch.float64, device=device)  # (b, P)
                for s in range(0, len(image), CHUNK):
                    i, w = image[s:s + CHUNK], window[s:s + CHUNK]
                    occluded = torch.where(m[w][:, None], torch.tensor(fill, device=device), x[i])
                    out = model(occluded).gather(1, t[i][:, None])[:, 0]  # (chunk,)
                    drop[i, w] = (logits[i, t[i]] - out).double()
                signed = torch.einsum("bp,phw->bhw", drop.cpu(), masks.double()) / cover
                parts.append((signed, logits.softmax(1).cpu(), t.cpu()))
    finally:
        model.train(was_training)
    signed = torch.cat([p[0] for p in parts]).numpy()
    probs = torch.cat([p[1] for p in parts]).numpy()
    raw = np.maximum(signed, 0.0)
    low = raw.min(axis=(1, 2), keepdims=True)
    span = raw.max(axis=(1, 2), keepdims=True) - low
    maps = np.where(span > 0, (raw - low) / np.where(span > 0, span, 1.0), 0.0)
    return CAMResult(maps.astype(np.float32), raw.astype(np.float32),
                     torch.cat([p[2] for p in parts]).numpy().astype(np.int64),
                     probs.astype(np.float32), probs.argmax(1), signed.astype(np.float32))
