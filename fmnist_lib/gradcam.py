"""Grad-CAM (Selvaraju et al., 2017): where each model looks, batched, with its hooks owned.

``map = ReLU(sum_k alpha_k A^k)`` with ``A`` the target conv layer's output and ``alpha_k`` the
spatial mean of ``d score / d A^k``; upsampled bilinearly to 28x28 and min-max normalised per
image. The maps equal pytorch-grad-cam's ``GradCAM`` (checked in the tests), which is the shape
this module mirrors: a context manager that releases its hooks, per-image targets.

How the hooks work, and why
---------------------------
A forward hook on the target layer (only active during a ``GradCAM`` call) detaches the layer's
output ``A``, marks it as requiring a gradient and hands the rest of the network a clone of it.
The backward half is ``torch.autograd.grad(score, A)``: the gradient is taken with respect to
``A`` itself, so

- no parameter's ``.grad`` is ever written (nothing upstream of ``A`` is even in the graph),
- an in-place activation after the conv (``nn.ReLU(inplace=True)``) modifies the clone, not
  ``A``: both the saved activations and their gradient are the pre-activation ones.

``nn.Module.register_full_backward_hook`` is deliberately not used: it wraps the layer's output
in a view that in-place activations are not allowed to modify (pytorch/pytorch#61519), which is
why pytorch-grad-cam does not use it either.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence, Union

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .models import DISPLAY_NAMES

__all__ = ["DISPLAY_NAMES", "CAMResult", "GradCAM", "compute_cams"]

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
        ``ReLU(sum_k alpha_k A^k)`` upsampled to 28x28, not normalised (>= 0).
    targets : ndarray, shape (n,), int64
        The class each map explains.
    probs : ndarray, shape (n, 10), float32
        Softmax of the logits (model in eval mode).
    preds : ndarray, shape (n,), int64
        ``probs.argmax(1)``.
    layer_size : tuple of int
        ``(h, w)`` of the target layer's output before upsampling (28x28 for SimpleCNN,
        10x10 for LeNet-5's C3).
    """

    maps: np.ndarray
    raw: np.ndarray
    targets: np.ndarray
    probs: np.ndarray
    preds: np.ndarray
    layer_size: tuple[int, int]

    def __len__(self) -> int:
        return len(self.maps)

    def __getitem__(self, index) -> "CAMResult":
        """The rows at ``index`` (an int, slice, mask or index array) as a new ``CAMResult``."""
        if isinstance(index, (int, np.integer)):
            index = [int(index)]
        return CAMResult(self.maps[index], self.raw[index], self.targets[index],
                         self.probs[index], self.preds[index], self.layer_size)

    @property
    def confidence(self) -> np.ndarray:
        """Probability of the predicted class, shape (n,)."""
        return self.probs[np.arange(len(self.preds)), self.preds]

    @classmethod
    def concat(cls, parts: Sequence["CAMResult"]) -> "CAMResult":
        """Stack results of consecutive batches."""
        if not parts:
            raise ValueError("CAMResult.concat needs at least one result.")
        return cls(*(np.concatenate([getattr(p, f) for p in parts])
                     for f in ("maps", "raw", "targets", "probs", "preds")), parts[0].layer_size)


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


