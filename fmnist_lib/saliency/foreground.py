"""Do the maps point at the garment? The share of each map's mass on the garment's silhouette.

Fashion-MNIST's background is exactly 0 in the raw images, so a garment's silhouette is its
non-zero pixels. A map that ignored the image would put the silhouette's share of the image on
it; the test reads each map's share beside that base rate, per image. Mass (the sum of the
map's non-negative values), not a top-k mask: no tie is broken, and a map that is zero
everywhere has no mass, so it is excluded and counted. The same for the outer 1-px frame of the
image (where padding can make an edge). The sentence is ``paper.saliency_text``'s.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from ..data import normalisation_stats
from .faithfulness import mean_ci
from .result import _check_images

__all__ = ["raw_pixels", "silhouette", "mass_share", "frame_mask", "foreground_shares",
           "foreground_table"]


def raw_pixels(X, mean: float | None = None, std: float | None = None) -> np.ndarray:
    """Normalised images (n, 1, 28, 28) back to raw intensities in [0, 1]: (n, 28, 28)."""
    X = _check_images(X)
    if mean is None or std is None:
        mean, std = normalisation_stats()
    return X[:, 0].double().numpy() * std + mean


def silhouette(X, **stats) -> np.ndarray:
    """The garment: raw intensity above half a grey level (the background is exactly 0): bool (n, 28, 28)."""
    return raw_pixels(X, **stats) > 0.5 / 255


def frame_mask(shape: tuple[int, int], width: int = 1) -> np.ndarray:
    """The outer ``width``-px frame of an image: bool (H, W)."""
    h, w = shape
    frame = np.ones((h, w), dtype=bool)
    frame[width:h - width, width:w - width] = False
    return frame


def mass_share(maps, region) -> np.ndarray:
    """Per image, the share of a non-negative map's mass inside ``region`` (n, H, W) or (H, W);
    NaN for a map with no mass."""
    maps = np.asarray(maps, dtype=np.float64)
    if maps.ndim != 3 or (maps < 0).any():
        raise ValueError(f"maps must be non-negative with shape (n, H, W), got {maps.shape}"
                         f"{' with negative values' if maps.ndim == 3 else ''}.")
    region = np.broadcast_to(np.asarray(region, dtype=bool), maps.shape)
    total = maps.sum((1, 2))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, (maps * region).sum((1, 2)) / total, np.nan)


def foreground_shares(X, maps: dict[str, np.ndarray], **stats) -> pd.DataFrame:
    """Per explainer and image: mass share on the silhouette and on the frame, with the
    silhouette's and the frame's shares of the image (the base rates).

    Parameters
    ----------
    X : Tensor or ndarray, shape (n, 1, 28, 28)
    maps : dict
        ``{label: non-negative maps (n, 28, 28)}``, e.g. ``{"simple/gradcam": result.raw}``.

    Returns
    -------
    DataFrame
        Columns ``maps, image, silhouette, frame, silhouette_area, frame_area``.
    """
    fg = silhouette(X, **stats)
    frame = frame_mask(fg.shape[1:])
    rows = [pd.DataFrame({"maps": label, "image": np.arange(len(fg)),
                          "silhouette": mass_share(m, fg), "frame": mass_share(m, frame),
                          "silhouette_area": fg.mean((1, 2)), "frame_area": frame.mean()})
            for label, m in maps.items()]
    return pd.concat(rows, ignore_index=True)


def foreground_table(shares: pd.DataFrame) -> pd.DataFrame:
    """Per map set: mean mass share on the silhouette with the 95 % CI of its excess over the
    silhouette's area (paired per image), the mean area, the same for the frame, images used
    and maps excluded (no mass)."""
    rows = []
    for label, g in shares.groupby("maps", sort=False):
        ok = g.dropna(subset=["silhouette"])
        _, low, high = mean_ci(ok["silhouette"] - ok["silhouette_area"])
        _, frame_low, frame_high = mean_ci(ok["frame"] - ok["frame_area"])
        rows.append({"maps": label, "n": len(ok), "no mass": len(g) - len(ok),
                     "on silhouette": ok["silhouette"].mean(),
                     "silhouette area": ok["silhouette_area"].mean(),
                     "excess low": low, "excess high": high,
                     "on frame": ok["frame"].mean(), "frame area": ok["frame_area"].mean(),
                     "frame excess low": frame_low, "frame excess high": frame_high})
    return pd.DataFrame(rows)
