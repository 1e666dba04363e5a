"""Small helpers that only the report needs: tables as markdown, the data figures, context.

Tables are shown as markdown (``IPython.display.Markdown``) so that Quarto turns them into
real tables, with captions and cross-references, in both the HTML and the Typst PDF.
"""
from __future__ import annotations

import os
import platform
from importlib import metadata

import numpy as np
import pandas as pd

from .data import CLASSES

__all__ = ["md", "fmt_pct", "class_counts", "plot_examples", "published_baselines",
           "environment_table", "PUBLISHED"]

# Zalando's benchmark (scikit-learn, github.com/zalandoresearch/fashion-mnist) and the paper
# (Xiao, Rasul & Vollgraf, 2017); these are cited results, not computed here.
PUBLISHED = [
    ("Human performance (Xiao et al., 2017)", 0.835),
    ("scikit-learn MLPClassifier (Zalando benchmark)", 0.870),
    ("scikit-learn SVC, RBF kernel, C=10 (Zalando benchmark)", 0.897),
    ("Best published results (approx.)", 0.969),
]


def md(df: pd.DataFrame, floatfmt: str = ".4f", index: bool = False):
    """A DataFrame as a markdown table object that Quarto renders as a table."""
    from IPython.display import Markdown

    return Markdown(df.to_markdown(index=index, floatfmt=floatfmt))


def fmt_pct(x: float, digits: int = 1) -> str:
    """``0.9123 -> '91.2 %'``."""
    return f"{100 * x:.{digits}f} %"


def class_counts(splits: dict[str, tuple[np.ndarray, np.ndarray]]) -> pd.DataFrame:
    """Images per class in each split: rows = classes, columns = splits (plus a total row)."""
    table = pd.DataFrame({split: np.bincount(y, minlength=10) for split, (_, y) in splits.items()})
    table.insert(0, "class", CLASSES)
    total = {"class": "total", **{c: int(table[c].sum()) for c in splits}}
    return pd.concat([table, pd.DataFrame([total])], ignore_index=True)


def plot_examples(X: np.ndarray, y: np.ndarray, per_class: int = 6, seed: int = 0):
    """A grid of ``per_class`` random images per class (rows = classes).

    Parameters
    ----------
    X : ndarray, shape (N, 1, 28, 28)
        Normalised images (display is min-max per image, so no statistics are needed).
    y : ndarray, shape (N,)
    """
    import matplotlib.pyplot as plt

    rng = np.random.default_rng(seed)
    fig, axes = plt.subplots(10, per_class, figsize=(per_class * 0.9, 10 * 0.95))
    for c in range(10):
        picks = rng.choice(np.flatnonzero(y == c), per_class, replace=False)
        for j, i in enumerate(picks):
            ax = axes[c, j]
            ax.imshow(X[i, 0], cmap="gray_r")
            ax.set_xticks([]), ax.set_yticks([])
            if j == 0:
                ax.set_ylabel(CLASSES[c], rotation=0, ha="right", va="center", fontsize=8)
    fig.subplots_adjust(left=0.22, wspace=0.05, hspace=0.05)
    return fig


def published_baselines(ours: dict[str, float] | None = None) -> pd.DataFrame:
    """Published Fashion-MNIST accuracies, with this study's models appended when given."""
    rows = [(name, acc, "published") for name, acc in PUBLISHED]
    rows += [(name, acc, "this study") for name, acc in (ours or {}).items()]
    table = pd.DataFrame(rows, columns=["method", "test accuracy", "source"])
    return table.sort_values("test accuracy", ignore_index=True)


def environment_table() -> pd.DataFrame:
    """Python, package versions, hardware: the reproducibility appendix."""
    import torch

    rows = [("python", platform.python_version()), ("platform", platform.platform()),
            ("cpu cores", str(os.cpu_count())), ("torch threads", str(torch.get_num_threads())),
            ("cuda", torch.cuda.get_device_name(0) if torch.cuda.is_available() else "not used")]
    for pkg in ("torch", "torchvision", "numpy", "scikit-learn", "skorch", "pandas",
                "matplotlib", "seaborn", "dask", "fmnist-lib"):
        try:
            rows.append((pkg, metadata.version(pkg)))
        except metadata.PackageNotFoundError:
            rows.append((pkg, "not installed"))
    return pd.DataFrame(rows, columns=["item", "value"])


def headline_table(profile=None) -> pd.DataFrame:
    """The paper's answer in one table: size, cost and accuracy of both final models.

    Accuracy is the mean ± sd over the profile's seeds; the 95 % Wilson interval and the
    macro one-vs-rest AUC are those of the seed-0 model.
    """
    from . import study
    from .metrics import roc_curves_ovr
    from .stats import accuracy_ci

    finals, grid = study.final_models(profile), study.grid_search(profile)
    eff = study.efficiency(profile).set_index("model")
    _, y = study.test_set(profile)
    rows = []
    for name, runs in finals.items():
        label, proba = study.LABELS[name], runs[0]["test_proba"]
        acc, low, high = accuracy_ci(y, proba.argmax(1))
        best = grid[name]["best_params"]
        sd = eff.loc[label, "test_acc_sd"]
        rows.append({
            "model": label,
            "parameters": int(eff.loc[label, "parameters"]),
            "multiply-adds": int(eff.loc[label, "macs"]),
            "test accuracy": f"{eff.loc[label, 'test_acc_mean']:.4f}"
                             + (f" ± {sd:.4f}" if np.isfinite(sd) else "")
                             + f" ({len(runs)} seed{'s' if len(runs) > 1 else ''})",
            "95 % CI (seed 0)": f"[{low:.4f}, {high:.4f}]",
            "macro AUC (seed 0)": f"{roc_curves_ovr(y, proba)['macro']['auc']:.4f}",
            "best lr / batch / weight decay": f"{best['lr']:g} / {int(best['batch_size'])} / "
                                              f"{best['optimizer__weight_decay']:g}",
        })
    return pd.DataFrame(rows)
