"""Batches per second: our resident-tensor loader versus the torchvision tutorial pipeline.

One epoch of training batches (batch 64, shuffled, no model) from
``fmnist_lib.get_data_loaders`` and from ``torchvision.datasets.FashionMNIST`` +
``ToTensor`` + ``Normalize`` + ``DataLoader``, side by side in one run, on the CPU.
One-time setup (reading and validating the files, building the datasets) is timed
separately and left out of the rates.

    python benchmarks/bench_data.py [--epochs 3]
"""
from __future__ import annotations

import argparse
import gzip
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import torch

from fmnist_lib.data import FILES, _file_in, find_data_dir, get_data_loaders

MEAN, STD = 0.2860, 0.3530  # the tutorial's constants


def tutorial_dataset(root: Path, train: bool = True):
    """torchvision's FashionMNIST with the tutorial transform, from our local files.

    torchvision only reads un-gzipped files laid out as ``<root>/FashionMNIST/raw/*-ubyte``
    and cannot download here, so the official files are decompressed into ``root`` first.
    """
    from torchvision import datasets, transforms

    raw = root / "FashionMNIST" / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    source = find_data_dir(download=False)
    for name in FILES:
        path, target = _file_in(source, name), raw / name
        if not target.exists():
            if path.suffix == ".gz":
                with gzip.open(path) as src, open(target, "wb") as dst:
                    shutil.copyfileobj(src, dst)
            else:
                shutil.copyfile(path, target)
    transform = transforms.Compose([transforms.ToTensor(), transforms.Normalize((MEAN,), (STD,))])
    return datasets.FashionMNIST(root, train=train, download=False, transform=transform)


def epoch_rate(loader) -> tuple[float, int]:
    """Images per second of one pass over ``loader`` (the batches are only counted)."""
    n, start = 0, time.perf_counter()
    for x, y in loader:
        n += len(y)
    return n / (time.perf_counter() - start), n


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=3, help="epochs timed per pipeline (median)")
    parser.add_argument("--batch-size", type=int, default=64)
    args = parser.parse_args()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, CPU, batch {args.batch_size}")

    start = time.perf_counter()
    ours = get_data_loaders(args.batch_size, device="cpu")[0]
    ours_setup = time.perf_counter() - start

    with tempfile.TemporaryDirectory() as tmp:
        from torch.utils.data import DataLoader

        start = time.perf_counter()
        dataset = tutorial_dataset(Path(tmp))
        tutorial = DataLoader(dataset, batch_size=args.batch_size, shuffle=True)
        tutorial_setup = time.perf_counter() - start

        rates, sizes = {"ours": [], "tutorial": []}, {}
        for _ in range(args.epochs):  # alternate, so load from elsewhere hits both alike
            for name, loader in (("tutorial", tutorial), ("ours", ours)):
                rate, n = epoch_rate(loader)
                rates[name].append(rate)
                sizes[name] = n

    print(f"{'pipeline':<10} {'images/epoch':>12} {'setup s':>8} {'images/s (median)':>18}  runs")
    for name, setup in (("tutorial", tutorial_setup), ("ours", ours_setup)):
        runs = ", ".join(f"{r:,.0f}" for r in rates[name])
        print(f"{name:<10} {sizes[name]:>12,} {setup:>8.2f} {statistics.median(rates[name]):>18,.0f}  {runs}")
    ratio = statistics.median(rates["ours"]) / statistics.median(rates["tutorial"])
    print(f"ratio ours / tutorial: {ratio:,.1f}x (target >= 10x)")


if __name__ == "__main__":
    main()
