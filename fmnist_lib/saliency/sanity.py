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
from .faithfulness import mean_ci

__all__ = ["cascading_layers", "rank_correlation", "cascading_randomisation",
           "randomisation_summary", "layer_labels", "randomisation_verdict"]

SIMILAR = 0.5  # rank correlation at or above which a randomised map counts as unchanged


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


def layer_labels(model: nn.Module) -> dict[str, str]:
    """Readable names of the randomised layers: ``conv1, conv2, ...`` and ``fc<outputs>``
    (e.g. ``{"features.3": "conv2", "classifier.4": "fc10"}`` for LeNet-5)."""
    convs = [n for n, m in model.named_modules() if isinstance(m, nn.Conv2d)]
    out = {n: f"conv{i}" for i, n in enumerate(convs, start=1)}
    out.update({n: f"fc{m.out_features}" for n, m in model.named_modules()
                if isinstance(m, nn.Linear)})
    return out


def _passes(summary: pd.DataFrame, threshold: float) -> bool:
    return bool((summary["high"] < threshold).all())


def randomisation_verdict(summaries: dict[str, pd.DataFrame], model: str,
                          threshold: float = SIMILAR) -> str:
    """One sentence on one model's maps (``summaries``: ``{explainer: randomisation_summary}``).

    Criterion: a map passes when, at every step of the cascade, the upper end of the 95 % CI
    of the mean rank correlation with the trained maps lies below ``threshold``. The sentence
    gives each map's highest mean along the cascade and its value once every layer is random.
    """
    if not summaries:
        raise ValueError("summaries is empty.")
    parts, keeps = [], []
    for i, (explainer, s) in enumerate(summaries.items()):
        top, last = s.loc[s["spearman"].idxmax()], s.iloc[-1]
        every = "both layers" if len(s) == 2 else f"all {len(s)} layers"
        parts.append(f"{explainer}'s" + (" correlation with the trained maps" if i == 0 else "")
                     + f" peaks at {top['spearman']:.2f} and ends at {last['spearman']:.2f}"
                     + (f" with {every} random" if i == 0 else ""))
        if last["low"] > 0:
            keeps.append(f"{explainer} ({last['low']:.2f}–{last['high']:.2f})")
    ok = [e for e, s in summaries.items() if _passes(s, threshold)]
    if len(ok) == len(summaries):
        verdict = "both pass" if len(ok) == 2 else ("it passes" if len(ok) == 1 else "all pass")
    elif not ok:
        verdict = "the maps survive random weights, so the check fails"
    else:
        verdict = f"only {' and '.join(ok)} pass{'es' if len(ok) == 1 else ''}"
    s = f"On {model}, {' and '.join(parts) if len(parts) < 3 else ', '.join(parts)}: {verdict}"
    if keeps:
        s += (f", though {' and '.join(keeps)} keep{'s' if len(keeps) == 1 else ''} a weak "
              "dependence on the image with every layer random (CI above 0)")
    return s + "."
