"""HTML of de-identification results: escaped payloads, nested paths, reports and verification."""

from __future__ import annotations

import re
import warnings

import pydicom
import pytest
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence
from test_html_checks import assert_safe, text_of

from dicom_widgets.data import ct_phantom, pydicom_file, write_series
from dicom_widgets.deid import Change, DeidContext, Profile, anonymize
from dicom_widgets.html import anonymization as H

SCRIPT = "<script>alert(1)</script>"
IMG = "<img src=x onerror=alert(1)>"
KEY = "0123456789abcdef" * 2


def _no_ids(html: str) -> str:
    # Element ids are unique per render (two renders on one page must not clash).
    return re.sub(r"dw-[0-9a-f]{10}", "dw-ID", html)


def payload_dataset() -> Dataset:
    """A CT phantom slice with HTML payloads in a name, a private block and a nested item."""
    ds = ct_phantom(n_slices=1, size=16)[0]
    ds.PatientName = SCRIPT
    ds.StudyDescription = IMG
    block = ds.private_block(0x0011, "EVIL <b>CREATOR</b>", create=True)
    block.add_new(0x01, "LO", IMG)
    item = Dataset()
    item.ReferencedSOPClassUID = "1.2.840.10008.5.1.4.1.1.2"
    item.ReferencedSOPInstanceUID = "1.2.3.4.5.6.7"
    item.PatientName = SCRIPT  # nested PHI: the engine acts inside items too
    ds.SharedFunctionalGroupsSequence = Sequence([item])
    return ds


def test_result_html_escapes_payloads_and_is_well_formed():
    result = anonymize(payload_dataset(), context=DeidContext(KEY))
    html = H.anonymization_result_html(result)
    parsed = assert_safe(html)
    assert SCRIPT not in html and IMG not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    text = text_of(html)
    assert SCRIPT in text  # shown as text, before -> after
    assert "EVIL <b>CREATOR</b>" in text  # the private creator value, as text
    # The engine's hook renders through this module.
    assert _no_ids(result._repr_html_()) == _no_ids(html)
    # Nested change shown with its path through the sequence and a context row.
    paths = [attrs.get("data-dw-path") for _, attrs in parsed.starts if attrs.get("data-dw-path")]
    assert "SharedFunctionalGroupsSequence[0].ReferencedSOPInstanceUID" in paths
    assert "SharedFunctionalGroupsSequence[0].PatientName" in paths
    assert "in SharedFunctionalGroupsSequence[0]" in text


def test_result_html_counts_and_coding_match_the_changes():
    result = anonymize(ct_phantom(n_slices=1, size=16)[0], context=DeidContext(KEY))
    html = H.anonymization_result_html(result)
    counts = H.category_counts(c for c in result.changes if c.changed)
    assert counts["removed"] == sum(1 for c in result.changes if c.action == "X")
    assert counts["uid"] == sum(1 for c in result.changes if c.action == "U")
    for cat, n in counts.items():
        label, symbol, _ = H.CATEGORIES[cat]
        assert f"{label}: {n}" in text_of(html)
    parsed = assert_safe(html)
    cats = {a.get("data-dw-category") for _, a in parsed.starts} - {None}
    assert {"removed", "emptied", "uid", "added"} <= cats
    # every category has a distinct symbol or label, so colour is never the only cue
    assert len({(v[0], v[1]) for v in H.CATEGORIES.values()}) == len(H.CATEGORIES)


def _change(action: str, rule: str = "basic", vr: str = "LO", before="a", after="b") -> Change:
    return Change("X", 0x00100010, "PatientName", vr, action, action, rule, before, after)


@pytest.mark.parametrize(
    ("change", "category"),
    [
        (_change("X", after=None), "removed"),
        (_change("Z", after=""), "emptied"),
        (_change("D"), "dummy"),
        (_change("U", vr="UI"), "uid"),
        (_change("C", "retain_longitudinal_modified_dates", vr="DA"), "date_shifted"),
        (_change("C", "beyond table: patient identifier in free text"), "cleaned"),
        (_change("K", "retain_patient_characteristics", after="a"), "kept_option"),
        (_change("K", "basic", after="a"), "kept"),
        (_change("R", "override"), "replaced"),
        (_change("A", "PS3.15 E.1.1", before=None), "added"),
    ],
)
def test_change_category(change, category):
    assert H.change_category(change) == category


