"""The training chapters' figure: learning curves from ``fit``'s history."""
from __future__ import annotations

import pandas as pd

__all__ = ["plot_learning_curves"]


def plot_learning_curves(histories: dict[str, pd.DataFrame], labels: dict[str, str] | None = None):
    """Loss and accuracy per epoch, train (solid) and validation (dashed), one colour per model.

    Parameters
    ----------
    histories : dict
        ``{name: history DataFrame from fit}``.
    labels : dict, optional
        Display names, e.g. ``{"simple": "Simple CNN", "lenet": "LeNet-5"}``.
    """
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    labels = labels or {}
    fig, axes = plt.subplots(1, 2, figsize=(7, 2.8), constrained_layout=True)
    for i, (name, h) in enumerate(histories.items()):
        color = f"C{i}"
        for ax, metric in zip(axes, ("loss", "acc")):
            ax.plot(h["epoch"], h[f"train_{metric}"], color=color, label=f"{labels.get(name, name)} train")
            ax.plot(h["epoch"], h[f"val_{metric}"], color=color, ls="--", label=f"{labels.get(name, name)} val")
    for ax, title in zip(axes, ("Cross-entropy loss", "Accuracy")):
        ax.set(xlabel="epoch", title=title)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
    axes[1].legend(fontsize=7.5)
    return fig
