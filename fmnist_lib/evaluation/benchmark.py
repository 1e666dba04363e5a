"""The cost benchmark: training steps and inference of both models, measured the same way.

One torch thread, the same batch size for both models, the models interleaved within each
repeat (so a slow spell of a shared machine hits both), a warm-up before timing, and at least
a few repeats summarised by their median and interquartile range. The paper's cost sentences
come from :func:`fmnist_lib.paper.evaluation_text.speed_sentence` on these numbers.
"""
from __future__ import annotations

import time
from typing import Callable, Mapping

import numpy as np
import pandas as pd
import torch
from torch import nn

from ..data import get_arrays
from ..models import DISPLAY_NAMES, MODELS, model_summary

__all__ = ["BENCH", "cost_benchmark", "efficiency_entry", "summarise", "speed_ratios"]

# what every repeat times (part of the efficiency stage's store key)
BENCH = {"threads": 1, "train_batch": 64, "train_steps": 60, "infer_batch": 1024, "infer_images": 5120}


def _time_training(model: nn.Module, X: torch.Tensor, y: torch.Tensor, batch: int, steps: int) -> float:
    """Seconds per image of ``steps`` Adam steps on consecutive batches (after one warm-up step)."""
    model.train().to(memory_format=torch.channels_last)  # as training.fit runs it
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, fused=True)
    loss_fn = nn.CrossEntropyLoss()

    def step(i: int) -> None:
        lo = (i * batch) % (len(X) - batch)
        opt.zero_grad(set_to_none=True)
        loss_fn(model(X[lo:lo + batch]), y[lo:lo + batch]).backward()
        opt.step()

    step(0)
    start = time.perf_counter()
    for i in range(1, steps + 1):
        step(i)
    return (time.perf_counter() - start) / (steps * batch)


@torch.inference_mode()
def _time_inference(model: nn.Module, X: torch.Tensor, batch: int) -> float:
    """Seconds per image of a forward pass and softmax over ``X`` (after a warm-up batch)."""
    model.eval().to(memory_format=torch.contiguous_format)
    torch.softmax(model(X[:batch]), 1)
    start = time.perf_counter()
    for lo in range(0, len(X), batch):
        torch.softmax(model(X[lo:lo + batch]), 1)
    return (time.perf_counter() - start) / len(X)


def cost_benchmark(factories: Mapping[str, Callable[[], nn.Module]], X: np.ndarray, repeats: int = 5,
                   seed: int = 0, labels: np.ndarray | None = None) -> pd.DataFrame:
    """Time training steps and inference of each model, interleaved, on one thread.

    Parameters
    ----------
    factories : dict
        ``{display name: callable returning a fresh model}``.
    X : ndarray, shape (N, 1, 28, 28)
        Images to train and predict on (N >= ``BENCH["infer_images"]``).
    repeats : int
        Rounds; each round times every model once per task, in an order that alternates.
    seed : int
        Initial weights of the fresh models and the random labels (timing does not depend on them).
    labels : ndarray, shape (N,), optional
        Training targets (default: random classes).

    Returns
    -------
    pandas.DataFrame
        One row per (repeat, model, task): ``repeat``, ``model``, ``task`` (``"train"`` or
        ``"inference"``), ``images_per_s``.
    """
    if repeats < 1:
        raise ValueError(f"repeats must be >= 1, got {repeats}.")
    n = BENCH["infer_images"]
    if len(X) < n:
        raise ValueError(f"The benchmark needs at least {n} images, got {len(X)}.")
    Xt = torch.as_tensor(np.ascontiguousarray(X[:n]), dtype=torch.float32)
    rng = np.random.default_rng(seed)
    yt = torch.as_tensor(labels[:n] if labels is not None else rng.integers(0, 10, n), dtype=torch.int64)
    threads = torch.get_num_threads()
    torch.set_num_threads(BENCH["threads"])
    rows, names = [], list(factories)
    try:
        for r in range(repeats):
            for name in (names if r % 2 == 0 else names[::-1]):  # alternate who goes first
                torch.manual_seed(seed)
                model = factories[name]()
                for task, seconds in (
                        ("train", _time_training(model, Xt, yt, BENCH["train_batch"], BENCH["train_steps"])),
                        ("inference", _time_inference(model, Xt, BENCH["infer_batch"]))):
                    rows.append({"repeat": r, "model": name, "task": task, "images_per_s": 1.0 / seconds})
    finally:
        torch.set_num_threads(threads)
    return pd.DataFrame(rows)


def efficiency_entry(data: dict, repeats: int, seed: int = 0) -> dict[str, pd.DataFrame]:
    """The efficiency stage's items: ``"complexity"`` (model, conv_layers, fc_layers, parameters,
    macs) and ``"timings"`` (:func:`cost_benchmark` of both models on the test images of
    ``data``, ``{"subset", "val_fraction", "data_seed"}``)."""
    X = get_arrays(val_fraction=data["val_fraction"], seed=data["data_seed"], subset=data["subset"])["test"][0]
    rows = [{"model": DISPLAY_NAMES[n], **{k: v for k, v in model_summary(MODELS[n]()).items()
                                           if k in ("conv_layers", "fc_layers", "parameters", "macs")}}
            for n in MODELS]
    timings = cost_benchmark({DISPLAY_NAMES[n]: MODELS[n] for n in MODELS}, X, repeats=repeats, seed=seed)
    return {"complexity": pd.DataFrame(rows), "timings": timings}


def summarise(timings: pd.DataFrame) -> pd.DataFrame:
    """Median and interquartile range of images per second, per model and task.

    Returns
    -------
    pandas.DataFrame
        ``model``, ``task``, ``median``, ``q25``, ``q75``, ``repeats``.
    """
    g = timings.groupby(["model", "task"], sort=False)["images_per_s"]
    return pd.DataFrame({"median": g.median(), "q25": g.quantile(0.25), "q75": g.quantile(0.75),
                         "repeats": g.size()}).reset_index()


def speed_ratios(timings: pd.DataFrame, fast: str, slow: str) -> dict[str, float]:
    """Per task, the median over repeats of ``fast``'s images/s divided by ``slow``'s (same repeat)."""
    wide = timings.pivot_table(index=["task", "repeat"], columns="model", values="images_per_s")
    ratio = (wide[fast] / wide[slow]).groupby(level="task").median()
    return {task: float(ratio[task]) for task in ratio.index}
