"""Training: one step, evaluation, ``fit`` with history, weights on disk."""
from __future__ import annotations

import copy
import ctypes
import ctypes.util
import functools
import os
import tempfile
import time
from pathlib import Path
from typing import Callable, Iterable

import pandas as pd
import torch
from torch import nn
from tqdm import tqdm  # plain text bar: no widget warning inside Jupyter kernels

from .config import TrainConfig
from .data import TensorLoader
from .fused import use_kernels
from .models import MODELS

__all__ = [
    "default_device", "keep_freed_memory", "build_model", "train_step", "evaluate", "fit", "save_weights",
    "load_weights",
]

Batch = tuple[torch.Tensor, torch.Tensor]
# a mean cross-entropy this high means diverged: chance level over 10 classes is ln 10 = 2.3
DIVERGED_LOSS = 1e3


def default_device() -> torch.device:
    """CUDA when available, else the CPU."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


# glibc's mallopt parameters (malloc.h) and the sizes set: above the largest activation a
# step allocates (batch 512, Simple CNN width 16: 512 x 16 x 28 x 28 floats = 26 MB)
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
_MMAP_BYTES, _TRIM_BYTES = 64 << 20, 256 << 20


@functools.cache
def keep_freed_memory() -> bool:
    """Let glibc keep freed activation buffers for reuse instead of handing them back to the OS.

    glibc serves every block above ``M_MMAP_THRESHOLD`` with a fresh ``mmap`` and unmaps it on
    ``free``; its threshold adapts upwards by itself, unless ``MALLOC_TRIM_THRESHOLD_`` or
    ``MALLOC_MMAP_THRESHOLD_`` is set, as Dask's nanny sets it (64 KiB) for every worker. Then
    each step's activations page-fault anew (measured: LeNet-5 1.4x and the Simple CNN 2x
    slower per epoch, ``benchmarks/README.md``). Raising both thresholds once, in the process
    that trains, keeps them in the heap; the arithmetic is untouched. Process-wide and
    idempotent; ``False`` where the C library is not glibc (nothing changed).
    """
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name)
        mallopt = libc.mallopt
    except (OSError, AttributeError, TypeError):  # not glibc (macOS, musl without mallopt)
        return False
    return bool(mallopt(_M_MMAP_THRESHOLD, _MMAP_BYTES)) and bool(mallopt(_M_TRIM_THRESHOLD, _TRIM_BYTES))


def build_model(name: str, seed: int = 0, **kwargs) -> nn.Module:
    """``MODELS[name](**kwargs)`` initialised from ``seed`` (``name``: ``"simple"`` or ``"lenet"``)."""
    if name not in MODELS:
        raise ValueError(f"Unknown model {name!r}; choose one of {sorted(MODELS)}.")
    torch.manual_seed(seed)
    return MODELS[name](**kwargs)


def train_step(model: nn.Module, batch: Batch, optimizer: torch.optim.Optimizer,
               loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """One optimisation step on ``batch = (x (B, 1, 28, 28), y (B,))``, as ``fit`` runs it per batch.

    Returns the detached batch loss (a 0-d tensor: ``.item()`` it for a float) and logits
    ``(B, 10)``, without a host sync, so an epoch syncs once.
    """
    x, y = batch
    optimizer.zero_grad(set_to_none=True)
    logits = model(x)
    loss = loss_fn(logits, y)
    loss.backward()
    optimizer.step()
    return loss.detach(), logits.detach()


def _eval_batches(loader: Iterable[Batch], size: int = 1024) -> Iterable[Batch]:
    if isinstance(loader, TensorLoader):
        # resident tensors: a few large slices instead of many small batches (same rows, and
        # a shuffling loader's generator is left alone, so evaluating never changes training)
        for start in range(0, len(loader.X), size):
            yield loader.X[start:start + size], loader.y[start:start + size]
    else:
        yield from loader


@torch.inference_mode()
def evaluate(model: nn.Module, loader: Iterable[Batch],
             loss_fn: Callable | None = None) -> tuple[float, float]:
    """Mean loss and accuracy of ``model`` over ``loader``; the model's mode is restored.

    Parameters
    ----------
    model : nn.Module
        Run in eval mode, without autograd (``torch.inference_mode``).
    loader : iterable of (x (B, 1, 28, 28), y (B,))
        A ``TensorLoader`` is read in slices of 1,024 rows, whatever its batch size.
    loss_fn : callable, optional
        Default: summed cross-entropy.

    Returns
    -------
    (float, float)
        Mean loss per image and accuracy.
    """
    loss_fn = loss_fn or nn.CrossEntropyLoss(reduction="sum")
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    total_loss, correct, n = torch.zeros((), device=device), torch.zeros((), device=device), 0
    try:
        for x, y in _eval_batches(loader):
            x, y = x.to(device), y.to(device)
            logits = model(x)
            loss = loss_fn(logits, y)
            total_loss += loss if loss_fn.reduction == "sum" else loss * len(y)
            correct += (logits.argmax(1) == y).sum()  # accumulated on the device: one sync
            n += len(y)
    finally:
        model.train(was_training)
    if n == 0:
        raise ValueError("evaluate() got an empty loader.")
    return float(total_loss) / n, float(correct) / n


def _train_epoch(model, train, optimizer, loss_fn, device) -> tuple[float, float]:
    """One pass over ``train``; mean loss and accuracy, with one host sync at the end."""
    model.train()
    loss_sum, correct, n = torch.zeros((), device=device), torch.zeros((), device=device), 0
    for x, y in train:
        x, y = x.to(device), y.to(device)  # no-ops for a TensorLoader on ``device``
        loss, logits = train_step(model, (x, y), optimizer, loss_fn)
        loss_sum += loss * len(y)
        correct += (logits.argmax(1) == y).sum()
        n += len(y)
    return float(loss_sum) / n, float(correct) / n


def fit(model: nn.Module, loaders: tuple, config: TrainConfig, track_test: bool = False) -> pd.DataFrame:
    """Train ``model`` with AdamW (decoupled weight decay; Adam when it is 0) on ``loaders``.

    Parameters
    ----------
    model : nn.Module
        Trained in place, on the device of the training tensors.
    loaders : tuple
        ``(train, val)`` or ``(train, val, test)``; the test loader is only read with
        ``track_test``.
    config : TrainConfig
        Epochs, batch size (of the loaders), lr and its schedule, weight decay, seed,
        early stopping, and the CPU kernels (``kernels``: ``"fused"`` raises ``ConfigError``
        before training where they are not available).
    track_test : bool
        Also evaluate the test loader after every epoch (``test_loss, test_acc`` columns),
        for the paper's accuracy-against-epochs figure: nothing here reads them, so no choice
        (early stopping, the schedule) ever depends on the test set.

    Returns
    -------
    pandas.DataFrame
        One row per epoch: ``epoch, train_loss, train_acc, val_loss, val_acc, seconds``
        (``seconds``: the epoch's training and validation; the test pass is not timed).
        With early stopping, the best epoch's weights are restored and its number is in
        ``history.attrs["best_epoch"]``.
    """
    with use_kernels(config.kernels):  # checked before anything trains
        return _fit(model, loaders, config, track_test)


def _fit(model: nn.Module, loaders: tuple, config: TrainConfig, track_test: bool) -> pd.DataFrame:
    train, val = loaders[0], loaders[1]
    keep_freed_memory()  # before the first step: see its docstring
    device = getattr(train, "X", torch.empty(0, device=default_device())).device
    # channels_last: oneDNN (CPU) and cuDNN pick faster kernels; for 1-channel input the
    # batches are already in that layout, so only the conv weights change (back at the end)
    model.to(device=device, memory_format=torch.channels_last)
    torch.manual_seed(config.seed)  # dropout
    if hasattr(train, "generator"):
        train.generator.manual_seed(config.seed)  # batch order
    if track_test and len(loaders) < 3:
        raise ValueError("fit(track_test=True) needs loaders = (train, val, test).")
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay,
                                  fused=device.type in ("cpu", "cuda"))  # one kernel per step
    scheduler = (torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=config.epochs)
                 if config.lr_schedule == "cosine" else None)
    loss_fn = nn.CrossEntropyLoss()
    rows, best_loss, best_state, best_epoch, stale = [], float("inf"), None, config.epochs, 0
    bar = tqdm(range(1, config.epochs + 1), desc=type(model).__name__, disable=not config.progress,
               leave=False)
    try:
        for epoch in bar:
            start = time.perf_counter()
            train_loss, train_acc = _train_epoch(model, train, optimizer, loss_fn, device)
            if not train_loss < DIVERGED_LOSS:  # also catches nan
                raise FloatingPointError(
                    f"Training diverged at epoch {epoch}: mean training loss {train_loss:.3g} "
                    f"(chance level 2.3). Lower the learning rate (lr={config.lr:g}).")
            val_loss, val_acc = evaluate(model, val)
            rows.append(dict(epoch=epoch, train_loss=train_loss, train_acc=train_acc,
                             val_loss=val_loss, val_acc=val_acc, seconds=time.perf_counter() - start))
            if track_test:
                rows[-1]["test_loss"], rows[-1]["test_acc"] = evaluate(model, loaders[2])
            bar.set_postfix(val_acc=f"{val_acc:.3f}")
            if scheduler is not None:
                scheduler.step()
            if config.patience is not None:
                if val_loss < best_loss:
                    best_loss, best_epoch, stale = val_loss, epoch, 0
                    best_state = copy.deepcopy(model.state_dict())
                else:
                    stale += 1
                    if stale >= config.patience:
                        break
    finally:
        bar.close()
        model.to(memory_format=torch.contiguous_format)  # handed back as it came, even on error
    if best_state is not None:
        model.load_state_dict(best_state)
    model.eval()
    history = pd.DataFrame(rows)
    history.attrs["best_epoch"] = best_epoch if config.patience is not None else len(rows)
    return history


def save_weights(model: nn.Module, path: str | Path) -> Path:
    """Write ``model.state_dict()`` atomically (temporary file, then rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
        torch.save(state, tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


def load_weights(model: nn.Module, path: str | Path) -> nn.Module:
    """Load a state dict written by :func:`save_weights` (``weights_only=True``) into ``model``."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"No weights at {path}; train the model first (fit + save_weights).")
    state = torch.load(path, map_location="cpu", weights_only=True)
    model.load_state_dict(state)
    return model
