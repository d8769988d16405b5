"""Add-on preferences: the API key (only ever stored here), connection and results settings."""

from __future__ import annotations

import os
from pathlib import Path

import bpy
from bpy.props import BoolProperty, EnumProperty, FloatProperty, IntProperty, StringProperty

from ..core.client import DEFAULT_BASE_URL, DEFAULT_UPLOAD_URL, ClientConfig

ADDON_ID = __package__.rpartition(".")[0]


class HUNYUAN3D_AP_preferences(bpy.types.AddonPreferences):
    bl_idname = ADDON_ID

    api_key: StringProperty(name="API Key", subtype="PASSWORD", description="Your Segmind API key (empty: the SEGMIND_API_KEY environment variable is used)")
    base_url: StringProperty(name="Base URL", default=DEFAULT_BASE_URL, description="Segmind API host")
    call_mode: EnumProperty(
        name="Calls",
        items=[("QUEUE", "Queue (v2)", "Submit, poll and fetch: best for long jobs"), ("SYNC", "Synchronous (v1)", "One long request per job")],
        default="QUEUE",
    )
    connect_timeout: FloatProperty(name="Connect Time-out", default=10.0, min=1.0, max=120.0, unit="TIME_ABSOLUTE")
    read_timeout: FloatProperty(name="Read Time-out", default=60.0, min=5.0, max=600.0, unit="TIME_ABSOLUTE", description="Longest wait for any answer (synchronous calls wait up to ten times this)")
    max_jobs: IntProperty(name="Jobs at Once", default=2, min=1, max=8)
    proxy: StringProperty(name="Proxy", description="http://host:port (empty: the HTTPS_PROXY environment variable, if set)")
    ca_bundle: StringProperty(name="CA Bundle", subtype="FILE_PATH", description="Certificate bundle for a TLS-inspecting proxy")
    upload_assets: BoolProperty(name="Upload Large Files", default=False, description="Send meshes and large images through Segmind's upload-asset service instead of inline")
    results_dir: StringProperty(name="Results Folder", subtype="DIR_PATH", description="Where models and job records are kept (empty: the extension's user folder)")
    check_result: StringProperty(name="Check Result")

    def draw(self, context: bpy.types.Context) -> None:
        layout = self.layout
        layout.use_property_split = True
        col = layout.column()
        col.prop(self, "api_key")
        if not self.api_key and os.environ.get("SEGMIND_API_KEY"):
            col.label(text="Using the SEGMIND_API_KEY environment variable", icon="INFO")
        row = col.row()
        row.operator("hunyuan3d.check_key", icon="CHECKMARK")
        if self.check_result:
            col.label(text=self.check_result)
        col.separator()
        col.prop(self, "base_url")
        col.prop(self, "call_mode")
        col.prop(self, "max_jobs")
        col.prop(self, "connect_timeout")
        col.prop(self, "read_timeout")
        col.prop(self, "proxy")
        col.prop(self, "ca_bundle")
        col.prop(self, "upload_assets")
        col.prop(self, "results_dir")


def get(context: bpy.types.Context | None = None) -> HUNYUAN3D_AP_preferences:
    context = context or bpy.context
    return context.preferences.addons[ADDON_ID].preferences


def api_key(prefs: HUNYUAN3D_AP_preferences) -> str:
    return prefs.api_key.strip() or os.environ.get("SEGMIND_API_KEY", "").strip()


def client_config(context: bpy.types.Context | None = None) -> ClientConfig:
    """A snapshot of the settings for a worker thread (read here, on the main thread)."""
    prefs = get(context)
    base_url = prefs.base_url.strip()
    if base_url in ("", DEFAULT_BASE_URL):
        base_url = os.environ.get("SEGMIND_BASE_URL", "").strip() or DEFAULT_BASE_URL
    return ClientConfig(
        api_key=api_key(prefs),
        base_url=base_url,
        use_queue=prefs.call_mode == "QUEUE",
        connect_timeout=prefs.connect_timeout,
        read_timeout=prefs.read_timeout,
        sync_timeout=max(600.0, prefs.read_timeout * 10),
        proxy=prefs.proxy.strip(),
        ca_bundle=bpy.path.abspath(prefs.ca_bundle) if prefs.ca_bundle else "",
        upload_url=DEFAULT_UPLOAD_URL if base_url == DEFAULT_BASE_URL else base_url.rstrip("/") + "/upload-asset",
        upload_assets=prefs.upload_assets,
    )


def results_dir(context: bpy.types.Context | None = None) -> Path:
    prefs = get(context)
    if prefs.results_dir.strip():
        return Path(bpy.path.abspath(prefs.results_dir.strip()))
    return Path(bpy.utils.extension_path_user(ADDON_ID, path="results", create=True))


def network_problem(context: bpy.types.Context | None = None) -> str:
    """Why a job cannot go online now ('' when it can)."""
    if not bpy.app.online_access:
        if bpy.app.background:
            return "Online access is off. Run Blender with --online-mode, or allow it in Preferences > System > Network."
        return "Online access is off. Allow it in Preferences > System > Network (Allow Online Access)."
    if not api_key(get(context)):
        return "No Segmind API key is set. Set it in Preferences > Add-ons > Hunyuan3D or in SEGMIND_API_KEY."
    return ""
