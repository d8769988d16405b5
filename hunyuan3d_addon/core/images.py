"""Input images: recognise PNG/JPEG/WebP from their bytes, read their size, shrink large ones.

Shrinking runs in a subprocess (Blender's own image library in a background Blender, or
Python with the ``bpy`` module), so it never holds this process's GIL or touches bpy here.
"""

from __future__ import annotations

import os
import struct
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from .errors import InputError

MAX_SIDE = 1024
MIME = {"png": "image/png", "jpeg": "image/jpeg", "webp": "image/webp"}
EXT = {"png": ".png", "jpeg": ".jpg", "webp": ".webp"}


@dataclass(frozen=True)
class ImageInfo:
    """Format and pixel size read from an image file's header."""

    format: str
    width: int
    height: int

    @property
    def mime(self) -> str:
        return MIME[self.format]


def sniff_image(head: bytes) -> ImageInfo | None:
    """Recognise PNG, JPEG or WebP from the first bytes (64 KiB is plenty); None if not an image."""
    if head.startswith(b"\x89PNG\r\n\x1a\n") and len(head) >= 24 and head[12:16] == b"IHDR":
        w, h = struct.unpack(">II", head[16:24])
        return ImageInfo("png", w, h)
    if head.startswith(b"\xff\xd8\xff"):
        return _jpeg_info(head)
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP" and len(head) >= 30:
        chunk = head[12:16]
        if chunk == b"VP8 ":
            w, h = struct.unpack("<HH", head[26:30])
            return ImageInfo("webp", w & 0x3FFF, h & 0x3FFF)
        if chunk == b"VP8L":
            b = head[21:25]
            w = 1 + (((b[1] & 0x3F) << 8) | b[0])
            h = 1 + (((b[3] & 0xF) << 10) | (b[2] << 2) | ((b[1] & 0xC0) >> 6))
            return ImageInfo("webp", w, h)
        if chunk == b"VP8X":
            w = 1 + int.from_bytes(head[24:27], "little")
            h = 1 + int.from_bytes(head[27:30], "little")
            return ImageInfo("webp", w, h)
        return ImageInfo("webp", 0, 0)
    return None


def _jpeg_info(data: bytes) -> ImageInfo:
    i = 2
    while i + 9 < len(data):
        if data[i] != 0xFF:
            i += 1
            continue
        marker = data[i + 1]
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
            i += 2
            continue
        (length,) = struct.unpack(">H", data[i + 2 : i + 4])
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            h, w = struct.unpack(">HH", data[i + 5 : i + 9])
            return ImageInfo("jpeg", w, h)
        i += 2 + length
    return ImageInfo("jpeg", 0, 0)


def read_image_info(path: Path, label: str = "image") -> ImageInfo:
    """Sniff a local file; raise InputError if it is not a PNG, JPEG or WebP image."""
    try:
        with path.open("rb") as fh:
            head = fh.read(1 << 16)
    except OSError as exc:
        raise InputError(f"The {label} file {str(path)!r} cannot be read ({exc.strerror}); nothing was sent.") from None
    info = sniff_image(head)
    if info is None:
        raise InputError(f"The {label} file {str(path)!r} is not a PNG, JPEG or WebP image; nothing was sent.")
    return info


_SHRINK_SCRIPT = r"""
import sys
args = sys.argv[sys.argv.index("--") + 1:] if "--" in sys.argv else sys.argv[1:]
try:
    import bpy  # noqa: F401  (the bpy module needs this before imbuf)
except ImportError:
    pass
import imbuf
src, dst, side = args[0], args[1], int(args[2])
img = imbuf.load(src)
w, h = img.size
scale = side / max(w, h)
img.resize((max(1, round(w * scale)), max(1, round(h * scale))), method="BILINEAR")
imbuf.write(img, filepath=dst)
"""


def shrink_command(blender_binary: str | None, python: str | None) -> list[str] | None:
    """The command prefix that runs the shrink script: a background Blender, or Python with bpy."""
    if blender_binary:
        return [blender_binary, "-b", "--factory-startup", "-noaudio", "--python-expr", _SHRINK_SCRIPT, "--"]
    if python:
        return [python, "-c", _SHRINK_SCRIPT, "--"]
    return None


def shrink_image(path: Path, info: ImageInfo, command: Sequence[str], max_side: int = MAX_SIDE, timeout: float = 120) -> bytes:
    """Return the image scaled so its longer side is ``max_side``, in its own format."""
    fd, tmp = tempfile.mkstemp(suffix=EXT[info.format], prefix="hunyuan3d-shrink-")
    os.close(fd)
    try:
        proc = subprocess.run(
            [*command, str(path), tmp, str(max_side)],
            capture_output=True,
            timeout=timeout,
            check=False,
        )
        data = Path(tmp).read_bytes()
        if proc.returncode != 0 or sniff_image(data[:65536]) is None:
            raise InputError(f"The image {str(path)!r} could not be shrunk for upload ({proc.stderr.decode(errors='replace').strip()[-200:] or 'no output'}).")
        return data
    finally:
        try:
            os.unlink(tmp)
        except OSError:
            pass
