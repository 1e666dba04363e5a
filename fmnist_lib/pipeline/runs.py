"""The study's training runs: one per (model, hyperparameters, seed), in parallel processes.

Every compared run (the baseline's defaults and the tuned finals, each seed) follows one
recipe: :func:`run_config`. Runs that are not in the result store yet are trained in joblib
(loky) worker processes with one torch thread each, or as tasks on the Dask cluster of
``--scheduler`` / ``$FMNIST_SCHEDULER`` (:mod:`fmnist_lib.cluster`), and the parent writes each
result to the store (atomically, keyed by the run's spec), so a run's numbers do not depend on
how many ran beside it or where: a parallel or remote run equals a serial one for the same seed.
"""
from __future__ import annotations

import time
from dataclasses import asdict
from typing import Any

import numpy as np
import torch

from ..config import Profile, TrainConfig, cores
from ..data import get_data_loaders
from ..models import MODELS
from .cluster import check_scheduler, run_on_cluster, scheduler_address
from .store import default_store
from ..training import build_model, fit

__all__ = ["ENTRY", "data_spec", "run_config", "run_spec", "predict_logits", "train_run", "train_runs",
           "softmax"]

ENTRY = "run"  # the store entry of one run (baseline or tuned: the same recipe)


def run_config(p: Profile, params: dict[str, Any], seed: int, progress: bool = False,
               epochs: int | None = None) -> TrainConfig:
    """The one recipe: ``params`` (lr, batch size, weight decay) trained like every compared run,
    for ``p.final_epochs`` (or ``epochs``: the short budget and the convergence check)."""
    return TrainConfig(epochs=p.final_epochs if epochs is None else epochs,
                       batch_size=int(params["batch_size"]), lr=float(params["lr"]),
                       weight_decay=float(params["optimizer__weight_decay"]), seed=seed,
                       patience=p.patience, lr_schedule=p.final_schedule, progress=progress)


def data_spec(p: Profile) -> dict:
    """The data every stage of profile ``p`` uses (part of every store key)."""
    return {"subset": p.subset, "val_fraction": p.val_fraction, "data_seed": p.seed}


def run_spec(p: Profile, name: str, config: TrainConfig) -> dict:
    """The store key of one run: data, model, seed and recipe (not the progress bar)."""
    return {**data_spec(p), "model": name, "seed": config.seed,
            "config": {k: v for k, v in asdict(config).items() if k != "progress"}}


@torch.inference_mode()
def predict_logits(model: torch.nn.Module, loader) -> np.ndarray:
    """Logits of ``model`` over a loader's ``(x, y)`` batches: ndarray (N, 10), float32."""
    model.eval()
    device = next(model.parameters()).device
    chunks = [model(x.to(device)).float().cpu().numpy() for x, _ in loader]
    return np.concatenate(chunks)


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax in float64: ``(N, 10)`` logits -> probabilities."""
    z = np.asarray(logits, dtype=np.float64)
    z = np.exp(z - z.max(axis=1, keepdims=True))
    return z / z.sum(axis=1, keepdims=True)


def train_run(name: str, config: TrainConfig, data: dict) -> dict[str, Any]:
    """Train one run on one torch thread; the items the store keeps for it.

    Parameters
    ----------
    name : str
        ``"simple"`` or ``"lenet"``.
    config : TrainConfig
    data : dict
        ``{"subset", "val_fraction", "data_seed"}`` of the profile.

    Returns
    -------
    dict
        ``weights`` (state dict), ``history`` (DataFrame, with the test accuracy of every
        epoch, which nothing chooses by), ``val_logits (n_val, 10)``,
        ``test_logits (10000, 10)`` (float32), ``seconds``, ``epochs_run``, ``best_epoch``.
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # the same arithmetic in a worker and in the parent
    try:
        loaders = get_data_loaders(config.batch_size, val_fraction=data["val_fraction"],
                                   seed=data["data_seed"], subset=data["subset"])
        model = build_model(name, seed=config.seed)
        start = time.perf_counter()
        history = fit(model, loaders, config, track_test=True)  # for the accuracy-against-epochs figure
        seconds = time.perf_counter() - start
        return {"weights": {k: v.detach().cpu() for k, v in model.state_dict().items()},
                "history": history, "val_logits": predict_logits(model, loaders[1]),
                "test_logits": predict_logits(model, loaders[2]), "seconds": seconds,
                "epochs_run": len(history), "best_epoch": int(history.attrs["best_epoch"])}
    finally:
        torch.set_num_threads(threads)


def train_runs(p: Profile, jobs: list[tuple[str, TrainConfig]], n_jobs: int | None = None,
               scheduler: str | None = None) -> list[dict]:
    """Load or train each ``(name, config)`` run; missing ones in parallel processes.

    Parameters
    ----------
    p : Profile
    jobs : list of (str, TrainConfig)
    n_jobs : int, optional
        Worker processes (default ``p.n_jobs``, at most one per core); 1 trains in this process.
        Not used when a scheduler is set.
    scheduler : str, optional
        A Dask scheduler's address (default ``$FMNIST_SCHEDULER``): the missing runs become
        tasks on its cluster, one per run, checked to answer before any is sent.

    Returns
    -------
    list of dict
        Per job, in order: the stored items (see :func:`train_run`) plus ``seed``, ``config``
        (dict, without the progress flag, so keys built from it do not depend on a terminal),
        ``model`` (eval mode, CPU) and ``test_proba``/``val_proba`` (softmax, float64).
    """
    store = default_store(p.name)
    specs = [run_spec(p, name, config) for name, config in jobs]
    # verified now: a damaged entry is set aside here (None) and trained again below
    stored = {store.path(ENTRY, s): store.load(ENTRY, s) for s in specs}
    missing = list({store.path(ENTRY, s): (job, s) for job, s in zip(jobs, specs)
                    if stored[store.path(ENTRY, s)] is None}.values())  # a run listed twice trains once
    # longest first (epochs, then the larger model), so the last runs to finish are short ones
    missing.sort(key=lambda m: (m[0][1].epochs, m[0][0] == "lenet"), reverse=True)
    address = scheduler_address(scheduler)
    workers = max(1, min(cores(), p.n_jobs if n_jobs is None else n_jobs, len(missing)))
    if address is not None and missing:
        check_scheduler(address)
        results = run_on_cluster(address, train_run,
                                 [(name, config, data_spec(p)) for (name, config), _ in missing])
    elif workers > 1:
        from joblib import Parallel, delayed

        from .workers import loky_workers

        with loky_workers():  # no worker outlives this stage, or this process
            results = Parallel(n_jobs=workers)(
                delayed(train_run)(name, config, data_spec(p)) for (name, config), _ in missing)
    else:
        results = [train_run(name, config, data_spec(p)) for (name, config), _ in missing]
    for (_, spec), items in zip(missing, results):
        stored[store.path(ENTRY, spec)] = store.save_and_load(ENTRY, spec,
                                                              {**items, "_seconds": items["seconds"]})
    out = []
    for (name, config), spec in zip(jobs, specs):
        raw = dict(stored[store.path(ENTRY, spec)])  # a run listed twice shares its entry
        model = MODELS[name]()
        model.load_state_dict(raw.pop("weights"))
        out.append({**raw, "seed": config.seed, "config": spec["config"], "model": model.eval(),
                    "test_proba": softmax(raw["test_logits"]), "val_proba": softmax(raw["val_logits"])})
    return out
