"""saliency.foreground: the silhouette from the raw zeros, mass shares by hand (the sentence:
tests/paper/test_saliency_text.py)."""
import numpy as np
import pytest
import torch

from fmnist_lib.saliency.foreground import (foreground_shares, foreground_table, frame_mask, mass_share, silhouette)

STATS = dict(mean=0.286, std=0.353)


def images():
    raw = np.zeros((2, 1, 28, 28))
    raw[:, :, 7:21, 7:21] = 0.8  # a 14 x 14 garment: 25 % of the image
    raw[1, 0, 7, 7] = 1 / 255  # the darkest non-black pixel still belongs to it
    return torch.tensor((raw - STATS["mean"]) / STATS["std"], dtype=torch.float32)


def test_silhouette_and_mass_share():
    fg = silhouette(images(), **STATS)
    assert fg[0].sum() == 196 and fg[1].sum() == 196 and not fg[:, 0, 0].any()
    on, off = np.zeros((28, 28)), np.ones((28, 28))
    on[7:21, 7:21], off[7:21, 7:21] = 2.0, 0.0
    half = np.ones((28, 28))
    shares = mass_share(np.stack([on, off, half, np.zeros((28, 28))]), fg[[0, 0, 0, 0]])
    assert np.allclose(shares[:3], [1.0, 0.0, 0.25]) and np.isnan(shares[3])
    assert frame_mask((28, 28)).sum() == 108
    with pytest.raises(ValueError, match="non-negative"):
        mass_share(-np.ones((1, 28, 28)), fg[:1])


def test_foreground_table_counts_empty_maps():
    X = images()
    on = np.zeros((2, 28, 28))
    on[:, 7:21, 7:21] = 1.0
    shares = foreground_shares(X, {"a": on, "b": np.stack([np.ones((28, 28)), np.zeros((28, 28))])},
                               **STATS)
    t = foreground_table(shares).set_index("maps")
    assert t.loc["a", "on silhouette"] == 1.0 and t.loc["a", "silhouette area"] == 0.25
    assert t.loc["b", "n"] == 1 and t.loc["b", "no mass"] == 1
    assert t.loc["b", "on silhouette"] == pytest.approx(0.25)
    assert t.loc["b", "on frame"] == pytest.approx(108 / 784) == t.loc["b", "frame area"]
