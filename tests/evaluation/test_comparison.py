"""fmnist_lib.evaluation.comparison: the paired effect of tuning, on synthetic runs."""
import numpy as np
import pandas as pd
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


# --- compare: every statistic wired to the right runs, replicates and seed (issue 25) -------
# Small synthetic runs (60 test and 40 validation images, two seeds, no training). Each part of
# `compare`'s result is worked again here: point values by numpy, scipy or scikit-learn, and
# the bootstrap intervals by plain-loop replays of the documented resampling at the documented
# replicates and seed (so a part computed from the wrong runs, models, replicates or seed fails).
# Calibration alone is compared with `calibration_table` / `calibration_by_seed` called as
# documented: those are pinned to scikit-learn and a grid search in test_calibration.py.

N_TEST, N_VAL, SEEDS = 120, 40, 2  # 12 images a class: a bootstrap draw keeps every class


def _softmax(z):
    e = np.exp(z - z.max(1, keepdims=True))
    return e / e.sum(1, keepdims=True)


def compare_fixture():
    rng = np.random.default_rng(11)
    y, y_val = rng.permutation(np.arange(N_TEST) % 10), rng.permutation(np.arange(N_VAL) % 10)

    def one(signal):
        zv, zt = rng.normal(size=(N_VAL, 10)), rng.normal(size=(N_TEST, 10))
        zv[np.arange(N_VAL), y_val] += signal
        zt[np.arange(N_TEST), y] += signal
        return {"val_logits": 2.5 * zv, "test_logits": 2.5 * zt, "test_proba": _softmax(2.5 * zt)}

    base = {"simple": [one(1.0) for _ in range(SEEDS)], "lenet": [one(1.3) for _ in range(SEEDS)]}
    finals = {"simple": [one(1.6) for _ in range(SEEDS)], "lenet": [one(2.2) for _ in range(SEEDS)]}
    return y, y_val, base, finals


def _right(y, runs):
    return np.stack([r["test_proba"].argmax(1) == y for r in runs]).astype(float)  # (S, n)


def _ensemble_replay(y, pa, pb, n_boot, seed):
    """Per replicate: each model's seeds drawn independently (a seed drawn twice counts twice),
    its ensemble their mean probability, then one image draw shared by both models."""
    rng = np.random.default_rng(seed)
    S, n = len(pa), len(y)
    reps = []
    for _ in range(n_boot):
        ea = np.mean([pa[s] for s in rng.integers(0, S, S)], 0).argmax(1) == y
        eb = np.mean([pb[s] for s in rng.integers(0, S, S)], 0).argmax(1) == y
        i = rng.integers(0, n, n)
        reps.append(eb[i].mean() - ea[i].mean())
    return np.array(reps)


def _confusions_expected(y, pa, pb, n_boot, seed):
    from test_equivalence import replay_two_level

    from fmnist_lib.evaluation.perclass import CLASSES

    preds_a, preds_b = (np.stack([p.argmax(1) for p in ps]) for ps in (pa, pb))
    rows = []
    for i in range(10):
        m = y == i
        for j in set(range(10)) - {i}:
            ca, cb = (preds_a[:, m] == j).astype(float), (preds_b[:, m] == j).astype(float)
            lo, hi = np.quantile(replay_two_level(cb - ca, n_boot, seed + i, 200), [0.025, 0.975])
            rows.append((CLASSES[i], CLASSES[j], ca.mean(), cb.mean(), (cb - ca).mean(), lo, hi))
    rows.sort(key=lambda r: -abs(r[4]))  # Python's sort is stable: ties keep the class order
    return rows


def _check_equivalence(got, y, runs_a, runs_b, margin, n_boot, seed):
    from test_equivalence import replay_two_level

    from fmnist_lib.evaluation.equivalence import tost_verdict

    d = _right(y, runs_b) - _right(y, runs_a)
    q = np.quantile(replay_two_level(d, n_boot, seed, 200), [0.05, 0.95, 0.025, 0.975])
    want = {"diff": d.mean(), "ci90_low": q[0], "ci90_high": q[1], "ci95_low": q[2], "ci95_high": q[3],
            "margin": margin, "verdict": tost_verdict(q[0], q[1], margin), "seeds": SEEDS, "n": N_TEST}
    assert got == pytest.approx(want, abs=1e-6)  # the bootstrap sums in float32


