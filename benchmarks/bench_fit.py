"""Training throughput of ``fit`` against three loops, and the share of the machine each reaches.

Four ways to train the same freshly seeded model for one epoch, Adam (lr 1e-3), batch 64,
on ``--images`` training images, on ``--threads`` torch threads (1 by default: every compared
run and search fit trains on one), interleaved round by round so that other load on the
machine hits all four alike:

- plain: the well-written loop of issue 20: resident normalised tensors, ``channels_last``,
  fused Adam, ``randperm`` shuffling, ``zero_grad / forward / backward / step``, with the
  models' forward as it was when the issue was filed (``classifier(flatten(features(x)))``);
- plain-now: the same loop calling ``model(x)``, so it gets what ``models.py`` gained since
  (the fused CPU kernels of :mod:`fmnist_lib.fused` in training mode, and the Simple CNN's
  channels-last classifier path): what is left of fit's lead over it is fit's own;
- fit: ``fmnist_lib.training.fit`` on ``get_data_loaders`` (its end-of-epoch validation pass
  over the held-out tenth is included in its time, the others make none);
- fit-pytorch: the same ``fit`` with ``TrainConfig(kernels="pytorch")``: PyTorch's own kernels,
  what a machine without a C++ compiler trains with (``fit`` before the fused kernels);
- skorch: ``NeuralNetClassifier`` with its defaults (a ``DataLoader`` over
  ``skorch.dataset.Dataset``, no internal validation split) on our model, whose forward uses
  the fused kernels in training mode as in the grid search;
- tutorial: ``torchvision.datasets.FashionMNIST`` + ``ToTensor`` + ``Normalize`` +
  ``DataLoader(shuffle=True)`` feeding the plain loop's steps on a contiguous model.

Each side's rate is reported two ways, as medians over ``--runs`` rounds: wall clock, and
this thread's CPU time (``time.thread_time``: what the machine's other processes cannot
inflate; page faults count in it). The machine's float32 matrix-product rate is measured on
the same threads (best of a few 1024 x 1024 products), and each side's share of it is
``images/s x FLOP per image / matmul FLOP/s`` with 6 x the forward multiply-adds per image
(``models.count_macs``: 2 FLOP per multiply-add, backward about twice the forward).

``--no-keep-freed-memory`` skips ``training.keep_freed_memory`` (glibc's thresholds stay as
the environment set them); with ``MALLOC_TRIM_THRESHOLD_=65536`` in the environment, as Dask's
nanny sets it, that is the "before" of the allocator change (see README.md).

    python benchmarks/bench_fit.py [--runs 5] [--images 12000] [--models lenet simple] [--threads 1]
"""
from __future__ import annotations

import argparse
import math
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, Subset

from bench_data import tutorial_dataset
from fmnist_lib import fused, training
from fmnist_lib.config import TrainConfig
from fmnist_lib.data import get_data_loaders
from fmnist_lib.models import DISPLAY_NAMES, MODELS, count_macs
from fmnist_lib.training import build_model, fit

SIDES = ("plain", "plain-now", "fit", "fit-pytorch", "skorch", "tutorial")


def timed(work) -> tuple[float, float]:
    """(wall seconds, this thread's CPU seconds) of ``work()``."""
    wall, cpu = time.perf_counter(), time.thread_time()
    work()
    return time.perf_counter() - wall, time.thread_time() - cpu


def plain_epoch(name: str, X: torch.Tensor, y: torch.Tensor, as_filed: bool) -> tuple[float, float]:
    model = build_model(name, seed=0).to(memory_format=torch.channels_last)
    # the forward of both models when issue 20 was filed (the input checks aside)
    forward = (lambda x: model.classifier(torch.flatten(model.features(x), 1))) if as_filed else model
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3, fused=True)
    loss_fn = nn.CrossEntropyLoss()
    generator = torch.Generator().manual_seed(0)
    model.train()

    def work():
        perm = torch.randperm(len(X), generator=generator)
        for start in range(0, len(X), 64):
            idx = perm[start:start + 64]
            optimizer.zero_grad()
            loss_fn(forward(X[idx]), y[idx]).backward()
            optimizer.step()
    return timed(work)


def fit_epoch(name: str, loaders: tuple, kernels: str = "auto") -> tuple[float, float]:
    model = build_model(name, seed=0)
    config = TrainConfig(epochs=1, batch_size=64, lr=1e-3, seed=0, progress=False, kernels=kernels)
    return timed(lambda: fit(model, loaders, config))


