"""DICOMweb: time to first image and scroll throughput, side by side, against a local Orthanc.

Starts Debian's Orthanc (with its DICOMweb plugin) on free ports of 127.0.0.1 with basic
auth, stores a CT phantom (300 slices of 512x512 by default, from dicom_widgets.data) once,
and measures in one run:

* time to first image:
  - naive (the peer): dicomweb-client ``DICOMwebClient.retrieve_series`` then sort by
    position and ``np.stack`` the pixel arrays;
  - lazy: ``dicom_widgets.dicomweb.connect(...).load_series(...)`` then ``display(middle)``
    (one metadata request, read into light headers like the local fast reader's, and one
    frame request); the HTTP requests sent before the image are counted;
  - the lazy path's stages: Orthanc's answer to the same metadata request alone (timed
    back to back with each lazy run), the client's share (load_series minus that answer:
    JSON decoding, headers, grouping, sort; and the same as this process' CPU time, which
    waiting for a busy core does not inflate) and the first frame; and the ratio of the naive
    path to the metadata answer alone, the ceiling of any client that reads its headers
    from that one request (Orthanc 1.10's DICOMweb plugin reads every file to answer it);
* scrolling the whole series (``display(i)`` for every slice, in order):
  - sequential per-frame requests: dicomweb-client ``retrieve_instance_frames`` (its
    defaults: gzip-encoded answers) + the same decode and lookup table, and our series with
    prefetch off;
  - our series with prefetch: after the first frame the whole series streams in one
    WADO-RS request (instances parsed as they arrive, into the frame cache); frames the
    stream has not brought yet are fetched alone.

The ratio that isolates prefetching is "prefetch / sequential dicom-widgets" (same client,
same transfer encoding); the one against dicomweb-client also counts that dicom-widgets asks
for frames without gzip (``compress_pixels=False``), which on a local network is faster.

Run::

    PYTHONPATH=. .venv/bin/python benchmarks/bench_dicomweb.py              # 300 x 512 x 512
    PYTHONPATH=. .venv/bin/python benchmarks/bench_dicomweb.py --slices 40  # quick
    PYTHONPATH=. .venv/bin/python benchmarks/bench_dicomweb.py --keep /tmp/dw-bench  # store once
    PYTHONPATH=. .venv/bin/python benchmarks/bench_dicomweb.py --first-image-only

dicomweb-client is the peer (it needs pydicom 3); dicom-widgets does its own HTTP (see the
docstring of :mod:`dicom_widgets.dicomweb` for why).
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from dicom_widgets.data import ct_phantom  # noqa: E402
from dicom_widgets.dicomweb import connect  # noqa: E402
from dicom_widgets.dicomweb._multipart import instance_bytes  # noqa: E402
from dicom_widgets.dicomweb.local_orthanc import LocalOrthanc, orthanc_available  # noqa: E402

CREDENTIALS = ("bench", "bench-password")


def _store(server: LocalOrthanc, n_slices: int, size: int) -> None:
    datasets = ct_phantom(n_slices=n_slices, size=size)

    def post(ds) -> None:
        server.request("POST", "/instances", instance_bytes(ds), content_type="application/dicom")

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(post, datasets))


def _series_uids(url: str) -> tuple[str, str, int]:
    source = connect(url, auth=CREDENTIALS)
    study = source.studies(PatientID="DW-PHANTOM-0001").uids()[0]
    series = source.series(study)
    return study, series.uids()[0], int(series[0]["NumberOfSeriesRelatedInstances"] or 0)


def _peer_client(url: str):
    import requests
    from dicomweb_client.api import DICOMwebClient

    session = requests.Session()
    session.auth = CREDENTIALS
    return DICOMwebClient(url=url, session=session)


def naive_first_image(url: str, study: str, series: str) -> tuple[float, int]:
    """dicomweb-client: retrieve every instance, sort by position, stack. Seconds, slices."""
    started = time.perf_counter()
    client = _peer_client(url)
    datasets = client.retrieve_series(study, series)
    datasets.sort(key=lambda ds: float(ds.ImagePositionPatient[2]))
    volume = np.stack([ds.pixel_array for ds in datasets])
    _ = volume[len(volume) // 2]
    return time.perf_counter() - started, len(datasets)


@dataclass
class FirstImage:
    """One run of the lazy path to the first image, in seconds, split where it waits."""

    load: float  # load_series: the metadata request, its decoding, headers, grouping, sort
    load_cpu: float  # this process' CPU time in load_series (the server's is not in it)
    frame: float  # display(middle): one frame request, its decoding and the lookup table
    requests: int  # HTTP requests sent before the image

    @property
    def total(self) -> float:
        return self.load + self.frame


def lazy_first_image(url: str, study: str, series: str) -> FirstImage:
    """dicom-widgets: metadata + one frame, timed per stage, with the requests counted."""
    started, cpu_started = time.perf_counter(), time.process_time()
    source = connect(url, auth=CREDENTIALS)
    remote = source.load_series(study, series, prefetch=False)
    loaded, cpu_loaded = time.perf_counter(), time.process_time()
    remote.display(len(remote) // 2)
    shown = time.perf_counter()
    requests_made = source.session.request_count
    source.close()
    return FirstImage(loaded - started, cpu_loaded - cpu_started, shown - loaded, requests_made)


def server_metadata_alone(url: str, study: str, series: str) -> float:
    """Seconds Orthanc takes to answer the series metadata, body read, nothing decoded.

    The same request as the lazy path's first (same headers, gzip as requests sends by
    default): the floor under any client that takes its headers from it.
    """
    import requests

    with requests.Session() as session:
        session.auth = CREDENTIALS
        started = time.perf_counter()
        answer = session.get(
            f"{url}/studies/{study}/series/{series}/metadata",
            headers={"Accept": "application/dicom+json"},
        )
        answer.raise_for_status()
        _ = answer.content
        return time.perf_counter() - started


def peer_sequential_scroll(url: str, study: str, series: str) -> tuple[float, int]:
    """dicomweb-client: one frame request per slice, in slice order, each decoded and windowed.

    The headers (order, dtype, window) come from our series so that both sides do the same
    work per slice: fetch, turn the bytes into an array, apply the display lookup table.
    """
    source = connect(url, auth=CREDENTIALS)
    remote = source.load_series(study, series, prefetch=False)
    refs = [remote.frame_ref(i) for i in range(len(remote))]
    client = _peer_client(url)
    dtype = np.dtype("<i2") if int(refs[0].header.PixelRepresentation) else np.dtype("<u2")
    lut = None
    started = time.perf_counter()
    for ref in refs:
        # Orthanc answers 400 without an explicit media type (see real-components.md).
        (content,) = client.retrieve_instance_frames(
            study,
            series,
            ref.sop_uid,
            frame_numbers=[1],
            media_types=(("application/octet-stream", "*"),),
        )
        arr = np.frombuffer(content, dtype=dtype).reshape(ref.rows, ref.cols)
        lut = lut or remote.display_lut(0)
        lut(arr)
    return time.perf_counter() - started, len(refs)


def lazy_scroll(url: str, study: str, series: str, *, prefetch: bool) -> tuple[float, int]:
    """dicom-widgets: ``display(i)`` for every slice, with or without prefetch."""
    source = connect(url, auth=CREDENTIALS)
    remote = source.load_series(study, series, prefetch=prefetch)
    started = time.perf_counter()
    for i in range(len(remote)):
        remote.display(i)
    elapsed = time.perf_counter() - started
    remote.close()
    source.close()
    return elapsed, len(remote)


def _median(runs: list[float]) -> float:
    return statistics.median(runs)


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:8.1f} ms"


def first_image(url: str, study: str, series: str, repeat: int) -> None:
    """Time to first image, naive against lazy, with the lazy path's stages and the floor.

    Each repeat runs the naive path, then the server's metadata answer alone and the lazy
    path back to back (in alternating order), so the client's share of the lazy path is
    its load time minus the metadata answer measured under the same conditions.
    """
    naive: list[float] = []
    floor: list[float] = []
    lazy: list[FirstImage] = []
    for k in range(repeat):
        naive.append(naive_first_image(url, study, series)[0])
        if k % 2:
            lazy.append(lazy_first_image(url, study, series))
            floor.append(server_metadata_alone(url, study, series))
        else:
            floor.append(server_metadata_alone(url, study, series))
            lazy.append(lazy_first_image(url, study, series))
    total, server = _median([run.total for run in lazy]), _median(floor)
    client = _median([run.load - alone for run, alone in zip(lazy, floor)])
    cpu = _median([run.load_cpu for run in lazy])  # not inflated by waiting for a core
    decoder = "orjson" if importlib.util.find_spec("orjson") else "json (orjson not installed)"
    print(f"time to first image (medians of {repeat} runs, each part on its own)")
    print(f"  naive  dicomweb-client retrieve_series + stack    : {_ms(_median(naive))}")
    print(
        f"  lazy   dicom-widgets load_series + display        : {_ms(total)}"
        f"  ({lazy[0].requests} HTTP requests before the image)"
    )
    print(f"    Orthanc's series metadata answer (same request) : {_ms(server)}")
    print(f"    client: JSON ({decoder}), headers, grouping, sort: {_ms(client)}")
    print(f"      the same, as this process' CPU time            : {_ms(cpu)}")
    print(
        f"    first frame: request, decode, lookup table      : {_ms(_median([r.frame for r in lazy]))}"
    )
    print(
        f"  ratio naive / lazy                                : {_median(naive) / total:8.1f}x sooner"
    )
    print(
        f"  ratio naive / metadata answer alone               : {_median(naive) / server:8.1f}x"
        "  (the most any client reaches with its headers from that one request)\n"
    )


def scrolling(url: str, study: str, series: str, count: int, repeat: int) -> None:
    """Scrolling every slice: sequential frame requests against the streamed series."""
    peer = [peer_sequential_scroll(url, study, series) for _ in range(repeat)]
    seq = [lazy_scroll(url, study, series, prefetch=False) for _ in range(repeat)]
    pre = [lazy_scroll(url, study, series, prefetch=True) for _ in range(repeat)]

    def rate(runs: list[tuple[float, int]]) -> float:
        return runs[0][1] / _median([t for t, _ in runs])

    print(f"scrolling all {count} slices (frames per second)")
    print(f"  sequential frames, dicomweb-client            : {rate(peer):8.1f}")
    print(f"  sequential frames, dicom-widgets (no prefetch): {rate(seq):8.1f}")
    print(f"  dicom-widgets with prefetch (series streamed) : {rate(pre):8.1f}")
    print(f"  ratio prefetch / sequential dicomweb-client   : {rate(pre) / rate(peer):8.1f}x")
    print(f"  ratio prefetch / sequential dicom-widgets     : {rate(pre) / rate(seq):8.1f}x")


def _stored_series(server: LocalOrthanc, slices: int, size: int) -> tuple[str, str, int] | None:
    """(study, series, slices) of the phantom in ``server``, stored first if it is empty."""
    url = server.dicomweb_url
    try:
        study, series, count = _series_uids(url)
    except (IndexError, Exception):  # noqa: BLE001 - nothing stored yet
        count = 0
    if count == slices:
        return study, series, count
    if count:
        print(f"the kept Orthanc holds {count} slices, not {slices}: use another --keep")
        return None
    started = time.perf_counter()
    _store(server, slices, size)
    elapsed = time.perf_counter() - started
    print(f"stored {slices} x {size}x{size} CT slices in {elapsed:.1f} s")
    return _series_uids(url)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--slices", type=int, default=300)
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--repeat", type=int, default=3, help="runs of each (median shown)")
    parser.add_argument(
        "--keep", type=Path, default=None, help="Orthanc folder kept between runs (store once)"
    )
    parser.add_argument(
        "--first-image-only", action="store_true", help="skip the scrolling measurements"
    )
    args = parser.parse_args(argv)
    if not orthanc_available():
        print("Orthanc is not installed: apt-get install orthanc orthanc-dicomweb orthanc-gdcm")
        return 1
    if importlib.util.find_spec("dicomweb_client") is None:
        print("the peer dicomweb-client is not installed: pip install dicomweb-client")
        return 1
    with LocalOrthanc(credentials=CREDENTIALS, folder=args.keep) as server:
        stored = _stored_series(server, args.slices, args.size)
        if stored is None:
            return 1
        study, series, count = stored
        print(f"Orthanc {server.url}, series of {count} slices of {args.size}x{args.size}\n")
        first_image(server.dicomweb_url, study, series, args.repeat)
        if not args.first_image_only:
            scrolling(server.dicomweb_url, study, series, count, args.repeat)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
