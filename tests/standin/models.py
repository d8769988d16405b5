"""Model files the stand-in answers with, all derived from a real Hunyuan3D-2 GLB.

Pure Python: read a GLB's triangles, write them as OBJ/PLY/STL, tile them into a larger
mesh, or paint a texture (planar UVs plus the input image) onto them.
"""

from __future__ import annotations

import json
import struct
import zlib
from array import array
from pathlib import Path

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
WHITE_GLB = FIXTURES / "hunyuan3d2_white_mesh.glb"

_COMPONENTS = {5121: ("B", 1), 5123: ("H", 2), 5125: ("I", 4), 5126: ("f", 4)}
_WIDTH = {"SCALAR": 1, "VEC2": 2, "VEC3": 3, "VEC4": 4}


def split_glb(data: bytes) -> tuple[dict, bytes]:
    """The JSON document and the binary chunk of a GLB."""
    magic, version, _length = struct.unpack("<4sII", data[:12])
    if magic != b"glTF" or version != 2:
        raise ValueError("not a glTF 2 binary")
    json_len, _ = struct.unpack("<II", data[12:20])
    doc = json.loads(data[20 : 20 + json_len])
    off = 20 + json_len
    binary = b""
    if off + 8 <= len(data):
        bin_len, _ = struct.unpack("<II", data[off : off + 8])
        binary = data[off + 8 : off + 8 + bin_len]
    return doc, binary


def join_glb(doc: dict, binary: bytes) -> bytes:
    """Build a GLB from a JSON document and a binary chunk (both padded to 4 bytes)."""
    doc.setdefault("buffers", [{}])[0]["byteLength"] = len(binary)
    js = json.dumps(doc, separators=(",", ":")).encode()
    js += b" " * (-len(js) % 4)
    binary += b"\0" * (-len(binary) % 4)
    total = 12 + 8 + len(js) + 8 + len(binary)
    return struct.pack("<4sII", b"glTF", 2, total) + struct.pack("<II", len(js), 0x4E4F534A) + js + struct.pack("<II", len(binary), 0x004E4942) + binary


def _accessor(doc: dict, binary: bytes, index: int) -> array:
    acc = doc["accessors"][index]
    code, size = _COMPONENTS[acc["componentType"]]
    width = _WIDTH[acc["type"]]
    view = doc["bufferViews"][acc["bufferView"]]
    start = view.get("byteOffset", 0) + acc.get("byteOffset", 0)
    stride = view.get("byteStride", 0) or size * width
    out = array(code)
    if stride == size * width:
        out.frombytes(binary[start : start + acc["count"] * stride])
    else:
        for i in range(acc["count"]):
            out.frombytes(binary[start + i * stride : start + i * stride + size * width])
    return out


