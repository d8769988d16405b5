"""Operators: generate, cancel, import a stored result, check the key, resume, dismiss."""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

import bpy
from bpy.props import EnumProperty, StringProperty

from ..core import errors as E
from ..core.client import Client
from ..core.jobs import JobSpec, JobState
from ..core.params import MultiViewParams, Params, SingleParams
from . import importer, preferences, pump
from .props import SLOTS, HUNYUAN3D_PG_settings, settings
from .runtime import RT, JobView, runner, store

IMAGE_EXT = {"PNG": ".png", "JPEG": ".jpg", "WEBP": ".webp"}


class InputsFolder:
    """A folder in the results folder for files made from Blender data, created on first use."""

    def __init__(self, context: bpy.types.Context) -> None:
        self.context = context
        self._path: Path | None = None

    def __truediv__(self, name: str) -> Path:
        if self._path is None:
            self._path = Path(tempfile.mkdtemp(prefix="inputs-", dir=store(self.context).ensure()))
        return self._path / name


def fail(op: bpy.types.Operator, message: str, warn: bool = False) -> set[str]:
    """Report a failure; an error (not a warning, such as a cancel) stays in the panel until dismissed."""
    if not warn:
        RT.last_error = message
    op.report({"WARNING" if warn else "ERROR"}, message)
    return {"CANCELLED"}


def image_file(img: bpy.types.Image, folder: InputsFolder) -> str:
    """A file holding this image, for upload: its own file, its packed bytes, or a saved copy."""
    base = bpy.path.clean_name(Path(img.filepath).stem if img.filepath else Path(img.name).stem)
    if img.packed_file is not None:
        path = folder / f"{base}{IMAGE_EXT.get(img.file_format, '.png')}"
        path.write_bytes(img.packed_file.data)
        return str(path)
    if img.source == "FILE":
        full = bpy.path.abspath(img.filepath, library=img.library)
        if os.path.isfile(full):
            return full
    path = folder / f"{base}.png"
    img.save_render(str(path))
    return str(path)


def slot_input(s: HUNYUAN3D_PG_settings, slot: str, folder: InputsFolder) -> str | None:
    """The path or URL of an input slot: the typed path wins, else the chosen image."""
    path = getattr(s, f"{slot}_path").strip()
    if path:
        return path if path.startswith(("http://", "https://")) else bpy.path.abspath(path)
    img = getattr(s, slot)
    return image_file(img, folder) if img is not None else None


def job_name(s: HUNYUAN3D_PG_settings, params: Params) -> str:
    if s.mode == "TEXT" or (s.mode == "IMAGE" and not params.inputs() and s.prompt):
        words = "_".join(s.prompt.split()[:4])
        return bpy.path.clean_name(words)[:40] or "Hunyuan3D"
    first = next(iter(params.inputs().values()), "")
    stem = Path(first.split("?")[0]).stem if first else "Hunyuan3D"
    return bpy.path.clean_name(stem)[:40] or "Hunyuan3D"


def build_spec(context: bpy.types.Context, s: HUNYUAN3D_PG_settings) -> JobSpec:
    """Snapshot the panel's inputs and parameters into a validated job spec (main thread)."""
    folder = InputsFolder(context)
    seed = -1 if s.random_seed else s.seed
    options = {"face_target": s.face_target(), "reduce": s.reduce_locally, "keep_modifier": s.keep_modifier}
    extra: dict = {}
    if s.mode == "MULTIVIEW":
        views = {f"{slot}_image": slot_input(s, slot, folder) for slot in SLOTS[1:]}
        params: Params = MultiViewParams(
            **views,
            steps=s.mv_steps,
            guidance_scale=s.mv_guidance_scale,
            seed=seed,
            octree_resolution=s.mv_octree_resolution,
            num_chunks=s.num_chunks,
            target_face_num=s.target_face_num,
            file_type=s.file_type,
            remove_background=s.remove_background,
        )
    else:
        common = {
            "octree_resolution": int(s.octree_resolution),
            "num_inference_steps": s.num_inference_steps,
            "guidance_scale": s.guidance_scale,
            "seed": seed,
            "face_count": s.face_count,
            "texture": s.texture,
            "text": s.prompt or None,
        }
        image = slot_input(s, "image", folder) if s.mode in ("IMAGE", "RETEXTURE") else None
        mesh = None
        if s.mode == "RETEXTURE":
            obj = context.active_object
            if obj is None or obj.type != "MESH":
                raise E.InputError("Select a mesh object to retexture; nothing was sent.")
            if not len(obj.evaluated_get(context.evaluated_depsgraph_get()).data.polygons):
                raise E.InputError(f"{obj.name} has no faces to retexture; nothing was sent.")
            mesh = str(folder / f"{bpy.path.clean_name(obj.name)}.glb")
            extra_retex = importer.export_for_retexture(context, obj, Path(mesh))
            extra_retex["replace"] = s.retexture_replace
            options["retexture"] = extra_retex
            common["texture"] = True
        if s.mode == "TEXT":
            image = None
        params = SingleParams(image=image, mesh=mesh, **common)
    params = params.validated()
    extra["import"] = options
    return JobSpec(params, name=job_name(s, params), extra=extra)


