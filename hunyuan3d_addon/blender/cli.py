"""`blender -b -c hunyuan3d generate|batch|credits ...`: the same core and importer as the panel.

Progress goes to stderr, result paths to stdout. Exit codes: 0 success, 1 failure (with the
error sentence), 2 bad arguments or manifest, 130 stopped by Ctrl-C.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import queue
import shutil
import signal
import sys
import time
from pathlib import Path
from typing import Any

import bpy

from ..core import errors as E
from ..core.batch import Batch, ManifestError, Progress, build_item, discover
from ..core.client import Client, ClientConfig
from ..core.images import shrink_command
from ..core.jobs import JobRunner, JobSpec, JobState
from ..core.params import FILE_TYPES
from ..core.store import ResultStore
from . import importer, preferences

OUTPUT_EXT = (".glb", ".obj", ".ply", ".stl", ".blend")


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # exit code 2 with one clear line
        self.print_usage(sys.stderr)
        raise _BadArgs(message)


class _BadArgs(Exception):
    pass


def _param_flags(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("parameters (each reaches the API; unset ones keep the documented default)")
    g.add_argument("--prompt", help="text prompt (optional with an image)")
    g.add_argument("--texture", action=argparse.BooleanOptionalAction, default=None, help="paint a texture (single image/text)")
    g.add_argument("--face-count", type=int, help="most faces: face_count (5000-100000) or, for multi-view, target_face_num (100-1000000)")
    g.add_argument("--target-face-num", type=int, help="multi-view: faces of the simplified mesh (100-1000000)")
    g.add_argument("--octree-resolution", type=int, help="256, 384 or 512 (multi-view: 16-512)")
    g.add_argument("--steps", type=int, help="inference steps (20-50; multi-view 1-100)")
    g.add_argument("--guidance-scale", type=float, help="guidance scale (1-15; multi-view default 5)")
    g.add_argument("--seed", type=int, help="seed (-1 or unset: a random seed, reported)")
    g.add_argument("--randomize-seed", action=argparse.BooleanOptionalAction, default=None, help="multi-view: let the server pick the seed")
    g.add_argument("--num-chunks", type=int, help="multi-view: number of chunks (1000-5000000)")
    g.add_argument("--file-type", choices=FILE_TYPES, help="multi-view: model format (default glb)")
    g.add_argument("--remove-background", action=argparse.BooleanOptionalAction, default=None, help="multi-view: remove the images' background (default on)")


def _conn_flags(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("connection (the key comes from Preferences or SEGMIND_API_KEY)")
    g.add_argument("--base-url", help="API host (default: Preferences, SEGMIND_BASE_URL or https://api.segmind.com)")
    g.add_argument("--sync", action="store_true", help="use synchronous v1 calls instead of the v2 queue")
    g.add_argument("--timeout", type=float, help="read time-out in seconds")
    g.add_argument("--upload", action="store_true", help="send meshes and large images through upload-asset")
    g.add_argument("--no-cache", action="store_true", help="never answer from earlier identical results")


def parser() -> argparse.ArgumentParser:
    root = _Parser(prog="blender -b -c hunyuan3d", description="Generate 3D models with Hunyuan3D-2 through Segmind.")
    sub = root.add_subparsers(dest="command", required=True, parser_class=_Parser)

    gen = sub.add_parser("generate", help="one model from flags")
    src = gen.add_argument_group("inputs (one of: --image, --front [+ --back/--left/--right], --prompt alone, --mesh)")
    src.add_argument("--image", help="photo file or URL")
    for view in ("front", "back", "left", "right"):
        src.add_argument(f"--{view}", help=f"multi-view: {view} photo file or URL")
    src.add_argument("--mesh", help="GLB to retexture (turns texture on)")
    _param_flags(gen)
    out = gen.add_argument_group("output")
    out.add_argument("--out", action="append", required=True, help="a .glb, .obj, .ply, .stl or .blend file (repeat for several)")
    out.add_argument("--name", help="object name (default: from the input file or prompt)")
    out.add_argument("--no-reduce", action="store_true", help="keep every face the server returns")
    out.add_argument("--keep-modifier", action="store_true", help="in a .blend, keep the Decimate modifier instead of applying it")
    _conn_flags(gen)

    bat = sub.add_parser("batch", help="many models from a folder or a JSON/CSV manifest")
    bat.add_argument("source", help="a folder (images; subfolders with front.* and back/left/right.*) or a .json/.csv manifest")
    bat.add_argument("--out-dir", required=True, help="where models and report.jsonl go")
    bat.add_argument("--concurrency", type=int, default=2, help="jobs at once (default 2)")
    bat.add_argument("--resume", action="store_true", help="skip items report.jsonl lists as done")
    _param_flags(bat)
    _conn_flags(bat)

    sub.add_parser("credits", help="the remaining Segmind balance")
    return root


def _defaults(args: argparse.Namespace) -> dict[str, Any]:
    """Parameter flags as generic names (aliases resolve per endpoint)."""
    names = ("prompt", "texture", "face_count", "target_face_num", "octree_resolution", "steps", "guidance_scale", "seed", "randomize_seed", "num_chunks", "file_type", "remove_background")
    return {name: getattr(args, name) for name in names if getattr(args, name, None) is not None}


def _config(args: argparse.Namespace) -> ClientConfig:
    try:
        cfg = preferences.client_config()
    except (KeyError, AttributeError):
        cfg = ClientConfig.from_env()
    if getattr(args, "base_url", None):
        cfg.base_url = args.base_url
    if getattr(args, "sync", False):
        cfg.use_queue = False
    if getattr(args, "timeout", None):
        cfg.read_timeout = args.timeout
    if getattr(args, "upload", False):
        cfg.upload_assets = True
    return cfg


def _store() -> ResultStore:
    try:
        return ResultStore(preferences.results_dir())
    except (KeyError, AttributeError):
        return ResultStore(Path(bpy.utils.user_resource("DATAFILES", path="hunyuan3d/results", create=True)))


def _shrink() -> list[str] | None:
    binary = bpy.app.binary_path or None
    return shrink_command(binary, None if binary else sys.executable)


def _err(text: str) -> None:
    print(f"hunyuan3d: error: {text}", file=sys.stderr, flush=True)


def main(argv: list[str]) -> int:
    """Entry point of ``blender -c hunyuan3d``; returns the exit code."""
    try:
        args = parser().parse_args(argv)
    except _BadArgs as exc:
        _err(str(exc))
        return 2
    except SystemExit as exc:  # --help
        return int(exc.code or 0)
    if not bpy.app.online_access:
        _err("Online access is off. Run Blender with --online-mode, or allow it in Preferences > System > Network.")
        return 1
    try:
        if args.command == "credits":
            return _credits(args)
        if args.command == "generate":
            return _generate(args)
        return _batch(args)
    except ManifestError as exc:
        _err(exc.message)
        return 2
    except (E.ParamError, E.InputError) as exc:
        _err(exc.message)
        return 2
    except E.Hunyuan3DError as exc:
        _err(exc.message)
        return 1


def _credits(args: argparse.Namespace) -> int:
    client = Client(_config(args))
    try:
        credits = client.get_credits()
    finally:
        client.close()
    print(f"{credits.credits if credits.credits is not None else '?'} credits" + (f" ({credits.free_credits} free)" if credits.free_credits else ""))
    return 0


def _generate(args: argparse.Namespace) -> int:
    outs = [Path(o) for o in args.out]
    for out in outs:
        if out.suffix.lower() not in OUTPUT_EXT:
            raise E.InputError(f"--out {str(out)!r} must end in {', '.join(OUTPUT_EXT)}")
    views = {f"{v}_image": getattr(args, v) for v in ("front", "back", "left", "right") if getattr(args, v)}
    if views and args.image:
        raise E.InputError("give either --image or --front/--back/--left/--right, not both")
    if views and args.mesh:
        raise E.InputError("--mesh (retexture) works with --image or --prompt, not with multi-view")
    if views and "front_image" not in views:
        raise E.InputError("multi-view needs --front")
    values: dict[str, Any] = {**views}
    if args.image:
        values["image"] = args.image
    if args.mesh:
        values["mesh"] = args.mesh
    if args.name:
        values["name"] = args.name
    item = build_item(values, _defaults(args), Path.cwd(), "command line")
    cfg = _config(args)
    runner = JobRunner(_store(), cfg, max_workers=1, shrink_cmd=_shrink())
    target = getattr(item.params, "target_face_num", None) or getattr(item.params, "face_count", None)
    spec = JobSpec(item.params, name=item.name, use_cache=not args.no_cache, extra={"import": {"face_target": target, "reduce": not args.no_reduce, "keep_modifier": args.keep_modifier}})
    job = runner.submit(spec, cfg)
    t0 = time.monotonic()
    last = ""
    try:
        while True:
            try:
                msg = runner.messages.get(timeout=0.2)
            except queue.Empty:
                continue
            line = f"{msg.state.value}: {msg.progress}"
            if line != last and not msg.state.finished:
                print(f"[{msg.elapsed:6.1f}s] {line}", file=sys.stderr, flush=True)
                last = line
            if msg.state.finished:
                break
    except KeyboardInterrupt:
        job.cancel()
        job.wait(2)
        _err("Stopped; nothing was imported.")
        return 130
    finally:
        runner.shutdown(wait=True)
    if job.state is not JobState.DONE or job.result is None:
        _err(job.error.message if job.error else job.progress)
        return 1
    rec = job.record
    print(f"[{time.monotonic() - t0:6.1f}s] done: seed {rec.seed}, {rec.bytes_sent:,} bytes sent, result {job.result.path}", file=sys.stderr, flush=True)
    try:
        with _quiet_stdout():
            written = write_outputs(job.result.path, job.result.format, item.name, outs, {**spec.extra["import"], "tag": rec.provenance()}, rec.result_stats.get("triangles"))
    except importer.ImportFailed as exc:
        _err(f"{str(exc).rstrip('.')}; the result is kept at {job.result.path}.")
        return 1
    for path in written:
        print(path)
    return 0


@contextlib.contextmanager
def _quiet_stdout():
    """Send Blender's importer/exporter chatter to stderr, so stdout holds only result paths."""
    sys.stdout.flush()
    saved = os.dup(1)
    os.dup2(2, 1)
    handlers = [(h, h.stream) for name in ("glTFImporter", "") for h in logging.getLogger(name).handlers if isinstance(h, logging.StreamHandler) and h.stream in (sys.stdout, sys.__stdout__)]
    for h, _ in handlers:
        h.setStream(sys.stderr)
    try:
        with contextlib.redirect_stdout(sys.stderr):
            yield
    finally:
        for h, stream in handlers:
            h.setStream(stream)
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)


