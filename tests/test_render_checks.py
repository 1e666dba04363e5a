"""The render checks (tests/render_checks.py) catch each defect class on planted input, and
pass clean input: without this a render test that finds nothing could be one that cannot fail."""
from render_checks import (PLACEHOLDERS, PRIMES, breakable_names, broken_names, broken_title_lines,
                           capitals_after_colons, lonely_figures, orphan_captions, page_number_collisions, prose_blocks,
                           prose_by_chapter, repeated_passages, repeated_sentences, split_names, split_units,
                           wrapped_spreads)

HTML = """<html><body><nav><p>Table of contents and a sentence of twelve words here in the navigation bar, twice.</p></nav>
<main><p>The verdict is the same with the defaults both models share and with each model's tuned values.
Something else.</p>
<table><tr><td><p>The verdict is the same with the defaults both models share and with each model's tuned values.</p></td></tr></table>
<pre><code>The verdict is the same with the defaults both models share and with each model's tuned values.</code></pre>
<ul><li>The verdict is the same with the defaults both <em>models</em> share and with each model's tuned values.</li></ul>
<p>A short sentence. A short sentence.</p></main></body></html>"""


def test_repeated_sentences_found_in_prose_only():
    blocks = prose_blocks(HTML)
    assert len(blocks) == 3  # the two paragraphs and the list item, not the table, code or nav
    assert repeated_sentences(blocks) == {
        "The verdict is the same with the defaults both models share and with each model's tuned values.": 2}
    assert repeated_sentences(blocks[:1]) == {}


def test_placeholders_and_primes_are_recognised():
    for text in ("Firstname Lastname", "Your Institution", "https://OWNER.github.io/x", "@report{lastname2026,"):
        assert PLACEHOLDERS.search(text), text
    assert not PLACEHOLDERS.search("fmnist-cnn-report contributors, owner of the repository")
    assert any(p in "LeNet-5\u2032s" for p in PRIMES) and not any(p in "LeNet-5\u2019s" for p in PRIMES)


def test_split_units_and_broken_titles():
    assert split_units("rose by 29.3\n% of the") == ["29.3⏎%"]
    assert split_units("by +0.11\n  pp and") == ["0.11⏎  pp"]
    assert split_units("29.3 % of\nthe images, 12\npeople") == []
    assert broken_title_lines(["Can a deliberately small CNN match LeNet-5 on Fashion-", "MNIST?"]) == [
        "Can a deliberately small CNN match LeNet-5 on Fashion-"]
    assert broken_title_lines(["Can a deliberately small CNN match LeNet-5 on", "Fashion-MNIST?"]) == []


def _bbox(*pages):
    def words(ws):
        return "".join(f'<word xMin="{a}" yMin="{b}" xMax="{c}" yMax="{d}">{w}</word>' for a, b, c, d, w in ws)
    return "<doc>" + "".join(f'<page width="595" height="842">{words(ws)}</page>' for ws in pages) + "</doc>"


def test_page_number_collision_found():
    body = (56, 700, 300, 711, "Figure")
    clean = _bbox([body, (295, 790, 300, 801, "1")], [body, (295, 790, 300, 801, "2")])
    assert page_number_collisions(clean) == []
    crowded = _bbox([body, (295, 790, 300, 801, "1")],
                    [(56, 786, 300, 797, "long"), (301, 786, 340, 797, "caption"), (295, 790, 300, 801, "2")])
    assert page_number_collisions(crowded) == ["page 2: page number 2 touches 'long caption'"]


def test_repeated_passages_mask_numbers_and_allow_one_summary():
    clause = "the interval lies wholly outside the ±1 pp margin, so the models differ by more than the margin"
    shown, summary = (f"Tuned: -4.29 pp; {clause}.", "sec-evaluation"), (f"Default: -5.15 pp; {clause}.", "summary")
    assert repeated_passages([shown, summary]) == {}  # where it is shown, and summarised once
    parallel = [(f"Method {k}: +0.{k} pp; {clause}.", "sec-gradcam") for k in range(3)]
    assert repeated_passages([shown, summary] + parallel[:1]) != {}
    assert repeated_passages(parallel) == {}  # a per-method list inside one chapter
    third = repeated_passages([shown, summary, (f"Again +0.11 pp; {clause}.", "sec-discussion")])
    assert len(third) == 1 and list(third.values()) == [3]
    assert list(third)[0].startswith("# pp; the interval lies wholly outside the ±# pp margin")


def test_prose_is_assigned_to_its_chapter():
    html = """<main><section id="summary" class="level1"><p>One.</p></section>
    <section id="sec-a" class="level1"><p>Two.</p><section id="sec-a-1" class="level2"><p>Three.</p>
    </section></section></main>"""
    assert prose_by_chapter(html) == [("One.", "summary"), ("Two.", "sec-a"), ("Three.", "sec-a")]


