"""Every chapter executes end to end in the quick profile, through a real Jupyter kernel.

Each ``.qmd`` is parsed the way Quarto reads it (``{{< include >}}`` expanded, Python cells
with their ``#|`` options, inline `` `{python} expr` `` expressions in order) and run with
nbclient in a fresh kernel whose working directory is the chapter's folder, as Quarto's is.
"""
from __future__ import annotations

import os
import re
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = sorted((ROOT / "chapters").glob("*.qmd"))
CELL = re.compile(r"^```\{python\}[^\n]*\n(.*?)^```[ \t]*$", re.M | re.S)
INLINE = re.compile(r"`\{python\}\s+([^`]+)`")
INCLUDE = re.compile(r"^\{\{<\s*include\s+(\S+)\s*>\}\}[ \t]*$", re.M)

pytestmark = [pytest.mark.chapters, pytest.mark.slow, pytest.mark.realdata]


def expand_includes(path: Path) -> str:
    """Quarto's include shortcode: paths relative to the including file (or the root if absolute)."""
    text = path.read_text()

    def repl(m):
        target = m.group(1)
        inc = ROOT / target.lstrip("/") if target.startswith("/") else path.parent / target
        return expand_includes(inc)

    return INCLUDE.sub(repl, text)


def parse_qmd(path: Path) -> list[dict]:
    """Cells in document order: {"kind": "cell"|"inline", "source", "options"}."""
    text = expand_includes(path)
    items, pos = [], 0
    for m in CELL.finditer(text):
        items += [{"kind": "inline", "source": e.strip(), "options": {}}
                  for e in INLINE.findall(text[pos:m.start()])]
        source = m.group(1)
        options = dict(re.findall(r"^#\|\s*([\w-]+):\s*(.*?)\s*$", source, re.M))
        items.append({"kind": "cell", "source": source, "options": options})
        pos = m.end()
    items += [{"kind": "inline", "source": e.strip(), "options": {}}
              for e in INLINE.findall(text[pos:])]
    return items


def execute(path: Path, env: dict[str, str]) -> list[tuple[dict, dict]]:
    """Run the document's cells in a fresh kernel; returns (item, executed cell) pairs."""
    items = parse_qmd(path)
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(i["source"]) for i in items]
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        NotebookClient(nb, kernel_name="python3", timeout=900, allow_errors=False,
                       resources={"metadata": {"path": str(path.parent)}}).execute()
    finally:
        for k, v in old.items():
            os.environ.pop(k, None) if v is None else os.environ.__setitem__(k, v)
    return list(zip(items, nb.cells))


def check_outputs(pairs: list[tuple[dict, dict]]) -> list[str]:
    """Each fig- cell shows an image, each tbl- cell a table, each inline expression a value."""
    labels = []
    for item, cell in pairs:
        data = [o.get("data", {}) for o in cell.outputs if o.output_type in ("display_data", "execute_result")]
        label = item["options"].get("label", "")
        if label.startswith("fig-"):
            assert any("image/png" in d for d in data), f"{label} produced no image"
            assert item["options"].get("fig-cap") and item["options"].get("fig-alt"), f"{label} needs fig-cap and fig-alt"
        elif label.startswith("tbl-"):
            assert item["options"].get("tbl-cap"), f"{label} needs tbl-cap"
            assert any("|" in d.get("text/markdown", "") or "<table" in d.get("text/html", "")
                       for d in data), f"{label} produced no table"
        elif item["kind"] == "inline":
            assert data, f"inline expression {item['source']!r} produced no value"
        labels.append(label)
    return labels


@pytest.fixture(scope="session")
def quick_env(quick_results):
    return {"FMNIST_PROFILE": "quick", "FMNIST_RESULTS": str(quick_results),
            "MPLBACKEND": "module://matplotlib_inline.backend_inline"}


@pytest.mark.parametrize("chapter", CHAPTERS, ids=[c.stem for c in CHAPTERS])
def test_chapter_executes(chapter, quick_env):
    labels = check_outputs(execute(chapter, quick_env))
    referenced = set(re.findall(r"@((?:fig|tbl)-[\w-]+)", chapter.read_text()))
    defined = {label for label in labels if label}
    assert referenced <= defined, f"cross-references to labels defined elsewhere: {referenced - defined}"


def test_report_executes_with_all_chapters(quick_env):
    labels = [label for label in check_outputs(execute(ROOT / "report.qmd", quick_env)) if label]
    assert len(labels) == len(set(labels)), "duplicate labels across chapters"
    text = expand_includes(ROOT / "report.qmd")
    for ref in set(re.findall(r"@((?:fig|tbl|sec)-[\w-]+)", text)):
        assert ref in labels or f"{{#{ref}" in text, f"@{ref} is referenced but never defined"


def test_late_chapter_runs_alone_on_empty_store(tmp_path):
    env = {"FMNIST_PROFILE": "quick", "FMNIST_RESULTS": str(tmp_path / "results")}
    check_outputs(execute(ROOT / "chapters" / "07-gradcam.qmd", env))
    assert any((tmp_path / "results" / "quick").glob("run-*"))  # the runs it needed were trained