class GradCAM:
    """Grad-CAM on one conv layer; use it as a context manager so its hook is always released.

    Parameters
    ----------
    model : nn.Module
        A classifier returning logits (B, n_classes) for images (B, 1, 28, 28).
    target_layer : nn.Conv2d, optional
        A conv layer of ``model``; ``model.last_conv`` by default.

    Raises
    ------
    ValueError
        If the model has no ``last_conv``, or the target is not an ``nn.Conv2d`` of ``model``.

    Examples
    --------
    >>> with GradCAM(model) as cam:
    ...     result = cam(x)               # predicted classes
    ...     by_truth = cam(x, targets=y)  # true classes
    """

    def __init__(self, model: nn.Module, target_layer: nn.Conv2d | None = None) -> None:
        if target_layer is None:
            if not hasattr(model, "last_conv"):
                raise ValueError(f"{type(model).__name__} has no `last_conv` attribute; pass the "
                                 "conv layer to explain as target_layer=...")
            target_layer = model.last_conv
        if not isinstance(target_layer, nn.Conv2d):
            raise ValueError(f"The Grad-CAM target must be an nn.Conv2d, got "
                             f"{type(target_layer).__name__}.")
        if not any(m is target_layer for m in model.modules()):
            raise ValueError("The target layer is not a submodule of the model, so its hooks "
                             "would never run.")
        self.model, self.target_layer = model, target_layer
        self._handles: list = []
        self._capturing = False
        self._acts: list[torch.Tensor] = []

    def __enter__(self) -> "GradCAM":
        if not self._handles:
            self._handles.append(self.target_layer.register_forward_hook(self._hook))
        return self

    def __exit__(self, *exc) -> None:
        self.release()

    def release(self) -> None:
        """Remove the hook (idempotent); ``__exit__`` calls it, also on an exception."""
        for handle in self._handles:
            handle.remove()
        self._handles.clear()
        self._acts = []

    def _hook(self, module: nn.Module, inputs, output: torch.Tensor) -> torch.Tensor | None:
        if not self._capturing:
            return None  # an ordinary forward pass inside the `with` block is left alone
        act = output.detach().requires_grad_(True)  # (B, K, h, w), the leaf we differentiate
        self._acts.append(act)
        return act.clone()  # in-place ops downstream modify the clone, never `act`

    def __call__(self, x: torch.Tensor | np.ndarray, targets: Targets = None) -> CAMResult:
        """Maps for a batch in one forward and one backward pass.

        Parameters
        ----------
        x : Tensor or ndarray, shape (B, 1, 28, 28)
            Normalised images; moved to the model's device, never modified.
        targets : None, int, sequence, ndarray or Tensor of ints in 0..9
            ``None``: each image's predicted class; an int: that class for all images; else one
            class per image (e.g. the true labels).

        Returns
        -------
        CAMResult
        """
        x = _check_images(x)
        if not self._handles:  # called outside a `with` block: hold the hook for this call
            with self:
                return self(x, targets)
        device = next(self.model.parameters()).device
        x = x.detach().to(device, torch.float32)
        was_training = self.model.training
        self.model.eval()  # dropout off, as in pytorch-grad-cam
        self._capturing, self._acts = True, []
        try:
            with torch.enable_grad():
                logits = self.model(x)  # (B, n_classes)
                if len(self._acts) != 1:
                    raise ValueError(f"The target layer ran {len(self._acts)} times in one "
                                     "forward pass; Grad-CAM needs exactly one.")
                act = self._acts[0]
                t = _check_targets(targets, logits)
                score = logits.gather(1, t[:, None]).sum()  # images are independent in eval
                (grads,) = torch.autograd.grad(score, act)
        finally:
            self._capturing, self._acts = False, []
            self.model.train(was_training)
        with torch.no_grad():
            alpha = grads.mean(dim=(2, 3), keepdim=True)  # (B, K, 1, 1)
            cam = F.relu((alpha * act).sum(1, keepdim=True))  # (B, 1, h, w)
            if cam.shape[-2:] != x.shape[-2:]:
                cam = F.interpolate(cam, size=x.shape[-2:], mode="bilinear", align_corners=False)
            raw = cam[:, 0]  # (B, 28, 28)
            low = raw.amin(dim=(1, 2), keepdim=True)
            span = raw.amax(dim=(1, 2), keepdim=True) - low
            maps = torch.where(span > 0, (raw - low) / span.clamp_min(1e-30),
                               torch.zeros_like(raw))
            probs = logits.detach().softmax(1)
        return CAMResult(maps.cpu().numpy(), raw.cpu().numpy(), t.cpu().numpy(),
                         probs.cpu().numpy(), probs.argmax(1).cpu().numpy(),
                         tuple(act.shape[-2:]))


def compute_cams(model: nn.Module, X: torch.Tensor | np.ndarray, targets: Targets = None,
                 batch_size: int = 256, target_layer: nn.Conv2d | None = None) -> CAMResult:
    """Grad-CAM maps of many images, ``batch_size`` at a time.

    Parameters
    ----------
    model : nn.Module
    X : Tensor or ndarray, shape (N, 1, 28, 28)
        Normalised images (e.g. ``get_arrays()["test"][0]``).
    targets : None, int or array of shape (N,)
        As in :meth:`GradCAM.__call__`; e.g. the true labels.
    batch_size : int
    target_layer : nn.Conv2d, optional
        ``model.last_conv`` by default.

    Returns
    -------
    CAMResult
        With ``maps``, ``raw`` of shape (N, 28, 28), ``probs`` (N, 10), ...
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}.")
    X = _check_images(X)
    if targets is not None and not isinstance(targets, (int, np.integer)):
        targets = targets.cpu().numpy() if isinstance(targets, torch.Tensor) else np.asarray(targets)
        if targets.shape != (len(X),):
            raise ValueError(f"targets must have shape ({len(X)},), got {targets.shape}.")
    parts = []
    with GradCAM(model, target_layer) as cam:
        for start in range(0, len(X), batch_size):
            stop = start + batch_size
            t = targets[start:stop] if isinstance(targets, np.ndarray) else targets
            parts.append(cam(X[start:stop], t))
    return CAMResult.concat(parts)
