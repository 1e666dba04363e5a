"""Figures of the evaluation and ROC chapters; each function returns its Figure.

Sized for a page 8-10 inches wide. Models are given as dicts in display order
(``{"simple": ..., "lenet": ...}`` or keyed by display names); the difference panels are
always LeNet-5 minus the Simple CNN.
"""
from __future__ import annotations

import warnings
from typing import Mapping

import matplotlib.pyplot as plt
import numpy as np
import seaborn as sns
from matplotlib.figure import Figure

from ..data import CLASSES
from ..models import display_name
from ..evaluation.metrics import (_check_preds, check_proba, confusion,
                      most_confident_mistakes, pair_order)
from ..evaluation.stats import expected_calibration_error, reliability_curve

__all__ = ["plot_confusion_matrices", "plot_reliability",
           "plot_confident_mistakes"]


def _heatmap(ax: plt.Axes, matrix: np.ndarray, labels: np.ndarray, title: str, unit: str,
             annot_size: float = 6.5, **kwargs) -> None:
    with warnings.catch_warnings():  # seaborn 0.13 + matplotlib 3.11: keep rendered cells clean
        warnings.filterwarnings("ignore", "The set_bad function", PendingDeprecationWarning)
        # seaborn draws the half-built figure to measure its labels; at 7 in wide that draw
        # cannot fit the panels still to come. The finished figure lays out (savefig warns not).
        warnings.filterwarnings("ignore", "constrained_layout not applied", UserWarning)
        sns.heatmap(matrix, ax=ax, annot=labels, fmt="", square=True, linewidths=0.4,
                    annot_kws={"fontsize": annot_size}, xticklabels=CLASSES, yticklabels=CLASSES,
                    cbar_kws={"shrink": 0.8, "label": unit}, **kwargs)
    ax.set_title(title, fontsize=9)
    ax.set_xlabel("predicted", fontsize=8)
    ax.set_ylabel("true", fontsize=8)
    ax.tick_params(labelsize=7, length=0)
    bar = ax.collections[0].colorbar  # its ticks and label as the axes' (matplotlib: 10 pt)
    bar.ax.tick_params(labelsize=7)
    bar.set_label(unit, fontsize=8)


def plot_confusion_matrices(y_true: object, preds: Mapping[str, object], normalize: bool = True) -> Figure:
    """Both models' confusion matrices side by side and their difference below.

    Parameters
    ----------
    y_true : array-like, shape (n,)
    preds : dict
        Two models' predicted labels, ``{name: y_pred (n,)}``.
    normalize : bool
        Row-normalised, annotated in percent of the true class (the difference in
        percentage points); ``False`` shows counts.

    Returns
    -------
    Figure
        Three heatmaps with colour bars: Simple CNN and LeNet-5 on one colour scale,
        and LeNet-5 minus Simple CNN off the diagonal (the diagonal masked), on a diverging
        colour map centred at 0 (red: LeNet-5 puts more of the class there, i.e. errs more).
    """
    y, preds = _check_preds(y_true, preds)
    simple, ref = pair_order(preds)
    norm = "true" if normalize else None
    mats = {k: confusion(y, preds[k], normalize=norm) for k in (simple, ref)}
    scale = 100.0 if normalize else 1.0
    diff = scale * (mats[ref] - mats[simple])  # (10, 10)
    fig = plt.figure(figsize=(7, 6.6), constrained_layout=True)  # the text column
    grid = fig.add_gridspec(2, 4)
    axes = [fig.add_subplot(grid[0, :2]), fig.add_subplot(grid[0, 2:]), fig.add_subplot(grid[1, 1:3])]
    unit = "% of true class" if normalize else "images"
    vmax = 100.0 if normalize else scale * max(float(m.max()) for m in mats.values())
    for ax, key in zip(axes, (simple, ref)):  # both models on one colour scale
        m = scale * mats[key]
        text = np.vectorize(lambda v: f"{v:.0f}" if round(v) else "")(m)
        _heatmap(ax, m, text, display_name(key), unit, cmap="Blues", vmin=0, vmax=vmax)
    # The difference panel shows confusions only: on the diagonal a positive value would mean
    # *fewer* errors, so one colour would mean opposite things on and off it. The diagonal is
    # masked (grey); red is where LeNet-5 errs more, blue where the Simple CNN does. Cells
    # carry one decimal, as the text quotes them.
    off = ~np.eye(10, dtype=bool)
    limit = max(float(np.abs(diff[off]).max()), 1e-9)
    digits = 1 if normalize else 0
    text = np.vectorize(lambda v: f"{v:.{digits}f}" if round(v, digits) else "")(diff)
    np.fill_diagonal(text, "")
    what = "pp" if normalize else "images"
    _heatmap(axes[2], diff, text, f"{display_name(ref)} − {display_name(simple)} (errors)",
             f"{what} (red: {display_name(ref)} errs more)", cmap="RdBu_r", center=0, annot_size=6,
             vmin=-limit, vmax=limit, mask=~off)
    axes[2].set_facecolor("0.85")  # the masked diagonal
    return fig


