"""Cross-validated hyperparameter search: skorch wraps the models, ``GridSearchCV`` drives them.

The same grid (``PARAM_GRID``) and the same optimiser (Adam, L2 through
``optimizer__weight_decay``) serve both models. Each fit is seeded inside itself (initial
weights and batch order), so the results table does not depend on which process or Dask
worker ran it. Figures and tables of the search live in :mod:`fmnist_lib.paper.tuning_plots`.
"""
from __future__ import annotations

import contextlib
import math
import warnings
from typing import Any

import joblib
import numpy as np
import pandas as pd
import torch
from skorch import NeuralNetClassifier
from skorch.callbacks import Callback, LRScheduler
from sklearn.exceptions import FitFailedWarning
from sklearn.model_selection import GridSearchCV, PredefinedSplit

from ..config import DEFAULTS, PARAM_GRID, Profile, cores, get_profile
from .search_space import GRID_KEYS, edge_sentence, grid_edges, validate_param_grid
from ..data import TensorLoader, get_arrays, stratified_subset
from ..training import default_device
from ..models import MODELS

__all__ = [
    "PARAM_GRID", "GRID_KEYS", "TensorBatches", "FitSetup", "StopOnDivergence", "ChannelsLast",
    "validate_param_grid", "grid_edges", "edge_sentence", "make_classifier", "search_data",
    "run_grid_search", "results_table", "grid_entry",
]

class TensorBatches(TensorLoader):
    """skorch iterator: a :class:`~fmnist_lib.data.TensorLoader` over a skorch dataset's arrays.

    skorch's default (a ``DataLoader`` over ``skorch.dataset.Dataset``) indexes and collates
    every image on its own; this gathers once per epoch, then slices. Pass it as
    ``iterator_train`` / ``iterator_valid``.

    Parameters
    ----------
    dataset : skorch.dataset.Dataset or torch.utils.data.Subset of one
        Holds ``X`` (ndarray or Tensor, shape (n, 1, 28, 28)) and ``y`` (shape (n,), or None).
    batch_size : int
    shuffle, seed : bool, int
        Draw a new permutation at each ``iter()``, reproducibly from ``seed``.
    device : str or torch.device, optional
        Where the tensors live; moved there once, when the iterator is made.
    """

    def __init__(self, dataset, batch_size: int, shuffle: bool = False, seed: int = 0,
                 device: str | torch.device | None = None) -> None:
        idx = slice(None)
        if isinstance(dataset, torch.utils.data.Subset):  # a skorch train_split was used
            dataset, idx = dataset.dataset, torch.as_tensor(dataset.indices)
        if not hasattr(dataset, "X"):
            raise TypeError(f"TensorBatches needs a dataset with arrays X and y, got {type(dataset).__name__}.")
        X = torch.as_tensor(dataset.X)[idx].to(device)  # no copy for a float32 ndarray on the CPU
        y = None if dataset.y is None else torch.as_tensor(dataset.y)[idx].to(X.device)
        super().__init__(X, y, batch_size, shuffle=shuffle, seed=seed)


class FitSetup(Callback):
    """Seeds each fit and sets torch's thread count, before the module is built.

    skorch initialises callbacks first, so seeding in ``initialize`` fixes the initial
    weights (and the dropout draws that follow) whichever process runs the fit.

    Parameters
    ----------
    seed : int
    threads : int or None
        ``torch.set_num_threads`` for the fit and the predictions after it, in the process
        that runs them (``run_grid_search`` restores its caller's count); ``None``: unchanged.
    """

    def __init__(self, seed: int = 0, threads: int | None = None) -> None:
        self.seed, self.threads = seed, threads

    def initialize(self) -> "FitSetup":
        torch.manual_seed(self.seed)
        if self.threads:
            torch.set_num_threads(self.threads)
        return self


