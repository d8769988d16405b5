"""Batch sources without Blender: folders, JSON and CSV manifests, names, aliases."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from hunyuan3d_addon.core.batch import ManifestError, discover, safe_name
from hunyuan3d_addon.core.params import MultiViewParams, SingleParams
from tests.conftest import IMAGE, MV


def test_the_readme_manifest_example(tmp_path: Path) -> None:
    shutil.copy(IMAGE, tmp_path / "chair.png")
    (tmp_path / "statue").mkdir()
    shutil.copy(MV / "front.png", tmp_path / "statue" / "front.png")
    shutil.copy(MV / "back.png", tmp_path / "statue" / "back.png")
    manifest = tmp_path / "jobs.json"
    manifest.write_text(
        json.dumps(
            {
                "defaults": {"texture": True, "steps": 40},
                "jobs": [
                    {"image": "chair.png", "seed": 7},
                    {"name": "statue", "front": "statue/front.png", "back": "statue/back.png", "file_type": "obj"},
                    {"prompt": "a brass teapot", "face_count": 20000},
                ],
            }
        )
    )
    chair, statue, teapot = discover(manifest)
    assert isinstance(chair.params, SingleParams) and (chair.name, chair.params.seed, chair.params.texture, chair.params.num_inference_steps) == ("chair", 7, True, 40)
    assert isinstance(statue.params, MultiViewParams) and (statue.name, statue.params.file_type, statue.params.steps) == ("statue", "obj", 40)
    assert statue.params.back_image == str(tmp_path / "statue" / "back.png")
    assert (teapot.name, teapot.params.text, teapot.params.face_count) == ("a_brass_teapot", "a brass teapot", 20000)


def test_folder_items_and_views_without_front(tmp_path: Path) -> None:
    shutil.copy(IMAGE, tmp_path / "a.png")
    (tmp_path / "b").mkdir()
    shutil.copy(MV / "back.png", tmp_path / "b" / "back.png")
    with pytest.raises(ManifestError, match="has back views but no front"):
        discover(tmp_path)
    with pytest.raises(ManifestError, match="no such folder or manifest"):
        discover(tmp_path / "missing")


@pytest.mark.parametrize(("text", "name"), [("../../etc/passwd", "passwd"), ("a b/c?d", "c_d"), ("..", "model"), ("C:\\x\\y.png", "y.png"), (".hidden", "hidden")])
def test_safe_names(text: str, name: str) -> None:
    assert safe_name(text) == name


def test_a_later_batch_never_overwrites_another_inputs_result(standin, tmp_path: Path) -> None:
    from hunyuan3d_addon.core.batch import Batch
    from tests.conftest import IMAGE2, make_config

    out = tmp_path / "out"
    out.mkdir()
    (out / "mine.glb").write_bytes(b"the user's own file")
    for folder, image in (("a", IMAGE), ("b", IMAGE2), ("a", IMAGE)):
        src = tmp_path / folder
        src.mkdir(exist_ok=True)
        shutil.copy(image, src / "chair.png")
        shutil.copy(image, src / "mine.png")
        Batch(discover(src), out, make_config(standin)).run()
    names = sorted(p.name for p in out.glob("*.glb"))
    assert len(names) == 5 and "chair.glb" in names and "mine.glb" in names
    assert (out / "mine.glb").read_bytes() == b"the user's own file"
    # the same input again rewrites its own result, not a third copy
    assert len([n for n in names if n.startswith("chair")]) == 2
