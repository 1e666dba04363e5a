"""Render the paper with the real Quarto CLI in a scratch copy of the project, for the tests.

The render, PDF and browser tests share one quick-profile render per test session (the
``quick_render`` fixture in ``conftest.py``). Tools that a reader's machine may lack (Quarto,
Chromium, poppler, axe-core) make those tests *skip* with a reason naming what is missing,
except in CI (``CI=true``), where a missing tool is a failure: the CI set-up installs them.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# Never copied into the scratch project: environments, stores, outputs, caches.
IGNORE = shutil.ignore_patterns(".git", ".venv", "results", "data", "_output", "_freeze", ".quarto",
                                "node_modules", "_screenshots", "__pycache__", ".pytest_cache",
                                "*.egg-info", ".tmp*", "*.html", "*.pdf", "*_files")
SCREENSHOTS = ROOT / "_screenshots"
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
CHROMIUM = Path(os.environ.get("CHROMIUM", "/usr/bin/chromium"))
# WARNING lines that do not come from the project's configuration: the two this Quarto build
# prints (../shared/quarto/README.md: typst-gather on every Typst render, MathJax only for a
# page with math, which this paper has none of) and ipykernel >= 7's notice, printed by
# every Jupyter kernel Quarto starts, that its localhost TCP transport is unencrypted. Any
# other WARNING (fonts, options, cross-references, ...) fails the test.
KNOWN_WARNINGS = (re.compile(r"WARN: typst-gather analyze failed; staging all packages as fallback"),
                  re.compile(r"WARN.*MathJax", re.I),
                  re.compile(r"\[IPKernelApp\] WARNING \| Kernel is running over TCP without encryption\."))


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def require(ok: bool, what: str) -> None:
    """Skip (a reader's machine) or fail (CI) when a tool the test needs is missing."""
    if ok:
        return
    message = f"{what} is missing; `make test` installs it when run as root on Debian (see README)"
    if in_ci():
        pytest.fail(f"CI=true: {message}", pytrace=False)
    pytest.skip(message)


def require_quarto() -> None:
    require(shutil.which("quarto") is not None,
            "the Quarto CLI (`quarto` on PATH, from https://quarto.org/docs/get-started/)")


def scratch_project(dst: Path) -> Path:
    """Copy the project's sources to ``dst`` (no venv, results or outputs); link the venv back."""
    shutil.copytree(ROOT, dst, ignore=IGNORE, symlinks=True)
    if (ROOT / ".venv").exists():
        (dst / ".venv").symlink_to((ROOT / ".venv").resolve(), target_is_directory=True)
    return dst


def render_env(project: Path, results: Path) -> dict[str, str]:
    """The environment of a test render: this interpreter, the scratch copy's library first."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("QUARTO_")}
    env.update(QUARTO_PYTHON=sys.executable, PYTHONPATH=str(project), FMNIST_RESULTS=str(results),
               OMP_NUM_THREADS=env.get("OMP_NUM_THREADS", "2"))
    return env


@dataclass
class Render:
    project: Path
    log: str
    seconds: float

    @property
    def html(self) -> Path:
        return self.project / "_output" / "quick" / "report.html"

    @property
    def pdf(self) -> Path:
        return self.project / "_output" / "quick" / "report.pdf"


def quarto_render(project: Path, args: list[str], env: dict[str, str], timeout: int = 900) -> Render:
    """Run ``quarto render ARGS`` in ``project``; fail with the log's tail when Quarto fails."""
    start = time.perf_counter()
    proc = subprocess.run(["quarto", "render", *args], cwd=project, env=env, text=True,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=timeout,
                          stdin=subprocess.DEVNULL)
    seconds = time.perf_counter() - start
    if proc.returncode:
        pytest.fail(f"quarto render {' '.join(args)} exited {proc.returncode}:\n{proc.stdout[-4000:]}",
                    pytrace=False)
    return Render(project, proc.stdout, seconds)


def unexpected_warnings(log: str) -> list[str]:
    """WARNING lines of a render log that are not the Quarto build's known harmless ones."""
    lines = [line for line in log.splitlines() if "WARN" in line.upper()]
    return [line for line in lines if not any(p.search(line) for p in KNOWN_WARNINGS)]
