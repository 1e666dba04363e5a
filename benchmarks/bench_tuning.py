"""Speed of the grid search: skorch iterators, parallel fits, Dask, the full grid.

Run by hand from the project root (all sections print their ratios):

    .venv/bin/python benchmarks/bench_tuning.py            # throughput + quick grid
    .venv/bin/python benchmarks/bench_tuning.py --full     # also the full grid, both models

1. skorch fit throughput (images/s): our ``TensorBatches`` iterator versus skorch's default
   ``DataLoader`` over ``skorch.dataset.Dataset``, and a plain tensor loop for reference;
   same model (LeNet-5), batch size 64, shuffled, alternating runs, median reported.
2. Wall time of the quick grid with ``n_jobs=1``, ``n_jobs=2`` and a Dask ``LocalCluster``
   of 2 worker processes: on the quick profile, then on the full profile's data, folds and
   epochs (fits long enough for parallelism to pay).
3. ``--full``: the full profile's grid for both models with ``n_jobs=2`` (target <= 3.5 min).

Timings on a shared machine are noisy: compare the ratios of one run, not absolute numbers.
"""
from __future__ import annotations

import argparse
import dataclasses
import statistics
import time
import warnings

import numpy as np
import torch
from skorch import NeuralNetClassifier

from fmnist_lib.tuning import grid_search as tuning
from fmnist_lib.config import get_profile
from fmnist_lib.data import TensorLoader
from fmnist_lib.models import LeNet5, SimpleCNN
from fmnist_lib.training import train_step as _step


def _fit_seconds(net: NeuralNetClassifier, X: np.ndarray, y: np.ndarray) -> float:
    start = time.perf_counter()
    net.fit(X, y)
    return time.perf_counter() - start


def _plain_seconds(X: np.ndarray, y: np.ndarray, batch_size: int, epochs: int) -> float:
    torch.manual_seed(0)
    model = LeNet5()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = torch.nn.CrossEntropyLoss()
    loader = TensorLoader(torch.from_numpy(X), torch.from_numpy(y), batch_size, shuffle=True)
    start = time.perf_counter()
    for _ in range(epochs):
        for batch in loader:
            _step(model, batch, opt, loss_fn)
    return time.perf_counter() - start


def bench_throughput(n: int = 6000, batch_size: int = 64, epochs: int = 2, repeats: int = 3) -> None:
    X, y, _ = tuning.search_data("full")
    X, y = X[:n], y[:n]
    common = dict(module=LeNet5, criterion=torch.nn.CrossEntropyLoss, optimizer=torch.optim.Adam,
                  lr=1e-3, batch_size=batch_size, max_epochs=epochs, train_split=None,
                  device="cpu", verbose=0)
    runs = {
        "skorch default": lambda: _fit_seconds(
            NeuralNetClassifier(**common, iterator_train__shuffle=True), X, y),
        "TensorBatches": lambda: _fit_seconds(tuning.make_classifier(
            LeNet5, max_epochs=epochs, batch_size=batch_size, device="cpu", channels_last=False), X, y),
        "+ channels_last": lambda: _fit_seconds(tuning.make_classifier(
            LeNet5, max_epochs=epochs, batch_size=batch_size, device="cpu"), X, y),
        "plain loop": lambda: _plain_seconds(X, y, batch_size, epochs),
    }
    for fn in runs.values():  # warm-up: first-call costs (allocator, kernels) out of the timings
        fn()
    rates: dict[str, list[float]] = {k: [] for k in runs}
    for _ in range(repeats):  # alternate, so machine load hits every variant alike
        for name, fn in runs.items():
            rates[name].append(n * epochs / fn())
    print(f"\n## skorch fit throughput: LeNet-5, batch {batch_size}, shuffled, {n} images x "
          f"{epochs} epochs, {torch.get_num_threads()} torch threads, median of {repeats}")
    med = {k: statistics.median(v) for k, v in rates.items()}
    for name, vals in rates.items():
        print(f"{name:>16}: {med[name]:8.0f} images/s   runs: {', '.join(f'{v:.0f}' for v in vals)}")
    for name in ("TensorBatches", "+ channels_last", "plain loop"):
        print(f"{name} / skorch default: {med[name] / med['skorch default']:.2f}x")
    print("(target >= 1.3x; make_classifier = TensorBatches + channels_last)")
    _data_share(X, y, batch_size, med["skorch default"])


