"""The Grad-CAM stage's computation: maps of every seed by three explainers, agreement on a
common grid against references, the foreground test, perturbation tests and the randomisation
check (``pipeline.stages.gradcam_analysis`` stores the result).

Explainers: Grad-CAM, HiResCAM and occlusion (gradient-free). The sizes come from the profile
(``config.Profile``'s ``agreement_images``, ``occlusion_images``, ``faith_images``,
``road_images`` and ``randomisation_images``), chosen so the stage stays within a few minutes of
the full profile and within its share of the quick one on two cores: agreement and foreground on
every analysed image for Grad-CAM and HiResCAM, on a stratified ``occlusion_images`` of them for
occlusion (169 forward passes per map); perturbation tests with black, mean and blur fills on
the first ``faith_images`` of those, ROAD (a sparse solve per image and step) on the first
``road_images`` at ``ROAD_STEPS`` points, randomisation (and its reference, two independently
initialised networks) on the first ``randomisation_images``.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..data import stratified_subset
from .gradcam import compute_cams
from .agreement import CELL, positive_cells_table, reference_agreement
from .foreground import foreground_shares, raw_pixels
from .perturb import FILLS, curve_areas, perturbation_curves, random_ranking, rank_pixels
from .sanity import cascading_randomisation, independent_randomisation

__all__ = ["EXPLAINERS", "GRIDS", "STEPS", "ROAD_STEPS", "analyse", "gradcam_entry"]

EXPLAINERS = ("gradcam", "hirescam", "occlusion")
GRIDS = (CELL, 4)  # common-grid cells of 2 px (14 x 14, the main one) and 4 px (7 x 7)
STEPS, ROAD_STEPS = 9, 6
SHARED = ("random", "brightness")  # rankings that do not depend on the model


def _areas(model, X, targets, rankings: dict[str, np.ndarray], seed: int,
           cache: dict, road_images: int) -> pd.DataFrame:
    rows = []
    for fill in FILLS:
        n = min(len(X), road_images) if fill == "road" else len(X)
        fractions = np.linspace(0, 1, ROAD_STEPS if fill == "road" else STEPS)
        for test in ("deletion", "insertion"):
            for explainer, ranking in rankings.items():
                curves = perturbation_curves(model, X[:n], ranking[:n], targets[:n], mode=test,
                                             fill=fill, fractions=fractions, seed=seed,
                                             cache=cache if explainer in SHARED else None)
                rows.append(pd.DataFrame({"explainer": explainer, "test": test, "fill": fill,
                                          "image": np.arange(n), "area": curve_areas(curves)}))
    return pd.concat(rows, ignore_index=True)


def analyse(runs: dict[str, list], X: np.ndarray, y: np.ndarray, seed: int = 0, *,
            occlusion_images: int, faith_images: int, road_images: int,
            randomisation_images: int) -> dict:
    """Everything chapter 07 shows, for the images ``X`` of classes ``y``.

    Parameters
    ----------
    runs : dict
        ``{name: [model of seed 0, seed 1, ...]}`` for the two models.
    X : ndarray, shape (n, 1, 28, 28)
        Normalised images (a stratified sample of the test set).
    y : ndarray, shape (n,)
        Their true classes (for the same-class chance agreement).
    occlusion_images, faith_images, road_images, randomisation_images : int
        The sizes of ``config.Profile`` (each >= 2): occlusion explains a stratified
        ``occlusion_images`` of ``X`` (all of them when that is ``len(X)`` or more); the
        perturbation tests (ROAD's) and the randomisation check use that subset's first
        ``faith_images`` (``road_images``) and ``randomisation_images``, capped at its size.

    Returns
    -------
    dict
        ``agreement`` (``reference_agreement``'s long table with ``explainer`` and ``cell``
        columns, one block per explainer and grid; ``image`` indexes ``X``),
        ``occlusion_images`` (the positions in ``X`` that occlusion explains),
        ``positive_cells`` (per model, explainer and grid: maps with too few positive cells,
        seed 0), ``foreground``
        (``foreground_shares`` of the seed-0 maps, labelled ``"<model>/<explainer>"``),
        ``faith_areas`` (per model, explainer, test, fill and image: area under the curve),
        ``randomisation`` (``cascading_randomisation`` per model and explainer) and
        ``randomisation_reference`` (``independent_randomisation`` on the same images, per model
        and explainer).
    """
    sizes = {"occlusion_images": occlusion_images, "faith_images": faith_images,
             "road_images": road_images, "randomisation_images": randomisation_images}
    if min(sizes.values()) < 2 or min(len(X), occlusion_images) < 20:
        raise ValueError(f"Every saliency size must be >= 2 (a confidence interval), and the images and "
                         f"occlusion_images >= 20 (two per class for the same-class chance); got {len(X)} "
                         f"images and {sizes}. Set them in config.Profile.")
    occ = (stratified_subset(y, occlusion_images, seed) if len(X) > occlusion_images
           else np.arange(len(X)))  # the images occlusion explains
    images = {m: occ if m == "occlusion" else np.arange(len(X)) for m in EXPLAINERS}
    maps = {m: {n: [compute_cams(model, X[images[m]], method=m) for model in models]
                for n, models in runs.items()} for m in EXPLAINERS}
    brightness = raw_pixels(X)  # the model-free map
    agreement, cells, foreground = [], [], []
    for method in EXPLAINERS:
        raw, at = {n: [r.raw for r in results] for n, results in maps[method].items()}, images[method]
        for cell in GRIDS:
            agreement.append(reference_agreement(raw, y[at], brightness[at], cell=cell, seed=seed)
                             .assign(explainer=method, cell=cell,
                                     image=lambda d: at[d["image"].to_numpy()]))
            cells.append(positive_cells_table({n: r[0] for n, r in raw.items()}, cell)
                         .rename(columns={"maps": "model"}).assign(explainer=method, cell=cell))
        foreground.append(foreground_shares(X[at], {f"{n}/{method}": r[0] for n, r in raw.items()})
                          .assign(image=lambda d: at[d["image"].to_numpy()]))
    areas, rand, reference, road_cache = [], [], [], {}
    nf, nr = min(len(occ), faith_images), min(len(occ), randomisation_images)
    Xf = X[occ[:max(nf, nr)]]  # perturbation and randomisation images: occlusion's first ones
    brightness_rank, random = rank_pixels(Xf[:nf, 0], seed), random_ranking(nf, X[0].size, seed)
    for name, models in runs.items():
        model = models[0]
        targets = maps["gradcam"][name][0].targets[occ[:max(nf, nr)]]  # predicted classes
        rankings = {"random": random, "brightness": brightness_rank}
        for method in EXPLAINERS:
            at = slice(None, nf) if method == "occlusion" else occ[:nf]
            rankings[method] = rank_pixels(maps[method][name][0].maps[at], seed)
            rand.append(cascading_randomisation(model, Xf[:nr], targets[:nr], method, seed)
                        .assign(model=name, explainer=method))
            reference.append(independent_randomisation(model, Xf[:nr], targets[:nr], method, seed)
                             .assign(model=name, explainer=method))
        areas.append(_areas(model, Xf[:nf], targets[:nf], rankings, seed, road_cache, road_images)
                     .assign(model=name))
    return {"agreement": pd.concat(agreement, ignore_index=True),
            "positive_cells": pd.concat(cells, ignore_index=True),
            "foreground": pd.concat(foreground, ignore_index=True), "occlusion_images": occ,
            "faith_areas": pd.concat(areas, ignore_index=True),
            "randomisation": pd.concat(rand, ignore_index=True),
            "randomisation_reference": pd.concat(reference, ignore_index=True)}


def gradcam_entry(runs: dict[str, list], X_test: np.ndarray, y_test: np.ndarray, n: int, seed: int = 0,
                  **sizes: int) -> dict:
    """The Grad-CAM stage's items: ``n`` stratified test images (``"indices"``) and
    :func:`analyse` of ``runs`` (``{name: [model per seed]}``) on them with the profile's
    ``sizes`` (``config.Profile.saliency_sizes``)."""
    idx = stratified_subset(y_test, n, seed=seed)
    return {"indices": idx, **analyse(runs, X_test[idx], y_test[idx], seed=seed, **sizes)}
