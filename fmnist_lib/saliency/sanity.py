"""Model-parameter randomisation test (Adebayo et al., 2018), cascading from the logits down.

A map that shows what a model learned must change when the learned weights are replaced by
random ones. The layers with parameters are re-initialised one at a time from the output
towards the input, cumulatively, and after each step every image's map is compared with the
trained model's by Spearman rank correlation.

Some similarity survives any weights: every map of an image shares its background, its
silhouette, the architecture's padding. The **reference** is therefore computed, not fixed: the
correlation of the maps of two *independently initialised* networks of the same architecture
(``independent_randomisation``), the similarity that the image and the architecture alone give.
The rule (``randomisation_check``, on the images where no map of the cascade or the reference is
constant): once every layer is random, a map's correlation with the trained map may exceed the
reference by less than ``MARGIN`` (0.1, a negligible correlation). The maps are non-negative, so
the correlation is signed: below 0, the random network's map lights up other pixels.
With the paired 95 % CI of that excess over images: **passes** when the whole CI lies below
``MARGIN``, **fails** when it lies wholly above, **undecided** when it straddles ``MARGIN``
(``randomisation_outcome``, the same three-way reading as a TOST). The earlier steps show where
along the network the dependence lies; the rule reads the end, where both networks of the
reference are as random as the cascade's.
"""
from __future__ import annotations

import copy

import numpy as np
import pandas as pd
import torch
from scipy.stats import rankdata
from torch import nn

from .gradcam import compute_cams
from .faithfulness import mean_ci

__all__ = ["MARGIN", "OUTCOMES", "cascading_layers", "rank_correlation", "cascading_randomisation",
           "independent_randomisation", "randomisation_summary", "layer_labels", "randomisation_outcome",
           "randomisation_check", "randomisation_checks"]

MARGIN = 0.1  # how far above the two-random-networks reference a map may stay: a negligible correlation
OUTCOMES = ("passes", "fails", "undecided")


