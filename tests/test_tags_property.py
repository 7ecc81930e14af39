"""Property test: random raw elements (any VR, any bytes, any charset, nested, private) never
make flatten/search/compare raise, and every generated expression reaches its element."""

from __future__ import annotations

import warnings

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydicom.dataelem import RawDataElement
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence
from pydicom.tag import Tag

from dicom_widgets.html.tags import detail_html, rows_table
from dicom_widgets.tags import TagIndex, compare, evaluate_expression, flatten, format_tag

VRS = [
    "AE",
    "AS",
    "AT",
    "CS",
    "DA",
    "DS",
    "DT",
    "FL",
    "FD",
    "IS",
    "LO",
    "LT",
    "OB",
    "OW",
    "PN",
    "SH",
]
VRS += ["SL", "SS", "ST", "TM", "UC", "UI", "UL", "UN", "UR", "US", "UT"]
CHARSETS = [None, "ISO_IR 100", "ISO_IR 192", "ISO 2022 IR 87", "GB18030", "ISO_IR 144", "bogus"]

# Public tags of several groups, private creators/data, and odd/illegal ones.
tags = st.one_of(
    st.sampled_from(
        [0x00080020, 0x00100010, 0x00181030, 0x00200032, 0x00280030, 0x60003000, 0x60023000]
    ),
    st.builds(
        lambda g, e: (g << 16) | e,
        st.sampled_from([0x0009, 0x0011, 0x0001, 0x2005]),
        st.integers(0, 0xFFFF),
    ),
    st.integers(0x00080000, 0x7FDFFFFF),
)
raw_values = st.one_of(
    st.binary(max_size=40),
    st.sampled_from(
        [b"<script>alert(1)</script>", b"1A", b"\xff\xfe\x00", b"Caf\xe9", b"\x1b$B;3ED\x1b(B"]
    ),
)


@st.composite
def datasets(draw, depth: int = 0) -> Dataset:
    ds = Dataset()
    if depth == 0:
        charset = draw(st.sampled_from(CHARSETS))
        if charset:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # "bogus" is invalid on purpose
                ds.SpecificCharacterSet = charset
    for tag, vr, value in draw(
        st.lists(st.tuples(tags, st.sampled_from(VRS), raw_values), max_size=8)
    ):
        if tag == 0x00080005 or tag & 0xFFFF == 0:
            continue
        # little-endian explicit: what pydicom would have read from a file
        ds._dict[Tag(tag)] = RawDataElement(Tag(tag), vr, len(value), value, 0, False, True)
    if depth < 2 and draw(st.booleans()):
        seq_tag = draw(st.sampled_from([0x00081140, 0x00091010, 0x52009229]))
        items = draw(st.lists(datasets(depth=depth + 1), max_size=2))
        ds.add_new(seq_tag, "SQ", Sequence(items))
    return ds


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(datasets())
def test_random_raw_datasets_never_raise(ds):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rows = flatten(ds)
        for row in rows:
            assert isinstance(row.summary, str) and len(row.summary) < 300
            assert row.problem is None or isinstance(row.problem, str)
            if row.kind == "element" and row.element is not None:
                assert (
                    evaluate_expression(row.expression, ds) is row.element.value
                    or evaluate_expression(row.expression, ds) == row.element.value
                )
            html = detail_html(row)
            assert "<script>" not in html
        table = rows_table(rows)
        assert "<script>" not in table
        index = TagIndex(rows)
        for row in rows[:5]:
            if row.kind == "element":
                assert row.index in index.search(format_tag(row.tag)).hits
        assert not compare(ds, ds)
