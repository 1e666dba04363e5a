"""fmnist_lib.tuning.grid_search: the skorch classifier, its iterator, grid validation, the search
(serial, joblib, Dask), divergence handling, and the search's tables and figures."""
import dataclasses
import warnings

import numpy as np
import pandas as pd
import pytest
import torch
from skorch import NeuralNetClassifier
from skorch.dataset import Dataset
from sklearn.exceptions import FitFailedWarning
from sklearn.model_selection import GridSearchCV

from fmnist_lib import config
from fmnist_lib.tuning import grid_search as tuning
from fmnist_lib.paper import tuning_plots
from fmnist_lib.config import get_profile
from fmnist_lib.models import LeNet5, SimpleCNN

COLUMNS = ["lr", "batch_size", "weight_decay", "mean_cv_acc", "std_cv_acc", "mean_fit_time",
           "rank", "failed"]
SPLIT_COLUMNS = [f"split{i}_acc" for i in range(3)]
TINY = dict(grid_subset=600, grid_epochs=1, n_jobs=1,
            grid={"lr": [1e-3, 3e-3], "batch_size": [64], "optimizer__weight_decay": [0.0]})


def tiny_profile(**changes) -> config.Profile:
    return dataclasses.replace(get_profile("quick"), **{**TINY, **changes})


