"""`blender -b -c hunyuan3d ...`: generate, batch, credits."""

from __future__ import annotations


def main(argv: list[str]) -> int:
    print("hunyuan3d: not implemented yet")
    return 1
