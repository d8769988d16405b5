"""register()/unregister(): one tuple of classes, the scene settings, the timer and the CLI."""

from __future__ import annotations

import bpy

from . import cli, operators, panels, preferences, props, pump, runtime

classes = (preferences.HUNYUAN3D_AP_preferences, props.HUNYUAN3D_PG_settings, *operators.classes, *panels.classes)

_cli_handle = None


def _startup() -> None:
    operators.find_pending()


def register() -> None:
    global _cli_handle
    for cls in classes:
        bpy.utils.register_class(cls)
    props.register_props()
    pump.start()
    if not bpy.app.background:
        bpy.app.timers.register(_startup, first_interval=1.0)
    _cli_handle = bpy.utils.register_cli_command("hunyuan3d", cli.main)


def unregister() -> None:
    global _cli_handle
    if _cli_handle is not None:
        bpy.utils.unregister_cli_command(_cli_handle)
        _cli_handle = None
    if bpy.app.timers.is_registered(_startup):
        bpy.app.timers.unregister(_startup)
    pump.stop()
    runtime.shutdown()
    props.unregister_props()
    for cls in reversed(classes):
        bpy.utils.unregister_class(cls)
