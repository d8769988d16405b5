"""Model file -> scene: import with Blender's importers, place, name, collect, reduce, retexture."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import bpy
import numpy as np
from mathutils import Matrix, Vector

COLLECTION = "Hunyuan3D"
PLAIN_MATERIAL = "Hunyuan3D White"


class ImportFailed(Exception):
    """The file could not be imported; the message is one sentence for the user."""


def import_file(path: Path, fmt: str) -> list[bpy.types.Object]:
    """Run Blender's own importer for the format; return the objects it added."""
    before = set(bpy.data.objects)
    filepath = str(path)
    try:
        if fmt == "glb":
            result = bpy.ops.import_scene.gltf(filepath=filepath)
        elif fmt == "obj":
            result = bpy.ops.wm.obj_import(filepath=filepath, forward_axis="NEGATIVE_Z", up_axis="Y")
        elif fmt == "ply":
            result = bpy.ops.wm.ply_import(filepath=filepath, forward_axis="NEGATIVE_Z", up_axis="Y")
        elif fmt == "stl":
            result = bpy.ops.wm.stl_import(filepath=filepath, forward_axis="NEGATIVE_Z", up_axis="Y")
        else:
            raise ImportFailed(f"Blender cannot import {fmt.upper()} files.")
    except RuntimeError as exc:
        detail = str(exc).strip().splitlines()[-1] if str(exc).strip() else "no detail"
        raise ImportFailed(f"Blender could not import the model ({detail}).") from None
    new = [o for o in bpy.data.objects if o not in before]
    if "FINISHED" not in result or not any(o.type == "MESH" for o in new):
        for o in new:
            bpy.data.objects.remove(o)
        raise ImportFailed("Blender could not import the model (the file holds no mesh).")
    return new


def _single_mesh(new: list[bpy.types.Object]) -> bpy.types.Object:
    """Bake transforms into the meshes, drop wrapper empties, join several meshes into one."""
    meshes = [o for o in new if o.type == "MESH"]
    for o in meshes:
        mw = o.matrix_world.copy()
        o.parent = None
        if mw != Matrix.Identity(4):
            o.data.transform(mw)
        o.matrix_world = Matrix.Identity(4)
    for o in new:
        if o.type != "MESH":
            bpy.data.objects.remove(o)
    if len(meshes) > 1:
        with bpy.context.temp_override(active_object=meshes[0], object=meshes[0], selected_objects=meshes, selected_editable_objects=meshes):
            bpy.ops.object.join()
    return meshes[0]


def _coords(mesh: bpy.types.Mesh) -> np.ndarray:
    """Vertex positions, flat (x, y, z, x, ...); the position attribute reads far faster than vertices.co."""
    co = np.empty(len(mesh.vertices) * 3, dtype=np.float32)
    if len(co):  # an empty mesh may have no position attribute at all
        mesh.attributes["position"].data.foreach_get("vector", co)
    return co


def bounds(mesh: bpy.types.Mesh) -> tuple[Vector, Vector]:
    co = _coords(mesh)
    if not len(co):
        return Vector(), Vector()
    # per-axis reductions over strided views: several times faster than reshape(-1, 3).min(axis=0)
    return Vector([float(co[i::3].min()) for i in range(3)]), Vector([float(co[i::3].max()) for i in range(3)])


def collection(scene: bpy.types.Scene) -> bpy.types.Collection:
    coll = bpy.data.collections.get(COLLECTION)
    if coll is None:
        coll = bpy.data.collections.new(COLLECTION)
    if coll.name not in scene.collection.children:
        scene.collection.children.link(coll)
    return coll


def plain_material() -> bpy.types.Material:
    mat = bpy.data.materials.get(PLAIN_MATERIAL)
    if mat is None:
        mat = bpy.data.materials.new(PLAIN_MATERIAL)
        mat.diffuse_color = (0.8, 0.8, 0.8, 1.0)
        if getattr(mat, "node_tree", None) is None and hasattr(mat, "use_nodes"):
            mat.use_nodes = True
        bsdf = mat.node_tree.nodes.get("Principled BSDF") if mat.node_tree else None
        if bsdf is not None:
            bsdf.inputs["Base Color"].default_value = (0.8, 0.8, 0.8, 1.0)
            bsdf.inputs["Roughness"].default_value = 0.6
    return mat


