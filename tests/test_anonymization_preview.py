"""AnonymizationPreview driven without a browser: options, overrides, diff, pixels, export."""

from __future__ import annotations

import hashlib
import re
import warnings
from pathlib import Path

import numpy as np
import pydicom
import pytest
from test_html_checks import assert_safe, text_of

from dicom_widgets import AnonymizationPreview
from dicom_widgets.data import ct_phantom, pydicom_file, write_series
from dicom_widgets.deid import OPTION_NAMES, DeidContext, Profile, anonymize
from dicom_widgets.widgets.anonymization import parse_overrides

SCRIPT = "<script>alert(1)</script>"
KEY = "0123456789abcdef" * 2


def _hashes(folder: Path) -> dict[str, str]:
    return {
        str(p): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


@pytest.fixture
def phantom():
    return ct_phantom(n_slices=1, size=32)[0]


@pytest.fixture
def phantom_folder(tmp_path):
    folder = tmp_path / "src"
    write_series(ct_phantom(n_slices=3, size=32), folder)
    return folder


def test_one_trait_and_checkbox_per_engine_option(phantom):
    preview = AnonymizationPreview(phantom, canvas="image")
    assert list(preview.option_boxes) == list(OPTION_NAMES)
    for name in OPTION_NAMES:
        assert preview.has_trait(name)
        assert getattr(preview, name) is False
    assert preview.profile == Profile()
    with pytest.raises(TypeError, match="unknown profile option"):
        AnonymizationPreview(phantom, retain_everything=True)


def test_retain_patient_characteristics_keeps_sex_and_age(phantom):
    preview = AnonymizationPreview(phantom, canvas="image")
    assert preview.change_for("PatientSex").after == ""  # Basic Profile: emptied
    assert preview.change_for("PatientAge").after is None  # Basic Profile: removed
    preview.option_boxes["retain_patient_characteristics"].value = True  # the user ticks the box
    assert preview.retain_patient_characteristics is True
    for keyword, value in (("PatientSex", "F"), ("PatientAge", "054Y")):
        change = preview.change_for(keyword)
        assert change.action == "K" and change.rule == "retain_patient_characteristics"
        assert str(preview.result.dataset[keyword].value) == value
    # the diff shows them as kept by option, and the profile line names the option
    assert "kept by option" in text_of(preview.diff.value)
    assert "retain_patient_characteristics" in text_of(preview.profile_label.value)
    preview.option_boxes["retain_patient_characteristics"].value = False
    assert preview.change_for("PatientSex").action == "Z"


def test_retain_uids_keeps_sop_instance_uid(phantom):
    preview = AnonymizationPreview(phantom, canvas="image", key=KEY)
    change = preview.change_for("SOPInstanceUID")
    assert change.action == "U" and change.after != phantom.SOPInstanceUID
    assert change.after.startswith("2.25.")
    preview.retain_uids = True
    change = preview.change_for("SOPInstanceUID")
    assert change.action == "K"
    assert preview.result.dataset.SOPInstanceUID == phantom.SOPInstanceUID
    assert preview.result.dataset.file_meta.MediaStorageSOPInstanceUID == phantom.SOPInstanceUID


def test_options_match_the_engine(phantom):
    # Whatever the widget shows is what the engine does with the same profile.
    preview = AnonymizationPreview(
        phantom, retain_longitudinal_modified_dates=True, canvas="image", key=KEY
    )
    expected = anonymize(
        phantom, Profile(retain_longitudinal_modified_dates=True), context=DeidContext(KEY)
    )
    assert preview.result.to_rows() == expected.to_rows()
    assert preview.change_for("StudyDate").action == "C"


def test_longitudinal_options_exclude_each_other(phantom):
    preview = AnonymizationPreview(phantom, canvas="image")
    preview.retain_longitudinal_full_dates = True
    assert preview.change_for("StudyDate").action == "K"
    preview.option_boxes["retain_longitudinal_modified_dates"].value = True
    assert preview.retain_longitudinal_full_dates is False
    assert preview.option_boxes["retain_longitudinal_full_dates"].value is False
    assert preview.change_for("StudyDate").action == "C"


def test_overrides_apply_and_errors_are_shown(phantom):
    preview = AnonymizationPreview(phantom, canvas="image")
    preview.overrides_box.value = (
        'PatientSex=keep, (0010,1010)=remove, StudyDescription="Teaching case", '
        "NotAKeyword=keep, PatientWeight=perhaps"
    )
    ds = preview.result.dataset
    assert ds.PatientSex == "F"
    assert "PatientAge" not in ds
    assert ds.StudyDescription == "Teaching case"
    assert preview.change_for("StudyDescription").rule == "override"
    assert "NotAKeyword" in preview.override_error
    assert "PatientWeight=perhaps" in preview.override_error
    assert "NotAKeyword" in text_of(preview.override_message.value)
    assert len(preview.profile.overrides) == 3  # the valid ones apply
    preview.overrides_text = ""
    assert preview.override_error == "" and preview.override_message.value == ""
    assert preview.result.dataset.PatientSex == ""


def test_parse_overrides_syntax():
    parsed, errors = parse_overrides(
        "PatientSex=KEEP; (0010,1010) = remove\nImageComments='it is', "
        'StudyDescription="a, b = c", 00100030=empty'
    )
    assert errors == []
    assert parsed["PatientSex"] == "keep"
    assert parsed["(0010,1010)"] == "remove"
    assert parsed["StudyDescription"] == ("replace", "a, b = c")
    assert parsed["(0010,0030)"] == "empty"
    assert parsed["ImageComments"] == ("replace", "it is")
    assert parse_overrides('StudyDescription="open')[1]
    assert parse_overrides("justtext")[1]
    assert parse_overrides("") == ({}, [])


def test_profile_argument_fills_the_controls(phantom):
    profile = Profile(retain_uids=True, overrides={"PatientSex": "keep"})
    preview = AnonymizationPreview(phantom, profile, canvas="image")
    assert preview.option_boxes["retain_uids"].value is True
    assert preview.result.dataset.PatientSex == "F"
    with pytest.raises(ValueError, match="profile"):
        AnonymizationPreview(phantom, "strict")


def test_filters_search_and_paging(phantom):
    preview = AnonymizationPreview(phantom, canvas="image", page_size=5)
    changed = preview.visible_changes
    assert changed and all(c.changed or c.action == "K" for c in changed)
    assert preview.n_pages == -(-len(changed) // 5)
    assert len(re.findall(r"data-dw-path=", preview.diff.value)) <= 5 + 0
    preview.next_button.click()
    assert preview.page == 1
    assert f"page 2/{preview.n_pages}" in preview.page_label.value
    preview.view = "all"
    assert preview.page == 0
    assert len(preview.visible_changes) == len(preview.result.changes)
    preview.view_buttons.value = "changed"
    preview.search_box.value = "uid"
    assert preview.visible_changes
    assert all("uid" in (c.path + c.rule + c.vr + c.action).lower() or "UID" in c.keyword
               or "uid" in (c.before or "").lower() or c.action == "U"
               for c in preview.visible_changes)  # fmt: skip
    preview.query = "PatientName"
    assert [c.path for c in preview.visible_changes] == ["PatientName"]
    preview.query = "no such thing at all"
    assert preview.visible_changes == []
    assert "no element matches" in text_of(preview.diff.value)


def test_counts_at_the_top(phantom):
    preview = AnonymizationPreview(phantom, canvas="image")
    text = text_of(preview.counts.value)
    n_removed = sum(1 for c in preview.result.changes if c.action == "X")
    assert f"removed: {n_removed}" in text
    assert "UID remapped:" in text


def test_diff_escapes_payloads_private_and_nested():
    from pydicom.dataset import Dataset
    from pydicom.sequence import Sequence

    ds = ct_phantom(n_slices=1, size=16)[0]
    ds.PatientName = SCRIPT
    block = ds.private_block(0x0011, "<b>ACME</b>", create=True)
    block.add_new(0x01, "LO", "<img src=x onerror=alert(1)>")
    item = Dataset()
    item.PatientName = SCRIPT
    item.ReferencedSOPInstanceUID = "1.2.3.4.5"
    ds.SharedFunctionalGroupsSequence = Sequence([item])
    preview = AnonymizationPreview(ds, canvas="image", page_size=500)
    html = preview.diff.value
    assert_safe(html)
    text = text_of(html)
    assert SCRIPT in text and "<b>ACME</b>" in text
    assert "SharedFunctionalGroupsSequence[0].PatientName" in html
    assert "(0011,1001)" in text
    # The static fallback of the whole widget is the same escaped HTML.
    bundle = preview._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle
    assert_safe(bundle["text/html"])
    assert SCRIPT in text_of(bundle["text/html"])


def test_private_sequence_file():
    path = pydicom_file("private_sequence")
    preview = AnonymizationPreview(path, canvas="image")
    preview.view = "all"
    private = [c for c in preview.result.changes if (c.tag >> 16) & 1]
    assert private and all(c.action == "X" for c in private)
    assert_safe(preview.diff.value)
    preview.retain_safe_private = True  # nothing of this vendor is known safe: still removed
    assert all(c.action == "X" for c in preview.result.changes if (c.tag >> 16) & 1)
    # This file has no SOP Instance UID: previewed, but the batch writer will not export it.
    assert "export fails" in preview.instance_labels()[0]
    assert "Export will not write this file" in text_of(preview.counts.value)


def test_warnings_panel_and_regions_resolve_burned_in():
    preview = AnonymizationPreview(pydicom_file("rgb"), canvas="image")
    assert any(w.kind == "burned_in_annotation" and not w.resolved for w in preview.result.warnings)
    text = text_of(preview.warnings_panel.value)
    assert "burned_in_annotation" in text and "What you can do" in text
    assert preview.result.identity_removed is False
    preview.add_region((0, 0, 10, 20))
    assert preview.regions == [(0, 0, 10, 20)]
    assert all(w.resolved for w in preview.result.warnings if w.kind == "burned_in_annotation")
    original, anonymized = preview.display_frames()
    changed = np.argwhere(
        (original != anonymized).reshape(original.shape[0], original.shape[1], -1).any(-1)
    )
    assert changed.size and changed.min(0).tolist() >= [0, 0] and changed.max(0).tolist() <= [9, 19]
    preview.clear_regions()
    assert preview.regions == [] and preview.pixel_regions is None
    original, anonymized = preview.display_frames()
    assert np.array_equal(original, anonymized)


def test_add_region_validation(phantom):
    preview = AnonymizationPreview(phantom, canvas="image")
    with pytest.raises(ValueError, match="does not overlap"):
        preview.add_region((100, 100, 120, 120))
    preview.add_region((30, 30, 50, 50))  # clipped to the 32x32 image
    assert preview.regions == [(30, 30, 32, 32)]
    assert preview.pixel_regions == {(32, 32): [(30, 30, 32, 32)]}


def test_rectangle_selector_marks_pixels(phantom):
    pytest.importorskip("ipympl")
    from matplotlib.testing.widgets import click_and_drag

    preview = AnonymizationPreview(phantom, canvas="ipympl")
    assert preview.selector is not None
    # pixel centres 3..7 (x, columns) and 2..5 (y, rows) lie inside the dragged rectangle
    click_and_drag(preview.selector, start=(2.6, 1.7), end=(7.4, 5.2))
    assert preview.regions == [(2, 3, 6, 8)]


def _pixels_by_source(report):
    return {
        Path(o.source).name: pydicom.dcmread(o.output)
        for o in report.outcomes
        if o.status == "written"
    }


def test_export_blanks_exactly_the_marked_pixels(phantom_folder, tmp_path):
    before = _hashes(phantom_folder)
    preview = AnonymizationPreview(phantom_folder, canvas="image")
    assert preview.n_instances == 3
    preview.add_region((4, 5, 12, 20))
    report = preview.export(tmp_path / "out")
    assert report is not None, preview.export_message
    assert report.counts() == {"written": 3}
    assert report.verification.ok
    assert "no identifying values found" in preview.export_message
    assert "no identifying values found" in text_of(preview.export_output.value)
    assert "written uncompressed" in text_of(preview.export_output.value)
    assert preview.progress.value == preview.progress.max == 3
    mask = np.zeros((32, 32), bool)
    mask[4:12, 5:20] = True
    for name, out in _pixels_by_source(report).items():
        src = pydicom.dcmread(phantom_folder / name)
        a, b = src.pixel_array, out.pixel_array
        assert np.array_equal(a[~mask], b[~mask])  # nothing else changed
        assert (b[mask] == a.min()).all()  # the marked pixels are blanked
        assert not np.array_equal(a[mask], b[mask])
        assert out.PatientName == "" and out.PatientIdentityRemoved == "YES"
    assert _hashes(phantom_folder) == before  # sources untouched, nothing written next to them


def test_export_multiframe_compressed_colour(tmp_path):
    for name in ("rgb_2frame", "rgb_jpeg"):
        preview = AnonymizationPreview(pydicom_file(name), canvas="image")
        preview.add_region((0, 0, 8, 16))
        report = preview.export(tmp_path / name)
        assert report is not None, preview.export_message
        (outcome,) = report.outcomes
        assert outcome.status == "written" and outcome.pixel_cleaned
        src = pydicom.dcmread(pydicom_file(name))
        out = pydicom.dcmread(outcome.output)
        assert out.file_meta.TransferSyntaxUID == "1.2.840.10008.1.2.1"  # written uncompressed
        a, b = src.pixel_array, out.pixel_array
        frames_a = a.reshape((-1, *a.shape[-3:]))
        frames_b = b.reshape((-1, *b.shape[-3:]))
        mask = np.zeros(frames_a.shape[1:3], bool)
        mask[0:8, 0:16] = True
        # black: RGB zeros, or Y=0 with neutral chroma where the decoder keeps YCbCr (pydicom 2.4)
        black = [0, 128, 128] if str(out.PhotometricInterpretation).startswith("YBR") else [0, 0, 0]
        for fa, fb in zip(frames_a, frames_b):  # every frame
            assert (fb[mask] == black).all()
            assert np.array_equal(fa[~mask], fb[~mask])


def test_export_without_regions_keeps_pixels_byte_exact(tmp_path):
    preview = AnonymizationPreview(pydicom_file("jpeg2000"), canvas="image")
    report = preview.export(tmp_path / "out")
    (outcome,) = report.outcomes
    src = pydicom.dcmread(pydicom_file("jpeg2000"))
    out = pydicom.dcmread(outcome.output)
    assert out.file_meta.TransferSyntaxUID == src.file_meta.TransferSyntaxUID
    assert out.PixelData == src.PixelData


def test_preview_uids_are_the_exported_uids(phantom_folder, tmp_path):
    preview = AnonymizationPreview(phantom_folder, canvas="image")
    shown = preview.result.dataset.SOPInstanceUID
    report = preview.export(tmp_path / "out")
    assert any(Path(p).name == f"{shown}.dcm" for p in report.written)
    # A second export into the same folder is refused (existing files) ...
    before = _hashes(tmp_path / "out")
    assert preview.export(tmp_path / "out") is None
    assert "already holds 3 file(s)" in preview.export_message
    # ... and when asked to add to it, nothing is overwritten.
    again = preview.export(tmp_path / "out", into_existing=True)
    assert again.counts() == {"exists": 3}
    assert _hashes(tmp_path / "out") == before


def test_unsafe_targets_are_refused_in_the_widget(phantom_folder, tmp_path):
    before = _hashes(phantom_folder)
    preview = AnonymizationPreview(phantom_folder, canvas="image")
    for target in (phantom_folder, phantom_folder / "anon", phantom_folder / "a" / "b"):
        preview.output_box.value = str(target)
        preview.export_button.click()  # no traceback: the message is shown
        assert preview.report is None
        assert "inside the source folder" in preview.export_message
        assert "inside the source folder" in text_of(preview.export_output.value)
    assert not (phantom_folder / "anon").exists()
    # nor a folder that contains the sources (copies would mix with the originals)
    assert preview.export(phantom_folder.parent) is None
    assert "source folder" in preview.export_message  # (engine or widget wording)
    assert not list(phantom_folder.parent.glob("*.dcm"))
    existing = tmp_path / "a-file"
    existing.write_bytes(b"x")
    assert preview.export(existing) is None
    assert "not a folder" in preview.export_message
    preview.output_folder = ""
    assert preview.export() is None and "choose an output folder" in preview.export_message
    assert _hashes(phantom_folder) == before


def test_unsafe_target_next_to_a_single_file(tmp_path):
    folder = tmp_path / "one"
    (path,) = write_series(ct_phantom(n_slices=1, size=16), folder)
    preview = AnonymizationPreview(path, canvas="image")
    assert preview.export(folder / "out") is None
    assert "inside the source folder" in preview.export_message


def test_failed_files_listed_with_reason(phantom_folder, tmp_path):
    folder = tmp_path / "mixed"
    folder.mkdir()
    for p in phantom_folder.iterdir():
        (folder / p.name).write_bytes(p.read_bytes())
    (folder / "notes.txt").write_text("not a DICOM file at all")
    good = next(iter(sorted(phantom_folder.iterdir())))
    (folder / "truncated.dcm").write_bytes(good.read_bytes()[:400])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        preview = AnonymizationPreview(folder, canvas="image")
        assert preview.n_instances == 5
        labels = preview.instance_labels()
        failed_labels = [label for label in labels if "failed" in label]
        assert any("notes.txt" in label for label in failed_labels)
        # select every instance: broken ones show as failed, the others preview normally
        for i in range(preview.n_instances):
            preview.instance_select.value = i
            if preview.result is None:
                assert preview.error
                assert "failed" in text_of(preview.diff.value)
        notes = next(i for i, label in enumerate(labels) if "notes.txt" in label)
        assert "not a DICOM file" in preview.failed[notes]
        # cut inside the header: readable, but not an instance the batch writer can write
        assert any(
            "truncated.dcm" in label and "export fails" in label
            for label in preview.instance_labels()
        )
        report = preview.export(tmp_path / "out")
    by_name = {Path(o.source).name: o for o in report.outcomes}
    assert by_name["notes.txt"].status == "error" and by_name["notes.txt"].message
    assert by_name["truncated.dcm"].status == "error" and by_name["truncated.dcm"].message
    assert sum(o.status == "written" for o in report.outcomes) == 3
    text = text_of(preview.export_output.value)
    assert "notes.txt" in text and by_name["notes.txt"].message in text


def test_dataset_and_list_sources_export_via_private_copy(tmp_path):
    datasets = ct_phantom(n_slices=2, size=16)
    preview = AnonymizationPreview(datasets, canvas="image")
    assert preview.n_instances == 2
    preview.instance = 1
    assert preview.instance_select.value == 1
    assert preview.change_for("PatientName").before == str(datasets[1].PatientName)
    report = preview.export(tmp_path / "out")
    assert report.counts() == {"written": 2}
    assert [o.source for o in report.outcomes] == ["dataset 0", "dataset 1"]
    assert report.verification.ok
    assert str(datasets[0].PatientName) != ""  # the caller's datasets are untouched


def test_series_source(phantom_folder):
    series_mod = pytest.importorskip("dicom_widgets.series")
    series = series_mod.load_series(phantom_folder, progress=False)
    preview = AnonymizationPreview(series, canvas="image")
    assert preview.n_instances == 3
    assert preview.result is not None and preview.result.identity_removed


def test_frames_of_a_multiframe_file():
    preview = AnonymizationPreview(pydicom_file("multiframe"), canvas="image")
    assert (
        preview.frame_slider.max
        == int(pydicom.dcmread(pydicom_file("multiframe")).NumberOfFrames) - 1
    )
    first, _ = preview.display_frames()
    preview.frame = 5
    fifth, _ = preview.display_frames()
    assert first.shape == fifth.shape and not np.array_equal(first, fifth)
    assert preview._image_widget.value[:8] == b"\x89PNG\r\n\x1a\n"


def test_no_pixel_data_instance():
    preview = AnonymizationPreview(pydicom_file("rtplan"), canvas="image")
    assert preview.result is not None
    assert preview.display_frames() == (None, None)
    with pytest.raises(ValueError, match="no pixel data"):
        preview.add_region((0, 0, 4, 4))


def test_large_export_uses_a_pool_and_keeps_preview_uids(tmp_path):
    from dicom_widgets.deid.batch import PROCESS_POOL_THRESHOLD

    src = tmp_path / "src"
    write_series(ct_phantom(n_slices=PROCESS_POOL_THRESHOLD, size=8), src)
    preview = AnonymizationPreview(src, canvas="image", key=KEY)
    shown = {}
    for i in (0, PROCESS_POOL_THRESHOLD - 1):
        preview.instance = i
        shown[preview._items[i].path] = preview.result.dataset.SOPInstanceUID
    seen = []
    preview.progress.observe(lambda change: seen.append(change["new"]), names="value")
    report = preview.export(tmp_path / "out")
    assert report.counts() == {"written": PROCESS_POOL_THRESHOLD}
    assert len(set(seen)) > 2 and seen == sorted(seen)  # the bar moved as files were done
    assert report.verification.ok
    outputs = {o.source: Path(o.output).name for o in report.outcomes}
    for source, uid in shown.items():
        assert outputs[source] == f"{uid}.dcm"  # worker processes remap with the same key
    assert preview.progress.value == PROCESS_POOL_THRESHOLD


def test_regions_trait_set_directly(phantom):
    preview = AnonymizationPreview(phantom, canvas="image")
    preview.regions = [[1, 2, 3, 4]]
    assert preview.regions == [(1, 2, 3, 4)]
    assert preview.pixel_regions == {(32, 32): [(1, 2, 3, 4)]}
    with pytest.raises(Exception, match="row0, col0, row1, col1"):
        preview.regions = [(1, 2, 3)]


PITFALL_FILES = [
    "bad_vr",
    "no_meta",
    "mr_truncated",
    "un_sequence",
    "explicit_un",
    "dicomdir",
    "ecg",
    "sr",
    "seg",
    "palette",
    "monochrome1",
    "overlay",
    "enhanced_ct",
    "deflated",
    "rtstruct",
    "ybr_422",
    "mr_small_bigendian",
]


@pytest.mark.parametrize("name", PITFALL_FILES)
def test_pitfall_files_preview_without_exceptions(name):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        preview = AnonymizationPreview(pydicom_file(name), canvas="image")
        preview.view = "all"
        preview.retain_uids = True
    # either a diff or a failure with a reason, never an exception
    assert preview.result is not None or preview.error
    assert_safe(preview.diff.value)
    if preview.result is not None:
        first, second = preview.display_frames()
        assert (first is None) == (second is None)


def test_docstring_examples():
    import doctest

    from dicom_widgets.widgets import anonymization

    result = doctest.testmod(
        anonymization, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
    )
    assert result.attempted > 0 and result.failed == 0


@pytest.mark.parametrize("name", ["rgb_2frame", "rgb_jpeg", "mr_small_rle"])
def test_preview_pixels_are_the_exported_pixels(name, tmp_path):
    preview = AnonymizationPreview(pydicom_file(name), canvas="image")
    preview.add_region((2, 3, 20, 30))
    report = preview.export(tmp_path / "out")
    (outcome,) = report.outcomes
    exported = pydicom.dcmread(outcome.output).pixel_array
    frames = exported.reshape((-1, *preview.pixels(0).shape))
    for i, frame in enumerate(frames):
        assert np.array_equal(preview.pixels(i), frame)
        assert not np.array_equal(preview.pixels(i, anonymized=False), frame)


def test_overrides_that_keep_identifiers_are_flagged(phantom):
    preview = AnonymizationPreview(phantom, canvas="image")
    preview.overrides_text = 'PatientName=keep, StudyDescription="Teaching case", PatientAge=remove'
    warnings_ = preview.override_warnings
    assert any(w.startswith("PatientName=keep") and "not de-identified" in w for w in warnings_)
    assert any(w.startswith("StudyDescription=replace") for w in warnings_)
    assert not any(w.startswith("PatientAge") for w in warnings_)  # removing is always safe
    assert "PatientName=keep" in text_of(preview.override_message.value)
    assert preview.override_error == ""


def test_profile_dependent_failure_is_shown_and_recovers(phantom):
    preview = AnonymizationPreview(phantom, canvas="image")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pydicom warns about the invalid DS on purpose
        preview.overrides_text = 'SliceThickness="x"'  # not a decimal string: the engine refuses
    assert preview.result is None and "cannot be anonymized" in preview.error
    assert "failed" in preview.instance_labels()[0] and 0 in preview.failed
    assert "cannot be anonymized" in text_of(preview.diff.value)
    preview.overrides_text = 'SliceThickness="2.5"'
    assert preview.result is not None and preview.error is None
    assert preview.result.dataset.SliceThickness == 2.5
    assert preview.failed == {}


def test_regions_apply_only_to_instances_of_the_same_geometry(tmp_path):
    src = tmp_path / "mixed"
    big = write_series(ct_phantom(n_slices=2, size=32), src / "big")
    small = write_series(ct_phantom(n_slices=2, size=16, seed=2), src / "small")
    preview = AnonymizationPreview(src, canvas="image")
    labels = preview.instance_labels()
    preview.instance = next(i for i, label in enumerate(labels) if f"big/{big[0].name}" in label)
    preview.add_region((0, 0, 4, 32))
    # on a 16x16 instance the regions are not shown (they belong to 32x32 images)
    preview.instance = next(
        i for i, label in enumerate(labels) if f"small/{small[0].name}" in label
    )
    original, anonymized = preview.display_frames()
    assert np.array_equal(original, anonymized)
    with pytest.raises(ValueError, match="clear them"):
        preview.add_region((0, 0, 2, 2))
    report = preview.export(tmp_path / "out")
    assert report.counts() == {"written": 4}
    cleaned = {Path(o.source).parent.name: o.pixel_cleaned for o in report.outcomes}
    assert cleaned == {"big": True, "small": False}
    for o in report.outcomes:
        a = pydicom.dcmread(o.source).pixel_array
        b = pydicom.dcmread(o.output).pixel_array
        if a.shape == (16, 16):
            assert np.array_equal(a, b)
        else:
            assert (b[:4] == a.min()).all() and np.array_equal(a[4:], b[4:])


def test_ultrasound_header_bar(tmp_path):
    try:
        path = pydicom_file("us_rgb")
    except (KeyError, FileNotFoundError):
        pytest.skip("examples_rgb_color.dcm ships with pydicom 3 only")
    preview = AnonymizationPreview(path, canvas="image")
    assert any(w.kind == "burned_in_annotation" for w in preview.result.unresolved_warnings)
    rows, cols = preview.pixels(anonymized=False).shape[:2]
    preview.add_region((0, 0, 30, cols))  # the header bar
    assert not preview.result.unresolved_warnings
    assert preview.result.identity_removed
    report = preview.export(tmp_path / "out")
    (outcome,) = report.outcomes
    assert outcome.pixel_cleaned and report.verification.ok
    a = pydicom.dcmread(path).pixel_array
    b = pydicom.dcmread(outcome.output).pixel_array
    assert (b[:30] == 0).all() and np.array_equal(a[30:], b[30:])
    assert pydicom.dcmread(outcome.output).PatientIdentityRemoved == "YES"


def test_bad_sources_are_refused_clearly(tmp_path):
    with pytest.raises(TypeError, match="catalog"):
        AnonymizationPreview([object()])
    with pytest.raises(FileNotFoundError, match="no such file"):
        AnonymizationPreview(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="holds no files"):
        AnonymizationPreview(tmp_path / "empty")
    with pytest.raises(ValueError, match="at least one"):
        AnonymizationPreview([])
