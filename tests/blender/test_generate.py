"""Each mode end to end in real Blender against the stand-in server."""

from __future__ import annotations

import base64
import math
from pathlib import Path

import pytest

from hunyuan3d_addon.core.glb import glb_stats
from tests.blender.conftest import bpy
from tests.conftest import GLB, IMAGE, IMAGE2, MV
from tests.standin import StandIn, models


def hunyuan_objects() -> list:
    coll = bpy.data.collections.get("Hunyuan3D")
    return list(coll.objects) if coll else []


def world_min_z(obj) -> float:
    return min((obj.matrix_world @ v.co).z for v in obj.data.vertices)


def bottom_centre(obj):
    from mathutils import Vector

    pts = [obj.matrix_world @ v.co for v in obj.data.vertices]
    lo = Vector([min(p[i] for p in pts) for i in range(3)])
    hi = Vector([max(p[i] for p in pts) for i in range(3)])
    return Vector(((lo.x + hi.x) / 2, (lo.y + hi.y) / 2, lo.z))


def image_texture_nodes(obj) -> list:
    return [n for slot in obj.material_slots if slot.material and slot.material.node_tree for n in slot.material.node_tree.nodes if n.type == "TEX_IMAGE" and n.image]


def test_image_mode_white_mesh_is_imported_placed_named_and_reduced(addon, scene, standin: StandIn) -> None:
    s = scene.hunyuan3d
    s.image_path = str(IMAGE)
    s.face_count = 10000
    s.random_seed = False
    s.seed = 1234
    s.num_inference_steps = 25
    s.guidance_scale = 6.5
    s.octree_resolution = "384"
    scene.cursor.location = (1.0, 2.0, 3.0)
    assert bpy.ops.hunyuan3d.generate() == {"FINISHED"}
    objs = hunyuan_objects()
    assert len(objs) == 1
    obj = objs[0]
    assert obj.name == "004" and obj.data.name == "004" and obj.type == "MESH"
    assert obj.users_collection[0].name == "Hunyuan3D"
    assert len(obj.data.polygons) <= 10000 and len(obj.data.polygons) > 9000
    assert tuple(obj.location) == pytest.approx((1.0, 2.0, 3.0))
    assert tuple(bottom_centre(obj)) == pytest.approx((1.0, 2.0, 3.0), abs=1e-4)
    assert not any(o.type == "EMPTY" for o in bpy.data.objects)
    assert obj.select_get() and bpy.context.view_layer.objects.active == obj
    assert obj.active_material.name == "Hunyuan3D White" and not image_texture_nodes(obj)
    body = standin.last_body()
    assert base64.b64decode(body.pop("image")) == IMAGE.read_bytes()
    assert body == {"octree_resolution": 384, "num_inference_steps": 25, "guidance_scale": 6.5, "seed": 1234, "face_count": 10000, "texture": False}
    assert s.last_seed == 1234
    tag = obj["hunyuan3d"].to_dict()
    assert tag.pop("job") and tag == {
        "model": "hunyuan-3d-2",
        "image": IMAGE.name,
        "octree_resolution": 384,
        "num_inference_steps": 25,
        "guidance_scale": 6.5,
        "seed": "1234",
        "face_count": 10000,
        "texture": False,
    }


def test_textured_result_keeps_its_image_texture(addon, scene, standin: StandIn) -> None:
    s = scene.hunyuan3d
    s.image_path = str(IMAGE2)
    s.texture = True
    s.prompt = "a wooden toy"
    assert bpy.ops.hunyuan3d.generate() == {"FINISHED"}
    (obj,) = hunyuan_objects()
    assert obj.name == "052"
    nodes = image_texture_nodes(obj)
    assert nodes and nodes[0].image.size[0] > 0
    body = standin.last_body()
    assert body["texture"] is True and body["text"] == "a wooden toy" and body["face_count"] == 40000
    assert 0 <= s.last_seed == body["seed"] and obj["hunyuan3d"]["seed"] == str(body["seed"])
    assert len(obj.data.polygons) == 40000


