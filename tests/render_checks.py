"""Checks of the rendered paper for typesetting defects a reader would see, as plain functions
of the HTML text, the PDF's text and its word boxes (``pdftotext -bbox``), so that each can be
shown to catch a planted defect (tests/test_render_checks.py) and then run on the real render
(tests/test_render.py).
"""
from __future__ import annotations

import re
from collections import Counter
from html.parser import HTMLParser

# Text a template leaves for the author to replace (the front matter, CITATION.cff, BibTeX).
PLACEHOLDERS = re.compile(r"Firstname|Lastname|Your (?:Name|Institution)|(?-i:\bOWNER\b)|lastname\d{4}"
                          r"|example\.(?:com|org)|\bTODO\b|\bFIXME\b|lorem ipsum", re.I)
PRIMES = "\u2032\u2033"  # ′ ″: Typst sets an apostrophe after a digit as a prime
_SKIP = {"pre", "script", "style", "table", "figcaption", "nav", "header", "footer"}


class _Prose(HTMLParser):
    """The text of the paragraphs and list items of <main>, outside code, tables, captions and
    the appendix (the citation there quotes the title by design)."""

    def __init__(self):
        super().__init__()
        self.depth_main = self.skip = self.appendix = 0
        self.blocks, self._buf, self._open = [], [], 0
        self.sections, self.block_sections = [], []  # open <section> ids; each block's chapter

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "section":
            self.sections.append(attrs.get("id") or "")
        if tag == "main":
            self.depth_main += 1
        if tag in _SKIP:
            self.skip += 1
        if attrs.get("id") == "quarto-appendix" or "quarto-appendix-contents" in (attrs.get("class") or ""):
            self.appendix += 1
        if tag in ("p", "li") and self.depth_main and not self.skip and not self.appendix:
            self._open += 1

    def handle_endtag(self, tag):
        if tag in ("p", "li") and self._open:
            self._open -= 1
            if not self._open:
                self.blocks.append(" ".join("".join(self._buf).split()))
                self.block_sections.append(self.sections[0] if self.sections else "")
                self._buf = []
        if tag in _SKIP and self.skip:
            self.skip -= 1
        if tag == "main":
            self.depth_main -= 1
        if tag == "section" and self.sections:
            self.sections.pop()

    def handle_data(self, data):
        if self._open and not self.skip:
            self._buf.append(data)


def prose_blocks(html: str) -> list[str]:
    """The paper's running text as one string per paragraph or list item."""
    return [b for b, _ in prose_by_chapter(html)]


def prose_by_chapter(html: str) -> list[tuple[str, str]]:
    """(paragraph or list item, id of its top-level section) for the paper's running text."""
    parser = _Prose()
    parser.feed(html)
    return [(b, s) for b, s in zip(parser.blocks, parser.block_sections) if b]


def sentences(text: str) -> list[str]:
    """Sentences of running text (split after . ! ? before a capital or an opening bracket)."""
    return [s.strip() for s in re.split(r"(?<=[.!?])\s+(?=[A-Z(\"“])", text) if s.strip()]


def repeated_sentences(blocks: list[str], min_words: int = 12) -> dict[str, int]:
    """Sentences of at least ``min_words`` words that the text says more than once."""
    counts = Counter(s for b in blocks for s in sentences(b) if len(s.split()) >= min_words)
    return {s: n for s, n in counts.items() if n > 1}


def repeated_passages(blocks: list[tuple[str, str]], words: int = 12, allowed: int = 2) -> dict[str, int]:
    """Passages of ``words`` consecutive words (numbers masked as ``#``, so one clause worded
    the same with other numbers counts as one) that more than ``allowed`` chapters say: a
    finding is said where it is shown and summarised once, so in two chapters at most
    (parallel wording inside one chapter, a list of per-method answers, is not repetition).
    ``blocks`` are (text, chapter) pairs (:func:`prose_by_chapter`). Overlapping windows of
    one long repeat are reported once, by their first window; the count is of chapters."""
    where: dict[str, set] = {}
    for block, chapter in blocks:
        tokens = [re.sub(r"[-+−]?\d[\d.,]*", "#", w) for w in block.split()]
        for i in range(len(tokens) - words + 1):
            where.setdefault(" ".join(tokens[i:i + words]), set()).add(chapter)
    found, last = {}, None
    for passage, chapters in where.items():
        if len(chapters) > allowed:
            if last is not None and passage.split()[:-1] == last.split()[1:]:
                last = passage
                continue
            found[passage] = len(chapters)
            last = passage
    return found


def split_units(text: str) -> list[str]:
    """Places where a number and its unit ("%", "pp") fall on two lines of the PDF's text."""
    return [m.group(0).replace("\n", "⏎") for m in re.finditer(r"\d[\d.,]*[ \t]*\n\s*(?:%|pp\b)", text)]


def broken_title_lines(lines: list[str]) -> list[str]:
    """Lines of the PDF's title that end in a hyphen: the title broke inside a word."""
    return [line for line in lines if line.rstrip().endswith(("-", "\u2010", "\u2011"))]