def test_breakable_names_found_outside_nowrap_only():
    clean = """<html><head><title>LeNet-5</title></head><body><main>
    <p><span class="nowrap">LeNet-5</span>’s accuracy, <span class="nowrap"><em>LeNet-5</em></span>.</p>
    <table><tr><th><span class="nowrap">LeNet-5</span></th></tr></table><img alt="LeNet-5 map">
    <pre><code>model = "LeNet-5"</code></pre><p>Inline <code>LeNet-5</code>, LeNet‑5 with U+2011.</p>
    <div style="white-space: nowrap">LeNet-5</div><br><p>After a void tag, <span class="nowrap">LeNet-5</span>.</p>
    </main></body></html>"""
    assert breakable_names(clean) == []
    planted = clean.replace("<th><span class=\"nowrap\">LeNet-5</span></th>", "<th>LeNet-5 accuracy</th>")
    planted = planted.replace("After a void tag, <span class=\"nowrap\">LeNet-5</span>", "After a void tag, LeNet-5")
    assert breakable_names(planted) == ["LeNet-5 accuracy", "After a void tag, LeNet-5."]


def test_split_names_in_the_pdf_text():
    assert split_names("than LeNet-\n  5 does") == ["LeNet-⏎  5"]
    assert split_names("than LeNet-5 does,\nLeNet-5\u2019s maps") == []


def _line(y, *words, x=56.0, size=10.0):
    """Word boxes of one line of text at height ``y``, left to right."""
    out = []
    for w in words:
        out.append((x, y, x + 6 * len(w), y + size, w))
        x += 6 * len(w) + 4
    return out


def test_broken_names_found_across_lines_and_table_cells():
    clean = _bbox(_line(100, "both", "Grad-CAM", "and", "HiResCAM,") + _line(112, "T-shirt/top", "and", "LeNet-5’s")
                  + _line(124, "Simple", "CNN") + _line(124, "LeNet-5", x=300) + _line(136, "Grad-CAM", x=300))
    assert broken_names(clean) == []
    planted = _bbox(_line(100, "both", "Grad-") + _line(112, "CAM", "and", "Hi-") + _line(124, "ResCAM")
                    # a table cell "T-shirt/ / top" with another column's word between in -layout reading
                    + _line(136, "T-shirt/") + _line(148, "top"))
    assert broken_names(planted) == ["page 1: 'Grad-' / 'CAM' (Grad-CAM)", "page 1: 'Hi-' / 'ResCAM' (HiResCAM)",
                                     "page 1: 'T-shirt/' / 'top' (T-shirt/top)"]


def test_wrapped_spreads_found_at_either_end_of_a_line():
    clean = _bbox(_line(100, "0.8625", "±", "0.0047") + _line(112, "0.8619", "±", "0.0082", "margin", "of")
                  + _line(124, "±1", "pp"))
    assert wrapped_spreads(clean) == []
    planted = _bbox(_line(100, "0.8625", "±") + _line(112, "0.0047") + _line(124, "0.8619") + _line(136, "±", "0.0082"))
    assert wrapped_spreads(planted) == ["page 1: '0.8625 ± 0.0047'", "page 1: '0.8619 ± 0.0082'"]


def test_lonely_figures_found_on_mostly_blank_pages():
    full = _line(60, "text") + _line(770, "end")  # spans the text area, as a page of running text does
    caption = _line(240, "Figure", "16:", "Mean", "Spearman")
    number = [(295, 800, 300, 811, "2")]
    lonely = _bbox(full, caption + number, full)
    assert lonely_figures(lonely) == ["page 2: Figure 16 on a page 26% used"]  # (250 - 60) / (780 - 60)
    followed = _bbox(full, caption + _line(700, "With", "coarser", "cells") + number, full)
    assert lonely_figures(followed) == []  # the text goes on below the figure
    assert lonely_figures(_bbox(full, _line(100, "References"), full)) == []  # a short page, but no figure
    assert lonely_figures(_bbox(full, caption + number)) == []  # the last page may end early
    # Figure 16's page of the 2026-12-02 review: figure, caption, one paragraph, 42 % used
    review = _bbox(full, caption + _line(350, "With", "coarser", "cells") + number, full)
    assert lonely_figures(review) == [] and lonely_figures(review, min_used=0.5) == [
        "page 2: Figure 16 on a page 42% used"]


def test_capitals_after_colons_in_prose():
    blocks = ["We compare each seed's tuned run on the test set: Tuning raised accuracy.",
              "Per class: LeNet-5 errs more on Shirt; barely, by HiResCAM: on the grid.",
              "Partly: the Simple CNN and Grad-CAM: Simple CNN 0.30, a simple model, with tuning and raised values."]
    assert capitals_after_colons(blocks, names=("Simple CNN",)) == [
        "ed's tuned run on the test set: Tuning raised accuracy."]
    assert capitals_after_colons(blocks[1:], names=("Simple CNN",)) == []
    assert len(capitals_after_colons(blocks)) == 2  # without the name, "Simple CNN" after a colon is flagged


def test_orphan_captions_found_where_the_rows_start_on_the_next_page():
    rows = _line(500, "Shirt", "0.96546", size=9.0) + _line(512, "Coat", "0.98796", size=9.0)
    caption = _line(470, "Table", "18:", "Per-class", "AUC") + _line(482, "largest", "difference", "first.")
    text = _line(60, "Each", "class") + _line(770, "end")
    assert orphan_captions(_bbox(text + caption + rows, text)) == []
    assert orphan_captions(_bbox(text + caption, rows + text)) == ["page 1: the caption of Table 18 ends the page"]
    assert orphan_captions(_bbox(text, text + caption)) == []  # the last page is exempt
    # a reference in running text, "... on every axis of Table 4: one convolution", is no caption
    prose = _line(748, "every", "axis", "of", "Table", "4:", "one", "convolution")
    assert orphan_captions(_bbox(text + prose, text)) == []
