"""``python -m fmnist_lib``: one clear message per user error, distinct exit codes, store commands."""
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from fmnist_lib import __main__ as cli
from fmnist_lib.pipeline import store as store_mod
from fmnist_lib.config import PROFILES
from fmnist_lib.errors import StoreError

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def env(monkeypatch, tmp_path):
    """A clean environment: results in a temporary folder, no debug, default data search."""
    for var in ("FMNIST_PROFILE", "QUARTO_PROFILE", "FMNIST_DATA", "FMNIST_DEBUG", "FMNIST_DOWNLOAD"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("FMNIST_RESULTS", str(tmp_path / "results"))
    store_mod.check_writable.cache_clear()
    yield monkeypatch
    store_mod.check_writable.cache_clear()


def run_cli(*args, env_extra=None):
    """The real entry point in a subprocess (what a user sees)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), **(env_extra or {})}
    return subprocess.run([sys.executable, "-m", "fmnist_lib", *args], capture_output=True,
                          text=True, timeout=300, env=env, cwd=ROOT)


def assert_clean(err: str, first: str) -> None:
    lines = err.strip().splitlines()
    assert lines[0].startswith(first), err
    assert len(lines) <= 2 and "Traceback" not in err


@pytest.mark.realdata
@pytest.mark.parametrize("case", ["FMNIST_DATA missing folder", "FMNIST_DATA without files",
                                  "FMNIST_RESULTS a file", "FMNIST_PROFILE unknown",
                                  "--profile unknown"])
def test_run_refuses_unusable_settings_before_any_work(case, env, tmp_path, capsys, monkeypatch):
    (tmp_path / "empty").mkdir()
    (tmp_path / "file").write_text("x")
    setting = {"FMNIST_DATA missing folder": ("FMNIST_DATA", str(tmp_path / "nowhere"), 3),
               "FMNIST_DATA without files": ("FMNIST_DATA", str(tmp_path / "empty"), 3),
               "FMNIST_RESULTS a file": ("FMNIST_RESULTS", str(tmp_path / "file"), 4),
               "FMNIST_PROFILE unknown": ("FMNIST_PROFILE", "fast", 2),
               "--profile unknown": (None, None, 2)}
    var, value, code = setting[case]
    if var:
        env.setenv(var, value)
    started = []
    monkeypatch.setattr("fmnist_lib.pipeline.stages.run_all", lambda *a, **k: started.append(1))
    profile = "fast" if case == "--profile unknown" else "quick"  # --profile does not hide FMNIST_PROFILE
    assert cli.main(["run", "--profile", profile]) == code
    err = capsys.readouterr().err
    assert_clean(err, f"error: {var}={value}: " if var else "error: profile 'fast': no such profile.")
    assert started == []


def test_cli_prints_one_clean_message_and_its_exit_code(tmp_path):
    out = run_cli("run", "--profile", "quick", env_extra={"FMNIST_DATA": str(tmp_path / "nowhere")})
    assert out.returncode == 3 and out.stdout == ""
    assert out.stderr == (f"error: FMNIST_DATA={tmp_path / 'nowhere'}: no such folder.\n"
                          "  Point FMNIST_DATA at the folder holding the four official *-ubyte(.gz) "
                          "files, or unset it to search ./data/fashion-mnist and "
                          "/usr/share/datasets/fashion-mnist.\n")


@pytest.mark.parametrize("how", [["--debug"], [], ["FMNIST_DEBUG"]])
def test_debug_brings_the_traceback_back(how, tmp_path):
    args = ["run", "--profile", "bogus"] + [a for a in how if a.startswith("--")]
    extra = {"FMNIST_DEBUG": "1"} if "FMNIST_DEBUG" in how else {}
    out = run_cli(*args, env_extra=extra)
    if how:
        assert out.returncode == 1 and "Traceback (most recent call last)" in out.stderr
        assert "ConfigError: profile 'bogus': no such profile." in out.stderr
    else:
        assert out.returncode == 2 and "Traceback" not in out.stderr


def test_unexpected_errors_keep_their_traceback(env, monkeypatch):
    def bug(args):
        raise ZeroDivisionError("a bug")

    monkeypatch.setattr(cli, "cmd_check", bug)
    with pytest.raises(ZeroDivisionError):
        cli.main(["check"])


def test_store_error_during_a_run_is_one_message(env, tmp_path, monkeypatch, capsys):
    def fail(*args, **kwargs):
        raise StoreError("/r/quick", "cannot write the result final-0 (No space left on device)", "Free space.")

    monkeypatch.setattr(cli, "check_setup", lambda *a: (PROFILES["quick"], store_mod.ResultStore(tmp_path), tmp_path))
    monkeypatch.setattr("fmnist_lib.pipeline.stages.run_all", fail)
    assert cli.main(["run"]) == 4
    assert_clean(capsys.readouterr().err, "error: /r/quick: cannot write the result final-0")


def test_interrupted_run_says_how_to_resume(env, tmp_path, monkeypatch, capsys):
    def interrupt(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "check_setup", lambda *a: (PROFILES["quick"], store_mod.ResultStore(tmp_path), tmp_path))
    monkeypatch.setattr("fmnist_lib.pipeline.stages.run_all", interrupt)
    assert cli.main(["run"]) == 130
    assert "run the same command again to resume" in capsys.readouterr().err


@pytest.mark.realdata
def test_check_reports_data_and_results(env, tmp_path, capsys):
    assert cli.main(["check", "--profile", "quick"]) == 0
    out = capsys.readouterr().out
    assert "Fashion-MNIST found in" in out and str(tmp_path / "results" / "quick") in out


def test_store_list_and_prune(env, tmp_path, capsys):
    import numpy as np

    s = store_mod.ResultStore(tmp_path / "results" / "quick")
    folder = s.save("grid", {"lr": 1}, {"proba": np.zeros(3)})
    raw = (folder / "proba.npy").read_bytes()
    (folder / "proba.npy").write_bytes(raw[:-3])
    assert cli.main(["store", "list"]) == 0
    out = capsys.readouterr().out
    assert "damaged" in out and folder.name in out
    assert "proba.npy has" in out
    assert cli.main(["store", "prune", "--profile", "quick", "--dry-run"]) == 0
    assert "would remove 1 entries" in capsys.readouterr().out and folder.is_dir()
    assert cli.main(["store", "prune"]) == 0
    assert "removed 1 entries" in capsys.readouterr().out and not folder.exists()
    assert cli.main(["store", "list", "--profile", "quick"]) == 0
    assert capsys.readouterr().out.startswith("no entries in")


def test_store_commands_import_no_heavy_library(env, tmp_path):
    # listing a folder needs json and hashlib, not torch, pandas, scikit-learn or matplotlib
    store = store_mod.ResultStore(tmp_path / "results" / "quick")
    store.save("grid", {"lr": 1}, {"acc": 0.5})
    code = ("import sys; from fmnist_lib.__main__ import main; rc = main(['store', 'list']); "
            "heavy = sorted({m.split('.')[0] for m in sys.modules} & "
            "{'torch', 'numpy', 'pandas', 'sklearn', 'skorch', 'matplotlib', 'seaborn', 'scipy'}); "
            "print(rc, heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                         env={**os.environ, "PYTHONPATH": str(ROOT)}, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "0 []", out.stdout
    assert "grid-" in out.stdout and "current" in out.stdout
# ------------------------------------------------------------ signals and free space (issue 24)


@pytest.mark.parametrize("name, code, said", [("SIGTERM", 143, "terminated (SIGTERM)"),
                                              ("SIGHUP", 129, "hung up (SIGHUP)"),
                                              ("SIGINT", 130, "interrupted")])
def test_signal_stops_the_run_like_ctrl_c(name, code, said, env, tmp_path, monkeypatch, capsys):
    import signal

    sig = getattr(signal, name)
    before = signal.getsignal(sig)
    reached = []

    def signalled(*args, **kwargs):
        os.kill(os.getpid(), sig)
        time.sleep(5)  # the handler raises here
        reached.append(1)

    monkeypatch.setattr(cli, "check_setup", lambda *a: (PROFILES["quick"], store_mod.ResultStore(tmp_path), tmp_path))
    monkeypatch.setattr("fmnist_lib.pipeline.stages.run_all", signalled)
    assert cli.main(["run"]) == code
    assert reached == []
    assert capsys.readouterr().err == f"{said}: finished stages are stored; run the same command again to resume.\n"
    assert signal.getsignal(sig) == before  # the caller's handler is back


def test_stop_passes_through_code_that_swallows_ctrl_c(env, tmp_path, monkeypatch):
    """skorch ends a fit early on KeyboardInterrupt and carries on; a stop signal is not one."""
    import signal

    from fmnist_lib.errors import Stopped

    def skorch_like(*args, **kwargs):
        try:
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(5)
        except KeyboardInterrupt:
            pass
        raise AssertionError("carried on after the signal")

    monkeypatch.setattr(cli, "check_setup", lambda *a: (PROFILES["quick"], store_mod.ResultStore(tmp_path), tmp_path))
    monkeypatch.setattr("fmnist_lib.pipeline.stages.run_all", skorch_like)
    assert cli.main(["run"]) == 143
    assert issubclass(Stopped, BaseException) and not issubclass(Stopped, (Exception, KeyboardInterrupt))


@pytest.mark.realdata
def test_check_warns_when_free_space_is_clearly_short(env, tmp_path, monkeypatch, capsys):
    from collections import namedtuple

    from fmnist_lib.pipeline import store_admin

    monkeypatch.setattr(store_admin.shutil, "disk_usage",
                        lambda p: namedtuple("usage", "total used free")(0, 0, 2_000_000))
    assert cli.main(["check", "--profile", "quick"]) == 0
    err = capsys.readouterr().err
    from fmnist_lib.config import STORE_SIZE_ESTIMATE_MB

    assert err.startswith(f"WARNING: {tmp_path / 'results' / 'quick'}: only 2.0 MB free on its disk; "
                          f"the quick profile still needs about {STORE_SIZE_ESTIMATE_MB['quick']:.1f} MB "
                          "(an estimate).")
    assert "point FMNIST_RESULTS at a folder" in err


@pytest.mark.realdata
def test_check_says_nothing_of_space_when_there_is_room(env, capsys):
    assert cli.main(["check", "--profile", "quick"]) == 0
    assert "WARNING" not in capsys.readouterr().err
