"""The test-set explorer of the rendered quick-profile HTML, in Chromium with the network blocked.

Every request that is not for a ``file:`` or ``data:`` address is aborted and recorded, so the
explorer must work from the one file. What it shows is checked against the result store the
render read (``pipeline.stages.explorer_data`` of the same session's store).
"""
from __future__ import annotations

import numpy as np
import pytest

from quarto_render import AXE, SCREENSHOTS, require
from test_browser import WIDTHS

pytestmark = [pytest.mark.render, pytest.mark.slow]
READY = "#fmnist-explorer[data-ready='true'] .fx-image"
MAX_BYTES = 12 * 2**20  # the whole HTML file


@pytest.fixture(scope="module")
def stored(quick_render, quick_results):
    """The explorer's data as the store holds it, with each model's predictions per seed row."""
    import os

    from fmnist_lib.pipeline import stages as study
    from fmnist_lib.saliency import explorer

    old = {k: os.environ.get(k) for k in ("FMNIST_RESULTS", "FMNIST_PROFILE")}
    os.environ.update(FMNIST_RESULTS=str(quick_results), FMNIST_PROFILE="quick")
    try:
        data = study.explorer_data("quick")
    finally:
        for k, v in old.items():
            os.environ.pop(k, None) if v is None else os.environ.__setitem__(k, v)
    data["preds"] = {n: explorer.predictions(list(data["proba"][n])) for n in study.NAMES}
    return data


@pytest.fixture(scope="module", params=list(WIDTHS), ids=list(WIDTHS))
def offline(request, browser, quick_render):
    """The paper at one width with every non-file request aborted; console errors collected."""
    ctx = browser.new_context(viewport={"width": WIDTHS[request.param], "height": 900})
    ctx.blocked = []

    def route(r):
        if r.request.url.startswith(("file:", "data:")):
            r.continue_()
        else:
            ctx.blocked.append(r.request.url)
            r.abort()

    ctx.route("**/*", route)
    pg = ctx.new_page()
    pg.errors = []
    pg.on("console", lambda m: m.type == "error" and pg.errors.append(m.text))
    pg.on("pageerror", lambda e: pg.errors.append(str(e)))
    pg.goto(quick_render.html.as_uri(), wait_until="load")
    pg.wait_for_selector(READY)
    pg.blocked = ctx.blocked
    yield pg
    ctx.close()


def shown(pg) -> dict:
    """What the explorer shows now: image index, its true class, the highlighted rows, the maps."""
    return pg.evaluate("""() => {
      const im = document.querySelector('#fmnist-explorer .fx-image');
      return {index: im ? +im.dataset.index : null,
              truth: im ? im.querySelector('.fx-true').textContent : null,
              count: document.querySelector('#fmnist-explorer .fx-count').textContent,
              matches: document.querySelector('#fmnist-explorer .fx-step').dataset.matches,
              rows: [...document.querySelectorAll('.fx-prob-table tr.fx-on th')].map(t => t.textContent),
              maps: [...document.querySelectorAll('.fx-map canvas')].map(c => c.toDataURL())};
    }""")


def wait_drawn(pg):
    """Until the maps of what is chosen now are drawn (the grid's data-drawn catches up)."""
    pg.wait_for_function("""() => { const g = document.querySelector('.fx-map-grid');
        return g && g.dataset.state && g.dataset.drawn === g.dataset.state; }""")


def choose(pg, select_id: str, value: str):
    pg.select_option(f"#{select_id}", value)
    pg.wait_for_timeout(50)
    wait_drawn(pg)


def test_html_file_stays_under_12_mb(quick_render):
    size = quick_render.html.stat().st_size
    print(f"\nreport.html: {size / 2**20:.2f} MiB")
    assert size < MAX_BYTES


def test_works_offline_without_console_errors(offline):
    wait_drawn(offline)
    assert offline.blocked == [], f"the page asked the network for {offline.blocked[:5]}"
    assert offline.errors == []
    labels = offline.evaluate("""() => [...document.querySelectorAll('#fmnist-explorer select, #fmnist-explorer input')]
        .map(el => { const l = el.labels && el.labels[0]; return [el.id, l ? l.textContent.trim() : '',
                     l ? l.getBoundingClientRect().width > 0 : false]; })""")
    hidden = [el for el in labels if not (el[1] and el[2]) and el[0] != "fx-class"]  # class: shown on demand
    assert not hidden, f"controls without a visible label: {hidden}"


