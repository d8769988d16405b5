"""The main-thread timer that drains job messages under a time budget and imports results."""

from __future__ import annotations

import time

import bpy

from ..core.jobs import JobMessage, JobState
from .props import INT_MAX
from .runtime import RT, JobView

BUDGET = 0.004  # seconds of message handling per tick
ACTIVE_INTERVAL = 0.05
IDLE_INTERVAL = 0.5


def drain(budget: float = BUDGET) -> list[JobMessage]:
    """Apply queued messages to the job views; return the final ones (done, failed, cancelled)."""
    runner = RT.runner
    if runner is None:
        return []
    finished = []
    deadline = time.perf_counter() + budget
    while True:
        try:
            msg = runner.messages.get_nowait()
        except Exception:  # queue.Empty
            break
        view = RT.views.get(msg.job_id)
        if view is None:
            view = RT.views[msg.job_id] = JobView(msg.job_id, msg.record.name if msg.record else runner.jobs[msg.job_id].name)
        view.apply(msg)
        if msg.state.finished:
            finished.append(msg)
        if time.perf_counter() > deadline:
            break
    return finished


def handle_finished(msg: JobMessage, defer: bool = False) -> None:
    """Show a failed job's error; import a done job's result, or with ``defer`` queue it for the next tick
    (so the panel and status bar say "Importing" before Blender is busy importing)."""
    view = RT.views.get(msg.job_id)
    RT.history_key = ()  # a record was written: the History panel reads the folder again
    if msg.record is not None and msg.record.credits_remaining is not None:
        RT.credits_left = msg.record.credits_remaining
    if msg.state is JobState.DONE and msg.record is not None:
        seed = msg.record.seed
        if seed is not None and 0 <= seed <= INT_MAX:  # the panel's seed is a 32-bit property
            for scene in bpy.data.scenes:
                scene.hunyuan3d.last_seed = seed
        if defer:
            if view:
                view.progress = "Importing"
            RT.to_import.append(msg.job_id)
        else:
            import_now(msg.job_id)
    elif msg.state is JobState.FAILED:
        RT.last_error = msg.error


def import_now(job_id: str) -> None:
    """Import a done job's stored result as one undo step; an import error goes to the panel."""
    view = RT.views.get(job_id)
    try:
        result = bpy.ops.hunyuan3d.import_result("EXEC_DEFAULT", True, job_id=job_id)
    except RuntimeError as exc:  # the operator reported an error
        RT.last_error = str(exc).splitlines()[-1].removeprefix("Error: ").strip()
        result = {"CANCELLED"}
    if view:
        view.progress = f"Imported as {view.imported}" if "FINISHED" in result and view.imported else "Not imported"


def pump() -> float:
    """Timer body: import what the last tick queued, drain messages (within the budget), redraw. Returns the next interval."""
    due, RT.to_import = RT.to_import, []
    for job_id in due:
        import_now(job_id)
    finished = drain()
    for msg in finished:
        handle_finished(msg, defer=True)
    redraw()
    active = bool(RT.runner and RT.runner.active()) or finished or RT.to_import
    return ACTIVE_INTERVAL if active else IDLE_INTERVAL


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def redraw() -> None:
    running = [v for v in RT.views.values() if not v.state.finished]
    parts = [f"{_count(len(running), 'job')} running ({min(v.fraction for v in running):.0%})"] if running else []
    if RT.to_import:
        parts.append(f"importing {_count(len(RT.to_import), 'result')}")
    RT.status_text = f"Hunyuan3D: {', '.join(parts)}" if parts else ""
    wm = getattr(bpy.context, "window_manager", None)
    if wm is None:
        return
    for window in wm.windows:
        for area in window.screen.areas:
            if area.type in ("VIEW_3D", "STATUSBAR"):
                area.tag_redraw()


def draw_status(self: bpy.types.Header, context: bpy.types.Context) -> None:
    if RT.status_text:
        self.layout.label(text=RT.status_text, icon="MESH_MONKEY")


def _timer() -> float:
    try:
        return pump()
    except Exception as exc:
        RT.last_error = f"Unexpected error in the job monitor ({type(exc).__name__}: {exc})."
        return IDLE_INTERVAL


def start() -> None:
    if not bpy.app.timers.is_registered(_timer):
        bpy.app.timers.register(_timer, first_interval=0.1, persistent=True)
    bpy.types.STATUSBAR_HT_header.append(draw_status)


def stop() -> None:
    if bpy.app.timers.is_registered(_timer):
        bpy.app.timers.unregister(_timer)
    try:
        bpy.types.STATUSBAR_HT_header.remove(draw_status)
    except ValueError:
        pass
