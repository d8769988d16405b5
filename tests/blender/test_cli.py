"""`blender -c hunyuan3d ...` through its main(argv), in real Blender against the stand-in."""

from __future__ import annotations

import base64
import json
import math
import os
import shutil
import signal
import threading
from pathlib import Path

import pytest

from hunyuan3d_addon.core.glb import glb_stats
from tests.blender.conftest import bpy
from tests.conftest import GLB, IMAGE, IMAGE2, MV
from tests.standin import StandIn


def cli(addon, *argv: str) -> int:
    return addon.blender.cli.main(list(argv))


def blend_objects(path: Path) -> list[str]:
    with bpy.data.libraries.load(str(path)) as (data_from, _):
        return list(data_from.objects)


def blend_tag(path: Path, name: str) -> dict:
    """The ``hunyuan3d`` custom property of an object saved in a .blend."""
    with bpy.data.libraries.load(str(path)) as (_, data_to):
        data_to.objects = [name]
    (obj,) = data_to.objects
    try:
        return obj["hunyuan3d"].to_dict()
    finally:
        bpy.data.objects.remove(obj)


def test_generate_image_to_every_output_format(addon, scene, standin: StandIn, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    outs = [tmp_path / f"chair.{ext}" for ext in ("glb", "blend", "obj", "ply", "stl")]
    code = cli(
        addon, "generate", "--image", str(IMAGE), "--prompt", "a chair", "--texture", "--face-count", "10000", "--octree-resolution", "384",
        "--steps", "25", "--guidance-scale", "6", "--seed", "99", *[a for o in outs for a in ("--out", str(o))], "--base-url", standin.base_url,
    )  # fmt: skip
    out, err = capsys.readouterr()
    assert code == 0, err
    assert out.split() == [str(o.resolve()) for o in outs]
    assert "running" in err and "done: seed 99" in err
    body = standin.last_body()
    assert base64.b64decode(body.pop("image")) == IMAGE.read_bytes()
    assert body == {"text": "a chair", "texture": True, "face_count": 10000, "octree_resolution": 384, "num_inference_steps": 25, "guidance_scale": 6.0, "seed": 99}
    stats = glb_stats(outs[0])
    assert stats.textures == 1 and stats.triangles <= 10000
    assert blend_objects(outs[1]) == ["004"]
    assert outs[2].read_text().count("\nf ") <= 10000
    assert outs[3].read_bytes().startswith(b"ply") and outs[4].stat().st_size > 84


@pytest.mark.parametrize("file_type", ["glb", "obj", "ply", "stl"])
def test_generate_multiview_passes_every_flag(addon, scene, standin: StandIn, tmp_path: Path, file_type: str, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / f"statue.{file_type}"
    code = cli(
        addon, "generate", "--front", str(MV / "front.png"), "--back", str(MV / "back.png"), "--left", str(MV / "left.png"),
        "--right", "https://example.invalid/right.png", "--file-type", file_type, "--num-chunks", "300000", "--face-count", "20000",
        "--steps", "12", "--guidance-scale", "4.5", "--octree-resolution", "128", "--seed", "999999999999", "--no-remove-background",
        "--out", str(out), "--out", str(tmp_path / "statue.blend"), "--base-url", standin.base_url,
    )  # fmt: skip
    assert code == 0, capsys.readouterr().err
    body = standin.last_body()
    assert {k: body[k] for k in body if not k.endswith("_image")} == {
        "file_type": file_type, "num_chunks": 300000, "target_face_num": 20000, "steps": 12, "guidance_scale": 4.5,
        "octree_resolution": 128, "seed": 999999999999, "randomize_seed": False, "remove_background": False,
    }  # fmt: skip
    assert body["right_image"] == "https://example.invalid/right.png" and base64.b64decode(body["back_image"]) == (MV / "back.png").read_bytes()
    assert out.stat().st_size > 1000
    assert blend_objects(tmp_path / "statue.blend") == ["1"]
    tag = blend_tag(tmp_path / "statue.blend", "1")  # the seed beyond 32 bits is kept as text
    assert tag["model"] == "hunyuan3d-2mv" and tag["seed"] == "999999999999" and tag["num_chunks"] == 300000
    assert (tag["front_image"], tag["right_image"], tag["file_type"]) == ("front.png", "right.png", file_type)


def test_generate_prompt_and_retexture(addon, scene, standin: StandIn, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert cli(addon, "generate", "--prompt", "a blue vase", "--out", str(tmp_path / "vase.stl"), "--base-url", standin.base_url, "--sync") == 0
    assert standin.generation_requests()[-1].path == "/v1/hunyuan-3d-2" and standin.last_body()["text"] == "a blue vase"
    assert (tmp_path / "vase.stl").stat().st_size == 84 + 50 * 40000
    assert cli(addon, "generate", "--mesh", str(GLB), "--image", str(IMAGE2), "--out", str(tmp_path / "re.glb"), "--base-url", standin.base_url, "--randomize-seed") == 0
    body = standin.last_body()
    assert base64.b64decode(body["mesh"]) == GLB.read_bytes() and body["texture"] is True
    assert glb_stats(tmp_path / "re.glb").textures == 1


@pytest.mark.parametrize(
    ("argv", "text"),
    [
        (["generate", "--image", "x.png"], "--out"),
        (["generate", "--image", str(IMAGE), "--out", "a.fbx"], "must end in"),
        (["generate", "--image", str(IMAGE), "--steps", "99", "--out", "a.glb"], "num_inference_steps is 99; it must be from 20 to 50"),
        (["generate", "--image", "/missing.png", "--out", "a.glb"], "does not exist"),
        (["generate", "--back", str(IMAGE), "--out", "a.glb"], "multi-view needs --front"),
        (["generate", "--out", "a.glb"], "Give an image or a prompt"),
        (["frobnicate"], "invalid choice"),
    ],
)
def test_bad_arguments_exit_2_with_a_clear_error(addon, scene, standin: StandIn, capsys: pytest.CaptureFixture, argv: list[str], text: str) -> None:
    assert cli(addon, *argv, *(["--base-url", standin.base_url] if argv[0] == "generate" and "--out" in argv else [])) == 2
    err = capsys.readouterr().err
    assert text in err and "hunyuan3d: error:" in err
    assert standin.requests == []


def test_failure_exits_1_with_the_error_sentence(addon, scene, standin: StandIn, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    standin.fail_next(406, path="/v2/hunyuan")
    assert cli(addon, "generate", "--prompt", "x", "--out", str(tmp_path / "x.glb"), "--base-url", standin.base_url) == 1
    assert "hunyuan3d: error: Your Segmind account does not have enough credits (406)." in capsys.readouterr().err
    assert not (tmp_path / "x.glb").exists()


def test_credits(addon, scene, standin: StandIn, capsys: pytest.CaptureFixture) -> None:
    standin.credits = 7.25
    assert cli(addon, "credits") == 0  # the key and base URL come from the preferences
    assert capsys.readouterr().out.strip() == "7.25 credits"


def make_folder(root: Path, singles: int) -> Path:
    src = root / "photos"
    src.mkdir()
    for i in range(singles):
        shutil.copy(IMAGE, src / f"item{i:02d}.png")
    shutil.copy(IMAGE2, src / "broken.png")
    mv = src / "statue"
    mv.mkdir()
    for view in ("front", "back", "left"):
        shutil.copy(MV / f"{view}.png", mv / f"{view}.png")
    return src


def report(out_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (out_dir / "report.jsonl").read_text().splitlines()]


def test_batch_of_12_with_rate_limits_and_one_permanent_failure_then_resume(addon, scene, standin: StandIn, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    src = make_folder(tmp_path, 10)
    broken = base64.b64encode(IMAGE2.read_bytes()).decode()
    standin.fail_next(500, times=math.inf, path="/v2/hunyuan", body={"error": "could not reconstruct"}, when=lambda r: (r.body or {}).get("image") == broken)
    standin.fail_next(429, times=4, path="/v2/hunyuan", headers={"Retry-After": "1"})
    out = tmp_path / "models"
    code = cli(addon, "batch", str(src), "--out-dir", str(out), "--concurrency", "4", "--steps", "40", "--base-url", standin.base_url)
    err = capsys.readouterr().err
    assert code == 1
    lines = report(out)
    assert len(lines) == 12
    done = [e for e in lines if e["status"] == "done"]
    failed = [e for e in lines if e["status"] == "failed"]
    assert len(done) == 11 and len(failed) == 1
    assert failed[0]["key"] == "broken" and "internal error (500): could not reconstruct" in failed[0]["error"]
    assert sorted(p.name for p in out.glob("*.glb")) == sorted([f"item{i:02d}.glb" for i in range(10)] + ["statue.glb"])
    for e in done:
        assert (out / e["output"]).is_file() and e["seed"] is not None and e["seconds"] > 0
    assert "11 done, 1 failed" in err
    assert "[########################] 12/12: 11 done, 1 failed, 0 running" in err  # plain progress lines off a terminal
    bodies = [r.body for r in standin.generation_requests()]
    assert all(b.get("num_inference_steps") == 40 or b.get("steps") == 40 for b in bodies)

    standin._rules.clear()
    n = len(standin.generation_requests())
    assert cli(addon, "batch", str(src), "--out-dir", str(out), "--resume", "--base-url", standin.base_url) == 0
    assert len(standin.generation_requests()) == n + 1
    assert (out / "broken.glb").is_file() and "1 done, 0 failed, 11 skipped" in capsys.readouterr().err


def test_ctrl_c_leaves_a_consistent_report_then_resume_finishes(addon, scene, standin: StandIn, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    src = make_folder(tmp_path, 5)
    standin.job_time = 1.0
    out = tmp_path / "models"
    timer = threading.Timer(1.6, os.kill, (os.getpid(), signal.SIGINT))
    timer.start()
    code = cli(addon, "batch", str(src), "--out-dir", str(out), "--concurrency", "2", "--base-url", standin.base_url)
    timer.join()
    assert code == 130
    lines = report(out)
    keys = [e["key"] for e in lines]
    assert sorted(keys) == sorted({*keys}) and len(keys) == 7  # every item once
    done = [e for e in lines if e["status"] == "done"]
    assert 1 <= len(done) < 7 and all((out / e["output"]).is_file() for e in done)
    assert all(e["status"] == "not done" for e in lines if e["status"] != "done")
    assert not list(out.glob(".*.tmp"))
    standin.job_time = 0
    assert cli(addon, "batch", str(src), "--out-dir", str(out), "--resume", "--base-url", standin.base_url) == 0
    assert len(list(out.glob("*.glb"))) == 7
    # jobs Segmind had when Ctrl-C came were fetched on resume, not submitted (and paid) again
    assert len(standin.generation_requests()) == 7


def test_manifest_problems_are_all_reported_and_nothing_is_sent(addon, scene, standin: StandIn, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    manifest = tmp_path / "jobs.json"
    manifest.write_text(json.dumps({
        "defaults": {"texture": True},
        "jobs": [
            {"image": str(IMAGE), "colour": "red"},
            {"image": str(IMAGE), "num_inference_steps": 500},
            {"image": "missing.png"},
            {"front_image": str(MV / "front.png"), "file_type": "fbx"},
            {"prompt": "fine"},
        ],
    }))  # fmt: skip
    assert cli(addon, "batch", str(manifest), "--out-dir", str(tmp_path / "o"), "--base-url", standin.base_url) == 2
    err = capsys.readouterr().err
    assert "4 problem(s)" in err
    assert "jobs.json entry 1: unknown field 'colour'" in err
    assert "jobs.json entry 2: num_inference_steps is 500; it must be from 20 to 50" in err
    assert "jobs.json entry 3: image file 'missing.png' does not exist" in err
    assert "jobs.json entry 4: file_type is 'fbx'" in err
    assert standin.requests == []

    csv_path = tmp_path / "jobs.csv"
    csv_path.write_text(f"image,prompt,steps,seed\n{IMAGE},a toy,30,1\n{IMAGE},,10,2\n,,,\n")
    assert cli(addon, "batch", str(csv_path), "--out-dir", str(tmp_path / "o"), "--base-url", standin.base_url) == 2
    err = capsys.readouterr().err
    assert "jobs.csv line 3: num_inference_steps is 10" in err and "jobs.csv line 4: Give an image or a prompt" in err
    assert standin.requests == []


def test_manifest_names_stay_inside_the_output_folder_and_never_collide(addon, scene, standin: StandIn, tmp_path: Path) -> None:
    manifest = tmp_path / "jobs.csv"
    manifest.write_text(f"name,image,prompt,seed\n../../evil,{IMAGE},,1\nsame,{IMAGE},,2\nsame,{IMAGE2},,3\n")
    out = tmp_path / "deep" / "out"
    assert cli(addon, "batch", str(manifest), "--out-dir", str(out), "--base-url", standin.base_url) == 0
    names = sorted(p.name for p in out.glob("*.glb"))
    assert "evil.glb" in names and len(names) == 3
    assert not list((tmp_path / "deep").glob("*.glb")) and not list(tmp_path.glob("*.glb"))
    assert len({n for n in names if n.startswith("same-")}) == 2
