"""Pictures of saliency maps: one overlay, the Input | Simple CNN | LeNet-5 grid (one colour
scale, a colour bar, all-zero maps drawn as such), which images to show in it, and the
agreement and foreground tables and figure as the chapter shows them.
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
           "all_zero_counts", "agreement_display", "plot_agreement_references",
           "foreground_display", "positive_cells_display"]

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
    cell = min(1.9, 7.0 / cols, 9.4 / n - 0.25)
    size = 8 if cell >= 1.6 else 7 if cell >= 0.9 else 6
    fig, axes = plt.subplots(n, cols, figsize=(cell * cols, (cell + 0.25) * n), squeeze=False,
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
            text = f"{classes[pred]} ({100 * r.probs[i, pred]:.0f} %)"
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


def _ci(mean: float, low: float, high: float) -> str:
    return "" if np.isnan(mean) else f"{mean:.2f} [{low:.2f}, {high:.2f}]"


def agreement_display(agreement, cell: int, labels: dict[str, str] | None = None,
                      explainer: str | None = None):
    """The agreement table on one grid as the chapter shows it: per explainer (all, or the one
    named) and comparison, mean Spearman and top-k overlaps with 95 % CIs, images used and
    excluded."""
    import pandas as pd

    from ..saliency.agreement import agreement_table

    if explainer is None:
        labels = labels or {}
        return pd.concat([agreement_display(agreement, cell, labels, e).assign(
            explainer=labels.get(e, e)) for e in dict.fromkeys(agreement["explainer"])],
            ignore_index=True).pipe(lambda d: d[["explainer", *d.columns[:-1]]])
    rows = agreement[(agreement["explainer"] == explainer) & (agreement["cell"] == cell)]
    if rows.empty:
        raise ValueError(f"No agreement rows for {explainer!r} on {cell}-px cells.")
    t = agreement_table(rows.drop(columns=["explainer", "cell"]))
    metrics = list(dict.fromkeys(t.columns.get_level_values(0)))
    out = pd.DataFrame({"comparison": t.index})
    for m in metrics:
        name = "Spearman" if m == "spearman" else f"top {m.removeprefix('top')} %"
        out[name] = [_ci(*t.loc[c, [(m, "mean"), (m, "low"), (m, "high")]]) for c in t.index]
    out["images"] = t[(metrics[0], "n")].to_numpy() + t[(metrics[0], "excluded")].to_numpy()
    out["excluded (Spearman / top k)"] = [" / ".join(str(int(t.loc[c, (m, "excluded")]))
                                                     for m in metrics) for c in t.index]
    return out


def plot_agreement_references(agreement, cell: int, labels: dict[str, str] | None = None,
                              metric: str = "spearman"):
    """Per explainer (panel), the mean agreement of each comparison with its 95 % CI: the
    cross-model value between chance (same class, other image) and the models' own seeds."""
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
        n = int((t[(metric, "n")] + t[(metric, "excluded")]).iloc[0])  # images per comparison
        ax.set_title(f"{labels.get(e, e)} (n = {n})", fontsize=8)
        ax.axvline(0, color="k", lw=0.6)
        ax.grid(axis="x", alpha=0.3)
        ax.tick_params(labelsize=7)
        ax.set_xlabel("Spearman ρ" if metric == "spearman" else metric, fontsize=8)
    axes[0, 0].set_yticks(range(len(comps)), comps)
    axes[0, 0].invert_yaxis()
    return fig


def foreground_display(foreground, labels: dict[str, str] | None = None):
    """``gradcam_foreground.foreground_table`` with readable names and the CI as text."""
    from ..saliency.foreground import foreground_table

    labels = labels or {}
    t = foreground_table(foreground)
    model, explainer = zip(*(m.split("/") for m in t["maps"]))
    out = t.assign(model=[labels.get(m, m) for m in model],
                   explainer=[labels.get(e, e) for e in explainer])
    out["excess over area [95 % CI]"] = [
        _ci(a - b, lo, hi) for a, b, lo, hi in zip(t["on silhouette"], t["silhouette area"],
                                                   t["excess low"], t["excess high"])]
    return out[["model", "explainer", "n", "no mass", "on silhouette", "silhouette area",
                "excess over area [95 % CI]", "on frame", "frame area"]]


def positive_cells_display(cells, cell: int, labels: dict[str, str] | None = None):
    """``positive_cells`` of one grid with readable names (counts of ``n`` seed-0 maps)."""
    labels = labels or {}
    t = cells[cells["cell"] == cell].drop(columns=["cell"]).dropna(axis=1)
    t = t.assign(model=t["model"].map(lambda m: labels.get(m, m)),
                 explainer=t["explainer"].map(lambda e: labels.get(e, e)))
    first = ["model", "explainer", "n", "all zero"]
    return t[first + [c for c in t.columns if c not in first]].reset_index(drop=True)
