"""The numbers that answer "do the two models look at the same parts?": where the cross-model
agreement lies between chance and how much each model agrees with itself (the words are
``paper.agreement_text``'s).

With ``c`` the chance agreement (maps of different images of the same class), ``x`` the
cross-model agreement and ``w_a``, ``w_b`` each model's agreement across its own seeds (all
means over the same images), the **position**

    (x - c) / sqrt((w_a - c) * (w_b - c))

is 0 at chance and 1 when the two models agree with each other as much as each agrees with
itself (the geometric mean is the noise ceiling of a correlation between two noisy
measurements: neither model's maps can agree with the other's better than they reproduce).
Its 95 % interval comes from resampling the images (paired: one draw serves every comparison).
Every mean is taken over the images where every comparison is defined
(``agreement.defined_images``), the images ``agreement.agreement_table`` averages too, so the
answer's numbers are the table's.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from .agreement import defined_images
from .faithfulness import mean_ci

__all__ = ["N_BOOT", "CHANCE", "agreement_position"]

N_BOOT = 2000
CHANCE = "same class, other image"


def _parts(df: pd.DataFrame) -> tuple[str, list[str]]:
    comps = list(dict.fromkeys(df["comparison"]))
    cross = [c for c in comps if " vs " in c and not c.endswith(" vs brightness")]
    if len(cross) != 1 or CHANCE not in comps:
        raise ValueError("df must come from saliency.agreement.reference_agreement (one cross-model "
                         f"comparison and {CHANCE!r}); got comparisons {comps}.")
    return cross[0], [c for c in comps if c.endswith(" seeds")]


def agreement_position(df: pd.DataFrame, metric: str = "spearman", n_boot: int = N_BOOT,
                       seed: int = 0) -> dict:
    """Where the cross-model agreement lies between chance (0) and self-agreement (1).

    Parameters
    ----------
    df : DataFrame
        ``saliency.agreement.reference_agreement``'s long table.
    metric : str
        One of its metric columns.

    Returns
    -------
    dict
        ``cross``, ``chance``, ``within`` (``{comparison: mean}``), means over the ``n`` images
        (of ``images``) where every comparison is defined; ``brightness``: per model, the mean
        agreement of its maps with the brightness and whether it is significantly above
        (``beats_cross``) or below (``below_cross``) the cross-model agreement (paired 95 % CI), and its
        ``position`` on the cross-model scale (when self-agreement lies above chance); ``position`` with ``low`` and ``high`` (95 % percentile
        bootstrap interval), NaN when a model has one seed; ``reproducible`` (each model's
        ``within - chance`` has its 95 % CI above 0), ``above_chance`` (same for ``x - c``).
    """
    cross, within = _parts(df)
    if metric not in df.columns:
        raise ValueError(f"No metric {metric!r}; the table has {list(df.columns[2:])}.")
    wide = df.pivot(index="image", columns="comparison", values=metric)
    bright = [c for c in dict.fromkeys(df["comparison"]) if c.endswith(" vs brightness")]
    total = len(wide)
    wide = wide.loc[defined_images(df, metric), [cross, CHANCE, *within, *bright]]
    if len(wide) < 2:
        raise ValueError(f"Fewer than two images have every {metric} defined.")
    v = wide[[cross, CHANCE, *within]].to_numpy()  # (n, 2 + len(within))
    means = v.mean(0)
    brightness = {}
    for c in bright:  # a model's maps against the image's brightness, paired with the cross value
        brightness[c] = {"mean": float(wide[c].mean()),
                         "beats_cross": mean_ci(wide[c] - wide[cross])[1] > 0,
                         "below_cross": mean_ci(wide[cross] - wide[c])[1] > 0}
    out = {"metric": metric, "n": len(v), "images": total, "brightness": brightness,
           "cross_name": cross, "cross": means[0],
           "chance": means[1], "within": dict(zip(within, means[2:])),
           "above_chance": mean_ci(v[:, 0] - v[:, 1])[1] > 0,
           "reproducible": all(mean_ci(v[:, j] - v[:, 1])[1] > 0 for j in range(2, v.shape[1]))}

    if not within:
        return {**out, "position": np.nan, "low": np.nan, "high": np.nan}

    def ceiling(m):  # self-agreement above chance: the geometric mean over the two models
        return (np.sqrt(np.clip(np.prod(m[..., 2:] - m[..., 1:2], axis=-1), 0, None))
                if len(within) == 2 else m[..., 2] - m[..., 1])

    def position(m):  # m: (..., columns) means
        with np.errstate(divide="ignore", invalid="ignore"):
            return (m[..., 0] - m[..., 1]) / ceiling(m)

    if ceiling(means) > 0:  # the brightness map on the same scale: its mean in the cross-model value's place
        for b in brightness.values():
            b["position"] = float(position(np.r_[b["mean"], means[1:]]))

    idx = np.random.default_rng(seed).integers(0, len(v), size=(n_boot, len(v)))
    boot = position(v[idx].mean(1))
    boot[~np.isfinite(boot)] = np.nan  # a resample with no self-agreement above chance
    low, high = np.nanpercentile(boot, [2.5, 97.5])
    return {**out, "position": float(position(means)), "low": float(low), "high": float(high)}
