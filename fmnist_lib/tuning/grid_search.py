"""Cross-validated hyperparameter search: skorch wraps the models, ``GridSearchCV`` drives them.

The same grid (``PARAM_GRID``) and the same optimiser (AdamW, decoupled weight decay through
``optimizer__weight_decay``; Adam at 0) serve both models. Each configuration is fitted on
``profile.grid_splits`` disjoint training subsets and scored on the validation split each time;
``GridSearchCV`` ranks by the mean. Each fit is seeded inside itself, from its split (initial
weights and batch order), so the results table does not depend on which process or Dask
worker ran it, and every configuration of one split starts from the same weights. Figures and tables of the search live in :mod:`fmnist_lib.paper.tuning_plots`.
"""
from __future__ import annotations

import contextlib
import math
import warnings
import zlib
from typing import Any

import joblib
import numpy as np
import pandas as pd
import torch
from skorch import NeuralNetClassifier
from skorch.callbacks import Callback, LRScheduler
from sklearn.exceptions import FitFailedWarning
from sklearn.model_selection import GridSearchCV, PredefinedSplit, StratifiedKFold

from ..config import DEFAULTS, Profile, cores, get_profile
from .search_space import GRID_KEYS, grid_edges, validate_param_grid
from ..data import TensorLoader, get_arrays, stratified_subset
from ..fused import check_kernels, select_kernels
from ..training import default_device
from ..models import MODELS

__all__ = [
    "GRID_KEYS", "TensorBatches", "FitSetup", "StopOnDivergence", "ChannelsLast",
    "SplitSeededClassifier", "split_seed", "validate_param_grid", "grid_edges",
    "make_classifier", "search_data", "run_grid_search", "results_table", "ranked_params",
    "candidate_params", "CANDIDATE_WITHIN", "MIN_CANDIDATES", "grid_entry",
]

# A learning rate whose best search score is further than this below the search's best is not
# tried at the full recipe: it diverged or learned far slower (the full recipe reversed search
# gaps of about 2 pp between learning rates in the pilot, none of 5 pp).
CANDIDATE_WITHIN = 0.05
# The fidelity check compares the search's score with the full recipe on at least this many
# configurations per model (issue 19); the candidates are topped up to it where the grid allows.
MIN_CANDIDATES = 4


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
    shuffle, seed : bool, int or None
        Draw a new permutation at each ``iter()``, reproducibly from ``seed``; ``None`` draws
        the seed from torch's global generator (seeded per fit by :class:`FitSetup` or
        :class:`SplitSeededClassifier`), so the batch order follows the fit's seed.
    device : str or torch.device, optional
        Where the tensors live; moved there once, when the iterator is made.
    """

    def __init__(self, dataset, batch_size: int, shuffle: bool = False, seed: int | None = 0,
                 device: str | torch.device | None = None) -> None:
        if seed is None:
            seed = int(torch.randint(0, 2**31 - 1, ()))
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
    kernels : {"auto", "fused", "pytorch"}
        The CPU kernels the fit trains with, chosen for the process that runs it
        (:func:`fmnist_lib.fused.select_kernels`); ``"fused"`` raises there where they are
        not available, so a search keyed for them never trains with others.
    """

    def __init__(self, seed: int = 0, threads: int | None = None, kernels: str = "auto") -> None:
        self.seed, self.threads, self.kernels = seed, threads, kernels

    def initialize(self) -> "FitSetup":
        select_kernels(self.kernels)
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


def split_seed(seed: int, y: np.ndarray) -> int:
    """The seed of a fit on training labels ``y``: ``seed`` combined with a CRC-32 of ``y``.

    Disjoint splits have different labels in a different order, so each split gets its own
    seed, the same in every process; every configuration fitted on one split gets the same.
    """
    return (int(seed) * 1_000_003 + zlib.crc32(np.ascontiguousarray(y, dtype=np.int64).tobytes())) % (2**31 - 1)


