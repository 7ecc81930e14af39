"""De-identification engine, batch writer and verifier on crafted pitfalls and real files."""

from __future__ import annotations

import concurrent.futures as cf
import copy
import warnings
from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence

from dicom_widgets._compat import read_dataset
from dicom_widgets.data import (
    all_pydicom_test_files,
    charset_files,
    ct_phantom,
    mr_phantom,
    write_series,
)
from dicom_widgets.deid import (
    DeidContext,
    Profile,
    anonymize,
    anonymize_files,
    verify,
)
from dicom_widgets.errors import DicomWidgetsWarning, UnsafeOutputError

KEY = "00112233445566778899aabbccddeeff"
MRN = "4455667788"


def _series(n=3, size=16, **kw):
    return ct_phantom(n_slices=n, size=size, **kw)


# -- engine basics -------------------------------------------------------------------------
def test_input_not_mutated_and_markers():
    ds = _series(1)[0]
    before = str(ds) + str(ds.file_meta)
    result = anonymize(ds, Profile(), context=DeidContext(KEY))
    assert str(ds) + str(ds.file_meta) == before
    out = result.dataset
    assert out.PatientIdentityRemoved == "YES"
    assert out.DeidentificationMethod[0] == "DICOM PS3.15 2026d Annex E"
    codes = [item.CodeValue for item in out.DeidentificationMethodCodeSequence]
    assert codes == ["113100"]
    assert all(i.CodingSchemeDesignator == "DCM" for i in out.DeidentificationMethodCodeSequence)
    assert out.LongitudinalTemporalInformationModified == "REMOVED"
    assert out.file_meta.MediaStorageSOPInstanceUID == out.SOPInstanceUID
    assert out.SOPInstanceUID != ds.SOPInstanceUID


def test_option_codes_in_markers():
    profile = Profile(retain_uids=True, retain_safe_private=True, clean_descriptors=True)
    out = anonymize(_series(1)[0], profile).dataset
    codes = {item.CodeValue for item in out.DeidentificationMethodCodeSequence}
    assert codes == {"113100", "113110", "113111", "113105"}


def test_compound_resolution_documented_in_changes():
    ds = _series(1)[0]
    result = anonymize(ds, Profile())
    pid = next(c for c in result.changes if c.keyword == "PatientID")
    assert pid.table_code == "Z/D" and pid.action == "Z" and "Type 2" in pid.note
    inst = next(c for c in result.changes if c.keyword == "InstitutionName")
    assert inst.table_code == "X/Z/D" and inst.action == "X"


def test_rt_plan_date_is_type2_and_dummied():
    ds = pydicom.dcmread(pydicom.data.get_testdata_file("rtplan.dcm"))
    result = anonymize(ds, Profile())
    change = next(c for c in result.changes if c.keyword == "RTPlanDate")
    assert change.table_code == "X/D" and change.action == "D"
    assert result.dataset.RTPlanDate == "19000101"
    machine = [c for c in result.changes if c.keyword == "TreatmentMachineName"]
    assert machine and all(c.action == "Z" for c in machine)  # Type 2 inside BeamSequence


def test_uid_remap_is_keyed_and_deterministic():
    ds = _series(1)[0]
    a = anonymize(ds, context=DeidContext(KEY)).dataset
    b = anonymize(ds, context=DeidContext(KEY)).dataset
    c = anonymize(ds, context=DeidContext("ffeeddccbbaa99887766554433221100")).dataset
    assert a.StudyInstanceUID == b.StudyInstanceUID != c.StudyInstanceUID
    assert a.StudyInstanceUID.startswith("2.25.") and len(a.StudyInstanceUID) <= 64
    assert pydicom.uid.UID(a.StudyInstanceUID).is_valid


