"""python -m fmnist_lib: compute the report's results and look after the result store.

  run [--profile P] [--scheduler ADDR]    compute (or load) every stage of the study
                                          (the grid search on a Dask cluster, if given)
  check [--profile P] [--data-only]       check settings, data and results folder, then stop
  store list [--profile P]                the stored entries with their status
  store prune [--profile P] [--dry-run]   remove stale, damaged and partial entries
"""
from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from .config import PROFILES, get_profile
from .errors import EXIT_CODES, FmnistError, Stopped, debug_enabled, format_error

if TYPE_CHECKING:
    from .config import Profile
    from .pipeline.store import ResultStore

EPILOG = ("Expected errors print one message and exit with "
          + ", ".join(f"{code} ({name})" for name, code in EXIT_CODES.items())
          + "; 130 when interrupted (Ctrl-C), 143 on SIGTERM, 129 on SIGHUP; 1 with a traceback "
          "is a bug. --debug or FMNIST_DEBUG=1 shows the traceback of expected errors too.")
INTERRUPTED = 128 + 2  # the shell's code for SIGINT
# what a terminal (Ctrl-C, closing it), a job scheduler or a CI time-out sends to stop a run
STOP_SIGNALS = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name))
STOPPED_BY = {"SIGINT": "interrupted", "SIGTERM": "terminated (SIGTERM)", "SIGHUP": "hung up (SIGHUP)"}
RESUME = "finished stages are stored; run the same command again to resume."


def check_setup(profile_arg: str | None,
                *more_checks: Callable[[], object]) -> tuple[Profile, ResultStore, Path]:
    """Refuse unusable settings before any long work; returns ``(profile, store, data folder)``.

    ``FMNIST_PROFILE`` is checked even when ``--profile`` overrides it, then ``more_checks``
    (quick ones, such as the scheduler's), ``FMNIST_RESULTS`` (or ``results/``) must be
    writable and ``FMNIST_DATA`` (or the searched folders) must hold the intact official files.
    """
    from .pipeline.store import default_store

    if os.environ.get("FMNIST_PROFILE"):
        get_profile(None)  # a typo in the environment is an error, even when overridden
    profile = get_profile(profile_arg)
    for check in more_checks:
        check()
    store = default_store(profile.name)
    _warn_if_short_of_space(store.root)
    return profile, store, check_data()


def _warn_if_short_of_space(root: Path) -> None:
    from .pipeline.store_admin import space_warning

    warning = space_warning(root)
    if warning:
        logging.getLogger("fmnist_lib.store").warning(warning)


def check_data() -> Path:
    """The folder of the validated data set (four files, checksums); downloads only if allowed."""
    from .data import find_data_dir, load_fashion_mnist

    load_fashion_mnist()
    return find_data_dir()


def cmd_run(args: argparse.Namespace) -> int:
    from . import fused
    from .pipeline.cluster import use_scheduler
    from .pipeline.stages import run_all

    profile, store, data_dir = check_setup(args.profile, lambda: use_scheduler(args.scheduler), fused.backend)
    print(f"Profile {profile.name}: data from {data_dir}, results in {store.root}")
    print(f"Training on the CPU with {fused.status()}")
    if os.environ.get("FMNIST_SCHEDULER"):
        print(f"Grid search on the Dask cluster at {os.environ['FMNIST_SCHEDULER']}")
    start = time.perf_counter()
    run_all(profile)
    print(f"[{profile.name}] total         {time.perf_counter() - start:8.1f} s")
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    if args.data_only:
        print(f"Fashion-MNIST found in {check_data()}")
        return 0
    from . import fused
    from .pipeline.cluster import use_scheduler

    profile, store, data_dir = check_setup(args.profile, use_scheduler, fused.backend)  # $FMNIST_SCHEDULER too
    print(f"Profile {profile.name}: Fashion-MNIST found in {data_dir}; results in {store.root} (writable)")
    print(f"Training on the CPU with {fused.status()}")
    return 0


def _stores(profile_arg: str | None):
    from .pipeline.store import ResultStore, results_root

    root = results_root()  # listed as it is: nothing is created
    if profile_arg is not None:
        return [ResultStore(root / get_profile(profile_arg).name)]
    folders = sorted(p for p in root.iterdir() if p.is_dir()) if root.is_dir() else []
    return [ResultStore(p) for p in folders] or [ResultStore(root)]