def write_outputs(result: Path, fmt: str, name: str, outs: list[Path], options: dict[str, Any], triangles: int | None) -> list[Path]:
    """Write each requested file: the result as it came, or through Blender (import, place, reduce, export)."""
    target = options.get("face_target")
    over = bool(options.get("reduce") and target and (triangles is None or triangles > target))
    obj = None
    written = []
    for out in outs:
        out.parent.mkdir(parents=True, exist_ok=True)
        ext = out.suffix.lower().lstrip(".")
        if ext == fmt and not (over and fmt == "glb"):
            shutil.copyfile(result, out)
        else:
            if obj is None:
                bpy.ops.wm.read_homefile(use_empty=True)
                obj = importer.import_result(bpy.context, result, fmt, name, options)
            _export(obj, out, ext)
        written.append(out.resolve())
    return written


def _export(obj: bpy.types.Object, out: Path, ext: str) -> None:
    path = str(out)
    if ext == "blend":
        bpy.ops.wm.save_as_mainfile(filepath=path, copy=True)
        return
    importer.select_only(bpy.context, obj)
    axes = {"forward_axis": "NEGATIVE_Z", "up_axis": "Y"}
    if ext == "glb":
        bpy.ops.export_scene.gltf(filepath=path, export_format="GLB", use_selection=True)
    elif ext == "obj":
        bpy.ops.wm.obj_export(filepath=path, export_selected_objects=True, **axes)
    elif ext == "ply":
        bpy.ops.wm.ply_export(filepath=path, export_selected_objects=True, **axes)
    elif ext == "stl":
        bpy.ops.wm.stl_export(filepath=path, export_selected_objects=True, **axes)


