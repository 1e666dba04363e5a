"""The chapters are thin, and every chapter executes end to end in the quick profile.

Thin (read from the source, no kernel): all chapter code together (report.qmd and
chapters/*.qmd; imports, ``#|`` options, comment-only and blank lines not counted) is at most
``MAX_LINES`` lines; a cell makes at most one call (imports aside; an assignment of that call's
result may be followed by the name it assigned, to show it), and an inline expression is a
name, an attribute, a subscript or one call. A call's arguments are constants, names,
attributes or subscripts: no f-strings, arithmetic, comprehensions or literals built in the
chapter. Everything else (sentences, tables, figures, formatting) lives in fmnist_lib/paper/.

Executed: each ``.qmd`` is parsed the way Quarto reads it (``{{< include >}}`` expanded, Python
cells with their ``#|`` options, inline `` `{python} expr` `` expressions in order) and run with
nbclient in a fresh kernel whose working directory is the chapter's folder, as Quarto's is.
"""
from __future__ import annotations

import ast
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

DOCUMENTS = [ROOT / "report.qmd", *CHAPTERS]
MAX_LINES = 100


def _reference(node: ast.AST) -> bool:
    """A name, a constant, or an attribute or subscript of a reference (``ch.answers["HiResCAM"]``)."""
    if isinstance(node, (ast.Name, ast.Constant)):
        return True
    if isinstance(node, ast.Attribute):
        return _reference(node.value)
    if isinstance(node, ast.Subscript):
        return _reference(node.value) and _reference(node.slice)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):  # a negative constant
        return isinstance(node.operand, ast.Constant)
    return False


def _one_call(node: ast.AST) -> bool:
    """``f(a, b.c, k=d["e"])``: one call of a reference with references as its arguments."""
    return (isinstance(node, ast.Call) and _reference(node.func)
            and all(_reference(a) for a in node.args) and all(_reference(k.value) for k in node.keywords))


def inline_problem(expr: str) -> str | None:
    """Why an inline expression is more than a reference or one call (None if it is not)."""
    try:
        node = ast.parse(expr.strip(), mode="eval").body
    except SyntaxError as e:
        return f"`{expr}` does not parse: {e.msg}"
    if _reference(node) or _one_call(node):
        return None
    return f"`{expr}` is more than a name, attribute, subscript or one call: move it into fmnist_lib/paper/"


def cell_problem(source: str) -> str | None:
    """Why a cell does more than one call (None if it does not); imports are free."""
    body = [s for s in ast.parse(source).body if not isinstance(s, (ast.Import, ast.ImportFrom))]
    calls = sum(isinstance(n, ast.Call) for s in body for n in ast.walk(s))
    shown = body[-1] if len(body) == 2 else None
    if len(body) == 2 and isinstance(body[0], ast.Assign):  # x = f(...); x
        target = body[0].targets[0]
        if not (len(body[0].targets) == 1 and isinstance(target, ast.Name) and isinstance(shown, ast.Expr)
                and isinstance(shown.value, ast.Name) and shown.value.id == target.id):
            shown = "bad"
    ok = (calls <= 1 and len(body) <= 2 and shown != "bad"
          and all((isinstance(s, ast.Expr) and (_reference(s.value) or _one_call(s.value)))
                  or (isinstance(s, ast.Assign) and len(s.targets) == 1 and isinstance(s.targets[0], ast.Name)
                      and _one_call(s.value))
                  for s in body)
          and (len(body) < 2 or isinstance(body[0], ast.Assign)))
    if ok:
        return None
    first = next((ast.get_source_segment(source, s) for s in body), "").splitlines()[0]
    return (f"cell starting `{first}` makes {calls} calls in {len(body)} statements: a cell calls one "
            "function of fmnist_lib/paper/ and shows what it returns")


def code_lines(source: str) -> int:
    """Lines of a cell that count: not blank, not ``#|`` options or comments, not imports."""
    imports = {i for s in ast.parse(source).body if isinstance(s, (ast.Import, ast.ImportFrom))
               for i in range(s.lineno, s.end_lineno + 1)}
    return sum(1 for i, line in enumerate(source.splitlines(), start=1)
               if line.strip() and not line.strip().startswith("#") and i not in imports)


def thinness_problems(documents: dict[str, str], max_lines: int = MAX_LINES) -> list[str]:
    """Every way ``documents`` ({name: qmd text}, each file's own text, includes not expanded)
    break the thin-chapter rules, counting lines over all of them together."""
    problems, total = [], 0
    for name, text in documents.items():
        for source in CELL.findall(text):
            total += code_lines(source)
            if (why := cell_problem(source)) is not None:
                problems.append(f"{name}: {why}")
        problems += [f"{name}: {why}" for e in INLINE.findall(CELL.sub("", text))
                     if (why := inline_problem(e)) is not None]
    if total > max_lines:
        problems.append(f"the chapters hold {total} lines of code, more than {max_lines}: move code into "
                        "fmnist_lib/paper/")
    return problems


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


