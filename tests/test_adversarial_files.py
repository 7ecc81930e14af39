"""Adversarial files: truncations, byte flips, odd file system entries, broken DICOMDIRs.

Everything is generated in tmp folders from pydicom's test files and the CT phantom.
The contract checked here, through the public API only:

- no exception type other than :class:`DicomWidgetsError` subclasses (or a documented
  ``ValueError``/``TypeError``) escapes ``scan``/``load_series``/``Series`` methods, the
  HTML reprs never raise, ``tags.flatten`` and ``deid.anonymize`` never crash on what
  pydicom itself could read;
- one bad file never loses the rest of the folder;
- nothing hangs (FIFOs, symlink loops) and the source folders are never written.
"""

from __future__ import annotations

import hashlib
import os
import random
import struct
import threading
import warnings
from pathlib import Path

import numpy as np
import pydicom
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import dicom_widgets as dw
from dicom_widgets import deid, tags
from dicom_widgets._compat import IS_PYDICOM3
from dicom_widgets.data import ct_phantom, pydicom_file, write_series
from dicom_widgets.errors import DicomWidgetsError
from dicom_widgets.html import catalog_html, dataset_html, series_html

ALLOWED = (DicomWidgetsError, ValueError, TypeError)
FATAL = (KeyboardInterrupt, SystemExit, GeneratorExit)

# A spread of writers and encodings: explicit/implicit/big endian, RLE, JPEG 2000, JPEG-LS,
# multi-frame, colour, palette, RT, SR, no file meta, deflated.
CORPUS = [
    "ct_small",
    "mr_small_implicit",
    "mr_small_bigendian",
    "mr_small_rle",
    "mr_small_jpeg2000",
    "multiframe",
    "rgb",
    "palette",
    "rtplan",
    "sr",
    "no_meta",
    "deflated",
]


def _snapshot(folder: Path) -> dict[str, tuple[int, str]]:
    return {
        str(p): (p.stat().st_mtime_ns, hashlib.sha1(p.read_bytes()).hexdigest())
        for p in sorted(folder.rglob("*"))
        if p.is_file() and not p.is_symlink()
    }


def _guard(where: str, fn, *args, **kwargs):
    """Call ``fn``; allowed errors -> None; anything else fails naming the input."""
    try:
        return fn(*args, **kwargs)
    except ALLOWED:
        return None
    except FATAL:
        raise
    except BaseException as exc:  # noqa: BLE001 - the point is to catch what must not escape
        pytest.fail(f"{where}: {type(exc).__module__}.{type(exc).__name__}: {exc}")


def _exercise_catalog(catalog, where: str) -> None:
    html = catalog_html(catalog)
    assert 'class="dw-repr"' in html
    repr(catalog)
    for key in list(catalog.keys()):
        series = _guard(f"{where}: catalog[{key!r}]", catalog.__getitem__, key)
        if series is None:
            continue
        with series:
            _exercise_series(series, f"{where} [{key}]")


