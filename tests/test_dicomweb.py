"""DICOMweb: real series in a real Orthanc, opened lazily; credentials stay with their origin.

Orthanc (Debian's orthanc + orthanc-dicomweb) runs on free ports of 127.0.0.1 with basic
auth, from a temporary folder. Without it these tests skip with a message, except under
``CI=true`` where they fail (as the browser tests do without Chromium). Failure modes no
real server produces on purpose (hostile BulkDataURIs, redirects, 5xx, slow answers, bad
JSON) come from a scripted ``http.server`` on 127.0.0.1 (tests/_http_fake.py).
"""

from __future__ import annotations

import base64
import json
import logging
import os
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from pydicom.data import get_testdata_files

import dicom_widgets as dw
from dicom_widgets.data import ct_phantom, pydicom_file, write_series
from dicom_widgets.dicomweb import DicomWebSeries, connect, split_series_url
from dicom_widgets.dicomweb.local_orthanc import LocalOrthanc, orthanc_available
from dicom_widgets.errors import (
    DecodeError,
    DicomWebAuthError,
    DicomWebConnectionError,
    DicomWebError,
    DicomWebNotFoundError,
    DicomWebResponseError,
)

sys.path.insert(0, str(Path(__file__).parent))
from _http_fake import FakeServer, json_answer, multipart_answer  # noqa: E402

USER = "dw-reader"
PASSWORD = "Xq7-horse-battery-staple-93"
BASIC = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def _real_ct_series() -> list[str]:
    """A real CT series of pydicom-data (the 5 slices of dicomdirtests/98892001/CT5N)."""
    files = sorted(get_testdata_files("dicomdirtests/98892001/CT5N/*"))
    if not files:
        pytest.skip("pydicom-data is not installed")
    return files