_WORD = re.compile(r'<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">([^<]*)</word>')
_PAGE = re.compile(r'<page width="([\d.]+)" height="([\d.]+)">(.*?)</page>', re.S)


def pages_words(bbox_html: str) -> list[tuple[float, list[tuple[float, float, float, float, str]]]]:
    """``pdftotext -bbox`` output as (page height, [(x0, y0, x1, y1, word), ...]) per page."""
    return [(float(h), [(float(a), float(b), float(c), float(d), w) for a, b, c, d, w in _WORD.findall(body)])
            for _, h, body in _PAGE.findall(bbox_html)]


def page_number_collisions(bbox_html: str, gap: float = 3.0) -> list[str]:
    """Pages whose number (a lone integer in the bottom tenth of the page) touches other text:
    a word whose box comes within ``gap`` points of the number's line, or overlaps it."""
    problems = []
    for page, (height, words) in enumerate(pages_words(bbox_html), 1):
        foot = [w for w in words if w[4] == str(page) and w[1] > 0.9 * height]
        if not foot:
            continue
        x0, y0, x1, y1, _ = max(foot, key=lambda w: w[1])
        near = [w[4] for w in words if w[:4] != (x0, y0, x1, y1) and w[3] > y0 - gap and w[1] < y1 + gap]
        if near:
            problems.append(f"page {page}: page number {page} touches {' '.join(near[:8])!r}")
    return problems


# Names that must never break at their hyphen (filters/typeset.lua, NOBREAK).
UNBREAKABLE = ("LeNet-5",)
_NO_TEXT = {"head", "script", "style", "pre", "code", "textarea", "svg"}
_VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


class _Breakable(HTMLParser):
    """Text nodes of <body> holding an UNBREAKABLE name with no nowrap ancestor."""

    def __init__(self, names):
        super().__init__()
        self.names, self.stack, self.found = names, [], []

    def handle_starttag(self, tag, attrs):
        if tag in _VOID:
            return
        attrs = dict(attrs)
        classes = (attrs.get("class") or "").split()
        # "csl-entry": the citation Quarto writes after the filters ran (the paper's title as the
        # citation style sets it): the one place left to the browser, said in issue 23's note
        nowrap = ("nowrap" in classes or "csl-entry" in classes
                  or re.search(r"white-space:\s*(?:nowrap|pre)\b", attrs.get("style") or "") is not None)
        self.stack.append((tag, nowrap or tag in _NO_TEXT))

    def handle_startendtag(self, tag, attrs):
        pass

    def handle_endtag(self, tag):
        for i in range(len(self.stack) - 1, -1, -1):  # close up to the matching tag
            if self.stack[i][0] == tag:
                del self.stack[i:]
                return

    def handle_data(self, data):
        if any(safe for _, safe in self.stack):
            return
        for name in self.names:
            for m in re.finditer(re.escape(name), data):
                self.found.append(" ".join(data[max(0, m.start() - 30):m.end() + 30].split()))


def breakable_names(html: str, names: tuple[str, ...] = UNBREAKABLE) -> list[str]:
    """Places in the HTML's visible text where a name such as "LeNet-5" can break at its hyphen:
    the name (with a plain, breakable hyphen) in a text node that no ``nowrap`` element holds.
    Code, scripts and the page's <head> are not running text and are not searched."""
    parser = _Breakable(names)
    parser.feed(html)
    return parser.found


def split_names(text: str, names: tuple[str, ...] = UNBREAKABLE) -> list[str]:
    """Places where the PDF's text breaks such a name across two lines ("LeNet-" / "5")."""
    found = []
    for name in names:
        head, tail = name.rsplit("-", 1)
        pattern = re.escape(head) + r"[-\u2010\u2011][ \t]*\n\s*" + re.escape(tail)
        found += [m.group(0).replace("\n", "⏎") for m in re.finditer(pattern, text)]
    return found


# Names set unbreakably by filters/typeset.lua (NOBREAK): never broken at a hyphen or slash, and
# never hyphenated, on a page of the PDF.
NAMES = ("LeNet-5", "Grad-CAM", "HiResCAM", "T-shirt/top")
_HYPHENS = "-\u2010\u2011\u00ad"


def _new_line(a, b) -> bool:
    """Whether word box ``b``, written after ``a``, starts a new line: it lies lower, wholly
    higher (a float written after the text below it), or left of it."""
    return b[1] > a[1] + 0.5 * (a[3] - a[1]) or b[3] < a[1] or b[0] < a[0] - 1


