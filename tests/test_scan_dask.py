"""Scanning on a Dask cluster (a real LocalCluster of worker processes on 127.0.0.1)."""

from __future__ import annotations

import warnings

import pytest

import dicom_widgets as dw
from dicom_widgets.data import ct_phantom, write_series

distributed = pytest.importorskip("distributed")
pytest.importorskip("pandas")

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    scratch = tmp_path_factory.mktemp("dask-scratch")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cluster = distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
            local_directory=str(scratch),
        )
        client = distributed.Client(cluster)
    try:
        yield client
    finally:
        client.close()
        cluster.close()


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    root = tmp_path_factory.mktemp("dask-archive")
    for s in range(4):
        write_series(ct_phantom(n_slices=40, size=16, seed=70 + s), root / f"ct{s}")
    (root / "notes.txt").write_text("not DICOM")
    (root / "cut.dcm").write_bytes(b"DICM" * 10)
    return root


def test_a_dask_cluster_gives_the_same_catalog_as_a_serial_scan(client, tree):
    serial = dw.scan(tree, progress=False)
    on_dask = dw.scan(tree, progress=False, executor=client)
    assert on_dask.keys() == serial.keys()
    assert on_dask.to_dataframe("files").equals(serial.to_dataframe("files"))
    assert on_dask.to_dataframe().equals(serial.to_dataframe())
    assert on_dask.errors == serial.errors and on_dask.non_dicom == serial.non_dicom
    # The QA report runs on the cluster too, with the same findings.
    local = dw.archive_report(serial, progress=False)
    remote = dw.archive_report(serial, progress=False, executor=client)
    assert remote.to_dataframe().equals(local.to_dataframe())


def test_ctrl_c_cancels_the_clusters_pending_chunks_and_leaves_the_client_usable(client, tree):
    def interrupt(done: int, total: int) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        dw.scan(tree, progress=interrupt, executor=client)
    assert client.submit(sum, [1, 2]).result() == 3
