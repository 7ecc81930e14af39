"""Real DICOM files shipped by another package (nibabel's test data), checked against nibabel.

nibabel reads DICOM geometry independently of pydicom's helpers, so agreeing with its
affine and pixel data is a check of our sorting, affine and rescale on real scanner files:
an enhanced (multi-frame) Philips MPRAGE, a Siemens DWI file and a file with decimal
rescale values.
"""

from __future__ import annotations

import gzip
import warnings
from pathlib import Path

import numpy as np
import pytest

import dicom_widgets as dw

nibabel = pytest.importorskip("nibabel")
dicomwrappers = pytest.importorskip("nibabel.nicom.dicomwrappers")
DATA = Path(nibabel.__file__).parent / "nicom" / "tests" / "data"


@pytest.fixture(scope="module")
def nib_files(tmp_path_factory) -> dict[str, Path]:
    """nibabel's DICOM test files, the gzipped ones unpacked (the originals stay untouched)."""
    out_dir = tmp_path_factory.mktemp("nibabel_dicom")
    files = {}
    for path in sorted(DATA.glob("*.dcm")):
        files[path.name] = path
    for path in sorted(DATA.glob("*.dcm.gz")):
        target = out_dir / path.name[: -len(".gz")]
        target.write_bytes(gzip.decompress(path.read_bytes()))
        files[target.name] = target
    if "philips_mprage.dcm" not in files:
        pytest.skip("this nibabel version does not ship its DICOM test data")
    return files


def _wrapper(path: Path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return dicomwrappers.wrapper_from_file(str(path))


def test_every_nibabel_dicom_file_loads(nib_files):
    for path in nib_files.values():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            series = dw.load_series(path, progress=False)
        assert len(series) >= 1
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # pydicom 2.4 notes a Bits Stored mismatch
                frame = series.frame(0)
        except dw.DecodeError as exc:
            # nibabel trimmed the pixel data out of some files to keep them small.
            assert path.name in str(exc) and "truncated" in str(exc)
            continue
        assert frame.ndim == 2


def test_enhanced_philips_mprage_matches_nibabel(nib_files):
    path = nib_files["philips_mprage.dcm"]
    series = dw.load_series(path, progress=False)
    wrapper = _wrapper(path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # nibabel: no Philips private scale factor in this file
        theirs = np.asarray(wrapper.affine)
        data = np.asarray(wrapper.get_data())
    n = len(series)
    assert (n, series.n_times, series.sort_method) == (176, 1, "geometry")
    assert series.is_uniform
    ours = series.affine()
    # nibabel indexes (row, column, slice) and runs slices along cross(column, row) cosines,
    # the opposite of the DICOM/ITK normal used here: swap the first two axes, flip the third.
    np.testing.assert_allclose(ours[:3, 0], theirs[:3, 1], atol=1e-4)
    np.testing.assert_allclose(ours[:3, 1], theirs[:3, 0], atol=1e-4)
    np.testing.assert_allclose(ours[:3, 2], -theirs[:3, 2], atol=1e-4)
    np.testing.assert_allclose(ours[:3, 3], theirs[:3, 3] + (n - 1) * theirs[:3, 2], atol=0.01)
    # Same voxels in the same places.
    for k in (0, 50, n - 1):
        np.testing.assert_array_equal(series.frame(k), data[:, :, n - 1 - k])


def test_decimal_rescale_matches_nibabel(nib_files):
    path = nib_files["decimal_rescale.dcm"]
    series = dw.load_series(path, progress=False)
    slope, intercept = series.rescale(0)
    assert (slope, intercept) != (1.0, 0.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = np.asarray(_wrapper(path).get_data(), dtype=np.float64)
    np.testing.assert_allclose(series.frame(0), theirs.reshape(series.frame(0).shape), rtol=1e-5)
    # In-plane axes agree with nibabel's (row, column) order.
    ours = series.affine()
    np.testing.assert_allclose(
        ours[:3, [1, 0, 3]], np.asarray(_wrapper(path).affine)[:3, [0, 1, 3]], atol=1e-4
    )
