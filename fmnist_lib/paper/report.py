"""Small helpers that only the report needs: tables as markdown, the data figures, context.

Tables are shown as markdown (``IPython.display.Markdown``) so that Quarto turns them into
real tables, with captions and cross-references, in both the HTML and the Typst PDF.
"""
from __future__ import annotations

import os
import re
import platform
from importlib import metadata

import numpy as np
import pandas as pd

from .. import fused
from ..data import CLASSES
from ..models import DISPLAY_NAMES

__all__ = ["md", "letter", "and_list", "fmt_pct", "class_counts", "plot_examples", "published_baselines",
           "environment_table", "mcnemar_table", "profile_table", "PUBLISHED"]

# Rows of the benchmark table in the Fashion-MNIST README (zalandoresearch/fashion-mnist,
# commit 02cf067; each number checked against it): contributed results, not tested by Zalando
# and not results of Xiao et al. (2017). (method, preprocessing, test accuracy)
PUBLISHED = [
    ("Human performance (non-experts, 1,000 test images, majority of 3 labels)", "-", 0.835),
    ("2 conv layers + max pooling (Keras)", "none", 0.876),
    ("MLP 256-128-64", "none", 0.900),
    ("2 conv layers + max pooling, ELU (PyTorch)", "none", 0.903),
    ("2 conv layers + max pooling (TensorFlow), > 300 epochs", "none", 0.916),
    ("2 conv layers, 113K parameters", "normalisation", 0.922),
    ("2 conv layers, < 100K parameters", "none", 0.925),
    ("2 conv layers + 3 FC, 1.8M parameters", "normalisation", 0.932),
    ("WRN40-4, 8.9M parameters (the table's highest)", "augmentation", 0.967),
]


def and_list(items) -> str:
    """``["a", "b", "c"]`` -> ``"a, b and c"`` (one item: itself)."""
    items = list(items)
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def md(df: pd.DataFrame, floatfmt: str = ".4f", index: bool = False):
    """A DataFrame as a markdown table object that Quarto renders as a table.

    Text columns are written as they are: a number already formatted as text (``"0.900"``,
    ``"2,000 [1,900, 2,100]"``) is never re-parsed and re-formatted with ``floatfmt``. Integers
    (also in a column of Python ints) get thousands separators (``15,770``), as in the text.
    NaN is shown as a blank cell.
    """
    from IPython.display import Markdown

    def is_ints(col: pd.Series) -> bool:
        values = col.dropna()
        return len(values) > 0 and all(isinstance(v, (int, np.integer)) and not isinstance(v, bool)
                                       for v in values)

    text = [i + int(index) for i, (name, dtype) in enumerate(df.dtypes.items())
            if (dtype == object or pd.api.types.is_string_dtype(dtype)) and not is_ints(df[name])]
    if floatfmt.startswith(".") and floatfmt.endswith("f"):  # no "-0.0000": round, then clear -0.0
        digits = int(floatfmt[1:-1])
        df = df.copy()
        for col in df.columns[df.dtypes.map(pd.api.types.is_float_dtype).to_numpy(bool)]:
            df[col] = df[col].round(digits) + 0.0
    table = df.to_markdown(index=index, floatfmt=floatfmt, intfmt=",", disable_numparse=text or False)
    return Markdown(re.sub(r"(?<=\| )( *)nan(?= *\|)", r"\1   ", table))  # a missing value is a blank cell


def fmt_pct(x: float, digits: int = 1) -> str:
    """A fraction as a percentage, the paper's one style: ``0.9123 -> '91.2 %'`` (``digits``
    decimals, a space before the sign). The space is a plain one: Quarto shows an inline
    expression's repr, which would print a no-break space as an escape; filters/typeset.lua
    binds every number to its unit with a no-break space in both formats."""
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
    # 6.2 in tall: the figure shares a PDF page with the class-count table instead of leaving
    # most of that page blank
    fig, axes = plt.subplots(10, per_class, figsize=(per_class * 0.62 + 1.1, 10 * 0.62))
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
    """The README's benchmark rows (``PUBLISHED``) with this study's models, by accuracy.

    Accuracies are formatted to three decimals, as the README gives them.
    """
    rows = [(name, prep, acc, "README table") for name, prep, acc in PUBLISHED]
    rows += [(name, "normalisation", acc, "this study") for name, acc in (ours or {}).items()]
    table = pd.DataFrame(rows, columns=["method", "preprocessing", "test accuracy", "source"])
    table = table.sort_values("test accuracy", ignore_index=True)
    table["test accuracy"] = table["test accuracy"].map(lambda a: f"{a:.3f}")
    return table


def environment_table() -> pd.DataFrame:
    """Python, package versions, hardware: the reproducibility appendix."""
    import torch

    rows = [("python", platform.python_version()), ("platform", platform.platform()),
            ("cpu cores", str(os.cpu_count())), ("torch threads", str(torch.get_num_threads())),
            ("training kernels", fused.status()),
            ("cuda", torch.cuda.get_device_name(0) if torch.cuda.is_available() else "not used")]
    for pkg in ("torch", "torchvision", "numpy", "scikit-learn", "skorch", "pandas",
                "matplotlib", "seaborn", "dask", "fmnist-lib"):
        try:
            rows.append((pkg, metadata.version(pkg)))
        except metadata.PackageNotFoundError:
            rows.append((pkg, "not installed"))
    return pd.DataFrame(rows, columns=["item", "value"])