def test_date_shift_per_patient_keeps_intervals_nested_and_offsets():
    ctx = DeidContext(KEY)
    ds = _series(1)[0]
    ds.AcquisitionDateTime = "20240102101500.123456+0100"
    item = Dataset()
    item.ObservationDateTime = "20240105080000"
    item.Date = "20240103"
    ds.ContentSequence = Sequence([item])
    result = anonymize(ds, Profile(retain_longitudinal_modified_dates=True), context=ctx)
    out = result.dataset
    import datetime as dt

    offset = result.date_offset_days
    assert offset is not None and offset != 0
    assert out.StudyDate == (dt.date(2024, 1, 2) + dt.timedelta(days=offset)).strftime("%Y%m%d")
    assert out.AcquisitionDateTime.endswith("101500.123456+0100")
    assert out.AcquisitionDateTime[:8] == out.StudyDate
    assert out.StudyTime == ds.StudyTime  # whole-day shift
    # Same patient, another file, same context -> same offset.
    other = _series(2)[1]
    assert (
        anonymize(
            other, Profile(retain_longitudinal_modified_dates=True), context=ctx
        ).date_offset_days
        == offset
    )
    assert out.LongitudinalTemporalInformationModified == "MODIFIED"


def test_overrides():
    ds = _series(1)[0]
    profile = Profile(
        overrides={
            "PatientID": ("replace", "SUBJ-01"),
            "(0008,0080)": "keep",
            "Manufacturer": "remove",
        }
    )
    result = anonymize(ds, profile)
    assert result.dataset.PatientID == "SUBJ-01"
    assert result.dataset.InstitutionName == ds.InstitutionName
    assert "Manufacturer" not in result.dataset
    assert {
        c.rule
        for c in result.changes
        if c.keyword in ("PatientID", "InstitutionName", "Manufacturer")
    } == {"override"}


def test_free_text_with_patient_identifiers_is_redacted():
    ds = _series(1)[0]
    ds.ImageComments = "pt PHANTOM Jane, MRN DW-PHANTOM-0001, born 01/01/1970"  # X anyway
    ds.AdditionalPatientHistory = "x"
    ds.ConvolutionKernel = "JANE"  # not in the table: kept but redacted
    ds.DerivationDescription = "Derived for Phantom^Jane"  # X
    result = anonymize(ds, Profile(clean_descriptors=True))
    out = result.dataset
    assert "jane" not in str(out.ConvolutionKernel).lower()
    assert any(w.kind == "phi_in_text" and w.resolved for w in result.warnings)
    assert result.identity_removed


def test_burned_in_annotation_warning_blocks_yes():
    ds = pydicom.dcmread(pydicom.data.get_testdata_file("SC_rgb.dcm"))
    result = anonymize(ds, Profile())
    assert any(w.kind == "burned_in_annotation" and not w.resolved for w in result.warnings)
    assert result.dataset.PatientIdentityRemoved == "NO"


def test_public_un_uses_dictionary_vr():
    path = pydicom.data.get_testdata_file("explicit_VR-UN.dcm")
    result = anonymize(pydicom.dcmread(path), Profile())
    assert all(c.vr != "UN" for c in result.changes if c.keyword)


def test_charsets_iso2022_and_utf8_names():
    ds = pydicom.dcmread(next(p for p in charset_files() if p.name == "chrJapMulti.dcm"))
    ds.StudyComments = f"患者 {ds.PatientName}"  # X anyway
    ds.ConvolutionKernel = str(ds.PatientName).split("=")[0]
    result = anonymize(ds, Profile())
    buffer = __import__("io").BytesIO()
    pydicom.dcmwrite(buffer, result.dataset)
    back = pydicom.dcmread(__import__("io").BytesIO(buffer.getvalue()))
    assert str(back.PatientName) == ""
    report = verify([ds], [result.dataset])
    assert report.ok, report._repr_text()


# -- crafted pitfall series through anonymize_files + verify ---------------------------------
NAMES = {
    "ISO_IR 192": ("Müller^Jürgen=山田^太郎=やまだ^たろう", "Müller", "Jürgen"),
    "ISO 2022 IR 87": ("Yamada^Tarou=山田^太郎=やまだ^たろう", "山田", "太郎"),
}


