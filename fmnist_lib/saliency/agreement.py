"""How much do two sets of maps agree, at one resolution, and against which references?

The two models' maps do not live on the same grid: the Simple CNN's layer is 28 x 28 and its
max pooling routes the gradient to one pixel of every 2 x 2 window (a speckle), LeNet-5's C3
is 10 x 10 with its units 2 px apart. Every map is therefore first **average-pooled to a
common grid of ``cell`` x ``cell`` px cells** (``pool_to_grid``): with ``cell = 2`` a 14 x 14
grid whose cells are exactly the Simple CNN's pooling windows (the speckle is summed away) and
whose inner 10 x 10 cells are centred on LeNet-5's C3 units; ``cell = 4`` (7 x 7) is coarser
than both, at the scale of a garment's parts.

On that grid, per image (``map_agreement``):

- **Spearman** rank correlation of the cells (ties get average ranks, as
  ``scipy.stats.spearmanr``; undefined, NaN, when a map is constant, e.g. zero everywhere);
- **top-k overlap** for each share ``k`` of the cells: the share of map A's top k cells that
  are among map B's. Ties are handled explicitly: a map with fewer than k positive cells has
  no top k (the pair is NaN, *excluded* and counted, never filled at random); a tie that
  straddles the k-th place (equal positive values) gives each tied cell the fraction of the
  remaining places, which is the exact mean over all ways of breaking that tie. Unrelated
  maps overlap by ``k`` (the share) on average.

A cross-model number alone means little: ``reference_agreement`` puts beside it the agreement
of two seeds of the same model, of the two models' maps of *different images of the same
class* (chance, with each class's typical silhouette), and of each model's maps with a
model-free map (the image's brightness). Every summary of these comparisons (the table, the
figure and the answer in ``answer.agreement_position``) averages, per metric, over **one set of
images**: those where every comparison is defined (``defined_images``), so a reference and the
cross-model value it is read against always rest on the same images.
"""
from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from ..models import DISPLAY_NAMES
from .faithfulness import mean_ci
from .sanity import rank_correlation

__all__ = ["CELL", "TOP_K", "pool_to_grid", "topk_membership", "topk_overlap", "map_agreement",
           "same_class_partners", "reference_agreement", "defined_images", "agreement_table",
           "positive_cells_table"]

CELL = 2  # px per side of a common-grid cell: 14 x 14 cells
TOP_K = (0.05, 0.10, 0.20)  # shares of the cells forming a map's top region
METRICS = ("spearman",) + tuple(f"top{round(100 * k)}" for k in TOP_K)