class HUNYUAN3D_OT_generate(bpy.types.Operator):
    """Send the inputs to Hunyuan3D-2 and import the model it makes"""

    bl_idname = "hunyuan3d.generate"
    bl_label = "Generate"
    bl_options = {"REGISTER"}

    wait: EnumProperty(
        name="Wait",
        items=[("AUTO", "Auto", "Wait in background mode only"), ("YES", "Yes", "Run to the end, then import"), ("NO", "No", "Return at once")],
        default="AUTO",
        options={"HIDDEN", "SKIP_SAVE"},
    )

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        problem = preferences.network_problem(context)
        if problem:
            cls.poll_message_set(problem)
        return not problem

    def execute(self, context: bpy.types.Context) -> set[str]:
        s = settings(context)
        problem = preferences.network_problem(context)
        if problem:
            return fail(self, problem)
        try:
            spec = build_spec(context, s)
        except E.Hunyuan3DError as exc:
            return fail(self, exc.message)
        r = runner(context)
        config = preferences.client_config(context)
        job = r.submit(spec, config)
        RT.views[job.id] = JobView(job.id, job.name)
        RT.last_error = ""
        if self.wait == "YES" or (self.wait == "AUTO" and bpy.app.background):
            job.wait()
            finished = pump.drain(budget=3600)
            for msg in finished:
                pump.handle_finished(msg)
            if job.state is not JobState.DONE:
                return fail(self, job.error.message if job.error else job.progress, warn=job.state is JobState.CANCELLED)
            view = RT.views.get(job.id)
            if view is None or not view.imported:  # the import failed: handle_finished kept its sentence
                return fail(self, RT.last_error or f"The result of {job.name} could not be imported.")
            self.report({"INFO"}, f"Hunyuan3D: {job.name} imported as {view.imported}")
            return {"FINISHED"}
        pump.start()
        self.report({"INFO"}, f"Hunyuan3D: {job.name} started")
        return {"FINISHED"}


class HUNYUAN3D_OT_cancel(bpy.types.Operator):
    """Cancel this job"""

    bl_idname = "hunyuan3d.cancel"
    bl_label = "Cancel Job"
    bl_options = {"INTERNAL"}

    job_id: StringProperty(options={"SKIP_SAVE"})

    def execute(self, context: bpy.types.Context) -> set[str]:
        if RT.runner is not None:
            if self.job_id:
                RT.runner.cancel(self.job_id)
            else:
                RT.runner.cancel_all()
        return {"FINISHED"}


class HUNYUAN3D_OT_clear_finished(bpy.types.Operator):
    """Remove finished jobs from the list"""

    bl_idname = "hunyuan3d.clear_finished"
    bl_label = "Clear Finished"
    bl_options = {"INTERNAL"}

    def execute(self, context: bpy.types.Context) -> set[str]:
        for job_id in [k for k, v in RT.views.items() if v.state.finished]:
            del RT.views[job_id]
            if RT.runner is not None:
                RT.runner.forget(job_id)
        return {"FINISHED"}


class HUNYUAN3D_OT_dismiss_error(bpy.types.Operator):
    """Hide the last error"""

    bl_idname = "hunyuan3d.dismiss_error"
    bl_label = "Dismiss"
    bl_options = {"INTERNAL"}

    def execute(self, context: bpy.types.Context) -> set[str]:
        RT.last_error = ""
        return {"FINISHED"}


