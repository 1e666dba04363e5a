"""Grad-CAM (Selvaraju et al., 2017) and HiResCAM (Draelos & Carin, 2020), batched, hooks owned.

Both take the activation ``A`` (B, K, h, w) that the rest of the network sees, i.e. the output
of the activation after the last conv (``model.last_act``), and the gradient ``G = d score / d A``
of the explained class's logit:

- Grad-CAM: ``sum_k mean_hw(G^k) A^k``, each channel weighted by its mean gradient;
- HiResCAM: ``sum_k G^k * A^k``, element-wise. For a model whose logits are linear in ``A``
  after max pooling (the Simple CNN) its map sums exactly to the logit minus the bias, so it
  is faithful by construction.

The map at layer resolution (``layer_maps``, signed) is kept; its positive part is upsampled
to 28 x 28 with the layer's geometry (``gradcam_geometry``: each unit lands on the centre of
the pixels it sees) and min-max normalised per image. At layer resolution the maps equal
pytorch-grad-cam's ``GradCAM`` and ``HiResCAM`` (checked in the tests), whose shape this
module mirrors: a context manager that releases its hooks, per-image targets.

How the hooks work, and why
---------------------------
A forward hook on the target layer (only active during a call) detaches the layer's output
``A``, marks it as requiring a gradient and hands the rest of the network a clone of it. The
backward half is ``torch.autograd.grad(score, A)``: the gradient is taken with respect to ``A``
itself, so

- no parameter's ``.grad`` is ever written (nothing upstream of ``A`` is even in the graph),
- an in-place operation after the target modifies the clone, not ``A``.

``nn.Module.register_full_backward_hook`` is deliberately not used: it wraps the layer's output
in a view that in-place activations are not allowed to modify (pytorch/pytorch#61519), which is
why pytorch-grad-cam does not use it either.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .geometry import layer_geometry, upsample
from .result import CAMResult, Targets, _check_images, _check_targets

__all__ = ["CAMResult", "GradCAM", "HiResCAM", "METHODS", "compute_cams"]

class GradCAM:
    """Grad-CAM on one layer; use it as a context manager so its hook is always released.

    Parameters
    ----------
    model : nn.Module
        A classifier returning logits (B, n_classes) for images (B, 1, 28, 28).
    target_layer : nn.Module, optional
        A layer of ``model`` with output (B, K, h, w); ``model.last_act`` (the activation after
        the last conv) by default, else ``model.last_conv``.

    Raises
    ------
    ValueError
        If the model has neither attribute, or the target is not a submodule of ``model``.

    Examples
    --------
    >>> with GradCAM(model) as cam:
    ...     result = cam(x)               # predicted classes
    ...     by_truth = cam(x, targets=y)  # true classes
    """

    def __init__(self, model: nn.Module, target_layer: nn.Module | None = None) -> None:
        if target_layer is None:
            target_layer = getattr(model, "last_act", getattr(model, "last_conv", None))
            if target_layer is None:
                raise ValueError(f"{type(model).__name__} has no `last_act` or `last_conv` "
                                 "attribute; pass the layer to explain as target_layer=...")
        if not isinstance(target_layer, nn.Module):
            raise ValueError(f"The target must be an nn.Module, got {type(target_layer).__name__}.")
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
        if act.ndim != 4:
            raise ValueError(f"The target layer's output must be (B, K, h, w), got {tuple(act.shape)}.")
        with torch.no_grad():
            signed = self.combine(act, grads)  # (B, h, w)
            raw = F.relu(signed)
            if raw.shape[-2:] != x.shape[-2:]:
                stride, offset = layer_geometry(self.model, self.target_layer)
                raw = upsample(raw, tuple(x.shape[-2:]), stride, offset)  # (B, 28, 28)
            low = raw.amin(dim=(1, 2), keepdim=True)
            span = raw.amax(dim=(1, 2), keepdim=True) - low
            maps = torch.where(span > 0, (raw - low) / span.clamp_min(1e-30),
                               torch.zeros_like(raw))
            probs = logits.detach().softmax(1)
        return CAMResult(maps.cpu().numpy(), raw.cpu().numpy(), t.cpu().numpy(),
                         probs.cpu().numpy(), probs.argmax(1).cpu().numpy(),
                         signed.cpu().numpy())

    @staticmethod
    def combine(act: torch.Tensor, grads: torch.Tensor) -> torch.Tensor:
        """Grad-CAM: channels weighted by their mean gradient, (B, K, h, w) -> (B, h, w)."""
        return (grads.mean(dim=(2, 3), keepdim=True) * act).sum(1)


class HiResCAM(GradCAM):
    """HiResCAM: gradient times activation, element-wise, summed over channels.

    Same interface as :class:`GradCAM`. For the Simple CNN, whose logit is a linear function
    of the max-pooled activation, ``layer_maps.sum((1, 2))`` equals the logit minus its bias.
    """

    @staticmethod
    def combine(act: torch.Tensor, grads: torch.Tensor) -> torch.Tensor:
        return (grads * act).sum(1)


METHODS = {"gradcam": GradCAM, "hirescam": HiResCAM}


def compute_cams(model: nn.Module, X: torch.Tensor | np.ndarray, targets: Targets = None,
                 batch_size: int = 256, target_layer: nn.Module | None = None,
                 method: str = "gradcam") -> CAMResult:
    """Grad-CAM (or HiResCAM) maps of many images, ``batch_size`` at a time.

    Parameters
    ----------
    model : nn.Module
    X : Tensor or ndarray, shape (N, 1, 28, 28)
        Normalised images (e.g. ``get_arrays()["test"][0]``).
    targets : None, int or array of shape (N,)
        As in :meth:`GradCAM.__call__`; e.g. the true labels.
    batch_size : int
    target_layer : nn.Module, optional
        ``model.last_act`` by default.
    method : {"gradcam", "hirescam", "occlusion"}
        ``"occlusion"`` is the gradient-free ``saliency.occlusion.occlusion_cams`` (it ignores
        ``target_layer``).

    Returns
    -------
    CAMResult
        With ``maps``, ``raw`` of shape (N, 28, 28), ``probs`` (N, 10), ...
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}.")
    if method == "occlusion":
        from .occlusion import occlusion_cams
        return occlusion_cams(model, X, targets)
    if method not in METHODS:
        raise ValueError(f"method must be one of {sorted(METHODS) + ['occlusion']}, got {method!r}.")
    X = _check_images(X)
    if targets is not None and not isinstance(targets, (int, np.integer)):
        targets = targets.cpu().numpy() if isinstance(targets, torch.Tensor) else np.asarray(targets)
        if targets.shape != (len(X),):
            raise ValueError(f"targets must have shape ({len(X)},), got {targets.shape}.")
    parts = []
    with METHODS[method](model, target_layer) as cam:
        for start in range(0, len(X), batch_size):
            stop = start + batch_size
            t = targets[start:stop] if isinstance(targets, np.ndarray) else targets
            parts.append(cam(X[start:stop], t))
    return CAMResult.concat(parts)
