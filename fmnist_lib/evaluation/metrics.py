"""Test-set metrics: one-vs-rest ROC, per-class tables, confusions, the most confident mistakes.

Every score goes through :func:`check_labels` / :func:`check_proba`: a wrong shape, a label
outside 0..9 or rows that are not probabilities raise a clear ``ValueError``. Inputs are
never modified.
"""
from __future__ import annotations

from typing import Iterable, Mapping

import numpy as np
import pandas as pd
from sklearn.metrics import auc, classification_report, confusion_matrix, roc_curve
from sklearn.preprocessing import label_binarize

from ..data import CLASSES
from ..models import DISPLAY_NAMES, display_name

__all__ = ["pair_order", "check_labels", "check_proba", "roc_curves_ovr", "classification_table", "confusion",
           "most_confident_mistakes"]

N_CLASSES = len(CLASSES)
SUM_ATOL = 1e-4  # float32 softmax rows sum to 1 within ~1e-6; a real error is far larger


def pair_order(names: Iterable[str]) -> tuple[str, str]:
    """``(simplified, reference)`` keys of a two-model dict.

    LeNet-5 (``"lenet"`` or ``"LeNet-5"``) is the reference; otherwise the order decides.
    """
    names = list(names)
    if len(names) != 2:
        raise ValueError(f"Expected exactly two models, got {len(names)}: {names}.")
    if display_name(names[0]) == DISPLAY_NAMES["lenet"]:
        return names[1], names[0]
    return names[0], names[1]


def check_labels(y: object, name: str = "y_true") -> np.ndarray:
    """``y`` as a new int64 array of shape (n,); ``ValueError`` unless 1-D, non-empty, 0..9."""
    arr = np.asarray(y)
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError(f"{name} must be a non-empty 1-D array of labels, got shape {arr.shape}.")
    if arr.dtype.kind not in "iuf" or (arr.dtype.kind == "f" and not np.all(arr == np.round(arr))):
        raise ValueError(f"{name} must hold integer class labels 0..{N_CLASSES - 1}, got {arr.dtype} "
                         "values that are not integers.")
    bad = (arr < 0) | (arr >= N_CLASSES)
    if bad.any():
        i = int(np.argmax(bad))
        raise ValueError(f"{name} has label {arr[i]} at index {i}; labels must be in 0..{N_CLASSES - 1}.")
    return arr.astype(np.int64)


def check_proba(y_true: object, y_proba: object) -> tuple[np.ndarray, np.ndarray]:
    """Validate a pair of labels and class probabilities.

    Parameters
    ----------
    y_true : array-like, shape (n,)
        Labels in 0..9.
    y_proba : array-like, shape (n, 10)
        Rows in [0, 1] that sum to 1 (within 1e-4).

    Returns
    -------
    (y_true int64 (n,), y_proba float64 (n, 10)), both new arrays. ``ValueError`` on a wrong
    shape, a length mismatch, labels outside 0..9 or rows that are not probabilities.
    """
    y = check_labels(y_true)
    p = np.array(y_proba, dtype=np.float64)  # copy
    if p.ndim != 2 or p.shape[1] != N_CLASSES:
        raise ValueError(f"y_proba must have shape (n, {N_CLASSES}), got {p.shape}.")
    if len(p) != len(y):
        raise ValueError(f"Length mismatch: y_true has {len(y)} labels but y_proba has {len(p)} rows.")
    if not np.all(np.isfinite(p)) or (p < 0).any() or (p > 1).any():
        raise ValueError("y_proba must hold finite probabilities in [0, 1].")
    sums = p.sum(axis=1)
    off = np.abs(sums - 1.0) > SUM_ATOL
    if off.any():
        i = int(np.argmax(off))
        raise ValueError(f"y_proba rows must sum to 1; row {i} sums to {sums[i]:.6f} "
                         "(pass softmax probabilities, not logits).")
    return y, p


def _check_preds(y_true: object, preds: Mapping[str, object]) -> tuple[np.ndarray, dict]:
    y = check_labels(y_true)
    if not preds:
        raise ValueError("preds must map at least one model name to its predictions.")
    out = {}
    for name, pred in preds.items():
        pred = check_labels(pred, f"predictions of {name!r}")
        if len(pred) != len(y):
            raise ValueError(f"Length mismatch: y_true has {len(y)} labels but {name!r} has "
                             f"{len(pred)} predictions.")
        out[name] = pred
    return y, out