def broken_names(bbox_html: str, names: tuple[str, ...] = NAMES) -> list[str]:
    """Places in the PDF where a name runs over a line break, read from the word boxes
    (``pdftotext -bbox``) in the order Typst wrote them: a word and the next one, on a lower
    line, that together (the first's end-of-line hyphen dropped) hold a name that neither
    holds alone ("Grad-" / "CAM", "T-shirt/" / "top", "Hi-" / "ResCAM"). Works in table
    cells too, where ``pdftotext -layout`` puts other columns between the two halves."""
    found = []
    for page, (_, words) in enumerate(pages_words(bbox_html), 1):
        for a, b in zip(words, words[1:]):
            if not _new_line(a, b):
                continue
            for joined in (a[4] + b[4], a[4].rstrip(_HYPHENS) + b[4]):
                hit = [n for n in names if n in joined and n not in a[4] and n not in b[4]]
                if hit:
                    found.append(f"page {page}: {a[4]!r} / {b[4]!r} ({hit[0]})")
                    break
    return found


def wrapped_spreads(bbox_html: str, joiners: tuple[str, ...] = ("±",)) -> list[str]:
    """Places in the PDF where a value and its spread are split over two lines: a "±" that
    ends a line ("0.8625 ±" / "0.0047" in a table cell, "(mean ±" / "sd)" in a header) or
    starts one after a value; a margin "±1 pp" may start a line."""
    found = []
    for page, (_, words) in enumerate(pages_words(bbox_html), 1):
        for i, w in enumerate(words):
            if not any(j in w[4] for j in joiners):
                continue
            before = words[i - 1] if i else None
            after = words[i + 1] if i + 1 < len(words) else None
            at_end = w[4].endswith(joiners) and after is not None and _new_line(w, after)
            # "±1 pp" may start a line; a "±" after a value ("0.8625" / "± 0.0047") may not
            at_start = (w[4].startswith(joiners) and before is not None and _new_line(before, w)
                        and (w[4] in joiners or before[4][-1:].isdigit()))
            if at_end or at_start:
                context = " ".join(x[4] for x in words[max(0, i - 1):i + 2])
                found.append(f"page {page}: {context!r}")
    return found


def lonely_figures(bbox_html: str, min_used: float = 0.30) -> list[str]:
    """Pages that hold a figure (a "Figure N:" caption) and use less than ``min_used`` of the
    text area, the rest left blank: a figure alone on a mostly empty page. Figures are vector
    drawings without text for ``pdftotext``, so a page's use is measured from the top of the
    text area down to its lowest word (a figure's caption lies below it); the text area is the
    span of the words of all pages, page numbers aside. The last page is exempt."""
    pages = pages_words(bbox_html)
    body = [[w for w in words if not (w[4] == str(n) and w[1] > 0.9 * h)] for n, (h, words) in enumerate(pages, 1)]
    boxes = [w for words in body for w in words]
    if not boxes:
        return []
    top, bottom = min(w[1] for w in boxes), max(w[3] for w in boxes)
    found = []
    for n, words in enumerate(body[:-1], 1):
        texts = [w[4] for w in words]
        captions = [texts[i + 1] for i, t in enumerate(texts[:-1]) if t == "Figure" and re.fullmatch(r"\d+:", texts[i + 1])]
        if not captions or not words:
            continue
        used = (max(w[3] for w in words) - top) / (bottom - top)
        if used < min_used:
            found.append(f"page {n}: Figure {captions[0][:-1]} on a page {used:.0%} used")
    return found


def capitals_after_colons(blocks: list[str], names: tuple[str, ...] = ()) -> list[str]:
    """Places in running text where a colon is followed by a capitalised common word ("test set:
    Tuning raised"): the house style continues a sentence after a colon in lower case. A word
    counts as common when the text also has it in lower case; ``names`` (and words in capitals
    or with a capital inside, such as "LeNet-5" or "HiResCAM") are never flagged."""
    text = " ".join(blocks)
    common = set(re.findall(r"\b[a-z][a-z-]+\b", text))
    found = []
    for block in blocks:
        for m in re.finditer(r":\s+([A-Z][a-z]+)\b", block):
            rest = block[m.start(1):]
            if any(rest.startswith(n) for n in names) or m.group(1).lower() not in common:
                continue
            found.append(" ".join(block[max(0, m.start() - 30):m.end() + 30].split()))
    return found


def orphan_captions(bbox_html: str) -> list[str]:
    """Pages that end in a table's caption whose rows begin on the next page. A caption is set
    in the text's size and a table's cells smaller (0.9em, _quarto.yml), so a "Table N:" caption
    (at the start of a line) with no smaller word after it on its page, page number aside, has
    lost its table. The last page is exempt."""
    found = []
    pages = pages_words(bbox_html)
    for n, (height, words) in enumerate(pages[:-1], 1):
        body = [w for w in words if not (w[4] == str(n) and w[1] > 0.9 * height)]
        # a caption starts a line; "... axis of Table 4: one convolution" in prose does not
        starts = [i for i, w in enumerate(body[:-1]) if w[4] == "Table" and re.fullmatch(r"\d+:", body[i + 1][4])
                  and (i == 0 or _new_line(body[i - 1], w))]
        if not starts:
            continue
        i = starts[-1]
        size = body[i][3] - body[i][1]
        if not any(w[3] - w[1] < 0.95 * size for w in body[i + 2:]):
            found.append(f"page {n}: the caption of Table {body[i + 1][4][:-1]} ends the page")
    return found
