"""The Dataset HTML repr: every real file renders, payloads stay text, caps, charsets."""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import pytest
from pydicom.dataelem import RawDataElement
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence
from pydicom.tag import Tag
from pydicom.uid import ExplicitVRLittleEndian, generate_uid
from test_html_checks import assert_safe

from dicom_widgets._compat import read_dataset, write_dataset
from dicom_widgets.data import all_pydicom_test_files, charset_files, ct_phantom, pydicom_file
from dicom_widgets.html import dataset_html, dataset_summary, dataset_text, escape
from dicom_widgets.html.dataset import SECTIONS, section_of

SCRIPT = "<script>alert(1)</script>"
IMG = "<img src=x onerror=alert(1)>"
PAYLOADS = [SCRIPT, IMG, '"quoted"', "a & b"]


def _file_meta(sop_class: str = "1.2.840.10008.5.1.4.1.1.7") -> FileMetaDataset:
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = sop_class
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    return meta


def injection_dataset() -> Dataset:
    """A dataset carrying HTML payloads in every kind of element."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pydicom warns about the invalid values on purpose
        return _injection_dataset()


def _injection_dataset() -> Dataset:
    ds = Dataset()
    ds.file_meta = _file_meta()
    ds.SpecificCharacterSet = "ISO_IR 192"
    ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.7"
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID
    ds.Modality = "OT"
    # Top level: text VRs of each kind.
    ds.PatientName = f'{SCRIPT}^{IMG}=&^"x"=<b>^</b>'  # three PN component groups
    ds.PatientID = IMG[:64]
    ds.StudyDescription = SCRIPT
    ds.SeriesDescription = IMG
    ds.InstitutionName = '"quoted" & <b>bold</b>'
    ds.ImageComments = f"{SCRIPT}\n{IMG}\n" * 20  # LT, multi-line and long
    ds.add_new(0x00204000, "LT", SCRIPT)
    ds.add_new(0x00081030, "LO", [SCRIPT, IMG, "&"])  # multi-valued
    ds.add_new(0x00400280, "ST", IMG)
    ds.add_new(0x00189004, "CS", "<X>")  # invalid CS, marked
    # Nested sequences, two deep.
    inner = Dataset()
    inner.CodeMeaning = SCRIPT
    inner.CodeValue = IMG[:16]
    item = Dataset()
    item.ReferencedSOPClassUID = "1.2.840.10008.5.1.4.1.1.7"
    item.ReferencedSOPInstanceUID = generate_uid()
    item.add_new(0x00081030, "LO", IMG)
    item.PurposeOfReferenceCodeSequence = Sequence([inner])
    item.add_new(0x00081060, "PN", f"{IMG}^{SCRIPT}")
    ds.ReferencedImageSequence = Sequence([item, Dataset()])
    # Private block whose creator is itself a payload, with a private sequence.
    block = ds.private_block(0x0011, f"ACME {SCRIPT}", create=True)
    block.add_new(0x01, "LO", IMG)
    block.add_new(0x02, "UT", SCRIPT * 10)
    private_item = Dataset()
    private_item.add_new(0x00100010, "PN", SCRIPT)
    block.add_new(0x03, "SQ", Sequence([private_item]))
    # UN elements: payload bytes, top level and private.
    ds.add_new(0x00290010, "LO", "UN CREATOR")
    ds.add_new(0x00291001, "UN", (SCRIPT + IMG).encode())
    ds.add_new(0x0019_0010, "LO", IMG)
    ds.add_new(0x0019_1000, "UN", b'&"<>')
    return ds


def test_injection_payloads_render_as_text():
    ds = injection_dataset()
    html = dataset_html(ds)
    parsed = assert_safe(html)
    text = "".join(parsed.text)
    for payload in (SCRIPT, IMG, '"quoted" & <b>bold</b>', f"ACME {SCRIPT}"):
        assert payload in text, payload
    # Nothing raised, payloads nested two deep were rendered too.
    assert text.count(SCRIPT) >= 5


def test_injection_payloads_survive_a_file_round_trip(tmp_path):
    path = tmp_path / "inject.dcm"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        write_dataset(injection_dataset(), path)
    ds = read_dataset(path)
    html = dataset_html(ds)
    parsed = assert_safe(html)
    text = "".join(parsed.text)
    assert SCRIPT in text and IMG in text
    # The repr of a file has the transfer syntax in its header.
    assert "Explicit VR Little Endian" in text


def test_text_fallback_escaped():
    html = dataset_html(injection_dataset())
    pre = re.search(r'<pre class="dw-text-repr-fallback">(.*?)</pre>', html, re.S)
    assert pre is not None
    assert "<" not in pre.group(1) and "&lt;script&gt;" in pre.group(1)


def test_ct_small_header_sections_and_thumbnail():
    ds = read_dataset(pydicom_file("ct_small"))
    html = dataset_html(ds)
    parsed = assert_safe(html)
    text = "".join(parsed.text)
    for expected in ("CT Image Storage", "CompressedSamples^CT1", "128 × 128", "Explicit VR"):
        assert expected in text
    labels = [t.strip() for t in re.findall(r'class="dw-section-summary"[^>]*>([^<]*)<', html) if t]
    for section in ("File meta", "Patient", "Study", "Series", "Equipment", "Image", "Private"):
        assert section in labels, (section, labels)
    assert "Pixel data" in labels
    thumbs = [a for t, a in parsed.starts if t == "img"]
    assert len(thumbs) == 1
    # Pixel data is summarised with its size and transfer syntax, never dumped.
    assert "32,768 bytes" in text
    assert html.count("dw-section-in") >= 8
    # Only one stylesheet.
    assert html.count("<style>") == 1


def test_pixel_data_never_dumped_as_bytes():
    ds = read_dataset(pydicom_file("ct_small"))
    html = dataset_html(ds)
    pixel_row = re.search(r"\(7FE0,0010\).*?</tr>", html, re.S).group(0)
    assert "Explicit VR Little Endian" in pixel_row
    assert len(pixel_row) < 600


def test_undecodable_pixels_give_a_note_not_an_exception(tmp_path):
    ds = read_dataset(pydicom_file("ct_small"))
    ds.PixelData = ds.PixelData[:100]  # truncated: cannot be reshaped to 128x128
    html = dataset_html(ds)
    parsed = assert_safe(html)
    assert not [t for t, _ in parsed.starts if t == "img"]
    assert "pixel data could not be decoded" in "".join(parsed.text)


def test_no_thumbnail_when_asked():
    html = dataset_html(read_dataset(pydicom_file("ct_small")), thumbnail=False)
    assert "<img" not in html


def test_sequences_nest_with_item_counts():
    ds = read_dataset(pydicom_file("nested_private_sequence"))
    html = dataset_html(ds, open_sections=SECTIONS)
    assert_safe(html)
    assert "Item 0" in html
    ds = read_dataset(pydicom_file("rtplan"))
    html = dataset_html(ds)
    parsed = assert_safe(html)
    text = "".join(parsed.text)
    assert re.search(r"\d+ items?", text)
    # Nested depth: some collapsible sections sit inside others.
    assert html.count('class="dw-section dw-item"') > 3


def test_sequence_item_cap_is_said():
    ds = Dataset()
    ds.ReferencedImageSequence = Sequence(
        [Dataset() for _ in range(25)]  # empty items are enough to count
    )
    for i, item in enumerate(ds.ReferencedImageSequence):
        item.ReferencedSOPInstanceUID = f"1.2.3.{i}"
    html = dataset_html(ds, max_items_per_sequence=5)
    parsed = assert_safe(html)
    text = "".join(parsed.text)
    assert "… 20 more items" in text
    assert "1.2.3.4" in text and "1.2.3.5" not in text
    assert "25 items" in text


def big_header(n_private: int = 10_000) -> Dataset:
    ds = ct_phantom(n_slices=1, size=16)[0]
    for i in range(n_private):
        group = 0x0009 + 2 * (i // 240)
        if i % 240 == 0:
            ds.add_new((group << 16) | 0x0010, "LO", f"CREATOR {group:04X}")
        ds.add_new((group << 16) | (0x1000 + i % 240), "LO", f"value {i} <&>")
    return ds


def test_large_header_is_capped_and_says_so():
    ds = big_header(3000)
    html = dataset_html(ds, max_rows=1000)
    parsed = assert_safe(html)
    text = "".join(parsed.text)
    assert "Header truncated: only the first 1,000 elements" in text
    html = dataset_html(ds, max_html_chars=20_000)
    parsed = assert_safe(html)
    text = "".join(parsed.text)
    assert "Output truncated:" in text
    assert len(html) < 20_000 + 60_000  # stylesheet, header and thumbnail on top of the cap


def test_large_private_header_renders_fully_by_default():
    ds = big_header(2000)
    html = dataset_html(ds)
    assert_safe(html)
    assert "value 1999 &lt;&amp;&gt;" in html
    assert "truncated" not in html.lower().replace("dw-truncated", "")


def test_invalid_values_are_marked_not_raised():
    ds = Dataset()
    ds.SpecificCharacterSet = "ISO_IR 6"
    # Raw elements, as a file reader leaves them: converted (and validated) on access.
    ds._dict[Tag(0x00200013)] = RawDataElement(Tag(0x00200013), "IS", 4, b"abc ", 0, False, True)
    ds._dict[Tag(0x00100010)] = RawDataElement(
        Tag(0x00100010), "PN", 4, b"\xff\xfe<>", 0, False, True
    )
    ds._dict[Tag(0x00080020)] = RawDataElement(
        Tag(0x00080020), "DA", 8, b"2024<13>", 0, False, True
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the repr itself must not leak warnings
        html = dataset_html(ds)
    parsed = assert_safe(html)
    marks = [a for t, a in parsed.starts if t == "span" and a.get("class") == "dw-invalid"]
    assert len(marks) >= 2, marks  # IS and DA
    assert any("IS" in m["title"] for m in marks) and any("DA" in m["title"] for m in marks)
    assert "invalid" in "".join(parsed.text)


def test_empty_dataset():
    html = dataset_html(Dataset())
    parsed = assert_safe(html)
    assert "empty dataset" in "".join(parsed.text)


def test_summary_and_text():
    ds = read_dataset(pydicom_file("mr_small"))
    summary = dict(dataset_summary(ds))
    assert summary["Modality"] == "MR" and summary["Image"].startswith("64 × 64")
    text = dataset_text(ds, max_lines=5)
    assert text.splitlines()[0].startswith("FileDataset: MR Image Storage")
    assert text.endswith("str(ds) shows them all)")


def test_section_of():
    assert section_of(0x00020010) == "File meta"
    assert section_of(0x00100010) == "Patient"
    assert section_of(0x0020000D) == "Study"
    assert section_of(0x0020000E) == "Series"
    assert section_of(0x00080070) == "Equipment"
    assert section_of(0x00280010) == "Image"
    assert section_of(0x7FE00010) == "Pixel data"
    assert section_of(0x60003000) == "Pixel data"
    assert section_of(0x00291010) == "Private"
    assert section_of(0x00400275) == "Study"
    assert section_of(0x30060020) == "Other"


def test_ids_unique_within_and_between_outputs():
    ds = read_dataset(pydicom_file("rtplan"))
    first, second = dataset_html(ds), dataset_html(ds)
    ids_first = re.findall(r' id="([^"]+)"', first)
    ids_second = re.findall(r' id="([^"]+)"', second)
    assert len(ids_first) == len(set(ids_first)) > 5
    assert not set(ids_first) & set(ids_second)
    fors = re.findall(r' for="([^"]+)"', first)
    assert set(fors) == set(ids_first)


@pytest.mark.parametrize("path", charset_files(), ids=lambda p: p.name)
def test_character_sets_display_correctly(path):
    ds = read_dataset(path)
    html = dataset_html(ds)
    parsed = assert_safe(html)
    html.encode("utf-8")  # valid UTF-8 (no lone surrogates)
    name = ds.get("PatientName")
    if name:
        shown = str(name)
        assert str(escape(shown[:60])) in html, shown
        assert shown[:60] in "".join(parsed.text)
        # Header facts are bidi-isolated, so right-to-left names keep their neighbours in place.
        assert f"<bdi>{escape(shown)}</bdi>" in html


def _readable(path: Path):
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return read_dataset(path, force=True)
    except Exception:
        return None


ALL_FILES = all_pydicom_test_files()


@pytest.mark.parametrize("path", ALL_FILES, ids=lambda p: p.name)
def test_every_pydicom_file_renders(path):
    ds = _readable(path)
    if ds is None:
        pytest.skip("pydicom cannot read this file at all (not DICOM)")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        html = dataset_html(ds)
    assert "Could not render" not in html
    assert_safe(html)
    html.encode("utf-8")


def philips_like(n_frames: int = 60, n_private: int = 12) -> Dataset:
    """Per-frame functional groups with a private sequence per frame, as Philips writes them."""
    ds = Dataset()
    ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.4.1"
    ds.Modality = "MR"
    ds.NumberOfFrames = n_frames
    frames = []
    for f in range(n_frames):
        item = Dataset()
        position = Dataset()
        position.ImagePositionPatient = [0.0, 0.0, float(f)]
        item.PlanePositionSequence = Sequence([position])
        private = Dataset()
        private.add_new(0x20050014, "LO", "Philips MR Imaging DD 005")
        for e in range(n_private):
            private.add_new(0x20051400 | e, "LO", f"frame {f} value {e}")
        item.add_new(0x2005140F, "SQ", Sequence([private]))
        frames.append(item)
    ds.PerFrameFunctionalGroupsSequence = Sequence(frames)
    return ds


def test_per_frame_groups_are_capped_per_sequence():
    html = dataset_html(philips_like(), max_items_per_sequence=4)
    parsed = assert_safe(html)
    text = "".join(parsed.text)
    assert "60 items" in text and "… 56 more items; at most 4 items per sequence are shown" in text
    assert "frame 3 value 11" in text and "frame 4 value 0" not in text
    # Private sequences nested in each frame item are rendered, with their creator.
    assert text.count("private: Philips MR Imaging DD 005") >= 4 * 12


def test_long_values_are_shortened_with_their_length():
    import numpy as np

    ds = Dataset()
    ds.ImageComments = "x" * 1000  # LT
    ds.add_new(0x00091010, "LO", "PRIVATE")  # creator of block 0x10
    ds.add_new(0x00091001, "OB", bytes(range(256)) * 4)  # a private blob
    ds.add_new(0x00420011, "OB", b"\x00" * 5000)  # EncapsulatedDocument
    ds.add_new(0x7FE00008, "OF", np.arange(1000, dtype=np.float32).tobytes())
    html = dataset_html(ds, max_chars=60)
    text = "".join(assert_safe(html).text)
    assert "(1,000 chars)" in text
    assert "(1,024 bytes)" in text and "(5,000 bytes)" in text
    assert "x" * 100 not in text  # the long text itself is not there
    assert len(html) < 60_000


def test_thumbnail_skipped_when_decoding_would_be_huge(monkeypatch):
    from dicom_widgets.html import dataset as dataset_module

    ds = read_dataset(pydicom_file("ct_small"))
    monkeypatch.setattr(dataset_module, "MAX_THUMBNAIL_DECODE_BYTES", 1000)
    html = dataset_html(ds)
    parsed = assert_safe(html)
    assert not [t for t, _ in parsed.starts if t == "img"]
    assert "No thumbnail: the first frame would decode" in "".join(parsed.text)


def test_count_elements_includes_sequence_items_and_stops_at_limit():
    from dicom_widgets.html import count_elements, dataset_plain_text
    from dicom_widgets.tags import flatten

    ds = philips_like(n_frames=20, n_private=5)
    n_rows = sum(r.kind == "element" for r in flatten(ds))
    assert count_elements(ds) == n_rows
    assert count_elements(ds, limit=10) == 11
    text = dataset_plain_text(ds, max_elements=50)
    assert "more than 50 elements" in text and len(text) < len(str(ds))
    assert dataset_plain_text(ds, max_elements=10_000) == str(ds)