def _batch(args: argparse.Namespace) -> int:
    if args.concurrency < 1 or args.concurrency > 32:
        raise E.InputError("--concurrency must be from 1 to 32")
    items = discover(Path(args.source), _defaults(args))
    cfg = _config(args)
    cfg.retry_budget = max(cfg.retry_budget, 900.0)
    batch = Batch(items, Path(args.out_dir), cfg, concurrency=args.concurrency, resume=args.resume, shrink_cmd=_shrink())
    tty = sys.stderr.isatty()
    last_plain = [0.0]

    def on_update(p: Progress, line: str) -> None:
        if line:
            if tty:
                sys.stderr.write("\r\033[K")
            print(line, file=sys.stderr, flush=True)
        if tty:
            sys.stderr.write("\r\033[K" + _bar(p))
            sys.stderr.flush()
        elif line or time.monotonic() - last_plain[0] > 10:
            last_plain[0] = time.monotonic()
            print(_bar(p), file=sys.stderr, flush=True)

    previous = signal.getsignal(signal.SIGINT)

    def on_sigint(signum: int, frame: object) -> None:
        batch.stop.set()

    in_main = _is_main_thread()
    if in_main:
        signal.signal(signal.SIGINT, on_sigint)
    try:
        progress = batch.run(on_update)
    finally:
        if in_main:
            signal.signal(signal.SIGINT, previous)
    if tty:
        sys.stderr.write("\n")
    stopped = batch.stop.is_set()
    not_done = progress.total - progress.skipped - progress.finished
    print(
        f"hunyuan3d: {progress.done} done, {progress.failed} failed, {progress.skipped} skipped (done before)"
        + (f", {not_done} not done (stopped)" if stopped else "")
        + f" in {time.monotonic() - progress.started:.1f} s; report: {Path(args.out_dir) / 'report.jsonl'}",
        file=sys.stderr,
        flush=True,
    )
    print(Path(args.out_dir).resolve())
    if stopped:
        return 130
    return 1 if progress.failed else 0


def _is_main_thread() -> bool:
    import threading

    return threading.current_thread() is threading.main_thread()


def _bar(p: Progress, width: int = 24) -> str:
    total = max(1, p.total - p.skipped)
    filled = int(width * p.finished / total)
    eta = p.eta()
    eta_text = f", about {int(eta // 60)}m{int(eta % 60):02d}s left" if eta is not None else ""
    return f"[{'#' * filled}{'.' * (width - filled)}] {p.finished}/{total}: {p.done} done, {p.failed} failed, {p.running} running{eta_text}"
