"""Build the installable extension zip, and validate it with Blender's own validator.

    python scripts/build_zip.py [--out DIR] [--no-validate]

The zip holds ``blender_manifest.toml`` at its root beside the package contents of
``hunyuan3d_addon/``. When the ``bpy`` module is installed, Blender's extension validator
(``bl_pkg/cli/blender_ext.py validate``, shipped in the bpy wheel) checks it; a rejection
fails the build.
"""

from __future__ import annotations

import argparse
import importlib.util
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "hunyuan3d_addon"
MANIFEST = ROOT / "blender_manifest.toml"


def version() -> str:
    return tomllib.loads(MANIFEST.read_text(encoding="utf-8"))["version"]


def build(out_dir: Path) -> Path:
    """Write ``dist/hunyuan3d-<version>.zip`` and return its path."""
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / f"hunyuan3d-{version()}.zip"
    tmp = target.with_suffix(".zip.tmp")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.write(MANIFEST, "blender_manifest.toml")
        for path in sorted(PACKAGE.rglob("*")):
            rel = path.relative_to(PACKAGE)
            if path.is_dir() or "__pycache__" in rel.parts or path.suffix == ".pyc" or any(p.startswith(".") for p in rel.parts):
                continue
            zf.write(path, rel.as_posix())
    tmp.replace(target)
    return target


def validator() -> Path | None:
    """Blender's ``blender_ext.py`` inside the installed bpy wheel, if any."""
    spec = importlib.util.find_spec("bpy")
    if spec is None or not spec.submodule_search_locations:
        return None
    for base in spec.submodule_search_locations:
        found = sorted(Path(base).glob("*/scripts/addons_core/bl_pkg/cli/blender_ext.py"))
        if found:
            return found[-1]
    return None


def validate(zip_path: Path) -> str:
    """Run Blender's validator on the zip; raise SystemExit with its output if it rejects it."""
    script = validator()
    if script is None:
        return "bpy is not installed: skipped Blender's validator"
    proc = subprocess.run([sys.executable, str(script), "validate", str(zip_path)], capture_output=True, text=True, check=False)
    output = (proc.stdout + proc.stderr).strip()
    if proc.returncode != 0 or "error" in output.lower():
        raise SystemExit(f"Blender's validator rejected {zip_path.name}:\n{output}")
    return output or "valid"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "dist")
    parser.add_argument("--no-validate", action="store_true")
    args = parser.parse_args(argv)
    zip_path = build(args.out)
    print(zip_path)
    if not args.no_validate:
        print(validate(zip_path), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
