"""The paper rendered by real Quarto (quick profile): log, HTML, PDF, freshness, plain `quarto render`.

Uses the session's one render (``quick_render`` in conftest.py); the freshness test and the
plain-render test render again in their own copies.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from quarto_render import (ROOT, SCREENSHOTS, quarto_render, render_env, require,
                           unexpected_warnings)
from render_checks import (PLACEHOLDERS, PRIMES, UNBREAKABLE, breakable_names, broken_names, broken_title_lines,
                           capitals_after_colons, lonely_figures, orphan_captions, page_number_collisions, prose_blocks,
                           prose_by_chapter, repeated_passages, repeated_sentences, split_names, split_units,
                           wrapped_spreads)
from test_chapters import expand_includes

pytestmark = [pytest.mark.render, pytest.mark.slow, pytest.mark.realdata]
SOURCE = expand_includes(ROOT / "report.qmd")
LABELS = re.findall(r"#\|\s*label:\s*((?:fig|tbl)-[\w-]+)", SOURCE)
CAPTIONS = re.findall(r'#\|\s*fig-cap:\s*"(.+?)"\s*$', SOURCE, re.M)


def squash(text: str) -> str:
    """Text without whitespace or soft hyphens and with straight quotes, so captions match
    across PDF line breaks and Typst's typographic quotes."""
    text = text.translate(str.maketrans("\u2018\u2019\u201c\u201d", "''\"\""))
    return re.sub(r"[\s\u00ad\u2060]+", "", text)


@pytest.fixture(scope="module")
def pdf_text(quick_render) -> str:
    require(shutil.which("pdftotext") is not None, "pdftotext (Debian package `poppler-utils`)")
    return subprocess.run(["pdftotext", "-layout", str(quick_render.pdf), "-"], check=True,
                          capture_output=True, text=True, timeout=120).stdout


def test_render_log_has_no_warning_of_ours(quick_render):
    assert unexpected_warnings(quick_render.log) == []
    assert "Output created: _output/quick/report.html" in quick_render.log


def test_html_has_every_figure_and_table(quick_render):
    html = quick_render.html.read_text()
    assert len(LABELS) >= 20
    missing = [label for label in LABELS if f'id="{label}"' not in html]
    assert not missing, f"missing from the rendered HTML: {missing}"
    assert "fonts.googleapis.com" not in html, "the theme still imports a web font"


def test_pdf_resolves_every_reference_and_caption(pdf_text):
    assert "??" not in pdf_text and "?@" not in pdf_text, "unresolved cross-reference in the PDF"
    headings = re.findall(r"^\s*(References|Bibliography)\s*$", pdf_text, re.M)
    assert headings == ["References"], f"bibliography headings in the PDF: {headings}"
    text = squash(pdf_text)
    assert len(CAPTIONS) >= 10
    missing = [c for c in CAPTIONS if squash(c)[:60] not in text]
    assert not missing, f"figure captions missing from the PDF: {missing}"


def _pdftotext(pdf: Path, *args: str) -> str:
    require(shutil.which("pdftotext") is not None, "pdftotext (Debian package `poppler-utils`)")
    return subprocess.run(["pdftotext", *args, str(pdf), "-"], check=True, capture_output=True,
                          text=True, timeout=120).stdout


def test_no_placeholder_text_in_either_format(quick_render, pdf_text):
    html = quick_render.html.read_text()
    for name, text in (("HTML", html), ("PDF", pdf_text)):
        found = sorted({m.group(0) for m in PLACEHOLDERS.finditer(text)})
        assert not found, f"placeholder text in the {name}: {found}"


