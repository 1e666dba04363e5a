"""The rendered quick-profile HTML in a real browser (Playwright driving Debian's Chromium).

At a desktop (1280 px) and a phone (390 px) width: every image is decoded and lies inside its
column (or a deliberately wider column that still fits the viewport), every internal link and
TOC entry resolves, the console stays clean, the PDF link reaches the rendered PDF, and axe-core
finds no serious or critical WCAG 2 A/AA violation. Full-page screenshots go to ``_screenshots/``.
"""
from __future__ import annotations

import pytest

from quarto_render import AXE, SCREENSHOTS, require

pytestmark = [pytest.mark.render, pytest.mark.slow]
WIDTHS = {"desktop": 1280, "phone": 390}
# Columns an author may choose for a wide figure (Quarto's article layout classes).
WIDE = ".column-page, .column-page-inset, .column-body-outset, .column-screen, .column-page-right"

IMAGES_JS = """(wide) => [...document.querySelectorAll('main img')].map(img => {
  const r = img.getBoundingClientRect();
  const col = img.closest(wide) || img.closest('figure, .cell-output-display, p, main');
  const c = col.getBoundingClientRect();
  return {src: (img.id || img.closest('[id]')?.id || img.alt || '').slice(0, 60),
          complete: img.complete, natural: img.naturalWidth, left: r.left, right: r.right,
          width: r.width, colLeft: c.left, colRight: c.right, wide: !!img.closest(wide),
          fluid: img.classList.contains('img-fluid'), alt: img.getAttribute('alt')};
})"""
LINKS_JS = """() => [...document.querySelectorAll('a[href^="#"]')]
  .map(a => a.getAttribute('href')).filter(h => h.length > 1)
  .filter(h => !document.getElementById(decodeURIComponent(h.slice(1))))"""


@pytest.fixture(scope="module", params=list(WIDTHS), ids=list(WIDTHS))
def page(request, browser, quick_render):
    """The rendered paper at one viewport width, with the console's errors collected."""
    ctx = browser.new_context(viewport={"width": WIDTHS[request.param], "height": 900})
    pg = ctx.new_page()
    pg.errors = []
    pg.on("console", lambda m: m.type == "error" and pg.errors.append(m.text))
    pg.on("pageerror", lambda e: pg.errors.append(str(e)))
    pg.goto(quick_render.html.as_uri(), wait_until="load")
    pg.wait_for_function("[...document.images].every(i => i.complete)")
    SCREENSHOTS.mkdir(exist_ok=True)
    pg.screenshot(path=str(SCREENSHOTS / f"report-{WIDTHS[request.param]}px.png"), full_page=True)
    yield pg
    ctx.close()


def test_every_image_decoded_and_inside_its_column(page):
    images = page.evaluate(IMAGES_JS, WIDE)
    viewport = page.viewport_size["width"]
    assert len(images) >= 10, f"expected the paper's figures, found {len(images)} images"
    problems = []
    for im in images:
        if not (im["complete"] and im["natural"] > 0):
            problems.append(f"{im['src']}: not decoded")
        if not im["alt"]:
            problems.append(f"{im['src']}: no alt text")
        inside = im["left"] >= im["colLeft"] - 1 and im["right"] <= im["colRight"] + 1
        fits = im["left"] >= -1 and im["right"] <= viewport + 1
        if not (inside and fits):
            problems.append(f"{im['src']}: {im['left']:.0f}..{im['right']:.0f} px, column "
                            f"{im['colLeft']:.0f}..{im['colRight']:.0f} px, viewport {viewport} px")
    assert not problems, "\n".join(problems)


def test_page_has_no_horizontal_overflow(page):
    scroll = page.evaluate("document.documentElement.scrollWidth")
    assert scroll <= page.viewport_size["width"], f"page is {scroll} px wide: something overflows"


def test_internal_links_and_toc_resolve(page):
    assert page.evaluate(LINKS_JS) == []
    toc = page.evaluate("""[...document.querySelectorAll('#TOC a')]
        .filter(a => !a.closest('.quarto-alternate-formats')).map(a => a.getAttribute('href'))""")
    assert len(toc) >= 9, f"table of contents has {len(toc)} entries"
    assert all(h.startswith("#") for h in toc), toc


def test_no_console_errors(page):
    page.reload(wait_until="load")
    assert page.errors == []


def test_pdf_link_resolves_to_the_rendered_pdf(page, quick_render):
    links = page.evaluate("""[...document.querySelectorAll('.quarto-alternate-formats a')]
        .map(a => [a.innerText.trim(), a.getAttribute('href')])""")
    assert [text for text, _ in links] == ["PDF"], f"Other Formats links: {links}"
    hrefs = [href for _, href in links]
    for href in hrefs:
        target = (quick_render.html.parent / href).resolve()
        assert target == quick_render.pdf.resolve() and target.stat().st_size > 0, href
        assert target.read_bytes()[:5] == b"%PDF-"


def test_axe_finds_no_serious_wcag_violation(page):
    require(AXE.exists(), f"axe-core ({AXE.relative_to(AXE.parents[2])}; `npm install axe-core`)")
    page.add_script_tag(path=str(AXE))
    result = page.evaluate("""() => axe.run(document, {runOnly: {type: 'tag',
        values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']}})""")
    bad = [f"{v['id']} ({v['impact']}, {len(v['nodes'])} nodes): {v['help']}; e.g. "
           f"{v['nodes'][0]['target']} {v['nodes'][0].get('failureSummary', '')[:200]}"
           for v in result["violations"] if v["impact"] in ("serious", "critical")]
    assert not bad, "\n".join(bad)