def test_text_mode(addon, scene, standin: StandIn) -> None:
    s = scene.hunyuan3d
    s.mode = "TEXT"
    s.prompt = "a small red teapot"
    s.image_path = str(IMAGE)  # ignored in text mode
    s.face_count = 40000
    assert bpy.ops.hunyuan3d.generate() == {"FINISHED"}
    (obj,) = hunyuan_objects()
    assert obj.name == "a_small_red_teapot"
    assert "image" not in standin.last_body() and standin.last_body()["text"] == "a small red teapot"
    assert len(obj.data.polygons) == 40000


@pytest.mark.parametrize("file_type", ["glb", "obj", "ply", "stl"])
def test_multiview_mode_each_file_type(addon, scene, standin: StandIn, file_type: str) -> None:
    s = scene.hunyuan3d
    s.mode = "MULTIVIEW"
    s.front_path, s.back_path, s.left_path = (str(MV / f"{v}.png") for v in ("front", "back", "left"))
    s.file_type = file_type
    s.target_face_num = 8000
    s.mv_steps = 40
    s.remove_background = False
    assert bpy.ops.hunyuan3d.generate() == {"FINISHED"}, addon.blender.runtime.RT.last_error
    (obj,) = hunyuan_objects()
    assert obj.name == "front"
    assert 7000 < len(obj.data.polygons) <= 8000
    assert world_min_z(obj) == pytest.approx(0.0, abs=1e-4)
    body = standin.last_body()
    assert {"front_image", "back_image", "left_image"} <= body.keys() and "right_image" not in body
    assert (body["file_type"], body["target_face_num"], body["steps"], body["remove_background"], body["randomize_seed"]) == (file_type, 8000, 40, False, False)
    # every format stands upright the same way (glTF/trimesh are Y-up; Blender is Z-up)
    assert obj.dimensions.z == pytest.approx(1.0837, abs=0.01)


def test_multiview_decimate_kept_as_modifier(addon, scene, standin: StandIn) -> None:
    s = scene.hunyuan3d
    s.mode = "MULTIVIEW"
    s.front_path = str(MV / "front.png")
    s.target_face_num = 5000
    s.keep_modifier = True
    assert bpy.ops.hunyuan3d.generate() == {"FINISHED"}
    (obj,) = hunyuan_objects()
    assert len(obj.data.polygons) == 40000
    assert [m.type for m in obj.modifiers] == ["DECIMATE"]
    evaluated = obj.evaluated_get(bpy.context.evaluated_depsgraph_get())
    assert len(evaluated.data.polygons) <= 5000


def test_no_local_reduction_when_turned_off(addon, scene, standin: StandIn) -> None:
    s = scene.hunyuan3d
    s.mode = "TEXT"
    s.prompt = "x"
    s.face_count = 5000
    s.reduce_locally = False
    bpy.ops.hunyuan3d.generate()
    (obj,) = hunyuan_objects()
    assert len(obj.data.polygons) == 40000 and not obj.modifiers