def _exercise_series(series, where: str) -> None:
    repr(series)
    list(series.findings)
    n = len(series)
    for i in sorted({0, n // 2, n - 1}) if n else []:
        _guard(f"{where}: frame({i})", series.frame, i)
        _guard(f"{where}: display({i})", series.display, i)
    if n:
        volume = _guard(f"{where}: volume(fill=nan)", series.volume, fill=np.nan)
        if volume is not None:
            assert volume.shape[0] == n
        _guard(f"{where}: affine", series.affine)
        _guard(f"{where}: dataset(0)", series.dataset, 0)
    assert 'class="dw-repr"' in series_html(series, n_thumbnails=2, thumbnail_size=32)


def _exercise_dataset(ds, where: str) -> None:
    assert 'class="dw-repr"' in dataset_html(ds, thumbnail_size=32)
    _guard(f"{where}: flatten", tags.flatten, ds)
    _guard(f"{where}: search", tags.search, ds, "patient")
    try:
        _guard(f"{where}: anonymize", deid.anonymize, ds)
    except pytest.fail.Exception as exc:
        # Known open bug, pinned by test_unknown_vr_on_sop_class_uid_fails_one_file_not_the_batch.
        if "NotImplementedError: Unknown Value Representation" not in str(exc):
            raise


def _read_force(path: Path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return pydicom.dcmread(path, force=True)
        except Exception:  # noqa: BLE001 - pydicom refusing is fine: nothing to render
            return None


def _cuts(size: int) -> list[int]:
    # header (preamble, magic, file meta), mid-element, mid pixel data, one byte short
    return sorted(
        {0, 1, 64, 128, 131, 132, 139, 200, 300, size // 3, size // 2, size - 7, size - 1}
        & set(range(size))
    )


@pytest.mark.timeout(60)
@pytest.mark.parametrize("short_name", CORPUS)
def test_truncated_files_are_reported_and_never_crash(short_name, tmp_path):
    data = pydicom_file(short_name).read_bytes()
    folder = tmp_path / "cuts"
    folder.mkdir()
    for cut in _cuts(len(data)):
        (folder / f"{short_name}_{cut:07d}.dcm").write_bytes(data[:cut])
    good = write_series(ct_phantom(n_slices=3, size=16), folder / "good", shuffle=False)
    before = _snapshot(folder)

    catalog = dw.scan(folder, progress=False)
    # The intact series next to the broken files is still there, whole.
    assert any(entry.n_instances == 3 and entry.modality == "CT" for entry in catalog.entries)
    assert len(good) == 3
    for path, reason in catalog.errors:
        assert reason and isinstance(reason, str), (path, reason)
    _exercise_catalog(catalog, short_name)
    for path in sorted(folder.glob("*.dcm")):
        ds = _read_force(path)
        if ds is not None:
            _exercise_dataset(ds, path.name)
    assert _snapshot(folder) == before, "a source folder was modified"


@pytest.mark.timeout(60)
@pytest.mark.parametrize("short_name", CORPUS)
def test_random_byte_flips_never_crash(short_name, tmp_path):
    data = pydicom_file(short_name).read_bytes()
    rng = random.Random(f"flip-{short_name}")  # fixed seed: the same files every run
    folder = tmp_path / "flips"
    folder.mkdir()
    for j in range(4):
        mutated = bytearray(data)
        for _ in range(8):
            mutated[rng.randrange(len(mutated))] = rng.randrange(256)
        (folder / f"{short_name}_flip{j}.dcm").write_bytes(bytes(mutated))
    before = _snapshot(folder)
    catalog = dw.scan(folder, progress=False)
    _exercise_catalog(catalog, short_name)
    for path in sorted(folder.glob("*.dcm")):
        ds = _read_force(path)
        if ds is not None:
            _exercise_dataset(ds, path.name)
    assert _snapshot(folder) == before


def _rle_panic_file(tmp_path: Path) -> Path:
    """MR_small_RLE with 8 seeded byte flips in its RLE segments (a pylibjpeg-rle panic)."""
    data = pydicom_file("mr_small_rle").read_bytes()
    rng = random.Random(7)
    for _ in range(3):
        mutated = bytearray(data)
        for _ in range(8):
            mutated[rng.randrange(len(mutated))] = rng.randrange(256)
    path = tmp_path / "rle_corrupt.dcm"
    path.write_bytes(bytes(mutated))
    return path


@pytest.mark.timeout(60)
def test_corrupt_rle_reprs_show_a_note(tmp_path):
    """The Rust RLE decoder panics (pyo3 PanicException, a BaseException): reprs still render."""
    path = _rle_panic_file(tmp_path)
    ds = _read_force(path)
    html = dataset_html(ds)
    assert 'class="dw-repr"' in html
    series = dw.load_series(path, progress=False)
    with series:
        assert 'class="dw-repr"' in series_html(series)


def _rust_rle_decoder() -> bool:
    try:
        import rle  # noqa: F401
    except ImportError:
        return False
    return pydicom.__version__.startswith("3")


@pytest.mark.timeout(60)
def test_corrupt_rle_frame_raises_decode_error(tmp_path):
    path = _rle_panic_file(tmp_path)
    series = dw.load_series(path, progress=False)
    with series:
        try:
            series.frame(0)
        except DicomWidgetsError as exc:
            assert "rle_corrupt.dcm" in str(exc)
        except FATAL:
            raise
        except BaseException as exc:  # noqa: BLE001
            pytest.fail(f"frame(0) raised {type(exc).__name__}: {exc}")
        volume = series.volume(fill=np.nan)
        assert volume.shape[0] == len(series)


@pytest.mark.timeout(60)
def test_file_cut_inside_meta_element_header_does_not_abort_scan(tmp_path):
    write_series(ct_phantom(n_slices=3, size=16), tmp_path, shuffle=False)
    # Preamble + DICM + 8 of the 12 header bytes of an OB element: exactly 140 bytes.
    (tmp_path / "cut.dcm").write_bytes(b"\0" * 128 + b"DICM" + b"\x02\x00\x01\x00OB\x00\x00")
    catalog = dw.scan(tmp_path, progress=False)
    assert [entry.n_instances for entry in catalog.entries] == [3]
    assert [Path(p).name for p, _ in catalog.errors] == ["cut.dcm"]


@pytest.mark.timeout(60)
def test_empty_preamble_only_and_huge_lengths_leave_the_series_usable(tmp_path):
    paths = write_series(ct_phantom(n_slices=5, size=16), tmp_path, shuffle=False)
    good = paths[0].read_bytes()
    (tmp_path / "empty.dcm").write_bytes(b"")
    (tmp_path / "preamble_only.dcm").write_bytes(b"\0" * 128 + b"DICM")
    broken = {}
    at = good.find(b"\x10\x00\x10\x00PN")  # PatientName, short-length VR
    mutated = bytearray(good)
    mutated[at + 6 : at + 8] = struct.pack("<H", 0xFFF0)
    broken["huge_short_length.dcm"] = bytes(mutated)
    at = good.find(b"\xe0\x7f\x10\x00OW")  # Pixel Data, 4-byte length
    for name, length in [
        ("huge_pixel_length.dcm", 0xFFFFFFF0),
        ("undefined_native.dcm", 0xFFFFFFFF),
    ]:
        mutated = bytearray(good)
        mutated[at + 8 : at + 12] = struct.pack("<L", length)
        broken[name] = bytes(mutated)
    at = good.find(b"\x08\x00\x60\x00CS")  # Modality rewritten as a 2 GiB OB
    mutated = bytearray(good)
    mutated[at + 4 : at + 12] = b"OB\0\0" + struct.pack("<L", 0x7FFFFFFF)
    broken["huge_ob.dcm"] = bytes(mutated[: at + 100])
    for name, content in broken.items():
        (tmp_path / name).write_bytes(content)
    before = _snapshot(tmp_path)

    series = dw.load_series(tmp_path, progress=False)
    with series:
        # The 5 intact slices (plus at most copies of the broken ones, flagged) still open.
        assert len(series) >= 5
        for i in range(len(series)):
            _guard(f"slice {i}", series.display, i)
        assert series.findings
    catalog = dw.scan(tmp_path, progress=False)
    named = {Path(p).name for p, _ in catalog.errors} | {Path(p).name for p in catalog.non_dicom}
    assert {"empty.dcm", "preamble_only.dcm"} <= named
    _exercise_catalog(catalog, "huge lengths")
    for name in broken:
        ds = _read_force(tmp_path / name)
        if ds is not None:
            _exercise_dataset(ds, name)

    report = deid.anonymize_files([tmp_path], tmp_path.parent / "out", progress=False, fsync=False)
    by_name = {Path(o.source).name: o for o in report.outcomes}
    for name in broken:
        assert by_name[name].status == "error", by_name[name]
        assert by_name[name].message
    assert sum(o.status == "written" for o in report.outcomes) == 5
    assert _snapshot(tmp_path) == before


@pytest.mark.timeout(60)
def test_symlink_loops_dangling_links_and_odd_names(tmp_path):
    src = tmp_path / "src"
    paths = write_series(ct_phantom(n_slices=4, size=16), src, shuffle=False)
    odd_names = [
        "été 日本.dcm",
        "new\nline.dcm",
        " spaces .dcm",
        "tab\there.dcm",
        "<i onclick=alert(1)>x.dcm",
    ]
    for name in odd_names:  # exact copies of slice 1: flagged as duplicates, not crashes
        (src / name).write_bytes(paths[1].read_bytes())
    os.symlink(src, src / "loop")
    (src / "sub").mkdir()
    os.symlink("..", src / "sub" / "up")
    os.symlink(src / "missing.dcm", src / "dangling.dcm")
    before = _snapshot(src)

    catalog = dw.scan(src, progress=False)
    assert sum(entry.n_instances for entry in catalog.entries) >= 4
    _exercise_catalog(catalog, "odd names")
    html = catalog_html(catalog)
    assert "<i onclick" not in html
    series = dw.load_series(src, progress=False)
    with series:
        assert len(series) == 4
        codes = {f.code for f in series.findings}
        assert codes & {"duplicate-instance", "duplicate-position"}
        html = series_html(series)
        assert "<i onclick" not in html

    report = deid.anonymize_files([src], tmp_path / "out", progress=False, fsync=False)
    assert sum(o.status == "written" for o in report.outcomes) == 4
    assert _snapshot(src) == before
    with pytest.raises(DicomWidgetsError):
        deid.anonymize_files([src], src / "anon", progress=False)
    assert not (src / "anon").exists()


@pytest.mark.timeout(60)
def test_unreadable_file(tmp_path):
    """chmod 000: root still reads it (tests run as root); anyone else gets a named error."""
    paths = write_series(ct_phantom(n_slices=3, size=16), tmp_path, shuffle=False)
    os.chmod(paths[1], 0)
    try:
        catalog = dw.scan(tmp_path, progress=False)
        if os.geteuid() == 0:
            assert [entry.n_instances for entry in catalog.entries] == [3]
        else:
            assert [Path(p).name for p, _ in catalog.errors] == [paths[1].name]
            assert [entry.n_instances for entry in catalog.entries] == [2]
    finally:
        os.chmod(paths[1], 0o644)


@pytest.mark.timeout(60)
def test_dicomdir_pointing_at_missing_files(tmp_path):
    from pydicom.fileset import FileSet

    fs = FileSet()
    for ds in ct_phantom(n_slices=4, size=16):
        fs.add(ds)
    fs.write(tmp_path / "media")
    referenced = sorted(
        p for p in (tmp_path / "media").rglob("*") if p.is_file() and p.name != "DICOMDIR"
    )
    assert len(referenced) == 4
    referenced[1].unlink()
    referenced[2].write_bytes(b"not dicom at all")
    dicomdir = tmp_path / "media" / "DICOMDIR"

    catalog = dw.scan(dicomdir, progress=False)
    assert sum(entry.n_instances for entry in catalog.entries) == 2
    assert len(catalog.errors) + len(catalog.non_dicom) >= 2
    _exercise_catalog(catalog, "DICOMDIR")
    series = dw.load_series(dicomdir, progress=False)
    with series:
        assert len(series) == 2
        assert series.display(1).dtype == np.uint8


def _unblock_fifo(path: Path) -> None:
    """Give a reader stuck in open() an EOF, so a hung thread finishes."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_NONBLOCK)
    except OSError:
        return
    os.close(fd)


def _finishes(fn, fifo: Path, seconds: float = 10.0):
    box: dict = {}

    def run():
        try:
            box["value"] = fn()
        except BaseException as exc:  # noqa: BLE001 - reported below
            box["error"] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(seconds)
    hung = thread.is_alive()
    while thread.is_alive():
        _unblock_fifo(fifo)
        thread.join(0.5)
    assert not hung, f"{fn} hung on a FIFO"
    if "error" in box:
        raise box["error"]
    return box["value"]


@pytest.mark.timeout(60)
def test_fifo_in_folder_does_not_hang_scan(tmp_path):
    write_series(ct_phantom(n_slices=3, size=16), tmp_path, shuffle=False)
    fifo = tmp_path / "pipe.dcm"
    os.mkfifo(fifo)
    catalog = _finishes(lambda: dw.scan(tmp_path, progress=False), fifo)
    assert [entry.n_instances for entry in catalog.entries] == [3]


@pytest.mark.timeout(60)
def test_fifo_in_folder_does_not_hang_anonymize_files(tmp_path):
    src = tmp_path / "src"
    write_series(ct_phantom(n_slices=3, size=16), src, shuffle=False)
    fifo = src / "pipe.dcm"
    os.mkfifo(fifo)
    report = _finishes(
        lambda: deid.anonymize_files([src], tmp_path / "out", progress=False, fsync=False), fifo
    )
    assert sum(o.status == "written" for o in report.outcomes) == 3


def _unknown_vr_file(tmp_path: Path, tag_bytes: bytes, meta_ae: bool = False) -> Path:
    """A CT phantom slice whose element ``tag_bytes`` (group, element, VR) has VR b"U\\x87"."""
    datasets = ct_phantom(n_slices=1, size=16)
    if meta_ae:
        datasets[0].file_meta.SourceApplicationEntityTitle = "SCANNER"
    path = write_series(datasets, tmp_path / "src", shuffle=False)[0]
    data = bytearray(path.read_bytes())
    at = data.find(tag_bytes)
    assert at > 0
    data[at + 4 : at + 6] = b"U\x87"
    path.write_bytes(bytes(data))
    return path


@pytest.mark.timeout(60)
def test_unknown_vr_in_body_reprs_and_anonymize(tmp_path):
    path = _unknown_vr_file(tmp_path, b"\x28\x00\x00\x01US")  # BitsAllocated
    ds = _read_force(path)
    assert 'class="dw-repr"' in dataset_html(ds)
    _guard("anonymize", deid.anonymize, ds)
    report = deid.anonymize_files([path], tmp_path / "out", progress=False, fsync=False)
    assert report.outcomes[0].status in {"written", "error"}
    assert report.outcomes[0].status == "written" or report.outcomes[0].message


@pytest.mark.timeout(60)
@pytest.mark.parametrize("tag_bytes", [b"\x28\x00\x00\x01US", b"\x28\x00\x10\x00US"])
def test_unknown_vr_in_body_flatten(tmp_path, tag_bytes):
    ds = _read_force(_unknown_vr_file(tmp_path, tag_bytes))
    rows = tags.flatten(ds)
    assert any(row.problem for row in rows)
    dw.compare(ds, ds)


@pytest.mark.timeout(60)
def test_unknown_vr_in_file_meta_anonymize(tmp_path):
    path = _unknown_vr_file(tmp_path, b"\x02\x00\x16\x00AE", meta_ae=True)
    ds = _read_force(path)
    assert ds is not None
    assert 'class="dw-repr"' in dataset_html(ds)
    result = deid.anonymize(ds)
    assert result.dataset is not ds


def _call_no_base_exception(fn):
    """Run fn; allowed errors are fine, a non-Exception BaseException (a decoder panic) fails."""
    try:
        return fn()
    except ALLOWED:
        return None
    except FATAL:
        raise
    except BaseException as exc:  # noqa: BLE001
        pytest.fail(f"{type(exc).__module__}.{type(exc).__name__} escaped: {exc}")


@pytest.mark.timeout(60)
def test_corrupt_rle_in_batch_with_pixel_cleaning(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    _rle_panic_file(tmp_path).rename(src / "rle_corrupt.dcm")
    write_series(ct_phantom(n_slices=3, size=16), src / "ct", shuffle=False)
    report = _call_no_base_exception(
        lambda: deid.anonymize_files(
            [src], tmp_path / "out", progress=False, fsync=False, pixel_regions=[(0, 0, 4, 4)]
        )
    )
    by_name = {Path(o.source).name: o for o in report.outcomes}
    # Whether the corrupt segments decode depends on the decoder (pydicom 2.4's numpy RLE copes).
    assert by_name["rle_corrupt.dcm"].status in {"error", "written"}
    assert by_name["rle_corrupt.dcm"].status == "written" or by_name["rle_corrupt.dcm"].message
    assert sum(o.status == "written" for o in report.outcomes) >= 3


@pytest.mark.timeout(60)
def test_corrupt_rle_viewer_shows_status(tmp_path):
    pytest.importorskip("ipywidgets")
    series = dw.load_series(_rle_panic_file(tmp_path), progress=False)
    viewer = _call_no_base_exception(lambda: dw.SeriesViewer(series, canvas="image"))
    assert viewer is not None
    assert viewer.displayed.dtype == np.uint8
    viewer.close()


@pytest.mark.timeout(60)
def test_corrupt_rle_anonymization_preview(tmp_path):
    pytest.importorskip("ipywidgets")
    path = _rle_panic_file(tmp_path)
    preview = _call_no_base_exception(lambda: dw.AnonymizationPreview(path, canvas="image"))
    assert preview is not None
    assert preview.result is not None  # the header part still works
    preview.close()


_HUGE_FRAMES_SCRIPT = r"""
import sys, warnings
warnings.simplefilter("ignore")
from pathlib import Path
import dicom_widgets as dw
from dicom_widgets.data import ct_phantom, write_series
folder = Path(sys.argv[1])
ds = ct_phantom(n_slices=1, size=16)[0]
ds.NumberOfFrames = 2**31 - 1  # a 2.4 KB file declaring two billion 16x16 frames
write_series([ds], folder / "huge")
write_series(ct_phantom(n_slices=3, size=16, seed=2), folder / "good")
catalog = dw.scan(folder, progress=False)
print("entries", sorted(entry.n_instances for entry in catalog.entries))
series = dw.load_series(folder / "huge", progress=False)
print("frames", len(series) * series.n_times)
"""


@pytest.mark.timeout(120)
def test_absurd_number_of_frames_is_bounded_by_the_pixel_data(tmp_path):
    import resource
    import subprocess
    import sys

    def limit_memory():  # a bug here must not take the machine down: 500 MB address space
        resource.setrlimit(resource.RLIMIT_AS, (500_000_000, 500_000_000))

    proc = subprocess.run(
        [sys.executable, "-c", _HUGE_FRAMES_SCRIPT, str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=90,
        preexec_fn=limit_memory,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "entries [1, 3]" in proc.stdout
    frames = int(proc.stdout.split("frames")[-1])
    assert frames <= 1  # the file holds the bytes of exactly one frame


@pytest.fixture(scope="module")
def _one_slice_bytes(tmp_path_factory) -> bytes:
    folder = tmp_path_factory.mktemp("fuzz_src")
    return write_series(ct_phantom(n_slices=1, size=8, seed=5), folder, shuffle=False)[
        0
    ].read_bytes()


@pytest.mark.timeout(60)
@settings(
    max_examples=int(os.environ.get("DW_FUZZ_EXAMPLES", "60")),
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    edits=st.lists(
        st.tuples(st.integers(min_value=128, max_value=1200), st.binary(min_size=1, max_size=6)),
        min_size=1,
        max_size=6,
    ),
    cut=st.one_of(st.none(), st.integers(min_value=128, max_value=1400)),
)
def test_header_fuzz_scan_and_reprs(_one_slice_bytes, tmp_path_factory, edits, cut):
    """Seeded byte edits in the header region (file meta + data set elements), optionally cut."""
    data = bytearray(_one_slice_bytes)
    for offset, blob in edits:
        data[offset : offset + len(blob)] = blob
    if cut is not None:
        data = data[:cut]
    folder = tmp_path_factory.mktemp("fuzz")
    (folder / "fuzzed.dcm").write_bytes(bytes(data))
    good = write_series(ct_phantom(n_slices=2, size=8, seed=6), folder / "good", shuffle=False)
    catalog = _guard("scan", dw.scan, folder, progress=False)
    assert catalog is not None
    assert any(e.n_instances >= 2 for e in catalog.entries), "the intact series was lost"
    _exercise_catalog(catalog, "fuzz")
    ds = _read_force(folder / "fuzzed.dcm")
    if ds is not None:
        _exercise_dataset(ds, "fuzz")
    assert len(good) == 2


@pytest.mark.timeout(60)
def test_unknown_vr_on_sop_class_uid_fails_one_file_not_the_batch(tmp_path):
    path = _unknown_vr_file(tmp_path, b"\x08\x00\x16\x00UI")  # SOPClassUID
    write_series(ct_phantom(n_slices=2, size=16, seed=9), path.parent / "more", shuffle=False)
    ds = _read_force(path)
    _guard("anonymize", deid.anonymize, ds)
    report = _guard(
        "anonymize_files",
        deid.anonymize_files,
        [path.parent],
        tmp_path / "out",
        progress=False,
        fsync=False,
    )
    assert report is not None
    # Keyed by full path: the other files are named IM_0000.dcm too (in another folder).
    by_path = {Path(o.source).resolve(): o for o in report.outcomes}
    bad = by_path[path.resolve()]
    # The flipped VR is read as UN with the dictionary VR, so the file can be written; if it
    # cannot, it must be a per-file error with a reason. The others are written either way.
    assert bad.status in ("written", "error"), bad
    if bad.status == "error":
        assert bad.message
    else:
        out = pydicom.dcmread(bad.output)
        assert out.SOPClassUID == "1.2.840.10008.5.1.4.1.1.2"
    others = [o for key, o in by_path.items() if key != path.resolve()]
    assert [o.status for o in others] == ["written", "written"]
    assert report.verification.ok


@pytest.mark.timeout(60)
def test_unknown_vr_on_patient_name_viewer(tmp_path):
    pytest.importorskip("ipywidgets")
    path = _unknown_vr_file(tmp_path, b"\x10\x00\x10\x00PN")
    viewer = _guard("SeriesViewer", dw.SeriesViewer, path.parent, canvas="image")
    assert viewer is not None
    assert viewer.displayed.dtype == np.uint8
    viewer.close()


@pytest.mark.timeout(60)
def test_outputs_reaching_a_source_through_symlinks_or_relative_paths_are_refused(
    tmp_path, monkeypatch
):
    src = tmp_path / "src"
    write_series(ct_phantom(n_slices=2, size=16), src, shuffle=False)
    os.symlink(src, tmp_path / "link_to_src")
    before = _snapshot(src)
    names = sorted(p.name for p in src.iterdir())
    attempts = [
        lambda: deid.anonymize_files([src], tmp_path / "link_to_src", progress=False),
        lambda: deid.anonymize_files([src], tmp_path / "link_to_src" / "sub", progress=False),
        lambda: deid.anonymize_files([tmp_path / "link_to_src"], src / "out", progress=False),
    ]
    series = dw.load_series(src, progress=False)
    attempts += [
        lambda: series.save_frames(tmp_path / "link_to_src" / "frames"),
        lambda: series.to_nifti(tmp_path / "link_to_src" / "volume.nii.gz"),
    ]
    monkeypatch.chdir(src)
    attempts += [
        lambda: deid.anonymize_files(["."], "out", progress=False),
        lambda: deid.anonymize_files(["../src"], "../src/x", progress=False),
    ]
    for attempt in attempts:
        with pytest.raises(DicomWidgetsError):
            attempt()
    series.close()
    assert sorted(p.name for p in src.iterdir()) == names
    assert _snapshot(src) == before


@pytest.mark.timeout(60)
def test_unknown_vr_on_sop_class_uid_anonymization_preview(tmp_path):
    pytest.importorskip("ipywidgets")
    path = _unknown_vr_file(tmp_path, b"\x08\x00\x16\x00UI")
    preview = _guard("AnonymizationPreview", dw.AnonymizationPreview, path, canvas="image")
    assert preview is not None
    preview.close()


@pytest.mark.timeout(60)
def test_dicomdir_references_cannot_escape_the_file_set(tmp_path):
    from pydicom.fileset import FileSet

    fs = FileSet()
    for ds in ct_phantom(n_slices=3, size=16):
        fs.add(ds)
    fs.write(tmp_path / "media")
    dicomdir = tmp_path / "media" / "DICOMDIR"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        index = pydicom.dcmread(dicomdir)
    records = [r for r in index.DirectoryRecordSequence if "ReferencedFileID" in r]
    outside = tmp_path / "outside.dcm"
    write_series(ct_phantom(n_slices=1, size=16, seed=4), tmp_path / "other", shuffle=False)[
        0
    ].rename(outside)
    records[0].ReferencedFileID = ["..", "outside.dcm"]
    index.save_as(dicomdir)

    catalog = dw.scan(dicomdir, progress=False)
    read = {Path(p).resolve() for entry in catalog.entries for p in entry.paths}
    assert outside.resolve() not in read
    if IS_PYDICOM3:
        # pydicom 2.4 cannot parse the re-saved DICOMDIR (its record offsets moved), so there
        # the whole DICOMDIR is the reported error; 3.x reads it and the reference is refused.
        assert any("outside.dcm" in str(p) for p, _ in catalog.errors)


@pytest.mark.timeout(60)
def test_header_truncated_images_are_not_silently_written(tmp_path):
    data = write_series(ct_phantom(n_slices=1, size=16, seed=31), tmp_path / "orig")[0].read_bytes()
    pixel_start = data.find(b"\xe0\x7f\x10\x00")
    src = tmp_path / "src"
    src.mkdir()
    for cut in range(400, pixel_start, 37):
        (src / f"cut{cut:05d}.dcm").write_bytes(data[:cut])
    report = deid.anonymize_files([src], tmp_path / "out", progress=False, fsync=False)
    silent = []
    for outcome in report.outcomes:
        if outcome.status == "written" and not outcome.message:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                written = pydicom.dcmread(outcome.output)
            if "PixelData" not in written:
                silent.append(Path(outcome.source).name)
    assert not silent, f"truncated image files written without a word: {silent[:5]} ({len(silent)})"
