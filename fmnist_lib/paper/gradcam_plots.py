"""Pictures of saliency maps: one overlay, the Input | Simple CNN | LeNet-5 grid (one colour
scale, a colour bar, all-zero maps drawn as such), which images to show in it, and the
agreement and perturbation-test figures (the tables are ``saliency_tables``').
"""
from __future__ import annotations

import functools
from typing import Sequence

import numpy as np
import torch

from ..data import CLASSES, normalisation_stats
from ..models import DISPLAY_NAMES
from ..saliency.gradcam import CAMResult

__all__ = ["overlay", "comparison_grid", "pick_one_per_class", "pick_disagreements",
           "all_zero_counts", "plot_agreement_references", "plot_faithfulness"]

ZERO_TEXT = "all zero"


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
        is not the prediction. Every map uses one colour scale, per-image normalised values
        0..1 (the colour bar below); a map that is zero everywhere shows the bare image,
        hatched and marked "all zero", not a uniformly coloured square.
    """
    import matplotlib
    import matplotlib.pyplot as plt

    labels = {**DISPLAY_NAMES, **(labels or {})}
    y_true = np.asarray(y_true)
    n = len(images)
    if len(y_true) != n or any(len(r) != n for r in results.values()):
        raise ValueError(f"images ({n}), y_true ({len(y_true)}) and every result "
                         f"({[len(r) for r in results.values()]}) must have the same length.")
    cols = 1 + len(results)
    # at most 7 in wide (the HTML column) and 9.4 in tall, so that the figure and its caption
    # fit one PDF page (A4 less margins) without running into the page number
    # (two title lines per map, so that a class name and its confidence never run into the
    # neighbouring map's title at this cell width)
    cell = min(1.9, 7.0 / cols, 9.4 / n - 0.33)
    size = 8 if cell >= 1.6 else 7 if cell >= 0.9 else 6
    fig, axes = plt.subplots(n, cols, figsize=(cell * cols, (cell + 0.33) * n), squeeze=False,
                             constrained_layout=True)
    for i in range(n):
        pixels = _to_pixels(images[i], mean, std)
        axes[i, 0].imshow(pixels, cmap="gray", vmin=0, vmax=1)
        head = "Input\n" if i == 0 else ""
        axes[i, 0].set_title(f"{head}true: {classes[y_true[i]]}", fontsize=size)
        for j, (name, r) in enumerate(results.items(), start=1):
            ax = axes[i, j]
            if r.raw[i].max() <= 0:  # no evidence anywhere: say so instead of colouring it
                ax.imshow(pixels, cmap="gray", vmin=0, vmax=1)
                ax.add_patch(plt.Rectangle((-0.5, -0.5), 28, 28, fill=False, hatch="///",
                                           edgecolor="0.6", lw=0))
                ax.text(13.5, 13.5, ZERO_TEXT, ha="center", va="center", fontsize=size,
                        color="k", bbox=dict(facecolor="w", edgecolor="none", alpha=0.8, pad=1))
            else:
                ax.imshow(overlay(images[i], r.maps[i], alpha=alpha, cmap=cmap, mean=mean,
                                  std=std))
            pred = int(r.preds[i])
            text = f"{classes[pred]}\n{100 * r.probs[i, pred]:.0f} %"
            if int(r.targets[i]) != pred:
                text += f"\nmap for {classes[r.targets[i]]}"
            head = f"{labels.get(name, name)}\n" if i == 0 else ""
            ax.set_title(head + text, fontsize=size,
                         color="tab:green" if pred == y_true[i] else "tab:red")
    for ax in axes.flat:
        ax.set_xticks([])
        ax.set_yticks([])
    bar = fig.colorbar(matplotlib.cm.ScalarMappable(matplotlib.colors.Normalize(0, 1), cmap),
                       ax=axes[:, 1:].ravel().tolist(), location="bottom", shrink=0.6,
                       aspect=40, pad=0.01)
    bar.set_label(f"map value, normalised per image (1 = the map's maximum; blended "
                  f"{100 * alpha:.0f} % over the image)", fontsize=size)
    bar.ax.tick_params(labelsize=size)
    return fig


def all_zero_counts(results: dict[str, CAMResult], labels: dict[str, str] | None = None) -> str:
    """E.g. "all-zero maps among those shown: Simple CNN Grad-CAM 3 of 10, others none"."""
    labels = {**DISPLAY_NAMES, **(labels or {})}
    counts = {labels.get(k, k).replace("\n", " "): int((r.raw.reshape(len(r), -1).max(1) <= 0).sum())
              for k, r in results.items()}
    n = len(next(iter(results.values())))
    some = [f"{k} {c} of {n}" for k, c in counts.items() if c]
    if not some:
        return "no map shown is zero everywhere"
    rest = ", every other map has some positive value" if len(some) < len(counts) else ""
    return "maps zero everywhere (drawn hatched): " + ", ".join(some) + rest


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


def plot_agreement_references(agreement, cell: int, labels: dict[str, str] | None = None,
                              metric: str = "spearman"):
    """Per explainer (panel), the mean agreement of each comparison with its 95 % CI: the
    cross-model value between chance (same class, other image) and the models' own seeds. Every
    point of a panel averages the same images (``saliency.agreement.defined_images``), the ones
    the text's answer uses; the title gives their number of the images analysed."""
    import matplotlib.pyplot as plt

    from ..saliency.agreement import agreement_table

    labels = labels or {}
    rows = agreement[agreement["cell"] == cell]
    explainers = list(dict.fromkeys(rows["explainer"]))
    fig, axes = plt.subplots(1, len(explainers), figsize=(7, 2.6), sharey=True, sharex=True,
                             constrained_layout=True, squeeze=False)
    for ax, e in zip(axes[0], explainers):
        t = agreement_table(rows[rows["explainer"] == e].drop(columns=["explainer", "cell"]))
        comps = list(t.index)
        colours = ["C2" if c.endswith(" seeds") else "C3" if " vs " in c and "brightness" not in c
                   else "0.5" for c in comps]
        m, lo, hi = (t[(metric, s)].to_numpy() for s in ("mean", "low", "high"))
        ax.errorbar(m, range(len(comps)), xerr=[m - lo, hi - m], fmt="none", ecolor=colours)
        ax.scatter(m, range(len(comps)), c=colours, s=14, zorder=3)
        n, total = int(t[(metric, "n")].iloc[0]), int((t[(metric, "n")] + t[(metric, "excluded")]).iloc[0])
        ax.set_title(f"{labels.get(e, e)} (n = {n:,}" + (f" of {total:,})" if n < total else ")"), fontsize=8)
        ax.axvline(0, color="k", lw=0.6)
        ax.grid(axis="x", alpha=0.3)
        ax.tick_params(labelsize=7)
        ax.set_xlabel("Spearman ρ" if metric == "spearman" else metric, fontsize=8)
    axes[0, 0].set_yticks(range(len(comps)), comps)
    axes[0, 0].invert_yaxis()
    return fig


