"""The data behind the HTML paper's test-set explorer (``explorer_view`` draws it).

Every test image's probabilities come from the stored final runs of every seed (their
``test_proba``, computed by the stored models). Inputs and saliency maps go into the page for a
subset of ``N_IMAGES`` test images only (the page must stay small), chosen by
:func:`choose_images` so that every combination of true class and the two seed ensembles'
predictions that occurs on the test set is represented. For each chosen image, the maps of
both methods (Grad-CAM, HiResCAM: ``gradcam.compute_cams``), both models and every seed are
computed for the classes a reader is likely to ask about: the true class and every class that
either model predicts at some seed or as an ensemble (:func:`map_classes`).
"""
from __future__ import annotations

import numpy as np

from ..evaluation.equivalence import ensemble_proba
from .gradcam import METHODS, compute_cams

__all__ = ["N_IMAGES", "predictions", "choose_images", "map_classes", "explorer_entry"]

N_IMAGES = 200  # images with input and maps in the page: about 20 kB each in the full profile


def predictions(probas: list[np.ndarray]) -> np.ndarray:
    """Predicted classes per seed and of the seed ensemble, ``(n_seeds + 1, n)``: the last row
    is the ensemble (the argmax of the mean probabilities)."""
    if not len(probas):
        raise ValueError("predictions needs the probabilities of at least one seed.")
    rows = [np.asarray(p).argmax(1) for p in probas] + [ensemble_proba(probas).argmax(1)]
    return np.stack(rows).astype(np.int64)


def choose_images(y: np.ndarray, pred_a: np.ndarray, pred_b: np.ndarray, n: int,
                  seed: int = 0) -> np.ndarray:
    """``n`` test images, round-robin over the strata (true class, prediction a, prediction b).

    Each stratum that occurs gives one image (drawn at random within it) before any gives a
    second, so rare confusions, disagreements and both-wrong cases are all represented, and the
    large correct strata fill what is left.

    Parameters
    ----------
    y, pred_a, pred_b : ndarray, shape (N,)
        True classes and the two models' (ensemble) predictions.
    n : int
        How many to choose (all ``N`` if ``n >= N``).

    Returns
    -------
    ndarray, shape (min(n, N),)
        Sorted indices into the test set, without repeats.
    """
    y, pred_a, pred_b = (np.asarray(v, dtype=np.int64) for v in (y, pred_a, pred_b))
    if not (y.shape == pred_a.shape == pred_b.shape) or y.ndim != 1:
        raise ValueError(f"y, pred_a and pred_b must be 1-d of one length, got {y.shape}, "
                         f"{pred_a.shape}, {pred_b.shape}.")
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}.")
    rng = np.random.default_rng(seed)
    key = (y * 10 + pred_a) * 10 + pred_b
    strata = [rng.permutation(np.flatnonzero(key == k)) for k in np.unique(key)]
    chosen: list[int] = []
    depth = 0
    while len(chosen) < min(n, len(y)):
        layer = [s[depth] for s in strata if depth < len(s)]
        chosen += [int(i) for i in rng.permutation(layer)[: min(n, len(y)) - len(chosen)]]
        depth += 1
    return np.sort(np.asarray(chosen, dtype=np.int64))


def map_classes(y: np.ndarray, preds: dict[str, np.ndarray]) -> list[list[int]]:
    """Per image, the classes its maps are computed for: the true class first, then every class
    a model predicts for it at some seed or as an ensemble, in increasing order.

    Parameters
    ----------
    y : ndarray, shape (n,)
    preds : dict
        ``{name: ndarray (n_seeds + 1, n)}`` as :func:`predictions` returns (for these images).
    """
    out = []
    for i, label in enumerate(np.asarray(y)):
        others = {int(p[k, i]) for p in preds.values() for k in range(len(p))} - {int(label)}
        out.append([int(label), *sorted(others)])
    return out


def explorer_entry(finals: dict[str, list[dict]], X: np.ndarray, y: np.ndarray, n: int = N_IMAGES,
                   seed: int = 0) -> dict:
    """The explorer stage's items: which images, which classes, and their maps.

    Parameters
    ----------
    finals : dict
        ``{name: [final run per seed]}`` (each with ``"model"`` and ``"test_proba"``), in the
        study's model order.
    X, y : ndarray, shapes (N, 1, 28, 28) and (N,)
        The normalised test set.

    Returns
    -------
    dict
        ``"indices"`` (ndarray (n_images,): test-set indices), ``"pair_image"`` and
        ``"pair_class"`` (ndarray (n_pairs,): position in ``indices`` and class of each map),
        ``"maps_<method>"`` for each of ``gradcam.METHODS`` (ndarray (2 models in ``finals``
        order, n_seeds, n_pairs, 28, 28), float16 in [0, 1], each map normalised per image).
    """
    names = list(finals)
    preds = {m: predictions([r["test_proba"] for r in finals[m]]) for m in names}
    a, b = (preds[m][-1] for m in names)
    idx = choose_images(y, a, b, n, seed=seed)
    classes = map_classes(y[idx], {m: v[:, idx] for m, v in preds.items()})
    pair_image = np.repeat(np.arange(len(idx)), [len(c) for c in classes])
    pair_class = np.asarray([c for cs in classes for c in cs], dtype=np.int64)
    images = X[idx][pair_image]  # (n_pairs, 1, 28, 28)
    out = {"indices": idx, "pair_image": pair_image, "pair_class": pair_class}
    for method in METHODS:
        out[f"maps_{method}"] = np.stack([
            np.stack([compute_cams(r["model"], images, targets=pair_class, method=method).maps
                      for r in finals[m]]) for m in names]).astype(np.float16)
    return out