def _pitfall_series(folder: Path, implicit: bool, charset: str = "ISO_IR 192") -> list[Path]:
    full, family, given = NAMES[charset]
    datasets = _series(3, 16)
    study_uid = f"1.2.826.0.1.3680043.9.{MRN}.20240102"
    paths = []
    for i, ds in enumerate(datasets):
        ds.StudyInstanceUID = study_uid
        ds.SOPInstanceUID = f"{study_uid}.{i + 1}"
        ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
        ds.OtherPatientIDs = MRN
        ds.SpecificCharacterSet = ["", charset] if charset.startswith("ISO 2022") else charset
        ds.PatientName = full
        ref = Dataset()
        ref.ReferencedSOPClassUID = ds.SOPClassUID
        ref.ReferencedSOPInstanceUID = f"{study_uid}.{(i + 1) % 3 + 1}"
        item = Dataset()
        item.ReferencedImageSequence = Sequence([ref])
        item.PatientName = f"{family}^{given}"
        item.OperatorsName = "Tech^Nested"
        item.InstitutionName = "Hidden General Hospital"
        item.TextComments = f"patient {MRN} {family}"
        ds.ReferencedSeriesSequence = Sequence([item])
        ds.SourceImageSequence = Sequence([copy.deepcopy(ref)])
        ds.ImageComments = f"{family} scanned by Dr House"
        ds.add_new(0x60000010, "US", 16)
        ds.add_new(0x60000011, "US", 16)
        ds.add_new(0x60000022, "LO", f"{family} overlay")
        ds.add_new(0x60003000, "OW", b"\x00" * 32)
        ds.add_new(0x60020010, "US", 16)
        ds.add_new(0x60020022, "LO", given)
        ds.add_new(0x60023000, "OW", b"\x00" * 32)
        original = Dataset()
        original.PatientName = f"{family}^{given}"
        original.PatientID = MRN
        mod = Dataset()
        mod.OriginalAttributesSequence = Sequence([Dataset()])
        mod.OriginalAttributesSequence[0].ModifiedAttributesSequence = Sequence([original])
        ds.OriginalAttributesSequence = mod.OriginalAttributesSequence
        block = ds.private_block(0x0029, "ACME PRIVATE", create=True)
        block.add_new(0x01, "LO", f"MRN {MRN}")
        block.add_new(0x02, "UN", family.encode())
        if implicit:
            ds.file_meta.TransferSyntaxUID = pydicom.uid.ImplicitVRLittleEndian
        paths.append(folder / f"f{i}.dcm")
        from dicom_widgets._io import write_dataset_atomic

        write_dataset_atomic(ds, paths[-1])
    return paths


@pytest.mark.parametrize(
    ("implicit", "charset"),
    [(False, "ISO_IR 192"), (True, "ISO_IR 192"), (False, "ISO 2022 IR 87")],
)
def test_pitfalls_written_and_verified(tmp_path, implicit, charset):
    src = tmp_path / "src"
    paths = _pitfall_series(src, implicit, charset)
    family = NAMES[charset][1]
    report = anonymize_files(paths, tmp_path / "out", key=KEY, progress=False)
    assert report.counts() == {"written": 3}, report._repr_text()
    assert report.verification is not None and report.verification.ok
    outputs = [Path(o.output) for o in report.outcomes]
    assert all(family not in p.name and MRN not in p.name for p in outputs)
    standalone = verify(paths, outputs)
    assert standalone.ok, standalone._repr_text()
    for p in outputs:
        raw = p.read_bytes()
        assert MRN.encode() not in raw and b"20240102" not in raw
        assert family.encode("utf-8") not in raw
        if charset.startswith("ISO 2022"):
            jis = family.encode("iso2022_jp")[3:-3]  # the JIS X 0208 bytes without escapes
            assert jis and jis not in raw
    anon = [read_dataset(p) for p in outputs]
    sop = {d.SOPInstanceUID for d in anon}
    for d in anon:
        # References between files stay intact and resolve to remapped instances.
        ref = d.ReferencedSeriesSequence[0].ReferencedImageSequence[0].ReferencedSOPInstanceUID
        assert ref in sop
        assert not any(t >> 16 in (0x6000, 0x6002) for t in d.keys())
        assert "OriginalAttributesSequence" not in d
        assert not any(t >> 16 == 0x0029 for t in d.keys())
    assert len({d.StudyInstanceUID for d in anon}) == 1


def test_refuses_unsafe_output_and_duplicates(tmp_path):
    paths = write_series(_series(2), tmp_path / "src")
    with pytest.raises(UnsafeOutputError):
        anonymize_files(paths, tmp_path / "src" / "anon", progress=False)
    with pytest.raises(UnsafeOutputError):
        anonymize_files(paths, tmp_path / "src", progress=False)
    with pytest.raises(UnsafeOutputError):
        anonymize_files([paths[0], paths[0]], tmp_path / "out", progress=False)
    assert not (tmp_path / "out").exists() and not (tmp_path / "src" / "anon").exists()


