"""How much do the two models' Grad-CAM maps agree, and does each map show what its model uses?

Agreement compares spatial patterns only: every map is min-max normalised per image, and the
layers differ in resolution (SimpleCNN's conv is 28x28, LeNet-5's C3 10x10, upsampled, so
smoother), which lowers agreement by itself.

Faithfulness is a deletion test (Petsiuk et al., 2018, RISE; the idea behind torchcam's
average-drop and pytorch-grad-cam's ROAD "most relevant first"): replace the most attended
pixels by a baseline value, step by step, and follow the probability of the explained class.
A faithful map makes it fall faster than deleting pixels in random order. ROAD imputes deleted
pixels from their neighbours to avoid out-of-distribution artefacts; on Fashion-MNIST the
background is black, so filling with black is an in-distribution "no garment here" value and
no imputation is needed.
"""
from __future__ import annotations

import functools

import numpy as np
import pandas as pd
import torch
from torch import nn

from .data import CLASSES, normalisation_stats
from .gradcam import DISPLAY_NAMES, _check_images

__all__ = ["cam_agreement", "agreement_by_class", "plot_agreement", "deletion_curve",
           "deletion_auc", "background_share", "faithfulness_table", "describe_faithfulness",
           "deletion_verdict", "plot_deletion"]


def _flat_maps(maps, name: str) -> np.ndarray:
    maps = np.asarray(maps, dtype=np.float64)
    if maps.ndim != 3:
        raise ValueError(f"{name} must have shape (n, H, W), got {maps.shape}.")
    return maps.reshape(len(maps), -1)


def _top_mask(flat: np.ndarray, k: int) -> np.ndarray:
    """The ``k`` highest pixels of each row; ties go to the lower pixel index (stable sort)."""
    order = np.argsort(-flat, axis=1, kind="stable")[:, :k]
    mask = np.zeros(flat.shape, dtype=bool)
    np.put_along_axis(mask, order, True, axis=1)
    return mask


def cam_agreement(maps_a, maps_b, top: float = 0.2) -> pd.DataFrame:
    """Per-image agreement of two sets of maps of the same images.

    Parameters
    ----------
    maps_a, maps_b : ndarray, shape (n, 28, 28)
    top : float
        Share of pixels, in (0, 1], forming each map's "attended" region for the IoU.

    Returns
    -------
    pandas.DataFrame
        One row per image: ``pearson`` (correlation of the pixel values, NaN when a map is
        constant) and ``iou`` (intersection over union of the two top-``top`` regions; for
        random maps its expected value is ``top / (2 - top)``, 0.11 at 20 %).
    """
    a, b = _flat_maps(maps_a, "maps_a"), _flat_maps(maps_b, "maps_b")
    if a.shape != b.shape:
        raise ValueError(f"maps_a {np.shape(maps_a)} and maps_b {np.shape(maps_b)} differ.")
    if not 0.0 < top <= 1.0:
        raise ValueError(f"top must be in (0, 1], got {top}.")
    ac, bc = a - a.mean(1, keepdims=True), b - b.mean(1, keepdims=True)
    denom = np.sqrt((ac ** 2).sum(1) * (bc ** 2).sum(1))
    with np.errstate(invalid="ignore", divide="ignore"):
        pearson = np.where(denom > 0, (ac * bc).sum(1) / denom, np.nan)
    k = max(1, int(round(top * a.shape[1])))
    inter = (_top_mask(a, k) & _top_mask(b, k)).sum(1)
    return pd.DataFrame({"pearson": np.clip(pearson, -1.0, 1.0), "iou": inter / (2 * k - inter)})


def agreement_by_class(df: pd.DataFrame, y_true, classes=CLASSES) -> pd.DataFrame:
    """Mean and standard deviation of ``pearson`` and ``iou`` per true class, then overall.

    Returns
    -------
    pandas.DataFrame
        Index: class names and ``"All"``; columns ``n, pearson_mean, pearson_sd, iou_mean,
        iou_sd`` (NaN correlations of constant maps are left out of the means).
    """
    y_true = np.asarray(y_true)
    if len(y_true) != len(df):
        raise ValueError(f"y_true has {len(y_true)} labels but df has {len(df)} rows.")
    groups = [(classes[c], df[y_true == c]) for c in np.unique(y_true)] + [("All", df)]
    rows = {name: {"n": len(g), "pearson_mean": g["pearson"].mean(),
                   "pearson_sd": g["pearson"].std(), "iou_mean": g["iou"].mean(),
                   "iou_sd": g["iou"].std()} for name, g in groups}
    out = pd.DataFrame.from_dict(rows, orient="index")
    out.index.name = "class"
    return out