def cmd_store(args: argparse.Namespace) -> int:
    from .pipeline.store_admin import format_entries, prune, scan

    for store in _stores(args.profile):
        if args.store_command == "list":
            print(format_entries(scan(store), store.root))
            continue
        removed = prune(store, dry_run=args.dry_run)
        verb = "would remove" if args.dry_run else "removed"
        for entry in removed:
            print(f"{verb} {entry.folder}  ({entry.status}: {entry.reason})")
        print(f"{verb} {len(removed)} entries, {sum(e.size for e in removed) / 1e6:.2f} MB, "
              f"from {store.root}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The command line; each sub-command is a small block, easy to extend."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                        help="show the traceback of expected errors too (or FMNIST_DEBUG=1)")
    profile = argparse.ArgumentParser(add_help=False)
    profile.add_argument("--profile", default=None, metavar="NAME",
                         help=f"one of {', '.join(sorted(PROFILES))} "
                              "(default: $FMNIST_PROFILE, $QUARTO_PROFILE, then full)")
    parser = argparse.ArgumentParser(prog="python -m fmnist_lib", description=__doc__, epilog=EPILOG,
                                     parents=[common], formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = sub.add_parser("run", parents=[common, profile], help="compute (or load) every stage of the study")
    run.add_argument("--scheduler", default=None, metavar="tcp://HOST:PORT",
                     help="run the grid search on the Dask cluster of this scheduler "
                          "(default: $FMNIST_SCHEDULER; unset: on this machine)")
    run.set_defaults(func=cmd_run)

    check = sub.add_parser("check", parents=[common, profile],
                           help="check the settings, the data and the results folder, then stop")
    check.add_argument("--data-only", action="store_true", help="check only the data set")
    check.set_defaults(func=cmd_check)

    store = sub.add_parser("store", help="list or prune the result store")
    store_sub = store.add_subparsers(dest="store_command", required=True, metavar="ACTION")
    store_sub.add_parser("list", parents=[common, profile], epilog="Without --profile: every profile.",
                         help="every entry with its status: current, stale, damaged, set aside, partial")
    prune = store_sub.add_parser("prune", parents=[common, profile], epilog="Without --profile: every profile.",
                                 help="remove stale, damaged, set-aside and partial entries")
    prune.add_argument("--dry-run", action="store_true", help="only say what would be removed")
    store.set_defaults(func=cmd_store)
    return parser


def _stop(signum: int, frame: object) -> None:
    """Signal handler: stop the run as Ctrl-C does; a second signal acts at once (its default)."""
    for sig, previous in _PREVIOUS.items():
        signal.signal(sig, previous)
    raise Stopped(signum)


_PREVIOUS: dict[int, object] = {}


def _catch_stop_signals() -> dict[int, object]:
    """Route ``STOP_SIGNALS`` to :func:`_stop`; returns the handlers to restore (none off the main thread)."""
    import threading

    if threading.current_thread() is not threading.main_thread():
        return {}
    _PREVIOUS.update({sig: signal.signal(sig, _stop) for sig in STOP_SIGNALS})
    return dict(_PREVIOUS)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    debug = getattr(args, "debug", False) or debug_enabled()
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(levelname)s: %(message)s"))
    logging.getLogger("fmnist_lib").addHandler(handler)
    previous = _catch_stop_signals()
    try:
        return args.func(args)
    except FmnistError as err:
        if debug:
            raise
        print(format_error(err), file=sys.stderr)
        return err.exit_code
    except Stopped as err:  # joblib killed its workers on the way up; the store kept whole entries
        if debug:
            raise
        print(f"{STOPPED_BY.get(str(err), str(err))}: {RESUME}", file=sys.stderr)
        return err.exit_code
    except KeyboardInterrupt:
        if debug:
            raise
        print(f"interrupted: {RESUME}", file=sys.stderr)
        return INTERRUPTED
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)
        _PREVIOUS.clear()
        logging.getLogger("fmnist_lib").removeHandler(handler)


if __name__ == "__main__":
    sys.exit(main())