def test_existing_outputs_and_continued_batch(tmp_path):
    paths = write_series(_series(4), tmp_path / "src")
    first = anonymize_files(paths[:2], tmp_path / "out", key=KEY, progress=False)
    again = anonymize_files(paths[:2], tmp_path / "out", key=KEY, progress=False)
    assert again.counts() == {"exists": 2}
    second = anonymize_files(paths[2:], tmp_path / "out", key=KEY, progress=False)
    studies = {read_dataset(p).StudyInstanceUID for p in first.written + second.written}
    assert len(studies) == 1  # the key continues the batch
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        text = first.uid_map_csv(tmp_path / "uids.csv")
    assert any(issubclass(w.category, DicomWidgetsWarning) for w in caught)
    assert "RE-IDENTIFIES" in text and (tmp_path / "uids.csv").exists()


def test_a_preamble_holding_data_is_written_as_zeros(tmp_path):
    [path] = write_series(_series(1), tmp_path / "src")
    data = bytearray(path.read_bytes())
    data[:128] = b"II*\x00 PHANTOM^Jane 4455667788".ljust(128, b"\x01")  # a TIFF-like header
    path.write_bytes(bytes(data))
    report = anonymize_files([path], tmp_path / "out", key=KEY, progress=False)
    written = Path(report.written[0]).read_bytes()
    assert written[:132] == b"\x00" * 128 + b"DICM"
    [warning] = [w for w in report.outcomes[0].warnings if w.kind == "preamble"]
    assert warning.resolved
    assert path.read_bytes() == bytes(data)  # the source is untouched
    # A zero preamble is not worth a warning.
    plain = anonymize(read_dataset(report.written[0]), Profile(), context=DeidContext(KEY))
    assert not [w for w in plain.warnings if w.kind == "preamble"]


def test_pixel_data_byte_exact_without_cleaning(tmp_path):
    src = pydicom.data.get_testdata_file("JPEG2000.dcm")
    report = anonymize_files([src], tmp_path / "out", progress=False)
    out = read_dataset(report.written[0])
    orig = read_dataset(src)
    assert out.PixelData == orig.PixelData
    assert out.file_meta.TransferSyntaxUID == orig.file_meta.TransferSyntaxUID


def test_pixel_regions_clean_every_frame(tmp_path):
    src = [
        pydicom.data.get_testdata_file("SC_rgb_rle_2frame.dcm"),
        pydicom.data.get_testdata_file("CT_small.dcm"),
    ]
    report = anonymize_files(
        src, tmp_path / "out", pixel_regions={(100, 100): [(0, 0, 10, 20)]}, progress=False
    )
    outcomes = {Path(o.source).name: o for o in report.outcomes}
    sc = outcomes["SC_rgb_rle_2frame.dcm"]
    assert sc.pixel_cleaned and "Explicit VR Little Endian" in sc.message
    out = read_dataset(sc.output)
    assert out.file_meta.TransferSyntaxUID == "1.2.840.10008.1.2.1"
    arr = out.pixel_array
    assert arr.shape[0] == 2 and np.all(arr[:, :10, :20] == 0) and arr[:, 50:, 50:].any()
    assert "113101" in {i.CodeValue for i in out.DeidentificationMethodCodeSequence}
    assert out.BurnedInAnnotation == "NO" and out.PatientIdentityRemoved == "YES"
    assert not outcomes["CT_small.dcm"].pixel_cleaned  # other geometry: untouched
    assert "Report" in repr(report) and "cleaned" in repr(report)


def test_every_pydicom_file_gets_an_outcome(tmp_path):
    files = all_pydicom_test_files() + charset_files()
    with cf.ThreadPoolExecutor(2) as pool:
        report = anonymize_files(files, tmp_path / "out", executor=pool, progress=False)
    assert len(report.outcomes) == len(files)
    # "exists": a byte-identical copy of another source (pydicom ships some files twice).
    assert {o.status for o in report.outcomes} <= {"written", "skipped", "error", "exists"}
    assert report.verification.ok, report.verification._repr_text()
    written = [o for o in report.outcomes if o.status == "written"]
    assert len(written) > 0.8 * len(files)
    for o in report.outcomes:
        if o.status == "error":
            assert o.message


