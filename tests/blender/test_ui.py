"""The UI path in real Blender: background jobs drained by the pump, cancel, errors, online
access, the panel's draw code in every mode and state, the key kept out of .blend files."""

from __future__ import annotations

import math
import time
import types
from pathlib import Path

import pytest

from hunyuan3d_addon.core.store import JobRecord, ResultStore
from tests.blender.conftest import bpy, pump_until
from tests.blender.layout import RecordingLayout
from tests.conftest import IMAGE
from tests.standin import StandIn


def hunyuan_objects() -> list:
    coll = bpy.data.collections.get("Hunyuan3D")
    return list(coll.objects) if coll else []


def views(addon) -> list:
    return list(addon.blender.runtime.RT.views.values())


def all_finished(addon) -> bool:
    return bool(views(addon)) and all(v.state.finished for v in views(addon))


def test_generate_returns_at_once_and_the_pump_imports(addon, scene, standin: StandIn) -> None:
    standin.job_time = 1.0
    scene.hunyuan3d.image_path = str(IMAGE)
    t0 = time.monotonic()
    assert bpy.ops.hunyuan3d.generate(wait="NO") == {"FINISHED"}
    assert time.monotonic() - t0 < 0.5
    assert hunyuan_objects() == []
    seen = set()

    def done() -> bool:
        seen.update(v.state.value for v in views(addon))
        return all_finished(addon)

    pump_until(addon, done, settle=False)
    assert {"running", "done"} <= seen
    # the tick that saw the job finish only says so; the next tick imports
    assert hunyuan_objects() == [] and views(addon)[0].progress == "Importing"
    assert addon.blender.runtime.RT.status_text == "Hunyuan3D: importing 1 result"
    addon.blender.pump.pump()
    (obj,) = hunyuan_objects()
    assert obj.name == "004"
    (view,) = views(addon)
    assert view.imported == "004" and view.progress == "Imported as 004"
    assert "Segmind credits left: 999" in draw_panel(addon, "HUNYUAN3D_PT_main").texts()
    assert "Hunyuan3D: 1 job running" not in addon.blender.runtime.RT.status_text


def test_several_jobs_at_once(addon, scene, standin: StandIn) -> None:
    standin.job_time = 0.5
    scene.hunyuan3d.mode = "TEXT"
    for prompt in ("a cup", "a vase", "a lamp"):
        scene.hunyuan3d.prompt = prompt
        bpy.ops.hunyuan3d.generate(wait="NO")
    assert "3 jobs running" in (addon.blender.pump.pump() and addon.blender.runtime.RT.status_text)
    pump_until(addon, lambda: all_finished(addon))
    assert sorted(o.name for o in hunyuan_objects()) == ["a_cup", "a_lamp", "a_vase"]


def test_cancel_during_a_job_adds_nothing_and_sends_nothing_more(addon, scene, standin: StandIn) -> None:
    standin.job_time = 30
    scene.hunyuan3d.image_path = str(IMAGE)
    bpy.ops.hunyuan3d.generate(wait="NO")
    pump_until(addon, lambda: views(addon)[0].state.value == "running")
    job_id = views(addon)[0].id
    bpy.ops.hunyuan3d.cancel(job_id=job_id)
    t0 = time.monotonic()
    pump_until(addon, lambda: all_finished(addon), timeout=2)
    assert time.monotonic() - t0 < 0.6
    n = len(standin.requests)
    time.sleep(1.0)
    addon.blender.pump.pump()
    assert len(standin.requests) == n
    assert views(addon)[0].state.value == "cancelled"
    assert hunyuan_objects() == [] and addon.blender.runtime.RT.last_error == ""


@pytest.mark.parametrize(
    ("status", "body", "text"),
    [
        (401, {"error": "bad key"}, "API key is missing or invalid (401)"),
        (406, {"error": "no credits"}, "not have enough credits (406)"),
        (429, {"error": "slow down"}, "limiting the rate of requests (429)"),
        (500, {"error": "boom"}, "internal error (500): boom"),
    ],
)
def test_errors_show_their_message_and_add_nothing(addon, scene, standin: StandIn, status: int, body: dict, text: str) -> None:
    standin.fail_next(status, times=math.inf, path="/v2/hunyuan", body=body, headers={"Retry-After": "0"})
    scene.hunyuan3d.image_path = str(IMAGE)
    with pytest.raises(RuntimeError, match=text.replace("(", r"\(").replace(")", r"\)")):
        bpy.ops.hunyuan3d.generate()
    assert text in addon.blender.runtime.RT.last_error
    assert hunyuan_objects() == []
    layout = draw_panel(addon, "HUNYUAN3D_PT_main")
    assert any(text in t for t in layout.texts())
    bpy.ops.hunyuan3d.dismiss_error()
    assert addon.blender.runtime.RT.last_error == ""


