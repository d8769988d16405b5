"""Hunyuan3D: photos or a prompt to 3D models with Hunyuan3D-2 through Segmind's API.

This module only registers; the bpy layer lives in ``blender/`` and is imported on
``register()`` so that ``core/`` stays importable without Blender.
"""


def register() -> None:
    from .blender import registration

    registration.register()


def unregister() -> None:
    from .blender import registration

    registration.unregister()