def test_dask_executor(tmp_path):
    distributed = pytest.importorskip("distributed")
    paths = write_series(mr_phantom(n_slices=4, size=16), tmp_path / "src")
    with distributed.LocalCluster(
        n_workers=1, threads_per_worker=2, processes=False, dashboard_address=None
    ) as cluster:
        with distributed.Client(cluster) as client:
            report = anonymize_files(
                paths, tmp_path / "out", key=KEY, executor=client.get_executor(), progress=False
            )
    assert report.counts() == {"written": 4}
    assert len({read_dataset(p).SeriesInstanceUID for p in report.written}) == 1
    assert report.uid_map  # maps come back from the workers


def test_reprs_escape_and_text():
    result = anonymize(_series(1)[0])
    assert "AnonymizationResult" in repr(result)
    html_text = result._repr_html_()
    assert html_text and "<script" not in html_text


def test_public_un_reinterpreted_when_pydicom_leaves_it(monkeypatch):
    from pydicom import config
    from pydicom.dataelem import RawDataElement
    from pydicom.filebase import DicomBytesIO
    from pydicom.filewriter import write_dataset as pyd_write_dataset
    from pydicom.tag import Tag

    ds = _series(1, 8)[0]
    item = Dataset()
    item.ReferencedSOPClassUID = ds.SOPClassUID
    item.ReferencedSOPInstanceUID = f"1.2.3.{MRN}.1"
    holder = Dataset()
    holder.ReferencedImageSequence = [item]
    fp = DicomBytesIO()
    fp.is_little_endian, fp.is_implicit_VR = True, True
    pyd_write_dataset(fp, holder)
    value = fp.getvalue()[8:]  # implicit VR: tag (4) + length (4), then the items
    tag = Tag(0x00081140)
    ds._dict[tag] = RawDataElement(tag, "UN", len(value), value, 0, False, True)
    name = b"Doe^Jane"
    ds._dict[Tag(0x00100010)] = RawDataElement(
        Tag(0x00100010), "UN", len(name), name, 0, False, True
    )
    monkeypatch.setattr(config, "replace_un_with_known_vr", False)
    back = ds  # raw elements as a reader leaves them when it does not know better
    assert back[0x00100010].VR == "UN"
    result = anonymize(back, Profile(overrides={"ReferencedImageSequence": "keep"}))
    by_path = {c.path: c for c in result.changes}
    assert by_path["PatientName"].vr == "PN" and by_path["PatientName"].action == "Z"
    ref = by_path["ReferencedImageSequence[0].ReferencedSOPInstanceUID"]
    assert ref.action == "U" and MRN not in ref.after


def test_clean_structured_content_on_sr():
    path = pydicom.data.get_testdata_file("reportsi.dcm")
    ds = pydicom.dcmread(path)
    basic = anonymize(ds, Profile())
    cleaned = anonymize(ds, Profile(clean_structured_content=True))
    assert any(c.keyword == "ContentSequence" and c.action == "D" for c in basic.changes)
    assert any(c.keyword == "ContentSequence" and c.action == "C" for c in cleaned.changes)
    for result in (basic, cleaned):
        report = verify([ds], [result.dataset], profile=result.profile)
        assert report.ok, report._repr_text()
    # Person names in content items never survive.
    names = [c for c in cleaned.changes if c.keyword == "PersonName"]
    assert names and all(c.after != c.before for c in names)


def test_retain_uids_warns_about_identifiers_inside_uids():
    ds = _series(1, 8)[0]
    ds.OtherPatientIDs = MRN
    ds.StudyInstanceUID = f"1.2.826.0.1.3680043.9.{MRN}.1"
    result = anonymize(ds, Profile(retain_uids=True))
    assert any(w.kind == "uid_with_identifier" and not w.resolved for w in result.warnings)
    assert result.dataset.PatientIdentityRemoved == "NO"


def test_icon_and_original_attributes_warnings():
    ds = _series(1, 8)[0]
    icon = Dataset()
    icon.Rows = 1
    ds.IconImageSequence = Sequence([icon])
    ds.OriginalAttributesSequence = Sequence([Dataset()])
    removed = anonymize(ds)
    assert {w.kind for w in removed.warnings} >= {"icon_image", "original_attributes"}
    assert removed.identity_removed
    kept = anonymize(ds, Profile(overrides={"IconImageSequence": "keep"}))
    assert not kept.identity_removed


