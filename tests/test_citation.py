"""Citing, reusing and publishing the paper: CITATION.cff, the licences, the front matter, the
HTML-only code folding and the GitHub Pages workflow (all checked offline)."""
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from quarto_render import require
from render_checks import PLACEHOLDERS  # the planted-defect tests are in test_render_checks.py

ROOT = Path(__file__).resolve().parents[1]
WORKFLOW = ROOT / ".github" / "workflows" / "publish.yml"


def tool(name: str) -> str:
    """A command-line tool from .venv/bin, .venv/tools/bin (``make setup``) or PATH."""
    for folder in (Path(sys.executable).parent, ROOT / ".venv" / "tools" / "bin"):
        if (folder / name).is_file():
            return str(folder / name)
    found = shutil.which(name)
    if found is None:
        pytest.fail(f"`{name}` is not installed: run `make setup` (requirements.txt, requirements-tools.txt).")
    return found


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(args, capture_output=True, text=True, timeout=120, cwd=ROOT)


def pyproject() -> dict:
    """``pyproject.toml``, parsed by tomllib (Python >= 3.11) or its backport tomli (3.10,
    pinned in requirements.txt); only where neither is there do the tests that need it skip
    (fail with ``CI=true``)."""
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        try:
            import tomli as tomllib
        except ModuleNotFoundError:
            require(False, "tomli (tomllib's backport for Python 3.10, in requirements.txt)")
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def front_matter() -> dict:
    text = (ROOT / "report.qmd").read_text()
    assert text.startswith("---\n")
    return yaml.safe_load(text.split("---\n", 2)[1])


def cff() -> dict:
    return yaml.safe_load((ROOT / "CITATION.cff").read_text())


# ---------------------------------------------------------------- cite it
def test_citation_cff_validates_and_a_broken_one_does_not(tmp_path):
    ok = run(tool("cffconvert"), "--validate", "-i", str(ROOT / "CITATION.cff"))
    assert ok.returncode == 0, ok.stdout + ok.stderr
    broken = {k: v for k, v in cff().items() if k != "authors"}  # authors are required
    (tmp_path / "CITATION.cff").write_text(yaml.safe_dump(broken))
    bad = run(tool("cffconvert"), "--validate", "-i", str(tmp_path / "CITATION.cff"))
    assert bad.returncode != 0


def _paper_authors(meta: dict) -> list[tuple]:
    """report.qmd's authors as (name, affiliations): a literal name or "given family"."""
    out = []
    for a in meta["author"]:
        name = a["name"]
        name = name["literal"] if "literal" in name else f"{name['given']} {name['family']}"
        out.append((name, [f["name"] for f in a.get("affiliations", [])]))
    return out


def _cff_authors(authors: list[dict]) -> list[tuple]:
    """CITATION.cff's authors as (name, affiliations): an entity's name or a person's."""
    return [(a["name"] if "name" in a else f"{a['given-names']} {a['family-names']}",
             [a["affiliation"]] if "affiliation" in a else []) for a in authors]


def test_citation_cff_and_the_paper_name_the_same_work():
    meta, citation = front_matter(), cff()
    project = pyproject()["project"]
    assert citation["title"] == citation["preferred-citation"]["title"] == meta["title"]
    assert citation["version"] == project["version"]
    paper = _paper_authors(meta)
    assert paper, "report.qmd names no author"
    for authors in (citation["authors"], citation["preferred-citation"]["authors"]):
        assert _cff_authors(authors) == paper
    # The same address in both, or none in either (the repository has no remote).
    assert citation.get("url") == citation["preferred-citation"].get("url") == meta["citation"].get("url")


def test_no_placeholder_in_what_a_reader_or_a_citation_shows():
    for name in ("report.qmd", "CITATION.cff", "README.md"):
        found = [m.group(0) for m in PLACEHOLDERS.finditer((ROOT / name).read_text())]
        assert not found, f"{name} still holds placeholder text: {found}"


# ---------------------------------------------------------------- reuse terms
def test_licences_agree_code_mit_paper_cc_by():
    project = pyproject()["project"]
    licence = (ROOT / "LICENSE").read_text()
    assert project["license"] == "MIT" and project["license-files"] == ["LICENSE"]
    assert licence.startswith("MIT License") and "CC BY 4.0" in licence
    assert cff()["license"] == "MIT"
    assert cff()["preferred-citation"]["license"] == "CC-BY-4.0"
    assert front_matter()["license"] == "CC BY"


# ---------------------------------------------------------------- code on demand
def test_html_folds_the_code_and_the_pdf_has_none():
    quarto = yaml.safe_load((ROOT / "_quarto.yml").read_text())
    html = quarto["format"]["html"]
    assert quarto["execute"]["echo"] is False  # every other format, the PDF among them
    assert "echo" not in quarto["format"]["typst"] or quarto["format"]["typst"]["echo"] is False
    assert html["echo"] is True and html["code-fold"] is True  # shown, collapsed
    assert html["lightbox"] in (True, "auto") and html["embed-resources"] is True


# ---------------------------------------------------------------- publishing
def test_publish_workflow_is_a_valid_github_workflow_and_a_broken_one_is_not(tmp_path):
    check = tool("check-jsonschema")
    ok = run(check, "--builtin-schema", "vendor.github-workflows", str(WORKFLOW))
    assert ok.returncode == 0, ok.stdout + ok.stderr
    broken = yaml.safe_load(WORKFLOW.read_text())
    del broken["jobs"]["build"]["runs-on"]
    (tmp_path / "broken.yml").write_text(yaml.safe_dump(broken))
    bad = run(check, "--builtin-schema", "vendor.github-workflows", str(tmp_path / "broken.yml"))
    assert bad.returncode != 0


def test_publish_workflow_computes_and_renders_the_full_paper_before_it_deploys():
    jobs = yaml.safe_load(WORKFLOW.read_text())["jobs"]
    build, deploy = jobs["build"], jobs["deploy"]
    uses = [s.get("uses", "") for s in build["steps"]]
    runs = [s.get("run", "") for s in build["steps"]]
    setup = uses.index("quarto-dev/quarto-actions/setup@v2")
    compute = next(i for i, r in enumerate(runs) if "make compute PROFILE=full" in r)
    render = uses.index("quarto-dev/quarto-actions/render@v2")
    upload = uses.index("actions/upload-pages-artifact@v3")
    assert setup < compute < render < upload and build["env"]["QUARTO_PROFILE"] == "full"
    assert build["steps"][upload]["with"]["path"] == "_output"  # the full profile's output-dir
    assert deploy["needs"] == "build" and deploy["steps"][-1]["uses"] == "actions/deploy-pages@v4"
    cache = build["steps"][uses.index("actions/cache@v4")]["with"]
    assert cache["path"] == "results/full" and "fmnist_lib/**" in cache["key"]
