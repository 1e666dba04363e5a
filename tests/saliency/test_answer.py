"""saliency.answer: the position between chance and self-agreement by hand, on the images the
agreement table averages (the words: tests/paper/test_agreement_text.py)."""
import numpy as np
import pandas as pd
import pytest

from fmnist_lib.saliency.agreement import agreement_table
from fmnist_lib.saliency.answer import agreement_position

COMPS = ["Simple CNN seeds", "LeNet-5 seeds", "Simple CNN vs LeNet-5", "same class, other image",
         "Simple CNN vs brightness", "LeNet-5 vs brightness"]


def table(values, n=200, noise=0.05, seed=0, nan=None) -> pd.DataFrame:
    """A reference_agreement-shaped table: per comparison, value + noise per image; ``nan``:
    ``{comparison: images}``, the positions made undefined."""
    rng = np.random.default_rng(seed)
    rows = []
    for c, v0 in zip(COMPS, values):
        v = v0 + noise * rng.standard_normal(n)
        v[list((nan or {}).get(c, []))] = np.nan
        rows.append(pd.DataFrame({"comparison": c, "image": np.arange(n), "spearman": v}))
    return pd.concat(rows, ignore_index=True)


def test_position_by_hand():
    p = agreement_position(table([0.6, 0.5, 0.4, 0.2, 0.1, 0.1], noise=0.0))
    assert p["position"] == pytest.approx((0.4 - 0.2) / np.sqrt(0.4 * 0.3))
    assert p["n"] == p["images"] == 200 and p["reproducible"] and p["above_chance"]
    noisy = agreement_position(table([0.6, 0.5, 0.4, 0.2, 0.1, 0.1]))
    assert noisy["low"] < noisy["position"] < noisy["high"]


def test_position_and_table_average_the_same_images():
    """Undefined values scattered over different comparisons (the brightness included): the
    position's means and the table's are the same numbers, over the images where every
    comparison is defined; an image dropped from one comparison leaves every row."""
    holes = {"Simple CNN seeds": range(0, 20), "Simple CNN vs LeNet-5": range(10, 30),
             "LeNet-5 vs brightness": range(40, 45)}
    df = table([0.6, 0.5, 0.4, 0.2, 0.3, 0.25], nan=holes)
    p, t = agreement_position(df), agreement_table(df)
    keep = np.setdiff1d(np.arange(200), np.r_[0:30, 40:45])
    assert p["n"] == len(keep) == 165 and p["images"] == 200
    assert t[("spearman", "n")].eq(165).all() and t[("spearman", "excluded")].eq(35).all()
    by_hand = df[df["image"].isin(keep)].groupby("comparison")["spearman"].mean()
    assert p["cross"] == pytest.approx(by_hand["Simple CNN vs LeNet-5"])
    assert p["chance"] == pytest.approx(by_hand["same class, other image"])
    assert p["within"]["Simple CNN seeds"] == pytest.approx(by_hand["Simple CNN seeds"])
    assert p["brightness"]["LeNet-5 vs brightness"]["mean"] == pytest.approx(by_hand["LeNet-5 vs brightness"])
    for c in COMPS:
        assert t.loc[c, ("spearman", "mean")] == pytest.approx(by_hand[c])
    # the image-wise mean over all defined values would differ: the subset matters here
    assert df[df["comparison"] == "Simple CNN seeds"]["spearman"].mean() != pytest.approx(by_hand["Simple CNN seeds"], abs=1e-9)


def test_position_needs_the_reference_comparisons():
    single = table([0.6, 0.5, 0.4, 0.2, 0.1, 0.1])
    with pytest.raises(ValueError, match="reference_agreement"):
        agreement_position(single[single["comparison"] != "same class, other image"])
    with pytest.raises(ValueError, match="No metric 'top5'"):
        agreement_position(single, "top5")
