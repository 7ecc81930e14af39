"""Every file in the catalog's DataFrame, saved as a Parquet index and reused by a later scan."""

from __future__ import annotations

import os
import shutil

import numpy as np
import pytest

import dicom_widgets as dw
from dicom_widgets.data import ct_phantom, mr_multiframe_phantom, write_series

pytest.importorskip("pandas")
# pyarrow is in the `archive` extra; in the numpy<2 venv its import fails with ImportError.
pytest.importorskip("pyarrow", exc_type=ImportError)


@pytest.fixture()
def tree(tmp_path):
    root = tmp_path / "archive"
    write_series(ct_phantom(n_slices=30, size=16, seed=5), root / "ct")
    write_series(ct_phantom(n_slices=20, size=16, seed=6), root / "ct2")
    write_series([mr_multiframe_phantom(n_slices=3, size=16)], root / "mf")
    (root / "readme.txt").write_text("not DICOM")
    return root


def _files(catalog):
    return catalog.to_dataframe("files").reset_index(drop=True)


def test_the_files_dataframe_lists_every_file_and_frame(tree):
    catalog = dw.scan(tree, progress=False)
    df = _files(catalog)
    assert set(df["path"]) == {str(p) for p in tree.rglob("*") if p.is_file()}
    multiframe = df[df["n_frames"] == 3]
    assert list(multiframe["frame"]) == [0, 1, 2]
    assert (df.loc[df["status"] == "non-dicom", "path"].str.endswith("readme.txt")).all()
    ct = df[df["modality"] == "CT"]
    assert ct["position_z"].notna().all() and (ct["rows"] == 16).all()
    assert len(df[df["status"] == "ok"].drop_duplicates("path")) == catalog.n_files


def test_to_parquet_round_trips_and_resume_reads_only_what_changed(tree, tmp_path):
    index = tmp_path / "index.parquet"
    first = dw.scan(tree, progress=False, index=index)
    assert index.exists() and not list(tmp_path.glob(".index.parquet.*"))  # atomic write
    resumed = dw.scan(tree, progress=False, index=index)
    assert _files(resumed).equals(_files(first))
    assert resumed.keys() == first.keys()

    ct = sorted((tree / "ct").iterdir())
    # 1. Unchanged size and mtime: taken from the index, not read. Proved by corrupting the
    #    bytes while keeping both: a fresh scan would report the file as unreadable.
    kept = ct[0]
    st = kept.stat()
    data = bytearray(kept.read_bytes())
    data[128:132] = b"XXXX"
    kept.write_bytes(bytes(data))
    os.utime(kept, ns=(st.st_atime_ns, st.st_mtime_ns))
    # 2. Changed: another series' slice written over it (new size or mtime): read again.
    changed = ct[1]
    shutil.copy(sorted((tree / "ct2").iterdir())[0], changed)
    os.utime(changed, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    # 3. Vanished and 4. new files.
    ct[2].unlink()
    write_series(ct_phantom(n_slices=4, size=16, seed=9), tree / "new")

    again = dw.scan(tree, progress=False, index=index)
    df = _files(again).set_index("path")
    assert df.loc[str(kept), "status"] == "ok"  # from the index
    assert (
        df.loc[str(changed), "series_uid"]
        == df.loc[str(sorted((tree / "ct2").iterdir())[0]), "series_uid"]
    )
    assert str(ct[2]) not in df.index
    assert (tree / "new").exists() and df.index.str.contains("/new/").sum() == 4
    fresh = dw.scan(tree, progress=False)
    assert str(kept) in {p for p, _ in fresh.errors} | set(fresh.non_dicom)
    # Apart from the file corrupted behind the index's back, the resumed scan is a fresh one.
    mask = _files(fresh)["path"] != str(kept)
    assert (
        _files(fresh)[mask]
        .reset_index(drop=True)
        .equals(_files(again)[_files(again)["path"] != str(kept)].reset_index(drop=True))
    )
    # The index was updated: the next scan reads nothing new and agrees.
    assert _files(dw.scan(tree, progress=False, index=index)).equals(_files(again))


def test_a_series_opened_from_a_resumed_catalog_reads_its_files(tree, tmp_path):
    index = tmp_path / "index.parquet"
    dw.scan(tree, progress=False, index=index)
    catalog = dw.scan(tree, progress=False, index=index)
    series = catalog[next(e.key for e in catalog.entries if e.n_instances == 30)]
    assert len(series) == 30 and np.all(np.diff(series.positions[:, 2]) > 0)
    assert series.frame(0).shape == (16, 16)


def test_an_index_from_elsewhere_is_refused(tmp_path, tree):
    import pyarrow as pa
    import pyarrow.parquet as pq

    other = tmp_path / "other.parquet"
    pq.write_table(pa.table({"a": [1]}), other)
    with pytest.raises(ValueError, match="not a dicom_widgets scan index"):
        dw.scan(tree, progress=False, index=other)


def test_an_index_written_with_relative_paths_is_reused_from_an_absolute_path(
    tree, tmp_path, monkeypatch
):
    index = tmp_path / "index.parquet"
    monkeypatch.chdir(tree.parent)
    first = dw.scan(tree.name, progress=False, index=index)
    assert not os.path.isabs(first.entries[0].paths[0])
    # Corrupted behind the index's back with size and mtime kept: only a read would notice.
    kept = sorted((tree / "ct").iterdir())[0]
    st = kept.stat()
    data = bytearray(kept.read_bytes())
    data[128:132] = b"XXXX"
    kept.write_bytes(bytes(data))
    os.utime(kept, ns=(st.st_atime_ns, st.st_mtime_ns))
    resumed = dw.scan(tree, progress=False, index=index)
    df = _files(resumed).set_index("path")
    assert df.loc[str(kept), "status"] == "ok"  # taken from the index, under its absolute path
    assert resumed.keys() == first.keys() and resumed.n_files == first.n_files
