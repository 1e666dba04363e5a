"""Training images per second: ``fmnist_lib.fit`` versus the torchvision tutorial loop.

Both sides train the same freshly seeded model for one epoch on the same number of
training images, with Adam (lr 1e-3) and batch 64, on the CPU:

- ours: ``fit`` on ``get_data_loaders`` (resident tensors); its time includes ``fit``'s
  validation pass at the end of the epoch, which the tutorial loop does not make;
- tutorial: ``torchvision.datasets.FashionMNIST`` + ``ToTensor`` + ``Normalize`` +
  ``DataLoader(shuffle=True)`` and a plain ``zero_grad / forward / backward / step`` loop.

Runs alternate (tutorial, ours, tutorial, ours, ...) so load from elsewhere on the machine
hits both alike; the median of ``--runs`` runs is reported. Setup is not timed.

    python benchmarks/bench_training.py [--runs 3] [--images 12000] [--models lenet simple]
"""
from __future__ import annotations

import argparse
import math
import statistics
import tempfile
import time
from pathlib import Path

import torch
from torch import nn
from torch.utils.data import DataLoader, Subset

from bench_data import tutorial_dataset
from fmnist_lib.config import TrainConfig
from fmnist_lib.data import get_data_loaders
from fmnist_lib.training import build_model, fit

NAMES = {"lenet": "LeNet5", "simple": "SimpleCNN"}


def tutorial_run(name: str, loader: DataLoader) -> float:
    """Images per second of one epoch of the tutorial's training loop."""
    model = build_model(name, seed=0)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = nn.CrossEntropyLoss()
    model.train()
    n, start = 0, time.perf_counter()
    for x, y in loader:
        optimizer.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        optimizer.step()
        n += len(y)
    return n / (time.perf_counter() - start)


def ours_run(name: str, loaders: tuple) -> float:
    """Training images per second of one epoch of ``fit`` (validation pass included)."""
    model = build_model(name, seed=0)
    config = TrainConfig(epochs=1, batch_size=64, lr=1e-3, seed=0, progress=False)
    start = time.perf_counter()
    fit(model, loaders, config)
    return len(loaders[0].y) / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--images", type=int, default=12000, help="training images per run")
    parser.add_argument("--models", nargs="+", default=["lenet", "simple"], choices=NAMES)
    args = parser.parse_args()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, CPU, batch 64, "
          f"{args.images:,} training images per run, {args.runs} runs each")

    # a stratified subset whose training split holds exactly `images` images (val: the rest)
    subset = next(s for s in range(args.images, 60001) if s - math.ceil(0.1 * s) == args.images)
    loaders = get_data_loaders(64, subset=subset, device="cpu")[:2]
    assert len(loaders[0].y) == args.images, len(loaders[0].y)
    with tempfile.TemporaryDirectory() as tmp:
        dataset = Subset(tutorial_dataset(Path(tmp)), range(args.images))
        tutorial = DataLoader(dataset, batch_size=64, shuffle=True)
        rates = {}
        for name in args.models:
            rates[name] = {"tutorial": [], "ours": []}
            for _ in range(args.runs):
                rates[name]["tutorial"].append(tutorial_run(name, tutorial))
                rates[name]["ours"].append(ours_run(name, loaders))

    print(f"{'model':<10} {'tutorial img/s':>15} {'ours img/s':>11} {'ratio':>6}  runs (tutorial | ours)")
    for name, r in rates.items():
        tut, ours = statistics.median(r["tutorial"]), statistics.median(r["ours"])
        runs = " | ".join(", ".join(f"{v:,.0f}" for v in r[k]) for k in ("tutorial", "ours"))
        print(f"{NAMES[name]:<10} {tut:>15,.0f} {ours:>11,.0f} {ours / tut:>5.2f}x  {runs}")
    print("target: >= 2.5x for LeNet5 (stretch 3x)")


if __name__ == "__main__":
    main()
