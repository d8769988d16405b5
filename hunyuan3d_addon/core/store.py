"""Results and job records on disk: ``<job id>.<ext>`` plus ``<job id>.json``.

Records are written atomically (temporary file, then rename). A corrupt record is skipped
with a warning. Pending queue jobs are found for resume; finished results answer identical
requests (fixed seed, same inputs and parameters) without spending credits.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
import secrets
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import StoreError

log = logging.getLogger(__name__)

PENDING_STATES = ("submitted", "running", "downloading")
QUEUE_LIFETIME = 3600.0


def new_job_id() -> str:
    """A sortable, unique id: UTC time plus random hex."""
    return time.strftime("%Y%m%d-%H%M%S", time.gmtime()) + "-" + secrets.token_hex(3)


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@dataclass
class JobRecord:
    """Everything known about one job, as saved next to its result."""

    id: str
    endpoint: str
    name: str = ""
    status: str = "queued"
    params: dict[str, Any] = field(default_factory=dict)
    inputs: list[dict[str, Any]] = field(default_factory=list)
    seed: int | None = None
    seed_fixed: bool = False
    mode: str = "queue"
    request_id: str = ""
    status_url: str = ""
    response_url: str = ""
    created: float = field(default_factory=time.time)
    submitted: float | None = None
    finished: float | None = None
    credits_remaining: float | None = None
    credits_consumed: float | None = None
    bytes_sent: int = 0
    result_file: str = ""
    result_format: str = ""
    result_stats: dict[str, Any] = field(default_factory=dict)
    error: str = ""
    cache_key: str = ""
    cached_from: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def provenance(self) -> dict[str, str | int | float | bool]:
        """What made this result, for a custom property on the imported object: the job, the model, the seed
        used, every setting and the inputs' file names. Integers beyond 32 bits (seeds) become text, as
        Blender's custom properties hold only 32-bit integers."""
        info: dict[str, str | int | float | bool] = {"job": self.id, "model": self.endpoint}
        for key, value in self.params.items():
            if value is None or value == "":
                continue
            if isinstance(value, str) and key.endswith(("image", "mesh")):  # an input: its file name, never a folder
                value = value.split("?")[0].replace("\\", "/").rsplit("/", 1)[-1]
            elif isinstance(value, int) and not isinstance(value, bool) and not -(2**31) <= value < 2**31:
                value = str(value)
            info[key] = value
        if self.seed is not None:
            info["seed"] = str(self.seed)
        return info

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> JobRecord:
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})


def cache_key(endpoint: str, settings: dict[str, Any], input_ids: dict[str, str]) -> str:
    """Identity of a request: endpoint, every setting (with the seed) and each input's hash or URL."""
    blob = json.dumps({"endpoint": endpoint, "settings": settings, "inputs": input_ids}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()


class ResultStore:
    """The results folder."""

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root)

    def ensure(self) -> Path:
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"The results folder {str(self.root)!r} cannot be created ({exc.strerror}). Choose another folder in Preferences.") from None
        return self.root

    def dest(self, job_id: str) -> Path:
        """Where a job's model goes, without its extension."""
        return self.ensure() / job_id

    def result_path(self, record: JobRecord) -> Path | None:
        if not record.result_file:
            return None
        path = self.root / record.result_file
        return path if path.is_file() else None

    def save(self, record: JobRecord) -> None:
        """Write a record atomically."""
        self.ensure()
        data = json.dumps(dataclasses.asdict(record), indent=1, sort_keys=True)
        try:
            fd, tmp = tempfile.mkstemp(dir=self.root, prefix=f".{record.id}.", suffix=".tmp")
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(data)
            os.replace(tmp, self.root / f"{record.id}.json")
        except OSError as exc:
            raise StoreError(f"The job record could not be saved in {str(self.root)!r} ({exc.strerror}). Check the results folder.") from None

    def load(self, job_id: str) -> JobRecord | None:
        path = self.root / f"{job_id}.json"
        try:
            return JobRecord.from_json(json.loads(path.read_text(encoding="utf-8")))
        except FileNotFoundError:
            return None
        except (OSError, ValueError, TypeError) as exc:
            log.warning("Skipping unreadable job record %s: %s", path.name, exc)
            return None

    def records(self) -> list[JobRecord]:
        """Every readable record, newest first; corrupt ones are skipped with a warning."""
        if not self.root.is_dir():
            return []
        out = []
        for path in self.root.glob("*.json"):
            record = self.load(path.stem)
            if record is not None:
                out.append(record)
        out.sort(key=lambda r: (r.created, r.id), reverse=True)
        return out

    def finished(self) -> list[JobRecord]:
        """Records whose result file is on disk, newest first."""
        return [r for r in self.records() if r.status == "done" and self.result_path(r)]

    def pending(self, now: float | None = None) -> list[JobRecord]:
        """Queue jobs submitted less than an hour ago and never finished: these can be resumed."""
        now = time.time() if now is None else now
        return [
            r
            for r in self.records()
            if r.status in PENDING_STATES and r.request_id and r.mode == "queue" and now - (r.submitted or r.created) < QUEUE_LIFETIME
        ]

    def find_cached(self, key: str) -> JobRecord | None:
        """A finished record of an identical request whose file is still here."""
        if not key:
            return None
        for record in self.records():
            if record.cache_key == key and record.status == "done" and self.result_path(record):
                return record
        return None
