"""Real Blender (the bpy wheel): the built zip is installed as a user extension in a temporary
Blender user folder, and each test gets an empty scene, fresh settings and its own results folder."""

from __future__ import annotations

import importlib
import os
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType

import pytest

# Isolate Blender's user folder before bpy is imported anywhere in this process.
os.environ.setdefault("BLENDER_USER_RESOURCES", tempfile.mkdtemp(prefix="hunyuan3d-blender-user-"))
bpy = pytest.importorskip("bpy", reason="the Blender tests need the bpy module (pip install bpy)")

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))
import build_zip  # noqa: E402

from tests.standin import StandIn  # noqa: E402


@pytest.fixture(scope="session")
def addon() -> ModuleType:
    """Build the zip, install and enable it the way a user does."""
    zip_path = build_zip.build(Path(tempfile.mkdtemp(prefix="hunyuan3d-dist-")))
    bpy.context.preferences.system.use_online_access = True
    result = bpy.ops.extensions.package_install_files(filepath=str(zip_path), repo="user_default", enable_on_install=True)
    assert result == {"FINISHED"}
    return importlib.import_module("bl_ext.user_default.hunyuan3d")


@pytest.fixture
def standin() -> Iterator[StandIn]:
    with StandIn() as server:
        yield server


@pytest.fixture
def prefs(addon: ModuleType, standin: StandIn, tmp_path: Path):
    p = bpy.context.preferences.addons["bl_ext.user_default.hunyuan3d"].preferences
    p.api_key = standin.api_key
    p.base_url = standin.base_url
    p.results_dir = str(tmp_path / "results")
    p.call_mode = "QUEUE"
    p.max_jobs = 2
    p.read_timeout = 10
    p.upload_assets = False
    bpy.context.preferences.system.use_online_access = True
    return p


@pytest.fixture
def scene(addon: ModuleType, prefs: object) -> Iterator[bpy.types.Scene]:
    """An empty scene with default settings; jobs and errors of earlier tests cleared."""
    for obj in list(bpy.data.objects):
        bpy.data.objects.remove(obj)
    for coll in list(bpy.data.collections):
        bpy.data.collections.remove(coll)
    for mesh in list(bpy.data.meshes):
        bpy.data.meshes.remove(mesh)
    sc = bpy.context.scene
    for name in list(sc.hunyuan3d.keys()):
        sc.hunyuan3d.property_unset(name)
    sc.cursor.location = (0, 0, 0)
    rt = addon.blender.runtime
    rt.shutdown()
    rt.RT.last_error = ""
    yield sc
    rt.shutdown()


def pump_until(addon: ModuleType, done: Callable[[], bool], timeout: float = 20.0, settle: bool = True) -> None:
    """Drive the main-thread pump as Blender's timer would (timers do not fire in the module); with
    ``settle``, one tick more once ``done`` holds (the tick that imports what the last one queued)."""
    deadline = time.monotonic() + timeout
    while not done():
        if time.monotonic() > deadline:
            raise TimeoutError("condition not reached while pumping")
        addon.blender.pump.pump()
        time.sleep(0.01)
    if settle:
        addon.blender.pump.pump()
