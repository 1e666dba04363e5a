"""fmnist_lib.pipeline.cluster and ``--scheduler``: the grid search and the seed runs on a Dask cluster.

The cluster is real: a ``dask scheduler`` and two ``dask worker`` processes started by the test
on 127.0.0.1 (free ports, one thread each), always ended in teardown.
"""
import dataclasses
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from fmnist_lib.pipeline import cluster, dispatch, runs
from fmnist_lib.pipeline import stages as study
from fmnist_lib.tuning import grid_search as tuning
from fmnist_lib.__main__ import main
from fmnist_lib.config import get_profile
from fmnist_lib.models import MODELS

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(autouse=True)
def no_scheduler():
    """No scheduler set at the start; whatever ``main`` put in the environment is taken back."""
    before = os.environ.pop(cluster.ENV, None)
    yield
    os.environ.pop(cluster.ENV, None)
    if before is not None:
        os.environ[cluster.ENV] = before


# ---------------------------------------------------------------- addresses and fail-fast checks
@pytest.mark.parametrize("given, expected", [
    ("tcp://10.0.0.5:8786", "tcp://10.0.0.5:8786"),
    ("127.0.0.1:8786", "tcp://127.0.0.1:8786"),
    (" tcp://node-3.cluster:9000/ ", "tcp://node-3.cluster:9000"),
    ("tcp://[::1]:8786", "tcp://[::1]:8786"),
])
def test_addresses_are_normalised(given, expected):
    assert cluster.scheduler_address(given) == expected


@pytest.mark.parametrize("bad", ["tcp://host", "http://host:8786", "tcp://:8786",
                                 "tcp://host:port", "tcp://host:99999", "tls://host:8786",
                                 "tcp://host:8786/path"])
def test_bad_addresses_name_the_source_and_the_form(bad, monkeypatch):
    with pytest.raises(ValueError, match=r"--scheduler.*tcp://HOST:PORT"):
        cluster.scheduler_address(bad)
    monkeypatch.setenv(cluster.ENV, bad)
    with pytest.raises(ValueError, match=cluster.ENV):
        cluster.scheduler_address()


def test_no_scheduler_means_this_machine(monkeypatch):
    assert cluster.scheduler_address() is None and cluster.grid_backend() == {}
    monkeypatch.setenv(cluster.ENV, "")
    assert cluster.grid_backend() == {}


def test_unreachable_scheduler_fails_fast_with_the_fix():
    address = f"tcp://127.0.0.1:{free_port()}"  # nothing listens there
    start = time.perf_counter()
    with pytest.raises(cluster.SchedulerUnreachable) as err:
        cluster.grid_backend(address)
    assert time.perf_counter() - start < 5
    assert address in str(err.value) and "dask scheduler" in str(err.value)
    assert cluster.ENV in str(err.value)


def test_a_port_that_is_not_a_scheduler_fails_fast():
    with socket.socket() as silent:  # accepts connections (backlog), never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        address = f"tcp://127.0.0.1:{silent.getsockname()[1]}"
        start = time.perf_counter()
        with pytest.raises(cluster.SchedulerUnreachable, match="not a Dask scheduler") as err:
            cluster.check_scheduler(address, timeout=1.0)
    assert time.perf_counter() - start < 4 and address in str(err.value)


def test_cli_rejects_an_unreachable_scheduler_before_any_work(monkeypatch, capsys):
    def no_work(*args, **kwargs):
        raise AssertionError("work started although the scheduler cannot be reached")

    monkeypatch.setattr("fmnist_lib.data.load_fashion_mnist", no_work)
    monkeypatch.setattr(study, "run_all", no_work)
    address = f"tcp://127.0.0.1:{free_port()}"
    start = time.perf_counter()
    assert main(["run", "--profile", "quick", "--scheduler", address]) == 2
    assert time.perf_counter() - start < 5
    err = capsys.readouterr().err
    assert err.startswith(f"error: Dask scheduler {address}: no Dask scheduler answers") and "Traceback" not in err
    monkeypatch.setenv(cluster.ENV, "not an address")  # the environment is checked too
    assert main(["run", "--profile", "quick"]) == 2
    assert capsys.readouterr().err.startswith(f"error: {cluster.ENV}=not an address: ")


# ---------------------------------------------------------------- a real cluster on 127.0.0.1
def _wait_for_port(port: int, procs, logs, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(p.poll() is not None for p in procs):
            break
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    tails = "\n".join(f"--- {log.name}\n{log.read_text()[-2000:]}" for log in logs)
    raise RuntimeError(f"the test's dask scheduler did not start on port {port}:\n{tails}")


@pytest.fixture
def dask_cluster(tmp_path):
    """``tcp://127.0.0.1:PORT`` of a scheduler with two one-thread workers (separate processes)."""
    from dask.distributed import Client

    port = free_port()
    address = f"tcp://127.0.0.1:{port}"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
           "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    commands = {"scheduler": ["scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard"]}
    for i in (1, 2):
        commands[f"worker{i}"] = ["worker", address, "--nthreads", "1", "--no-nanny", "--name", f"w{i}",
                                  "--host", "127.0.0.1", "--no-dashboard", "--death-timeout", "60"]
    procs, logs = [], []
    try:
        for name, args in commands.items():
            logs.append(tmp_path / f"{name}.log")
            procs.append(subprocess.Popen([sys.executable, "-m", "dask", *args], env=env, cwd=tmp_path,
                                          stdout=logs[-1].open("w"), stderr=subprocess.STDOUT,
                                          stdin=subprocess.DEVNULL, start_new_session=True))
            if name == "scheduler":
                _wait_for_port(port, procs, logs)
        with Client(address, timeout=30) as client:
            client.wait_for_workers(2, timeout=90)
        yield address
    finally:
        for p in reversed(procs):  # each in its own session: end exactly what was started here
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGTERM)
        for p in procs:
            try:
                p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()


