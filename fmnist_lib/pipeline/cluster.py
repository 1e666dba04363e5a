"""Independent training on an existing Dask cluster: ``--scheduler`` or ``FMNIST_SCHEDULER``.

``python -m fmnist_lib run --scheduler tcp://HOST:PORT`` (or ``FMNIST_SCHEDULER=tcp://HOST:PORT``
for ``make report`` and ``quarto render``) sends the fits of the cross-validated search and the
seed runs (baseline and tuned finals) to the cluster behind that scheduler. Every fit is seeded
inside itself and trains on one torch thread, so its numbers are the ones a run on this machine
gives, and the result store keys them the same way: where it ran is not part of what it is.
Every other stage (the store, calibration, Grad-CAM, the figures) runs here.
"""
from __future__ import annotations

import os
import socket
from urllib.parse import urlsplit

from ..errors import ConfigError

__all__ = ["ENV", "SchedulerUnreachable", "scheduler_address", "check_scheduler", "use_scheduler",
           "grid_backend", "run_on_cluster"]

ENV = "FMNIST_SCHEDULER"
_FIX = (f"Start the cluster first (`dask scheduler` on one machine, `dask worker ADDRESS` on each "
        f"of the others), correct the address, or drop --scheduler and unset {ENV} to run the "
        f"grid search on this machine.")


class SchedulerUnreachable(ConfigError, ConnectionError):
    """No Dask scheduler answers at the address given (a setting that cannot be used: exit 2)."""


def scheduler_address(address: str | None = None) -> str | None:
    """The scheduler's address, ``tcp://HOST:PORT``, from ``address`` or ``$FMNIST_SCHEDULER``.

    ``HOST:PORT`` without a scheme means ``tcp://``. Returns ``None`` when neither is set
    (the search runs on this machine).

    Raises
    ------
    ConfigError
        (a ``ValueError``) for an address that is not ``tcp://HOST:PORT``, naming where it came from.
    """
    source = "--scheduler"
    if address is None:
        address, source = os.environ.get(ENV) or None, ENV
    if address is None:
        return None
    text = address.strip()
    parts = urlsplit(text if "://" in text else f"tcp://{text}")
    try:
        port = parts.port
    except ValueError:  # a port that is not a number or is out of range
        port = None
    if parts.scheme != "tcp" or not parts.hostname or port is None or parts.path not in ("", "/"):
        raise ConfigError(f"{source}={address}" if source == ENV else f"{source} {address!r}",
                          "not a Dask scheduler address of the form tcp://HOST:PORT, e.g. "
                          "tcp://10.0.0.5:8786 (the address `dask scheduler` prints)", _FIX)
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    return f"tcp://{host}:{port}"


def _identity(address: str, timeout: float) -> dict:
    """The scheduler's answer to Dask's ``identity`` call, within ``timeout`` seconds."""
    import asyncio
    from concurrent.futures import ThreadPoolExecutor

    from distributed.core import rpc

    async def ask() -> dict:
        async with rpc(address, timeout=timeout) as remote:
            return await asyncio.wait_for(remote.identity(), timeout)

    with ThreadPoolExecutor(1) as pool:  # its own event loop, also inside a Jupyter kernel's
        return pool.submit(asyncio.run, ask()).result()


def check_scheduler(address: str, timeout: float = 3.0) -> None:
    """Fail within about ``2 * timeout`` seconds unless a Dask scheduler answers at ``address``.

    Opens one TCP connection, then asks Dask's ``identity``: Dask's own client would wait
    30 s and more, and fail obscurely on a port that is not a scheduler's (its dashboard's).

    Raises
    ------
    SchedulerUnreachable
        Naming the address and what to do.
    """
    parts = urlsplit(address)
    try:
        with socket.create_connection((parts.hostname, parts.port), timeout=timeout):
            pass
    except OSError as err:
        reason = "timed out" if isinstance(err, TimeoutError) else (err.strerror or str(err))
        raise SchedulerUnreachable(f"Dask scheduler {address}", f"no Dask scheduler answers "
                                   f"({reason} after at most {timeout:g} s)", _FIX) from None
    try:
        kind = _identity(address, timeout).get("type")
    except Exception as err:  # a silent port, or another protocol's bytes read as Dask frames
        kind = f"no Dask answer: {type(err).__name__}"
    if kind != "Scheduler":
        raise SchedulerUnreachable(f"Dask scheduler {address}", f"something listens there, but "
                                   f"it is not a Dask scheduler ({kind}): the scheduler's port is "
                                   f"8786 by default, its dashboard's 8787", _FIX)


def use_scheduler(address: str | None = None) -> str | None:
    """Check the scheduler (``address``, else ``$FMNIST_SCHEDULER``) before any long work and
    hand it to the study's grid search through ``$FMNIST_SCHEDULER``; ``None`` when unset.

    Raises
    ------
    ConfigError, SchedulerUnreachable
        As :func:`scheduler_address` and :func:`check_scheduler`.
    """
    address = scheduler_address(address)
    if address is not None:
        check_scheduler(address)
        os.environ[ENV] = address
    return address


def grid_backend(address: str | None = None) -> dict[str, str]:
    """Keyword arguments for :func:`fmnist_lib.tuning.run_grid_search`: the cluster, or none.

    Returns
    -------
    dict
        ``{"backend": "dask", "scheduler": "tcp://HOST:PORT"}`` once the scheduler answered,
        or ``{}`` when no scheduler is set.
    """
    address = scheduler_address(address)
    if address is None:
        return {}
    check_scheduler(address)
    return {"backend": "dask", "scheduler": address}


def run_on_cluster(address: str, func, arguments: list[tuple]) -> list:
    """``[func(*args) for args in arguments]``, each call a task on the cluster at ``address``.

    The results come back in order; the first task that raises re-raises here. ``func`` must be
    importable on the workers (``fmnist_lib`` installed or on their ``PYTHONPATH``).
    """
    from dask.distributed import Client

    with Client(address, set_as_default=False, timeout=30) as client:
        futures = [client.submit(func, *args, pure=False) for args in arguments]
        return client.gather(futures)
