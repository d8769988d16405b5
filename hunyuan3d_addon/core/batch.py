"""Batches: discover jobs in a folder or a JSON/CSV manifest, run them concurrently, report.

Every finished item is appended to ``report.jsonl`` in the output folder; ``resume`` skips the
items already done there. A stop request (Ctrl-C) cancels what runs, keeps every finished
result and records the rest as not done. Nothing here imports bpy.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import re
import shutil
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import errors as E
from .client import ClientConfig
from .jobs import JobRunner, JobSpec, JobState
from .params import ENDPOINTS, MultiViewParams, Params, is_url
from .store import ResultStore

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp")
VIEWS = ("front", "back", "left", "right")
REPORT = "report.jsonl"
# Names that mean the same thing for both endpoints (CLI flags and manifest columns).
ALIASES = {
    "prompt": {"hunyuan-3d-2": "text"},
    "steps": {"hunyuan-3d-2": "num_inference_steps", "hunyuan3d-2mv": "steps"},
    "face_count": {"hunyuan-3d-2": "face_count", "hunyuan3d-2mv": "target_face_num"},
    "front": {"hunyuan3d-2mv": "front_image"},
    "back": {"hunyuan3d-2mv": "back_image"},
    "left": {"hunyuan3d-2mv": "left_image"},
    "right": {"hunyuan3d-2mv": "right_image"},
}
INPUT_FIELDS = {"image", "mesh", "front_image", "back_image", "left_image", "right_image"}


class ManifestError(E.Hunyuan3DError):
    """Every problem found in a batch source, one per line; nothing was sent."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__(f"The batch has {len(problems)} problem(s); nothing was sent:\n" + "\n".join(f"  - {p}" for p in problems))
        self.problems = problems


@dataclass
class BatchItem:
    """One job of a batch."""

    name: str
    params: Params
    where: str  # where it came from, for messages: a path, or "manifest.csv line 4"

    @property
    def key(self) -> str:
        return self.name

    @property
    def source(self) -> str:
        return ", ".join(self.params.inputs().values()) or (getattr(self.params, "text", "") or "")


def safe_name(text: str) -> str:
    """A file name from any text: no folders, no leading dots, only safe characters."""
    base = Path(text.replace("\\", "/")).name if ("/" in text or "\\" in text) else text
    base = re.sub(r"[^A-Za-z0-9._-]+", "_", base).strip("._") or "model"
    return base[:80]


def endpoint_fields(endpoint: str, values: dict[str, Any]) -> dict[str, Any]:
    """Map aliases to the endpoint's own field names; drop aliases that do not apply to it."""
    out: dict[str, Any] = {}
    for key, value in values.items():
        if key in ALIASES:
            target = ALIASES[key].get(endpoint)
            if target is not None and (target == key or target not in values):
                out[target] = value
        else:
            out[key] = value
    return out


def _endpoint_of(values: dict[str, Any]) -> str:
    explicit = values.get("endpoint")
    if explicit:
        return str(explicit)
    return "hunyuan3d-2mv" if any(k in values for k in ("front_image", "front")) else "hunyuan-3d-2"


def build_item(values: dict[str, Any], defaults: dict[str, Any], base_dir: Path, where: str) -> BatchItem:
    """Validate one entry (its own values over the shared defaults); raise a Hunyuan3DError."""
    values = {k: v for k, v in values.items() if v not in (None, "")}
    endpoint = _endpoint_of(values)
    if endpoint not in ENDPOINTS:
        raise E.ParamError("endpoint", f"unknown endpoint {endpoint!r} (use hunyuan-3d-2 or hunyuan3d-2mv)")
    name = values.pop("name", None)
    values.pop("endpoint", None)
    cls = ENDPOINTS[endpoint]
    known = {f.name for f in cls.spec()}
    merged = {k: v for k, v in endpoint_fields(endpoint, defaults).items() if k in known}
    own = endpoint_fields(endpoint, values)
    unknown = sorted(set(own) - known)
    if unknown:
        raise E.ParamError(unknown[0], f"unknown field {unknown[0]!r} for {endpoint}")
    merged.update(own)
    for key in INPUT_FIELDS & merged.keys():
        value = str(merged[key])
        if not is_url(value):
            path = (base_dir / value).expanduser() if not Path(value).is_absolute() else Path(value)
            if not path.is_file():
                raise E.InputError(f"{key} file {value!r} does not exist")
            merged[key] = str(path)
    params = cls.from_dict(merged)
    if not name:
        first = next(iter(params.inputs().values()), "") or getattr(params, "text", "") or "model"
        name = Path(first.split("?")[0]).stem if (first and (is_url(first) or Path(first).suffix)) else first
        if isinstance(params, MultiViewParams) and params.front_image and not is_url(params.front_image):
            front = Path(params.front_image)
            name = front.parent.name if front.stem.lower() == "front" else front.stem
    return BatchItem(safe_name(str(name)), params, where)