class StopOnDivergence(Callback):
    """Raise ``FloatingPointError`` on a non-finite training loss (skorch would train on)."""

    def on_batch_end(self, net, batch=None, training=None, loss=None, **kwargs) -> None:
        if training and loss is not None and not math.isfinite(loss.item()):
            raise FloatingPointError(f"Training diverged (loss {loss.item()}) with lr={net.lr}, "
                                     f"batch_size={net.batch_size}.")


class ChannelsLast(Callback):
    """Train in channels-last layout (NHWC): oneDNN's convolutions for these small CPU models
    run 1.2-1.6x faster so (see ``benchmarks/bench_tuning.py``); weights are unchanged."""

    def on_train_begin(self, net, **kwargs) -> None:
        net.module_.to(memory_format=torch.channels_last)  # in place: the optimiser's tensors stay


def make_classifier(model_cls: type[torch.nn.Module], *, seed: int = 0, max_epochs: int = 2,
                    threads: int | None = None, channels_last: bool | None = None,
                    schedule: str = "constant", **overrides) -> NeuralNetClassifier:
    """A skorch ``NeuralNetClassifier`` for ``model_cls``: Adam, cross-entropy, seeded.

    skorch's internal validation split is off (``train_split=None``): inside
    ``GridSearchCV`` each fit sees only its training folds, and the held-out fold is
    scored by the search alone. Batches come from :class:`TensorBatches` (shuffled, seeded).

    Parameters
    ----------
    model_cls : type
        ``SimpleCNN`` or ``LeNet5`` (any module taking (B, 1, 28, 28) and returning logits).
    seed : int
        Initial weights and batch order of every fit.
    max_epochs : int
    threads : int or None
        torch threads of each fit and the predictions after it (see :class:`FitSetup`).
    channels_last : bool, optional
        Convolutions in NHWC layout (:class:`ChannelsLast`); default: on the CPU only.
    schedule : {"constant", "cosine"}
        ``"cosine"`` anneals the learning rate towards 0 over ``max_epochs``, stepped once
        per epoch, as ``training.fit`` does for the final models.
    **overrides
        Any ``NeuralNetClassifier`` parameter, e.g. ``lr=3e-3``, ``optimizer__weight_decay=1e-4``.
    """
    device = overrides.pop("device", str(default_device()))
    callbacks = [("setup", FitSetup(seed, threads)), ("divergence", StopOnDivergence())]
    if channels_last if channels_last is not None else device == "cpu":
        callbacks.append(("channels_last", ChannelsLast()))
    if schedule not in ("constant", "cosine"):
        raise ValueError(f"schedule must be 'constant' or 'cosine', got {schedule!r}.")
    if schedule == "cosine":
        callbacks.append(("cosine", LRScheduler(policy=torch.optim.lr_scheduler.CosineAnnealingLR,
                                                T_max=max_epochs, step_every="epoch")))
    params = dict(
        module=model_cls, criterion=torch.nn.CrossEntropyLoss, optimizer=torch.optim.Adam,
        **DEFAULTS, max_epochs=max_epochs,
        optimizer__foreach=True,  # one fused-list Adam update per step, not one per tensor
        train_split=None, device=device, verbose=0,
        iterator_train=TensorBatches, iterator_train__shuffle=True, iterator_train__seed=seed,
        iterator_train__device=device, iterator_valid=TensorBatches, iterator_valid__device=device,
        callbacks=callbacks,
    )
    params.update(overrides)
    return NeuralNetClassifier(**params)