@pytest.mark.parametrize("replace", [False, True])
def test_retexture_selected_mesh(addon, scene, standin: StandIn, replace: bool) -> None:
    from mathutils import Euler, Matrix, Vector

    bpy.ops.import_scene.gltf(filepath=str(GLB))
    original = next(o for o in bpy.data.objects if o.type == "MESH")
    for o in [o for o in bpy.data.objects if o.type == "EMPTY"]:
        mw = original.matrix_world.copy()
        bpy.data.objects.remove(o)
        original.matrix_world = mw
    original.name = "Statue"
    original.matrix_world = Matrix.LocRotScale(Vector((2, -1, 0.5)), Euler((0, 0, math.radians(30))), Vector((2, 2, 2)))
    original.modifiers.new("Bevel", "BEVEL")  # modifiers are applied in the export
    bpy.context.view_layer.objects.active = original
    original.select_set(True)
    pts = [original.matrix_world @ v.co for v in original.data.vertices]
    before_lo = [min(p[i] for p in pts) for i in range(3)]
    before_hi = [max(p[i] for p in pts) for i in range(3)]
    s = scene.hunyuan3d
    s.mode = "RETEXTURE"
    s.image_path = str(IMAGE)
    s.prompt = "painted bronze"
    s.retexture_replace = replace
    assert bpy.ops.hunyuan3d.generate() == {"FINISHED"}, addon.blender.runtime.RT.last_error
    body = standin.last_body()
    assert body["texture"] is True and body["text"] == "painted bronze"
    sent = base64.b64decode(body["mesh"])
    stats = glb_stats_bytes(sent)
    assert stats.triangles > 40000  # the Bevel modifier was applied
    assert "image" in body
    (new,) = hunyuan_objects()
    assert image_texture_nodes(new)
    if replace:
        assert new.name == "Statue" and "Statue" not in [o.name for o in bpy.data.objects if o != new]
    else:
        assert new.name == "Statue_textured"
        assert bpy.data.objects["Statue"].hide_get() and bpy.data.objects["Statue"].hide_render
    orig_matrix = Matrix.LocRotScale(Vector((2, -1, 0.5)), Euler((0, 0, math.radians(30))), Vector((2, 2, 2)))
    for a, b in zip(new.matrix_world, orig_matrix, strict=True):
        assert tuple(a) == pytest.approx(tuple(b), abs=1e-5)
    # the textured mesh sits where the original was, in world space
    new_pts = [new.matrix_world @ v.co for v in new.data.vertices]
    assert [min(p[i] for p in new_pts) for i in range(3)] == pytest.approx(before_lo, abs=0.02)
    assert [max(p[i] for p in new_pts) for i in range(3)] == pytest.approx(before_hi, abs=0.02)
    assert "export" not in " ".join(o.name for o in bpy.data.objects)


def glb_stats_bytes(data: bytes):
    import tempfile

    with tempfile.NamedTemporaryFile(suffix=".glb", delete=False) as fh:
        fh.write(data)
    return glb_stats(Path(fh.name))


def test_retexture_without_a_selected_mesh_is_a_clear_error(addon, scene, standin: StandIn) -> None:
    scene.hunyuan3d.mode = "RETEXTURE"
    bpy.context.view_layer.objects.active = None
    with pytest.raises(RuntimeError, match="Select a mesh object to retexture"):
        bpy.ops.hunyuan3d.generate()
    empty = bpy.data.objects.new("Nothing", bpy.data.meshes.new("Nothing"))
    scene.collection.objects.link(empty)
    bpy.context.view_layer.objects.active = empty
    with pytest.raises(RuntimeError, match="Nothing has no faces to retexture; nothing was sent"):
        bpy.ops.hunyuan3d.generate()
    assert standin.requests == []
    assert "no faces" in addon.blender.runtime.RT.last_error


def test_image_already_loaded_in_blender_is_used(addon, scene, standin: StandIn) -> None:
    img = bpy.data.images.load(str(IMAGE2))
    img.pack()
    scene.hunyuan3d.image = img
    assert bpy.ops.hunyuan3d.generate() == {"FINISHED"}
    assert base64.b64decode(standin.last_body()["image"]) == IMAGE2.read_bytes()
    assert hunyuan_objects()[0].name == "052"


def test_image_path_loads_a_preview_datablock(addon, scene) -> None:
    scene.hunyuan3d.front_path = str(MV / "front.png")
    assert scene.hunyuan3d.front is not None and scene.hunyuan3d.front.size[0] > 0


def test_v1_synchronous_mode(addon, scene, standin: StandIn, prefs) -> None:
    prefs.call_mode = "SYNC"
    standin.output = "url"
    scene.hunyuan3d.image_path = str(IMAGE)
    assert bpy.ops.hunyuan3d.generate() == {"FINISHED"}
    assert standin.generation_requests()[-1].path == "/v1/hunyuan-3d-2"
    assert len(hunyuan_objects()) == 1


def test_large_result_file_types(addon, scene, standin: StandIn) -> None:
    standin.glb = models.tile_glb(GLB.read_bytes(), 3)
    scene.hunyuan3d.mode = "TEXT"
    scene.hunyuan3d.prompt = "three statues"
    scene.hunyuan3d.face_count = 100000
    assert bpy.ops.hunyuan3d.generate() == {"FINISHED"}
    (obj,) = hunyuan_objects()
    assert 90000 < len(obj.data.polygons) <= 100000