def _tasks_run_by_workers(address: str) -> dict[str, int]:
    from dask.distributed import Client

    with Client(address, timeout=30) as client:
        counts = client.run(lambda dask_worker: dask_worker.state.executed_count)
    return {w: n for w, n in counts.items()}


def stable(table: pd.DataFrame) -> pd.DataFrame:
    return table.drop(columns=[c for c in table.columns if "time" in c])  # timings may differ


@pytest.mark.slow
@pytest.mark.realdata
def test_cli_grid_search_on_a_dask_cluster_equals_a_serial_run(dask_cluster, tmp_path, monkeypatch):
    tiny = dataclasses.replace(get_profile("quick"), grid_subset=300, grid_epochs=1,
                               grid={"lr": [1e-3, 3e-3], "batch_size": [64],
                                     "optimizer__weight_decay": [0.0, 1e-3]})  # 4 fits, one split
    monkeypatch.setenv("FMNIST_RESULTS", str(tmp_path / "results"))
    # the CLI path: --scheduler is checked, then reaches the study's grid search
    monkeypatch.setattr(study, "run_all", lambda p: study.grid_search(tiny))
    assert main(["run", "--profile", "quick", "--scheduler", dask_cluster]) == 0
    assert os.environ[cluster.ENV] == dask_cluster
    executed = _tasks_run_by_workers(dask_cluster)
    assert len(executed) == 2 and all(n > 0 for n in executed.values()), executed  # both workers fitted

    del os.environ[cluster.ENV]
    search = tuning.run_grid_search
    monkeypatch.setattr(tuning, "run_grid_search", lambda *a, **k: pytest.fail("recomputed"))
    on_cluster = study.grid_search(tiny)  # loaded: where it ran is not part of the store key
    for name, result in on_cluster.items():
        serial, best = search(MODELS[name], tiny, n_jobs=1)
        pd.testing.assert_frame_equal(stable(result["table"]), stable(serial), check_dtype=False)
        assert result["best_params"] == best
    assert on_cluster["simple"]["table"]["mean_cv_acc"].nunique() > 1  # something to compare


@pytest.mark.slow
@pytest.mark.realdata
def test_cli_seed_runs_on_a_dask_cluster_equal_local_runs(dask_cluster, tmp_path, monkeypatch):
    tiny = dataclasses.replace(get_profile("quick"), subset=1000, final_epochs=1, seeds=(0, 1))
    monkeypatch.setenv("FMNIST_RESULTS", str(tmp_path / "cluster"))
    trained_here = []
    train_run = runs.train_run
    monkeypatch.setattr(dispatch, "train_run", lambda *a: trained_here.append(a) or train_run(*a))
    # the CLI path: --scheduler is checked, then reaches the study's seed runs (the baseline)
    monkeypatch.setattr(study, "run_all", lambda p: study.baseline_results(tiny))
    assert main(["run", "--profile", "quick", "--scheduler", dask_cluster]) == 0
    assert trained_here == []  # the patched function lives here: the workers ran the original
    executed = _tasks_run_by_workers(dask_cluster)
    assert len(executed) == 2 and all(n > 0 for n in executed.values()), executed  # both trained
    assert sum(executed.values()) == 2 * len(tiny.seeds)  # one task per run

    del os.environ[cluster.ENV]
    monkeypatch.setattr(dispatch, "train_run", train_run)
    on_cluster = study.baseline_results(tiny)  # loaded from the store: nothing trains again
    monkeypatch.setenv("FMNIST_RESULTS", str(tmp_path / "local"))
    local = study.baseline_results(tiny)  # trained in this machine's processes
    stored = {d: sorted(f.name for f in (tmp_path / d / "quick").glob(f"{runs.ENTRY}-*")) for d in ("cluster", "local")}
    assert stored["cluster"] == stored["local"] and len(stored["local"]) == 2 * len(tiny.seeds)
    for name in on_cluster:
        for a, b in zip(on_cluster[name], local[name], strict=True):
            assert np.array_equal(a["test_logits"], b["test_logits"])  # bit-identical
            assert np.array_equal(a["val_logits"], b["val_logits"])
            a_state, b_state = a["model"].state_dict(), b["model"].state_dict()
            assert all(torch.equal(v, b_state[k]) for k, v in a_state.items())
            pd.testing.assert_frame_equal(a["history"].drop(columns="seconds"),
                                          b["history"].drop(columns="seconds"))
    assert not np.array_equal(on_cluster["lenet"][0]["test_logits"], on_cluster["lenet"][1]["test_logits"])
