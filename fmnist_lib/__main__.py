"""``python -m fmnist_lib run --profile quick|full``: compute every result of the report."""
from __future__ import annotations

import argparse
import sys
import time

from .config import PROFILES, get_profile


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m fmnist_lib", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="compute (or load) every stage of the study")
    run.add_argument("--profile", default=None,
                     help=f"one of {', '.join(sorted(PROFILES))} "
                          "(default: $FMNIST_PROFILE, $QUARTO_PROFILE, then full)")
    args = parser.parse_args(argv)
    try:
        profile = get_profile(args.profile)
    except ValueError as err:
        parser.error(str(err))
    from .data import load_fashion_mnist
    from .store import default_store
    from .study import run_all

    load_fashion_mnist()  # fail now, with the data error, before any long work
    print(f"Profile {profile.name}: results in {default_store(profile.name).root}")
    start = time.perf_counter()
    run_all(profile)
    print(f"[{profile.name}] total         {time.perf_counter() - start:8.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
