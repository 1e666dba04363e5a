"""fmnist_lib.evaluation.comparison: the paired effect of tuning, on synthetic runs."""
import numpy as np
import pytest
from synthetic import run

from fmnist_lib.evaluation import comparison


def test_tuning_effect_is_the_paired_mean_difference():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 10, 2000)
    base = {n: [run(y, 0.80, rng) for _ in range(3)] for n in ("simple", "lenet")}
    tuned = {"simple": [run(y, 0.90, rng) for _ in range(3)], "lenet": [dict(r) for r in base["lenet"]]}
    table = comparison._tuning_effect(y, base, tuned, n_boot=300, seed=0).set_index("model")
    acc = lambda r: (r["test_proba"].argmax(1) == y).mean()  # noqa: E731
    simple = table.loc["Simple CNN"]
    assert simple["difference"] == pytest.approx(np.mean([acc(t) - acc(b) for b, t in zip(base["simple"], tuned["simple"])]))
    assert simple["low"] > 0.05 and simple["low"] < simple["difference"] < simple["high"]
    lenet = table.loc["LeNet-5"]  # the same runs: no effect, an interval of zero width
    assert lenet["difference"] == lenet["low"] == lenet["high"] == 0


def loop_bootstrap(values, n_boot, seed):
    """Plain-loop two-level bootstrap: one image draw shared by every seed, then the seeds."""
    rng = np.random.default_rng(seed)
    S, n = values.shape
    return np.array([values[rng.integers(0, S, S)][:, rng.integers(0, n, n)].mean() for _ in range(n_boot)])


def test_tuning_effect_is_paired_by_seed_on_a_small_effect():
    """Tuning fixes a few images each seed gets wrong: +0.4 pp, detectable only when each tuned
    run is paired with its own seed's default run on the same images."""
    rng = np.random.default_rng(5)
    n = 3000
    y = rng.integers(0, 10, n)
    base, tuned = [], []
    for s in range(3):
        wrong = rng.random(n) < 0.10 + 0.03 * s  # seeds differ by far more than the effect
        fixed = wrong & (rng.random(n) < 0.004 / (0.10 + 0.03 * s))
        for runs, w in ((base, wrong), (tuned, wrong & ~fixed)):
            runs.append({"test_proba": np.eye(10)[np.where(w, (y + 1) % 10, y)]})
    base_d = {"simple": base, "lenet": base}
    fin = {"simple": tuned, "lenet": [dict(r) for r in reversed(tuned)]}  # lenet: seeds mismatched
    table = comparison._tuning_effect(y, base_d, fin, n_boot=2000, seed=0).set_index("model")
    right = lambda runs: np.stack([(r["test_proba"].argmax(1) == y) for r in runs]).astype(float)  # noqa: E731
    d = right(tuned) - right(base)
    ref = np.quantile(loop_bootstrap(d, 2000, 1), [0.025, 0.975])
    row = table.loc["Simple CNN"]
    width = ref[1] - ref[0]
    assert ref[0] > 0 and abs(row["low"] - ref[0]) < 0.08 * width and abs(row["high"] - ref[1]) < 0.08 * width
    assert row["difference"] == pytest.approx(d.mean()) and 0.003 < row["difference"] < 0.006
    assert row["default"] == pytest.approx(right(base).mean(1).mean())
    assert row["tuned"] == pytest.approx(right(tuned).mean(1).mean())
    assert row["tuned"] - row["default"] == pytest.approx(row["difference"])
    # pairing each tuned run with another seed's default run hides the same effect in seed noise
    mismatched = table.loc["LeNet-5"]
    assert mismatched["low"] < 0 < mismatched["high"]


def test_tuning_effect_passes_its_seed_to_the_bootstrap():
    from test_equivalence import replay_two_level  # the documented resampling, by a plain loop

    rng = np.random.default_rng(1)
    y = rng.integers(0, 10, 60)
    base = {n: [run(y, 0.7, rng) for _ in range(2)] for n in ("simple", "lenet")}
    tuned = {n: [run(y, 0.8, rng) for _ in range(2)] for n in ("simple", "lenet")}
    table = comparison._tuning_effect(y, base, tuned, n_boot=300, seed=6).set_index("model")
    for name, label in (("simple", "Simple CNN"), ("lenet", "LeNet-5")):
        d = np.stack([(t["test_proba"].argmax(1) == y).astype(float) - (b["test_proba"].argmax(1) == y)
                      for b, t in zip(base[name], tuned[name])])
        want = np.quantile(replay_two_level(d, 300, 6, 200), [0.025, 0.975])
        assert not np.allclose(want, np.quantile(replay_two_level(d, 300, 0, 200), [0.025, 0.975]))
        np.testing.assert_allclose(table.loc[label, ["low", "high"]].to_numpy(float), want, atol=1e-6)
