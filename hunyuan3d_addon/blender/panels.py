"""The N-panel: View3D > Sidebar > Hunyuan3D."""

from __future__ import annotations

import time

import bpy

from ..core.jobs import JobState
from . import preferences
from .props import settings
from .runtime import RT, history

STATE_ICONS = {JobState.DONE: "CHECKMARK", JobState.FAILED: "ERROR", JobState.CANCELLED: "X"}


class _Base:
    bl_space_type = "VIEW_3D"
    bl_region_type = "UI"
    bl_category = "Hunyuan3D"


def draw_slot(layout: bpy.types.UILayout, s: bpy.types.PropertyGroup, slot: str, label: str) -> None:
    box = layout.box()
    box.label(text=label)
    box.prop(s, f"{slot}_path", text="File")
    box.prop_search(s, slot, bpy.data, "images", text="Image")
    img = getattr(s, slot)
    if img is not None and img.preview is not None:
        box.template_icon(icon_value=img.preview.icon_id, scale=5.0)


class HUNYUAN3D_PT_main(_Base, bpy.types.Panel):
    bl_label = "Hunyuan3D"
    bl_idname = "HUNYUAN3D_PT_main"

    def draw(self, context: bpy.types.Context) -> None:
        layout = self.layout
        s = settings(context)
        layout.prop(s, "mode", expand=True)
        if s.mode == "IMAGE":
            draw_slot(layout, s, "image", "Photo")
            layout.prop(s, "prompt", text="Prompt (optional)")
        elif s.mode == "MULTIVIEW":
            draw_slot(layout, s, "front", "Front (required)")
            for slot in ("back", "left", "right"):
                draw_slot(layout, s, slot, slot.title())
        elif s.mode == "TEXT":
            layout.prop(s, "prompt")
        else:
            obj = context.active_object
            if obj is None or obj.type != "MESH":
                layout.label(text="Select a mesh object to retexture", icon="INFO")
            else:
                layout.label(text=f"Retexture: {obj.name}", icon="MESH_DATA")
            draw_slot(layout, s, "image", "Reference photo (optional)")
            layout.prop(s, "prompt", text="Prompt (optional)")
            layout.prop(s, "retexture_replace")

        col = layout.column(align=True)
        col.prop(s, "preset")
        if s.mode != "MULTIVIEW" and s.mode != "RETEXTURE":
            col.prop(s, "texture")
        col.prop(s, "target_face_num" if s.mode == "MULTIVIEW" else "face_count")
        row = col.row(align=True)
        row.prop(s, "random_seed", text="Random", toggle=True)
        sub = row.row(align=True)
        sub.enabled = not s.random_seed
        sub.prop(s, "seed")
        if s.last_seed >= 0:
            col.label(text=f"Last seed used: {s.last_seed}")

        problem = preferences.network_problem(context)
        row = layout.row()
        row.scale_y = 1.5
        row.enabled = not problem
        row.operator("hunyuan3d.generate", icon="MESH_MONKEY")
        if problem:
            layout.label(text=problem, icon="ERROR")
        elif RT.credits_left is not None:
            layout.label(text=f"Segmind credits left: {RT.credits_left:g}")
        if RT.last_error:
            box = layout.box()
            row = box.row()
            row.alert = True
            row.label(text=RT.last_error, icon="ERROR")
            row.operator("hunyuan3d.dismiss_error", text="", icon="X")
        if RT.pending:
            box = layout.box()
            box.label(text=f"{len(RT.pending)} unfinished job(s) from an earlier session", icon="TIME")
            row = box.row()
            row.operator("hunyuan3d.resume_pending", text="Resume")
            row.operator("hunyuan3d.resume_pending", text="Discard").discard = True


class HUNYUAN3D_PT_advanced(_Base, bpy.types.Panel):
    bl_label = "Advanced"
    bl_parent_id = "HUNYUAN3D_PT_main"
    bl_options = {"DEFAULT_CLOSED"}

    def draw(self, context: bpy.types.Context) -> None:
        layout = self.layout
        layout.use_property_split = True
        s = settings(context)
        col = layout.column()
        if s.mode == "MULTIVIEW":
            for name in ("mv_steps", "mv_guidance_scale", "mv_octree_resolution", "num_chunks", "file_type", "remove_background"):
                col.prop(s, name)
        else:
            for name in ("num_inference_steps", "guidance_scale", "octree_resolution"):
                col.prop(s, name)
        col.separator()
        col.prop(s, "reduce_locally")
        sub = col.column()
        sub.enabled = s.reduce_locally
        sub.prop(s, "keep_modifier")


class HUNYUAN3D_PT_jobs(_Base, bpy.types.Panel):
    bl_label = "Jobs"
    bl_parent_id = "HUNYUAN3D_PT_main"

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        return bool(RT.views)

    def draw(self, context: bpy.types.Context) -> None:
        layout = self.layout
        runner = RT.runner
        for view in reversed(list(RT.views.values())):
            box = layout.box()
            row = box.row()
            row.label(text=view.name, icon=STATE_ICONS.get(view.state, "SORTTIME"))
            job = runner.jobs.get(view.id) if runner else None
            elapsed = job.elapsed if job else view.elapsed
            row.label(text=time.strftime("%M:%S", time.gmtime(elapsed)))
            if not view.state.finished:
                row.operator("hunyuan3d.cancel", text="", icon="CANCEL").job_id = view.id
                if hasattr(box, "progress"):
                    box.progress(factor=view.fraction, type="BAR", text=view.progress)
                else:
                    box.label(text=f"{view.progress} ({view.fraction:.0%})")
            else:
                sub = box.row()
                sub.alert = view.state is JobState.FAILED
                sub.label(text=view.error or view.progress)
        if any(v.state.finished for v in RT.views.values()):
            layout.operator("hunyuan3d.clear_finished", icon="TRASH")


class HUNYUAN3D_PT_history(_Base, bpy.types.Panel):
    bl_label = "History"
    bl_parent_id = "HUNYUAN3D_PT_main"
    bl_options = {"DEFAULT_CLOSED"}

    def draw(self, context: bpy.types.Context) -> None:
        layout = self.layout
        records = history(context)
        if not records:
            layout.label(text="No stored results yet")
        for rec in records:
            row = layout.row()
            when = time.strftime("%Y-%m-%d %H:%M", time.localtime(rec.created))
            stats = rec.result_stats.get("triangles")
            row.label(text=f"{rec.name or rec.id}  {when}" + (f"  {stats:,} tris" if stats else ""))
            row.operator("hunyuan3d.import_result", text="Import again", icon="IMPORT").job_id = rec.id


classes = (HUNYUAN3D_PT_main, HUNYUAN3D_PT_advanced, HUNYUAN3D_PT_jobs, HUNYUAN3D_PT_history)