def test_dask_process_workers(tmp_path):
    distributed = pytest.importorskip("distributed")
    paths = write_series(_series(6, 16), tmp_path / "src")
    with distributed.LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        dashboard_address=None,
        memory_limit="512MiB",
    ) as cluster:
        with distributed.Client(cluster) as client:
            report = anonymize_files(
                paths, tmp_path / "out", key=KEY, executor=client.get_executor(), progress=False
            )
    assert report.counts() == {"written": 6}, report._repr_text()
    local = anonymize_files(paths, tmp_path / "out_local", key=KEY, progress=False)
    # Same key, different machines/processes: the same UIDs.
    assert sorted(Path(p).name for p in report.written) == sorted(
        Path(p).name for p in local.written
    )


def test_truncated_files_reported_not_written(tmp_path):
    paths = write_series(_series(2, 32), tmp_path / "src")
    data = paths[0].read_bytes()
    for cut in (1000, 2000, len(data) - 100):
        (tmp_path / "src" / f"cut{cut}.dcm").write_bytes(data[:cut])
    report = anonymize_files(tmp_path / "src", tmp_path / "out", progress=False)
    by_name = {Path(o.source).name: o for o in report.outcomes}
    for cut in (1000, 2000, len(data) - 100):
        outcome = by_name[f"cut{cut}.dcm"]
        assert outcome.status == "error" and outcome.output is None, outcome
        assert "truncated" in outcome.message or "unreadable" in outcome.message
    assert by_name[paths[1].name].status == "written"


def test_dataset_sources_and_progress_callback(tmp_path):
    datasets = _series(3, 16)
    before = str(datasets[0])
    calls = []
    report = anonymize_files(datasets, tmp_path / "out", progress=lambda d, t: calls.append((d, t)))
    assert report.counts() == {"written": 3} and report.verification.ok
    assert str(datasets[0]) == before  # the caller's datasets are not modified
    assert calls[-1] == (3, 3)
    assert report.outcomes[0].source == "<dataset 0>"


def test_staff_and_site_names_redacted_from_kept_text_unless_retained():
    ds = _series(1, 8)[0]
    ds.ReferringPhysicianName = "Housemd^Gregory"
    ds.PerformingPhysicianName = "Wilson^James"
    ds.OperatorsName = "Cuddy^Lisa"  # (the phantom's staff are called "Example", like its hospital)
    ds.ConvolutionKernel = "HOUSEMD"  # not in the table: kept, so searched
    ds.FilterType = "Example General Hospital (synthetic)"  # the institution name
    out = anonymize(ds).dataset
    assert "HOUSEMD" not in out.ConvolutionKernel.upper()
    assert "Hospital" not in out.FilterType
    kept = anonymize(ds, Profile(retain_institution_identity=True)).dataset
    assert kept.FilterType == ds.FilterType


@pytest.mark.parametrize("charset", ["ISO 2022 IR 87", "ISO_IR 192"])
def test_verify_finds_a_planted_name_in_any_declared_encoding(tmp_path, charset):
    ds = _series(1, 8)[0]
    ds.SpecificCharacterSet = ["", charset] if charset.startswith("ISO 2022") else charset
    ds.PatientName = "Yamada^Tarou=山田^太郎=やまだ^たろう"
    clean = anonymize(ds).dataset
    leaked = anonymize(ds).dataset
    item = Dataset()
    item.CodeMeaning = "所見 山田 さん"  # the ideographic family name, planted in a nested item
    leaked.ConceptNameCodeSequence = Sequence([item])
    report = verify([ds], [leaked])
    assert not report.ok
    hit = report.hits[0]
    assert hit.path == "ConceptNameCodeSequence[0].CodeMeaning" and hit.kind == "name"
    assert "山田" not in hit.masked  # reports do not re-leak the value
    assert verify([ds], [clean]).ok


