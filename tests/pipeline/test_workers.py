"""Worker processes stop with their stage and their run: loky's executor, a dead parent, signals.

The real-run tests start ``python -m fmnist_lib run --profile quick`` in its own process
group with a fresh results folder, wait until its loky workers exist, signal the main process
only (as ``kill PID``, a job scheduler or a CI time-out does) and check that nothing of the
group is left.
"""
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from fmnist_lib.pipeline.workers import PARENT_POLL_S, loky_workers

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc (Linux)")


def _stat(pid: int) -> tuple[int, int, str] | None:
    """``(ppid, pgid, state)`` of a live process, or ``None`` (gone, or a zombie)."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = raw[raw.rindex(")") + 2:].split()
    return None if fields[0] in ("Z", "X") else (int(fields[1]), int(fields[2]), fields[0])


def _pids(where) -> list[int]:
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (st := _stat(int(entry.name))) is not None and where(int(entry.name), st):
            out.append(int(entry.name))
    return out


def children(pid: int) -> list[int]:
    return _pids(lambda p, st: st[0] == pid)


def group(pgid: int) -> list[int]:
    return _pids(lambda p, st: st[1] == pgid)


def wait_until(condition, timeout: float, step: float = 0.1):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = condition()
        if value:
            return value
        time.sleep(step)
    return condition()


def _pid(_):
    return os.getpid()


def test_no_worker_or_resource_tracker_outlives_a_stage():
    from joblib import Parallel, delayed

    before = set(children(os.getpid()))
    with loky_workers():
        workers = set(Parallel(n_jobs=2)(delayed(_pid)(i) for i in range(8)))
        during = set(children(os.getpid())) - before
    assert workers and workers <= during  # the workers, and loky's resource tracker beside them
    assert during - workers, "no resource tracker was seen"
    assert wait_until(lambda: not (set(children(os.getpid())) & during), 5) is True


def test_an_error_in_a_stage_kills_its_workers():
    from joblib import Parallel, delayed

    before = set(children(os.getpid()))
    with pytest.raises(ZeroDivisionError):
        with loky_workers():
            Parallel(n_jobs=2)(delayed(divmod)(1, i) for i in (1, 0, 1, 1))
    assert wait_until(lambda: set(children(os.getpid())) <= before, 5) is True


HELD = textwrap.dedent("""
    from joblib import Parallel, delayed
    from joblib.externals.loky import reusable_executor
    from fmnist_lib.pipeline.workers import loky_workers

    held = []
    try:
        with loky_workers():
            Parallel(n_jobs=2)(delayed(divmod)(1, i) for i in (1, 2))
            # what the frames of a signal's (or an error's) traceback keep alive past the stage
            held.append(reusable_executor._executor._call_queue)
            raise ZeroDivisionError
    except ZeroDivisionError:
        pass
    held.clear()  # its semaphores are collected now, after the resource tracker was stopped
""")


def test_a_stage_stopped_with_its_queues_still_held_prints_nothing(tmp_path):
    """No "leaked semlock" warning from the stopped tracker, no ``KeyError`` from a relaunched one."""
    script = tmp_path / "held.py"
    script.write_text(HELD)
    proc = subprocess.Popen([sys.executable, str(script)], stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": str(ROOT)}, start_new_session=True)
    try:
        _, err = proc.communicate(timeout=120)
        assert (proc.returncode, err) == (0, "")
        assert wait_until(lambda: not group(proc.pid), 5) is True, group(proc.pid)
    finally:
        for pid in group(proc.pid):
            os.kill(pid, signal.SIGKILL)


PARENT = textwrap.dedent("""
    import os, sys, time
    from joblib import Parallel, delayed
    from fmnist_lib.pipeline.workers import loky_workers

    def busy(i):
        print(os.getpid(), flush=True)
        end = time.time() + 120
        while time.time() < end:  # a fit at full CPU
            pass

    with loky_workers():
        Parallel(n_jobs=2)(delayed(busy)(i) for i in range(2))
""")


def test_workers_exit_when_their_parent_is_killed(tmp_path):
    """SIGKILL of the parent (as when Quarto kills its kernel): its busy workers exit too."""
    script = tmp_path / "parent.py"
    script.write_text(PARENT)
    proc = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True,
                            stderr=subprocess.DEVNULL,  # the tracker reports what it cleaned up
                            env={**os.environ, "PYTHONPATH": str(ROOT)}, start_new_session=True)
    try:
        workers = [int(proc.stdout.readline()) for _ in range(2)]
        assert all(_stat(w) is not None for w in workers)
        proc.kill()
        proc.wait(10)
        start = time.monotonic()
        assert wait_until(lambda: not group(proc.pid), 10) is True, group(proc.pid)
        print(f"workers gone {time.monotonic() - start:.2f} s after the parent's SIGKILL "
              f"(poll {PARENT_POLL_S} s)")
    finally:
        for pid in group(proc.pid):
            os.kill(pid, signal.SIGKILL)


@pytest.mark.slow
@pytest.mark.realdata
@pytest.mark.parametrize("sig, code, said", [(signal.SIGTERM, 143, "terminated (SIGTERM)"),
                                             (signal.SIGHUP, 129, "hung up (SIGHUP)")],
                         ids=["SIGTERM", "SIGHUP"])
def test_signal_stops_a_real_run_and_leaves_no_process(sig, code, said, tmp_path):
    results = tmp_path / "results"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "FMNIST_RESULTS": str(results)}
    env.pop("FMNIST_DEBUG", None)
    proc = subprocess.Popen([sys.executable, "-m", "fmnist_lib", "run", "--profile", "quick"], cwd=ROOT,
                            env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        # loky workers (and their resource tracker) are children of the main process
        assert wait_until(lambda: len(children(proc.pid)) >= 2, 300, 0.2), "no workers started"
        os.kill(proc.pid, sig)  # the main process only, as `kill PID` does
        start = time.monotonic()
        out, err = proc.communicate(timeout=60)
        stopped = time.monotonic() - start
        left = wait_until(lambda: not group(proc.pid), 5)
        assert left is True, f"processes left: {group(proc.pid)}"
        assert proc.returncode == code, err
        assert err.strip().splitlines()[-1] == f"{said}: finished stages are stored; run the same command again to resume."
        assert "Traceback" not in err
        assert not list(results.rglob(".*.tmp-*")), "a half-written entry was left"
        print(f"{sig.name}: exit {proc.returncode} {stopped:.1f} s after the signal; no process left")
    finally:
        for pid in group(proc.pid):
            os.kill(pid, signal.SIGKILL)
