"""The result of a CAM call (``CAMResult``) and the checks of its inputs, shared by the CAM
classes (``gradcam``) and the tests built on them.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence, Union

import numpy as np
import torch

__all__ = ["CAMResult", "IMAGE_SHAPE", "Targets"]

IMAGE_SHAPE = (1, 28, 28)

Targets = Union[None, int, Sequence[int], np.ndarray, torch.Tensor]


@dataclass(frozen=True)
class CAMResult:
    """Grad-CAM maps of a batch and the predictions they explain.

    Attributes
    ----------
    maps : ndarray, shape (n, 28, 28), float32
        Per-image min-max normalised to [0, 1] (an all-zero map stays all zero), so only the
        spatial pattern compares across images and models, not the magnitude.
    raw : ndarray, shape (n, 28, 28), float32
        The positive part of the map upsampled to 28x28, not normalised (>= 0).
    targets : ndarray, shape (n,), int64
        The class each map explains.
    probs : ndarray, shape (n, 10), float32
        Softmax of the logits (model in eval mode).
    preds : ndarray, shape (n,), int64
        ``probs.argmax(1)``.
    layer_maps : ndarray, shape (n, h, w), float32
        The signed map at the target layer's resolution, before ReLU and upsampling (28x28
        for SimpleCNN, 10x10 for LeNet-5's C3).
    """

    maps: np.ndarray
    raw: np.ndarray
    targets: np.ndarray
    probs: np.ndarray
    preds: np.ndarray
    layer_maps: np.ndarray

    @property
    def layer_size(self) -> tuple[int, int]:
        """``(h, w)`` of the target layer's output."""
        return tuple(self.layer_maps.shape[-2:])

    def __len__(self) -> int:
        return len(self.maps)

    def __getitem__(self, index) -> "CAMResult":
        """The rows at ``index`` (an int, slice, mask or index array) as a new ``CAMResult``."""
        if isinstance(index, (int, np.integer)):
            index = [int(index)]
        return CAMResult(*(getattr(self, f)[index] for f in _FIELDS))

    @property
    def confidence(self) -> np.ndarray:
        """Probability of the predicted class, shape (n,)."""
        return self.probs[np.arange(len(self.preds)), self.preds]

    @classmethod
    def concat(cls, parts: Sequence["CAMResult"]) -> "CAMResult":
        """Stack results of consecutive batches."""
        if not parts:
            raise ValueError("CAMResult.concat needs at least one result.")
        return cls(*(np.concatenate([getattr(p, f) for p in parts]) for f in _FIELDS))


_FIELDS = ("maps", "raw", "targets", "probs", "preds", "layer_maps")


def _check_images(x) -> torch.Tensor:
    if isinstance(x, np.ndarray):
        x = torch.from_numpy(x)
    if not isinstance(x, torch.Tensor) or x.ndim != 4 or tuple(x.shape[1:]) != IMAGE_SHAPE:
        shape = tuple(x.shape) if hasattr(x, "shape") else type(x).__name__
        raise ValueError(f"GradCAM expects images of shape (B, 1, 28, 28), got {shape}. Add a "
                         "batch dimension with x.unsqueeze(0) (or x[None]) for a single image.")
    if not (x.is_floating_point() and len(x)):
        raise ValueError(f"GradCAM expects a non-empty float batch, got dtype {x.dtype}, "
                         f"{len(x)} images.")
    return x


def _check_targets(targets: Targets, logits: torch.Tensor) -> torch.Tensor:
    """Targets as a (B,) int64 tensor on the logits' device; the predictions when ``None``."""
    n, n_classes = logits.shape
    if targets is None:
        return logits.argmax(1)
    t = torch.as_tensor(np.asarray(targets) if not isinstance(targets, torch.Tensor) else targets)
    if t.dtype == torch.bool or t.is_floating_point() or t.is_complex():
        raise ValueError(f"targets must be integer class indices, got dtype {t.dtype}.")
    t = t.to(logits.device, torch.int64)
    if t.ndim == 0:
        t = t.expand(n)
    if tuple(t.shape) != (n,):
        raise ValueError(f"targets must be one int or one per image ({n}), got shape "
                         f"{tuple(t.shape)}.")
    bad = (t < 0) | (t >= n_classes)
    if bad.any():
        raise ValueError(f"targets must be classes in 0..{n_classes - 1}, got "
                         f"{sorted(set(t[bad].tolist()))}.")
    return t