def triangles(data: bytes) -> tuple[array, array]:
    """Positions (flat x,y,z floats) and triangle indices of every primitive, merged."""
    doc, binary = split_glb(data)
    positions, indices = array("f"), array("I")
    for mesh in doc.get("meshes", []):
        for prim in mesh["primitives"]:
            pos = _accessor(doc, binary, prim["attributes"]["POSITION"])
            base = len(positions) // 3
            idx = _accessor(doc, binary, prim["indices"]) if "indices" in prim else array("I", range(len(pos) // 3))
            positions.extend(pos)
            indices.extend(i + base for i in idx)
    return positions, indices


def mesh_glb(positions: array, indices: array, extra_doc: dict | None = None) -> bytes:
    """A one-mesh GLB from flat positions and indices."""
    pos_bytes, idx_bytes = positions.tobytes(), array("I", indices).tobytes()
    xs, ys, zs = positions[0::3], positions[1::3], positions[2::3]
    doc = {
        "asset": {"version": "2.0", "generator": "hunyuan3d stand-in"},
        "scene": 0,
        "scenes": [{"nodes": [0]}],
        "nodes": [{"name": "world", "children": [1]}, {"name": "geometry_0", "mesh": 0}],
        "meshes": [{"name": "geometry_0", "primitives": [{"attributes": {"POSITION": 1}, "indices": 0, "mode": 4}]}],
        "accessors": [
            {"bufferView": 0, "componentType": 5125, "type": "SCALAR", "count": len(indices)},
            {"bufferView": 1, "componentType": 5126, "type": "VEC3", "count": len(positions) // 3, "min": [min(xs), min(ys), min(zs)], "max": [max(xs), max(ys), max(zs)]},
        ],
        "bufferViews": [{"buffer": 0, "byteOffset": 0, "byteLength": len(idx_bytes)}, {"buffer": 0, "byteOffset": len(idx_bytes), "byteLength": len(pos_bytes)}],
        "buffers": [{}],
    }
    return join_glb(doc, idx_bytes + pos_bytes)


def tile_glb(data: bytes, copies: int) -> bytes:
    """The mesh repeated ``copies`` times side by side: a bigger real-looking result."""
    pos, idx = triangles(data)
    n = len(pos) // 3
    out_pos, out_idx = array("f"), array("I")
    for c in range(copies):
        shift = float(c)
        out_pos.extend(v + shift if i % 3 == 0 else v for i, v in enumerate(pos))
        out_idx.extend(i + c * n for i in idx)
    return mesh_glb(out_pos, out_idx)


def png_bytes(width: int, height: int, rgba: tuple[int, int, int, int] = (200, 120, 60, 255), noise: bool = False) -> bytes:
    """A PNG image, flat-coloured or (noise=True) incompressible."""
    import os

    row = bytes(rgba) * width
    raw = b"".join(b"\0" + (os.urandom(4 * width) if noise else row) for _ in range(height))

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw, 1 if noise else 6)) + chunk(b"IEND", b"")


def textured_glb(data: bytes, image: bytes | None = None) -> bytes:
    """The mesh with planar UVs and an image texture in a PBR material (what texture=true returns)."""
    pos, idx = triangles(data)
    xs, ys = pos[0::3], pos[1::3]
    x0, y0 = min(xs), min(ys)
    sx, sy = (max(xs) - x0) or 1.0, (max(ys) - y0) or 1.0
    uv = array("f")
    for x, y in zip(xs, ys, strict=True):
        uv.extend(((x - x0) / sx, 1.0 - (y - y0) / sy))
    if image is None or not (image.startswith(b"\x89PNG") or image.startswith(b"\xff\xd8")):
        image = png_bytes(64, 64)
    mime = "image/png" if image.startswith(b"\x89PNG") else "image/jpeg"
    glb = mesh_glb(pos, idx)
    doc, binary = split_glb(glb)
    binary = bytearray(binary)
    uv_off = len(binary)
    binary += uv.tobytes()
    binary += b"\0" * (-len(binary) % 4)
    img_off = len(binary)
    binary += image
    doc["bufferViews"] += [{"buffer": 0, "byteOffset": uv_off, "byteLength": len(uv) * 4}, {"buffer": 0, "byteOffset": img_off, "byteLength": len(image)}]
    doc["accessors"].append({"bufferView": 2, "componentType": 5126, "type": "VEC2", "count": len(uv) // 2})
    prim = doc["meshes"][0]["primitives"][0]
    prim["attributes"]["TEXCOORD_0"] = 2
    prim["material"] = 0
    doc["images"] = [{"bufferView": 3, "mimeType": mime, "name": "texture"}]
    doc["samplers"] = [{"magFilter": 9729, "minFilter": 9987}]
    doc["textures"] = [{"source": 0, "sampler": 0}]
    doc["materials"] = [{"name": "texture", "pbrMetallicRoughness": {"baseColorTexture": {"index": 0}, "metallicFactor": 0.0, "roughnessFactor": 0.8}}]
    return join_glb(doc, bytes(binary))


def to_format(data: bytes, fmt: str) -> bytes:
    """The GLB's mesh as GLB, OBJ, PLY (binary) or STL (binary)."""
    if fmt == "glb":
        return data
    pos, idx = triangles(data)
    n_v, n_f = len(pos) // 3, len(idx) // 3
    if fmt == "obj":
        lines = ["# hunyuan3d stand-in", "o geometry_0"]
        lines += [f"v {pos[i]:.6f} {pos[i + 1]:.6f} {pos[i + 2]:.6f}" for i in range(0, len(pos), 3)]
        lines += [f"f {idx[i] + 1} {idx[i + 1] + 1} {idx[i + 2] + 1}" for i in range(0, len(idx), 3)]
        return ("\n".join(lines) + "\n").encode()
    if fmt == "ply":
        header = f"ply\nformat binary_little_endian 1.0\nelement vertex {n_v}\nproperty float x\nproperty float y\nproperty float z\nelement face {n_f}\nproperty list uchar int vertex_indices\nend_header\n"
        faces = b"".join(struct.pack("<Biii", 3, idx[i], idx[i + 1], idx[i + 2]) for i in range(0, len(idx), 3))
        return header.encode() + pos.tobytes() + faces
    if fmt == "stl":
        out = bytearray(b"hunyuan3d stand-in".ljust(80, b" ") + struct.pack("<I", n_f))
        for i in range(0, len(idx), 3):
            a, b, c = idx[i], idx[i + 1], idx[i + 2]
            out += struct.pack("<3f", 0, 0, 0) + struct.pack("<9f", *pos[3 * a : 3 * a + 3], *pos[3 * b : 3 * b + 3], *pos[3 * c : 3 * c + 3]) + b"\0\0"
        return bytes(out)
    raise ValueError(fmt)


def padded_glb(data: bytes, size: int) -> bytes:
    """The real mesh plus an unused payload buffer view, so the GLB is ``size`` bytes (benchmarks)."""
    import os

    doc, binary = split_glb(data)
    binary += b"\0" * (-len(binary) % 4)
    extra = max(0, size - len(data) - 64)
    extra -= extra % 4
    doc["bufferViews"].append({"buffer": 0, "byteOffset": len(binary), "byteLength": extra})
    payload = os.urandom(1 << 20) * (extra >> 20) + os.urandom(extra & ((1 << 20) - 1))
    return join_glb(doc, binary + payload)