def test_date_shift_and_kept_by_option_are_coded():
    profile = Profile(retain_longitudinal_modified_dates=True, retain_patient_characteristics=True)
    result = anonymize(ct_phantom(n_slices=1, size=16)[0], profile, context=DeidContext(KEY))
    cats = {c.path: H.change_category(c) for c in result.changes}
    assert cats["StudyDate"] == "date_shifted"
    assert cats["PatientSex"] == "kept_option"
    html = H.anonymization_result_html(result)
    assert "date shifted" in text_of(html) and "kept by option" in text_of(html)


def test_warnings_have_advice_and_are_escaped():
    ds = pydicom.dcmread(pydicom_file("rgb"))
    ds.ImageComments = f"{SCRIPT} burned"
    result = anonymize(ds, context=DeidContext(KEY))
    assert any(w.kind == "burned_in_annotation" and not w.resolved for w in result.warnings)
    html = str(H.warnings_html(result.warnings))
    assert_safe(html)
    assert "What you can do" in html
    assert H.warning_advice("burned_in_annotation") in text_of(html)
    assert H.warning_advice("no-such-kind")  # a generic advice, never empty
    assert "no warnings" in text_of(str(H.warnings_html([])))


def test_result_html_caps_rows():
    result = anonymize(ct_phantom(n_slices=1, size=16)[0], context=DeidContext(KEY))
    html = H.anonymization_result_html(result, max_rows=5)
    assert_safe(html)
    n = sum(1 for c in result.changes if c.changed)
    assert f"{n - 5} more changes not shown" in text_of(html)
    assert len(re.findall(r"data-dw-path=", html)) == 5


def test_report_and_verification_html(tmp_path):
    src = tmp_path / "src"
    write_series(ct_phantom(n_slices=2, size=16), src)
    bad = src / "<img src=x onerror=alert(1)> not dicom.dcm"
    bad.write_bytes(b"this is not DICOM" * 10)
    from dicom_widgets.deid import anonymize_files

    report = anonymize_files(src, tmp_path / "out", progress=False, key=KEY)
    html = H.anonymization_report_html(report)
    assert _no_ids(report._repr_html_()) == _no_ids(html)
    assert_safe(html)
    assert "<img src=x onerror=alert(1)> not dicom" not in html
    text = text_of(html)
    assert (
        "<img src=x onerror=alert(1)> not dicom.dcm" in text
    )  # the failed file is listed, as text, with its reason
    failed = [o for o in report.outcomes if o.status == "error"]
    assert len(failed) == 1 and failed[0].message and failed[0].message in text
    # problems first: the failed file is listed before the written ones
    assert text.index("not dicom.dcm") < text.index("IM_0000.dcm")
    assert "no identifying values found" in text
    vhtml = H.verification_report_html(report.verification)
    assert _no_ids(report.verification._repr_html_()) == _no_ids(vhtml)
    assert_safe(vhtml)
    assert "no identifying values found" in text_of(vhtml)


def test_verification_hits_listed(tmp_path):
    from dicom_widgets.deid import verify

    ds = ct_phantom(n_slices=1, size=16)[0]
    leaky = anonymize(ds, context=DeidContext(KEY)).dataset
    leaky.ImageComments = "PHANTOM Jane"  # put the patient's name back
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        report = verify([ds], [leaky])
    assert not report.ok
    html = H.verification_report_html(report)
    assert_safe(html)
    text = text_of(html)
    assert "hit(s)" in text and "ImageComments" in text
    assert "PHANTOM Jane" not in text  # values are masked: the report must not re-leak them


def test_advice_names_the_element():
    advice = H.warning_advice("phi_in_text", "SharedFunctionalGroupsSequence[0].ImageComments")
    assert "'ImageComments=remove'" in advice
    assert "'ManufacturerModelName=remove'" in H.warning_advice(
        "phi_in_text", "ManufacturerModelName"
    )


def test_docstring_examples():
    import doctest

    result = doctest.testmod(H, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0