def plot_agreement(df: pd.DataFrame, top: float = 0.2):
    """Histograms of the per-image Pearson correlation and top-``top`` IoU, with medians and
    the value expected for unrelated maps (0 and ``top / (2 - top)``)."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(8, 2.8), constrained_layout=True)
    specs = [("pearson", "Pearson correlation", (-1, 1), 0.0),
             ("iou", f"IoU of the top {top:.0%} pixels", (0, 1), top / (2 - top))]
    for ax, (col, title, span, chance) in zip(axes, specs):
        values = df[col].dropna()
        ax.hist(values, bins=40, range=span, color="C0", alpha=0.8)
        ax.axvline(values.median(), color="k", label=f"median {values.median():.2f}")
        ax.axvline(chance, color="grey", ls=":", label=f"unrelated maps {chance:.2f}")
        ax.set(title=title, xlabel=col, ylabel="images", xlim=span)
        ax.legend(fontsize=8)
    return fig


@functools.lru_cache(maxsize=1)
def _black() -> float:
    mean, std = normalisation_stats()
    return (0.0 - mean) / std


def deletion_curve(model: nn.Module, X, maps, targets=None, *, steps: int = 11,
                   order: str = "most", fill: float | str = "black", seed: int = 0,
                   batch_size: int = 256) -> np.ndarray:
    """Mean probability of the target class as the most attended pixels are deleted.

    Parameters
    ----------
    model : nn.Module
        Evaluated in eval mode (its mode is restored), without gradients.
    X : Tensor or ndarray, shape (n, 1, 28, 28)
        Normalised images.
    maps : ndarray, shape (n, 28, 28)
        Their maps (``CAMResult.maps``).
    targets : array, shape (n,), optional
        The classes the maps explain (``CAMResult.targets``); the predictions on ``X`` if None.
    steps : int
        Points of the curve, at deleted fractions ``np.linspace(0, 1, steps)``.
    order : {"most", "random"}
        Delete the most attended pixels first, or in a random order (the reference curve).
    fill : float or {"black", "mean"}
        The deleted pixels' value: a black pixel in normalised units (the Fashion-MNIST
        background, default), each image's mean, or a given normalised value.
    seed : int
        For ``order="random"``.

    Returns
    -------
    ndarray, shape (steps,)
        Starts at the mean probability on intact images; at fraction 1 every image is blank.
    """
    X = _check_images(X)
    flat = _flat_maps(maps, "maps")
    if len(flat) != len(X) or flat.shape[1] != X[0].numel():
        raise ValueError(f"maps {np.shape(maps)} do not match images {tuple(X.shape)}.")
    if order not in ("most", "random"):
        raise ValueError(f"order must be 'most' or 'random', got {order!r}.")
    if steps < 2:
        raise ValueError(f"steps must be >= 2, got {steps}.")
    if targets is not None and np.shape(targets) != (len(X),):
        raise ValueError(f"targets must have shape ({len(X)},), got {np.shape(targets)}.")
    if isinstance(fill, str) and fill not in ("black", "mean"):
        raise ValueError(f"fill must be a number, 'black' or 'mean', got {fill!r}.")
    n_pix = flat.shape[1]
    ks = torch.from_numpy(np.round(np.linspace(0, 1, steps) * n_pix).astype(np.int64))
    if order == "most":
        ranking = np.argsort(-flat, axis=1, kind="stable")
    else:
        ranking = np.random.default_rng(seed).permuted(np.tile(np.arange(n_pix), (len(flat), 1)),
                                                       axis=1)
    position = np.empty_like(ranking)  # position[i, pixel] = when that pixel is deleted
    np.put_along_axis(position, ranking, np.arange(n_pix)[None].repeat(len(flat), 0), axis=1)
    position = torch.from_numpy(position)
    device = next(model.parameters()).device
    was_training, total = model.training, torch.zeros(steps, dtype=torch.float64)
    model.eval()
    try:
        with torch.no_grad():
            for start in range(0, len(X), batch_size):
                x = X[start:start + batch_size].to(device, torch.float32)  # (b, 1, 28, 28)
                b = len(x)
                if targets is None:
                    t = model(x).argmax(1)
                else:
                    t = torch.as_tensor(np.asarray(targets)[start:start + b], device=device)
                value = (x.mean(dim=(1, 2, 3), keepdim=True) if fill == "mean"
                         else _black() if fill == "black" else float(fill))
                deleted = position[start:start + b].to(device)[None] < ks.to(device)[:, None, None]
                xs = torch.where(deleted.view(steps, b, *x.shape[1:]), value, x[None])
                probs = model(xs.flatten(0, 1)).softmax(1).view(steps, b, -1)
                total += probs.gather(2, t.view(1, b, 1).expand(steps, b, 1))[..., 0].sum(1).cpu()
    finally:
        model.train(was_training)
    return (total / len(X)).numpy()


def deletion_auc(curve) -> float:
    """Area under a deletion curve over deleted fractions 0..1 (trapezoid rule); lower means
    the map finds the pixels the model relies on."""
    c = np.asarray(curve, dtype=np.float64)
    return float(((c[1:] + c[:-1]) / 2).sum() / (len(c) - 1))


def background_share(X, maps, top: float = 0.2, threshold: float = 0.05, *,
                     mean: float | None = None, std: float | None = None) -> np.ndarray:
    """Per image, the share of a map's top-``top`` pixels that lie on the black background.

    Deleting a pixel fills it with black, so a map that points at background cannot lower
    the probability when its pixels are deleted: this explains a flat deletion curve.
    Background: raw intensity (normalisation undone) below ``threshold``. Compare with the
    share of background in the whole image (``background_share(X, np.ones(...), top=1)``).
    ``mean`` and ``std`` undo the normalisation (default: the training split's).
    """
    X = _check_images(X)
    flat = _flat_maps(maps, "maps")
    if len(flat) != len(X) or flat.shape[1] != X[0].numel():
        raise ValueError(f"maps {np.shape(maps)} do not match images {tuple(X.shape)}.")
    if not 0.0 < top <= 1.0:
        raise ValueError(f"top must be in (0, 1], got {top}.")
    if mean is None or std is None:
        mean, std = normalisation_stats()
    background = (X.reshape(len(X), -1).double().numpy() * std + mean) < threshold
    k = max(1, int(round(top * flat.shape[1])))
    return (_top_mask(flat, k) & background).sum(1) / k


def faithfulness_table(curves: dict[str, np.ndarray], random: dict[str, np.ndarray],
                       labels: dict[str, str] | None = None,
                       background: dict[str, float] | None = None) -> pd.DataFrame:
    """Per model: deletion AUC by attention and in random order, and the gap between them.

    Returns
    -------
    pandas.DataFrame
        Index: model display names; columns ``p_intact`` (mean target probability before
        deletion), ``auc_cam``, ``auc_random`` and ``gap = auc_random - auc_cam`` (larger:
        the map points at pixels the model needs more than random pixels are); with
        ``background`` (mean ``background_share`` per model) also ``top_on_background``.
    """
    labels = {**DISPLAY_NAMES, **(labels or {})}
    rows = {labels.get(k, k): {"p_intact": float(c[0]), "auc_cam": deletion_auc(c),
                               "auc_random": deletion_auc(random[k])} for k, c in curves.items()}
    out = pd.DataFrame.from_dict(rows, orient="index")
    out["gap"] = out["auc_random"] - out["auc_cam"]
    if background is not None:
        out["top_on_background"] = [background[k] for k in curves]
    out.index.name = "model"
    return out


def describe_faithfulness(table: pd.DataFrame, image_background: float | None = None) -> str:
    """The ``faithfulness_table`` in sentences: per model, whether deleting by the map beats
    deleting at random and, with ``top_on_background``, where the map points."""
    sentences = []
    for model, row in table.iterrows():
        verdict = ("lowers the probability of the explained class faster than deleting random "
                   "pixels" if row["gap"] > 0 else
                   "lowers the probability of the explained class no faster than deleting random "
                   "pixels, so by this test the map does not show what the model uses")
        s = (f"For {model}, deleting the most-attended pixels first {verdict} (area "
             f"{row['auc_cam']:.2f} against {row['auc_random']:.2f})")
        if "top_on_background" in row and image_background is not None:
            s += (f"; {row['top_on_background']:.0%} of its top-20 % pixels lie on the black "
                  f"background, which covers {image_background:.0%} of an image")
        sentences.append(s + ".")
    background_heavy = [m for m, r in table.iterrows() if r["gap"] <= 0
                        and image_background is not None and "top_on_background" in r
                        and r["top_on_background"] > image_background]
    if background_heavy:
        sentences.append("Deletion paints pixels black, so pixels that are black already change "
                         "nothing when deleted: a map that favours the background cannot pass "
                         "this test, whatever it means for the model.")
    return " ".join(sentences)


def deletion_verdict(table: pd.DataFrame) -> str:
    """Which models' maps pass the deletion test (``gap > 0``), as a clause for prose."""
    passing = [m for m, row in table.iterrows() if row["gap"] > 0]
    if len(passing) == len(table):
        return "every model's map passes the deletion test"
    if passing:
        return f"only {' and '.join(passing)}'s map passes the deletion test"
    return "no model's map passes the deletion test"


def plot_deletion(curves: dict[str, np.ndarray], random: dict[str, np.ndarray] | None = None,
                  labels: dict[str, str] | None = None):
    """Deletion curves, one colour per model: most attended first (solid), random (dashed);
    the legend gives each curve's area."""
    import matplotlib.pyplot as plt

    labels = {**DISPLAY_NAMES, **(labels or {})}
    fig, ax = plt.subplots(figsize=(5, 3.4), constrained_layout=True)
    for i, (name, curve) in enumerate(curves.items()):
        frac = np.linspace(0, 1, len(curve))
        ax.plot(frac, curve, color=f"C{i}", marker="o", ms=3,
                label=f"{labels.get(name, name)}, Grad-CAM order (AUC {deletion_auc(curve):.3f})")
        if random is not None and name in random:
            ax.plot(frac, random[name], color=f"C{i}", ls="--",
                    label=f"{labels.get(name, name)}, random order "
                          f"(AUC {deletion_auc(random[name]):.3f})")
    ax.set(xlabel="fraction of pixels deleted",
           ylabel="mean probability of the explained class", ylim=(0, 1.02))
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    return fig