def skorch_epoch(name: str, X: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    from skorch import NeuralNetClassifier

    torch.manual_seed(0)
    net = NeuralNetClassifier(MODELS[name], criterion=nn.CrossEntropyLoss, optimizer=torch.optim.Adam,
                              lr=1e-3, batch_size=64, max_epochs=1, train_split=None, verbose=0,
                              iterator_train__shuffle=True, device="cpu")
    return timed(lambda: net.fit(X, y))


def tutorial_epoch(name: str, loader: DataLoader) -> tuple[float, float]:
    model = build_model(name, seed=0)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = nn.CrossEntropyLoss()
    model.train()

    def work():
        for x, y in loader:
            optimizer.zero_grad()
            loss_fn(model(x), y).backward()
            optimizer.step()
    return timed(work)


def matmul_rate(n: int = 1024, repeats: int = 7) -> float:
    """Best float32 FLOP/s of an ``n x n`` by ``n x n`` product (CPU time, this thread)."""
    a, b = torch.randn(n, n), torch.randn(n, n)
    a @ b  # warm-up
    best = math.inf
    for _ in range(repeats):
        start = time.thread_time()
        for _ in range(4):
            a @ b
        best = min(best, (time.thread_time() - start) / 4)
    return 2 * n ** 3 / best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--images", type=int, default=12000, help="training images per epoch")
    parser.add_argument("--models", nargs="+", default=["lenet", "simple"], choices=sorted(MODELS))
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--sides", nargs="+", default=list(SIDES), choices=SIDES)
    parser.add_argument("--no-keep-freed-memory", action="store_true",
                        help="leave glibc's malloc thresholds as the environment set them")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.no_keep_freed_memory:
        training.keep_freed_memory = lambda: False  # fit calls it through the module
    else:
        training.keep_freed_memory()  # every side gets the same allocator

    # a stratified subset whose training split holds exactly `images` images (val: the rest)
    subset = next(s for s in range(args.images, 60001) if s - math.ceil(0.1 * s) == args.images)
    loaders = get_data_loaders(64, subset=subset, device="cpu")[:2]
    X, y = loaders[0].X, loaders[0].y
    assert len(y) == args.images, len(y)
    rate = matmul_rate()
    print(f"torch {torch.__version__}, CPU, {args.threads} thread(s), batch 64, {args.images:,} "
          f"training images per epoch, {args.runs} interleaved rounds, medians; "
          f"keep_freed_memory {'off' if args.no_keep_freed_memory else 'on'}")
    print(f"float32 matmul 1024x1024 on {args.threads} thread(s): {rate / 1e9:.1f} GFLOP/s")
    print(f"training kernels: {fused.status()}")
    with tempfile.TemporaryDirectory() as tmp:
        tutorial = DataLoader(Subset(tutorial_dataset(Path(tmp)), range(args.images)),
                              batch_size=64, shuffle=True)
        run = {"plain": lambda n: plain_epoch(n, X, y, True),
               "plain-now": lambda n: plain_epoch(n, X, y, False), "fit": lambda n: fit_epoch(n, loaders),
               "fit-pytorch": lambda n: fit_epoch(n, loaders, "pytorch"),
               "skorch": lambda n: skorch_epoch(n, X.numpy(), y.numpy()),
               "tutorial": lambda n: tutorial_epoch(n, tutorial)}
        for name in args.models:
            flop = 6 * count_macs(build_model(name))
            for side in args.sides:  # one untimed warm-up each: oneDNN builds its kernels
                run[side](name)
            times = {side: [] for side in args.sides}
            for _ in range(args.runs):
                for side in args.sides:
                    times[side].append(run[side](name))
            print(f"\n{DISPLAY_NAMES[name]} ({flop / 1e6:.2f} MFLOP per image, forward + backward)")
            print(f"{'side':<11} {'img/s wall':>11} {'img/s CPU':>10} {'vs plain':>9} "
                  f"{'matmul share':>13}  wall img/s per round")
            plain = (args.images / statistics.median(c for _, c in times["plain"])
                     if "plain" in times else None)
            for side, ts in times.items():
                wall = args.images / statistics.median(w for w, _ in ts)
                cpu = args.images / statistics.median(c for _, c in ts)
                ratio = f"{cpu / plain:.2f}x" if plain else "-"
                rounds = ", ".join(f"{args.images / w:,.0f}" for w, _ in ts)
                print(f"{side:<11} {wall:>11,.0f} {cpu:>10,.0f} {ratio:>9} "
                      f"{cpu * flop / rate:>12.1%}  {rounds}")
    print("\n'vs plain' and the share use CPU time; target: fit >= 1.5x plain for LeNet-5 "
          "(aim 2x), >= 1.3x for the Simple CNN, on one thread")


if __name__ == "__main__":
    main()
