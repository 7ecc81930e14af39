"""Writing a viewer's cine as an animated GIF (Pillow) or an MP4 (ffmpeg), atomically."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import tempfile
from collections.abc import Sequence

import numpy as np

from .._io import atomic_write, atomic_write_bytes
from ..errors import DicomWidgetsError, MissingDependencyError

__all__ = ["check_animation_path", "write_animation"]


def check_animation_path(path: str | os.PathLike[str]) -> tuple[str, str]:
    """(path, extension) of an animation to write; raises before any frame is rendered.

    Raises
    ------
    ValueError
        Neither ``.gif`` nor ``.mp4``.
    MissingDependencyError
        MP4 asked for but ``ffmpeg`` is not on PATH.
    """
    path = os.fspath(path)
    ext = os.path.splitext(path)[1].lower()
    if ext not in (".gif", ".mp4"):
        raise ValueError(f"save_animation writes .gif or .mp4 files, not {ext or 'no extension'!r}")
    if ext == ".mp4" and shutil.which("ffmpeg") is None:
        raise MissingDependencyError(
            "saving MP4 needs the ffmpeg program on PATH (e.g. apt-get install ffmpeg or "
            "conda install ffmpeg); save a .gif instead, which only needs Pillow"
        )
    return path, ext


def write_animation(
    path: str, frames: Sequence[np.ndarray], fps: float, *, overwrite: bool = False
) -> str:
    """Write RGB ``uint8`` frames (rows, cols, 3) to ``path`` (.gif or .mp4) at ``fps``."""
    path, ext = check_animation_path(path)
    if ext == ".gif":
        from PIL import Image

        images = [Image.fromarray(f) for f in frames]
        buf = io.BytesIO()
        images[0].save(
            buf,
            format="GIF",
            save_all=True,
            append_images=images[1:],
            duration=max(int(round(1000 / fps)), 20),
            loop=0,
        )
        atomic_write_bytes(path, buf.getvalue(), overwrite=overwrite)
        return path
    data = _encode_mp4(path, frames, fps)
    atomic_write(path, lambda fh: fh.write(data), overwrite=overwrite)
    return path


def _encode_mp4(path: str, frames: Sequence[np.ndarray], fps: float) -> bytes:
    ffmpeg = shutil.which("ffmpeg")
    assert ffmpeg is not None  # checked by check_animation_path
    height, width = frames[0].shape[:2]
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "out.mp4")
        cmd = [
            ffmpeg, "-y", "-loglevel", "error", "-f", "rawvideo", "-pix_fmt", "rgb24",
            "-s", f"{width}x{height}", "-r", f"{fps:g}", "-i", "-",
            "-vf", "pad=ceil(iw/2)*2:ceil(ih/2)*2", "-pix_fmt", "yuv420p", out,
        ]  # fmt: skip
        proc = subprocess.run(cmd, input=b"".join(f.tobytes() for f in frames), capture_output=True)
        if proc.returncode != 0:
            raise DicomWidgetsError(
                f"ffmpeg failed writing {path}: {proc.stderr.decode(errors='replace')}"
            )
        with open(out, "rb") as fh:
            return fh.read()