def test_pixel_cleaning_of_jpeg_ybr_is_black_and_labelled(tmp_path):
    from dicom_widgets._compat import convert_color_space

    src = pydicom.data.get_testdata_file("SC_rgb_jpeg_dcmtk.dcm")
    report = anonymize_files([src], tmp_path / "out", pixel_regions=[(0, 0, 8, 8)], progress=False)
    out = read_dataset(report.written[0])
    arr = out.pixel_array
    if out.PhotometricInterpretation == "YBR_FULL":
        from dicom_widgets._compat import IS_PYDICOM3

        if not IS_PYDICOM3:
            arr = convert_color_space(arr, "YBR_FULL", "RGB")
    assert out.PhotometricInterpretation in ("RGB", "YBR_FULL")
    assert arr[:8, :8].max() <= 2  # black, whatever the colour space written
    orig = read_dataset(src).pixel_array
    assert np.array_equal(out.pixel_array[20:, 20:], orig[20:, 20:])


@pytest.mark.parametrize(
    "profile",
    [
        Profile(
            **{
                n: True
                for n in (
                    "retain_safe_private",
                    "retain_uids",
                    "retain_device_identity",
                    "retain_institution_identity",
                    "retain_patient_characteristics",
                    "retain_longitudinal_modified_dates",
                    "clean_descriptors",
                    "clean_structured_content",
                    "clean_graphics",
                )
            }
        ),
        Profile(retain_longitudinal_full_dates=True, clean_structured_content=True),
    ],
    ids=["all-options-modified-dates", "full-dates"],
)
def test_every_pydicom_file_with_options(tmp_path, profile):
    files = all_pydicom_test_files() + charset_files()
    with cf.ThreadPoolExecutor(2) as pool:
        report = anonymize_files(
            files, tmp_path / "out", profile=profile, executor=pool, progress=False
        )
    assert len(report.outcomes) == len(files)
    assert {o.status for o in report.outcomes} <= {"written", "skipped", "error", "exists"}
    assert report.verification.ok, report.verification._repr_text()


def test_embedded_overlay_warned_even_though_group_removed():
    ds = _series(1, 8)[0]
    ds.add_new(0x60000010, "US", 8)
    ds.add_new(0x60000011, "US", 8)
    ds.add_new(0x60000100, "US", 16)  # Overlay Bits Allocated 16: embedded in Pixel Data
    ds.add_new(0x60000102, "US", 15)
    result = anonymize(ds)
    assert not any(t >> 16 == 0x6000 for t in result.dataset.keys())
    assert any(w.kind == "overlay" and not w.resolved for w in result.warnings)
    assert result.dataset.PatientIdentityRemoved == "NO"


def _boom(*args, **kwargs):
    raise RuntimeError("worker died")


class _FailingExecutor(cf.ThreadPoolExecutor):
    """An executor whose every task fails, like a crashed process-pool worker."""

    def submit(self, fn, /, *args, **kwargs):
        return super().submit(_boom)


def test_failed_worker_gives_error_outcomes_not_an_exception(tmp_path):
    paths = write_series(_series(3, 16), tmp_path / "src")
    with _FailingExecutor(1) as pool:
        report = anonymize_files(paths, tmp_path / "out", executor=pool, progress=False)
    assert [o.status for o in report.outcomes] == ["error"] * 3
    assert all("worker failed" in o.message for o in report.outcomes)
    assert not report.ok


def test_invalid_values_are_handled_and_reported(tmp_path):
    from pydicom.dataelem import DataElement

    ds = _series(1, 16)[0]
    ds.add(DataElement(0x00080020, "DA", "2024-13-45"))  # StudyDate, not a date
    ds.add(DataElement(0x0020000D, "UI", f"study.{MRN}.x"))  # malformed UID holding an MRN
    ds.add(DataElement(0x00100010, "LO", "Wrongvr^Patient"))  # PN written with the wrong VR
    ds.add(DataElement(0x00181030, "LO", "Protocol for Wrongvr"))
    from pydicom.dataelem import RawDataElement
    from pydicom.tag import Tag

    spacing = Tag(0x00280030)  # an invalid DS outside the table, as a reader leaves it
    ds._dict[spacing] = RawDataElement(spacing, "DS", 8, b"abc\\def ", 0, False, True)
    path = tmp_path / "src" / "bad.dcm"
    path.parent.mkdir()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pydicom.dcmwrite(path, ds)
        report = anonymize_files(
            [path],
            tmp_path / "out",
            profile=Profile(retain_longitudinal_modified_dates=True),
            progress=False,
        )
    outcome = report.outcomes[0]
    assert outcome.status == "written", outcome
    assert any(w.kind == "invalid_value" for w in outcome.warnings)
    raw = Path(outcome.output).read_bytes()
    assert MRN.encode() not in raw and b"Wrongvr" not in raw and b"2024-13-45" not in raw


