"""The Grad-CAM stage's computation: maps of every seed, agreement against references,
perturbation tests and the randomisation check (``pipeline.stages.gradcam_analysis`` stores the result).

Sizes are capped so the stage stays within about two minutes of the full profile on two
cores: agreement on every analysed image, perturbation tests with black, mean and blur fills
on ``FAITH_IMAGES``, ROAD (a sparse solve per image and step) on ``ROAD_IMAGES`` at
``ROAD_STEPS`` points, randomisation on ``RANDOMISATION_IMAGES``.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..data import stratified_subset
from .gradcam import METHODS, compute_cams
from .agreement import background_share, frame_share, reference_agreement
from .perturb import FILLS, curve_areas, perturbation_curves, random_ranking, rank_pixels
from .sanity import cascading_randomisation

__all__ = ["FAITH_IMAGES", "ROAD_IMAGES", "RANDOMISATION_IMAGES", "analyse", "gradcam_entry"]

FAITH_IMAGES, ROAD_IMAGES, RANDOMISATION_IMAGES = 200, 50, 100
STEPS, ROAD_STEPS = 9, 6
SHARED = ("random", "brightness")  # rankings that do not depend on the model


def _areas(model, X, targets, rankings: dict[str, np.ndarray], seed: int,
           cache: dict) -> pd.DataFrame:
    rows = []
    for fill in FILLS:
        n = min(len(X), ROAD_IMAGES) if fill == "road" else len(X)
        fractions = np.linspace(0, 1, ROAD_STEPS if fill == "road" else STEPS)
        for test in ("deletion", "insertion"):
            for explainer, ranking in rankings.items():
                curves = perturbation_curves(model, X[:n], ranking[:n], targets[:n], mode=test,
                                             fill=fill, fractions=fractions, seed=seed,
                                             cache=cache if explainer in SHARED else None)
                rows.append(pd.DataFrame({"explainer": explainer, "test": test, "fill": fill,
                                          "image": np.arange(n), "area": curve_areas(curves)}))
    return pd.concat(rows, ignore_index=True)


def analyse(runs: dict[str, list], X: np.ndarray, seed: int = 0) -> dict:
    """Everything chapter 07 shows, for the images ``X``.

    Parameters
    ----------
    runs : dict
        ``{name: [model of seed 0, seed 1, ...]}`` for the two models.
    X : ndarray, shape (n, 1, 28, 28)
        Normalised images (a stratified sample of the test set).

    Returns
    -------
    dict
        ``agreement_<method>`` (``reference_agreement`` long table), ``shares`` (per model and
        method: mean share of the top 20 % on background and on the 1-px frame, share of
        all-zero maps),
        ``faith_areas`` (per model, explainer, test, fill and image: area under the curve),
        ``randomisation`` (``cascading_randomisation`` per model and method).
    """
    items, shares, areas, rand, road_cache = {}, [], [], [], {}
    maps = {m: {n: [compute_cams(model, X, method=m) for model in models]
                for n, models in runs.items()} for m in METHODS}
    for method in METHODS:
        items[f"agreement_{method}"] = reference_agreement(
            {n: [r.maps for r in results] for n, results in maps[method].items()}, seed=seed)
    nf = min(len(X), FAITH_IMAGES)
    brightness, random = rank_pixels(X[:nf, 0], seed), random_ranking(nf, X[0].size, seed)
    for name, models in runs.items():
        model, targets = models[0], maps["gradcam"][name][0].targets  # predicted classes
        rankings = {"random": random, "brightness": brightness}
        for method in METHODS:
            r = maps[method][name][0]
            shares.append({"model": name, "explainer": method,
                           "background": float(background_share(X, r.maps).mean()),
                           "frame": float(frame_share(r.maps).mean()),
                           "empty": float((r.raw.reshape(len(r), -1).max(1) <= 0).mean())})
            rankings[method] = rank_pixels(r.maps[:nf], seed)
            nr = min(len(X), RANDOMISATION_IMAGES)
            rand.append(cascading_randomisation(model, X[:nr], targets[:nr], method, seed)
                        .assign(model=name, explainer=method))
        areas.append(_areas(model, X[:nf], targets[:nf], rankings, seed, road_cache)
                     .assign(model=name))
    items["shares"] = pd.DataFrame(shares)
    items["faith_areas"] = pd.concat(areas, ignore_index=True)
    items["randomisation"] = pd.concat(rand, ignore_index=True)
    return items


def gradcam_entry(runs: dict[str, list], X_test: np.ndarray, y_test: np.ndarray, n: int, seed: int = 0) -> dict:
    """The Grad-CAM stage's items: ``n`` stratified test images (``"indices"``) and
    :func:`analyse` of ``runs`` (``{name: [model per seed]}``) on them."""
    idx = stratified_subset(y_test, n, seed=seed)
    return {"indices": idx, **analyse(runs, X_test[idx], seed=seed)}