def learnable(n: int = 200, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Noise images whose class sets the brightness of one 4x4 block: a model can learn it."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 10
    X = rng.normal(size=(n, 1, 28, 28)).astype(np.float32)
    for c in range(10):
        X[y == c, 0, 2 * c:2 * c + 4, 4:8] += 3.0
    return X, y.astype(np.int64)


def split(n: int) -> np.ndarray:
    """PredefinedSplit's test_fold: the first 60 % train (-1), the rest is scored (0)."""
    return np.where(np.arange(n) < int(0.6 * n), -1, 0)


def stable(table: pd.DataFrame) -> pd.DataFrame:
    return table.drop(columns="mean_fit_time")  # timings are the one thing allowed to differ


# ---------------------------------------------------------------- the grid, one for both models


def test_one_grid_for_both_models_and_both_profiles(monkeypatch):
    assert get_profile("full").grid is config.PARAM_GRID
    assert [len(v) for v in config.PARAM_GRID.values()] == [4, 1, 4]
    assert set(get_profile("quick").grid) == set(config.PARAM_GRID)
    assert np.prod([len(v) for v in get_profile("quick").grid.values()]) <= 4
    seen = []

    class Stop(Exception):
        pass

    def spy(estimator, param_grid, **kwargs):
        seen.append(param_grid)
        raise Stop

    monkeypatch.setattr(tuning, "GridSearchCV", spy)
    X, y = learnable(40)
    for cls in (SimpleCNN, LeNet5):
        with pytest.raises(Stop):
            tuning.run_grid_search(cls, "full", X=X, y=y, test_fold=split(40))
    assert seen[0] is seen[1] is config.PARAM_GRID


# ---------------------------------------------------------------- classifier and iterator


@pytest.mark.parametrize("cls", [SimpleCNN, LeNet5])
def test_make_classifier_uses_our_iterator_and_no_internal_split(cls):
    X, y = learnable(64)
    net = tuning.make_classifier(cls, max_epochs=1, device="cpu", lr=3e-3, optimizer__weight_decay=1e-4)
    assert isinstance(net, NeuralNetClassifier)
    assert net.iterator_train is tuning.TensorBatches and net.iterator_valid is tuning.TensorBatches
    assert net.train_split is None and net.criterion is torch.nn.CrossEntropyLoss
    assert net.optimizer is torch.optim.AdamW  # decoupled weight decay, as fit() uses
    net.fit(X, y)
    assert isinstance(net.get_iterator(Dataset(X, y), training=True), tuning.TensorBatches)
    assert net.optimizer_.param_groups[0]["weight_decay"] == 1e-4
    assert "valid_loss" not in net.history[-1]  # nothing was held out inside skorch
    proba = net.predict_proba(X)
    assert proba.shape == (64, 10)
    np.testing.assert_allclose(proba.sum(1), 1.0, rtol=1e-5)
    np.testing.assert_array_equal(proba.argmax(1), net.predict(X))


def test_classifier_seed_fixes_weights_and_batch_order():
    X, y = learnable(64)

    def weights(seed):
        net = tuning.make_classifier(SimpleCNN, seed=seed, max_epochs=2, device="cpu").fit(X, y)
        return torch.cat([p.detach().flatten() for p in net.module_.parameters()])

    torch.manual_seed(123)  # global state must not matter: each fit seeds itself
    a = weights(0)
    torch.manual_seed(456)
    assert torch.equal(a, weights(0))
    assert not torch.equal(a, weights(1))


def test_tensor_batches_match_skorch_default_and_shuffle_reproducibly():
    X, y = learnable(70)
    dataset = Dataset(X, y)
    default = NeuralNetClassifier(SimpleCNN, batch_size=16).get_iterator(dataset, training=False)
    ours = tuning.TensorBatches(dataset, 16)
    assert len(ours) == len(default) == 5
    for (xa, ya), (xb, yb) in zip(default, ours, strict=True):  # the trusted reference
        assert torch.equal(xa, xb) and torch.equal(ya, yb)
    shuffled = tuning.TensorBatches(dataset, 16, shuffle=True, seed=3)
    first = torch.cat([b[1] for b in shuffled])
    second = torch.cat([b[1] for b in shuffled])
    assert sorted(first.tolist()) == sorted(y.tolist())  # every item once per epoch
    assert not torch.equal(first, second)  # a new order each epoch ...
    again = tuning.TensorBatches(dataset, 16, shuffle=True, seed=3)
    assert torch.equal(first, torch.cat([b[1] for b in again]))  # ... reproducibly from the seed
    assert all(b[1] is None for b in tuning.TensorBatches(Dataset(X, None), 32))
    assert not X.flags.writeable or np.array_equal(X, learnable(70)[0])  # input not mutated


# ---------------------------------------------------------------- bad input


@pytest.mark.parametrize("grid, match", [
    ({}, "non-empty"),
    ({"momentum": [0.9]}, "Unknown grid key"),
    ({"lr": [1e-3], "module__width": [8]}, "Unknown grid key"),
    ({"lr": []}, "non-empty list"),
    ({"lr": 1e-3}, "non-empty list"),
    ({"lr": [1e-3, 0.0]}, "'lr'"),
    ({"lr": [-1e-3]}, "'lr'"),
    ({"lr": [float("nan")]}, "'lr'"),
    ({"batch_size": [0]}, "'batch_size'"),
    ({"batch_size": [-32]}, "'batch_size'"),
    ({"batch_size": [32.5]}, "'batch_size'"),
    ({"optimizer__weight_decay": [-1e-4]}, "'optimizer__weight_decay'"),
])
def test_bad_grid_raises_before_any_training(monkeypatch, grid, match):
    def no_fit(*args, **kwargs):
        raise AssertionError("training started before the grid was validated")

    monkeypatch.setattr(NeuralNetClassifier, "fit", no_fit)
    monkeypatch.setattr(GridSearchCV, "fit", no_fit)
    monkeypatch.setattr(tuning, "search_data", no_fit)
    with pytest.raises(ValueError, match=match):
        tuning.validate_param_grid(grid)
    with pytest.raises(ValueError, match=match):
        tuning.run_grid_search(SimpleCNN, "quick", param_grid=grid)


def test_valid_grids_pass_validation():
    tuning.validate_param_grid(config.PARAM_GRID)
    tuning.validate_param_grid({"lr": [1e-3], "batch_size": [np.int64(32)]})


# ---------------------------------------------------------------- the search


def test_search_table_is_tidy_and_reproducible():
    X, y = learnable(200)
    p = tiny_profile(grid={"lr": [1e-3, 1e-2], "batch_size": [32],
                           "optimizer__weight_decay": [0.0, 1e-3]})
    table, best = tuning.run_grid_search(SimpleCNN, p, X=X, y=y, test_fold=split(200))
    assert list(table.columns) == COLUMNS + ["split0_acc"] and len(table) == 4
    assert table["failed"].dtype == bool and not table["failed"].any()
    assert table["rank"].iloc[0] == 1 and table["mean_cv_acc"].iloc[0] == table["mean_cv_acc"].max()
    assert table["rank"].is_monotonic_increasing
    top = table.iloc[0]
    assert best == {"lr": top.lr, "batch_size": top.batch_size, "optimizer__weight_decay": top.weight_decay}
    assert all(type(v) in (int, float) for v in best.values())  # JSON-able
    again, best_again = tuning.run_grid_search(SimpleCNN, p, X=X, y=y, test_fold=split(200))
    pd.testing.assert_frame_equal(stable(table), stable(again))
    assert best == best_again


def test_divergent_configuration_is_flagged_and_the_search_goes_on():
    X, y = learnable(200)  # enough steps to blow up at any initialisation
    p = tiny_profile(grid={"lr": [1e-3, 1e9], "batch_size": [32], "optimizer__weight_decay": [0.0]})
    with warnings.catch_warnings():
        warnings.simplefilter("error", FitFailedWarning)  # sklearn's own warning stays quiet
        with pytest.warns(UserWarning, match=r"1 of 2 configurations .*\(diverged\)"):
            table, best = tuning.run_grid_search(LeNet5, p, X=X, y=y, test_fold=split(200))
    bad, good = table.set_index("lr").loc[1e9], table.set_index("lr").loc[1e-3]
    assert bad.failed and np.isnan(bad.mean_cv_acc) and bad["rank"] == 2
    assert not good.failed and np.isfinite(good.mean_cv_acc) and good["rank"] == 1
    assert best["lr"] == 1e-3


def test_stop_on_divergence_raises_on_a_non_finite_loss():
    net = tuning.make_classifier(LeNet5, device="cpu", lr=1e6, max_epochs=3)
    with pytest.raises(FloatingPointError, match="diverged"):
        net.fit(*learnable(120))


@pytest.mark.realdata
def test_tiny_real_search_trains_on_train_and_scores_on_validation(monkeypatch):
    from fmnist_lib import data

    seen = {}
    real_get_arrays = data.get_arrays

    class NoTest(dict):
        def __getitem__(self, key):
            if key == "test":
                raise AssertionError("the search read the test split")
            return super().__getitem__(key)

    def guarded(**kwargs):
        arrays = real_get_arrays(**kwargs)
        seen.update(train=arrays["train"][0], val=arrays["val"][0])
        return NoTest(arrays)

    monkeypatch.setattr(tuning, "get_arrays", guarded)
    fitted = {}
    real_fit = GridSearchCV.fit

    def spy_fit(self, X, y=None, **kwargs):
        fitted["X"], fitted["y"], fitted["cv"] = X, y, self.cv
        return real_fit(self, X, y, **kwargs)

    monkeypatch.setattr(GridSearchCV, "fit", spy_fit)
    table, best = tuning.run_grid_search(SimpleCNN, tiny_profile())
    assert list(table.columns) == COLUMNS + SPLIT_COLUMNS and len(table) == 2
    assert table["rank"].tolist() == [1, 2] and table["mean_cv_acc"].iloc[0] >= table["mean_cv_acc"].iloc[1]
    assert table["mean_cv_acc"].iloc[0] > 0.3  # well above chance (0.1) after one epoch
    scores = table[SPLIT_COLUMNS].to_numpy()
    np.testing.assert_allclose(table["mean_cv_acc"], scores.mean(1))
    np.testing.assert_allclose(table["std_cv_acc"], scores.std(1, ddof=1))  # the sample sd, not numpy's default
    X, splits = fitted["X"], fitted["cv"]
    n_val = len(seen["val"])
    assert X.shape == (3 * 600 + n_val, 1, 28, 28) and len(splits) == 3
    trains = [set(tr.tolist()) for tr, _ in splits]
    assert all(len(t) == 600 for t in trains) and not (trains[0] & trains[1] or trains[0] & trains[2] or trains[1] & trains[2])
    for tr, va in splits:
        assert np.bincount(fitted["y"][tr]).tolist() == [60] * 10  # stratified
        assert np.array_equal(va, splits[0][1]) and len(va) == n_val  # one shared validation split
    train, val = ({row.tobytes() for row in seen[k]} for k in ("train", "val"))
    assert all(row.tobytes() in train for tr, _ in splits for row in X[tr])
    assert all(row.tobytes() in val for row in X[splits[0][1]])  # scored on held-out training images


@pytest.mark.realdata
def test_search_data_refuses_more_splits_than_the_training_split_holds():
    with pytest.raises(ValueError, match="search splits .* need"):
        tuning.search_data(tiny_profile(subset=1000, grid_subset=400))  # 3 x 400 > 900


def test_split_seed_differs_between_splits_and_not_between_processes():
    y = np.arange(60) % 10
    assert tuning.split_seed(0, y) == tuning.split_seed(0, y.copy())
    assert tuning.split_seed(0, y) != tuning.split_seed(0, y[::-1]) != tuning.split_seed(1, y)
    assert 0 <= tuning.split_seed(7, y) < 2**31 - 1


def test_split_seeded_fits_share_weights_within_a_split_and_differ_across_splits():
    X, y = learnable(120)

    def start(Xs, ys):  # initial weights (lr 1e-9: one step barely moves them) and the split seed
        net = tuning.make_classifier(SimpleCNN, max_epochs=1, device="cpu", split_seeded=True, lr=1e-9)
        net.fit(Xs, ys)
        return torch.cat([p.detach().flatten() for p in net.module_.parameters()]), net.split_seed_

    a, sa = start(X[:60], y[:60])
    b, sb = start(X[:60], y[:60])
    c, sc = start(X[60:], y[60:][::-1].copy())
    assert torch.equal(a, b) and sa == sb  # every configuration of one split starts alike
    assert not torch.equal(a, c) and sa != sc  # another split: other weights
    with pytest.raises(ValueError, match="labels"):
        tuning.make_classifier(SimpleCNN, device="cpu", split_seeded=True).fit(X)


def test_ranked_and_candidate_params_come_from_the_table():
    rows = [(1e-2, 0.0, 0.9), (1e-2, 0.1, 0.89), (3e-3, 0.0, 0.88), (3e-3, 0.1, 0.87), (1e-3, 0.1, 0.86),
            (1e-3, 0.0, 0.85), (3e-2, 0.0, float("nan"))]
    table = pd.DataFrame({"lr": [r[0] for r in rows], "batch_size": 64, "weight_decay": [r[1] for r in rows],
                          "mean_cv_acc": [r[2] for r in rows], "std_cv_acc": 0.0, "mean_fit_time": 1.0,
                          "rank": [1, 2, 3, 4, 5, 6, 7], "failed": [False] * 6 + [True]})
    ranked = tuning.ranked_params(table)
    assert len(ranked) == 6 and ranked[0] == {"lr": 1e-2, "batch_size": 64, "optimizer__weight_decay": 0.0}
    assert tuning.ranked_params(table, 2)[1]["optimizer__weight_decay"] == 0.1
    chosen = tuning.candidate_params(table)
    # the best configuration of each learning rate (3e-2 failed), in rank order, then the defaults
    assert [(c["lr"], c["optimizer__weight_decay"]) for c in chosen] == [(1e-2, 0.0), (3e-3, 0.0), (1e-3, 0.1),
                                                                         (1e-3, 0.0)]
    assert len(tuning.candidate_params(table.iloc[[0, 5]])) == 2  # the defaults are already there
    # 1e-3's best (0.86) is 4 pp below the best (0.90): out at within=0.03; the defaults stay,
    # and the next configuration of the ranking within 3 pp (1e-2 with decay 0.1) tops them up to 4
    assert [(c["lr"], c["optimizer__weight_decay"]) for c in tuning.candidate_params(table, within=0.03)] == [
        (1e-2, 0.0), (3e-3, 0.0), (1e-3, 0.0), (1e-2, 0.1)]
    assert [(c["lr"], c["optimizer__weight_decay"]) for c in tuning.candidate_params(
        table, within=0.03, at_least=3)] == [(1e-2, 0.0), (3e-3, 0.0), (1e-3, 0.0)]
    # a learning rate at chance (the full profile's LeNet-5 at 3e-2) is never a top-up
    at_chance = table.assign(mean_cv_acc=[0.9, 0.89, 0.1, 0.1, 0.1, 0.1, float("nan")])
    assert [(c["lr"], c["optimizer__weight_decay"]) for c in tuning.candidate_params(at_chance)] == [
        (1e-2, 0.0), (1e-3, 0.0), (1e-2, 0.1)]
    with pytest.raises(ValueError, match="at least two"):
        tuning.candidate_params(table.iloc[[0, 6]])


def test_search_fits_follow_the_cosine_recipe():
    net = tuning.make_classifier(SimpleCNN, device="cpu", lr=1e-2, max_epochs=3, schedule="cosine")
    net.fit(*learnable(60))
    lrs = [g["lr"] for g in net.optimizer_.param_groups]
    assert np.allclose(lrs, 0.0, atol=1e-12)  # annealed to 0 after the last epoch, as fit() does
    seen = net.history[:, "event_lr"]
    assert np.allclose(seen, [1e-2 * (1 + np.cos(np.pi * e / 3)) / 2 for e in range(3)])
    with pytest.raises(ValueError, match="schedule"):
        tuning.make_classifier(SimpleCNN, schedule="step")


@pytest.mark.slow
@pytest.mark.realdata
def test_dask_local_cluster_equals_serial_search():
    from dask.distributed import LocalCluster

    p = tiny_profile(grid_subset=400, grid={"lr": [1e-3, 3e-3], "batch_size": [32, 64],
                                            "optimizer__weight_decay": [0.0]})
    threads = torch.get_num_threads()
    serial, best = tuning.run_grid_search(SimpleCNN, p, n_jobs=1)
    assert torch.get_num_threads() == threads  # fits ran on one thread; the caller's count is back
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                      dashboard_address=None) as cluster:
        on_dask, best_dask = tuning.run_grid_search(SimpleCNN, p, n_jobs=2, backend="dask",
                                                    scheduler=cluster.scheduler_address)
    pd.testing.assert_frame_equal(stable(serial), stable(on_dask))
    assert best == best_dask
    own_cluster, _ = tuning.run_grid_search(SimpleCNN, p, n_jobs=2, backend="dask")  # LocalCluster
    pd.testing.assert_frame_equal(stable(serial), stable(own_cluster))
    assert serial["mean_cv_acc"].nunique() > 1  # the comparison has something to compare


