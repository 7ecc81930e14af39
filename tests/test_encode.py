"""The fast Part 10 encoder writes exactly the bytes pydicom writes, on every real file."""

from __future__ import annotations

import io
import warnings

import pytest
from pydicom.dataelem import RawDataElement

from dicom_widgets._compat import IS_PYDICOM3, write_dataset
from dicom_widgets._encode import _fast_encoding, encode_part10
from dicom_widgets.data import ct_phantom, write_series
from dicom_widgets.deid import DeidContext, Profile, anonymize
from dicom_widgets.deid.batch import _read


def _pydicom_bytes(ds) -> bytes:
    buffer = io.BytesIO()
    write_dataset(ds, buffer)
    return buffer.getvalue()


def _both(ds):
    """(our bytes, pydicom's bytes) or None when pydicom itself cannot write ``ds``."""
    try:
        expected = _pydicom_bytes(ds)
    except Exception:  # noqa: BLE001 - a file pydicom cannot write must fail for us too
        with pytest.raises(Exception):  # noqa: B017
            encode_part10(ds)
        return None
    return bytes(encode_part10(ds)), expected


def _readable_with_file_meta(paths):
    """(path, dataset) of each file pydicom reads whose file meta names a transfer syntax."""
    for path in paths:
        try:
            ds = _read(str(path))
        except Exception:  # noqa: BLE001 - unreadable files are the batch's business
            continue
        if "TransferSyntaxUID" in getattr(ds, "file_meta", {}):
            yield path, ds


@pytest.mark.filterwarnings("ignore")
def test_every_pydicom_file_encodes_as_pydicom_writes_it(pydicom_files):
    fast_used = 0
    compared = 0
    for path, ds in _readable_with_file_meta(pydicom_files):
        # Read twice: pydicom's writer converts some elements of what it writes.
        fast_used += _fast_encoding(ds) is not None
        pair = _both(ds)
        if pair is None:
            continue
        ours, expected = pair
        ours_again = bytes(encode_part10(_read(str(path))))
        assert ours == expected, path.name
        assert ours_again == expected, path.name
        compared += 1
    assert compared > 100
    if IS_PYDICOM3:
        assert fast_used > 50, "the fast path should serve most little-endian files"


@pytest.mark.filterwarnings("ignore")
def test_anonymized_files_encode_as_pydicom_writes_them(pydicom_files):
    key = "00112233445566778899aabbccddeeff"
    compared = 0
    for path, ds in _readable_with_file_meta(pydicom_files):
        if "SOPInstanceUID" not in ds:
            continue
        try:
            # Two equal anonymizations (same key): pydicom's writer converts some
            # elements of what it writes, so each writer gets a dataset of its own.
            ours_ds = anonymize(ds, Profile(), context=DeidContext(key), _inplace=True)
            theirs_ds = anonymize(_read(str(path)), Profile(), context=DeidContext(key))
        except Exception:  # noqa: BLE001 - the batch tests own unanonymizable files
            continue
        pair = _both(theirs_ds.dataset)
        if pair is None:
            continue
        ours = bytes(encode_part10(ours_ds.dataset))
        assert ours == pair[1], path.name
        compared += 1
    assert compared > 100


def _real_package_files() -> list:
    from test_real_packages import PACKAGES, _files

    return [p for module in PACKAGES for p in _files(module) if p.suffix == ".dcm"]


@pytest.mark.parametrize("path", _real_package_files(), ids=lambda p: p.name)
def test_real_files_from_other_packages_encode_as_pydicom_writes_them(path):
    key = "00112233445566778899aabbccddeeff"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            ds = _read(str(path))
        except Exception:  # noqa: BLE001 - unreadable on purpose (bad file meta)
            pytest.skip("unreadable by design")
        if "TransferSyntaxUID" not in getattr(ds, "file_meta", {}):
            pytest.skip("no file meta")
        pair = _both(_read(str(path)))
        if pair is not None:
            assert pair[0] == pair[1]
        if "SOPInstanceUID" in ds:
            ours = anonymize(ds, Profile(), context=DeidContext(key), _inplace=True).dataset
            theirs = anonymize(_read(str(path)), Profile(), context=DeidContext(key)).dataset
            pair = _both(theirs)
            if pair is not None:
                assert bytes(encode_part10(ours)) == pair[1]


