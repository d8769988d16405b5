"""Jobs: a state machine run on a bounded pool of worker threads.

Workers only do HTTP and file I/O. Every change of state is posted as a ``JobMessage`` to a
``queue.SimpleQueue`` that the caller drains (Blender's main-thread timer, or the CLI).
"""

from __future__ import annotations

import base64
import enum
import logging
import math
import queue
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import errors as E
from .client import DONE_STATES, CancelToken, Client, ClientConfig, ModelFile, RateGate, Submission
from .glb import glb_stats
from .images import MAX_SIDE, read_image_info, shrink_image
from .params import Params, check_local_file
from .store import PENDING_STATES, JobRecord, ResultStore, cache_key, file_sha256, new_job_id

log = logging.getLogger(__name__)

UPLOAD_THRESHOLD = 256 * 1024


class JobState(str, enum.Enum):
    QUEUED = "queued"
    PREPARING = "preparing"
    UPLOADING = "uploading"
    SUBMITTED = "submitted"
    RUNNING = "running"
    DOWNLOADING = "downloading"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def finished(self) -> bool:
        return self in (JobState.DONE, JobState.FAILED, JobState.CANCELLED)


@dataclass
class JobSpec:
    """What to run: validated parameters, a display name, and data carried to the record."""

    params: Params
    name: str = ""
    extra: dict[str, Any] = field(default_factory=dict)
    use_cache: bool = True


@dataclass(frozen=True)
class JobMessage:
    """A snapshot of a job, posted to the message queue on every change."""

    job_id: str
    state: JobState
    progress: str
    fraction: float
    elapsed: float
    request_id: str = ""
    error: str = ""
    result: ModelFile | None = None
    record: JobRecord | None = None


class Job:
    """One job's live state (read by any thread; written by its worker)."""

    def __init__(self, spec: JobSpec | None, record: JobRecord, config: ClientConfig | None = None) -> None:
        self.spec = spec
        self.config = config
        self.record = record
        self.id = record.id
        self.state = JobState.QUEUED
        self.progress = "Waiting for a free worker"
        self.fraction = 0.0
        self.started = time.monotonic()
        self.ended: float | None = None
        self.error: E.Hunyuan3DError | None = None
        self.result: ModelFile | None = None
        self.cancel_token = CancelToken()
        self.done = threading.Event()
        self.interrupted = False  # stopped by a shutdown rather than by the user: stays resumable
        self.begun = False  # a worker has picked it up

    @property
    def elapsed(self) -> float:
        return (self.ended or time.monotonic()) - self.started

    @property
    def name(self) -> str:
        return self.record.name

    def cancel(self) -> None:
        self.cancel_token.cancel()

    def wait(self, timeout: float | None = None) -> bool:
        return self.done.wait(timeout)


class _Pool:
    """A bounded pool of daemon worker threads: a job still polling never holds up Blender's exit
    (its record stays resumable), unlike concurrent.futures, whose workers are joined at exit."""

    def __init__(self, workers: int) -> None:
        self._tasks: queue.SimpleQueue = queue.SimpleQueue()
        self._threads = [threading.Thread(target=self._work, name=f"hunyuan3d-job-{i}", daemon=True) for i in range(workers)]
        self._closed = False
        for t in self._threads:
            t.start()

    def submit(self, task: Callable[[], None]) -> None:
        if self._closed:
            raise RuntimeError("the job runner was shut down")
        self._tasks.put(task)

    def _work(self) -> None:
        while (task := self._tasks.get()) is not None:
            if not self._closed:
                task()

    def shutdown(self, wait: bool) -> None:
        self._closed = True
        for _ in self._threads:
            self._tasks.put(None)
        if wait:
            for t in self._threads:
                if t is not threading.current_thread():
                    t.join()


@dataclass
class PreparedInputs:
    body_inputs: dict[str, str]
    records: list[dict[str, Any]]
    bytes_sent: int