class SplitSeededClassifier(NeuralNetClassifier):
    """A ``NeuralNetClassifier`` whose every fit is seeded from its training split.

    ``GridSearchCV`` fits one clone per (configuration, split) and cannot tell a fit which
    split it is on; this one finds out from its labels (:func:`split_seed` of the
    ``FitSetup`` seed and ``y``) and reseeds torch after the callbacks are set up, so the
    initial weights, and the batch order of a ``TensorBatches(seed=None)``, differ between
    splits and agree between configurations (paired). The seed is kept as ``split_seed_``.
    """

    def fit(self, X, y=None, **fit_params):
        if y is None:
            raise ValueError("SplitSeededClassifier.fit needs the labels y (they seed the fit).")
        self.split_seed_ = split_seed(dict(self.callbacks)["setup"].seed, np.asarray(y))
        return super().fit(X, y, **fit_params)

    def initialize_callbacks(self):
        super().initialize_callbacks()  # FitSetup seeds torch with the base seed here
        if getattr(self, "split_seed_", None) is not None:
            torch.manual_seed(self.split_seed_)  # before the module is built: its weights
        return self


def make_classifier(model_cls: type[torch.nn.Module], *, seed: int = 0, max_epochs: int = 2,
                    threads: int | None = None, kernels: str = "auto", channels_last: bool | None = None,
                    schedule: str = "constant", split_seeded: bool = False,
                    **overrides) -> NeuralNetClassifier:
    """A skorch ``NeuralNetClassifier`` for ``model_cls``: AdamW, cross-entropy, seeded.

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
    split_seeded : bool
        A :class:`SplitSeededClassifier`: each fit seeded from ``seed`` and its training split.
    **overrides
        Any ``NeuralNetClassifier`` parameter, e.g. ``lr=3e-3``, ``optimizer__weight_decay=1e-4``.
    """
    device = overrides.pop("device", str(default_device()))
    callbacks = [("setup", FitSetup(seed, threads, kernels)), ("divergence", StopOnDivergence())]
    if channels_last if channels_last is not None else device == "cpu":
        callbacks.append(("channels_last", ChannelsLast()))
    if schedule not in ("constant", "cosine"):
        raise ValueError(f"schedule must be 'constant' or 'cosine', got {schedule!r}.")
    if schedule == "cosine":
        callbacks.append(("cosine", LRScheduler(policy=torch.optim.lr_scheduler.CosineAnnealingLR,
                                                T_max=max_epochs, step_every="epoch")))
    params = dict(
        module=model_cls, criterion=torch.nn.CrossEntropyLoss, optimizer=torch.optim.AdamW,
        **DEFAULTS, max_epochs=max_epochs,
        optimizer__foreach=True,  # one fused-list AdamW update per step, not one per tensor
        train_split=None, device=device, verbose=0,
        iterator_train=TensorBatches, iterator_train__shuffle=True,
        iterator_train__seed=None if split_seeded else seed,
        iterator_train__device=device, iterator_valid=TensorBatches, iterator_valid__device=device,
        callbacks=callbacks,
    )
    params.update(overrides)
    return (SplitSeededClassifier if split_seeded else NeuralNetClassifier)(**params)


def search_data(profile: str | Profile | None = None
                ) -> tuple[np.ndarray, np.ndarray, list[tuple[np.ndarray, np.ndarray]]]:
    """The images the search uses, all from the *training* file, never test.

    ``profile.grid_splits`` disjoint stratified subsets of ``profile.grid_subset`` images of
    the training split; each split trains on one subset and is scored on the validation split
    (held-out training images the final models never train on).

    Returns
    -------
    X : ndarray, shape (grid_splits * grid_subset + n_val, 1, 28, 28), float32
    y : ndarray, shape (grid_splits * grid_subset + n_val,), int64
    splits : list of (ndarray, ndarray)
        ``(train rows, validation rows)`` per split, for ``GridSearchCV(cv=splits)``.

    Raises
    ------
    ValueError
        When the training split holds fewer than ``grid_splits * grid_subset`` images.
    """
    p = get_profile(profile)
    arrays = get_arrays(val_fraction=p.val_fraction, seed=p.seed, subset=p.subset)
    (Xt, yt), (Xv, yv) = arrays["train"], arrays["val"]
    need = p.grid_splits * p.grid_subset
    if need > len(yt):
        raise ValueError(f"Profile {p.name!r}: {p.grid_splits} search splits of {p.grid_subset:,} images "
                         f"need {need:,} training images, the training split has {len(yt):,}. Lower "
                         f"grid_subset or grid_splits.")
    idx = stratified_subset(yt, need, seed=p.seed)
    folds = StratifiedKFold(n_splits=p.grid_splits, shuffle=True, random_state=p.seed)
    parts = [np.sort(part) for _, part in folds.split(idx, yt[idx])]  # disjoint, stratified
    val_rows = np.arange(need, need + len(yv))
    splits = [(part, val_rows) for part in parts]
    return np.concatenate([Xt[idx], Xv]), np.concatenate([yt[idx], yv]), splits