def pool_to_grid(maps, cell: int = CELL) -> np.ndarray:
    """Mean of each ``cell`` x ``cell`` block: (n, H, W) -> (n, H / cell, W / cell)."""
    maps = np.asarray(maps, dtype=np.float64)
    if maps.ndim != 3:
        raise ValueError(f"maps must have shape (n, H, W), got {maps.shape}.")
    n, H, W = maps.shape
    if cell < 1 or H % cell or W % cell:
        raise ValueError(f"cell {cell} must divide the maps' {H} x {W} px (e.g. 2, 4 or 7 for 28).")
    return maps.reshape(n, H // cell, cell, W // cell, cell).mean(axis=(2, 4))


def topk_membership(flat, k: int) -> np.ndarray:
    """Each cell's share in its row's top ``k``: 1 above the k-th value, the tie's fraction of
    the remaining places at it, 0 below; NaN rows for maps with fewer than ``k`` positive cells.

    Parameters
    ----------
    flat : ndarray, shape (n, P)
    k : int, 1..P

    Returns
    -------
    ndarray, shape (n, P), float64
        Rows sum to ``k`` (or are NaN).
    """
    flat = np.asarray(flat, dtype=np.float64)
    if flat.ndim != 2 or not 1 <= k <= flat.shape[1]:
        raise ValueError(f"flat must be (n, P) and k in 1..P, got {flat.shape} and {k}.")
    kth = -np.sort(-flat, axis=1)[:, k - 1:k]  # (n, 1): the k-th largest value
    above, tied = flat > kth, flat == kth
    rest = k - above.sum(1, keepdims=True)
    out = above + tied * (rest / np.maximum(tied.sum(1, keepdims=True), 1))
    out[(flat > 0).sum(1) < k] = np.nan
    return out


def topk_overlap(a, b, k: int) -> np.ndarray:
    """Share of the top ``k`` cells shared by maps ``a`` and ``b`` (n, P), NaN when either has
    fewer than ``k`` positive cells; with ties, the mean over all ways of breaking them."""
    return (topk_membership(a, k) * topk_membership(b, k)).sum(1) / k


def map_agreement(maps_a, maps_b, top_k=TOP_K) -> pd.DataFrame:
    """Per image: Spearman and top-k overlap of two sets of maps already on one grid.

    Parameters
    ----------
    maps_a, maps_b : ndarray, shape (n, h, w)
    top_k : sequence of float in (0, 1)
        Shares of the cells; ``k = round(share * h * w)``.

    Returns
    -------
    DataFrame
        Columns ``spearman`` and ``top<percent>`` per share, one row per image, NaN where undefined.
    """
    a = np.asarray(maps_a, np.float64).reshape(len(maps_a), -1)
    b = np.asarray(maps_b, np.float64).reshape(len(maps_b), -1)
    if a.shape != b.shape:
        raise ValueError(f"maps_a {np.shape(maps_a)} and maps_b {np.shape(maps_b)} differ.")
    out = {"spearman": rank_correlation(a, b)}
    for share in top_k:
        k = int(round(share * a.shape[1]))
        if not 0 < share < 1 or k < 1:
            raise ValueError(f"top-k shares must be in (0, 1) and keep >= 1 cell, got {share}.")
        out[f"top{round(100 * share)}"] = topk_overlap(a, b, k)
    return pd.DataFrame(out)


def same_class_partners(y, seed: int = 0) -> np.ndarray:
    """For each image, another image of the same class (a random derangement within each class).

    Raises
    ------
    ValueError
        If a class has a single image (it has no partner).
    """
    y = np.asarray(y)
    rng, out = np.random.default_rng(seed), np.empty(len(y), dtype=np.int64)
    for c in np.unique(y):
        idx = np.flatnonzero(y == c)
        if len(idx) < 2:
            raise ValueError(f"Class {c} has one image; same-class chance needs two per class.")
        out[idx] = _derange(idx, rng)
    return out


def _derange(idx: np.ndarray, rng) -> np.ndarray:
    order = rng.permutation(len(idx))  # a random cycle through the class: never a fixed point
    partner = np.empty(len(idx), dtype=np.int64)
    partner[order] = idx[np.roll(order, -1)]
    return partner


def _pairs_mean(pairs, top_k, other=None) -> pd.DataFrame:
    """Per image, the mean over pairs of maps ``(a, b)`` (NaN pairs left out), ``b`` taken at
    the images ``other`` when given."""
    frames = [map_agreement(a, b if other is None else b[other], top_k) for a, b in pairs]
    stacked = np.stack([f.to_numpy() for f in frames])  # (pairs, n, metrics)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # "mean of empty slice": stays NaN
        mean = np.nanmean(stacked, axis=0)
    return pd.DataFrame(mean, columns=frames[0].columns)


def reference_agreement(maps: dict[str, list[np.ndarray]], y, brightness, *, cell: int = CELL,
                        top_k=TOP_K, seed: int = 0, labels: dict[str, str] | None = None
                        ) -> pd.DataFrame:
    """Per-image agreement on the common grid: within each model, across models, and references.

    Parameters
    ----------
    maps : dict
        Exactly two models: ``{name: [maps of seed 0, seed 1, ...]}``, each (n, 28, 28) and
        non-negative, the same images in the same order.
    y : array, shape (n,)
        True classes (for the same-class chance).
    brightness : ndarray, shape (n, 28, 28)
        The model-free map: the images' raw intensities.
    cell : int
        Side of the common grid's cells, in px.

    Returns
    -------
    DataFrame
        Columns ``comparison``, ``image`` and one per metric (``METRICS``), a row per image and
        comparison: ``"<model> seeds"`` (mean over seed pairs, models with two or more seeds),
        ``"<a> vs <b>"`` (mean over all cross-model seed pairs), ``"same class, other image"``
        (the same cross pairs, model b's map of another image of the same class) and
        ``"<model> vs brightness"`` (mean over the model's seeds). Values are means over the
        pairs where they are defined; NaN where none is.
    """
    labels = {**DISPLAY_NAMES, **(labels or {})}
    if len(maps) != 2 or any(len(v) == 0 for v in maps.values()):
        raise ValueError("maps must hold two models, each with the maps of at least one seed.")
    grids = {name: [pool_to_grid(m, cell) for m in runs] for name, runs in maps.items()}
    bright = pool_to_grid(brightness, cell)
    if len({g.shape for runs in grids.values() for g in runs} | {bright.shape}) != 1:
        raise ValueError("Every model's and seed's maps and the brightness must have one shape.")
    (na, a), (nb, b) = grids.items()
    la, lb = labels.get(na, na), labels.get(nb, nb)
    parts = {}
    for name, runs in grids.items():
        if len(runs) >= 2:
            parts[f"{labels.get(name, name)} seeds"] = _pairs_mean(
                [(runs[i], runs[j]) for i in range(len(runs)) for j in range(i + 1, len(runs))], top_k)
    cross = [(x, z) for x in a for z in b]
    parts[f"{la} vs {lb}"] = _pairs_mean(cross, top_k)
    parts["same class, other image"] = _pairs_mean(cross, top_k, other=same_class_partners(y, seed))
    for name, runs in grids.items():
        parts[f"{labels.get(name, name)} vs brightness"] = _pairs_mean([(r, bright) for r in runs], top_k)
    n = len(bright)
    return pd.concat([df.assign(comparison=c, image=np.arange(n)) for c, df in parts.items()],
                     ignore_index=True)[["comparison", "image", *parts[f"{la} vs {lb}"].columns]]


def defined_images(df: pd.DataFrame, metric: str = "spearman") -> pd.Index:
    """The images of a ``reference_agreement`` table where ``metric`` is defined for every
    comparison (no comparison's maps constant, or short of a top k's positive cells)."""
    if metric not in df.columns or metric in ("comparison", "image"):
        raise ValueError(f"No metric {metric!r}; the table has {[c for c in df.columns if c not in ('comparison', 'image')]}.")
    wide = df.pivot(index="image", columns="comparison", values=metric)
    return wide.index[wide.notna().all(axis=1)]


def agreement_table(df: pd.DataFrame) -> pd.DataFrame:
    """Per comparison and metric: mean with its 95 % CI over the images where the metric is
    defined for every comparison (``defined_images``: one set per metric, the same for every
    comparison), their number (``n``) and the images left out (``excluded``).

    Returns
    -------
    DataFrame
        Index ``comparison``; columns ``(metric, stat)`` for stats ``mean, low, high, n, excluded``.
    """
    metrics = [c for c in df.columns if c not in ("comparison", "image")]
    total = df["image"].nunique()
    keep = {m: defined_images(df, m) for m in metrics}
    rows = {}
    for comp, g in df.groupby("comparison", sort=False):
        row = {}
        for m in metrics:
            mean, low, high = mean_ci(g.loc[g["image"].isin(keep[m]), m])
            row.update({(m, "mean"): mean, (m, "low"): low, (m, "high"): high, (m, "n"): len(keep[m]),
                        (m, "excluded"): total - len(keep[m])})
        rows[comp] = row
    out = pd.DataFrame.from_dict(rows, orient="index")
    out.columns = pd.MultiIndex.from_tuples(out.columns)
    out.index.name = "comparison"
    return out


def positive_cells_table(maps: dict[str, np.ndarray], cell: int = CELL, top_k=TOP_K) -> pd.DataFrame:
    """Per map set (``{label: non-negative maps (n, 28, 28)}``), on the common grid: maps that
    are zero everywhere and maps with fewer positive cells than each top k needs (those are
    excluded from that top-k overlap; ``k = round(share * cells)``), as counts of ``n``."""
    rows = []
    for label, m in maps.items():
        grid = pool_to_grid(m, cell).reshape(len(m), -1)
        positive = (grid > 0).sum(1)
        row = {"maps": label, "n": len(grid), "all zero": int((positive == 0).sum())}
        for share in top_k:
            k = int(round(share * grid.shape[1]))
            row[f"too few for top {round(100 * share)} %"] = int((positive < k).sum())
        rows.append(row)
    return pd.DataFrame(rows)
