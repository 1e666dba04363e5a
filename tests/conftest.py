import os
import random
import subprocess
import sys

import matplotlib
import numpy as np
import pytest
import torch

from quarto_render import CHROMIUM, Render, quarto_render, render_env, require, require_quarto, scratch_project

matplotlib.use("Agg")


@pytest.fixture(scope="session")
def quick_results(tmp_path_factory):
    """One results store for the whole session: the chapter tests and the render share it."""
    return tmp_path_factory.mktemp("results")


@pytest.fixture(scope="session")
def quick_render(tmp_path_factory, quick_results) -> Render:
    """The quick profile rendered once (HTML and PDF) by real Quarto in a scratch copy."""
    require_quarto()
    project = scratch_project(tmp_path_factory.mktemp("render") / "project")
    env = render_env(project, quick_results)
    # As `make report` does: compute in its own process, then render from the store. Computed
    # inside Quarto's kernel, the parallel runs' loky workers outlive the kernel that Quarto
    # stops, and loky's resource tracker then prints leak warnings into the render log.
    subprocess.run([sys.executable, "-m", "fmnist_lib", "run", "--profile", "quick"], cwd=project,
                   env=env, check=True, stdin=subprocess.DEVNULL, timeout=900)
    render = quarto_render(project, ["--profile", "quick"], env)
    print(f"\nquick render (HTML + PDF): {render.seconds:.1f} s")
    return render


@pytest.fixture(scope="session")  # session: checked before the (session-scoped) render
def browser():
    """One Chromium for every browser test module (Playwright's sync API allows one per process)."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        sync_playwright = None
    require(sync_playwright is not None, "Playwright for Python (requirements.txt)")
    require(CHROMIUM.exists(), f"Chromium ({CHROMIUM}; Debian package `chromium`)")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        yield b
        b.close()


@pytest.fixture(autouse=True)
def seed_all():
    """Every test starts from the same seeds (as skorch's conftest does)."""
    random.seed(0)
    np.random.seed(0)
    torch.manual_seed(0)
    yield


@pytest.fixture(autouse=True)
def close_figures():
    yield
    import matplotlib.pyplot as plt

    plt.close("all")

