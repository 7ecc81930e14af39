"""Property test: random datasets (tags, VRs, values, nesting) always give well-formed, safe HTML."""

from __future__ import annotations

import warnings

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence
from test_html_checks import assert_safe

from dicom_widgets.html import dataset_html, dataset_text

PAYLOADS = ["<script>alert(1)</script>", "<img src=x onerror=alert(1)>", '"', "&", "'", "\\"]

# Text mixing HTML metacharacters, payloads, non-ASCII and control characters.
_chars = st.characters(
    codec="utf-8", exclude_categories=("Cs",), exclude_characters="\x00"
) | st.sampled_from(list("<>&\"'=^\\/\x1b\x07é山ا"))
texts = st.one_of(st.text(_chars, max_size=40), st.sampled_from(PAYLOADS))

TEXT_VRS = [
    "AE",
    "AS",
    "CS",
    "DA",
    "DT",
    "LO",
    "LT",
    "PN",
    "SH",
    "ST",
    "TM",
    "UC",
    "UI",
    "UR",
    "UT",
]
VALUES = {
    **{vr: texts for vr in TEXT_VRS},
    "DS": st.one_of(
        st.floats(allow_nan=False, allow_infinity=False, width=32).map(lambda f: f"{f:.6g}"),
        texts,
    ),
    "IS": st.one_of(st.integers(-(2**31), 2**31 - 1), texts),
    "US": st.one_of(st.integers(0, 65535), st.lists(st.integers(0, 65535), max_size=20)),
    "SS": st.integers(-32768, 32767),
    "UL": st.integers(0, 2**32 - 1),
    "SL": st.lists(st.integers(-(2**31), 2**31 - 1), max_size=12),
    "FL": st.floats(width=32),
    "FD": st.one_of(st.floats(), st.lists(st.floats(), max_size=12)),
    "AT": st.integers(0, 2**32 - 1),
    "OB": st.binary(max_size=300),
    "OW": st.binary(max_size=64).map(lambda b: b + b"\x00" * (len(b) % 2)),
    "UN": st.one_of(st.binary(max_size=100), st.sampled_from([p.encode() for p in PAYLOADS])),
}
LEAF_VRS = sorted(VALUES)

# Groups: public ones of different sections, private ones, pixel data, overlays.
groups = st.sampled_from(
    [0x0008, 0x0010, 0x0018, 0x0020, 0x0028, 0x0009, 0x0019, 0x0029, 0x6000, 0x7FE0, 0x4321]
)
elements = st.one_of(st.integers(0x0001, 0xFFFF), st.sampled_from([0x0010, 0x0011, 0x1000, 0x1010]))


@st.composite
def datasets(draw, depth: int = 0) -> Dataset:
    ds = Dataset()
    if draw(st.booleans()):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                block = ds.private_block(0x0011, draw(texts) or "X", create=True)
                block.add_new(draw(st.integers(0, 0xFF)), "LO", draw(texts))
        except Exception:
            pass  # pydicom refuses some creators (empty after stripping): that is fine
    for _ in range(draw(st.integers(0, 8))):
        tag = (draw(groups) << 16) | draw(elements)
        vr = draw(st.sampled_from(LEAF_VRS + (["SQ"] if depth < 3 else [])))
        if vr == "SQ":
            value = Sequence([draw(datasets(depth + 1)) for _ in range(draw(st.integers(0, 3)))])
        else:
            value = draw(VALUES[vr])
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                ds.add(DataElement(tag, vr, value))
        except Exception:
            pass  # values pydicom itself rejects at construction are not datasets
    return ds


@settings(
    max_examples=80,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(datasets(), st.integers(1, 4), st.sampled_from([200, 5_000, 1_500_000]))
def test_random_datasets_render_well_formed_and_safe(ds, max_items, max_html_chars):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # invalid values on purpose
        html = dataset_html(ds, max_items_per_sequence=max_items, max_html_chars=max_html_chars)
        text = dataset_text(ds)
    assert "Could not render" not in html
    assert_safe(html)
    html.encode("utf-8")
    assert isinstance(text, str)
