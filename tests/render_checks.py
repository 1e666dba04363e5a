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
