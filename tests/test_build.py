"""The installable zip: layout, and Blender's own validator accepts it."""

from __future__ import annotations

import importlib.util
import sys
import zipfile
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))
import build_zip


def test_zip_has_the_manifest_at_its_root_and_the_package_contents(tmp_path: Path) -> None:
    zip_path = build_zip.build(tmp_path)
    assert zip_path.name == f"hunyuan3d-{build_zip.version()}.zip"
    names = zipfile.ZipFile(zip_path).namelist()
    assert "blender_manifest.toml" in names and "__init__.py" in names
    assert {"core/client.py", "core/params.py", "blender/operators.py", "blender/cli.py"} <= set(names)
    assert not any("__pycache__" in n or n.endswith(".pyc") for n in names)


@pytest.mark.skipif(importlib.util.find_spec("bpy") is None, reason="Blender's validator ships in the bpy wheel")
def test_blenders_validator_accepts_the_zip(tmp_path: Path) -> None:
    zip_path = build_zip.build(tmp_path)
    assert "Success" in build_zip.validate(zip_path)


@pytest.mark.skipif(importlib.util.find_spec("bpy") is None, reason="Blender's validator ships in the bpy wheel")
def test_blenders_validator_rejections_fail_the_build(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bad = tmp_path / "bad_manifest.toml"
    bad.write_text(build_zip.MANIFEST.read_text().replace('id = "hunyuan3d"', 'id = "hunyuan 3d!"'))
    monkeypatch.setattr(build_zip, "MANIFEST", bad)
    zip_path = build_zip.build(tmp_path / "out")
    with pytest.raises(SystemExit, match="rejected"):
        build_zip.validate(zip_path)