def test_bad_backend_and_n_jobs_raise():
    X, y = learnable(40)
    with pytest.raises(ValueError, match="backend"):
        tuning.run_grid_search(SimpleCNN, "quick", X=X, y=y, test_fold=split(40), backend="ray")
    with pytest.raises(ValueError, match="backend"):
        tuning.run_grid_search(SimpleCNN, "quick", X=X, y=y, test_fold=split(40), scheduler="tcp://127.0.0.1:8786")
    with pytest.raises(ValueError, match="n_jobs"):
        tuning.run_grid_search(SimpleCNN, "quick", X=X, y=y, test_fold=split(40), n_jobs=0)


# ---------------------------------------------------------------- tables and figures


def fake_table(offset: float, fail: tuple | None = None) -> pd.DataFrame:
    rows = [dict(lr=lr, batch_size=bs, weight_decay=wd, std_cv_acc=0.01, mean_fit_time=1.0,
                 mean_cv_acc=0.7 + offset + 10 * lr + bs / 1000 - wd)
            for lr in (3e-4, 1e-3, 3e-3) for bs in (32, 64) for wd in (0.0, 1e-3)]
    table = pd.DataFrame(rows)
    table["failed"] = False
    if fail:
        hit = (table.lr == fail[0]) & (table.batch_size == fail[1]) & (table.weight_decay == fail[2])
        table.loc[hit, ["mean_cv_acc", "failed"]] = [np.nan, True]
    table["rank"] = table["mean_cv_acc"].rank(ascending=False, method="min", na_option="bottom").astype(int)
    return table.sort_values("rank", ignore_index=True)