@pytest.fixture(scope="module")
def ct_files(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("dicomweb_ct")
    write_series(ct_phantom(n_slices=12, size=48), folder, shuffle=True, seed=5)
    return folder


@pytest.fixture(scope="module")
def orthanc(ct_files):
    """A running Orthanc with basic auth, holding the phantom, a real CT series and CT_small."""
    if not orthanc_available():
        reason = "Orthanc is not installed: run `bash scripts/install-system-packages.sh` as root"
        if _in_ci():
            pytest.fail(f"{reason} (CI=true: DICOMweb tests must run, not skip)", pytrace=False)
        pytest.skip(reason)
    server = LocalOrthanc(credentials=(USER, PASSWORD))
    try:
        server.start()
        server.store(sorted(ct_files.iterdir()))
        server.store(_real_ct_series())
        server.store([pydicom_file(n) for n in ("ct_small", "mr_small_jpeg2000", "mr_small_rle")])
        yield server
    finally:
        server.stop()


@pytest.fixture()
def source(orthanc):
    with connect(orthanc.dicomweb_url, auth=(USER, PASSWORD)) as src:
        yield src


def _series_url(source, patient_id: str) -> str:
    study = source.studies(PatientID=patient_id).uids()[0]
    series = source.series(study).uids()[0]
    return f"{source.url}/studies/{study}/series/{series}"


def _assert_same_series(remote, local) -> None:
    assert len(remote) == len(local)
    assert [remote.frame_ref(i).sop_uid for i in range(len(remote))] == [
        local.frame_ref(i).sop_uid for i in range(len(local))
    ]
    np.testing.assert_allclose(remote.positions, local.positions)
    assert remote.sort_method == local.sort_method == "geometry"
    for i in range(len(local)):
        np.testing.assert_array_equal(remote.frame(i), local.frame(i))


# ------------------------------------------------------------------------- real Orthanc
def test_series_opens_by_url_with_basic_auth_like_from_disk(orthanc, ct_files):
    with connect(orthanc.dicomweb_url, auth=(USER, PASSWORD)) as src:
        url = _series_url(src, "DW-PHANTOM-0001")
    local = dw.load_series(ct_files, progress=False)
    remote = dw.load_series(url, auth=(USER, PASSWORD), prefetch=False)
    assert isinstance(remote, DicomWebSeries)
    # One metadata request, then one frame request for the first image.
    assert remote.requests_made == 1
    first = remote.frame(len(remote) // 2)
    assert remote.requests_made == 2
    np.testing.assert_array_equal(first, local.frame(len(local) // 2))
    _assert_same_series(remote, local)
    assert remote.spacing == local.spacing
    np.testing.assert_allclose(remote.affine(), local.affine())
    assert remote.findings == []


def test_real_ct_series_same_order_and_pixels(source):
    files = _real_ct_series()
    local = dw.load_series(files, progress=False)
    study = local.dataset(0).StudyInstanceUID
    remote = source.load_series(study, local.series_uid)
    _assert_same_series(remote, local)
    # The headers are complete (TagExplorer material), only the pixel data is left out.
    header = remote.dataset(0)
    assert header.PatientName == local.dataset(0).PatientName
    assert "PixelData" not in header


@pytest.mark.parametrize("name", ["mr_small_jpeg2000", "mr_small_rle", "ct_small"])
def test_compressed_frames_are_decoded_or_transcoded(source, name):
    local = dw.load_series(pydicom_file(name), progress=False)
    remote = source.load_series(local.dataset(0).StudyInstanceUID, local.series_uid)
    try:
        expected = local.frame(0)
    except DecodeError:  # no local JPEG 2000 decoder (pydicom 2.4 venv): the server transcodes
        expected = None
    got = remote.frame(0)
    assert got.shape == (local.frame_ref(0).rows, local.frame_ref(0).cols)
    if expected is not None:
        np.testing.assert_array_equal(got, expected)


def test_prefetch_fills_the_cache_around_the_cursor(source, ct_files):
    url = _series_url(source, "DW-PHANTOM-0001")
    _, study, series_uid = split_series_url(url)
    remote = source.load_series(study, series_uid, prefetch_neighbours=3, prefetch_series=False)
    remote.frame(5)
    remote.wait_prefetch()
    assert [remote.is_cached(i) for i in range(len(remote))] == [2 <= i <= 8 for i in range(12)]
    assert remote.cache_info()["items"] == 7


def test_the_whole_series_streams_into_the_cache_in_one_request(source, ct_files):
    local = dw.load_series(ct_files, progress=False)
    remote = source.load_series(local.dataset(0).StudyInstanceUID, local.series_uid)
    before = remote.requests_made
    remote.frame(5)
    remote.wait_prefetch()
    assert all(remote.is_cached(i) for i in range(len(remote)))
    assert remote.requests_made - before == 2  # the frame shown, then every instance at once
    _assert_same_series(remote, local)
    assert remote.requests_made - before == 2  # and every frame came from the cache
    assert remote.findings == []
    remote.close()


def test_studies_lists_it_with_wildcards_sent_literally(source):
    studies = source.studies()
    assert "DW-PHANTOM-0001" in [row["PatientID"] for row in studies]
    # Orthanc 1.10 neither percent-decodes nor matches "^": it is sent as "?" and the exact
    # pattern is checked on the answers.
    assert (
        source.studies(PatientName="PHANTOM^*").uids()
        == source.studies(PatientID="DW-PHANTOM-0001").uids()
    )
    assert source.studies(PatientName="phantom^jane^q").uids() == dated_uids(source)
    assert len(source.studies(PatientName="PHANTOM^X*")) == 0
    assert len(source.studies(PatientName="CompressedSamples^CT1")) == 1
    assert len(source.studies(StudyDescription="Head phantom*")) == 1
    assert len(source.studies(PatientName="PHANT*")) == 1
    assert len(source.studies(PatientName="NOBODY*")) == 0
    assert len(source.studies(PatientID="DW-PHANTOM-000?")) == 1
    assert len(source.studies(ModalitiesInStudy="CT")) >= 2
    dated = source.studies(PatientID="DW-PHANTOM-0001", StudyDate=("20240101", "20240131"))
    assert len(dated) == 1
    frame = studies.to_dataframe()
    assert list(frame.columns) == list(studies.columns)
    assert len(frame) == len(studies)
    html = studies._repr_html_()
    assert "DW-PHANTOM-0001" in html and "<table" in html


def dated_uids(source) -> list[str]:
    return source.studies(PatientID="DW-PHANTOM-0001").uids()


def test_series_catalog_of_a_study(source):
    study = source.studies(PatientID="DW-PHANTOM-0001").uids()[0]
    series = source.series(study)
    assert len(series) == 1
    assert series[0]["Modality"] == "CT"
    assert series[0]["NumberOfSeriesRelatedInstances"] == "12"
    with pytest.raises(ValueError, match="unknown QIDO-RS filter"):
        source.studies(NotAKeyword="x")


def test_wrong_password_raises_without_echoing_it(orthanc, caplog):
    caplog.set_level(logging.DEBUG)
    wrong = "not-the-Xq7-password-55"
    with pytest.raises(DicomWebAuthError) as info:
        connect(orthanc.dicomweb_url, auth=(USER, wrong)).studies()
    message = str(info.value)
    assert "authentication failed" in message and "401" in message
    assert wrong not in message and wrong not in caplog.text
    with pytest.raises(DicomWebAuthError, match="needs credentials"):
        connect(orthanc.dicomweb_url).studies()


def test_missing_series_is_not_found(source):
    with pytest.raises(DicomWebNotFoundError, match="not found.*1.2.3.4"):
        source.load_series("1.2.3", "1.2.3.4")


def test_unreachable_server_is_a_connection_error():
    with FakeServer() as fake:
        dead = fake.url  # the port is closed when the block ends
    started = time.monotonic()
    with pytest.raises(DicomWebConnectionError, match="cannot reach"):
        connect(dead + "/dicom-web", retries=1).studies()
    assert time.monotonic() - started < 10


def test_widgets_and_reprs_work_on_a_dicomweb_series(source, ct_files, tmp_path):
    from dicom_widgets.widgets.anonymization import AnonymizationPreview
    from dicom_widgets.widgets.tag_explorer import TagExplorer
    from dicom_widgets.widgets.viewer import SeriesViewer

    url = _series_url(source, "DW-PHANTOM-0001")
    _, study, series_uid = split_series_url(url)
    remote = source.load_series(study, series_uid)
    local = dw.load_series(ct_files, progress=False)
    viewer = SeriesViewer(remote)
    viewer.index = 3
    assert viewer.index == 3
    np.testing.assert_array_equal(remote.frame(viewer.index), local.frame(3))
    explorer = TagExplorer(remote)
    explorer.query = "PatientID"
    assert any("DW-PHANTOM-0001" in str(row.value) for row in explorer.visible_rows)
    preview = AnonymizationPreview(remote)
    assert preview.n_instances == 12
    # Whole instances were fetched: the preview shows (and exports) the real pixels.
    np.testing.assert_array_equal(preview.pixels(anonymized=False), local.raw_frame(0))
    report = preview.export(tmp_path / "out")
    assert report is not None and report.counts() == {"written": 12}
    exported = dw.load_series(tmp_path / "out", progress=False)
    np.testing.assert_array_equal(exported.volume(), local.volume())
    assert "DicomWebSeries" in repr(remote)
    html = remote._repr_html_()
    assert "<img" in html and "Axial head phantom" in html


@pytest.mark.slow
def test_anonymize_to_a_folder_and_stow_to_another_server(source, tmp_path):
    url = _series_url(source, "DW-PHANTOM-0001")
    _, study, series_uid = split_series_url(url)
    remote = source.load_series(study, series_uid)
    with LocalOrthanc() as other:
        target = connect(other.dicomweb_url)
        report = remote.anonymize(tmp_path / "deid", stow_to=target, progress=False)
        assert report.counts() == {"written": 12}
        studies = target.studies()
        assert len(studies) == 1
        assert studies[0]["PatientID"] != "DW-PHANTOM-0001"
        copy = target.load_series(studies.uids()[0], target.series(studies.uids()[0]).uids()[0])
        np.testing.assert_array_equal(copy.volume(), remote.volume())
    written = dw.load_series(tmp_path / "deid", progress=False)
    assert len(written) == 12 and "PHANTOM" not in str(written.patient_name)


def test_secrets_never_appear_in_any_output(source, orthanc, caplog):
    caplog.set_level(logging.DEBUG)
    url = _series_url(source, "DW-PHANTOM-0001")
    remote = dw.load_series(url.replace("http://", f"http://{USER}:{PASSWORD}@"))
    remote.frame(0)
    remote.wait_prefetch()
    outputs = [
        repr(source),
        repr(source.session),
        repr(remote),
        remote._repr_html_(),
        repr(remote.source),
        remote.url,
        repr(source.studies()),
        source.studies()._repr_html_(),
        repr(remote.findings),
        caplog.text,
    ]
    with pytest.raises(dw.DicomWidgetsError) as info:
        connect(orthanc.dicomweb_url, auth=(USER, PASSWORD + "x")).studies()
    outputs += [str(info.value), repr(info.value), str(info.value.__context__)]
    text = "\n".join(outputs)
    assert PASSWORD not in text and BASIC not in text
    assert "PHANTOM" in text  # the outputs are real, not empty


# ---------------------------------------------------------------- hostile and broken servers
def _phantom_json(n: int = 4, size: int = 16) -> tuple[list, list[bytes]]:
    """DICOM JSON headers (PixelData removed) and native frame bytes of a small phantom."""
    datasets = ct_phantom(n_slices=n, size=size)
    items, frames = [], []
    for ds in datasets:
        frames.append(ds.PixelData)
        item = ds.to_json_dict()
        item.pop("7FE00010", None)
        items.append(item)
    return items, frames


def _fake_dicomweb(items: list, frames: list[bytes], *, frame_route=None) -> dict:
    study = items[0]["0020000D"]["Value"][0]
    series = items[0]["0020000E"]["Value"][0]
    by_sop = {item["00080018"]["Value"][0]: frame for item, frame in zip(items, frames)}
    root = f"/dicom-web/studies/{study}/series/{series}"

    def frame(request):
        sop = request.path.split("/instances/")[1].split("/")[0]
        return multipart_answer(
            by_sop[sop], "application/octet-stream; transfer-syntax=1.2.840.10008.1.2.1"
        )

    return {
        "/dicom-web/studies": lambda r: json_answer(json.dumps(items[:1]).encode()),
        f"{root}/metadata": lambda r: json_answer(json.dumps(items).encode()),
        f"{root}/instances/": frame_route or frame,
        "root": root,
    }


def test_bulk_data_at_another_origin_never_gets_the_credentials(caplog):
    caplog.set_level(logging.DEBUG)
    items, frames = _phantom_json()
    with FakeServer() as collector, FakeServer() as hostile:
        for item in items:  # bulk data and pixel data "live" on the collector's origin
            item["7FE00010"] = {"vr": "OW", "BulkDataURI": f"{collector.url}/steal/pixels"}
            item["00281201"] = {"vr": "OW", "BulkDataURI": f"{collector.url}/steal/lut"}
            item["00091010"] = {"vr": "LO", "Value": ["<img src=x onerror=alert(1)>"]}
        routes = _fake_dicomweb(items, frames)
        root = routes.pop("root")
        # Every third frame answers with a redirect to the collector.
        plain = routes[f"{root}/instances/"]

        def frame_or_redirect(request):
            if (
                request.path.endswith("/frames/1")
                and items[2]["00080018"]["Value"][0] in request.path
            ):
                return 302, {"Location": f"{collector.url}/steal/frame"}, b""
            return plain(request)

        routes[f"{root}/instances/"] = frame_or_redirect
        hostile.routes.update(routes)
        src = connect(f"{hostile.url}/dicom-web", auth=(USER, PASSWORD), headers={"X-Key": "k-42"})
        _, study, series_uid = split_series_url(f"{hostile.url}{root}")
        series = src.load_series(study, series_uid, prefetch=False)
        ok = [
            series.frame(i)
            for i in range(len(series))
            if series.frame_ref(i).sop_uid != items[2]["00080018"]["Value"][0]
        ]
        assert len(ok) == 3
        bad = next(
            i for i in range(4) if series.frame_ref(i).sop_uid == items[2]["00080018"]["Value"][0]
        )
        with pytest.raises(DecodeError, match="another origin"):
            series.frame(bad)
        codes = {f.code for f in series.findings}
        assert {"bulkdata-other-origin", "decode-failed"} <= codes
        assert collector.received == []  # never contacted at all, so no credentials either
        assert all(r.headers.get("Authorization") == f"Basic {BASIC}" for r in hostile.received)
        text = "\n".join([repr(series.findings), series._repr_html_(), caplog.text])
        assert PASSWORD not in text and BASIC not in text and "k-42" not in text


def test_server_markup_is_escaped_in_catalog_html():
    items, frames = _phantom_json(n=1)
    items[0]["00100010"] = {"vr": "PN", "Value": [{"Alphabetic": "<script>alert(1)</script>"}]}
    items[0]["00081030"] = {"vr": "LO", "Value": ['"><img src=x onerror=alert(2)>']}
    with FakeServer() as fake:
        fake.routes.update(
            {"/dicom-web/studies": lambda r: json_answer(json.dumps(items).encode())}
        )
        studies = connect(f"{fake.url}/dicom-web").studies()
        html = studies._repr_html_()
    assert studies[0]["PatientName"] == "<script>alert(1)</script>"
    assert "<script>alert" not in html and "<img src=x" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_malformed_json_and_http_errors_are_clear():
    with FakeServer() as fake:
        fake.routes.update(
            {
                "/dicom-web/studies": lambda r: json_answer(b"{not json"),
                "/dicom-web/series": lambda r: json_answer(b'"a string"'),
                "/dicom-web/gone": lambda r: (410, {}, b"gone"),
            }
        )
        src = connect(f"{fake.url}/dicom-web")
        with pytest.raises(DicomWebResponseError, match="not valid JSON"):
            src.studies()
        with pytest.raises(DicomWebResponseError, match="not a list of DICOM JSON"):
            src.series()
        with pytest.raises(DicomWebResponseError, match="HTTP 410"):
            src.session.request("GET", "gone")
        with pytest.raises(DicomWebError, match="not on http://127.0.0.1"):
            src.session.request("GET", "http://127.0.0.2:9/x")


def test_5xx_is_retried_with_backoff_then_succeeds():
    items, _ = _phantom_json(n=1)
    answers = iter([(503, {"Retry-After": "0"}, b""), (502, {}, b"")])

    def flaky(request):
        return next(answers, json_answer(json.dumps(items).encode()))

    with FakeServer() as fake:
        fake.routes["/dicom-web/studies"] = flaky
        src = connect(f"{fake.url}/dicom-web")
        src.session.backoff = 0.01
        assert len(src.studies()) == 1
        assert len(fake.received) == 3
        fake.routes["/dicom-web/studies"] = lambda r: (500, {}, b"boom")
        with pytest.raises(DicomWebResponseError, match="HTTP 500.*after 4 tries"):
            src.studies()


def test_slow_server_times_out_within_bounds():
    with FakeServer(delay=3.0) as fake:
        fake.routes["/dicom-web/studies"] = lambda r: json_answer(b"[]")
        src = connect(f"{fake.url}/dicom-web", timeout=(1.0, 0.5), retries=1)
        src.session.backoff = 0.01
        started = time.monotonic()
        with pytest.raises(DicomWebConnectionError, match="no answer"):
            src.studies()
        assert time.monotonic() - started < 3.0


def test_server_without_frames_falls_back_to_whole_instances(tmp_path):
    datasets = ct_phantom(n_slices=4, size=16)
    folder = write_series(datasets, tmp_path / "src")
    local = dw.load_series(tmp_path / "src", progress=False)
    items, frames = _phantom_json()
    paths = {dw.load_series(folder, progress=False).frame_ref(i).sop_uid: None for i in range(4)}
    files = {str(p): p.read_bytes() for p in (tmp_path / "src").iterdir()}
    by_sop = {}
    import pydicom

    for body in files.values():
        import io

        by_sop[pydicom.dcmread(io.BytesIO(body), stop_before_pixels=True).SOPInstanceUID] = body
    assert set(by_sop) == set(paths)
    routes = _fake_dicomweb(items, frames)
    root = routes.pop("root")

    def instances_only(request):
        if "/frames/" in request.path:
            return 400, {}, b"frames not supported"
        sop = request.path.split("/instances/")[1].split("/")[0]
        return multipart_answer(by_sop[sop], "application/dicom")

    routes[f"{root}/instances/"] = instances_only
    with FakeServer() as fake:
        fake.routes.update(routes)
        _, study, series_uid = split_series_url(f"{fake.url}{root}")
        remote = connect(f"{fake.url}/dicom-web").load_series(study, series_uid, prefetch=False)
        _assert_same_series(remote, local)
        frame_requests = [r for r in fake.received if "/frames/" in r.path]
        assert len(frame_requests) == 1  # asked once, then whole instances only
    assert any("whole instances" in f.message for f in remote.findings)


def test_a_failed_frame_is_a_finding_and_the_viewer_goes_on():
    items, frames = _phantom_json()
    broken_sop = items[1]["00080018"]["Value"][0]
    routes = _fake_dicomweb(items, frames)
    root = routes.pop("root")
    good = routes[f"{root}/instances/"]
    routes[f"{root}/instances/"] = lambda r: (
        (500, {}, b"disk error") if broken_sop in r.path else good(r)
    )
    with FakeServer() as fake:
        fake.routes.update(routes)
        _, study, series_uid = split_series_url(f"{fake.url}{root}")
        src = connect(f"{fake.url}/dicom-web", retries=1)
        src.session.backoff = 0.01
        remote = src.load_series(study, series_uid, prefetch=False)
        broken = next(i for i in range(4) if remote.frame_ref(i).sop_uid == broken_sop)
        with pytest.raises(DecodeError, match="HTTP 500"):
            remote.frame(broken)
        assert remote.frame_error(broken) is not None
        assert [f.code for f in remote.findings] == ["decode-failed"]
        from dicom_widgets.widgets.viewer import SeriesViewer

        viewer = SeriesViewer(remote)
        viewer.index = broken
        viewer.index = (broken + 1) % 4
        assert viewer.index == (broken + 1) % 4
        np.testing.assert_array_equal(remote.frame((broken + 1) % 4).shape, (16, 16))


# ------------------------------------------------------------------------- core hygiene
@pytest.mark.parametrize(
    "name",
    [
        "dicom_widgets.dicomweb",
        "dicom_widgets.dicomweb._session",
        "dicom_widgets.dicomweb._json",
        "dicom_widgets.dicomweb._stream",
        "dicom_widgets.dicomweb._multipart",
        "dicom_widgets.dicomweb._frames",
        "dicom_widgets.dicomweb._source",
        "dicom_widgets.html.dicomweb",
    ],
)
def test_docstring_examples(name):
    import doctest
    import importlib

    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0


def test_the_dicomweb_core_imports_no_jupyter():
    import subprocess

    code = (
        "import sys, dicom_widgets.dicomweb, dicom_widgets.dicomweb.local_orthanc;"
        "s = dicom_widgets.dicomweb.connect('http://127.0.0.1:9/dicom-web');"
        "bad = [m for m in ('ipywidgets', 'IPython', 'ipympl', 'anywidget', 'ipykernel',"
        " 'dicom_widgets.widgets') if m in sys.modules];"
        "print(bad)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_credentials_in_the_url_become_basic_auth_and_leave_the_url():
    source = connect(f"http://{USER}:{PASSWORD}@127.0.0.1:9/dicom-web")
    assert source.url == "http://127.0.0.1:9/dicom-web"
    assert source.session.auth_kind == "basic"
    assert PASSWORD not in repr(source)
    with pytest.raises(ValueError, match="not a DICOMweb series URL") as info:
        split_series_url(f"http://{USER}:{PASSWORD}@127.0.0.1:9/dicom-web/studies/1.2")
    assert PASSWORD not in str(info.value)


# --------------------------------------------------------------------- the browser widget
def test_browser_widget_searches_lists_and_opens_a_series(orthanc, ct_files):
    from dicom_widgets.widgets.viewer import SeriesViewer

    browser = dw.DicomWebBrowser(orthanc.dicomweb_url, auth=(USER, PASSWORD))
    assert "DW-PHANTOM-0001" in [row["PatientID"] for row in browser.studies]
    assert browser.status.endswith("found")
    browser.patient_name = "PHANTOM^*"
    browser.modality = "ct"
    browser.study_date = "20240101-20240131"
    studies = browser.search()
    assert [row["PatientID"] for row in studies] == ["DW-PHANTOM-0001"]
    browser.open_study(0)
    assert browser.study_uid == studies.uids()[0]
    series = browser.open_series(0)
    assert isinstance(browser.viewer, SeriesViewer)
    assert browser.series_uid == series.series_uid
    local = dw.load_series(ct_files, progress=False)
    browser.viewer.index = 2
    np.testing.assert_array_equal(series.frame(browser.viewer.index), local.frame(2))
    assert PASSWORD not in repr(browser) and PASSWORD not in browser.status


def test_browser_widget_reports_errors_in_its_status(orthanc):
    browser = dw.DicomWebBrowser(orthanc.dicomweb_url, auth=(USER, "wrong-password-1"))
    assert browser.studies is None
    assert browser.status.startswith("Search failed:") and "authentication failed" in browser.status
    assert "wrong-password-1" not in browser.status


def test_browser_widget_shows_server_markup_as_text():
    items, _ = _phantom_json(n=1)
    items[0]["00100010"] = {"vr": "PN", "Value": [{"Alphabetic": "<img src=x onerror=alert(1)>"}]}
    with FakeServer() as fake:
        fake.routes["/dicom-web/studies"] = lambda r: json_answer(json.dumps(items).encode())
        browser = dw.DicomWebBrowser(f"{fake.url}/dicom-web")
    labels = [cell.value for row in browser.study_table.children[1:] for cell in row.children[1:]]
    # Label widgets show text, never HTML: the markup arrives as characters.
    assert "<img src=x onerror=alert(1)>" in labels


# ------------------------------------------------------------------- DICOM JSON decoding
def _comparable(value):
    from pydicom.multival import MultiValue
    from pydicom.sequence import Sequence

    if isinstance(value, Sequence):
        return [sorted((e.tag, _comparable(e.value)) for e in item) for item in value]
    if isinstance(value, (list, MultiValue)):
        return [_comparable(v) for v in value]
    return str(value)


@pytest.mark.filterwarnings("ignore")
def test_json_headers_read_like_pydicoms_from_json_for_every_real_file(pydicom_files):
    """The lazy JSON reader gives the values of ``Dataset.from_json`` (all pydicom test files)."""
    import copy

    import pydicom
    from pydicom.dataset import Dataset

    from dicom_widgets.dicomweb._json import dataset_from_json

    compared = 0
    for path in pydicom_files:
        try:
            ds = pydicom.dcmread(path, stop_before_pixels=True, force=True)
            item = ds.to_json_dict(bulk_data_threshold=10**9)
            expected = Dataset.from_json(copy.deepcopy(item))
        except Exception:  # noqa: BLE001 - files pydicom itself cannot turn into JSON
            continue
        got = dataset_from_json(item)
        for element in expected:
            if element.tag == 0x00080005 or element.VR in ("OB", "OW", "UN", "OF", "OD", "OL"):
                continue
            assert _comparable(got[element.tag].value) == _comparable(element.value), (
                path.name,
                element.tag,
            )
        compared += 1
    assert compared > 200


@pytest.mark.filterwarnings("ignore")
def test_light_json_headers_give_the_frames_of_the_local_fast_reader(pydicom_files):
    """Loading a DICOMweb series sorts what the local fast reader sorts, value for value."""
    import pydicom

    from dicom_widgets.dicomweb._json import light_header_from_json
    from dicom_widgets.series._fastheader import read_fast

    fields = (
        "frame", "n_frames", "pixel_spacing", "slope", "intercept", "rows", "cols", "samples",
        "bits_allocated", "photometric", "instance_number", "sop_uid", "series_uid",
        "acquisition_seconds", "temporal",
    )  # fmt: skip
    compared = 0
    for path in pydicom_files:
        fast = read_fast(path)
        if fast is None or not fast[1]:
            continue
        try:
            ds = pydicom.dcmread(path, stop_before_pixels=True, force=True)
            item = ds.to_json_dict(bulk_data_threshold=10**9)
        except Exception:  # noqa: BLE001 - files pydicom itself cannot turn into JSON
            continue
        light = light_header_from_json(item)
        assert light is not None, path.name
        (local,), (remote,) = fast[1], light[1]
        assert remote.path is None
        for name in fields:
            assert getattr(remote, name) == getattr(local, name), (path.name, name)
        for name in ("position", "orientation"):
            np.testing.assert_array_equal(getattr(remote, name), getattr(local, name))
        assert str(light[0].get("Modality", "")) == str(fast[0].get("Modality", ""))
        compared += 1
    assert compared > 30


def test_full_header_of_a_light_dicomweb_header_has_every_element(source, ct_files):
    local = dw.load_series(ct_files, progress=False)
    remote = source.load_series(local.dataset(0).StudyInstanceUID, local.series_uid)
    for i in (0, len(local) - 1):
        expected, got = local.dataset(i), remote.dataset(i)
        kept = [e for e in expected if e.tag < 0x7FE00010 and e.tag != 0x00080005]
        assert len(kept) > 40
        for element in kept:
            if element.VR in ("DS", "IS"):  # JSON numbers: 68.0 arrives as 68
                values = np.atleast_1d(np.asarray(element.value, dtype=float))
                np.testing.assert_allclose(
                    np.atleast_1d(np.asarray(got[element.tag].value, dtype=float)), values
                )
            else:
                assert _comparable(got[element.tag].value) == _comparable(element.value), element


# ------------------------------------------------------------- bounded answers, fallbacks
def test_json_answers_over_the_limit_are_refused_with_the_setting_to_raise():
    import gzip

    items, _ = _phantom_json(n=4)
    body = json.dumps(items).encode()
    bomb = gzip.compress(b"[" + b" " * 50_000_000 + b"]")  # 50 MB of JSON in ~50 kB
    with FakeServer() as fake:
        fake.routes["/dicom-web/studies"] = lambda r: json_answer(body)
        fake.routes["/dicom-web/series"] = lambda r: (
            200,
            {"Content-Type": "application/dicom+json", "Content-Encoding": "gzip"},
            bomb,
        )
        src = connect(f"{fake.url}/dicom-web", max_json_bytes=len(body) - 1)
        with pytest.raises(DicomWebResponseError) as caught:
            src.studies()
        message = str(caught.value)
        assert f"{fake.url}/dicom-web/studies" in message
        assert f"{len(body) - 1:,} bytes" in message and "max_json_bytes=" in message
        assert len(connect(f"{fake.url}/dicom-web", max_json_bytes=len(body)).studies()) == 4
        # Counted decompressed: the small gzip answer is refused without inflating it all.
        big = connect(f"{fake.url}/dicom-web", max_json_bytes=10_000_000)
        with pytest.raises(DicomWebResponseError, match="larger than the limit of 10,000,000"):
            big.series()


@pytest.mark.parametrize(
    "refusal",
    [
        (406, {"Content-Type": "text/plain"}, b"Not Acceptable"),
        (501, {}, b""),
        (200, {"Content-Type": "text/html"}, b"<html>use the viewer</html>"),
    ],
    ids=["406", "501", "200-html"],
)
def test_frame_fallback_is_decided_by_status_and_content_type(tmp_path, refusal):
    datasets = ct_phantom(n_slices=3, size=16)
    write_series(datasets, tmp_path / "src")
    local = dw.load_series(tmp_path / "src", progress=False)
    import io

    import pydicom

    files = [p.read_bytes() for p in (tmp_path / "src").iterdir()]
    by_sop = {
        pydicom.dcmread(io.BytesIO(b), stop_before_pixels=True).SOPInstanceUID: b for b in files
    }
    items, frames = _phantom_json(n=3)
    routes = _fake_dicomweb(items, frames)
    root = routes.pop("root")

    def refuse_frames(request):
        if "/frames/" in request.path:
            return refusal
        return multipart_answer(by_sop[request.path.split("/instances/")[1]], "application/dicom")

    routes[f"{root}/instances/"] = refuse_frames
    with FakeServer() as fake:
        fake.routes.update(routes)
        _, study, series_uid = split_series_url(f"{fake.url}{root}")
        remote = connect(f"{fake.url}/dicom-web").load_series(study, series_uid, prefetch=False)
        _assert_same_series(remote, local)
    assert any("whole instances" in f.message for f in remote.findings)


def test_a_frame_answer_larger_than_the_frame_can_be_is_a_finding():
    items, frames = _phantom_json(n=3, size=16)
    routes = _fake_dicomweb(items, frames)
    root = routes.pop("root")
    huge = multipart_answer(b"\0" * 3_000_000, "application/octet-stream")  # frames: 512 bytes
    routes[f"{root}/instances/"] = lambda r: huge
    with FakeServer() as fake:
        fake.routes.update(routes)
        _, study, series_uid = split_series_url(f"{fake.url}{root}")
        remote = connect(f"{fake.url}/dicom-web").load_series(study, series_uid, prefetch=False)
        with pytest.raises(DecodeError, match="larger than the limit"):
            remote.frame(0)
    assert [f.code for f in remote.findings] == ["decode-failed"]


@pytest.mark.filterwarnings("ignore")
def test_light_headers_of_one_series_share_values_and_read_the_same(pydicom_files):
    """Headers read with the series' shared values equal the ones read alone, element for
    element, and a series of them groups and sorts the same (real files and a phantom)."""
    import pydicom

    from dicom_widgets.dicomweb._json import SeriesValues, light_header_from_json
    from dicom_widgets.series import scan

    items = _phantom_json(n=6)[0]
    for path in pydicom_files[:80]:
        try:
            ds = pydicom.dcmread(path, stop_before_pixels=True, force=True)
            items.append(ds.to_json_dict(bulk_data_threshold=10**9))
        except Exception:  # noqa: BLE001 - files pydicom itself cannot turn into JSON
            continue
    shared = SeriesValues()
    alone = [light_header_from_json(item, order=k) for k, item in enumerate(items)]
    together = [
        light_header_from_json(item, order=k, shared=shared) for k, item in enumerate(items)
    ]
    compared = 0
    for one, other in zip(alone, together):
        assert (one is None) == (other is None)
        if one is None:
            continue
        assert sorted(one[0].keys()) == sorted(other[0].keys())
        for element in one[0]:
            assert _comparable(other[0][element.tag].value) == _comparable(element.value)
        compared += 1
    assert compared > 30
    # The phantom's six headers share their patient, study and series elements.
    assert together[0][0]["PatientName"] is together[5][0]["PatientName"]
    by_alone = scan([h[0] for h in alone if h], progress=False, prefetch=False)
    by_together = scan([h[0] for h in together if h], progress=False, prefetch=False)
    assert [e.key for e in by_alone.entries] == [e.key for e in by_together.entries]
    assert [[f.sop_uid for f in e.frames] for e in by_alone.entries] == [
        [f.sop_uid for f in e.frames] for e in by_together.entries
    ]


def test_json_the_fast_decoder_refuses_is_still_read():
    """A UTF-16 answer (valid JSON that orjson refuses) reads as before; garbage still fails."""
    import gc

    with FakeServer() as fake:
        text = '[{"00100010": {"vr": "PN", "Value": [{"Alphabetic": "DOE^J"}]}}]'
        fake.routes.update(
            {
                "/dicom-web/studies": lambda r: json_answer(text.encode("utf-16")),
                "/dicom-web/series": lambda r: json_answer(b"[{]"),
            }
        )
        src = connect(f"{fake.url}/dicom-web")
        assert src.studies()[0]["PatientName"] == "DOE^J"
        with pytest.raises(DicomWebResponseError, match="not valid JSON"):
            src.series()
    assert gc.isenabled()  # the collector paused while decoding is back on after a failure


def test_shared_values_keep_numbers_of_another_type_apart():
    """An int and a float that compare equal are encoded as each instance gives them."""
    from dicom_widgets.dicomweb._json import SeriesValues, _encode

    shared = SeriesValues()
    assert shared.encode("DS", [1]) == _encode("DS", [1]) == b"1 "
    assert shared.encode("DS", [1.0]) == _encode("DS", [1.0]) == b"1.0 "
    assert shared.encode("US", [7]) == _encode("US", [7])