class HUNYUAN3D_OT_import_result(bpy.types.Operator):
    """Import a stored result into the scene"""

    bl_idname = "hunyuan3d.import_result"
    bl_label = "Import Result"
    bl_options = {"REGISTER", "UNDO"}

    job_id: StringProperty(name="Job", options={"SKIP_SAVE"})

    def execute(self, context: bpy.types.Context) -> set[str]:
        st = store(context)
        record = st.load(self.job_id)
        path = st.result_path(record) if record else None
        if record is None or path is None:
            return fail(self, f"The result of job {self.job_id} is no longer in the results folder.")
        options = {**record.extra.get("import", {}), "tag": record.provenance()}
        if options.get("retexture") and options["retexture"]["object"] not in bpy.data.objects:
            options["retexture"] = None  # the original is gone: place it like a new model
        try:
            obj = importer.import_result(context, path, record.result_format, record.name or "Hunyuan3D", options)
        except importer.ImportFailed as exc:
            return fail(self, f"{str(exc).rstrip('.')}; the file is kept at {path} (use History > Import again).")
        view = RT.views.get(record.id)
        if view is not None:
            view.imported = obj.name
        self.report({"INFO"}, f"Hunyuan3D: imported {obj.name} ({len(obj.data.polygons)} faces)")
        return {"FINISHED"}


class HUNYUAN3D_OT_check_key(bpy.types.Operator):
    """Ask Segmind for the remaining credits with this key"""

    bl_idname = "hunyuan3d.check_key"
    bl_label = "Check Key"
    bl_options = {"INTERNAL"}

    def execute(self, context: bpy.types.Context) -> set[str]:
        prefs = preferences.get(context)
        problem = preferences.network_problem(context)
        if problem:
            prefs.check_result = problem
            self.report({"ERROR"}, problem)
            return {"CANCELLED"}
        client = Client(preferences.client_config(context))
        try:
            credits = client.get_credits()
        except E.Hunyuan3DError as exc:
            prefs.check_result = exc.message
            self.report({"ERROR"}, exc.message)
            return {"CANCELLED"}
        finally:
            client.close()
        prefs.check_result = f"The key works: {credits.credits if credits.credits is not None else '?'} credits left."
        self.report({"INFO"}, prefs.check_result)
        return {"FINISHED"}


class HUNYUAN3D_OT_resume_pending(bpy.types.Operator):
    """Fetch the results of jobs queued in an earlier session (they expire an hour after submission)"""

    bl_idname = "hunyuan3d.resume_pending"
    bl_label = "Resume Unfinished Jobs"
    bl_options = {"REGISTER"}

    discard: bpy.props.BoolProperty(name="Discard", default=False, options={"SKIP_SAVE"})

    def execute(self, context: bpy.types.Context) -> set[str]:
        st = store(context)
        records = st.pending()
        if self.discard:
            for rec in records:
                rec.status = "failed"
                rec.error = "Discarded by the user."
                rec.finished = time.time()
                st.save(rec)
            RT.pending.clear()
            return {"FINISHED"}
        problem = preferences.network_problem(context)
        if problem:
            self.report({"ERROR"}, problem)
            return {"CANCELLED"}
        r = runner(context)
        config = preferences.client_config(context)
        for rec in records:
            job = r.resume(rec, config)
            RT.views[job.id] = JobView(job.id, job.name)
        RT.pending.clear()
        if bpy.app.background:
            for job in list(r.jobs.values()):
                job.wait()
            for msg in pump.drain(budget=3600):
                pump.handle_finished(msg)
        else:
            pump.start()
        self.report({"INFO"}, f"Hunyuan3D: resuming {len(records)} job(s)")
        return {"FINISHED"}


def find_pending() -> None:
    """Look for queue jobs left unfinished by an earlier session (called once after start-up)."""
    try:
        RT.pending = store().pending()
    except Exception:
        RT.pending = []


classes = (
    HUNYUAN3D_OT_generate,
    HUNYUAN3D_OT_cancel,
    HUNYUAN3D_OT_clear_finished,
    HUNYUAN3D_OT_dismiss_error,
    HUNYUAN3D_OT_import_result,
    HUNYUAN3D_OT_check_key,
    HUNYUAN3D_OT_resume_pending,
)