def search_data(profile: str | Profile | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The images the search uses, all from the *training* file, never test.

    Each fit trains on a stratified subset of the training split and is scored on the
    validation split (the held-out training images the final models never train on).

    Returns
    -------
    X : ndarray, shape (profile.grid_subset + n_val, 1, 28, 28), float32
    y : ndarray, shape (profile.grid_subset + n_val,), int64
    test_fold : ndarray, shape (profile.grid_subset + n_val,)
        ``-1`` for the training rows, ``0`` for the validation rows (``PredefinedSplit``).
    """
    p = get_profile(profile)
    arrays = get_arrays(val_fraction=p.val_fraction, seed=p.seed, subset=p.subset)
    (Xt, yt), (Xv, yv) = arrays["train"], arrays["val"]
    idx = stratified_subset(yt, min(p.grid_subset, len(yt)), seed=p.seed)
    fold = np.concatenate([np.full(len(idx), -1), np.zeros(len(yv), dtype=int)])
    return np.concatenate([Xt[idx], Xv]), np.concatenate([yt[idx], yv]), fold


def results_table(cv_results: dict[str, Any]) -> pd.DataFrame:
    """``GridSearchCV.cv_results_`` as one row per configuration, best first (see ``run_grid_search``)."""
    params = pd.DataFrame([{**DEFAULTS, **ps} for ps in cv_results["params"]])  # make_classifier's defaults
    table = pd.DataFrame({
        "lr": params["lr"].astype(float),
        "batch_size": params["batch_size"].astype(int),
        "weight_decay": params["optimizer__weight_decay"].astype(float),
        "mean_cv_acc": cv_results["mean_test_score"],
        "std_cv_acc": cv_results["std_test_score"],
        "mean_fit_time": cv_results["mean_fit_time"],
        "rank": cv_results["rank_test_score"].astype(int),
    })
    table["failed"] = ~np.isfinite(table["mean_cv_acc"].to_numpy())
    return table.sort_values(["rank", "lr", "batch_size", "weight_decay"], kind="stable",
                             ignore_index=True)


@contextlib.contextmanager
def _dask_client(scheduler: str | None, n_workers: int):
    import dask
    from dask.distributed import Client, LocalCluster

    if scheduler is not None:
        with Client(scheduler, set_as_default=False) as client:
            yield client
        return
    # Dask's workers trim malloc at 64 KiB, handing torch's freed batch buffers back to the
    # OS at every step: fits ran ~25 % slower (measured); keep the rest (OMP_NUM_THREADS=1)
    environ = {k: v for k, v in dask.config.get("distributed.nanny.pre-spawn-environ").items()
               if k != "MALLOC_TRIM_THRESHOLD_"}
    with dask.config.set({"distributed.nanny.pre-spawn-environ": environ}), \
            LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=True,
                         host="127.0.0.1", dashboard_address=None) as cluster, \
            Client(cluster, set_as_default=False) as client:
        yield client


def run_grid_search(model_cls: type[torch.nn.Module], profile: str | Profile | None = None, *,
                    n_jobs: int | None = None, backend: str | None = None,
                    scheduler: str | None = None, X: np.ndarray | None = None,
                    y: np.ndarray | None = None, test_fold: np.ndarray | None = None,
                    param_grid: dict[str, list[Any]] | None = None,
                    verbose: bool = False) -> tuple[pd.DataFrame, dict[str, Any]]:
    """``GridSearchCV`` scored by accuracy on held-out training images (a predefined split).

    Every fit follows the final models' recipe, shortened: ``profile.grid_epochs`` epochs
    with ``profile.final_schedule``; it trains on the ``-1`` rows of ``test_fold`` and is
    scored on the others (by default: trains on a subset of the training split, scored on the
    validation split, see :func:`search_data`). Nothing is refitted.

    Parameters
    ----------
    model_cls : type
        ``SimpleCNN`` or ``LeNet5``.
    profile : str or Profile, optional
        Grid, folds, epochs per fit, data subset and seed (see :mod:`fmnist_lib.config`).
    n_jobs : int, optional
        Parallel fits through joblib (default ``profile.n_jobs``; ``-1``: all cores), at most
        one per core. Every fit trains and predicts on one torch thread, so the table depends
        on the seed only, not on ``n_jobs``, the backend or the machine's core count.
    backend : {None, "dask"}
        ``"dask"`` runs the fits on a Dask cluster through joblib's Dask backend: the one at
        ``scheduler`` (an address), else a ``LocalCluster`` of ``n_jobs`` worker processes.
    X, y, test_fold : ndarray, optional
        Override the search data (default :func:`search_data`); must come from training data.
    param_grid : dict, optional
        Override ``profile.grid``; validated by :func:`validate_param_grid` before any fit.
    verbose : bool

    Returns
    -------
    table : pandas.DataFrame
        One row per configuration, best first: ``lr, batch_size, weight_decay, mean_cv_acc,
        std_cv_acc, mean_fit_time, rank, failed`` (diverged fits score NaN, ``failed=True``).
    best_params : dict
        ``{"lr", "batch_size", "optimizer__weight_decay"}`` of rank 1.
    """
    p = get_profile(profile)
    grid = p.grid if param_grid is None else param_grid
    validate_param_grid(grid)
    if backend not in (None, "dask") or (scheduler is not None and backend != "dask"):
        raise ValueError(f"backend must be None or 'dask' (scheduler needs 'dask'), got {backend!r}.")
    if not ((X is None) == (y is None) == (test_fold is None)):
        raise ValueError("Pass X, y and test_fold together, or none of them.")
    n_jobs = p.n_jobs if n_jobs is None else n_jobs
    if n_jobs == 0 or n_jobs < -1:
        raise ValueError(f"n_jobs must be >= 1 or -1, got {n_jobs}.")
    if X is None:
        X, y, test_fold = search_data(p)
    remote = scheduler is not None  # its workers' cores are its own business
    workers = n_jobs if remote else min(cores(), cores() if n_jobs == -1 else n_jobs)
    net = make_classifier(model_cls, seed=p.seed, max_epochs=p.grid_epochs, threads=1,
                          schedule=p.final_schedule)
    search = GridSearchCV(net, grid, scoring="accuracy", refit=False, error_score=np.nan,
                          cv=PredefinedSplit(test_fold), n_jobs=workers, verbose=1 if verbose else 0)
    with warnings.catch_warnings(), contextlib.ExitStack() as stack:
        # divergent configurations are reported once, below, and flagged in the table
        warnings.simplefilter("ignore", FitFailedWarning)
        warnings.filterwarnings("ignore", message="One or more of the test scores are non-finite")
        stack.callback(torch.set_num_threads, torch.get_num_threads())  # fits here set 1
        if backend == "dask":
            client = stack.enter_context(_dask_client(scheduler, workers))
            stack.enter_context(joblib.parallel_config(backend="dask", client=client))
        elif workers > 1:
            from ..pipeline.workers import loky_workers

            stack.enter_context(loky_workers())  # no worker outlives the search, or this process
        search.fit(X, y)
    table = results_table(search.cv_results_)
    if table["failed"].any():
        failed = table.loc[table["failed"], ["lr", "batch_size", "weight_decay"]]
        warnings.warn(f"{len(failed)} of {len(table)} configurations of {model_cls.__name__} "
                      f"failed (diverged) and were scored NaN:\n{failed.to_string(index=False)}",
                      UserWarning, stacklevel=2)
    defaults = {k: net.get_params()[k] for k in GRID_KEYS}
    best = {k: v.item() if isinstance(v, np.generic) else v  # plain numbers: stored as JSON
            for k, v in {**defaults, **search.best_params_}.items()}
    return table, best


def grid_entry(name: str, profile: Profile, verbose: bool = False, **backend) -> dict[str, Any]:
    """The grid stage's items for model ``name``: ``{"table", "best_params"}`` of
    :func:`run_grid_search` (``backend``: where the fits run, never what they compute)."""
    table, best = run_grid_search(MODELS[name], profile, n_jobs=profile.n_jobs, verbose=verbose, **backend)
    return {"table": table, "best_params": best}
