"""The stand-in Segmind server: a threaded HTTP server on 127.0.0.1 (port 0).

It implements the contract of ``segmind-api.md``: the ``x-api-key`` check, validation of both
endpoints' bodies (422 with the field named), every response variant (raw bytes, JSON URL,
JSON base64), the v2 queue, upload-asset, credits and rate limits. Results are served from a
second server (another origin), as Segmind serves them from a storage host. Every request is
recorded so tests assert on what was really sent. Scripted failures: ``fail_next``.
"""

from __future__ import annotations

import base64
import json
import math
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from . import models

SINGLE = "hunyuan-3d-2"
MULTI = "hunyuan3d-2mv"

_SINGLE_RULES: dict[str, tuple] = {
    "image": ("str",),
    "text": ("str",),
    "mesh": ("str",),
    "octree_resolution": ("choice", (256, 384, 512)),
    "num_inference_steps": ("int", 20, 50),
    "guidance_scale": ("num", 1, 15),
    "seed": ("int", -1, 999_999_999_999_999),
    "face_count": ("int", 5000, 100000),
    "texture": ("bool",),
}
_MULTI_RULES: dict[str, tuple] = {
    "front_image": ("str",),
    "back_image": ("str",),
    "left_image": ("str",),
    "right_image": ("str",),
    "steps": ("int", 1, 100),
    "guidance_scale": ("num", 0, 100),
    "seed": ("int", -1, 999_999_999_999_999),
    "randomize_seed": ("bool",),
    "octree_resolution": ("int", 16, 512),
    "num_chunks": ("int", 1000, 5000000),
    "target_face_num": ("int", 100, 1000000),
    "file_type": ("choice", ("glb", "obj", "ply", "stl")),
    "remove_background": ("bool",),
}


@dataclass
class Recorded:
    """One request as the server saw it."""

    method: str
    path: str
    headers: dict[str, str]
    body: Any
    raw_len: int
    server: str  # "api" or "files"
    form: bool = False  # sent as multipart form data
    at: float = field(default_factory=time.monotonic)


@dataclass
class Reply:
    status: int = 200
    body: bytes | dict | list | None = None
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    truncate_at: int | None = None  # send Content-Length of the whole body, then only this many bytes
    stall_at: int | None = None  # send this many bytes, then wait until the server stops


@dataclass
class _Rule:
    match: Callable[[Recorded], bool]
    reply: Reply
    times: float


@dataclass
class _QueuedJob:
    id: str
    slug: str
    body: dict
    model: bytes
    created: float
    job_time: float
    fail: str = ""


def _check(rules: dict[str, tuple], body: dict) -> str:
    for key, value in body.items():
        if key not in rules:
            return f"Unknown field: {key}"
        rule = rules[key]
        if value is None:
            return f"{key}: null is not allowed"
        kind = rule[0]
        if kind == "str" and not isinstance(value, str):
            return f"{key}: must be a string"
        if kind == "bool" and not isinstance(value, bool):
            return f"{key}: must be a boolean"
        if kind == "int" and (isinstance(value, bool) or not isinstance(value, int)):
            return f"{key}: must be an integer"
        if kind == "num" and (isinstance(value, bool) or not isinstance(value, int | float)):
            return f"{key}: must be a number"
        if kind in ("int", "num") and not rule[1] <= value <= rule[2]:
            return f"{key}: {value} is out of range {rule[1]}..{rule[2]}"
        if kind == "choice" and value not in rule[1]:
            return f"{key}: {value!r} is not one of {list(rule[1])}"
    return ""


def _parse_form(content_type: str, raw: bytes) -> dict[str, Any]:
    """Multipart form fields, typed the way a form-parsing server types them (by each field's rule)."""
    import email

    msg = email.message_from_bytes(b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + raw)
    out: dict[str, Any] = {}
    rules = {**_SINGLE_RULES, **_MULTI_RULES}
    for part in msg.get_payload() if msg.is_multipart() else []:
        name = part.get_param("name", header="content-disposition")
        text = part.get_payload(decode=True).decode()
        kind = rules.get(name, ("str",))[0]
        try:
            out[name] = {"int": int, "num": float, "bool": lambda t: {"true": True, "false": False}[t]}.get(kind, lambda t: int(t) if t.isdigit() else t)(text)
        except (KeyError, ValueError):
            out[name] = text
    return out


