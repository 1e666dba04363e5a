"""The study's training runs: one per (model, hyperparameters, seed), each on one torch thread.

Every compared run (the baseline's defaults and the tuned finals, each seed) follows one
recipe: :func:`run_config`, trained by :func:`train_run`. This module is what a run *computes*,
so its source keys the run entries; where and whether runs train (the store, worker processes,
the Dask cluster) is :mod:`fmnist_lib.pipeline.dispatch`, plumbing that keys nothing.
"""
from __future__ import annotations

import time
from dataclasses import asdict
from typing import Any

import numpy as np
import torch

from ..config import Profile, TrainConfig
from ..data import get_data_loaders
from ..fused import check_kernels
from ..training import build_model, fit

__all__ = ["ENTRY", "data_spec", "run_config", "run_spec", "predict_logits", "train_run", "softmax"]

ENTRY = "run"  # the store entry of one run (baseline or tuned: the same recipe)


def run_config(p: Profile, params: dict[str, Any], seed: int, progress: bool = False,
               epochs: int | None = None) -> TrainConfig:
    """The one recipe: ``params`` (lr, batch size, weight decay) trained like every compared run,
    for ``p.final_epochs`` (or ``epochs``: the short budget and the convergence check), with the
    CPU kernels this process trains with (resolved here, so the run's key says which)."""
    return TrainConfig(kernels=check_kernels("auto"), epochs=p.final_epochs if epochs is None else epochs,
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