def test_garbage_body_is_reported_and_adds_nothing(addon, scene, standin: StandIn, prefs) -> None:
    prefs.call_mode = "SYNC"
    standin.fail_next(200, path="/v1/hunyuan", body=b"<html>not a model</html>", headers={"Content-Type": "text/html"})
    scene.hunyuan3d.image_path = str(IMAGE)
    bpy.ops.hunyuan3d.generate(wait="NO")
    pump_until(addon, lambda: all_finished(addon))
    assert "server returned no model" in addon.blender.runtime.RT.last_error
    assert hunyuan_objects() == []


def test_online_access_off_sends_nothing_and_says_how_to_allow_it(addon, scene, standin: StandIn) -> None:
    bpy.context.preferences.system.use_online_access = False
    try:
        if bpy.app.online_access:
            pytest.skip("online access cannot be turned off in this build")
        scene.hunyuan3d.image_path = str(IMAGE)
        assert not bpy.ops.hunyuan3d.generate.poll()
        layout = draw_panel(addon, "HUNYUAN3D_PT_main")
        assert any("--online-mode" in t or "Allow Online Access" in t for t in layout.texts())
        with pytest.raises(RuntimeError):
            bpy.ops.hunyuan3d.generate()
        assert standin.requests == [] and hunyuan_objects() == []
    finally:
        bpy.context.preferences.system.use_online_access = True