def results_table(cv_results: dict[str, Any]) -> pd.DataFrame:
    """``GridSearchCV.cv_results_`` as one row per configuration, best first (see ``run_grid_search``).

    ``std_cv_acc`` is the sample standard deviation over the splits (``ddof=1``, unlike
    scikit-learn's ``std_test_score``); ``split0_acc``, ``split1_acc``, ... are the scores.
    """
    params = pd.DataFrame([{**DEFAULTS, **ps} for ps in cv_results["params"]])  # make_classifier's defaults
    n_splits = sum(1 for k in cv_results if k.startswith("split") and k.endswith("_test_score"))
    scores = np.column_stack([cv_results[f"split{i}_test_score"] for i in range(n_splits)])
    table = pd.DataFrame({
        "lr": params["lr"].astype(float),
        "batch_size": params["batch_size"].astype(int),
        "weight_decay": params["optimizer__weight_decay"].astype(float),
        "mean_cv_acc": cv_results["mean_test_score"],
        "std_cv_acc": scores.std(axis=1, ddof=1) if n_splits > 1 else np.zeros(len(scores)),
        "mean_fit_time": cv_results["mean_fit_time"],
        "rank": cv_results["rank_test_score"].astype(int),
    })
    table["failed"] = ~np.isfinite(table["mean_cv_acc"].to_numpy())
    for i in range(n_splits):
        table[f"split{i}_acc"] = scores[:, i]
    return table.sort_values(["rank", "lr", "batch_size", "weight_decay"], kind="stable",
                             ignore_index=True)


def _params(row) -> dict[str, Any]:
    return {"lr": float(row.lr), "batch_size": int(row.batch_size),
            "optimizer__weight_decay": float(row.weight_decay)}


def ranked_params(table: pd.DataFrame, k: int | None = None) -> list[dict[str, Any]]:
    """The configurations of a :func:`results_table` in rank order (failed ones left out), as
    ``{"lr", "batch_size", "optimizer__weight_decay"}`` dicts; the first ``k`` if given."""
    rows = [_params(r) for r in table.itertuples() if not r.failed]
    return rows if k is None else rows[:k]