def _decode_input(value: str) -> bytes | None:
    if value.startswith(("http://", "https://")):
        return None
    if value.startswith("data:"):
        value = value.partition(",")[2]
    try:
        return base64.b64decode(value, validate=True)
    except ValueError:
        return b""


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        import sys

        if not isinstance(sys.exc_info()[1], ConnectionError):  # a client hanging up is not news
            super().handle_error(request, client_address)


class StandIn:
    """Start with ``with StandIn() as s:``; ``s.base_url`` is the API host."""

    def __init__(self, *, api_key: str = "test-key-0123456789", job_time: float = 0.0, output: str = "raw", queue_output: str = "url", credits: float = 1000.0, rate_limit: int | None = None, glb: bytes | None = None) -> None:
        self.api_key = api_key
        self.job_time = job_time
        self.output = output  # v1: raw | url | base64
        self.queue_output = queue_output  # v2 result: url | base64 | raw | inline (output in the status answer)
        self.credits = credits
        self.rate_limit = rate_limit  # generation requests per minute
        self.form_only: set[str] = set()  # endpoints that answer 415 to JSON bodies (as a form-only server would)
        self.glb = glb if glb is not None else models.WHITE_GLB.read_bytes()
        self.requests: list[Recorded] = []
        self.files: dict[str, bytes] = {}
        self.file_replies: dict[str, Reply] = {}
        self.jobs: dict[str, _QueuedJob] = {}
        self._rules: list[_Rule] = []
        self._lock = threading.Lock()
        self._recent: deque[float] = deque()
        self._stopping = threading.Event()
        self._api = _Server(("127.0.0.1", 0), self._handler("api"))
        self._files = _Server(("127.0.0.1", 0), self._handler("files"))
        self.base_url = f"http://127.0.0.1:{self._api.server_address[1]}"
        self.files_url = f"http://127.0.0.1:{self._files.server_address[1]}"
        self.upload_url = self.base_url + "/upload-asset"

    # -- lifecycle -----------------------------------------------------------------------------
    def start(self) -> StandIn:
        for srv in (self._api, self._files):
            threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        for srv in (self._api, self._files):
            srv.shutdown()
            srv.server_close()

    def __enter__(self) -> StandIn:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- scripting -----------------------------------------------------------------------------
    def fail_next(self, status: int, *, times: float = 1, body: bytes | dict | None = None, headers: dict[str, str] | None = None, path: str = "", method: str = "", when: Callable[[Recorded], bool] | None = None, **reply: Any) -> None:
        """Answer the next ``times`` matching requests with this status (math.inf: always)."""
        if body is None and status >= 400:
            body = {"error": f"stand-in error {status}"}

        def match(r: Recorded) -> bool:
            return (not path or path in r.path) and (not method or r.method == method) and (when is None or when(r))

        with self._lock:
            self._rules.append(_Rule(match, Reply(status, body, headers or {}, **reply), times))

    def generation_requests(self) -> list[Recorded]:
        return [r for r in self.requests if r.method == "POST" and (r.path.startswith("/v1/hunyuan") or r.path.startswith("/v2/hunyuan"))]

    def last_body(self) -> dict:
        return self.generation_requests()[-1].body

    def add_file(self, name: str, data: bytes) -> str:
        self.files[name] = data
        return f"{self.files_url}/files/{name}"

    # -- models ----------------------------------------------------------------------------------
    def make_model(self, slug: str, body: dict) -> bytes:
        """What the real model would return for this body, built from the real GLB."""
        if slug == MULTI:
            return models.to_format(self.glb, body.get("file_type", "glb"))
        if body.get("texture") or body.get("mesh"):
            base = self.glb
            if body.get("mesh"):
                mesh = _decode_input(body["mesh"])
                if mesh is None:
                    mesh = self._file_for_url(body["mesh"])
                if mesh and mesh.startswith(b"glTF"):
                    base = mesh
            image = _decode_input(body["image"]) if body.get("image") else None
            return models.textured_glb(base, image)
        return self.glb

    def _file_for_url(self, url: str) -> bytes | None:
        name = url.rsplit("/", 1)[-1]
        return self.files.get(name)

    # -- HTTP ------------------------------------------------------------------------------------
    def _handler(self, which: str) -> type[BaseHTTPRequestHandler]:
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # as real servers do: no 40 ms delayed-ACK stalls

            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                self._handle()

            def do_POST(self) -> None:
                self._handle()

            def do_PUT(self) -> None:
                self._handle()

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                ctype = self.headers.get("Content-Type", "")
                if ctype.startswith("multipart/form-data"):
                    body = _parse_form(ctype, raw)
                else:
                    try:
                        body = json.loads(raw) if raw else None
                    except ValueError:
                        body = {"_unparsed": raw[:200].decode(errors="replace")}
                rec = Recorded(self.command, self.path, {k.lower(): v for k, v in self.headers.items()}, body, len(raw), which, form=ctype.startswith("multipart/form-data"))
                with outer._lock:
                    outer.requests.append(rec)
                reply = outer._scripted(rec) or (outer._route_api(rec) if which == "api" else outer._route_files(rec))
                outer._send(self, reply)

        return Handler

    def _scripted(self, rec: Recorded) -> Reply | None:
        with self._lock:
            for rule in self._rules:
                if rule.times > 0 and rule.match(rec):
                    rule.times -= 1
                    return rule.reply
        return None

    def _send(self, h: BaseHTTPRequestHandler, reply: Reply) -> None:
        if reply.delay:
            self._stopping.wait(reply.delay)
        body = reply.body
        headers = dict(reply.headers)
        if isinstance(body, dict | list):
            body = json.dumps(body).encode()
            headers.setdefault("Content-Type", "application/json")
        body = body or b""
        headers.setdefault("Content-Type", "application/octet-stream")
        if h.server is self._api:
            headers.setdefault("x-remaining-credits", f"{self.credits:.2f}")
        try:
            h.send_response(reply.status)
            for k, v in headers.items():
                h.send_header(k, v)
            h.send_header("Content-Length", str(len(body)))
            if reply.truncate_at is not None or reply.stall_at is not None:
                h.send_header("Connection", "close")
                h.close_connection = True
            h.end_headers()
            if reply.stall_at is not None:
                h.wfile.write(body[: reply.stall_at])
                h.wfile.flush()
                self._stopping.wait(30)
                return
            if reply.truncate_at is not None:
                h.wfile.write(body[: reply.truncate_at])
                h.wfile.flush()
                return
            view = memoryview(body)
            for i in range(0, len(body), 1 << 20):
                h.wfile.write(view[i : i + (1 << 20)])
        except (BrokenPipeError, ConnectionResetError):
            h.close_connection = True

    def _route_files(self, rec: Recorded) -> Reply:
        name = rec.path.rsplit("/", 1)[-1]
        if name in self.file_replies:
            reply = self.file_replies[name]
            return Reply(reply.status, reply.body if reply.body is not None else self.files.get(name), reply.headers, reply.delay, reply.truncate_at, reply.stall_at)
        if name in self.files:
            return Reply(200, self.files[name], {"Content-Type": "model/gltf-binary"})
        return Reply(404, {"error": "no such file"})

    def _route_api(self, rec: Recorded) -> Reply:
        if rec.headers.get("x-api-key") != self.api_key:
            return Reply(401, {"error": "Invalid or missing API key"})
        path = rec.path.split("?")[0]
        if rec.method == "GET" and path == "/v1/get-user-credits":
            return Reply(200, {"credits": self.credits, "free-credits": 0.0})
        if rec.method == "POST" and path == "/upload-asset":
            urls = []
            for data_url in (rec.body or {}).get("data_urls", []):
                name = f"asset-{uuid.uuid4().hex[:8]}"
                urls.append(self.add_file(name, base64.b64decode(data_url.partition(",")[2])))
            return Reply(200, {"file_urls": urls})
        parts = path.strip("/").split("/")
        if rec.method == "POST" and len(parts) == 2 and parts[0] in ("v1", "v2"):
            return self._generate(parts[0], parts[1], rec)
        if rec.method == "GET" and len(parts) >= 3 and parts[:2] == ["v2", "requests"]:
            return self._queue_lookup(parts[2], status_only=len(parts) == 4 and parts[3] == "status")
        if rec.method not in ("GET", "POST"):
            return Reply(405, {"error": "Method not allowed"})
        return Reply(404, {"error": f"No such endpoint {path}"})

    def _rate_limited(self) -> Reply | None:
        if not self.rate_limit:
            return None
        now = time.monotonic()
        with self._lock:
            while self._recent and now - self._recent[0] >= 60:
                self._recent.popleft()
            if len(self._recent) >= self.rate_limit:
                wait = 60 - (now - self._recent[0])
                return Reply(429, {"error": "Rate limit exceeded"}, {"Retry-After": str(max(1, math.ceil(wait)))})
            self._recent.append(now)
        return None

    def _generate(self, version: str, slug: str, rec: Recorded) -> Reply:
        if slug not in (SINGLE, MULTI):
            return Reply(404, {"error": f"Model {slug} not found"})
        if slug in self.form_only and not rec.form:
            return Reply(415, {"error": "Unsupported Media Type: send multipart/form-data"})
        body = rec.body
        if not isinstance(body, dict):
            return Reply(400, {"error": "Body must be a JSON object"})
        problem = _check(_SINGLE_RULES if slug == SINGLE else _MULTI_RULES, body)
        if not problem and slug == SINGLE and not (body.get("image") or body.get("text") or body.get("mesh")):
            problem = "image or text is required"
        if not problem and slug == MULTI and not body.get("front_image"):
            problem = "front_image is required"
        for key in ("image", "mesh", "front_image", "back_image", "left_image", "right_image"):
            if not problem and key in body and _decode_input(body[key]) == b"":
                problem = f"{key}: not a URL or valid base64"
        if problem:
            return Reply(422, {"error": problem})
        if self.credits < 1:
            return Reply(406, {"error": "Insufficient credits"})
        if limited := self._rate_limited():
            return limited
        model = self.make_model(slug, body)
        self.credits -= 1
        if version == "v2":
            job = _QueuedJob(uuid.uuid4().hex, slug, body, model, time.monotonic(), self.job_time)
            self.jobs[job.id] = job
            return Reply(200, {"request_id": job.id, "status": "QUEUED", "status_url": f"{self.base_url}/v2/requests/{job.id}/status", "response_url": f"{self.base_url}/v2/requests/{job.id}"})
        if self.job_time:
            self._stopping.wait(self.job_time)
        return self._model_reply(self.output, model, slug, body)

    def _model_reply(self, how: str, model: bytes, slug: str, body: dict, extra: dict | None = None) -> Reply:
        fmt = body.get("file_type", "glb") if slug == MULTI else "glb"
        if how == "raw":
            return Reply(200, model, {"Content-Type": "model/gltf-binary" if fmt == "glb" else "application/octet-stream", "x-credits-consumed": "1.0"})
        if how == "base64":
            return Reply(200, {**(extra or {}), "status": "success", "output": base64.b64encode(model).decode()})
        url = self.add_file(f"{uuid.uuid4().hex}.{fmt}", model)
        return Reply(200, {**(extra or {}), "status": "success", "output": url})

    def _queue_lookup(self, rid: str, status_only: bool) -> Reply:
        job = self.jobs.get(rid)
        if job is None:
            return Reply(404, {"error": "Request not found"})
        age = time.monotonic() - job.created
        if job.fail:
            return Reply(422, {"status": "FAILED", "error": job.fail})
        if age < job.job_time:
            state = "QUEUED" if age < 0.1 * job.job_time else "PROCESSING"
            return Reply(200, {"status": state, "request_id": rid})
        if status_only and self.queue_output != "inline":
            return Reply(200, {"status": "COMPLETED", "request_id": rid})
        how = "url" if self.queue_output == "inline" else self.queue_output
        return self._model_reply(how, job.model, job.slug, job.body, {"status": "COMPLETED", "metrics": {"inference_time": job.job_time}})