def test_class_image_and_seed_choices_change_what_is_shown(offline, stored):
    classes = offline.evaluate("JSON.parse(document.getElementById('fmnist-explorer-data').textContent).classes")
    y, idx = stored["y"], stored["indices"]
    choose(offline, "fx-kind", "true")
    for k in (2, 7):
        choose(offline, "fx-class", str(k))
        now = shown(offline)
        expected = sorted(int(i) for i in idx if y[i] == k)
        assert [int(v) for v in now["matches"].split(",")] == expected
        assert now["truth"] == classes[k] and now["count"].startswith(f"{int((y == k).sum()):,} of")
    first = shown(offline)
    offline.click("#fmnist-explorer .fx-step-buttons button:has-text('Next')")
    wait_drawn(offline)
    second = shown(offline)
    assert second["index"] != first["index"] and second["maps"] != first["maps"]
    seeds = stored["seeds"]
    choose(offline, "fx-seed", "0")
    at_seed = shown(offline)
    assert at_seed["rows"] == [str(seeds[0])] * 2 and at_seed["maps"] != second["maps"]
    choose(offline, "fx-seed", str(len(seeds)))
    assert shown(offline)["rows"] == ["ensemble"] * 2


def test_a_confusion_cell_shows_exactly_its_images(offline, stored):
    """The largest off-diagonal difference at seed 0: its value and its images from the store."""
    choose(offline, "fx-seed", "0")
    a, b = (stored["preds"][n][0] for n in ("simple", "lenet"))
    y, idx = stored["y"], stored["indices"]
    diff = np.zeros((10, 10), int)
    np.add.at(diff, (y, b), 1)
    np.subtract.at(diff, (y, a), 1)
    off = np.where(np.eye(10, dtype=bool), 0, np.abs(diff))
    i, j = np.unravel_index(off.argmax(), off.shape)
    cell = offline.locator(f".fx-cell[data-true='{i}'][data-pred='{j}']")
    assert cell.inner_text().replace("\u2212", "-").lstrip("+") == str(diff[i, j])
    cell.focus()
    hover = offline.inner_text(".fx-hover")
    assert all(f"seed {s}:" in hover for s in stored["seeds"])
    cell.press("Enter")  # the keyboard picks it as a click does
    offline.wait_for_timeout(50)
    in_cell = (y == i) & ((a == j) | (b == j))
    now = shown(offline)
    assert now["count"].startswith(f"{int(in_cell.sum()):,} of")
    expected = sorted(int(k) for k in idx if in_cell[k])
    got = [int(v) for v in now["matches"].split(",")] if now["matches"] else []
    assert got == expected and expected, f"cell ({i}, {j}): shown {got}, stored {expected}"
    assert now["index"] == expected[0]


def test_keyboard_moves_through_the_matrix_and_picks_a_cell(offline):
    first = offline.locator(".fx-cell[tabindex='0']")
    assert first.count() == 1  # one Tab stop for the whole matrix
    first.focus()
    start = [int(first.get_attribute("data-true")), int(first.get_attribute("data-pred"))]
    offline.keyboard.press("ArrowDown")  # three keys with no pause between them: each must
    offline.keyboard.press("ArrowRight")  # move from where the one before left the focus
    offline.keyboard.press("ArrowRight")
    want = [min(start[0] + 1, 9), min(start[1] + 2, 9)]
    focused = offline.evaluate("[+document.activeElement.dataset.true, +document.activeElement.dataset.pred]")
    assert focused == want
    offline.keyboard.press("Enter")
    offline.wait_for_timeout(50)
    assert offline.input_value("#fx-kind") == "cell"
    assert offline.inner_text("#fx-cell-name") == offline.evaluate(
        "(w) => { const c = JSON.parse(document.getElementById('fmnist-explorer-data').textContent).classes;"
        " return `true ${c[w[0]]}, predicted ${c[w[1]]}`; }", want)


def test_axe_finds_nothing_serious_in_the_explorer(offline):
    require(AXE.exists(), f"axe-core ({AXE.relative_to(AXE.parents[2])}; `npm install axe-core`)")
    choose(offline, "fx-kind", "disagree")
    offline.add_script_tag(path=str(AXE))
    result = offline.evaluate("""() => axe.run('#fmnist-explorer', {runOnly: {type: 'tag',
        values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']}})""")
    bad = [f"{v['id']} ({v['impact']}): {v['help']}; e.g. {v['nodes'][0]['target']}"
           for v in result["violations"] if v["impact"] in ("serious", "critical")]
    assert not bad, "\n".join(bad)
    width = offline.viewport_size["width"]
    SCREENSHOTS.mkdir(exist_ok=True)
    offline.locator("#fmnist-explorer").screenshot(path=str(SCREENSHOTS / f"explorer-{width}px.png"))
    box = offline.locator("#fmnist-explorer").bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= width + 1