def candidate_params(table: pd.DataFrame, defaults: dict[str, Any] = DEFAULTS,
                     within: float = CANDIDATE_WITHIN, at_least: int = MIN_CANDIDATES) -> list[dict[str, Any]]:
    """The configurations the full recipe decides between: at each learning rate of the
    search, its best configuration (the weight decay and batch size the search ranked
    first there; failed ones left out) if its score is within ``within`` of the search's
    best, in the search's rank order, then ``defaults`` if it is not among them; while there
    are fewer than ``at_least``, the next configurations of the search's ranking within
    ``within`` of its best (a learning rate that did not learn leaves room for a second weight
    decay at one that did, so the fidelity check still has ``at_least`` points).

    The search's short fits rank the learning rate by how fast a model learns in a few hundred
    steps, which is not how well it ends after the full recipe's thousands; so the search
    narrows the other axes and the full recipe's validation accuracy chooses the learning rate
    (``pipeline.stages.selection``).

    Raises
    ------
    ValueError
        When fewer than two configurations of the table did not fail.
    """
    ranked = ranked_params(table)
    if len(ranked) < 2:
        raise ValueError(f"The search has {len(ranked)} configuration(s) that did not fail; the full recipe "
                         f"needs at least two to choose between. Widen the grid.")
    scores = {(r.lr, r.batch_size, r.weight_decay): r.mean_cv_acc for r in table.itertuples()}
    top = max(scores[tuple(c.values())] for c in ranked)
    close = [c for c in ranked if scores[tuple(c.values())] >= top - within]
    best_per_lr: dict[float, dict[str, Any]] = {}
    for c in close:
        best_per_lr.setdefault(c["lr"], c)
    out = list(best_per_lr.values())
    out += [dict(defaults)] if dict(defaults) not in out else []
    for c in close:
        if len(out) >= at_least:
            break
        if c not in out:
            out.append(c)
    return out


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
                    splits: list | None = None, param_grid: dict[str, list[Any]] | None = None,
                    kernels: str = "auto", verbose: bool = False) -> tuple[pd.DataFrame, dict[str, Any]]:
    """``GridSearchCV`` scored by accuracy on held-out training images, over several splits.

    Every fit follows the final models' recipe, shortened: ``profile.grid_epochs`` epochs
    with ``profile.final_schedule``. By default each configuration trains on each of
    ``profile.grid_splits`` disjoint subsets of the training split and is scored on the
    validation split (:func:`search_data`); its score is the mean over the splits, and each
    fit is seeded from its split (:class:`SplitSeededClassifier`). Nothing is refitted.

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
    X, y : ndarray, optional
        Override the search data (default :func:`search_data`); must come from training data.
    test_fold : ndarray, optional
        With ``X, y``: one predefined split (``-1`` rows train, the others are scored).
    splits : list of (ndarray, ndarray), optional
        With ``X, y``: ``(train rows, scored rows)`` per split (instead of ``test_fold``).
    param_grid : dict, optional
        Override ``profile.grid``; validated by :func:`validate_param_grid` before any fit.
    kernels : {"auto", "fused", "pytorch"}
        The CPU kernels of every fit (see :class:`FitSetup`), checked here before any fit.
    verbose : bool

    Returns
    -------
    table : pandas.DataFrame
        One row per configuration, best first: ``lr, batch_size, weight_decay, mean_cv_acc,
        std_cv_acc, mean_fit_time, rank, failed, split0_acc, ...`` (see :func:`results_table`;
        diverged fits score NaN, ``failed=True``).
    best_params : dict
        ``{"lr", "batch_size", "optimizer__weight_decay"}`` of rank 1.
    """
    p = get_profile(profile)
    grid = p.grid if param_grid is None else param_grid
    validate_param_grid(grid)
    check_kernels(kernels)
    if backend not in (None, "dask") or (scheduler is not None and backend != "dask"):
        raise ValueError(f"backend must be None or 'dask' (scheduler needs 'dask'), got {backend!r}.")
    if (X is None) != (y is None) or (X is None) != (test_fold is None and splits is None) \
            or (test_fold is not None and splits is not None):
        raise ValueError("Pass X, y and one of test_fold or splits together, or none of them.")
    n_jobs = p.n_jobs if n_jobs is None else n_jobs
    if n_jobs == 0 or n_jobs < -1:
        raise ValueError(f"n_jobs must be >= 1 or -1, got {n_jobs}.")
    if X is None:
        X, y, splits = search_data(p)
    cv = PredefinedSplit(test_fold) if splits is None else splits
    remote = scheduler is not None  # its workers' cores are its own business
    workers = n_jobs if remote else min(cores(), cores() if n_jobs == -1 else n_jobs)
    net = make_classifier(model_cls, seed=p.seed, max_epochs=p.grid_epochs, threads=1, kernels=kernels,
                          schedule=p.final_schedule, split_seeded=True)
    search = GridSearchCV(net, grid, scoring="accuracy", refit=False, error_score=np.nan,
                          cv=cv, n_jobs=workers, verbose=1 if verbose else 0)
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


def grid_entry(name: str, profile: Profile, kernels: str = "auto", verbose: bool = False,
               **backend) -> dict[str, Any]:
    """The grid stage's items for model ``name``: ``{"table", "best_params"}`` of
    :func:`run_grid_search` (``kernels``: resolved, as in the stage's spec; ``backend``: where
    the fits run, never what they compute)."""
    table, best = run_grid_search(MODELS[name], profile, n_jobs=profile.n_jobs, kernels=kernels,
                                  verbose=verbose, **backend)
    return {"table": table, "best_params": best}