def test_rt_structure_references_follow_the_same_map():
    ctx = DeidContext(KEY)
    ds = pydicom.dcmread(pydicom.data.get_testdata_file("rtstruct.dcm"), force=True)
    ref_for = ds.ReferencedFrameOfReferenceSequence[0]
    original_for = ref_for.FrameOfReferenceUID
    series = ref_for.RTReferencedStudySequence[0].RTReferencedSeriesSequence[0]
    original_series = series.SeriesInstanceUID
    out = anonymize(ds, context=ctx).dataset
    new_for = out.ReferencedFrameOfReferenceSequence[0]
    assert new_for.FrameOfReferenceUID == ctx.remap_uid(original_for) != original_for
    new_series = new_for.RTReferencedStudySequence[0].RTReferencedSeriesSequence[0]
    assert new_series.SeriesInstanceUID == ctx.remap_uid(original_series) != original_series
    roi = out.StructureSetROISequence[0]
    assert roi.ReferencedFrameOfReferenceUID == ctx.remap_uid(original_for)


def test_out_dir_containing_a_source_folder_is_refused(tmp_path):
    paths = write_series(_series(1, 8), tmp_path / "data" / "src")
    with pytest.raises(UnsafeOutputError, match="contains the source folder"):
        anonymize_files(paths, tmp_path / "data", progress=False)


def test_override_keeping_an_identifier_keeps_identity_removed_no():
    result = anonymize(_series(1, 8)[0], Profile(overrides={"PatientName": "keep"}))
    assert result.dataset.PatientName == "PHANTOM^Jane^Q^^"
    assert any(w.kind == "override_keeps" and not w.resolved for w in result.warnings)
    assert result.dataset.PatientIdentityRemoved == "NO"
    replaced = anonymize(_series(1, 8)[0], Profile(overrides={"PatientID": ("replace", "SUBJ-7")}))
    assert replaced.dataset.PatientIdentityRemoved == "YES"


def test_garbage_vr_in_file_meta(tmp_path):
    ds = _series(1, 8)[0]
    ds.file_meta.SourceApplicationEntityTitle = "SCANNER"
    path = write_series([ds], tmp_path / "src", shuffle=False)[0]
    data = bytearray(path.read_bytes())
    at = data.find(b"\x02\x00\x16\x00AE")
    data[at + 4 : at + 6] = b"U\x87"
    path.write_bytes(bytes(data))
    broken = pydicom.dcmread(path, force=True)
    result = anonymize(broken)
    assert 0x00020016 not in result.dataset.file_meta
    report = anonymize_files([path], tmp_path / "out", progress=False)
    assert report.outcomes[0].status in ("written", "error") and (
        report.outcomes[0].status == "written" or report.outcomes[0].message
    )


def test_report_repr_shows_no_absolute_paths(tmp_path, monkeypatch):
    paths = write_series(_series(2, 8), tmp_path / "src")
    monkeypatch.chdir(tmp_path)
    report = anonymize_files(paths, tmp_path / "out", progress=False)
    text = report._repr_text()
    assert str(tmp_path) not in text and "src/IM_" in text


def test_outputs_get_the_mode_a_plain_open_would_give(tmp_path):
    # mkstemp creates 0o600 files; renamed into place as they were, every anonymized file
    # would be unreadable to the user's group, unlike a file written with open().
    from dicom_widgets._io import atomic_write_bytes, new_file_mode

    plain = tmp_path / "plain.bin"
    plain.write_bytes(b"x")
    expected = plain.stat().st_mode & 0o777
    assert new_file_mode() == expected
    written = atomic_write_bytes(tmp_path / "atomic.bin", b"x")
    assert written.stat().st_mode & 0o777 == expected
    paths = write_series(_series(2), tmp_path / "src")
    anonymize_files(paths, tmp_path / "out", key=KEY, progress=False)
    outputs = [p for p in (tmp_path / "out").rglob("*") if p.is_file()]
    assert len(outputs) >= 2
    assert all(p.stat().st_mode & 0o777 == expected for p in outputs)
