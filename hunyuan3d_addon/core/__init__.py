"""Pure-Python core of the Hunyuan3D extension: never imports bpy."""