def plot_faithfulness(summary, labels: dict[str, str] | None = None):
    """Mean gap with its 95 % CI per test and fill (rows), explainer (colour), model (panel), from
    ``saliency.faithfulness.faithfulness_summary``."""
    import matplotlib.pyplot as plt

    from .saliency_text import MAP_LABELS

    labels = {**DISPLAY_NAMES, **MAP_LABELS, **(labels or {})}
    models = list(dict.fromkeys(summary["model"]))
    tests = summary[["test", "fill"]].drop_duplicates().reset_index(drop=True)
    explainers = list(dict.fromkeys(summary["explainer"]))
    fig, axes = plt.subplots(1, len(models), figsize=(7, 0.32 * len(tests) + 1.5),
                             sharey=True, sharex=True, constrained_layout=True, squeeze=False)
    for ax, model in zip(axes[0], models):
        for j, e in enumerate(explainers):
            sub = summary[(summary["model"] == model) & (summary["explainer"] == e)]
            y = [tests.index[(tests["test"] == t) & (tests["fill"] == f)][0]
                 + 0.8 / len(explainers) * (j - (len(explainers) - 1) / 2)
                 for t, f in zip(sub["test"], sub["fill"])]
            ax.errorbar(sub["gap"], y, xerr=[sub["gap"] - sub["gap_low"], sub["gap_high"] - sub["gap"]],
                        fmt="o", ms=3.5, color=f"C{j}", label=labels.get(e, e))
        ax.axvline(0, color="k", lw=0.8)
        ax.set_title(labels.get(model, model), fontsize=9)
        ax.set_xlabel("gap over random order (area)", fontsize=8)
        ax.tick_params(labelsize=8)
        ax.grid(axis="x", alpha=0.3)
    axes[0, 0].set_yticks(range(len(tests)), [f"{t}, {f}" for t, f in zip(tests["test"], tests["fill"])])
    axes[0, 0].invert_yaxis()
    axes[0, -1].legend(fontsize=7, loc="lower right")
    return fig
