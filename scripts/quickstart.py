"""Quick start, the main job end to end on a fresh machine with Python 3.11:

    python3.11 scripts/quickstart.py

Creates .venv with Blender as a Python module (bpy), builds the extension zip, validates and
installs it into that Blender (in a private user folder), then runs the extension's own
command line, ``hunyuan3d generate``, on an example photo shipped in the repository, writing
``quickstart-out/example.glb`` and ``quickstart-out/example.blend``.

With SEGMIND_API_KEY set it calls Segmind (and spends credits). Without it, it runs against the
project's offline stand-in server, which replays a real Hunyuan3D-2 result, and says so.
"""

from __future__ import annotations

import importlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / ".venv"
BPY = "5.0.1"
OUT = ROOT / "quickstart-out"
EXAMPLE = ROOT / "tests" / "fixtures" / "004.png"


def ensure_venv() -> Path:
    python = VENV / "bin" / "python"
    if not python.exists():
        print(f"quickstart: creating {VENV.name}/", file=sys.stderr)
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    ok = subprocess.run([str(python), "-c", f"import importlib.metadata as m, sys; sys.exit(m.version('bpy') != '{BPY}')"], capture_output=True).returncode == 0
    if not ok:
        print(f"quickstart: installing bpy=={BPY} (Blender as a Python module, ~370 MB)", file=sys.stderr)
        subprocess.run([str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check", f"bpy=={BPY}"], check=True)
    return python


def inside() -> int:
    sys.path.insert(0, str(ROOT))
    sys.path.insert(0, str(ROOT / "scripts"))
    import build_zip

    zip_path = build_zip.build(ROOT / "dist")
    print(f"quickstart: built {zip_path.relative_to(ROOT)}; Blender's validator: {build_zip.validate(zip_path).splitlines()[-1]}", file=sys.stderr)
    user = OUT / "blender-user"
    shutil.rmtree(user, ignore_errors=True)
    os.environ["BLENDER_USER_RESOURCES"] = str(user)
    import bpy

    bpy.context.preferences.system.use_online_access = True
    bpy.ops.extensions.package_install_files(filepath=str(zip_path), repo="user_default", enable_on_install=True)
    cli = importlib.import_module("bl_ext.user_default.hunyuan3d.blender.cli")
    print(f"quickstart: installed the extension into Blender {bpy.app.version_string}", file=sys.stderr)

    server = None
    if os.environ.get("SEGMIND_API_KEY"):
        print("quickstart: SEGMIND_API_KEY is set: calling Segmind (this spends credits)", file=sys.stderr)
    else:
        from tests.standin import StandIn

        server = StandIn(job_time=2.0).start()
        os.environ["SEGMIND_API_KEY"] = server.api_key
        os.environ["SEGMIND_BASE_URL"] = server.base_url
        print(
            "quickstart: SEGMIND_API_KEY is not set, so this runs OFFLINE against the project's stand-in server "
            f"at {server.base_url}, which replays a real Hunyuan3D-2 result (no credits, no internet). "
            "Set SEGMIND_API_KEY to call Segmind.",
            file=sys.stderr,
        )
    OUT.mkdir(exist_ok=True)
    try:
        code = cli.main(["generate", "--image", str(EXAMPLE), "--out", str(OUT / "example.glb"), "--out", str(OUT / "example.blend")])
    finally:
        if server is not None:
            server.stop()
    if code == 0:
        print(f"quickstart: done; open {OUT.relative_to(ROOT) / 'example.blend'} in Blender", file=sys.stderr)
    return code


def main() -> int:
    if Path(sys.prefix).resolve() != VENV.resolve():
        python = ensure_venv()
        return subprocess.run([str(python), __file__, *sys.argv[1:]]).returncode
    return inside()


if __name__ == "__main__":
    sys.exit(main())