def headline_table(profile=None) -> pd.DataFrame:
    """The paper's answer in one table (one row per quantity, one column per model); every
    accuracy is over the same tuned runs.

    Mean test accuracy over the profile's seeds with its bootstrap 95 % CI (seeds and test
    images), the seed ensemble's accuracy, the mean macro one-vs-rest AUC over seeds, the
    benchmark's median training and inference speed, and the tuned hyperparameters. Numbers
    are formatted here, so no column reaches the markdown writer as a float.
    """
    from ..pipeline import stages as study
    from ..pipeline.stages import comparison
    from ..evaluation.metrics import roc_curves_ovr
    from ..models import DISPLAY_NAMES

    finals, chosen = study.final_models(profile), study.selection(profile)
    eff = study.efficiency(profile)
    size = eff["complexity"].set_index("model")
    speed = eff["summary"].set_index(["model", "task"])["median"]
    acc = comparison(profile)["accuracy"].set_index("model")
    _, y = study.test_set(profile)
    rows = []
    for name, runs in finals.items():
        label, best = DISPLAY_NAMES[name], chosen[name]["params"].iloc[0]
        auc = np.mean([roc_curves_ovr(y, r["test_proba"])["macro"]["auc"] for r in runs])
        rows.append({
            "model": label,
            "parameters": f"{int(size.loc[label, 'parameters']):,}",
            "multiply-adds": f"{int(size.loc[label, 'macs']):,}",
            f"test accuracy, mean of {len(runs)} seeds [95 % CI]":
                f"{acc.loc[label, 'mean accuracy']} {acc.loc[label, '95 % CI (seeds and images)']}",
            "seed ensemble": acc.loc[label, "ensemble accuracy"],
            "macro AUC (mean)": f"{auc:.4f}",
            "training images / s (benchmark)": f"{speed[(label, 'train')]:,.0f}",
            "inference images / s (benchmark)": f"{speed[(label, 'inference')]:,.0f}",
            "tuned learning rate / batch size / weight decay":
                f"{best['lr']:g} / {int(best['batch_size'])} / {best['optimizer__weight_decay']:g}",
        })
    # one row per quantity, one column per model: two models fit a page, eight columns do not
    return pd.DataFrame(rows).set_index("model").T.rename_axis(None, axis=1).reset_index(
        names="").rename(columns={"": "quantity"})


def mcnemar_table(table: pd.DataFrame) -> pd.DataFrame:
    """McNemar's between-model tests as a seed-by-seed matrix that shows their direction.

    Each cell is the exact p-value followed by the discordant counts, ``"0.012 (312 vs 268)"``:
    the test images only the column's run (LeNet-5) classifies correctly, then those only the
    row's run (Simple CNN) does, so the larger count names the run that is ahead.

    Parameters
    ----------
    table : DataFrame
        :func:`~fmnist_lib.evaluation.equivalence.mcnemar_seed_pairs`' rows (``kind``, ``a``,
        ``b``, ``a_only``, ``b_only``, ``pvalue``).
    """
    between = table[table["kind"] == "between models"].copy()
    between["cell"] = [f"{p:.2g} ({int(b):,} vs {int(a):,})"
                       for p, a, b in zip(between["pvalue"], between["a_only"], between["b_only"])]
    wide = between.pivot(index="a", columns="b", values="cell")
    return wide.rename_axis(index="", columns=None).reset_index()


def _setting(value) -> str:
    """A profile setting as text without Python's quotes and brackets: ``lr 0.001, 0.003;
    batch_size 64``, ``0, 1, 2``, ``6,000``; an unset one as ``none``."""
    if isinstance(value, dict):
        return "; ".join(f"{k} {_setting(v)}" for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return ", ".join(_setting(v) for v in value)
    if value is None:
        return "none"
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return str(value)
    return f"{value:,}" if isinstance(value, int) else f"{value:g}"


def profile_table(profile) -> pd.DataFrame:
    """The profile's settings, one row each, as text (no Python quotes for Quarto's smart quotes
    to turn into ‘ and ’): the reproducibility appendix's table."""
    settings = profile.to_dict()
    return pd.DataFrame({"setting": list(settings), "value": [_setting(v) for v in settings.values()]})


def letter(fig, ticks: float = 7, labels: float = 8, titles: float = 9):
    """``fig`` lettered as the paper's other figures (ticks 7, axis labels 8, titles 9 pt, legends
    at the tick size), for a figure drawn by a function outside ``paper/`` (restyling it there
    would re-key what that module's stage computes)."""
    for ax in fig.axes:
        ax.tick_params(labelsize=ticks)
        ax.xaxis.label.set_fontsize(labels)
        ax.yaxis.label.set_fontsize(labels)
        ax.title.set_fontsize(titles)
        legend = ax.get_legend()
        if legend is not None:
            for text in legend.get_texts():
                text.set_fontsize(ticks)
    if fig._suptitle is not None:
        fig._suptitle.set_fontsize(titles)
    return fig
