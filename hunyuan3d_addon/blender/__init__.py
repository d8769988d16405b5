"""The bpy shell: thin, only what needs Blender."""
