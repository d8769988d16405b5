"""Model files without bpy: recognise GLB/OBJ/PLY/STL from bytes, validate a GLB, count its parts."""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass
from pathlib import Path

from .errors import BadResponseError

GLB_MAGIC = b"glTF"
CHUNK_JSON = 0x4E4F534A


@dataclass(frozen=True)
class GlbStats:
    """What a GLB holds, read from its JSON chunk."""

    size: int
    meshes: int
    primitives: int
    triangles: int
    vertices: int
    materials: int
    textures: int
    images: int


def sniff_model(head: bytes, size: int | None = None) -> str | None:
    """The model format of a file from its first bytes ('glb', 'ply', 'stl', 'obj') or None."""
    if head.startswith(GLB_MAGIC):
        return "glb"
    if head.startswith(b"ply\n") or head.startswith(b"ply\r\n"):
        return "ply"
    stripped = head.lstrip()
    if stripped[:5].lower() == b"solid" and b"facet" in head:
        return "stl"
    if size is not None and len(head) >= 84 and size == 84 + 50 * struct.unpack("<I", head[80:84])[0] and size > 84:
        return "stl"
    if _looks_like_obj(head):
        return "obj"
    return None


def _looks_like_obj(head: bytes) -> bool:
    try:
        text = head[:4096].decode("ascii")
    except UnicodeDecodeError:
        return False
    keys = {line.split(None, 1)[0] for line in text.splitlines() if line.strip()}
    return "v" in keys and keys <= {"v", "vn", "vt", "f", "o", "g", "s", "#", "mtllib", "usemtl", "l", "vp"} | {k for k in keys if k.startswith("#")}


def glb_stats(path: Path) -> GlbStats:
    """Validate a GLB (magic, version 2, lengths, JSON chunk) and count its contents."""
    size = path.stat().st_size
    with path.open("rb") as fh:
        header = fh.read(20)
        if len(header) < 20 or header[:4] != GLB_MAGIC:
            raise BadResponseError("The model file is not a GLB (its header is wrong).")
        _, version, length, chunk_len, chunk_type = struct.unpack("<4sIIII", header)
        if version != 2:
            raise BadResponseError(f"The GLB is version {version}; only glTF 2 is supported.")
        if length != size:
            raise BadResponseError(f"The GLB is truncated or padded: its header says {length} bytes, the file has {size}.")
        if chunk_type != CHUNK_JSON or 20 + chunk_len > size:
            raise BadResponseError("The GLB has no valid JSON chunk.")
        try:
            doc = json.loads(fh.read(chunk_len))
        except ValueError:
            raise BadResponseError("The GLB's JSON chunk is not valid JSON.") from None
    return _stats(doc, size)


def _stats(doc: dict, size: int) -> GlbStats:
    accessors = doc.get("accessors", [])
    meshes = doc.get("meshes", [])
    prims = tris = verts = 0
    for mesh in meshes:
        for prim in mesh.get("primitives", []):
            prims += 1
            pos = prim.get("attributes", {}).get("POSITION")
            count_v = accessors[pos]["count"] if isinstance(pos, int) and pos < len(accessors) else 0
            verts += count_v
            idx = prim.get("indices")
            count = accessors[idx]["count"] if isinstance(idx, int) and idx < len(accessors) else count_v
            if prim.get("mode", 4) == 4:
                tris += count // 3
    return GlbStats(
        size=size,
        meshes=len(meshes),
        primitives=prims,
        triangles=tris,
        vertices=verts,
        materials=len(doc.get("materials", [])),
        textures=len(doc.get("textures", [])),
        images=len(doc.get("images", [])),
    )


def validate_model(path: Path, expected: str | None = None) -> str:
    """Check that a finished file is a whole model; return its format or raise BadResponseError."""
    size = path.stat().st_size
    if size == 0:
        raise BadResponseError("The server returned an empty file instead of a model.")
    with path.open("rb") as fh:
        head = fh.read(4096)
    fmt = sniff_model(head, size)
    if fmt is None:
        raise BadResponseError("The server returned no model (the body is not a GLB, OBJ, PLY or STL file).")
    if fmt == "glb":
        glb_stats(path)  # binary STL was checked by its exact size in sniff_model
    if expected and expected != fmt:
        raise BadResponseError(f"The server returned a {fmt.upper()} model where {expected.upper()} was asked for.")
    return fmt
