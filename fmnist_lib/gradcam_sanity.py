"""Model-parameter randomisation test (Adebayo et al., 2018), cascading from the logits down.

A map that shows what a model learned must change when the learned weights are replaced by
random ones. The layers with parameters are re-initialised one at a time from the output
towards the input, cumulatively, and after each step every image's map is compared with the
trained model's by Spearman rank correlation. Maps that stay similar after the whole network
is random reflect the image (edges, brightness), not the model.
"""
from __future__ import annotations

import copy

import numpy as np
import pandas as pd
import torch
from scipy.stats import rankdata
from torch import nn

from .gradcam import compute_cams
from .gradcam_faithfulness import mean_ci

__all__ = ["cascading_layers", "rank_correlation", "cascading_randomisation",
           "randomisation_summary", "randomisation_verdict"]

SIMILAR = 0.5  # rank correlation at or above which a randomised map counts as unchanged


def cascading_layers(model: nn.Module) -> list[str]:
    """Names of the conv and linear layers, from the output to the input."""
    names = [n for n, m in model.named_modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    if not names:
        raise ValueError(f"{type(model).__name__} has no conv or linear layer to randomise.")
    return names[::-1]


def rank_correlation(maps_a, maps_b) -> np.ndarray:
    """Per-image Spearman correlation of two sets of maps (n, H, W) -> (n,); NaN for a
    constant map."""
    a = np.asarray(maps_a, np.float64).reshape(len(maps_a), -1)
    b = np.asarray(maps_b, np.float64).reshape(len(maps_b), -1)
    if a.shape != b.shape:
        raise ValueError(f"maps_a {a.shape} and maps_b {b.shape} differ.")
    ra, rb = rankdata(a, axis=1), rankdata(b, axis=1)
    ra, rb = ra - ra.mean(1, keepdims=True), rb - rb.mean(1, keepdims=True)
    denom = np.sqrt((ra ** 2).sum(1) * (rb ** 2).sum(1))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(denom > 0, (ra * rb).sum(1) / denom, np.nan)


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
    randomised = copy.deepcopy(model)
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


def randomisation_verdict(summary: pd.DataFrame, name: str, threshold: float = SIMILAR) -> str:
    """Whether the maps of ``name`` (e.g. "Grad-CAM on LeNet-5") pass the check: after the
    output layer and after every layer is randomised, the CI of the mean rank correlation with
    the trained maps must lie below ``threshold``."""
    first, last = summary.iloc[0], summary.iloc[-1]
    ok = [row["high"] < threshold for row in (first, last)]
    s = (f"Randomising {name.split(' on ')[-1]}'s weights from the output layer down lowers the "
         f"rank correlation of {name.split(' on ')[0]} maps with the trained ones to "
         f"{first['spearman']:.2f} after the output layer and {last['spearman']:.2f} once all "
         f"{len(summary)} layers are random, so")
    if all(ok):
        return s + " the maps depend on the learned weights: the sanity check passes."
    if ok[1]:
        return s + (" the maps depend on the weights but not on the output layer alone: the "
                    "check passes only for the whole network.")
    return s + " the maps survive random weights: the check fails (they reflect the image)."
