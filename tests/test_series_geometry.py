"""Property tests of the geometric sort and the gap / duplicate findings (no files needed)."""

from __future__ import annotations

import warnings

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from pydicom.dataset import Dataset

from dicom_widgets.series._frames import FrameRef
from dicom_widgets.series._geometry import arrange


def _rotation(a: float, b: float, c: float) -> np.ndarray:
    ca, sa, cb, sb, cc, sc = np.cos(a), np.sin(a), np.cos(b), np.sin(b), np.cos(c), np.sin(c)
    rz = np.array([[ca, -sa, 0], [sa, ca, 0], [0, 0, 1]])
    ry = np.array([[cb, 0, sb], [0, 1, 0], [-sb, 0, cb]])
    rx = np.array([[1, 0, 0], [0, cc, -sc], [0, sc, cc]])
    return rz @ ry @ rx


def _stack(n, spacing, angles, origin, jitter, rng):
    rot = _rotation(*angles)
    row, col = rot[:, 0], rot[:, 1]
    normal = np.cross(row, col)
    refs = []
    for k in range(n):
        offset = k * spacing + (rng.uniform(-jitter, jitter) if jitter else 0.0)
        refs.append(
            FrameRef(
                path=f"slice_{k:03d}.dcm",
                header=Dataset(),
                position=np.asarray(origin) + offset * normal,
                orientation=np.concatenate([row, col]),
                pixel_spacing=(0.5, 0.5),
                rows=4,
                cols=4,
                instance_number=k + 1,
                sop_uid=f"1.2.3.{k}",
                order=k,
            )
        )
    return refs, normal


stacks = st.tuples(
    st.integers(min_value=4, max_value=40),
    st.floats(min_value=0.5, max_value=10.0),
    st.tuples(*[st.floats(min_value=-3.1, max_value=3.1)] * 3),
    st.tuples(*[st.floats(min_value=-500, max_value=500)] * 3),
    st.integers(min_value=0, max_value=2**31 - 1),
)


@settings(max_examples=60, deadline=None)
@given(stacks)
def test_any_orientation_and_order_sorts_along_the_normal(params):
    n, spacing, angles, origin, seed = params
    rng = np.random.default_rng(seed)
    refs, normal = _stack(n, spacing, angles, origin, 0.01 * spacing, rng)
    shuffled = [refs[i] for i in rng.permutation(n)]
    layout = arrange(shuffled)
    assert layout.sort_method == "geometry" and len(layout.grid) == 1
    assert [r.path for r in layout.grid[0]] == [r.path for r in refs]
    assert layout.is_uniform, [f.message for f in layout.findings]
    assert not layout.findings
    assert abs(layout.slice_spacing - spacing) < 0.05 * spacing


@settings(max_examples=40, deadline=None)
@given(stacks, st.data())
def test_a_missing_slice_is_one_gap_and_a_copy_is_one_duplicate(params, data):
    n, spacing, angles, origin, seed = params
    rng = np.random.default_rng(seed)
    refs, _ = _stack(n, spacing, angles, origin, 0.0, rng)
    victim = data.draw(st.integers(min_value=1, max_value=n - 2))
    kept = refs[:victim] + refs[victim + 1 :]
    layout = arrange([kept[i] for i in rng.permutation(len(kept))])
    gaps = [f for f in layout.findings if f.code == "gap"]
    assert len(gaps) == 1 and not layout.is_uniform
    assert set(gaps[0].paths) == {refs[victim - 1].path, refs[victim + 1].path}

    copy = refs[victim]
    twin = FrameRef(**{**copy.__dict__, "path": "twin.dcm", "sop_uid": "9.9.9", "order": 999})
    layout = arrange([*refs, twin])
    dups = [f for f in layout.findings if f.code == "duplicate-position"]
    assert len(dups) == 1 and set(dups[0].paths) == {copy.path, "twin.dcm"}
    assert len(layout.grid[0]) == n


# ---------------------------------------------------------------- fast header reader vs pydicom


@settings(max_examples=60, deadline=None)
@given(
    implicit=st.booleans(),
    drop=st.sets(
        st.sampled_from(
            [
                "ImagePositionPatient",
                "ImageOrientationPatient",
                "PixelSpacing",
                "InstanceNumber",
                "RescaleSlope",
                "RescaleIntercept",
                "AcquisitionTime",
                "SeriesInstanceUID",
            ]
        )
    ),
    slope=st.sampled_from(["1", "1.0E+00", "0.5", " 2 ", "1\\2"]),
    position=st.lists(
        st.floats(min_value=-1e4, max_value=1e4, allow_nan=False), min_size=3, max_size=3
    ),
    undefined_sequences=st.booleans(),
    private_sequence=st.booleans(),
    description=st.text(min_size=0, max_size=20),
)
def test_fast_reader_matches_pydicom_on_generated_files(
    tmp_path_factory,
    implicit,
    drop,
    slope,
    position,
    undefined_sequences,
    private_sequence,
    description,
):
    import pydicom
    from pydicom.sequence import Sequence as DicomSequence
    from pydicom.uid import ExplicitVRLittleEndian, ImplicitVRLittleEndian

    from dicom_widgets._compat import write_dataset
    from dicom_widgets.data import ct_phantom
    from dicom_widgets.series._fastheader import read_fast
    from dicom_widgets.series._frames import frames_from_header

    ds = ct_phantom(n_slices=1, size=8)[0]
    ds.file_meta.TransferSyntaxUID = ImplicitVRLittleEndian if implicit else ExplicitVRLittleEndian
    for keyword in drop:
        delattr(ds, keyword)
    ds.ImagePositionPatient = (
        [round(v, 3) for v in position] if "ImagePositionPatient" not in drop else None
    )
    if ds.ImagePositionPatient is None:
        del ds.ImagePositionPatient
    if "RescaleSlope" not in drop:
        ds["RescaleSlope"].value = slope
    ds.SeriesDescription = description
    item = Dataset()
    item.ReferencedSOPClassUID = "1.2.840.10008.5.1.4.1.1.2"
    item.ReferencedSOPInstanceUID = "1.2.3.4"
    inner = Dataset()
    inner.CodeValue = "123"
    item.PurposeOfReferenceCodeSequence = DicomSequence([inner])
    ds.ReferencedImageSequence = DicomSequence([item])
    if private_sequence:
        block = ds.private_block(0x0011, "DW TEST", create=True)
        block.add_new(0x10, "SQ", DicomSequence([Dataset(), item]))
    if undefined_sequences:
        for elem in ds.iterall():
            if elem.VR == "SQ":
                elem.is_undefined_length = True
                for sub in elem.value:
                    sub.is_undefined_length_sequence_item = True
    path = tmp_path_factory.mktemp("gen") / "x.dcm"
    write_dataset(ds, path)

    light = read_fast(path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        full = pydicom.dcmread(path, stop_before_pixels=True)
    expected = [_facts(r) for r in frames_from_header(full, path)]
    if light is None:
        return  # declined: the pydicom path is used, which is the reference anyway
    assert [_facts(r) for r in light[1]] == expected
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert light[0].get("SeriesDescription") == full.get("SeriesDescription")


def _facts(ref):
    return (
        None if ref.position is None else tuple(ref.position),
        None if ref.orientation is None else tuple(ref.orientation),
        ref.pixel_spacing,
        ref.slope,
        ref.intercept,
        (ref.rows, ref.cols, ref.samples, ref.bits_allocated, ref.photometric),
        ref.instance_number,
        ref.sop_uid,
        ref.series_uid,
        ref.acquisition_seconds,
    )