def discover(source: Path, defaults: dict[str, Any] | None = None) -> list[BatchItem]:
    """The items of a folder, a JSON manifest or a CSV manifest; raise ManifestError listing every problem."""
    defaults = defaults or {}
    problems: list[str] = []
    entries: list[tuple[dict[str, Any], str]] = []
    base = source.parent
    if source.is_dir():
        base = source
        for path in sorted(source.iterdir()):
            if path.is_file() and path.suffix.lower() in IMAGE_SUFFIXES:
                entries.append(({"image": str(path), "name": path.stem}, str(path)))
            elif path.is_dir():
                views = {p.stem.lower(): p for p in path.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES and p.stem.lower() in VIEWS}
                if "front" in views:
                    entries.append(({f"{v}_image": str(p) for v, p in views.items()} | {"name": path.name}, str(path)))
                elif views:
                    problems.append(f"{path}: has {', '.join(sorted(views))} views but no front.* image")
        if not entries and not problems:
            problems.append(f"{source}: no images (PNG, JPEG, WebP) and no subfolders with a front.* image")
    elif source.suffix.lower() == ".json":
        try:
            data = json.loads(source.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ManifestError([f"{source}: cannot be read as JSON ({exc})"]) from None
        jobs = data.get("jobs") if isinstance(data, dict) else data
        if isinstance(data, dict) and isinstance(data.get("defaults"), dict):
            defaults = {**data["defaults"], **defaults}
        if not isinstance(jobs, list):
            raise ManifestError([f"{source}: expected a list of jobs, or an object with a \"jobs\" list"])
        for i, job in enumerate(jobs, 1):
            if isinstance(job, dict):
                entries.append((job, f"{source.name} entry {i}"))
            else:
                problems.append(f"{source.name} entry {i}: expected an object, not {type(job).__name__}")
    elif source.suffix.lower() == ".csv":
        try:
            with source.open(newline="", encoding="utf-8") as fh:
                rows = list(csv.DictReader(fh))
        except (OSError, csv.Error, UnicodeDecodeError) as exc:
            raise ManifestError([f"{source}: cannot be read as CSV ({exc})"]) from None
        for i, row in enumerate(rows, 2):
            entries.append(({(k or "").strip(): (v or "").strip() for k, v in row.items() if k}, f"{source.name} line {i}"))
    elif not source.exists():
        raise ManifestError([f"{source}: no such folder or manifest"])
    else:
        raise ManifestError([f"{source}: a batch source is a folder, a .json or a .csv manifest"])
    items: list[BatchItem] = []
    for values, where in entries:
        try:
            items.append(build_item(dict(values), defaults, base, where))
        except E.Hunyuan3DError as exc:
            problems.append(f"{where}: {exc.message.removesuffix('; nothing was sent.').rstrip('.')}")
    if problems:
        raise ManifestError(problems)
    _unique_names(items)
    return items


def _unique_names(items: list[BatchItem]) -> None:
    """Same-named items get a stable suffix from their inputs, so no result overwrites another's."""
    counts: dict[str, int] = {}
    for item in items:
        counts[item.name.lower()] = counts.get(item.name.lower(), 0) + 1
    for item in items:
        if counts[item.name.lower()] > 1:
            digest = hashlib.sha1(json.dumps([item.where, item.params.inputs(), item.params.settings()], sort_keys=True, default=str).encode()).hexdigest()[:6]
            item.name = f"{item.name}-{digest}"


@dataclass
class Progress:
    total: int
    done: int = 0
    failed: int = 0
    running: int = 0
    skipped: int = 0
    started: float = field(default_factory=time.monotonic)

    @property
    def finished(self) -> int:
        return self.done + self.failed

    def eta(self) -> float | None:
        todo = self.total - self.skipped - self.finished
        if self.finished == 0 or todo <= 0:
            return None
        return (time.monotonic() - self.started) / self.finished * todo


def report_lines(out_dir: Path) -> list[dict[str, Any]]:
    """Every readable line of the report, oldest first (a torn last line is ignored)."""
    path = out_dir / REPORT
    if not path.exists():
        return []
    entries = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if isinstance(entry, dict) and "key" in entry:
            entries.append(entry)
    return entries


class Batch:
    """Runs items on a JobRunner and writes results and the report into ``out_dir``."""

    def __init__(self, items: list[BatchItem], out_dir: Path, config: ClientConfig, *, concurrency: int = 2, resume: bool = False, shrink_cmd: list[str] | None = None) -> None:
        self.items = items
        self.out_dir = out_dir
        self.config = config
        self.resume = resume
        self.concurrency = concurrency
        self.stop = threading.Event()
        out_dir.mkdir(parents=True, exist_ok=True)
        self.store = ResultStore(out_dir / ".hunyuan3d")
        self.runner = JobRunner(self.store, config, max_workers=concurrency, shrink_cmd=shrink_cmd)
        self.progress = Progress(len(items))
        # Which input each existing output came from: a later batch never overwrites another input's result.
        self._owners = {e["output"]: e.get("input") for e in report_lines(out_dir) if e.get("output")}
        self._report = (out_dir / REPORT).open("a", encoding="utf-8")

    def done_before(self) -> set[tuple[str, str]]:
        """(key, input) of the items the report lists as done, whose output is still there."""
        if not self.resume:
            return set()
        return {
            (e["key"], e.get("input", ""))
            for e in report_lines(self.out_dir)
            if e.get("status") == "done" and e.get("output") and (self.out_dir / e["output"]).is_file()
        }

    def run(self, on_update: Callable[[Progress, str], None] | None = None) -> Progress:
        """Run every item not done yet; returns the final counts."""
        skip = self.done_before()
        todo = [it for it in self.items if (it.key, it.source) not in skip]
        self.progress.skipped = len(self.items) - len(todo)
        jobs = {}
        pending: set[str] = set()
        # Jobs Segmind already has from an interrupted run are fetched, not paid for again.
        resumable = {(r.extra.get("batch_key"), r.extra.get("batch_source")): r for r in self.store.pending()} if self.resume else {}
        try:
            for item in todo:
                if (item.key, item.source) in resumable:
                    job = self.runner.resume(resumable[item.key, item.source])
                else:
                    job = self.runner.submit(JobSpec(item.params, name=item.name, extra={"batch_key": item.key, "batch_source": item.source}))
                jobs[job.id] = item
            pending = set(jobs)
            while pending:
                if self.stop.is_set():
                    break
                try:
                    msg = self.runner.messages.get(timeout=0.2)
                except Exception:  # queue.Empty
                    self._count_running()
                    if on_update:
                        on_update(self.progress, "")
                    continue
                if msg.job_id in pending and msg.state.finished:
                    pending.discard(msg.job_id)
                    job = self.runner.jobs[msg.job_id]
                    line = self._finish(jobs[msg.job_id], job)
                    self._count_running()
                    if on_update:
                        on_update(self.progress, line)
        finally:
            self.runner.shutdown(wait=True)
            for job_id, item in jobs.items():
                job = self.runner.jobs[job_id]
                if job_id in pending:
                    self._record(item, job, "not done", error="Stopped before it finished." if job.state is JobState.CANCELLED else (job.error.message if job.error else ""))
            self._report.close()
        self._count_running()
        return self.progress

    def _count_running(self) -> None:
        self.progress.running = sum(1 for j in self.runner.jobs.values() if j.state not in (JobState.QUEUED,) and not j.state.finished)

    def _finish(self, item: BatchItem, job: Any) -> str:
        if job.state is JobState.DONE and job.result is not None:
            target = self._target(item, job.result.format)
            tmp = target.with_name(f".{target.name}.tmp")
            shutil.copyfile(job.result.path, tmp)
            os.replace(tmp, target)
            self.progress.done += 1
            self._record(item, job, "done", output=target.name)
            return f"done    {item.name} -> {target.name}"
        self.progress.failed += 1
        message = job.error.message if job.error else job.progress
        self._record(item, job, "failed" if job.state is JobState.FAILED else "not done", error=message)
        return f"failed  {item.name}: {message}"

    def _target(self, item: BatchItem, fmt: str) -> Path:
        target = self.out_dir / f"{item.name}.{fmt}"
        if target.exists() and self._owners.get(target.name) != item.source:
            digest = hashlib.sha1(item.source.encode()).hexdigest()[:6]
            target = self.out_dir / f"{item.name}-{digest}.{fmt}"
        self._owners[target.name] = item.source
        return target

    def _record(self, item: BatchItem, job: Any, status: str, output: str = "", error: str = "") -> None:
        rec = job.record
        entry = {
            "key": item.key,
            "input": item.source,
            "where": item.where,
            "output": output,
            "status": status,
            "seed": rec.seed,
            "credits_remaining": rec.credits_remaining,
            "seconds": round(job.elapsed, 3),
            "error": error,
            "job_id": rec.id,
            "request_id": rec.request_id,
            "bytes_sent": rec.bytes_sent,
        }
        self._report.write(json.dumps(entry) + "\n")
        self._report.flush()

