"""Pictures of Grad-CAM maps: one overlay, the Input | Simple CNN | LeNet-5 grid, and which
images to show in it.
"""
from __future__ import annotations

import functools
from typing import Sequence

import numpy as np
import torch

from ..data import CLASSES, normalisation_stats
from ..models import DISPLAY_NAMES
from ..saliency.gradcam import CAMResult

__all__ = ["overlay", "comparison_grid", "pick_one_per_class", "pick_disagreements"]


@functools.lru_cache(maxsize=1)
def _default_stats() -> tuple[float, float]:
    return normalisation_stats()


def _to_pixels(image, mean: float | None, std: float | None) -> np.ndarray:
    """A normalised (1, 28, 28) or (28, 28) image back to display intensities in [0, 1]."""
    img = image.detach().cpu().numpy() if isinstance(image, torch.Tensor) else np.asarray(image)
    img = img.astype(np.float64)
    if img.ndim == 3 and img.shape[0] == 1:
        img = img[0]
    if img.ndim != 2:
        raise ValueError(f"image must have shape (1, H, W) or (H, W), got {image.shape}.")
    if mean is None or std is None:
        default_mean, default_std = _default_stats()
        mean = default_mean if mean is None else mean
        std = default_std if std is None else std
    return np.clip(img * std + mean, 0.0, 1.0)


def overlay(image, cam, *, alpha: float = 0.5, cmap: str = "jet", mean: float | None = None,
            std: float | None = None) -> np.ndarray:
    """Heatmap of ``cam`` blended over the grayscale ``image``.

    The data normalisation is undone (``pixel = image * std + mean``, clipped to [0, 1]), so
    the garment shows with its true intensities, not stretched per image.

    Parameters
    ----------
    image : Tensor or ndarray, shape (1, 28, 28) or (28, 28)
        A normalised image, as fed to the models.
    cam : ndarray, shape (28, 28)
        A map in [0, 1] (``CAMResult.maps[i]``); values outside are clipped.
    alpha : float
        Weight of the heatmap, in [0, 1]; ``0`` shows the image alone.
    cmap : str
        A matplotlib colormap name.
    mean, std : float, optional
        The normalisation; ``data.normalisation_stats()`` by default (reads the data set).

    Returns
    -------
    ndarray, shape (28, 28, 3)
        RGB floats in [0, 1], for ``plt.imshow``.
    """
    import matplotlib

    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must be in [0, 1], got {alpha}.")
    gray = _to_pixels(image, mean, std)
    cam = cam.detach().cpu().numpy() if isinstance(cam, torch.Tensor) else np.asarray(cam)
    if cam.shape != gray.shape:
        raise ValueError(f"cam shape {cam.shape} does not match image shape {gray.shape}.")
    heat = matplotlib.colormaps[cmap](np.clip(cam, 0.0, 1.0))[..., :3]
    return (1.0 - alpha) * gray[..., None] + alpha * heat


def comparison_grid(images, y_true, results: dict[str, CAMResult],
                    classes: Sequence[str] = CLASSES, *, labels: dict[str, str] | None = None,
                    alpha: float = 0.5, cmap: str = "jet", mean: float | None = None,
                    std: float | None = None):
    """One row per image; columns Input | one per entry of ``results`` (e.g. Simple CNN
    Grad-CAM | Simple CNN HiResCAM | LeNet-5 Grad-CAM | LeNet-5 HiResCAM), at most 7 in wide.

    Parameters
    ----------
    images : Tensor or ndarray, shape (n, 1, 28, 28)
        Normalised images.
    y_true : array, shape (n,)
    results : dict
        ``{"simple": CAMResult, "lenet": CAMResult}`` for exactly these images (slice a large
        result with ``result[idx]``).
    classes : sequence of str
    labels : dict, optional
        Display names of the models; ``DISPLAY_NAMES`` by default.

    Returns
    -------
    matplotlib.figure.Figure
        The input cell is titled with the true class; each map with the model's prediction
        and confidence, green when right and red when wrong, and the explained class when it
        is not the prediction.
    """
    import matplotlib.pyplot as plt

    labels = {**DISPLAY_NAMES, **(labels or {})}
    y_true = np.asarray(y_true)
    n = len(images)
    if len(y_true) != n or any(len(r) != n for r in results.values()):
        raise ValueError(f"images ({n}), y_true ({len(y_true)}) and every result "
                         f"({[len(r) for r in results.values()]}) must have the same length.")
    cols = 1 + len(results)
    cell = min(1.9, 7.0 / cols)  # at most 7 in wide: the HTML column
    size = 8 if cell >= 1.6 else 7
    fig, axes = plt.subplots(n, cols, figsize=(cell * cols, (cell + 0.25) * n), squeeze=False,
                             constrained_layout=True)
    for i in range(n):
        pixels = _to_pixels(images[i], mean, std)
        axes[i, 0].imshow(pixels, cmap="gray", vmin=0, vmax=1)
        head = "Input\n" if i == 0 else ""
        axes[i, 0].set_title(f"{head}true: {classes[y_true[i]]}", fontsize=size)
        for j, (name, r) in enumerate(results.items(), start=1):
            ax = axes[i, j]
            ax.imshow(overlay(images[i], r.maps[i], alpha=alpha, cmap=cmap, mean=mean, std=std))
            pred = int(r.preds[i])
            text = f"{classes[pred]} ({r.probs[i, pred]:.0%})"
            if int(r.targets[i]) != pred:
                text += f"\nmap for {classes[r.targets[i]]}"
            head = f"{labels.get(name, name)}\n" if i == 0 else ""
            ax.set_title(head + text, fontsize=size,
                         color="tab:green" if pred == y_true[i] else "tab:red")
    for ax in axes.flat:
        ax.set_xticks([])
        ax.set_yticks([])
    return fig


def pick_one_per_class(y_true, seed: int = 0) -> np.ndarray:
    """One random index per class present in ``y_true``, ordered by class.

    Returns
    -------
    ndarray, shape (n_classes,), int64
    """
    y_true = np.asarray(y_true)
    rng = np.random.default_rng(seed)
    return np.array([rng.choice(np.flatnonzero(y_true == c)) for c in np.unique(y_true)],
                    dtype=np.int64)


def pick_disagreements(preds_a, preds_b, k: int = 10, seed: int = 0,
                       y_true=None) -> np.ndarray:
    """Up to ``k`` random indices where the two models predict different classes.

    With ``y_true``, true classes are spread out (one per class before a second of any) and
    the indices are ordered by true class; otherwise by index.

    Returns
    -------
    ndarray, shape (min(k, n_disagreements),), int64
    """
    preds_a, preds_b = np.asarray(preds_a), np.asarray(preds_b)
    if preds_a.shape != preds_b.shape:
        raise ValueError(f"preds_a {preds_a.shape} and preds_b {preds_b.shape} differ in shape.")
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}.")
    idx = np.random.default_rng(seed).permutation(np.flatnonzero(preds_a != preds_b))
    if y_true is None:
        return np.sort(idx[:k]).astype(np.int64)
    y = np.asarray(y_true)[idx]
    # rank of each candidate among those of its class, in the random order: 0, 1, 2, ...
    rank = np.zeros(len(idx), dtype=np.int64)
    for c in np.unique(y):
        rank[y == c] = np.arange((y == c).sum())
    chosen = idx[np.argsort(rank, kind="stable")[:k]]
    return chosen[np.argsort(np.asarray(y_true)[chosen], kind="stable")].astype(np.int64)
