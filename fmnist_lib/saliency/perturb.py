"""Perturbation tests of a saliency map: delete (or insert) pixels in the map's order.

Deletion (Petsiuk et al., 2018): replace the most salient pixels by a fill, step by step, and
follow the probability of the explained class; a faithful map makes it fall faster than a
random order. Insertion: start from the fill and put the most salient pixels back first; a
faithful map makes the probability rise faster. No fill is neutral, so the tests run with
several (``FILLS``):

- ``"black"``: the normalised black of the background (an all-black image is itself a class
  to these models);
- ``"mean"``: the data set's mean intensity (0 after normalisation), a uniform grey;
- ``"blur"``: the image blurred by a Gaussian of ``BLUR_SIGMA`` px, which keeps the rough shape;
- ``"road"``: ROAD's noisy linear imputation (Rong et al., 2022), each removed pixel the
  weighted mean of its neighbours plus noise, so the mask's outline leaks less; the same
  equation system as pytorch-grad-cam's ``NoisyLinearImputer`` (checked in the tests), solved
  as one sparse system per image and step.

Many map pixels tie (Grad-CAM maps are 0 on half the image): ties are broken at random, not by
pixel index, so no corner is deleted first by accident.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from scipy.sparse import coo_matrix
from scipy.sparse.linalg import spsolve
from torch import nn

from .result import _check_images
from ..models import BACKGROUND

__all__ = ["FILLS", "BLUR_SIGMA", "rank_pixels", "random_ranking", "blur", "road_impute",
           "perturbation_curves", "curve_areas"]

FILLS = ("black", "mean", "blur", "road")
BLUR_SIGMA = 2.0
ROAD_NOISE = 0.01  # pytorch-grad-cam's default, in normalised units
# ROAD's neighbour weights (Rong et al., 2022; pytorch-grad-cam's `neighbors_weights`)
_NEIGHBOURS = [((1, 1), 1 / 12), ((0, 1), 1 / 6), ((-1, 1), 1 / 12), ((1, -1), 1 / 12),
               ((0, -1), 1 / 6), ((-1, -1), 1 / 12), ((1, 0), 1 / 6), ((-1, 0), 1 / 6)]


def rank_pixels(maps, seed: int = 0) -> np.ndarray:
    """Pixels of each map from most to least salient, ties in random order.

    Parameters
    ----------
    maps : ndarray, shape (n, H, W)

    Returns
    -------
    ndarray, shape (n, H * W), int64
        ``ranking[i, r]`` is the flat index of image ``i``'s ``r``-th most salient pixel.
    """
    flat = np.asarray(maps, dtype=np.float64)
    if flat.ndim != 3:
        raise ValueError(f"maps must have shape (n, H, W), got {flat.shape}.")
    flat = flat.reshape(len(flat), -1)
    keys = np.random.default_rng(seed).random(flat.shape)
    return np.lexsort((keys, -flat), axis=-1).astype(np.int64)  # primary key: -saliency


def random_ranking(n: int, n_pixels: int, seed: int = 0) -> np.ndarray:
    """A random order of the pixels per image, the reference of every test: (n, n_pixels)."""
    return np.random.default_rng(seed).permuted(np.tile(np.arange(n_pixels), (n, 1)), axis=1)


def blur(X: torch.Tensor, sigma: float = BLUR_SIGMA) -> torch.Tensor:
    """Gaussian blur (separable, edges replicated) of images (n, 1, H, W)."""
    radius = int(np.ceil(3 * sigma))
    t = torch.arange(-radius, radius + 1, dtype=torch.float32)
    k = torch.exp(-t ** 2 / (2 * sigma ** 2))
    k = (k / k.sum()).to(X.device)
    x = F.pad(X, (radius, radius, radius, radius), mode="replicate")
    x = F.conv2d(x, k.view(1, 1, 1, -1))
    return F.conv2d(x, k.view(1, 1, -1, 1))


def road_impute(image: np.ndarray, keep: np.ndarray, noise: float = ROAD_NOISE,
                rng: np.random.Generator | None = None) -> np.ndarray:
    """ROAD's noisy linear imputation of the pixels where ``keep`` is False.

    Each imputed pixel equals the weighted mean of its in-image neighbours (weights 1/6 for
    the four direct, 1/12 for the four diagonal ones), known or imputed, plus Gaussian noise.

    Parameters
    ----------
    image : ndarray, shape (H, W)
    keep : ndarray of bool, shape (H, W)
    noise : float
        Standard deviation of the noise added to the imputed pixels (0: none).

    Returns
    -------
    ndarray, shape (H, W), float64
    """
    image = np.asarray(image, dtype=np.float64)
    H, W = image.shape
    keep_flat, img = np.asarray(keep, dtype=bool).reshape(-1), image.reshape(-1)
    missing = np.flatnonzero(~keep_flat)
    out = img.copy()
    if len(missing) == 0:
        return out.reshape(H, W)
    if len(missing) == len(img):  # nothing known: the system's solution is 0 everywhere
        out[:] = noise * (rng or np.random.default_rng(0)).standard_normal(len(img)) if noise else 0
        return out.reshape(H, W)
    var = np.full(H * W, -1)
    var[missing] = np.arange(len(missing))
    eq = np.arange(len(missing))
    diag, b = np.zeros(len(missing)), np.zeros(len(missing))
    rows, cols, vals = [], [], []
    r0, c0 = missing // W, missing % W
    for (dr, dc), w in _NEIGHBOURS:
        r, c = r0 + dr, c0 + dc
        valid = (r >= 0) & (r < H) & (c >= 0) & (c < W)
        nb = np.where(valid, r * W + c, 0)
        diag[valid] += w
        known = valid & keep_flat[nb]
        np.subtract.at(b, eq[known], w * img[nb[known]])
        unknown = valid & ~keep_flat[nb]
        rows.append(eq[unknown]), cols.append(var[nb[unknown]])
        vals.append(np.full(unknown.sum(), w))
    rows, cols = np.concatenate(rows + [eq]), np.concatenate(cols + [eq])
    A = coo_matrix((np.concatenate(vals + [-diag]), (rows, cols)),
                   shape=(len(missing), len(missing))).tocsc()
    solution = np.atleast_1d(spsolve(A, b))
    if noise:
        solution = solution + noise * (rng or np.random.default_rng(0)).standard_normal(len(missing))
    out[missing] = solution
    return out.reshape(H, W)


def _fill_images(X: torch.Tensor, fill: str) -> torch.Tensor:
    if fill == "black":
        return torch.full_like(X, BACKGROUND)
    if fill == "mean":
        return torch.zeros_like(X)  # the data set's mean intensity, after normalisation
    return blur(X)


def _road(image: np.ndarray, keep: np.ndarray, noise: float, rng, cache: dict | None) -> np.ndarray:
    if cache is None:
        return road_impute(image, keep, noise, rng)
    key = (image.tobytes(), np.packbits(keep).tobytes(), noise)
    if key not in cache:
        cache[key] = road_impute(image, keep, noise, rng)
    return cache[key]


def perturbation_curves(model: nn.Module, X, ranking: np.ndarray, targets, *,
                        mode: str = "deletion", fill: str = "black",
                        fractions=np.linspace(0, 1, 11), seed: int = 0,
                        batch_size: int = 128, cache: dict | None = None,
                        road_noise: float = ROAD_NOISE) -> np.ndarray:
    """Probability of each image's target class as pixels are deleted or inserted in order.

    Parameters
    ----------
    model : nn.Module
        Evaluated in eval mode without gradients (its mode is restored).
    X : Tensor or ndarray, shape (n, 1, 28, 28)
        Normalised images.
    ranking : ndarray, shape (n, 784)
        Pixel order per image (``rank_pixels`` or ``random_ranking``).
    targets : array of int, shape (n,)
        The class each map explains.
    mode : {"deletion", "insertion"}
        Deletion replaces the first ``k`` pixels of the ranking by the fill; insertion shows
        only them, on the fill.
    fill : one of ``FILLS``
    fractions : array, shape (steps,)
        Shares of the pixels deleted (inserted) at each point of the curve, in [0, 1].
    seed, road_noise : int, float
        Seed and standard deviation of ROAD's noise.
    cache : dict, optional
        ROAD imputations by (image, mask), shared between calls that perturb the same images
        in the same order (e.g. the random order for two models).

    Returns
    -------
    ndarray, shape (n, steps), float64
    """
    X = _check_images(X)
    ranking, targets = np.asarray(ranking), np.asarray(targets)
    fractions = np.asarray(fractions, dtype=np.float64)
    n, n_pix = len(X), X[0].numel()
    if ranking.shape != (n, n_pix) or targets.shape != (n,):
        raise ValueError(f"ranking {ranking.shape} and targets {targets.shape} must be "
                         f"({n}, {n_pix}) and ({n},) for {n} images.")
    if mode not in ("deletion", "insertion") or fill not in FILLS:
        raise ValueError(f"mode must be 'deletion' or 'insertion' and fill one of {FILLS}; got "
                         f"{mode!r}, {fill!r}.")
    if fractions.ndim != 1 or fractions.min() < 0 or fractions.max() > 1:
        raise ValueError("fractions must be a 1-d array of shares in [0, 1].")
    ks = torch.from_numpy(np.round(fractions * n_pix).astype(np.int64))
    position = np.empty_like(ranking)  # position[i, pixel] = when that pixel is taken
    np.put_along_axis(position, ranking, np.arange(n_pix)[None].repeat(n, 0), axis=1)
    rng = np.random.default_rng(seed)
    was_training, out = model.training, []
    model.eval()
    try:
        with torch.no_grad():
            for start in range(0, n, batch_size):
                x = X[start:start + batch_size].float()  # (b, 1, 28, 28)
                b = len(x)
                taken = torch.from_numpy(position[start:start + b])[None] < ks[:, None, None]
                taken = taken.view(len(ks), b, *x.shape[1:])  # (steps, b, 1, 28, 28)
                shown = ~taken if mode == "deletion" else taken
                if fill == "road":
                    xs = torch.tensor(np.stack([[_road(x[i, 0].numpy(), shown[s, i, 0].numpy(),
                                                       road_noise, rng, cache) for i in range(b)]
                                                for s in range(len(ks))]),
                                      dtype=torch.float32)[:, :, None]
                else:
                    xs = torch.where(shown, x[None], _fill_images(x, fill)[None])
                device = next(model.parameters(), torch.empty(0)).device
                probs = model(xs.flatten(0, 1).to(device)).softmax(1).view(len(ks), b, -1)
                t = torch.as_tensor(targets[start:start + b], device=device)
                out.append(probs.gather(2, t.view(1, b, 1).expand(len(ks), b, 1))[..., 0].T.cpu())
    finally:
        model.train(was_training)
    return torch.cat(out).double().numpy()


def curve_areas(curves, fractions=None) -> np.ndarray:
    """Area under each curve (trapezoid rule over ``fractions``, evenly spaced in [0, 1] by
    default): (n, steps) -> (n,)."""
    c = np.asarray(curves, dtype=np.float64)
    x = np.linspace(0, 1, c.shape[-1]) if fractions is None else np.asarray(fractions, float)
    return ((c[..., 1:] + c[..., :-1]) / 2 * np.diff(x)).sum(-1)
