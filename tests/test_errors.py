"""fmnist_lib.errors: the message format, and the same message in Jupyter and Quarto."""
import os
import pickle
import subprocess
import time
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

from fmnist_lib.errors import ConfigError, DataError, StoreError, format_error
from quarto_render import require_quarto

ROOT = Path(__file__).resolve().parents[1]


def test_error_message_names_thing_cause_and_fix():
    err = DataError("/data/x.gz", "truncated", "Replace it.")
    assert str(err) == "/data/x.gz: truncated. Replace it."
    assert format_error(err) == "error: /data/x.gz: truncated.\n  Replace it."
    assert isinstance(err, ValueError) and isinstance(ConfigError("a", "b"), ValueError)
    assert len({ConfigError.exit_code, DataError.exit_code, StoreError.exit_code, 1}) == 4


def test_errors_survive_pickling():
    """joblib workers send exceptions back pickled: the message must survive."""
    err = pickle.loads(pickle.dumps(StoreError("results", "full disk", "Free space.")))
    assert str(err) == "results: full disk. Free space." and err.exit_code == 4


def run_cells(*sources: str, env: dict | None = None):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(s) for s in sources]
    old = {k: os.environ.get(k) for k in (env or {})}
    os.environ.update(env or {})
    os.environ["PYTHONPATH"] = str(ROOT)
    try:
        NotebookClient(nb, kernel_name="python3", timeout=120).execute()
    except CellExecutionError as err:
        return nb, str(err)
    finally:
        for k, v in old.items():
            os.environ.pop(k, None) if v is None else os.environ.__setitem__(k, v)
    return nb, None


@pytest.mark.slow
@pytest.mark.parametrize("debug", ["", "1"])
def test_jupyter_cell_fails_with_the_short_message(debug):
    nb, raised = run_cells("import fmnist_lib as fl\nfl.get_profile('fast')", "print('never runs')",
                           env={"FMNIST_DEBUG": debug})
    assert raised is not None  # the cell still fails: nbclient (and Quarto) stop
    error = nb.cells[0].outputs[-1]
    assert error.output_type == "error" and error.ename == "ConfigError"
    if debug:
        assert len(error.traceback) > 2  # the full traceback is back
    else:
        assert error.traceback == ["error: profile 'fast': no such profile.",
                                   "  Valid profiles: full, quick. Pick one with FMNIST_PROFILE=quick, "
                                   "--profile quick or `quarto render --profile quick`."]
    assert nb.cells[1].outputs == []


@pytest.mark.slow
def test_jupyter_other_errors_keep_their_traceback():
    nb, raised = run_cells("import fmnist_lib\n1 / 0")
    assert raised and nb.cells[0].outputs[-1].ename == "ZeroDivisionError"
    assert any("Traceback" in line or "----" in line for line in nb.cells[0].outputs[-1].traceback)


@pytest.mark.slow
@pytest.mark.realdata
def test_quarto_render_stops_with_the_short_message(tmp_path):
    require_quarto()  # skips where Quarto is missing, fails with CI=true
    page = ROOT / "_output" / "quick" / "chapters" / "01-data.html"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "QUARTO_PYTHON": os.sys.executable,
           "FMNIST_DATA": str(tmp_path / "nowhere"), "FMNIST_RESULTS": str(tmp_path / "results")}
    start = time.time()
    out = subprocess.run(["quarto", "render", "chapters/01-data.qmd", "--profile", "quick", "--to", "html"],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    log = out.stdout + out.stderr
    assert out.returncode != 0, log
    assert f"error: FMNIST_DATA={tmp_path / 'nowhere'}: no such folder." in log
    assert "Traceback" not in log and "----> " not in log
    assert not page.exists() or page.stat().st_mtime < start, "a broken page was published"