def reduce_faces(obj: bpy.types.Object, target: int, keep_modifier: bool) -> int:
    """Reduce the mesh to at most ``target`` faces with a Decimate modifier; return the face count."""
    faces = len(obj.data.polygons)
    if faces <= target:
        return faces
    mod = obj.modifiers.new("Hunyuan3D Decimate", "DECIMATE")
    mod.decimate_type = "COLLAPSE"
    ratio = target / faces
    for _ in range(4):
        mod.ratio = ratio
        depsgraph = bpy.context.evaluated_depsgraph_get()
        depsgraph.update()
        evaluated = obj.evaluated_get(depsgraph)
        got = len(evaluated.data.polygons)
        if got <= target:
            break
        ratio *= target / got * 0.999
    if keep_modifier:
        return got
    mesh = bpy.data.meshes.new_from_object(evaluated)
    old = obj.data
    obj.modifiers.remove(mod)
    obj.data = mesh
    mesh.name = old.name
    if old.users == 0:
        bpy.data.meshes.remove(old)
    return len(mesh.polygons)


def place_on_cursor(obj: bpy.types.Object, location: Vector) -> None:
    """Move the origin to the bottom centre of the mesh and stand it on ``location``."""
    lo, hi = bounds(obj.data)
    bottom = Vector(((lo.x + hi.x) / 2, (lo.y + hi.y) / 2, lo.z))
    obj.data.transform(Matrix.Translation(-bottom))
    obj.matrix_world = Matrix.Translation(location)


def fit_to_original(obj: bpy.types.Object, matrix: Matrix, lo: Vector, hi: Vector) -> None:
    """Give a retextured mesh the original's transform, its geometry filling the original's bounds."""
    rlo, rhi = bounds(obj.data)
    rsize = max((rhi - rlo)[:]) or 1.0
    scale = max((hi - lo)[:]) / rsize
    fit = Matrix.Translation((lo + hi) / 2) @ Matrix.Scale(scale, 4) @ Matrix.Translation(-(rlo + rhi) / 2)
    obj.data.transform(matrix.inverted_safe() @ fit)
    obj.matrix_world = matrix


def select_only(context: bpy.types.Context, obj: bpy.types.Object) -> None:
    for o in bpy.data.objects:  # not view_layer.objects: its bases can be stale after a removal
        if o.select_get():
            o.select_set(False)
    obj.select_set(True)
    context.view_layer.objects.active = obj


def import_result(context: bpy.types.Context, path: Path, fmt: str, name: str, options: dict[str, Any]) -> bpy.types.Object:
    """Import a stored model and turn it into one placed, named, reduced object."""
    obj = _single_mesh(import_file(path, fmt))
    scene = context.scene
    coll = collection(scene)
    for c in list(obj.users_collection):
        c.objects.unlink(obj)
    coll.objects.link(obj)
    if not obj.data.materials:
        obj.data.materials.append(plain_material())
    target = options.get("face_target")
    if target and options.get("reduce", True):
        reduce_faces(obj, int(target), bool(options.get("keep_modifier")))
    retex = options.get("retexture")
    original = bpy.data.objects.get(retex["object"]) if retex else None
    if retex:
        matrix = Matrix([retex["matrix"][i : i + 4] for i in range(0, 16, 4)])
        fit_to_original(obj, matrix, Vector(retex["bounds"][0]), Vector(retex["bounds"][1]))
        base = retex["object"]
        if original is not None and retex.get("replace"):
            original.name = f"{base}.replaced"  # removed below, once nothing iterates the view layer
            name = base
        else:
            name = f"{base}_textured"
            if original is not None:
                original.hide_render = True
                try:
                    original.hide_set(True)
                except RuntimeError:  # not in this view layer: nothing to hide there
                    pass
    else:
        place_on_cursor(obj, scene.cursor.location.copy())
    obj.name = name
    obj.data.name = name
    if options.get("tag"):
        obj["hunyuan3d"] = options["tag"]  # what made it: job, model, seed, settings, input file names
    select_only(context, obj)
    if original is not None and retex and retex.get("replace"):
        bpy.data.objects.remove(original)
    return obj


def export_for_retexture(context: bpy.types.Context, obj: bpy.types.Object, path: Path) -> dict[str, Any]:
    """Write only ``obj`` as GLB, modifiers applied, in world space; return what import needs."""
    depsgraph = context.evaluated_depsgraph_get()
    mesh = bpy.data.meshes.new_from_object(obj.evaluated_get(depsgraph))
    mesh.transform(obj.matrix_world)
    lo, hi = bounds(mesh)
    temp = bpy.data.objects.new("hunyuan3d_export", mesh)
    context.scene.collection.objects.link(temp)
    selected = [o for o in bpy.data.objects if o.select_get()]
    active = context.view_layer.objects.active
    try:
        select_only(context, temp)
        bpy.ops.export_scene.gltf(
            filepath=str(path), export_format="GLB", use_selection=True, export_apply=True, export_materials="NONE", export_animations=False, export_yup=True
        )
    finally:
        bpy.data.objects.remove(temp)
        bpy.data.meshes.remove(mesh)
        for o in selected:
            o.select_set(True)
        context.view_layer.objects.active = active
    return {"object": obj.name, "matrix": [v for row in obj.matrix_world for v in row], "bounds": [list(lo), list(hi)]}