def test_no_key_disables_generate_and_says_where_to_set_it(addon, scene, standin: StandIn, prefs, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SEGMIND_API_KEY", raising=False)
    prefs.api_key = ""
    assert not bpy.ops.hunyuan3d.generate.poll()
    layout = draw_panel(addon, "HUNYUAN3D_PT_main")
    assert any("Preferences > Add-ons > Hunyuan3D" in t for t in layout.texts())
    monkeypatch.setenv("SEGMIND_API_KEY", standin.api_key)
    assert bpy.ops.hunyuan3d.generate.poll()


def test_the_key_is_not_saved_in_the_blend_file(addon, scene, standin: StandIn, tmp_path: Path) -> None:
    scene.hunyuan3d.image_path = str(IMAGE)
    bpy.ops.hunyuan3d.generate()
    bpy.ops.hunyuan3d.check_key()
    blend = tmp_path / "scene.blend"
    bpy.ops.wm.save_as_mainfile(filepath=str(blend), copy=True, compress=False)
    data = blend.read_bytes()
    assert b"Hunyuan3D" in data and len(hunyuan_objects()) == 1
    assert standin.api_key.encode() not in data
    for record in (tmp_path / "results").glob("*.json"):
        assert standin.api_key not in record.read_text()


def test_check_key_shows_credits_or_the_exact_error(addon, scene, standin: StandIn, prefs) -> None:
    standin.credits = 12.5
    assert bpy.ops.hunyuan3d.check_key() == {"FINISHED"}
    assert prefs.check_result == "The key works: 12.5 credits left."
    prefs.api_key = "wrong-key-000"
    with pytest.raises(RuntimeError):
        bpy.ops.hunyuan3d.check_key()
    assert "API key is missing or invalid (401)" in prefs.check_result


def test_corrupt_result_is_reported_and_kept_for_retry(addon, scene, standin: StandIn, tmp_path: Path) -> None:
    scene.hunyuan3d.image_path = str(IMAGE)
    bpy.ops.hunyuan3d.generate()
    (first,) = hunyuan_objects()
    bpy.data.objects.remove(first)
    store = ResultStore(tmp_path / "results")
    record = store.finished()[0]
    path = store.result_path(record)
    good = path.read_bytes()
    path.write_bytes(good[:20] + b"\0" * 100)
    with pytest.raises(RuntimeError, match="could not import"):
        bpy.ops.hunyuan3d.import_result(job_id=record.id)
    assert path.exists() and hunyuan_objects() == []
    assert "History > Import again" in addon.blender.runtime.RT.last_error
    path.write_bytes(good)
    assert bpy.ops.hunyuan3d.import_result(job_id=record.id) == {"FINISHED"}
    assert [o.name for o in hunyuan_objects()] == ["004"]


def test_background_generate_fails_when_the_result_does_not_import(addon, scene, standin: StandIn, tmp_path: Path) -> None:
    """A script calling the operator learns of a failed import, and the stored file stays for retry."""
    from tests.standin import models

    standin.glb = models.join_glb({"asset": {"version": "2.0"}, "scene": 0, "scenes": [{"nodes": [0]}], "nodes": [{"name": "only an empty"}]}, b"")
    scene.hunyuan3d.image_path = str(IMAGE)
    with pytest.raises(RuntimeError, match="holds no mesh"):
        bpy.ops.hunyuan3d.generate(wait="YES")
    assert hunyuan_objects() == [] and not [o for o in bpy.data.objects if o.type == "EMPTY"]
    (record,) = ResultStore(tmp_path / "results").finished()
    assert ResultStore(tmp_path / "results").result_path(record).read_bytes() == standin.glb


def test_history_lists_results_newest_first_and_imports_again(addon, scene, standin: StandIn) -> None:
    scene.hunyuan3d.mode = "TEXT"
    for prompt in ("first one", "second one"):
        scene.hunyuan3d.prompt = prompt
        bpy.ops.hunyuan3d.generate()
    layout = draw_panel(addon, "HUNYUAN3D_PT_history")
    names = [t for t in layout.texts() if "one" in t]
    assert names[0].startswith("second_one") and names[1].startswith("first_one")
    assert layout.operators().count("hunyuan3d.import_result") == 2


def test_pending_jobs_are_offered_for_resume_and_imported(addon, scene, standin: StandIn, tmp_path: Path) -> None:
    from hunyuan3d_addon.core.client import CancelToken, Client, ClientConfig

    client = Client(ClientConfig(api_key=standin.api_key, base_url=standin.base_url))
    sub = client.submit("hunyuan-3d-2", {"text": "left over"}, CancelToken())
    store = ResultStore(tmp_path / "results")
    store.save(JobRecord(id="20261121-000000-aaaaaa", endpoint="hunyuan-3d-2", name="left_over", status="submitted", request_id=sub.request_id, submitted=time.time(), extra={"import": {"face_target": 40000}}))
    addon.blender.operators.find_pending()
    assert len(addon.blender.runtime.RT.pending) == 1
    layout = draw_panel(addon, "HUNYUAN3D_PT_main")
    assert any("unfinished job" in t for t in layout.texts())
    assert bpy.ops.hunyuan3d.resume_pending() == {"FINISHED"}
    assert [o.name for o in hunyuan_objects()] == ["left_over"]
    assert store.load("20261121-000000-aaaaaa").status == "done"
    assert len(standin.generation_requests()) == 1


def draw_panel(addon, name: str, context=None) -> RecordingLayout:
    cls = getattr(addon.blender.panels, name)
    fake = types.SimpleNamespace(layout=RecordingLayout())
    cls.draw(fake, context or bpy.context)
    return fake.layout


@pytest.mark.parametrize("mode", ["IMAGE", "MULTIVIEW", "TEXT", "RETEXTURE"])
def test_panels_draw_in_every_mode(addon, scene, mode: str) -> None:
    s = scene.hunyuan3d
    s.mode = mode
    s.front_path = s.image_path = str(IMAGE)
    main = draw_panel(addon, "HUNYUAN3D_PT_main")
    assert "hunyuan3d.generate" in main.operators()
    advanced = draw_panel(addon, "HUNYUAN3D_PT_advanced")
    props = main.props() + advanced.props()
    if mode == "MULTIVIEW":
        expected = {"front_path", "back_path", "left_path", "right_path", "target_face_num", "mv_steps", "mv_guidance_scale", "mv_octree_resolution", "num_chunks", "file_type", "remove_background", "seed"}
    else:
        expected = {"face_count", "num_inference_steps", "guidance_scale", "octree_resolution", "seed"}
        expected |= {"image_path"} if mode in ("IMAGE", "RETEXTURE") else {"prompt"}
        if mode != "RETEXTURE":
            expected.add("texture")
    assert expected <= set(props), expected - set(props)
    if mode in ("IMAGE", "MULTIVIEW"):
        assert any(e[0] == "template_icon" for e in main.log)
    if mode == "RETEXTURE":
        assert "Select a mesh object to retexture" in main.texts()


def test_jobs_panel_draws_running_and_finished_jobs(addon, scene, standin: StandIn) -> None:
    standin.job_time = 30
    scene.hunyuan3d.image_path = str(IMAGE)
    bpy.ops.hunyuan3d.generate(wait="NO")
    pump_until(addon, lambda: views(addon)[0].state.value == "running")
    assert addon.blender.panels.HUNYUAN3D_PT_jobs.poll(bpy.context)
    layout = draw_panel(addon, "HUNYUAN3D_PT_jobs")
    assert "hunyuan3d.cancel" in layout.operators()
    assert any(e[0] == "progress" for e in layout.log)
    bpy.ops.hunyuan3d.cancel()
    pump_until(addon, lambda: all_finished(addon))
    layout = draw_panel(addon, "HUNYUAN3D_PT_jobs")
    assert "hunyuan3d.clear_finished" in layout.operators() and "Cancelled" in layout.texts()
    bpy.ops.hunyuan3d.clear_finished()
    assert not addon.blender.panels.HUNYUAN3D_PT_jobs.poll(bpy.context)


def test_preferences_draw(addon, prefs) -> None:
    fake = types.SimpleNamespace(layout=RecordingLayout(), **{k: getattr(prefs, k) for k in prefs.bl_rna.properties.keys() if k != "rna_type"})
    fake.layout = RecordingLayout()
    for name in prefs.bl_rna.properties.keys():
        if name != "rna_type":
            setattr(fake, name, getattr(prefs, name))
    fake.bl_rna = prefs.bl_rna
    type(prefs).draw(fake, bpy.context)
    assert {"api_key", "base_url", "call_mode", "max_jobs", "proxy", "ca_bundle", "results_dir", "connect_timeout", "read_timeout"} <= set(fake.layout.props())
    assert "hunyuan3d.check_key" in fake.layout.operators()
    assert prefs.bl_rna.properties["api_key"].subtype == "PASSWORD"


def test_presets_set_steps_and_resolution(addon, scene) -> None:
    s = scene.hunyuan3d
    s.preset = "HIGH"
    assert (s.num_inference_steps, s.octree_resolution, s.mv_steps, s.mv_octree_resolution) == (50, "512", 50, 512)
    s.preset = "FAST"
    assert (s.num_inference_steps, s.octree_resolution) == (20, "256")


def test_loading_a_file_keeps_jobs_running(addon, scene, standin: StandIn, tmp_path: Path) -> None:
    standin.job_time = 1.0
    scene.hunyuan3d.mode = "TEXT"
    scene.hunyuan3d.prompt = "survivor"
    bpy.ops.hunyuan3d.generate(wait="NO")
    bpy.ops.wm.read_homefile(use_empty=True)
    pump_until(addon, lambda: all_finished(addon))
    assert [o.name for o in hunyuan_objects()] == ["survivor"]


def test_unregister_cancels_jobs_and_stops_the_pump(addon, scene, standin: StandIn) -> None:
    standin.job_time = 30
    scene.hunyuan3d.mode = "TEXT"
    scene.hunyuan3d.prompt = "x"
    bpy.ops.hunyuan3d.generate(wait="NO")
    pump_until(addon, lambda: views(addon)[0].state.value == "running")
    runner = addon.blender.runtime.RT.runner
    job = next(iter(runner.jobs.values()))
    addon.unregister()
    try:
        assert job.wait(1.0) and job.state.value == "cancelled"
        assert not bpy.app.timers.is_registered(addon.blender.pump._timer)
        assert not hasattr(bpy.types.Scene, "hunyuan3d") or "hunyuan3d" not in bpy.types.Scene.bl_rna.properties
        assert not hasattr(bpy.ops.hunyuan3d, "generate") or not hasattr(bpy.types, "HUNYUAN3D_OT_generate")
    finally:
        addon.register()
    assert bpy.app.timers.is_registered(addon.blender.pump._timer)


def test_one_undo_step_undoes_the_import(addon, scene, standin: StandIn) -> None:
    bpy.ops.mesh.primitive_cube_add()
    scene.hunyuan3d.image_path = str(IMAGE)
    bpy.ops.hunyuan3d.generate(wait="NO")
    bpy.ops.ed.undo_push(message="before the import")
    pump_until(addon, lambda: all_finished(addon))
    assert [o.name for o in hunyuan_objects()] == ["004"]
    bpy.ops.ed.undo()
    assert hunyuan_objects() == [] and "Cube" in bpy.data.objects
    bpy.ops.ed.redo()
    assert [o.name for o in hunyuan_objects()] == ["004"]
