"""Measurements kept as a TID 1500 DICOM SR: written with highdicom, read back with pydicom.

The stored report ``tests/data/known_series_report.dcm`` was written by
:func:`save_measurements` from the known series (whose UIDs are deterministic), so loading
is tested on pydicom 2.4 too, where highdicom cannot be installed.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np
import pytest
from measure_series import known_datasets, known_series

import dicom_widgets as dw
from dicom_widgets.data import ct_phantom, pydicom_file
from dicom_widgets.errors import DicomReadError, MeasurementError, MissingDependencyError
from dicom_widgets.measurements import load_measurements, measure, save_measurements
from dicom_widgets.view import plane_for

STORED_REPORT = Path(__file__).parent / "data" / "known_series_report.dcm"
# SCOORD3D coordinates are stored as 32-bit floats.
POINT_MM = 1e-4

DRAWN = [
    ("acquired", "distance", [(1, 2), (30, 40)], 4),
    ("coronal", "distance", [(1, 2), (9, 40)], 17),
    ("acquired", "angle", [(1, 2), (5, 5), (30, 40)], 4),
    ("coronal", "angle", [(0, 0), (0, 9), (7, 9)], 20),
    ("acquired", "ellipse", [(5, 8), (18, 28)], 2),
    ("coronal", "rectangle", [(3, 36), (8, 50)], 28),
    ("acquired", "polygon", [(1, 1), (30, 5.5), (38.2, 40), (12, 53)], 5),
    ("sagittal", "ellipse", [(2, 5), (9, 30)], 40),
    ("acquired", "rectangle", [(5, 5), (5, 9)], 0),  # zero area: NaN statistics
]


def draw_all(series) -> list:
    volume = series.volume()
    affine = series.affine()
    frame_uid = series.dataset(0).FrameOfReferenceUID
    out = []
    for number, (view, kind, points, index) in enumerate(DRAWN):
        plane = plane_for(view, affine)
        out.append(
            measure(
                kind,
                points,
                plane=plane,
                index=index,
                shape=volume.shape,
                affine=affine,
                values=plane.cut(volume, index),
                unit="HU",
                label=f"{kind} {number} on {view}",
                frame_of_reference_uid=frame_uid,
            )
        )
    return out


@pytest.fixture(scope="module")
def series():
    return known_series()


@pytest.fixture(scope="module")
def drawn(series):
    return draw_all(series)


@pytest.fixture(scope="module")
def report(tmp_path_factory, series, drawn):
    pytest.importorskip("highdicom")
    return save_measurements(drawn, series, tmp_path_factory.mktemp("sr") / "report.dcm")


def _same(original, loaded, *, placed=True):
    assert loaded.kind == original.kind
    assert loaded.label == original.label and loaded.uid == original.uid
    if not (original.is_roi and math.isnan(original.value)):
        assert loaded.unit == original.unit  # a zero-area ROI has no Mean to carry the unit
    np.testing.assert_allclose(loaded.points, original.points, atol=POINT_MM)
    if math.isnan(original.value):
        assert math.isnan(loaded.value) and loaded.reason
    else:
        assert loaded.value == pytest.approx(original.value, rel=1e-9)
    assert loaded.stats.keys() == original.stats.keys()
    for key, value in original.stats.items():
        assert loaded.stats[key] == pytest.approx(value, rel=1e-9, nan_ok=True), key
    if placed:
        assert (loaded.view, loaded.index) == (original.view, original.index)


def test_round_trip_keeps_every_distance_angle_and_roi(report, series, drawn):
    loaded = load_measurements(report, series)
    assert len(loaded) == len(drawn)
    for original, back in zip(drawn, loaded):
        _same(original, back)
        assert back.frame_of_reference_uid == series.dataset(0).FrameOfReferenceUID
        assert back.referenced_sop_instance_uids
    # Measurements on one acquired image reference that image.
    assert loaded[0].referenced_sop_instance_uids == (series.frame_ref(4).sop_uid,)


def test_without_the_series_points_come_from_the_image_library(report, drawn):
    loaded = load_measurements(report)
    for original, back in zip(drawn, loaded):
        _same(original, back, placed=False)
        assert back.plane is None and back.frame_of_reference_uid


def test_highdicom_reads_it_as_a_tid_1500_measurement_report(report, series, drawn):
    hd = pytest.importorskip("highdicom")
    sr = hd.sr.srread(report)
    assert isinstance(sr, hd.sr.Comprehensive3DSR)
    assert sr.ContentTemplateSequence[0].TemplateIdentifier == "1500"
    content = sr.content
    assert isinstance(content, hd.sr.MeasurementReport)
    rois = content.get_planar_roi_measurement_groups()
    lines = content.get_image_measurement_groups()
    assert len(rois) == sum(m.is_roi for m in drawn) and len(lines) == 4
    by_uid = {m.uid: m for m in drawn}
    for group in lines:
        original = by_uid[group.tracking_uid]
        (value,) = group.get_measurements()
        assert value.value == pytest.approx(original.value)
        assert value.unit.value == {"distance": "mm", "angle": "deg"}[original.kind]
    ellipse = next(g for g in rois if by_uid[g.tracking_uid].kind == "ellipse")
    assert ellipse.reference_type.value == "111030"  # an Image Region
    mean = next(v for v in ellipse.get_measurements() if v.name.meaning == "Mean")
    assert mean.value == 0.0 and mean.unit.value == "[hnsf'U]"
    # The source images are the evidence of the report.
    evidence = {sop_uid for _, _, sop_uid, _ in sr.get_evidence()}
    assert series.frame_ref(4).sop_uid in evidence and series.frame_ref(2).sop_uid in evidence


def test_a_report_from_another_frame_of_reference_is_refused(report):
    other = dw.load_series(ct_phantom(n_slices=4, size=16, seed=9), progress=False)
    with pytest.raises(MeasurementError, match="Frame of Reference.*refused"):
        load_measurements(report, other)


@pytest.mark.parametrize("name", ["sr", "sr_report", "ct_small"])
def test_an_sr_that_is_not_a_tid_1500_report_gets_a_clear_error(name):
    path = pydicom_file(name)
    with pytest.raises(DicomReadError, match="not a TID 1500 Measurement Report") as info:
        load_measurements(path)
    assert str(path) in str(info.value)


def test_an_unreadable_file_is_a_read_error(tmp_path):
    bad = tmp_path / "bad.dcm"
    bad.write_bytes(b"not dicom at all")
    with pytest.raises(DicomReadError, match="bad.dcm"):
        load_measurements(bad)


def test_saving_refuses_nothing_and_another_frame_of_reference(tmp_path, series, drawn):
    pytest.importorskip("highdicom")
    with pytest.raises(MeasurementError, match="no measurements"):
        save_measurements([], series, tmp_path / "a.dcm")
    stranger = draw_all(series)[0]
    stranger.frame_of_reference_uid = "1.2.3.4"
    with pytest.raises(MeasurementError, match="Frame of Reference 1.2.3.4"):
        save_measurements([stranger], series, tmp_path / "a.dcm")
    assert not list(tmp_path.iterdir())  # nothing half-written


def test_saving_is_atomic_and_does_not_overwrite(tmp_path, series, drawn):
    pytest.importorskip("highdicom")
    target = save_measurements(drawn[:2], series, tmp_path / "r.dcm")
    with pytest.raises(FileExistsError):
        save_measurements(drawn, series, target)
    assert len(load_measurements(target, series)) == 2
    save_measurements(drawn, series, target, overwrite=True)
    assert len(load_measurements(target, series)) == len(drawn)
    assert [p.name for p in tmp_path.iterdir()] == ["r.dcm"]


def test_without_highdicom_saving_says_what_to_install(tmp_path, series, drawn, monkeypatch):
    monkeypatch.setitem(sys.modules, "highdicom", None)  # as on pydicom 2.4: not importable
    with pytest.raises(MissingDependencyError, match=r"pip install \"dicom-widgets\[seg\]\""):
        save_measurements(drawn, series, tmp_path / "r.dcm")


def test_the_stored_report_loads_on_every_pydicom(series, drawn):
    """Written once from the known series by save_measurements; read with pydicom only."""
    loaded = load_measurements(STORED_REPORT, series)
    assert [m.kind for m in loaded] == [m.kind for m in drawn]
    for original, back in zip(drawn, loaded):
        original_dict, back_dict = original.to_dict(), back.to_dict()
        for key in ("uid", "referenced_sop_instance_uids"):
            original_dict.pop(key), back_dict.pop(key)
        assert back.label == original.label
        np.testing.assert_allclose(back.points, original.points, atol=POINT_MM)
        assert back.value == pytest.approx(original.value, rel=1e-9, nan_ok=True)
        assert (back.view, back.index) == (original.view, original.index)


def test_round_trip_on_pydicom_ct_small(tmp_path):
    pytest.importorskip("highdicom")
    series = dw.load_series(pydicom_file("ct_small"), progress=False)
    affine = series.affine()
    plane = plane_for("acquired", affine)
    shape = (1, *series.frame(0).shape)
    values = series.frame(0)
    made = [
        measure(
            "distance",
            [(10, 10), (100, 90)],
            plane=plane,
            index=0,
            shape=shape,
            affine=affine,
            label="across",
        ),
        measure(
            "ellipse",
            [(30, 30), (90, 100)],
            plane=plane,
            index=0,
            shape=shape,
            affine=affine,
            values=values,
            unit="HU",
            label="soft tissue",
        ),
    ]
    target = save_measurements(made, series, tmp_path / "ct_small_report.dcm")
    for loaded in (load_measurements(target, series), load_measurements(target)):
        for original, back in zip(made, loaded):
            _same(original, back, placed=loaded[0].plane is not None)
            assert back.referenced_sop_instance_uids == (series.dataset(0).SOPInstanceUID,)


def _write_stored_report() -> None:  # pragma: no cover - run by hand to refresh the file
    series = dw.load_series(known_datasets(), progress=False)
    save_measurements(draw_all(series), series, STORED_REPORT, overwrite=True)


if __name__ == "__main__":  # pragma: no cover
    _write_stored_report()