def test_html_says_each_sentence_once(quick_render):
    """Every sentence of 12 or more words of the running text appears once (captions, tables,
    code and the citation appendix aside): a finding is said where it is shown, summarised once."""
    blocks = prose_blocks(quick_render.html.read_text())
    assert len(blocks) > 30, f"only {len(blocks)} paragraphs found in the HTML"
    repeated = repeated_sentences(blocks)
    assert not repeated, "said more than once:\n" + "\n".join(f"{n}x {s}" for s, n in repeated.items())
    # the same clause with other numbers: where it is shown and once in a summary, no more
    passages = repeated_passages(prose_by_chapter(quick_render.html.read_text()))
    assert not passages, "said in three chapters or more:\n" + "\n".join(f"{n}x {s}" for s, n in passages.items())


def test_pdf_sets_no_prime_for_an_apostrophe(pdf_text):
    primes = [m.group(0) for m in re.finditer(rf"\S*[{PRIMES}]\S*", pdf_text)]
    assert not primes, f"primes in the PDF (an apostrophe after a digit, set by Typst): {primes[:10]}"
    assert "LeNet-5\u2019s" in pdf_text  # the possessive is there, with an apostrophe


def test_pdf_title_does_not_break_inside_a_word(quick_render):
    page1 = _pdftotext(quick_render.pdf, "-f", "1", "-l", "1").splitlines()
    end = next(i for i, line in enumerate(page1) if "contributors" in line)  # the author line
    title = [line for line in page1[:end] if line.strip()]
    assert "".join(title).replace(" ", "").startswith("Canadeliberately"), title
    assert broken_title_lines(title) == [], f"the title breaks inside a word: {title}"


def test_pdf_keeps_numbers_with_their_units(pdf_text):
    assert split_units(pdf_text) == [], "a number and its unit on two lines"


def test_model_names_never_break_at_their_hyphen(quick_render, pdf_text):
    """"LeNet-5" in prose, captions, headings and table cells is set unbreakably
    (filters/typeset.lua): inside a nowrap span in the HTML, on one line of the PDF."""
    html = quick_render.html.read_text()
    assert html.count('<span class="nowrap">LeNet-5</span>') > 20  # the filter reached the paper
    found = breakable_names(html)
    assert not found, f"{UNBREAKABLE} can break at the hyphen in the HTML: {found[:10]}"
    assert split_names(pdf_text) == [], "a model's name broken across two lines of the PDF"


def test_pdf_sets_names_and_spreads_on_one_line(quick_render):
    """No name is broken or hyphenated across lines ("Grad-" / "CAM", "T-shirt/" / "top") and no
    value is parted from its spread ("0.8625 ±" / "0.0047"), in prose or in a table cell
    (filters/typeset.lua, items 6 and 7)."""
    bbox = _pdftotext(quick_render.pdf, "-bbox")
    assert broken_names(bbox) == [], "a name broken across two lines of the PDF"
    assert wrapped_spreads(bbox) == [], "a value and its ± spread on two lines of the PDF"


def test_pdf_leaves_no_figure_alone_on_a_blank_page(quick_render):
    """Figures float (placement: auto, _quarto.yml) and the sideways table floats too
    (filters/sideways.lua), so no page holds a figure with most of the page left blank; a
    table's caption sticks to its rows (_quarto.yml)."""
    bbox = _pdftotext(quick_render.pdf, "-bbox")
    # half, not the 30 % the check defaults to: Figure 16's page of the review was 42 % used
    assert lonely_figures(bbox, min_used=0.5) == []
    assert orphan_captions(bbox) == [], "a table's caption ends a page and its rows start the next"


def test_html_prose_continues_in_lower_case_after_a_colon(quick_render):
    from fmnist_lib.data import CLASSES
    from fmnist_lib.models import DISPLAY_NAMES

    names = (*DISPLAY_NAMES.values(), *CLASSES, "Grad-CAM", "HiResCAM", "Spearman", "McNemar", "Bonferroni")
    found = capitals_after_colons(prose_blocks(quick_render.html.read_text()), names)
    assert not found, "a capital after a colon in running text:\n" + "\n".join(found)