def cascading_layers(model: nn.Module) -> list[str]:
    """Names of the conv and linear layers, from the output to the input."""
    names = [n for n, m in model.named_modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    if not names:
        raise ValueError(f"{type(model).__name__} has no conv or linear layer to randomise.")
    return names[::-1]


def row_pearson(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pearson correlation of each row of ``a`` (n, P) with the same row of ``b``: ``(n,)``,
    NaN where a row is constant."""
    ac, bc = a - a.mean(1, keepdims=True), b - b.mean(1, keepdims=True)
    denom = np.sqrt((ac ** 2).sum(1) * (bc ** 2).sum(1))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(denom > 0, (ac * bc).sum(1) / denom, np.nan)


def rank_correlation(maps_a, maps_b) -> np.ndarray:
    """Per-image Spearman correlation of two sets of maps (n, H, W) -> (n,); NaN for a
    constant map."""
    a = np.asarray(maps_a, np.float64).reshape(len(maps_a), -1)
    b = np.asarray(maps_b, np.float64).reshape(len(maps_b), -1)
    if a.shape != b.shape:
        raise ValueError(f"maps_a {a.shape} and maps_b {b.shape} differ.")
    return row_pearson(rankdata(a, axis=1), rankdata(b, axis=1))  # Spearman: Pearson of ranks


def cascading_randomisation(model: nn.Module, X, targets, method: str = "gradcam",
                            seed: int = 0) -> pd.DataFrame:
    """Rank correlation of each image's map with the trained model's as layers are randomised.

    Parameters
    ----------
    model : nn.Module
        Left untouched (a copy is randomised).
    X : Tensor or ndarray, shape (n, 1, 28, 28)
    targets : array of int, shape (n,)
        Held fixed: the maps explain the same class at every step.
    method : {"gradcam", "hirescam"}
    seed : int
        Seeds the re-initialisation.

    Returns
    -------
    DataFrame
        Columns ``step`` (1 = output layer randomised, ...), ``layer`` (the last layer
        randomised at that step), ``image`` and ``spearman``.
    """
    trained = compute_cams(model, X, targets, method=method).maps
    randomised = copy.deepcopy(model)  # (the layers are reset in place, from the output down)
    modules = dict(randomised.named_modules())
    generator_state = torch.random.get_rng_state()
    torch.manual_seed(seed)
    try:
        rows = []
        for step, name in enumerate(cascading_layers(model), start=1):
            modules[name].reset_parameters()
            rho = rank_correlation(trained, compute_cams(randomised, X, targets, method=method).maps)
            rows.append(pd.DataFrame({"step": step, "layer": name, "image": np.arange(len(rho)),
                                      "spearman": rho}))
    finally:
        torch.random.set_rng_state(generator_state)
    return pd.concat(rows, ignore_index=True)


def randomisation_summary(df: pd.DataFrame) -> pd.DataFrame:
    """Per step: the layer, the mean rank correlation and its 95 % CI, and the images used."""
    rows = []
    for (step, layer), g in df.groupby(["step", "layer"], sort=True):
        m, low, high = mean_ci(g["spearman"])
        rows.append({"step": step, "layer": layer, "spearman": m, "low": low, "high": high,
                     "n": int(g["spearman"].notna().sum())})
    return pd.DataFrame(rows)


def layer_labels(model: nn.Module) -> dict[str, str]:
    """Readable names of the randomised layers: ``conv1, conv2, ...`` and ``fc<outputs>``
    (e.g. ``{"features.3": "conv2", "classifier.4": "fc10"}`` for LeNet-5)."""
    convs = [n for n, m in model.named_modules() if isinstance(m, nn.Conv2d)]
    out = {n: f"conv{i}" for i, n in enumerate(convs, start=1)}
    out.update({n: f"fc{m.out_features}" for n, m in model.named_modules()
                if isinstance(m, nn.Linear)})
    return out


def _reinitialised(model: nn.Module, seed: int) -> nn.Module:
    """A copy of ``model`` with every conv and linear layer re-initialised, seeded by ``seed``."""
    fresh = copy.deepcopy(model)
    modules = dict(fresh.named_modules())
    torch.manual_seed(seed)
    for name in cascading_layers(model):
        modules[name].reset_parameters()
    return fresh


def independent_randomisation(model: nn.Module, X, targets, method: str = "gradcam",
                              seed: int = 0) -> pd.DataFrame:
    """The reference of the cascade: per image, the rank correlation of the maps of two networks
    of ``model``'s architecture whose every layer is initialised independently (seeds
    ``seed + 1`` and ``seed + 2``; the cascade's own re-initialisation uses ``seed``).

    Parameters
    ----------
    model : nn.Module
        Left untouched (copies are re-initialised); its trained weights play no part.
    X : Tensor or ndarray, shape (n, 1, 28, 28)
    targets : array of int, shape (n,)
        The classes the cascade explains (the trained model's predictions).
    method : {"gradcam", "hirescam", "occlusion"}

    Returns
    -------
    DataFrame
        Columns ``image`` and ``spearman`` (NaN where either map is constant).
    """
    generator_state = torch.random.get_rng_state()
    try:
        a, b = (compute_cams(_reinitialised(model, seed + k), X, targets, method=method).maps
                for k in (1, 2))
    finally:
        torch.random.set_rng_state(generator_state)
    rho = rank_correlation(a, b)
    return pd.DataFrame({"image": np.arange(len(rho)), "spearman": rho})


def randomisation_outcome(low: float, high: float, margin: float = MARGIN) -> str:
    """``"passes"`` when the CI ``[low, high]`` of the excess over the reference lies wholly
    below ``margin``, ``"fails"`` when wholly above, ``"undecided"`` otherwise (or when it is NaN)."""
    if low > high:
        raise ValueError(f"low ({low}) must not exceed high ({high}).")
    return "passes" if high < margin else "fails" if low > margin else "undecided"


def randomisation_check(cascade: pd.DataFrame, reference: pd.DataFrame, margin: float = MARGIN) -> dict:
    """The rule applied to one map: every step of the cascade and the reference on one set of
    images, those where every correlation is defined (no map constant), and the last step (every
    layer random) against the reference, paired per image.

    Parameters
    ----------
    cascade : DataFrame
        ``cascading_randomisation``'s rows of one model and explainer.
    reference : DataFrame
        ``independent_randomisation``'s rows for the same images.

    Returns
    -------
    dict
        ``summary``: ``randomisation_summary`` of the cascade on the ``n`` images (of ``images``)
        where every step and the reference are defined; ``last`` and ``reference``: ``(mean,
        low, high)`` on those images; ``excess``: ``(mean, low, high)`` of their paired
        difference (its mean is ``last`` minus ``reference``); ``steps``; ``margin``; ``outcome``
        (``randomisation_outcome`` of the excess's CI).
    """
    if cascade.empty or reference.empty:
        raise ValueError("cascade and reference must both have rows (one model and explainer each).")
    wide = cascade.pivot(index="image", columns="step", values="spearman")
    ref = reference.set_index("image")["spearman"]
    if not wide.index.equals(ref.sort_index().index):
        raise ValueError(f"The cascade has images {list(wide.index[:5])}..., the reference "
                         f"{list(ref.index[:5])}...: compute both on the same images.")
    keep = wide.index[wide.notna().all(axis=1) & ref.reindex(wide.index).notna()]
    last, ref = wide.loc[keep, wide.columns.max()], ref.loc[keep]
    excess = mean_ci(last - ref)
    return {"summary": randomisation_summary(cascade[cascade["image"].isin(keep)]),
            "last": mean_ci(last), "reference": mean_ci(ref), "excess": excess, "n": len(keep),
            "images": len(wide), "steps": int(wide.columns.max()), "margin": margin,
            "outcome": randomisation_outcome(excess[1], excess[2], margin)}


def randomisation_checks(randomisation: pd.DataFrame, reference: pd.DataFrame,
                         margin: float = MARGIN) -> dict[tuple[str, str], dict]:
    """:func:`randomisation_check` for every (model, explainer) of a stored cascade
    (``cascading_randomisation``'s rows) against its reference (``independent_randomisation``'s),
    in the cascade's order."""
    return {(n, m): randomisation_check(g, reference[(reference["model"] == n) & (reference["explainer"] == m)],
                                        margin)
            for (n, m), g in randomisation.groupby(["model", "explainer"], sort=False)}