def test_heatmaps_share_one_colour_scale():
    tables = {"simple": fake_table(0.0, fail=(3e-3, 64, 0.0)), "lenet": fake_table(0.1)}
    fig = tuning_plots.plot_cv_heatmaps(tables, labels={"simple": "Simple CNN", "lenet": "LeNet-5"})
    panels = [ax for ax in fig.axes if ax.images]
    assert len(panels) == 4  # 2 models x 2 batch sizes
    assert len({ax.images[0].get_clim() for ax in panels}) == 1
    lo, hi = panels[0].images[0].get_clim()
    scores = pd.concat(tables.values())["mean_cv_acc"]
    assert lo == pytest.approx(scores.min()) and hi == pytest.approx(scores.max())
    assert len(fig.axes) == 5  # one shared colour bar
    texts = [t.get_text() for ax in panels for t in ax.texts]
    assert len(texts) == 4 * 6 and texts.count("failed") == 1
    assert panels[0].images[0].get_array().shape == (3, 2)  # lr x weight decay
    # lettered as the paper's other figures, the colour bar as the axes (ticks 7, labels 8 pt)
    bar = next(ax for ax in fig.axes if not ax.images)
    sizes = {t.get_fontsize() for ax in panels for t in ax.get_xticklabels() + ax.get_yticklabels()}
    assert sizes == {t.get_fontsize() for t in bar.get_yticklabels()} == {7}
    assert {bar.yaxis.label.get_fontsize()} | {ax.yaxis.label.get_fontsize() for ax in panels[::2]} == {8}


def test_top_configurations_and_best_params_table():
    tables = {"simple": fake_table(0.0, fail=(3e-3, 64, 0.0)), "lenet": fake_table(0.1)}
    top = tuning_plots.top_configurations(tables, k=3)
    assert list(top["model"]) == ["Simple CNN"] * 3 + ["LeNet-5"] * 3
    assert not top.isna().any().any()  # the failed configuration is never "top"
    for _, part in top.groupby("model"):
        assert part["mean_cv_acc"].is_monotonic_decreasing and part["rank"].iloc[0] == 1
    best = {"simple": {"lr": 3e-3, "batch_size": 32, "optimizer__weight_decay": 0.0},
            "lenet": {"lr": 1e-3, "batch_size": 64, "optimizer__weight_decay": 1e-4}}
    table = tuning_plots.best_params_table(best)
    assert table.to_dict("records") == [
        {"model": "Simple CNN", "lr": 3e-3, "batch_size": 32, "weight_decay": 0.0},
        {"model": "LeNet-5", "lr": 1e-3, "batch_size": 64, "weight_decay": 1e-4}]