def roc_curves_ovr(y_true: object, y_proba: object) -> dict:
    """One-vs-rest ROC curves and AUCs per class, micro- and macro-averaged (scikit-learn).

    Parameters
    ----------
    y_true : array-like, shape (n,)
    y_proba : array-like, shape (n, 10)

    Returns
    -------
    dict
        Keys ``0..9``, ``"micro"`` and ``"macro"``, each ``{"fpr", "tpr", "auc"}``; classes and
        micro also carry ``"thresholds"``. Micro pools all (sample, class) pairs of the
        ``label_binarize`` matrix (n, 10). The macro curve is the mean TPR over the union of
        the class FPRs (for plotting); its ``auc`` is the mean of the ten class AUCs, as in
        ``roc_auc_score(..., multi_class="ovr", average="macro")``. A class with no positive
        or no negative sample raises ``ValueError`` (its ROC is undefined).
    """
    y, p = check_proba(y_true, y_proba)
    Y = label_binarize(y, classes=np.arange(N_CLASSES))  # (n, 10)
    if missing := [CLASSES[k] for k, c in enumerate(Y.sum(axis=0)) if c in (0, len(y))]:
        raise ValueError(f"ROC is undefined for classes with no positive or no negative sample: "
                         f"{', '.join(missing)}.")
    out: dict = {}
    for k in range(N_CLASSES):
        fpr, tpr, thr = roc_curve(Y[:, k], p[:, k])
        out[k] = {"fpr": fpr, "tpr": tpr, "thresholds": thr, "auc": float(auc(fpr, tpr))}
    fpr, tpr, thr = roc_curve(Y.ravel(), p.ravel())
    out["micro"] = {"fpr": fpr, "tpr": tpr, "thresholds": thr, "auc": float(auc(fpr, tpr))}
    grid = np.unique(np.concatenate([out[k]["fpr"] for k in range(N_CLASSES)]))
    mean_tpr = np.mean([np.interp(grid, out[k]["fpr"], out[k]["tpr"]) for k in range(N_CLASSES)], axis=0)
    out["macro"] = {"fpr": grid, "tpr": mean_tpr,
                    "auc": float(np.mean([out[k]["auc"] for k in range(N_CLASSES)]))}
    return out


def classification_table(y_true: object, preds: Mapping[str, object]) -> pd.DataFrame:
    """Per-class precision, recall and F1 of each model side by side (scikit-learn's report).

    Parameters
    ----------
    y_true : array-like, shape (n,)
    preds : dict
        ``{model name: predicted labels (n,)}``, in display order.

    Returns
    -------
    pandas.DataFrame
        Rows (index ``class``): the ten class names, ``accuracy``, ``macro avg``,
        ``weighted avg``. Flat columns that render as markdown, grouped by metric so the
        models sit side by side (``"Simple CNN precision"``, ``"LeNet-5 precision"``, ...,
        ``"LeNet-5 F1"``), then ``support`` (images per class, shared). The ``accuracy`` row
        holds the accuracy in the F1 columns only; its precision and recall are NaN (blank).
    """
    y, preds = _check_preds(y_true, preds)
    rows = list(CLASSES) + ["accuracy", "macro avg", "weighted avg"]
    blocks = {}
    for name, pred in preds.items():
        rep = classification_report(y, pred, labels=np.arange(N_CLASSES), target_names=list(CLASSES),
                                    output_dict=True, zero_division=0)
        acc = float(np.mean(pred == y))
        rep["accuracy"] = {"precision": np.nan, "recall": np.nan, "f1-score": acc, "support": len(y)}
        blocks[display_name(name)] = pd.DataFrame(rep).T.loc[rows, ["precision", "recall", "f1-score"]]
    table = pd.DataFrame(index=pd.Index(rows, name="class"))
    for metric, label in (("precision", "precision"), ("recall", "recall"), ("f1-score", "F1")):
        for model, block in blocks.items():
            table[f"{model} {label}"] = block[metric].astype(float)
    # Python ints (object column): an all-numeric frame reaches tabulate as floats, "20.0000"
    table["support"] = [int(c) for c in np.bincount(y, minlength=N_CLASSES)] + [len(y)] * 3
    table["support"] = table["support"].astype(object)
    return table


def confusion(y_true: object, y_pred: object, normalize: str | None = None) -> np.ndarray:
    """Confusion matrix over all ten classes: rows = true class, columns = predicted.

    Parameters
    ----------
    y_true, y_pred : array-like, shape (n,)
    normalize : {None, "true", "pred", "all"}
        ``None``: counts, ndarray (10, 10); ``"true"``: row-normalised (rows sum to 1).
    """
    y, preds = _check_preds(y_true, {"y_pred": y_pred})
    if normalize not in (None, "true", "pred", "all"):
        raise ValueError(f"normalize must be None, 'true', 'pred' or 'all', got {normalize!r}.")
    return confusion_matrix(y, preds["y_pred"], labels=np.arange(N_CLASSES), normalize=normalize)


def most_confident_mistakes(y_true: object, y_proba: object, k: int = 8) -> np.ndarray:
    """Indices of the ``k`` wrong predictions with the highest predicted probability.

    Returns
    -------
    ndarray, shape (min(k, n_mistakes),), int64
        Indices into ``y_true (n,)`` / ``y_proba (n, 10)``, most confident first; ties keep
        test-set order.
    """
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}.")
    y, p = check_proba(y_true, y_proba)
    wrong = np.flatnonzero(p.argmax(1) != y)
    order = np.argsort(-p[wrong].max(axis=1), kind="stable")
    return wrong[order[:k]].astype(np.int64)


