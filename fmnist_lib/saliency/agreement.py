"""How much do two sets of maps agree, and against which reference?

Agreement compares spatial patterns only: every map is min-max normalised per image, and the
layers differ in resolution (SimpleCNN's 28x28, LeNet-5's C3 10x10, upsampled, so smoother).
A cross-model number alone cannot answer "do the models look at the same parts?": it is read
beside the agreement of two seeds of the *same* model (how reproducible a model's maps are at
all) and beside chance (maps of different images), see ``reference_agreement``.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..data import CLASSES, normalisation_stats
from .faithfulness import mean_ci
from .result import _check_images
from ..models import DISPLAY_NAMES

__all__ = ["row_pearson", "cam_agreement", "agreement_by_class", "plot_agreement", "background_share",
           "frame_share", "reference_agreement", "agreement_reference_table", "same_parts_answer",
           "seeds_phrase", "background_base_rate"]


def _flat_maps(maps, name: str) -> np.ndarray:
    maps = np.asarray(maps, dtype=np.float64)
    if maps.ndim != 3:
        raise ValueError(f"{name} must have shape (n, H, W), got {maps.shape}.")
    return maps.reshape(len(maps), -1)


def _top_mask(flat: np.ndarray, k: int, seed: int = 0) -> np.ndarray:
    """The ``k`` highest pixels of each row, ties broken at random: Grad-CAM maps are 0 on
    much of the image, and a stable sort would pick the same top-left zeros in every map."""
    keys = np.random.default_rng(seed).random(flat.shape)
    order = np.lexsort((keys, -flat), axis=-1)[:, :k]
    mask = np.zeros(flat.shape, dtype=bool)
    np.put_along_axis(mask, order, True, axis=1)
    return mask


def cam_agreement(maps_a, maps_b, top: float = 0.2) -> pd.DataFrame:
    """Per-image agreement of two sets of maps of the same images.

    Parameters
    ----------
    maps_a, maps_b : ndarray, shape (n, 28, 28)
    top : float
        Share of pixels, in (0, 1], forming each map's "attended" region for the IoU.

    Returns
    -------
    pandas.DataFrame
        One row per image: ``pearson`` (correlation of the pixel values, NaN when a map is
        constant) and ``iou`` (intersection over union of the two top-``top`` regions, ties
        broken at random; for unrelated maps its expected value is ``top / (2 - top)``, 0.11
        at 20 %).
    """
    a, b = _flat_maps(maps_a, "maps_a"), _flat_maps(maps_b, "maps_b")
    if a.shape != b.shape:
        raise ValueError(f"maps_a {np.shape(maps_a)} and maps_b {np.shape(maps_b)} differ.")
    if not 0.0 < top <= 1.0:
        raise ValueError(f"top must be in (0, 1], got {top}.")
    k = max(1, int(round(top * a.shape[1])))
    return _agreement(a, b, _top_mask(a, k, seed=1), _top_mask(b, k, seed=2))  # independent ties


def row_pearson(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pearson correlation of each row of ``a`` (n, P) with the same row of ``b``: ``(n,)``,
    NaN where a row is constant."""
    ac, bc = a - a.mean(1, keepdims=True), b - b.mean(1, keepdims=True)
    denom = np.sqrt((ac ** 2).sum(1) * (bc ** 2).sum(1))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(denom > 0, (ac * bc).sum(1) / denom, np.nan)


def _agreement(a: np.ndarray, b: np.ndarray, top_a: np.ndarray, top_b: np.ndarray) -> pd.DataFrame:
    """Pearson of flat maps (n, P) and IoU of their top masks (n, P)."""
    pearson = row_pearson(a, b)
    inter = (top_a & top_b).sum(1)
    union = top_a.sum(1) + top_b.sum(1) - inter
    return pd.DataFrame({"pearson": np.clip(pearson, -1.0, 1.0), "iou": inter / union})


def agreement_by_class(df: pd.DataFrame, y_true, classes=CLASSES) -> pd.DataFrame:
    """Mean and standard deviation of ``pearson`` and ``iou`` per true class, then overall.

    Returns
    -------
    pandas.DataFrame
        Index: class names and ``"All"``; columns ``n, pearson_mean, pearson_sd, iou_mean,
        iou_sd`` (NaN correlations of constant maps are left out of the means).
    """
    y_true = np.asarray(y_true)
    if len(y_true) != len(df):
        raise ValueError(f"y_true has {len(y_true)} labels but df has {len(df)} rows.")
    groups = [(classes[c], df[y_true == c]) for c in np.unique(y_true)] + [("All", df)]
    rows = {name: {"n": len(g), "pearson_mean": g["pearson"].mean(),
                   "pearson_sd": g["pearson"].std(), "iou_mean": g["iou"].mean(),
                   "iou_sd": g["iou"].std()} for name, g in groups}
    out = pd.DataFrame.from_dict(rows, orient="index")
    out.index.name = "class"
    return out