def test_pdf_page_numbers_collide_with_no_text(quick_render):
    bbox = _pdftotext(quick_render.pdf, "-bbox")
    assert bbox.count("<page ") >= 5
    assert page_number_collisions(bbox) == []


def test_pdf_pages_as_images(quick_render):
    """Every PDF page as a PNG in _screenshots/, for people to look at."""
    require(shutil.which("pdftoppm") is not None, "pdftoppm (Debian package `poppler-utils`)")
    SCREENSHOTS.mkdir(exist_ok=True)
    for old in SCREENSHOTS.glob("report-pdf-*.png"):
        old.unlink()
    subprocess.run(["pdftoppm", "-r", "70", "-png", str(quick_render.pdf), str(SCREENSHOTS / "report-pdf")],
                   check=True, timeout=300)
    assert len(list(SCREENSHOTS.glob("report-pdf-*.png"))) >= 5


def test_chapter_edit_reaches_the_next_render(quick_render, quick_results, tmp_path):
    """No stale paper: after a chapter edit, a plain re-render shows the new text."""
    project = shutil.copytree(quick_render.project, tmp_path / "project", symlinks=True)
    assert not (project / "_freeze").exists(), "a render froze chapter output (see _quarto.yml)"
    chapter = project / "chapters" / "01-data.qmd"
    marker = "This sentence was added after the first render."
    assert marker not in (project / "_output" / "quick" / "report.html").read_text()
    chapter.write_text(chapter.read_text().replace("\n\n", f"\n\n{marker}\n\n", 1))
    again = quarto_render(project, ["--profile", "quick", "--to", "html"], render_env(project, quick_results))
    print(f"\nre-render after a chapter edit (HTML only): {again.seconds:.1f} s")
    assert marker in again.html.read_text(), "the edited chapter did not reach the paper"


def test_plain_quarto_render_uses_the_project_venv(quick_render, quick_results):
    """`quarto render chapters/X.qmd` as typed: no QUARTO_PYTHON, no activated venv."""
    venv = ROOT / ".venv" / "bin" / "python"
    require(venv.exists(), f"the project's virtual environment ({venv}; `make test` creates it)")
    project = quick_render.project
    env = render_env(project, quick_results)
    for key in ("QUARTO_PYTHON", "VIRTUAL_ENV", "CONDA_PREFIX"):
        env.pop(key, None)
    venv_bins = {str(ROOT / ".venv" / "bin"), str(Path(os.sys.executable).parent), str(venv.resolve().parent)}
    env["PATH"] = os.pathsep.join(p for p in env["PATH"].split(os.pathsep) if p not in venv_bins)
    assert (project / "_environment").read_text().strip() == "QUARTO_PYTHON=.venv/bin/python"
    done = quarto_render(project, ["chapters/01-data.qmd", "--profile", "quick", "--to", "html"], env)
    print(f"\nplain `quarto render chapters/01-data.qmd`: {done.seconds:.1f} s")
    # A file outside the project's render list renders next to its source.
    assert (project / "chapters" / "01-data.html").stat().st_size > 0
    assert unexpected_warnings(done.log) == []


def test_a_chapter_rendered_alone_links_references_to_the_full_paper(quick_render, quick_results):
    """`quarto render chapters/03-baseline.qmd`: its references to other chapters become links
    to the same anchors in the full paper (filters/chapter-links.lua), with no Quarto warning."""
    project = quick_render.project
    done = quarto_render(project, ["chapters/03-baseline.qmd", "--profile", "quick", "--to", "html"],
                         render_env(project, quick_results))
    assert unexpected_warnings(done.log) == []
    html = (project / "chapters" / "03-baseline.html").read_text()
    assert "?@" not in html, "an unresolved cross-reference in the chapter"
    assert 'href="../_output/quick/report.html#sec-tuning"' in html
    assert (project / "_output" / "quick" / "report.html").read_text().count('id="sec-tuning"') == 1
