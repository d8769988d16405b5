"""Scene settings: inputs and every parameter of both endpoints, with their documented limits."""

from __future__ import annotations

import os

import bpy
from bpy.props import BoolProperty, EnumProperty, FloatProperty, IntProperty, PointerProperty, StringProperty

SLOTS = ("image", "front", "back", "left", "right")
PRESETS = {"FAST": (20, 256), "STANDARD": (30, 384), "HIGH": (50, 512)}
INT_MAX = 2**31 - 1


def _load_slot(slot: str):
    def update(self: HUNYUAN3D_PG_settings, context: bpy.types.Context) -> None:
        path = getattr(self, f"{slot}_path")
        if not path:
            return
        full = bpy.path.abspath(path)
        if os.path.isfile(full):
            try:
                img = bpy.data.images.load(full, check_existing=True)
            except RuntimeError:
                return  # not an image Blender reads: Generate reports it clearly
            setattr(self, slot, img)
            img.preview_ensure()

    return update


def _apply_preset(self: HUNYUAN3D_PG_settings, context: bpy.types.Context) -> None:
    if self.preset in PRESETS:
        steps, octree = PRESETS[self.preset]
        self.num_inference_steps = steps
        self.octree_resolution = str(octree)
        self.mv_steps = steps
        self.mv_octree_resolution = octree


def _image_poll(self: HUNYUAN3D_PG_settings, image: bpy.types.Image) -> bool:
    return image.type == "IMAGE"


class HUNYUAN3D_PG_settings(bpy.types.PropertyGroup):
    mode: EnumProperty(
        name="Mode",
        items=[
            ("IMAGE", "Image", "One photo to a 3D model", "IMAGE_DATA", 0),
            ("MULTIVIEW", "Multi-view", "Front, back, left and right photos to a 3D model", "VIEW_CAMERA", 1),
            ("TEXT", "Text", "A prompt to a 3D model", "FONT_DATA", 2),
            ("RETEXTURE", "Retexture", "Paint a new texture on the selected mesh", "TEXTURE", 3),
        ],
        default="IMAGE",
    )
    # Inputs: a file path (loads a datablock for the preview) or an image already in Blender.
    image_path: StringProperty(name="Image", subtype="FILE_PATH", update=_load_slot("image"))
    image: PointerProperty(name="Image", type=bpy.types.Image, poll=_image_poll)
    front_path: StringProperty(name="Front", subtype="FILE_PATH", update=_load_slot("front"))
    front: PointerProperty(name="Front", type=bpy.types.Image, poll=_image_poll)
    back_path: StringProperty(name="Back", subtype="FILE_PATH", update=_load_slot("back"))
    back: PointerProperty(name="Back", type=bpy.types.Image, poll=_image_poll)
    left_path: StringProperty(name="Left", subtype="FILE_PATH", update=_load_slot("left"))
    left: PointerProperty(name="Left", type=bpy.types.Image, poll=_image_poll)
    right_path: StringProperty(name="Right", subtype="FILE_PATH", update=_load_slot("right"))
    right: PointerProperty(name="Right", type=bpy.types.Image, poll=_image_poll)
    prompt: StringProperty(name="Prompt", description="What to make (optional with an image)")

    preset: EnumProperty(
        name="Quality",
        items=[("FAST", "Fast", "20 steps, octree 256"), ("STANDARD", "Standard", "30 steps, octree 384"), ("HIGH", "High", "50 steps, octree 512"), ("CUSTOM", "Custom", "Your own steps and resolution")],
        default="CUSTOM",
        update=_apply_preset,
    )
    texture: BoolProperty(name="Texture", default=False, description="Paint a texture on the mesh (slower, about 100 s)")
    random_seed: BoolProperty(name="Random Seed", default=True, description="Draw a new seed for each job (the seed used is shown afterwards)")
    seed: IntProperty(name="Seed", default=0, min=0, max=INT_MAX)
    last_seed: IntProperty(name="Last Seed", default=-1, min=-1, max=INT_MAX, description="The seed the last job used")

    # hunyuan-3d-2
    octree_resolution: EnumProperty(name="Octree Resolution", items=[("256", "256", ""), ("384", "384", ""), ("512", "512", "")], default="256", description="Higher is finer and slower")
    num_inference_steps: IntProperty(name="Steps", default=30, min=20, max=50)
    guidance_scale: FloatProperty(name="Guidance Scale", default=5.5, min=1.0, max=15.0)
    face_count: IntProperty(name="Face Count", default=40000, min=5000, max=100000, description="Most faces of the mesh (the server honours it for textured meshes; otherwise the mesh is reduced after import)")

    # hunyuan3d-2mv
    mv_steps: IntProperty(name="Steps", default=30, min=1, max=100)
    mv_guidance_scale: FloatProperty(name="Guidance Scale", default=5.0, min=0.0, max=100.0)
    mv_octree_resolution: IntProperty(name="Octree Resolution", default=256, min=16, max=512)
    num_chunks: IntProperty(name="Chunks", default=200000, min=1000, max=5000000)
    target_face_num: IntProperty(name="Target Faces", default=10000, min=100, max=1000000, description="Faces of the simplified mesh")
    file_type: EnumProperty(name="File Type", items=[(t, t.upper(), "") for t in ("glb", "obj", "ply", "stl")], default="glb")
    remove_background: BoolProperty(name="Remove Background", default=True)

    # After import
    reduce_locally: BoolProperty(name="Reduce to Face Count", default=True, description="After import, reduce a mesh with more faces than the target (Decimate)")
    keep_modifier: BoolProperty(name="Keep as Modifier", default=False, description="Keep the Decimate modifier instead of applying it")
    retexture_replace: BoolProperty(name="Replace Original", default=False, description="Delete the original instead of hiding it")

    def face_target(self) -> int:
        return self.target_face_num if self.mode == "MULTIVIEW" else self.face_count


def settings(context: bpy.types.Context) -> HUNYUAN3D_PG_settings:
    return context.scene.hunyuan3d


def register_props() -> None:
    bpy.types.Scene.hunyuan3d = PointerProperty(type=HUNYUAN3D_PG_settings)


def unregister_props() -> None:
    del bpy.types.Scene.hunyuan3d
