"""Worker processes that never outlive the stage, or the process, that started them.

joblib's loky executor is reused from call to call and keeps its workers (and loky's
resource tracker) for 300 s after a parallel stage. A run ended by a signal, or a Jupyter
kernel that Quarto stops or kills, would leave them behind, at full CPU while a fit runs,
and the resource tracker would later print "leaked semlock/folder" warnings. So every
parallel stage runs inside :func:`loky_workers`:

- each loky worker watches its parent and exits within ``PARENT_POLL_S`` once the parent
  is gone, however it went (``SIGKILL`` included);
- when the stage ends, however it ends, the executor is shut down (its workers joined, or
  killed after an error), the semaphores of its queues are released (even those that an
  error's or a signal's traceback still holds) and the resource trackers are stopped, so
  nothing is left and nothing is reported as leaked.

The command line turns SIGTERM, SIGHUP and SIGINT into :class:`fmnist_lib.errors.Stopped`;
on it joblib kills its workers as on Ctrl-C (see :mod:`fmnist_lib.__main__`).
"""
from __future__ import annotations

import contextlib
import gc
import multiprocessing
import os
import threading
import time
from typing import Iterator

__all__ = ["PARENT_POLL_S", "loky_workers", "stop_loky"]

PARENT_POLL_S = 0.25  # how often a worker checks that its parent is alive


def _exit_with_parent(parent: int) -> None:
    """loky worker initializer: exit once ``parent`` is no longer this process's parent."""
    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(PARENT_POLL_S)
        os._exit(1)  # nothing of the worker is worth keeping: the parent writes the store

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()


def stop_loky(kill_workers: bool = False) -> None:
    """Shut loky's reusable executor down (workers joined, or killed) and stop its resource tracker.

    A later parallel call starts both afresh. Does nothing when neither runs.
    """
    from multiprocessing import resource_tracker as mp_resource_tracker

    from joblib.externals.loky import reusable_executor
    from joblib.externals.loky.backend import resource_tracker

    with reusable_executor._executor_lock:
        executor, reusable_executor._executor = reusable_executor._executor, None
        reusable_executor._executor_kwargs = None
    if executor is not None:
        # joblib's executor also removes its memory-mapped temporary folders here
        stop = getattr(executor, "terminate", executor.shutdown)
        stop(kill_workers=kill_workers)
        # its queues' semaphores unregister themselves when collected: now, while the trackers
        # run, or a tracker would find them "leaked" and a relaunched one fail on them later
        # (those still referenced are released below)
        del executor, stop
        gc.collect()
    if kill_workers:  # a signal during the executor's start can leave a worker it does not list yet
        for child in multiprocessing.active_children():
            if type(child).__name__ == "LokyProcess":
                child.kill()
                child.join(5)
    _release_semaphores()  # those not collected: a traceback's frames can still hold them
    # loky's tracker and the standard library's (loky's queues register their semaphores with
    # it); stopping one closes its pipe: it unlinks what is left, then exits; waited for
    for tracker in (resource_tracker._resource_tracker, mp_resource_tracker._resource_tracker):
        if getattr(tracker, "_fd", None) is not None:
            _stop_tracker(tracker)


def _release_semaphores() -> None:
    """Unlink and unregister, now, the loky semaphores of this process that are still alive.

    Those of a stage stopped by an error or a signal are kept alive by the exception's
    traceback (its frames hold the executor's queues) until the process exits, when their
    finalizers would unregister them from a tracker already stopped: one relaunched for them
    fails on each (a ``KeyError`` traceback), and the stopped one has just reported them as
    "leaked". Running their finalizers here, while the tracker runs, leaves neither. The
    executor is shut down, so no process is left to open them by name; open handles still work.
    """
    from multiprocessing import util

    from joblib.externals.loky.backend.synchronize import SemLock

    prefix = f"/loky-{os.getpid()}-"
    for finalizer in list(util._finalizer_registry.values()):
        if (getattr(finalizer, "_callback", None) is SemLock._cleanup
                and str((finalizer._args or ("",))[0]).startswith(prefix)):
            finalizer()  # runs once: unlinks the name, unregisters it; never again at exit


def _stop_tracker(tracker, wait_s: float = 5.0) -> None:
    """Close a resource tracker's pipe and reap it, waiting at most ``wait_s`` (a process that
    still holds the pipe keeps it running: it then exits with that process, unreaped here)."""
    with tracker._lock:
        fd, pid, tracker._fd, tracker._pid = tracker._fd, tracker._pid, None, None
        if fd is None:
            return
        os.close(fd)
        end = time.monotonic() + wait_s
        while pid is not None and time.monotonic() < end:
            try:
                if os.waitpid(pid, os.WNOHANG)[0]:
                    return
            except ChildProcessError:
                return
            time.sleep(0.02)


@contextlib.contextmanager
def loky_workers() -> Iterator[None]:
    """joblib's ``"loky"`` backend inside (``Parallel`` without a backend, ``GridSearchCV``),
    with workers that exit with this process; no worker or resource tracker left after it."""
    import joblib

    finished = False
    try:
        with joblib.parallel_config(backend="loky", initializer=_exit_with_parent,
                                    initargs=(os.getpid(),)):
            yield
        finished = True
    finally:
        stop_loky(kill_workers=not finished)