class JobRunner:
    """Runs jobs on ``max_workers`` threads and posts their messages to ``messages``."""

    def __init__(
        self,
        store: ResultStore,
        config: ClientConfig | Callable[[], ClientConfig],
        *,
        max_workers: int = 2,
        messages: queue.SimpleQueue | None = None,
        shrink_cmd: Sequence[str] | None = None,
        gate: RateGate | None = None,
    ) -> None:
        self.store = store
        self._config = config
        self.messages: queue.SimpleQueue = messages if messages is not None else queue.SimpleQueue()
        self.shrink_cmd = list(shrink_cmd) if shrink_cmd else None
        self.gate = gate or RateGate()
        self.jobs: dict[str, Job] = {}
        self._lock = threading.Lock()
        self._pool = _Pool(max(1, max_workers))

    def config(self) -> ClientConfig:
        return self._config() if callable(self._config) else self._config

    # -- public -------------------------------------------------------------------------------
    def submit(self, spec: JobSpec, config: ClientConfig | None = None) -> Job:
        """Start a job (with its own snapshot of the settings, if given); returns at once."""
        config = config or self.config()
        params, fixed = spec.params.with_seed()
        spec.params = params
        record = JobRecord(
            id=new_job_id(),
            endpoint=params.ENDPOINT,
            name=spec.name,
            params={**params.settings(), **params.inputs()},
            seed=getattr(params, "seed", None),
            seed_fixed=fixed,
            mode="queue" if config.use_queue else "sync",
            extra=dict(spec.extra),
        )
        return self._start(Job(spec, record, config))

    def resume(self, record: JobRecord, config: ClientConfig | None = None) -> Job:
        """Pick up a queue job that was submitted before (after a crash or restart)."""
        if not record.request_id:
            raise E.InputError("This job was never queued on Segmind, so it cannot be resumed.")
        with self._lock:
            for job in self.jobs.values():
                if job.id == record.id and not job.state.finished:
                    return job
        return self._start(Job(None, record, config))

    def run(self, spec: JobSpec, config: ClientConfig | None = None) -> Job:
        """Run a job to the end on a worker, blocking the caller (background mode, CLI)."""
        job = self.submit(spec, config)
        job.wait()
        return job

    def cancel(self, job_id: str) -> None:
        job = self.jobs.get(job_id)
        if job:
            job.cancel()

    def cancel_all(self) -> None:
        for job in list(self.jobs.values()):
            job.cancel()

    def active(self) -> list[Job]:
        return [j for j in self.jobs.values() if not j.state.finished]

    def forget(self, job_id: str) -> None:
        with self._lock:
            job = self.jobs.get(job_id)
            if job and job.state.finished:
                del self.jobs[job_id]

    def shutdown(self, wait: bool = False) -> None:
        """Stop every job and the pool (workers end within half a second).

        Unlike a user's cancel, a shutdown (Blender quitting, Ctrl-C in a batch) leaves queue jobs
        that Segmind already has as pending records, to be resumed later: they are paid for.
        """
        for job in list(self.jobs.values()):
            job.interrupted = True
            job.cancel()
        self._pool.shutdown(wait=wait)
        for job in list(self.jobs.values()):
            if not job.begun and not job.done.is_set():
                job.state, job.progress = JobState.CANCELLED, "Stopped before it started"
                job.record.status = "cancelled"
                job.ended = time.monotonic()
                self._post(job)
                job.done.set()

    # -- worker ---------------------------------------------------------------------------------
    def _start(self, job: Job) -> Job:
        with self._lock:
            self.jobs[job.id] = job
        self._post(job)
        self._pool.submit(lambda: self._run(job))
        return job

    def _post(self, job: Job) -> None:
        self.messages.put(
            JobMessage(
                job_id=job.id,
                state=job.state,
                progress=job.progress,
                fraction=job.fraction,
                elapsed=job.elapsed,
                request_id=job.record.request_id,
                error=job.error.message if job.error else "",
                result=job.result,
                record=job.record if job.state.finished else None,
            )
        )

    def _set(self, job: Job, state: JobState, progress: str, fraction: float | None = None) -> None:
        job.state = state
        job.progress = progress
        if fraction is not None:
            job.fraction = max(job.fraction, fraction)
        if state in (JobState.SUBMITTED, JobState.RUNNING, JobState.DOWNLOADING):
            job.record.status = state.value
        self._post(job)

    def _run(self, job: Job) -> None:
        if job.done.is_set():
            return  # ended by a shutdown before a worker got to it
        job.begun = True
        job.started = time.monotonic()
        client = Client(job.config or self.config(), self.gate)
        try:
            job.cancel_token.check()
            if job.spec is None:
                self._resume_flow(job, client)
            else:
                self._flow(job, client)
            job.record.status = "done"
            job.state, job.fraction = JobState.DONE, 1.0
            job.progress = "Done (from the results cache, no credits spent)" if job.record.cached_from else "Done"
        except E.CancelledError:
            job.error = None
            job.state = JobState.CANCELLED
            if job.interrupted and job.record.request_id and job.record.mode == "queue":
                job.progress = "Interrupted; Segmind still has it, so it can be resumed"
            else:
                job.record.status = "cancelled"
                job.record.error = "Cancelled."
                job.progress = "Cancelled"
        except E.Hunyuan3DError as exc:
            job.error = exc
            job.record.status = "failed"
            job.record.error = exc.message
            job.state, job.progress = JobState.FAILED, exc.message
        except Exception as exc:
            log.exception("job %s crashed", job.id)
            job.error = E.Hunyuan3DError(f"Unexpected error ({type(exc).__name__}: {exc}). Please report it.")
            job.record.status = "failed"
            job.record.error = job.error.message
            job.state, job.progress = JobState.FAILED, job.error.message
        finally:
            client.close()
            if job.record.status not in PENDING_STATES:
                job.record.finished = time.time()
            job.record.credits_remaining = client.remaining_credits if client.remaining_credits is not None else job.record.credits_remaining
            job.record.credits_consumed = client.credits_consumed if client.credits_consumed is not None else job.record.credits_consumed
            job.ended = time.monotonic()
            try:
                if job.spec is not None or job.record.request_id:
                    self.store.save(job.record)
            except E.StoreError as exc:
                if job.state is JobState.DONE:
                    job.state, job.error = JobState.FAILED, exc
                    job.progress = exc.message
            self._post(job)  # the one final message, after the record is on disk
            job.done.set()

    def _flow(self, job: Job, client: Client) -> None:
        assert job.spec is not None
        params = job.spec.params
        cfg = client.config
        self._set(job, JobState.PREPARING, "Preparing inputs", 0.02)
        prepared = self._prepare(job, client, params)
        key = cache_key(params.ENDPOINT, params.settings(), {r["field"]: r.get("sha256") or r["source"] for r in prepared.records}) if job.record.seed_fixed else ""
        job.record.cache_key = key
        job.record.inputs = prepared.records
        job.record.bytes_sent = prepared.bytes_sent
        if job.spec.use_cache and (hit := self.store.find_cached(key)):
            src = self.store.result_path(hit)
            assert src is not None
            job.record.cached_from = hit.id
            job.record.result_file = src.name
            job.record.result_format = hit.result_format
            job.record.result_stats = hit.result_stats
            job.result = ModelFile(src, hit.result_format, src.stat().st_size)
            return
        body = params.body(prepared.body_inputs)
        dest = self.store.dest(job.id)
        on_bytes = self._download_progress(job)
        sub = None
        if cfg.use_queue:
            self._set(job, JobState.SUBMITTED, "Submitting to Segmind", 0.06)
            try:
                sub = client.submit(params.ENDPOINT, body, job.cancel_token)
            except (E.NotFoundError, E.RequestError) as exc:
                if exc.status not in (404, 405):
                    raise
                log.info("the queue has no %s (%s): running it synchronously", params.ENDPOINT, exc.status)
                job.record.mode = "sync"
        if sub is None:
            job.record.submitted = time.time()
            self._set(job, JobState.RUNNING, "Generating (waiting for Segmind's answer)", 0.1)
            result = client.run_sync(params.ENDPOINT, body, dest, job.cancel_token, params.output_format, on_bytes)
        else:
            job.record.request_id, job.record.status_url, job.record.response_url = sub.request_id, sub.status_url, sub.response_url
            job.record.submitted = time.time()
            self.store.save(job.record)  # resumable from here on
            result = self._poll_and_fetch(job, client, sub, dest, params.output_format, on_bytes)
        self._finish_result(job, result)

    def _resume_flow(self, job: Job, client: Client) -> None:
        rec = job.record
        sub = Submission(rec.request_id, rec.status_url, rec.response_url)
        expected = rec.params.get("file_type") if rec.endpoint == "hunyuan3d-2mv" else "glb"
        result = self._poll_and_fetch(job, client, sub, self.store.dest(job.id), expected, self._download_progress(job))
        self._finish_result(job, result)

    def _poll_and_fetch(self, job: Job, client: Client, sub: Submission, dest: Path, expected: str | None, on_bytes: Callable[[int, int | None], None]) -> ModelFile:
        textured = bool(job.record.params.get("texture")) or bool(job.record.params.get("mesh"))
        typical = 100.0 if textured else 40.0

        def on_status(state: str) -> None:
            label = {"QUEUED": "Queued on Segmind", "PROCESSING": "Generating", "IN_PROGRESS": "Generating", "RUNNING": "Generating"}.get(state, "Finished on Segmind" if state in DONE_STATES else f"Segmind status: {state.title()}")
            self._set(job, JobState.RUNNING, label, 0.1)

        stop = threading.Event()

        def ticker() -> None:  # smooth progress while the server works
            while not stop.wait(1.0):
                if job.state is JobState.RUNNING:
                    job.fraction = max(job.fraction, 0.1 + 0.8 * (1 - math.exp(-job.elapsed / typical)))
                    self._post(job)

        threading.Thread(target=ticker, daemon=True, name="hunyuan3d-ticker").start()
        try:
            final = client.poll(sub, job.cancel_token, on_status)
        finally:
            stop.set()
        self._set(job, JobState.DOWNLOADING, "Downloading the model", 0.9)
        return client.fetch_result(sub, final, dest, job.cancel_token, expected, on_bytes)

    def _download_progress(self, job: Job) -> Callable[[int, int | None], None]:
        last = [0.0]

        def on_bytes(got: int, total: int | None) -> None:
            now = time.monotonic()
            if now - last[0] < 0.1 or (total is not None and total < 256 * 1024):
                return  # small answers (a JSON result document) are not worth a progress line
            last[0] = now
            text = f"Downloading {_size(got)} of {_size(total)}" if total else f"Downloading {_size(got)}"
            self._set(job, JobState.DOWNLOADING, text, 0.9 + (0.09 * got / total if total else 0.0))

        return on_bytes

    def _finish_result(self, job: Job, result: ModelFile) -> None:
        job.result = result
        job.record.result_file = result.path.name
        job.record.result_format = result.format
        if result.format == "glb":
            stats = glb_stats(result.path)
            job.record.result_stats = {"triangles": stats.triangles, "meshes": stats.meshes, "textures": stats.textures, "bytes": stats.size}
        else:
            job.record.result_stats = {"bytes": result.size}

    def _prepare(self, job: Job, client: Client, params: Params) -> PreparedInputs:
        """Check and encode every input (shrinking large images); upload when configured."""
        cfg = client.config
        body_inputs: dict[str, str] = {}
        records: list[dict[str, Any]] = []
        sent = 0
        for name, value in params.inputs().items():
            job.cancel_token.check()
            path = check_local_file(name, value)
            if path is None:
                body_inputs[name] = value
                records.append({"field": name, "source": value})
                continue
            label = name.replace("_", " ")
            if name == "mesh":
                try:
                    glb_stats(path)
                except E.BadResponseError as exc:
                    raise E.InputError(f"The mesh file {str(path)!r} is not a valid GLB ({exc.message.rstrip('.')}); nothing was sent.") from None
                data, mime, note = path.read_bytes(), "model/gltf-binary", ""
            else:
                info = read_image_info(path, label)
                data, mime, note = None, info.mime, ""
                if max(info.width, info.height) > MAX_SIDE and self.shrink_cmd:
                    self._set(job, JobState.PREPARING, f"Shrinking the {label} from {info.width}x{info.height} px", 0.03)
                    data = shrink_image(path, info, self.shrink_cmd)
                    note = f"shrunk from {info.width}x{info.height}"
                if data is None:
                    data = path.read_bytes()
            record = {"field": name, "source": str(path), "sha256": file_sha256(path), "file_bytes": path.stat().st_size}
            if note:
                record["note"] = note
            if cfg.upload_assets and (name == "mesh" or len(data) > UPLOAD_THRESHOLD):
                self._set(job, JobState.UPLOADING, f"Uploading the {label}", 0.04)
                body_inputs[name] = client.upload_asset(data, mime, job.cancel_token)
                record["uploaded"] = body_inputs[name]
            else:
                body_inputs[name] = base64.b64encode(data).decode("ascii")
            record["bytes_sent"] = len(data) if record.get("uploaded") else len(body_inputs[name])
            sent += record["bytes_sent"]
            records.append(record)
        return PreparedInputs(body_inputs, records, sent)


def _size(n: int) -> str:
    return f"{n / 1e6:.1f} MB" if n >= 1e6 else f"{max(1, round(n / 1e3))} kB"

