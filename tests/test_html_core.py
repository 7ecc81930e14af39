"""The HTML core: escaping, element builder, sections, tables, wrapper, thumbnails."""

from __future__ import annotations

import base64
import io
from html.parser import HTMLParser

import numpy as np
import pytest

from dicom_widgets.html import (
    Markup,
    badge,
    collapsible_section,
    escape,
    id_scope,
    join,
    new_id,
    note,
    shorten,
    stylesheet,
    table,
    tag,
    thumbnail_img,
    wrap,
)

PAYLOADS = ["<script>alert(1)</script>", "<img src=x onerror=alert(1)>", '"', "&", "'"]


class _Collector(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.starts: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.starts.append((tag, dict(attrs)))

    def handle_data(self, data):
        self.text.append(data)


def _parse(html: str) -> _Collector:
    parser = _Collector()
    parser.feed(html)
    parser.close()
    return parser


@pytest.mark.parametrize("payload", PAYLOADS)
def test_escape_round_trips_payload_as_text(payload):
    out = escape(payload)
    assert isinstance(out, Markup)
    assert "<" not in out and '"' not in out and "'" not in out
    assert "".join(_parse(f"<p>{out}</p>").text) == payload


def test_escape_passes_markup_and_objects_with_html():
    class Thing:
        def __html__(self):
            return "<b>ok</b>"

    assert escape(Markup("<i>x</i>")) == "<i>x</i>"
    assert escape(Thing()) == "<b>ok</b>"
    assert escape(None) == ""
    assert escape(3.5) == "3.5"


def test_escape_survives_broken_str():
    class Broken:
        def __str__(self):
            raise RuntimeError("no")

        def __repr__(self):
            return "<Broken>"

    assert escape(Broken()) == "&lt;Broken&gt;"


def test_escape_makes_controls_and_surrogates_visible():
    out = escape("a\x00b\x1bc\udcff")
    assert out == "a\\x00b\\x1bc\\udcff"
    out.encode("utf-8")  # valid UTF-8: no lone surrogate left


def test_markup_concatenation_escapes_plain_strings():
    assert Markup("<b>") + "<i>" == "<b>&lt;i&gt;"
    assert "<i>" + Markup("<b>") == "&lt;i&gt;<b>"
    assert join(["<a>", Markup("<br>")], sep=" & ") == "&lt;a&gt; &amp; <br>"


def test_tag_escapes_children_and_attributes():
    html = tag("td", *PAYLOADS, title=PAYLOADS[1] + '"', class_="dw-value", data_dw_path="a&b")
    parsed = _parse(html)
    assert [t for t, _ in parsed.starts] == ["td"]
    attrs = parsed.starts[0][1]
    assert attrs == {"title": PAYLOADS[1] + '"', "class": "dw-value", "data-dw-path": "a&b"}
    assert "".join(parsed.text) == "".join(PAYLOADS)


def test_tag_flattens_and_skips():
    html = tag("ul", [tag("li", "a"), None, False, (tag("li", x) for x in "bc")])
    assert html == "<ul><li>a</li><li>b</li><li>c</li></ul>"


def test_tag_boolean_and_void():
    assert tag("input", type="checkbox", checked=True, disabled=False) == (
        '<input type="checkbox" checked>'
    )
    with pytest.raises(ValueError):
        tag("br", "child")


@pytest.mark.parametrize("name", ["script", "iframe", "object", "embed", "Script", "a b", "x>"])
def test_tag_refuses_dangerous_elements(name):
    with pytest.raises(ValueError):
        tag(name)


@pytest.mark.parametrize(
    "attrs",
    [
        {"onerror": "alert(1)"},
        {"onClick": "x"},
        {"src": "javascript:alert(1)"},
        {"href": "javascript:alert(1)"},
        {"src": "x"},
        {"src": "data:text/html;base64,PHNjcmlwdD4="},
        {"bad name": "x"},
    ],
)
def test_tag_refuses_dangerous_attributes(attrs):
    with pytest.raises(ValueError):
        tag("img", **attrs)


def test_collapsible_section_structure():
    with id_scope("x"):
        html = collapsible_section("Title <x>", "body & <y>", open=True, count=3)
    parsed = _parse(html)
    tags = [t for t, _ in parsed.starts]
    assert tags == ["div", "input", "label", "span", "div"]
    box = parsed.starts[1][1]
    label = parsed.starts[2][1]
    assert box["type"] == "checkbox" and "checked" in box
    assert label["for"] == box["id"]
    assert "Title <x>" in "".join(parsed.text) and "body & <y>" in "".join(parsed.text)
    closed = collapsible_section("t", "b")
    assert "checked" not in dict(_parse(closed).starts[1][1])


def test_ids_are_unique_and_deterministic_per_scope():
    with id_scope("seed") as prefix:
        ids = [new_id() for _ in range(5)]
        with id_scope("inner") as inner:
            assert inner == prefix  # nested renders share the outer scope
            ids.append(new_id())
    assert len(set(ids)) == 6 and all(i.startswith(prefix) for i in ids)
    with id_scope("seed") as other:
        assert other != prefix  # a second render of the same object gets other ids
    assert new_id() != new_id()


def test_table_escapes_cells():
    html = table([[PAYLOADS[0], Markup("<b>x</b>")]], headers=["A&B", "V"], cell_classes=["k"])
    parsed = _parse(html)
    assert [t for t, _ in parsed.starts] == [
        "table",
        "thead",
        "tr",
        "th",
        "th",
        "tbody",
        "tr",
        "td",
        "td",
        "b",
    ]
    assert '<td class="k">&lt;script&gt;' in html and "<td><b>x</b></td>" in html


def test_wrap_has_style_fallback_and_hidden_rich_part():
    html = wrap(tag("b", "rich"), "text <fallback>")
    assert html.count("<style>") == 1
    assert '<pre class="dw-text-repr-fallback">text &lt;fallback&gt;</pre>' in html
    assert '<div class="dw-wrap" style="display:none"><b>rich</b></div>' in html
    assert "<style>" not in wrap("x", "y", include_style=False)


def test_stylesheet_is_scoped_and_themed():
    css = str(stylesheet())
    assert "var(--jp-content-font-color0" in css
    assert "html[theme=dark] .dw-repr" in css and "body.vscode-dark .dw-repr" in css
    # Every selector that is not an at-rule or a variable block is scoped under .dw-repr.
    import re

    body = re.sub(r"/\*.*?\*/", "", css[len("<style>") : -len("</style>")], flags=re.S)
    for selector_group in re.findall(r"([^{}]+)\{", body):
        for selector in selector_group.split(","):
            assert ".dw-repr" in selector, selector


def test_note_and_badge():
    assert note("<x>", kind="bogus") == '<div class="dw-note dw-note-info">&lt;x&gt;</div>'
    assert "dw-sev-error" in badge("x", "critical")
    assert "dw-sev-warning" in badge("x", "WARNING")
    assert "dw-sev-info" in badge("x", "<script>")


def test_shorten():
    assert shorten("abc") == ("abc", False)
    assert shorten("a" * 200, limit=10) == ("a" * 10 + "…", True)
    assert shorten("one\ntwo") == ("one…", True)


def _decode_thumb(html: str):
    from PIL import Image

    attrs = _parse(html).starts[0][1]
    prefix = "data:image/png;base64,"
    assert attrs["src"].startswith(prefix)
    return attrs, Image.open(io.BytesIO(base64.b64decode(attrs["src"][len(prefix) :])))


def test_thumbnail_grey_keeps_aspect_and_escapes_alt():
    arr = np.tile(np.arange(200, dtype=np.uint8), (100, 1))
    attrs, img = _decode_thumb(thumbnail_img(arr, max_size=64, alt='<script>"'))
    assert img.size == (64, 32) and img.mode == "L"
    assert attrs["alt"] == '<script>"' and attrs["width"] == "64"


def test_thumbnail_rgb_and_upscale_small():
    arr = np.zeros((4, 4, 3), np.uint8)
    arr[..., 0] = 255
    _, img = _decode_thumb(thumbnail_img(arr, max_size=16))
    assert img.size == (16, 16) and img.mode == "RGB"
    assert img.getpixel((8, 8)) == (255, 0, 0)


@pytest.mark.parametrize(
    "arr",
    [np.zeros((4, 4), np.uint16), np.zeros((4,), np.uint8), np.zeros((0, 4), np.uint8)],
)
def test_thumbnail_rejects_bad_input(arr):
    with pytest.raises(TypeError):
        thumbnail_img(arr)


def test_html_package_does_not_import_widget_libraries():
    import subprocess
    import sys

    code = (
        "import sys, dicom_widgets.html;"
        "bad = [m for m in ('ipywidgets', 'matplotlib', 'IPython') if m in sys.modules];"
        "print(bad)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_markup_as_attribute_value_is_escaped_as_text():
    # Markup is HTML; in an attribute it must not be able to close the quotes.
    html = tag("span", title=Markup('<b class="x">&amp;</b>'))
    assert html == '<span title="&lt;b class=&quot;x&quot;&gt;&amp;&lt;/b&gt;"></span>'
    assert _parse(html).starts[0][1]["title"] == '<b class="x">&</b>'


def test_long_attribute_values_are_not_cached():
    from dicom_widgets.html import _core

    before = _core._cached_attr_fragment.cache_info().currsize
    tag("span", title="x" * 10_000)
    assert _core._cached_attr_fragment.cache_info().currsize == before
