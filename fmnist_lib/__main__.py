"""``python -m fmnist_lib run [--profile quick|full] [--scheduler tcp://HOST:PORT]``: compute
every result of the report (the grid search on a Dask cluster when a scheduler is given)."""
from __future__ import annotations

import argparse
import sys
import time

from .cluster import SchedulerUnreachable, use_scheduler
from .config import PROFILES, get_profile


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m fmnist_lib", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="compute (or load) every stage of the study")
    run.add_argument("--profile", default=None,
                     help=f"one of {', '.join(sorted(PROFILES))} "
                          "(default: $FMNIST_PROFILE, $QUARTO_PROFILE, then full)")
    run.add_argument("--scheduler", default=None, metavar="tcp://HOST:PORT",
                     help="run the grid search on the Dask cluster of this scheduler "
                          "(default: $FMNIST_SCHEDULER; unset: on this machine)")
    args = parser.parse_args(argv)
    try:
        profile = get_profile(args.profile)
        scheduler = use_scheduler(args.scheduler)
    except (ValueError, SchedulerUnreachable) as err:
        parser.error(str(err))
    from .data import load_fashion_mnist
    from .store import default_store
    from .study import run_all

    load_fashion_mnist()  # fail now, with the data error, before any long work
    print(f"Profile {profile.name}: results in {default_store(profile.name).root}")
    if scheduler:
        print(f"Grid search on the Dask cluster at {scheduler}")
    start = time.perf_counter()
    run_all(profile)
    print(f"[{profile.name}] total         {time.perf_counter() - start:8.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