def test_raw_elements_are_written_unchanged_and_converted_ones_by_pydicom(tmp_path):
    [path] = write_series(ct_phantom(n_slices=1, size=16), tmp_path)
    ds = _read(str(path))
    assert isinstance(ds._dict[0x00100010], RawDataElement)
    ds.PatientName = "Other^Name"  # converted: written by pydicom's element writer
    ds.add_new(0x00091010, "LO", "private")
    assert bytes(encode_part10(ds)) == _pydicom_bytes(ds)


def test_preamble_and_file_meta_follow_dcmwrite(tmp_path):
    [path] = write_series(ct_phantom(n_slices=1, size=16), tmp_path)
    ds = _read(str(path))
    ds.preamble = b"\x01" * 128
    ds.SOPInstanceUID = "2.25.1234"
    data = bytes(encode_part10(ds))
    assert data == _pydicom_bytes(ds)
    assert data[:128] == b"\x01" * 128
    assert b"2.25.1234" in data[132:400]
    ds.preamble = b"short"
    with pytest.raises(ValueError):
        encode_part10(ds)


@pytest.mark.parametrize("syntax", ["1.2.840.10008.1.2", "1.2.840.10008.1.2.1"])
def test_both_little_endian_syntaxes_take_the_fast_path(tmp_path, syntax):
    [path] = write_series(ct_phantom(n_slices=1, size=16), tmp_path)
    ds = _read(str(path))
    ds.file_meta.TransferSyntaxUID = syntax
    buffer = io.BytesIO()
    write_dataset(ds, buffer)
    buffer.seek(0)
    reread = _read(buffer)
    if IS_PYDICOM3:
        assert _fast_encoding(reread)[0] is (syntax == "1.2.840.10008.1.2")
    assert bytes(encode_part10(reread)) == _pydicom_bytes(_read(io.BytesIO(buffer.getvalue())))


def _code_item(value: str, *, undefined: bool = False):
    from pydicom.dataset import Dataset

    item = Dataset()
    item.CodeValue, item.CodingSchemeDesignator, item.CodeMeaning = value, "DCM", f"{value} meaning"
    item.is_undefined_length_sequence_item = undefined
    return item


@pytest.mark.parametrize("syntax", ["1.2.840.10008.1.2", "1.2.840.10008.1.2.1"])
@pytest.mark.parametrize("undefined", [False, True])
def test_new_sequences_encode_as_pydicom_writes_them(tmp_path, syntax, undefined):
    from pydicom.sequence import Sequence

    [path] = write_series(ct_phantom(n_slices=1, size=16), tmp_path)
    source = _read(str(path))
    source.file_meta.TransferSyntaxUID = syntax
    buffer = io.BytesIO()
    write_dataset(source, buffer)
    for mutate in range(3):
        ds = _read(io.BytesIO(buffer.getvalue()))
        outer = _code_item("113100", undefined=undefined)
        # Nested: an item holding a sequence of its own, empty sequences, both lengths.
        outer.ConceptNameCodeSequence = Sequence([_code_item("121", undefined=not undefined)])
        outer.PurposeOfReferenceCodeSequence = Sequence([])
        ds.DeidentificationMethodCodeSequence = Sequence([outer, _code_item("113101")])
        ds["DeidentificationMethodCodeSequence"].is_undefined_length = undefined
        if mutate == 1:
            ds.DeidentificationMethodCodeSequence[1].CodeMeaning = "Größe"  # pydicom's rules
        if mutate == 2:
            ds.DeidentificationMethodCodeSequence[0].SpecificCharacterSet = "ISO_IR 100"
        assert bytes(encode_part10(ds)) == _pydicom_bytes(ds)


@pytest.mark.skipif(not IS_PYDICOM3, reason="the fast path serves pydicom 3 only")
def test_the_markers_sequence_is_packed_without_pydicom(tmp_path):
    from dicom_widgets._encode import _sequence_bytes

    [path] = write_series(ct_phantom(n_slices=1, size=16), tmp_path)
    result = anonymize(_read(str(path)), Profile(), context=DeidContext("00" * 16))
    codes = result.dataset["DeidentificationMethodCodeSequence"]
    assert _sequence_bytes(codes.tag, codes, implicit=False) is not None
    assert bytes(encode_part10(result.dataset)) == _pydicom_bytes(result.dataset)
