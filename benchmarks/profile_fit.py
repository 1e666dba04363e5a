"""Per-operator profile of one epoch of ``fit`` (torch profiler, one thread), plus page faults.

One warm-up epoch, then one profiled epoch of ``fit`` on ``--images`` training images, batch 64;
prints the profiler's table (self CPU time per operator, top ``--rows``) and the epoch's minor
page faults and this thread's CPU time. ``--no-keep-freed-memory`` skips
``training.keep_freed_memory`` (the "before"); run under ``MALLOC_TRIM_THRESHOLD_=65536`` to
see what a Dask nanny's workers see.

    MALLOC_TRIM_THRESHOLD_=65536 python benchmarks/profile_fit.py --no-keep-freed-memory
    MALLOC_TRIM_THRESHOLD_=65536 python benchmarks/profile_fit.py
"""
from __future__ import annotations

import argparse
import math
import resource
import time

import torch
from torch.profiler import ProfilerActivity, profile

from fmnist_lib import training
from fmnist_lib.config import TrainConfig
from fmnist_lib.data import get_data_loaders
from fmnist_lib.models import MODELS


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="lenet", choices=sorted(MODELS))
    parser.add_argument("--images", type=int, default=6000)
    parser.add_argument("--rows", type=int, default=12)
    parser.add_argument("--no-keep-freed-memory", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(1)
    if args.no_keep_freed_memory:
        training.keep_freed_memory = lambda: False
    subset = next(s for s in range(args.images, 60001) if s - math.ceil(0.1 * s) == args.images)
    loaders = get_data_loaders(64, subset=subset, device="cpu")[:2]
    config = TrainConfig(epochs=1, batch_size=64, lr=1e-3, seed=0, progress=False)
    model = training.build_model(args.model, seed=0)
    training.fit(model, loaders, config)  # warm-up: oneDNN builds its kernels
    faults, cpu = resource.getrusage(resource.RUSAGE_SELF).ru_minflt, time.thread_time()
    training.fit(model, loaders, config)
    faults, cpu = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - faults, time.thread_time() - cpu
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        training.fit(model, loaders, config)
    state = ("off" if args.no_keep_freed_memory else "on" if hasattr(training, "keep_freed_memory")
             else "absent (a tree from before issue 20)")
    print(f"{args.model}, {args.images:,} images, keep_freed_memory {state}: {faults:,} minor page faults, "
          f"{cpu:.2f} s CPU ({args.images / cpu:,.0f} images/s) for one unprofiled epoch")
    print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=args.rows,
                                    max_name_column_width=36))


if __name__ == "__main__":
    main()
