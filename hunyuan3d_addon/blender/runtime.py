"""Runtime state of the session (jobs, their views, the last error): never saved in a .blend."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field

import bpy

from ..core.images import shrink_command
from ..core.jobs import JobMessage, JobRunner, JobState
from ..core.store import JobRecord, ResultStore
from . import preferences


@dataclass
class JobView:
    """What the panel shows of one job (written only on the main thread)."""

    id: str
    name: str
    state: JobState = JobState.QUEUED
    progress: str = ""
    fraction: float = 0.0
    elapsed: float = 0.0
    error: str = ""
    imported: str = ""

    def apply(self, msg: JobMessage) -> None:
        self.state, self.progress, self.fraction, self.elapsed, self.error = msg.state, msg.progress, msg.fraction, msg.elapsed, msg.error


@dataclass
class Runtime:
    runner: JobRunner | None = None
    runner_key: tuple = ()
    views: dict[str, JobView] = field(default_factory=dict)
    last_error: str = ""
    pending: list[JobRecord] = field(default_factory=list)
    status_text: str = ""
    credits_left: float | None = None
    history_key: tuple = ()
    history: list[JobRecord] = field(default_factory=list)
    to_import: list[str] = field(default_factory=list)  # done jobs the next pump tick imports


RT = Runtime()


def store(context: bpy.types.Context | None = None) -> ResultStore:
    return ResultStore(preferences.results_dir(context))


def history(context: bpy.types.Context | None = None, limit: int = 20) -> list[JobRecord]:
    """Finished results, newest first; re-read only when the results folder changed (panels redraw often)."""
    st = store(context)
    try:
        key = (str(st.root), st.root.stat().st_mtime_ns)
    except OSError:
        return []
    if key != RT.history_key:
        RT.history = st.finished()[:limit]
        RT.history_key = key
    return RT.history


def runner(context: bpy.types.Context | None = None) -> JobRunner:
    """The session's runner; rebuilt when the results folder or job count changed and it is idle."""
    prefs = preferences.get(context)
    root = preferences.results_dir(context)
    key = (str(root), prefs.max_jobs)
    if RT.runner is None or (RT.runner_key != key and not RT.runner.active()):
        if RT.runner is not None:
            RT.runner.shutdown()
        binary = bpy.app.binary_path or None
        RT.runner = JobRunner(ResultStore(root), preferences.client_config(context), max_workers=prefs.max_jobs, shrink_cmd=shrink_command(binary, None if binary else sys.executable))
        RT.runner_key = key
    return RT.runner


def shutdown() -> None:
    """Cancel every job and drop the runner (unregister)."""
    if RT.runner is not None:
        RT.runner.shutdown()
    RT.runner = None
    RT.runner_key = ()
    RT.views.clear()
    RT.pending.clear()
    RT.to_import.clear()