def test_compare_computes_every_part_from_the_documented_runs_replicates_and_seed():
    from scipy.stats import binomtest
    from test_equivalence import replay_two_level

    from fmnist_lib.evaluation.calibration import calibration_by_seed, calibration_table
    from fmnist_lib.evaluation.equivalence import tost_verdict
    from fmnist_lib.evaluation.perclass import CLASSES
    from fmnist_lib.models import DISPLAY_NAMES

    y, y_val, base, finals = compare_fixture()
    margin, n_boot, seed = 0.05, 300, 7  # neither the functions' default replicates nor seed
    out = comparison.compare(y, y_val, base, finals, margin, n_boot, seed)
    assert set(out) == {"equivalence", "equivalence_default", "ensemble", "accuracy", "tuning", "mcnemar",
                        "calibration", "calibration_seeds", "class_errors", "confusions", "auc"}
    names = {"simple": "Simple CNN", "lenet": "LeNet-5"}
    p = {n: [r["test_proba"] for r in finals[n]] for n in names}
    # the fixture separates what a wrong wiring would mix up
    assert _right(y, finals["lenet"]).mean() > _right(y, finals["simple"]).mean() > _right(y, base["simple"]).mean()
    assert not np.allclose(np.quantile(replay_two_level(_right(y, finals["simple"]), n_boot, seed, 200), [0.025, 0.975]),
                           np.quantile(replay_two_level(_right(y, finals["simple"]), n_boot, 0, 200), [0.025, 0.975]))

    # LeNet-5 minus the simple CNN: tuned runs, then the baseline runs
    _check_equivalence(out["equivalence"], y, finals["simple"], finals["lenet"], margin, n_boot, seed)
    _check_equivalence(out["equivalence_default"], y, base["simple"], base["lenet"], margin, n_boot, seed)

    # the two seed ensembles of the tuned runs
    ens = _ensemble_replay(y, p["simple"], p["lenet"], n_boot, seed)
    full = [np.mean(p[n], 0).argmax(1) == y for n in ("simple", "lenet")]
    q = np.quantile(ens, [0.05, 0.95, 0.025, 0.975])
    assert out["ensemble"] == pytest.approx({
        "diff": full[1].mean() - full[0].mean(), "ci90_low": q[0], "ci90_high": q[1], "ci95_low": q[2],
        "ci95_high": q[3], "margin": margin, "verdict": tost_verdict(q[0], q[1], margin), "seeds": SEEDS, "n": N_TEST}, abs=1e-12)

    # the accuracy table of the tuned runs, by the display names
    acc = out["accuracy"]
    assert list(acc["model"]) == ["Simple CNN", "LeNet-5"] and list(acc["seeds"]) == [SEEDS, SEEDS]
    for row, n in zip(acc.to_dict("records"), names):
        c = _right(y, finals[n])
        lo, hi = np.quantile(replay_two_level(c, n_boot, seed, 200), [0.025, 0.975])
        assert row["mean accuracy"] == f"{c.mean():.4f}"
        assert row["95 % CI (seeds and images)"] == f"[{lo:.4f}, {hi:.4f}]"
        assert row["ensemble accuracy"] == f"{(np.mean(p[n], 0).argmax(1) == y).mean():.4f}"

    # the effect of tuning: each tuned run minus its own seed's default run
    tuning = out["tuning"].set_index("model")
    for n, label in names.items():
        d = _right(y, finals[n]) - _right(y, base[n])
        lo, hi = np.quantile(replay_two_level(d, n_boot, seed, 200), [0.025, 0.975])
        assert tuning.loc[label].to_dict() == pytest.approx({
            "default": _right(y, base[n]).mean(), "tuned": _right(y, finals[n]).mean(),
            "difference": d.mean(), "low": lo, "high": hi}, abs=1e-6)

    # McNemar on every pair of tuned runs, by scipy
    pred = {names[n]: [q.argmax(1) for q in p[n]] for n in names}
    pairs = [("between models", ("Simple CNN", i), ("LeNet-5", j)) for i in range(SEEDS) for j in range(SEEDS)]
    pairs += [("within Simple CNN", ("Simple CNN", 0), ("Simple CNN", 1)), ("within LeNet-5", ("LeNet-5", 0), ("LeNet-5", 1))]
    rows = []
    for kind, (na, i), (nb, j) in pairs:
        ra, rb = pred[na][i] == y, pred[nb][j] == y
        b, c = int((ra & ~rb).sum()), int((~ra & rb).sum())
        rows.append({"kind": kind, "a": f"{na}/{i}", "b": f"{nb}/{j}", "a_only": b, "b_only": c,
                     "pvalue": binomtest(b, b + c, 0.5).pvalue if b + c else 1.0})
    pd.testing.assert_frame_equal(out["mcnemar"], pd.DataFrame(rows), check_dtype=False)

    # calibration: fitted on the validation split, scored on the test split, display names
    pd.testing.assert_frame_equal(out["calibration"], calibration_table(y_val, y, finals, DISPLAY_NAMES))
    pd.testing.assert_frame_equal(out["calibration_seeds"], calibration_by_seed(y_val, y, finals, DISPLAY_NAMES))
    assert set(out["calibration_seeds"]["model"]) == {"Simple CNN", "LeNet-5"}

    # per-class error rates, LeNet-5 minus the simple CNN, a replay per class at seed + class
    errors = out["class_errors"]
    assert list(errors["class"]) == list(CLASSES)
    pa, pb = (np.stack([q.argmax(1) for q in p[n]]) for n in names)
    for k, row in enumerate(errors.to_dict("records")):
        m = y == k
        ea, eb = (pa[:, m] != k).astype(float), (pb[:, m] != k).astype(float)
        q = np.quantile(replay_two_level(eb - ea, n_boot, seed + k, 200), [0.025, 0.975, 0.0025, 0.9975])
        assert (row["error_a"], row["error_b"], row["difference"], row["low"], row["high"], row["low_bonf"],
                row["high_bonf"]) == pytest.approx((ea.mean(), eb.mean(), (eb - ea).mean(), *q), abs=1e-6)

    # confusions and AUC: max(200, n_boot // 2) = 200 replicates here
    _check_confusions_and_auc(out, y, p, 200, seed)


