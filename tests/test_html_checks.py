"""Checks shared by the HTML tests (strict well-formedness and safety), and tests of them.

The checks must be able to fail: the tests below feed them broken and unsafe HTML.
"""

from __future__ import annotations

from html.parser import HTMLParser

import pytest

VOID = frozenset({"img", "input", "br", "hr", "wbr", "col"})


class StrictParser(HTMLParser):
    """Collects start tags and text, and checks that every element is closed in order."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.starts: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []
        self.errors: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.starts.append((tag, dict(attrs)))
        if tag not in VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag, attrs):
        self.starts.append((tag, dict(attrs)))

    def handle_endtag(self, tag):
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"unexpected </{tag}>, open: {self.stack[-3:]}")
            return
        self.stack.pop()

    def handle_data(self, data):
        self.text.append(data)


def parse(html: str) -> StrictParser:
    """Parse ``html``; assert that elements are balanced and properly nested."""
    parser = StrictParser()
    parser.feed(html)
    parser.close()
    assert not parser.errors, parser.errors[:5]
    assert not parser.stack, f"unclosed elements: {parser.stack[-5:]}"
    return parser


def assert_safe(html: str) -> StrictParser:
    """Well-formed, no script-like element, no event handler, images only our PNG thumbnails."""
    parsed = parse(html)
    for name, attrs in parsed.starts:
        assert name not in {"script", "iframe", "object", "embed", "svg", "math"}, name
        for attr in attrs:
            assert not attr.lower().startswith("on"), (name, attr)
        if name == "img":
            assert attrs.get("class") == "dw-thumb", attrs
            assert (attrs.get("src") or "").startswith("data:image/png;base64,"), attrs
    assert "<script" not in html.lower()
    return parsed


def text_of(html: str) -> str:
    """The text content of ``html`` (entities decoded)."""
    return "".join(parse(html).text)


@pytest.mark.parametrize(
    "bad",
    ["<div><span></div></span>", "<div>", "</p>", "<table><tr></table>"],
)
def test_parse_detects_unbalanced(bad):
    with pytest.raises(AssertionError):
        parse(bad)


@pytest.mark.parametrize(
    "bad",
    [
        "<div><script>alert(1)</script></div>",
        '<div><img src=x onerror="alert(1)"></div>',
        '<div><img class="dw-thumb" src="x"></div>',
        '<b onclick="x">y</b>',
    ],
)
def test_assert_safe_detects_payloads(bad):
    with pytest.raises(AssertionError):
        assert_safe(bad)


def test_checks_accept_good_html():
    good = (
        '<div class="a"><img class="dw-thumb" src="data:image/png;base64,AA=="><br>&lt;x&gt;</div>'
    )
    assert text_of(good) == "<x>"
    assert_safe(good)