def test_chapters_are_thin():
    documents = {str(p.relative_to(ROOT)): p.read_text() for p in DOCUMENTS}
    assert thinness_problems(documents) == []


def test_chapter_code_is_counted_over_all_documents():
    documents = {str(p.relative_to(ROOT)): p.read_text() for p in DOCUMENTS}
    total = sum(code_lines(s) for text in documents.values() for s in CELL.findall(text))
    assert 0 < total <= MAX_LINES, total
    assert thinness_problems(documents, max_lines=total - 1)  # one line fewer allowed fails


def _chapter(cells: list[str], prose: str = "Some `{python} ch.n` words.") -> str:
    return "# A chapter\n\n" + "\n".join(f"```{{python}}\n{c}\n```\n" for c in cells) + "\n" + prose + "\n"


def test_thin_synthetic_chapter_passes():
    text = _chapter(["#| output: false\nfrom fmnist_lib.paper.chapters import data as chapter\n\nch = chapter.context()",
                     "#| label: tbl-x\n# the table\nchapter.classes_table(ch)",
                     "fig = chapter.examples_figure(ch, seed=0)\nfig"],
                    prose="`{python} ch.n` `{python} ch.a[\"b\"]` `{python} len(ch.profile.seeds)` `{python} ch.x[-1]`")
    assert thinness_problems({"a.qmd": text}) == []


def test_synthetic_chapter_of_101_lines_fails():
    text = _chapter([f"x{i} = chapter.f(ch)" for i in range(101)])
    problems = thinness_problems({"a.qmd": text})
    assert problems == ["the chapters hold 101 lines of code, more than 100: move code into fmnist_lib/paper/"]
    assert thinness_problems({"a.qmd": _chapter([f"x{i} = chapter.f(ch)" for i in range(100)])}) == []


@pytest.mark.parametrize("expr", ['f"{100 * MARGIN:g}"', "100 * ch.margin", "ch.f(x) + 1", "f(g(x))",
                                  '", ".join(map(str, profile.seeds))', "[a for a in ch.x]", "ch.f(x)[0]",
                                  "f(x=[1, 2])", "a if b else c", "lambda: 1", "f(*xs)"])
def test_synthetic_inline_that_computes_fails(expr):
    problems = thinness_problems({"a.qmd": _chapter([], prose=f"A `{{python}} {expr}` number.")})
    assert len(problems) == 1 and "more than a name" in problems[0], problems


@pytest.mark.parametrize("cell", ["a = f(x)\nb = g(a)", "report.md(budgets.view(profile))",
                                  'report.md(t.rename(columns={"a": "b"}))', "f(x)\ng(y)",
                                  "x = f(y)\nz", "def f():\n    return 1", "for a in b:\n    f(a)",
                                  "x = [f(a) for a in b]", "f(x);\nx"])
def test_synthetic_cell_that_does_more_than_one_call_fails(cell):
    problems = thinness_problems({"a.qmd": _chapter([cell])})
    assert len(problems) == 1 and "a cell calls one" in problems[0], problems


@pytest.fixture(scope="session")
def quick_env(quick_results):
    return {"FMNIST_PROFILE": "quick", "FMNIST_RESULTS": str(quick_results),
            "MPLBACKEND": "module://matplotlib_inline.backend_inline"}


@pytest.mark.parametrize("chapter", CHAPTERS, ids=[c.stem for c in CHAPTERS])
@pytest.mark.chapters
@pytest.mark.slow
@pytest.mark.realdata
def test_chapter_executes(chapter, quick_env):
    labels = check_outputs(execute(chapter, quick_env))
    referenced = set(re.findall(r"@((?:fig|tbl)-[\w-]+)", chapter.read_text()))
    defined = {label for label in labels if label}
    assert referenced <= defined, f"cross-references to labels defined elsewhere: {referenced - defined}"


@pytest.mark.chapters
@pytest.mark.slow
@pytest.mark.realdata
def test_report_executes_with_all_chapters(quick_env):
    labels = [label for label in check_outputs(execute(ROOT / "report.qmd", quick_env)) if label]
    assert len(labels) == len(set(labels)), "duplicate labels across chapters"
    text = expand_includes(ROOT / "report.qmd")
    for ref in set(re.findall(r"@((?:fig|tbl|sec)-[\w-]+)", text)):
        assert ref in labels or f"{{#{ref}" in text, f"@{ref} is referenced but never defined"


@pytest.mark.chapters
@pytest.mark.slow
@pytest.mark.realdata
def test_late_chapter_runs_alone_on_empty_store(tmp_path):
    env = {"FMNIST_PROFILE": "quick", "FMNIST_RESULTS": str(tmp_path / "results")}
    check_outputs(execute(ROOT / "chapters" / "07-gradcam.qmd", env))
    assert any((tmp_path / "results" / "quick").glob("run-*"))  # the runs it needed were trained