def _check_confusions_and_auc(out, y, p, n_boot, seed):
    from sklearn.metrics import roc_auc_score
    from test_auc_bootstrap import replay_auc_differences

    from fmnist_lib.evaluation.perclass import CLASSES

    want = _confusions_expected(y, p["simple"], p["lenet"], n_boot, seed)
    got = out["confusions"]
    assert len(got) == 90
    cols = ["true", "predicted", "rate_a", "rate_b", "difference", "low", "high"]
    for row, w in zip(got[cols].itertuples(index=False), want):
        assert row[:2] == w[:2] and row[2:] == pytest.approx(w[2:], abs=1e-6)

    auc = out["auc"].set_index("class").loc[list(CLASSES)]
    diffs = replay_auc_differences(y, p["simple"], p["lenet"], n_boot, seed, 100)  # auc_differences' chunk
    for col, q in (("low", 0.025), ("high", 0.975)):
        np.testing.assert_allclose(auc[col], np.quantile(diffs, q, axis=0), atol=1e-9, err_msg=col)
    for k, c in enumerate(CLASSES):
        a, b = (np.mean([roc_auc_score(y == k, q[:, k]) for q in p[n]]) for n in ("simple", "lenet"))
        assert (auc.loc[c, "Simple CNN"], auc.loc[c, "LeNet-5"]) == pytest.approx((a, b), abs=1e-12)


def test_compare_takes_half_the_replicates_for_confusions_and_auc_above_400():
    """max(200, n_boot // 2): 420 replicates give 210 for the confusions and the AUC intervals."""
    y, y_val, base, finals = compare_fixture()
    out = comparison.compare(y, y_val, base, finals, 0.05, 420, 3)
    p = {n: [r["test_proba"] for r in finals[n]] for n in ("simple", "lenet")}
    _check_confusions_and_auc(out, y, p, 210, 3)
