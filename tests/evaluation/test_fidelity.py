"""fmnist_lib.evaluation.fidelity: Spearman's rho against scipy, exact permutation p-values,
within-group pooling, and the check's table from stored runs."""
import itertools

import numpy as np
import pandas as pd
import pytest
from scipy.stats import spearmanr

from fmnist_lib.evaluation import fidelity as fd


@pytest.mark.parametrize("seed", range(4))
def test_rho_equals_scipy_spearman_with_and_without_ties(seed):
    rng = np.random.default_rng(seed)
    x, y = rng.random(7), rng.random(7)
    if seed % 2:
        x, y = np.round(x, 1), np.round(y, 1)  # ties: average ranks, as scipy
    assert fd.rank_correlation(x, y)["rho"] == pytest.approx(spearmanr(x, y).statistic, abs=1e-12)


def test_exact_p_value_counts_permutations():
    perfect = fd.rank_correlation([1, 2, 3, 4], [10, 20, 30, 40])
    assert perfect["rho"] == pytest.approx(1.0) and perfect["p_value"] == pytest.approx(1 / 24)
    assert perfect["exact"] == 1.0 and perfect["n"] == 4
    reverse = fd.rank_correlation([1, 2, 3, 4], [4, 3, 2, 1])
    assert reverse["rho"] == pytest.approx(-1.0) and reverse["p_value"] == 1.0
    x, y = [0.3, 0.1, 0.4, 0.2, 0.5], [0.2, 0.1, 0.5, 0.4, 0.3]
    rho = spearmanr(x, y).statistic
    brute = np.mean([spearmanr(x, np.array(y)[list(p)]).statistic >= rho - 1e-12
                     for p in itertools.permutations(range(5))])
    assert fd.rank_correlation(x, y)["p_value"] == pytest.approx(brute)


def test_groups_rank_within_each_and_permute_within_each():
    x = [1, 2, 3, 4, 101, 102, 103, 104]  # the second group sits higher: pooling raw values would
    y = [0.1, 0.2, 0.3, 0.4, 0.01, 0.02, 0.03, 0.04]  # mix the levels; within-group ranks do not
    r = fd.rank_correlation(x, y, groups=["a"] * 4 + ["b"] * 4)
    assert r["rho"] == pytest.approx(1.0) and r["p_value"] == pytest.approx(1 / 24 ** 2)
    assert spearmanr(x, y).statistic < 0.5  # the raw pooled correlation would mislead


def test_bad_input_raises():
    with pytest.raises(ValueError, match="length"):
        fd.rank_correlation([1, 2], [1, 2])
    with pytest.raises(ValueError, match="finite"):
        fd.rank_correlation([1, 2, np.nan], [1, 2, 3])


def run(seed, val):
    return {"seed": seed, "history": pd.DataFrame({"val_acc": [0.5, val]})}


def test_fidelity_check_joins_search_scores_and_full_recipe_runs():
    table = pd.DataFrame({"lr": [1e-2, 3e-3, 1e-3, 3e-2], "batch_size": 64, "weight_decay": 0.0,
                          "mean_cv_acc": [0.86, 0.85, 0.83, 0.84], "std_cv_acc": [0.004, 0.006, 0.002, 0.01],
                          "rank": [1, 2, 4, 3]})
    cfg = lambda lr: {"lr": lr, "batch_size": 64, "optimizer__weight_decay": 0.0}  # noqa: E731
    runs = {"simple": [("defaults", cfg(1e-3), [run(0, 0.88), run(1, 0.90)]),
                       ("best", cfg(1e-2), [run(0, 0.905), run(1, 0.903)]),
                       ("runner-up", cfg(3e-3), [run(0, 0.908)]),
                       ("middle of the ranking", cfg(3e-2), [run(0, 0.89)]),
                       ("best again", cfg(1e-2), [run(1, 0.903)])]}  # the same stored run twice
    out = fd.fidelity_check({"simple": table}, runs)
    t = out["table"].set_index("lr")
    assert len(t) == 4 and t.loc[1e-2, "role"] == "best = best again" and t.loc[1e-2, "seeds"] == 2
    assert t.loc[1e-3, "full_val_acc"] == pytest.approx(0.89) and t.loc[1e-3, "full_val_sd"] == pytest.approx(np.std([0.88, 0.9], ddof=1))
    assert np.isnan(t.loc[3e-3, "full_val_sd"]) and t.loc[3e-2, "search_rank"] == 3
    corr = out["correlation"].iloc[0]
    ref = spearmanr(t["search_mean"], t["full_val_acc"]).statistic
    assert corr["model"] == "Simple CNN" and corr["rho"] == pytest.approx(ref) and corr["n"] == 4
    with pytest.raises(ValueError, match="not in the search's table"):
        fd.fidelity_check({"simple": table}, {"simple": [("x", cfg(0.5), [run(0, 0.9)])]})