def plot_reliability(y_true: object, probas: Mapping[str, object], n_bins: int = 15) -> Figure:
    """Reliability diagram (accuracy against confidence) with each model's ECE in the legend.

    Parameters
    ----------
    y_true : array-like, shape (n,)
    probas : dict
        ``{name: y_proba (n, 10)}``, in display order.
    n_bins : int
        Equal-width confidence bins.

    Returns
    -------
    Figure
        Top: accuracy per bin against mean confidence per bin, with the diagonal of perfect
        calibration. Bottom: images per bin (log scale).
    """
    if not probas:
        raise ValueError("probas must map at least one model name to its probabilities.")
    fig, (ax, hist) = plt.subplots(2, 1, figsize=(5.5, 5), sharex=True, constrained_layout=True,
                                   gridspec_kw={"height_ratios": [3, 1]})
    ax.plot([0, 1], [0, 1], ls="--", color="0.5", lw=1, label="perfect calibration")
    width = 1.0 / n_bins / (len(probas) + 1)
    for i, (name, p) in enumerate(probas.items()):
        curve = reliability_curve(y_true, p, n_bins)
        ece = expected_calibration_error(y_true, p, n_bins)
        ax.plot(curve["confidence"], curve["accuracy"], marker="o", ms=4, color=f"C{i}",
                label=f"{display_name(name)} (ECE {ece:.4f})")
        hist.bar(curve["bin_lower"] + (i + 0.5) * width, curve["count"], width=width,
                 color=f"C{i}", label=display_name(name))
    ax.set(ylabel="accuracy", xlim=(0, 1), ylim=(0, 1.02), title="Reliability diagram")
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left", fontsize=8)
    hist.set(xlabel="confidence (top-class probability)", ylabel="images", yscale="log")
    hist.grid(alpha=0.3)
    return fig


def plot_confident_mistakes(images: object, y_true: object, probas: Mapping[str, object], k: int = 6,
                            mean: float | None = None, std: float | None = None) -> Figure:
    """The ``k`` most confident mistakes of each model: a row per model.

    Parameters
    ----------
    images : array-like, shape (n, 1, 28, 28) or (n, 28, 28)
        Normalised test images.
    y_true : array-like, shape (n,)
    probas : dict
        ``{name: y_proba (n, 10)}``, in display order.
    k : int
        Images per model.
    mean, std : float, optional
        Normalisation statistics: given, images are un-normalised and shown on [0, 1];
        otherwise each image is shown min-max scaled (which needs no statistics).

    Returns
    -------
    Figure
        ``len(probas) x k`` image axes, each titled with the true and predicted class and
        the predicted probability.
    """
    X = np.asarray(images, dtype=float)
    X = X[:, 0] if X.ndim == 4 and X.shape[1] == 1 else X
    if X.ndim != 3 or X.shape[1:] != (28, 28):
        raise ValueError(f"images must have shape (n, 1, 28, 28) or (n, 28, 28), got {np.shape(images)}.")
    if not probas:
        raise ValueError("probas must map at least one model name to its probabilities.")
    checked = {name: check_proba(y_true, p) for name, p in probas.items()}
    y = next(iter(checked.values()))[0]
    if len(X) != len(y):
        raise ValueError(f"Length mismatch: {len(X)} images but {len(y)} labels.")
    if mean is not None and std is not None:
        X, limits = X * std + mean, {"vmin": 0.0, "vmax": 1.0}
    else:
        limits = {}
    fig, axes = plt.subplots(len(probas), k, figsize=(min(7.0, 1.1 * k + 0.4), 2.0 * len(probas)),
                             squeeze=False, constrained_layout=True)
    for row, (name, (_, p)) in zip(axes, checked.items()):
        idx = most_confident_mistakes(y, p, k)
        for ax, i in zip(row, list(idx) + [None] * (k - len(idx))):
            ax.set_xticks([])
            ax.set_yticks([])
            if i is None:
                ax.axis("off")
                continue
            pred = int(p[i].argmax())
            ax.imshow(X[i], cmap="gray", **limits)
            ax.set_title(f"true: {CLASSES[y[i]]}\npred: {CLASSES[pred]}\np = {p[i, pred]:.3f}",
                         fontsize=7.5)
        row[0].set_ylabel(display_name(name), fontsize=9)
    return fig