def plot_agreement(df: pd.DataFrame, top: float = 0.2):
    """Histograms of the per-image Pearson correlation and top-``top`` IoU, with medians and
    the value expected for unrelated maps (0 and ``top / (2 - top)``)."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(8, 2.8), constrained_layout=True)
    specs = [("pearson", "Pearson correlation", (-1, 1), 0.0),
             ("iou", f"IoU of the top {top:.0%} pixels", (0, 1), top / (2 - top))]
    for ax, (col, title, span, chance) in zip(axes, specs):
        values = df[col].dropna()
        ax.hist(values, bins=40, range=span, color="C0", alpha=0.8)
        ax.axvline(values.median(), color="k", label=f"median {values.median():.2f}")
        ax.axvline(chance, color="grey", ls=":", label=f"unrelated maps {chance:.2f}")
        ax.set(title=title, xlabel=col, ylabel="images", xlim=span)
        ax.legend(fontsize=8)
    return fig


def background_share(X, maps, top: float = 0.2, threshold: float = 0.05, *,
                     mean: float | None = None, std: float | None = None) -> np.ndarray:
    """Per image, the share of a map's top-``top`` pixels that lie on the black background.

    Background: raw intensity (normalisation undone) below ``threshold``. Compare with the
    share of background in the whole image (``background_share(X, np.ones(...), top=1)``).
    ``mean`` and ``std`` undo the normalisation (default: the training split's).
    """
    X = _check_images(X)
    flat = _flat_maps(maps, "maps")
    if len(flat) != len(X) or flat.shape[1] != X[0].numel():
        raise ValueError(f"maps {np.shape(maps)} do not match images {tuple(X.shape)}.")
    if not 0.0 < top <= 1.0:
        raise ValueError(f"top must be in (0, 1], got {top}.")
    if mean is None or std is None:
        mean, std = normalisation_stats()
    background = (X.reshape(len(X), -1).double().numpy() * std + mean) < threshold
    k = max(1, int(round(top * flat.shape[1])))
    return (_top_mask(flat, k) & background).sum(1) / k


def frame_share(maps, top: float = 0.2, width: int = 1) -> np.ndarray:
    """Per image, the share of a map's top-``top`` pixels on the image's outer ``width``-px
    frame (13.8 % of a 28x28 image for ``width=1``): high when padding makes the frame an edge."""
    flat = _flat_maps(maps, "maps")
    h, w = np.shape(maps)[1:]
    frame = np.ones((h, w), dtype=bool)
    frame[width:h - width, width:w - width] = False
    k = max(1, int(round(top * flat.shape[1])))
    return (_top_mask(flat, k) & frame.reshape(1, -1)).sum(1) / k


def _mean_pairs(pairs) -> pd.DataFrame:
    frames = [_agreement(a[0], b[0], a[1], b[1]) for a, b in pairs]  # ((flat, mask), (flat, mask))
    return sum(frames[1:], frames[0]) / len(frames)


def reference_agreement(maps: dict[str, list[np.ndarray]], top: float = 0.2, seed: int = 0,
                        labels: dict[str, str] | None = None) -> pd.DataFrame:
    """Per-image agreement within each model across seeds, across models, and by chance.

    Parameters
    ----------
    maps : dict
        Exactly two models: ``{name: [maps of seed 0, seed 1, ...]}``, each (n, 28, 28), the
        same images in the same order.

    Returns
    -------
    DataFrame
        Columns ``comparison`` (``"<model> seeds"`` for models with two or more seeds, mean
        over seed pairs; ``"<a> vs <b>"``, mean over all cross-model pairs; ``"chance"``:
        seed-0 maps of the two models on *different* images), ``image``, ``pearson``, ``iou``.
    """
    labels = {**DISPLAY_NAMES, **(labels or {})}
    if len(maps) != 2 or any(len(v) == 0 for v in maps.values()):
        raise ValueError("maps must hold two models, each with the maps of at least one seed.")
    if not 0.0 < top <= 1.0:
        raise ValueError(f"top must be in (0, 1], got {top}.")
    # each map set flattened and its top mask drawn once, ties broken independently per set
    flat = {name: [_flat_maps(m, name) for m in runs] for name, runs in maps.items()}
    if len({f.shape for runs in flat.values() for f in runs}) != 1:
        raise ValueError("Every model's and seed's maps must have the same shape.")
    k = max(1, int(round(top * flat[next(iter(flat))][0].shape[1])))
    sets = {name: [(f, _top_mask(f, k, seed=seed + 100 * j + i)) for i, f in enumerate(runs)]
            for j, (name, runs) in enumerate(flat.items())}
    (na, a), (nb, b) = sets.items()
    n = len(a[0][0])
    parts = {}
    for name, runs in sets.items():
        if len(runs) >= 2:
            parts[f"{labels.get(name, name)} seeds"] = _mean_pairs(
                [(runs[i], runs[j]) for i in range(len(runs)) for j in range(i + 1, len(runs))])
    parts[f"{labels.get(na, na)} vs {labels.get(nb, nb)}"] = _mean_pairs(
        [(x, y) for x in a for y in b])
    other = (np.random.default_rng(seed).permutation(n) if n > 1 else np.arange(n))
    other = np.where(other == np.arange(n), (other + 1) % n, other)  # never the same image
    parts["chance"] = _agreement(a[0][0], b[0][0][other], a[0][1], b[0][1][other])
    return pd.concat([df.assign(comparison=k, image=np.arange(n)) for k, df in parts.items()],
                     ignore_index=True)[["comparison", "image", "pearson", "iou"]]


def agreement_reference_table(df: pd.DataFrame) -> pd.DataFrame:
    """Per comparison: median Pearson, mean IoU with its 95 % CI, the images used (``n``) and
    those with a defined Pearson (``n_pearson``: no map in the comparison zero everywhere)."""
    rows = {}
    for comp, g in df.groupby("comparison", sort=False):
        m, low, high = mean_ci(g["iou"])
        rows[comp] = {"pearson_median": g["pearson"].median(), "iou_mean": m, "iou_low": low,
                      "iou_high": high, "n": len(g), "n_pearson": int(g["pearson"].notna().sum())}
    out = pd.DataFrame.from_dict(rows, orient="index")
    out.index.name = "comparison"
    return out


UNRELIABLE = 0.05  # share of images with an all-zero map above which agreement is unreliable
SLIGHT = 0.05  # IoU excess over chance below which "more than chance" is "only slightly"


def same_parts_answer(df: pd.DataFrame, explainer: str = "Grad-CAM") -> str:
    """The answer to "does the small model look at the same parts?" from ``reference_agreement``.

    Per image and paired: cross-model IoU against chance, and against each model's seeds. When
    more than ``UNRELIABLE`` of the images have an all-zero map in some comparison (Pearson
    undefined, IoU ties broken at random), the answer says the comparison is unreliable.
    """
    comps = list(dict.fromkeys(df["comparison"]))
    cross = next(c for c in comps if " vs " in c)
    within = [c for c in comps if c.endswith(" seeds")]
    iou = df.pivot(index="image", columns="comparison", values="iou")
    table = agreement_reference_table(df)
    t = table["iou_mean"]
    zero = (table["n"] - table["n_pearson"]).astype(int)
    if (zero / table["n"]).max() > UNRELIABLE:
        rows = ", ".join(f"{z} of {table.loc[c, 'n']} images for {c}" for c, z in zero.items() if z)
        return (f"The {explainer} rows are unreliable: at least one map is zero everywhere on "
                f"{rows}; there Pearson is undefined and the IoU breaks ties at random, pulling agreement "
                "towards chance.")
    above_chance = mean_ci(iou[cross] - iou["chance"])[1] > 0
    slightly = "only slightly " if t[cross] - t["chance"] < SLIGHT else ""
    cross_s = f"IoU of the top-20 % pixels {t[cross]:.2f}, chance {t['chance']:.2f}"
    if not within:
        return (f"With one seed per model in this profile, how far a model's own {explainer} maps "
                f"reproduce cannot be measured, so the cross-model agreement ({cross_s}) can only be "
                f"set against chance: it is {slightly + 'above' if above_chance else 'not above'} "
                "chance, which does not yet answer whether the models look at the same parts.")
    seeds = " and ".join(f"{c.removesuffix(' seeds')} {t[c]:.2f}" for c in within)
    noisy = [c.removesuffix(" seeds") for c in within if not mean_ci(iou[c] - iou["chance"])[1] > 0]
    if noisy:
        return (f"{explainer} cannot answer whether the models look at the same parts: two seeds "
                f"of {' and '.join(noisy)} agree no more than chance (seeds: {seeds}; {cross_s}), "
                "so its maps do not pin down where that model looks.")
    below = [c for c in within if mean_ci(iou[c] - iou[cross])[1] > 0]
    if not above_chance:
        return (f"No: by {explainer}, the two models' maps agree no more than maps of different "
                f"images ({cross_s}), while seeds of each model agree ({seeds}).")
    if not below:
        return (f"Yes, as far as {explainer} can tell: the two models' maps agree ({cross_s}) as "
                f"much as two seeds of the same model do ({seeds}).")
    return (f"Partly: by {explainer}, the two models' maps agree {slightly}more than chance "
            f"({cross_s}) but less than two seeds of the same model ({seeds}).")


_WORDS = ("no", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten")


def seeds_phrase(seeds: dict[str, int]) -> str:
    """E.g. "five seeds of each" or "Simple CNN: five seeds, LeNet-5: three seeds"."""
    def count(k: int) -> str:
        return f"{_WORDS[k] if k < len(_WORDS) else k} seed{'' if k == 1 else 's'}"
    if len(set(seeds.values())) == 1:
        return f"{count(next(iter(seeds.values())))} of each"
    return ", ".join(f"{name}: {count(k)}" for name, k in seeds.items())


def background_base_rate(X, threshold: float = 0.05, **stats) -> float:
    """Share of all pixels of the images ``X`` on the black background: what a map's
    ``background_share`` would be if its top pixels were placed at random."""
    X = _check_images(X)
    return float(background_share(X, np.ones((len(X), *X.shape[-2:])), top=1.0,
                                  threshold=threshold, **stats).mean())