def _data_share(X: np.ndarray, y: np.ndarray, batch_size: int, fit_rate: float) -> None:
    """Where the time goes: one epoch of batches alone (no model) from each iterator."""
    from skorch.dataset import Dataset

    net = NeuralNetClassifier(LeNet5, batch_size=batch_size, iterator_train__shuffle=True)
    dataset = Dataset(X, y)
    fetchers = {"skorch default": lambda: net.get_iterator(dataset, training=True),
                "TensorBatches": lambda: tuning.TensorBatches(dataset, batch_size, shuffle=True)}
    print("data only (one shuffled epoch, no model), share of a default-iterator fit's time:")
    for name, make in fetchers.items():
        times = []
        for _ in range(3):
            start = time.perf_counter()
            for _batch in make():
                pass
            times.append(time.perf_counter() - start)
        sec = statistics.median(times)
        print(f"{name:>16}: {len(X) / sec:10.0f} images/s, {100 * sec / (len(X) / fit_rate):4.1f} % "
              f"of the fit")


def _timed_search(model_cls, profile, **kwargs) -> tuple[float, object]:
    start = time.perf_counter()
    table, _ = tuning.run_grid_search(model_cls, profile, **kwargs)
    return time.perf_counter() - start, table


def bench_parallel(p, label: str) -> None:
    n_fits = np.prod([len(v) for v in p.grid.values()])
    print(f"\n## {label}: LeNet-5, {n_fits} fits on {p.grid_subset} images (scored on the validation split), "
          f"{p.grid_epochs} epoch(s) per fit")
    t1, tab1 = _timed_search(LeNet5, p, n_jobs=1)
    t2, tab2 = _timed_search(LeNet5, p, n_jobs=2)
    td, tabd = _timed_search(LeNet5, p, n_jobs=2, backend="dask")
    cols = ["lr", "batch_size", "weight_decay", "mean_cv_acc", "rank"]
    for name, t, tab in (("n_jobs=1", t1, tab1), ("n_jobs=2", t2, tab2), ("dask LocalCluster x2", td, tabd)):
        same = tab[cols].equals(tab1[cols])
        print(f"{name:>22}: {t:6.1f} s   speed-up vs n_jobs=1: {t1 / t:.2f}x   same table: {same}")
    print("(n_jobs=2 includes joblib starting its workers when none are warm; the Dask time "
          "includes starting and stopping the LocalCluster)")


def bench_full_grid() -> None:
    p = get_profile("full")
    print(f"\n## full grid: {p.grid_subset} images, {p.grid_epochs} epochs/fit, "
          f"n_jobs={p.n_jobs}, both models")
    total = 0.0
    for cls in (SimpleCNN, LeNet5):
        t, tab = _timed_search(cls, p, n_jobs=p.n_jobs)
        total += t
        print(f"{cls.__name__:>10}: {t / 60:5.1f} min, best validation accuracy {tab['mean_cv_acc'].max():.4f}, "
              f"failed {int(tab['failed'].sum())}")
    print(f"{'total':>10}: {total / 60:5.1f} min (target <= 3.5 min)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true", help="also time the full grid")
    parser.add_argument("--skip-throughput", action="store_true")
    parser.add_argument("--skip-quick", action="store_true")
    args = parser.parse_args()
    warnings.simplefilter("ignore", UserWarning)
    if not args.skip_throughput:
        bench_throughput()
    if not args.skip_quick:
        bench_parallel(get_profile("quick"), "quick grid, quick profile")
        medium = dataclasses.replace(get_profile("quick"), grid_subset=10000, grid_epochs=2,
                                     subset=None)
        bench_parallel(medium, "quick grid on the full profile's data and epochs")
    if args.full:
        bench_full_grid()
