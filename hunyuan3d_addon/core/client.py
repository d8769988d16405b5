"""HTTP client for Segmind's Hunyuan3D endpoints.

One ``Client`` per job: auth on API-host requests only, the v2 queue (submit, poll, fetch)
and v1 synchronous calls, response sniffing, streamed downloads that land whole or not at
all, typed errors, bounded retries with back-off, and a cancel token honoured within 0.5 s.
"""

from __future__ import annotations

import base64
import binascii
import email.utils
import json
import logging
import os
import random
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import requests

from . import errors as E
from .glb import validate_model

log = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://api.segmind.com"
DEFAULT_UPLOAD_URL = "https://workflows-api.segmind.com/upload-asset"
CHUNK = 64 * 1024
YIELD_EVERY = 0.001  # seconds a download may hold on before it steps aside for other threads
YIELD_FOR = 0.0002
SMALL_JSON = 8 * 1024 * 1024
DONE_STATES = {"COMPLETED", "SUCCEEDED", "SUCCESS", "DONE"}
FAILED_STATES = {"FAILED", "ERROR", "CANCELLED", "CANCELED"}


@dataclass
class ClientConfig:
    """Connection settings; ``from_env`` reads SEGMIND_API_KEY and SEGMIND_BASE_URL."""

    api_key: str = field(default="", repr=False)
    base_url: str = DEFAULT_BASE_URL
    use_queue: bool = True
    connect_timeout: float = 10.0
    read_timeout: float = 60.0
    sync_timeout: float = 600.0
    proxy: str = ""
    ca_bundle: str = ""
    upload_url: str = DEFAULT_UPLOAD_URL
    upload_assets: bool = False
    max_retries: int = 5
    max_rate_retries: int = 30
    retry_budget: float = 300.0
    poll_min: float = 0.1
    poll_max: float = 1.0
    job_timeout: float = 3600.0  # queued results expire after an hour: stop polling then

    @classmethod
    def from_env(cls, **overrides: Any) -> ClientConfig:
        cfg = cls(api_key=os.environ.get("SEGMIND_API_KEY", ""), base_url=os.environ.get("SEGMIND_BASE_URL", "") or DEFAULT_BASE_URL)
        for k, v in overrides.items():
            if v is not None and v != "":
                setattr(cfg, k, v)
        return cfg


class CancelToken:
    """A thread-safe cancel flag; callbacks run once, on the cancelling thread."""

    def __init__(self) -> None:
        self._event = threading.Event()
        self._lock = threading.Lock()
        self._callbacks: list[Callable[[], None]] = []

    def cancel(self) -> None:
        with self._lock:
            if self._event.is_set():
                return
            self._event.set()
            callbacks, self._callbacks = self._callbacks, []
        for cb in callbacks:
            try:
                cb()
            except Exception:
                pass

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def check(self) -> None:
        if self._event.is_set():
            raise E.CancelledError()

    def sleep(self, seconds: float) -> None:
        """Sleep, waking at once on cancel (then raise CancelledError)."""
        if self._event.wait(max(0.0, seconds)):
            raise E.CancelledError()

    def on_cancel(self, cb: Callable[[], None]) -> Callable[[], None]:
        """Register ``cb``; returns a function that unregisters it."""
        with self._lock:
            if not self._event.is_set():
                self._callbacks.append(cb)
                return lambda: self._discard(cb)
        cb()
        return lambda: None

    def _discard(self, cb: Callable[[], None]) -> None:
        with self._lock:
            if cb in self._callbacks:
                self._callbacks.remove(cb)


class RateGate:
    """Back-off shared by every client of a batch: one 429 holds all of them back."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._not_before = 0.0

    def hold(self, seconds: float) -> None:
        with self._lock:
            self._not_before = max(self._not_before, time.monotonic() + seconds)

    def wait(self, cancel: CancelToken) -> None:
        while True:
            with self._lock:
                delay = self._not_before - time.monotonic()
            if delay <= 0:
                return
            cancel.sleep(min(delay, 1.0))


@dataclass(frozen=True)
class Submission:
    """A queued v2 job."""

    request_id: str
    status_url: str = ""
    response_url: str = ""


@dataclass(frozen=True)
class ModelFile:
    """A model saved whole in the results folder."""

    path: Path
    format: str
    size: int


@dataclass(frozen=True)
class Credits:
    credits: float | None
    free_credits: float | None


def redact(text: str, secret: str) -> str:
    """Remove a secret from text meant for logs or users."""
    return text.replace(secret, "***") if secret and len(secret) >= 4 else text


def _server_message(body: bytes, content_type: str) -> str:
    """A short, readable error message from an error body (JSON or text; HTML dropped)."""
    text = body[:4096].decode("utf-8", errors="replace").strip()
    if not text or "html" in content_type.lower() or text.lower().startswith(("<!doctype", "<html")):
        return ""
    try:
        data = json.loads(text)
    except ValueError:
        return " ".join(text.split())[:200]
    if isinstance(data, dict):
        for key in ("error", "message", "detail", "text", "msg"):
            value = data.get(key)
            if isinstance(value, str) and value.strip():
                return " ".join(value.split())[:200]
            if value:
                return json.dumps(value)[:200]
    return ""


def error_for_status(status: int, body: bytes = b"", content_type: str = "", retry_after: float | None = None) -> E.Hunyuan3DError:
    """Map an HTTP error status to a typed error with one sentence for the user."""
    msg = _server_message(body, content_type)
    said = f": {msg.rstrip('.')}" if msg else ""
    if status == 401:
        return E.AuthError("Segmind says the API key is missing or invalid (401). Set it in Preferences > Add-ons > Hunyuan3D or in SEGMIND_API_KEY.", status=401)
    if status == 403:
        return E.ForbiddenError(f"Segmind refused access (403){said}. Check that your account may use this model.", status=403)
    if status == 404:
        return E.NotFoundError(f"Segmind has no such model or request (404){said}. Check the base URL in Preferences.", status=404)
    if status == 405:
        return E.RequestError("Segmind does not allow this method at that address (405). Check the base URL in Preferences.", status=405)
    if status == 406:
        return E.CreditsError("Your Segmind account does not have enough credits (406). Add credits on segmind.com, then try again.", status=406)
    if status == 429:
        return E.RateLimitError("Segmind is limiting the rate of requests (429). Wait a minute or run fewer jobs at once.", retry_after=retry_after)
    if status in (400, 422):
        return E.RequestError(f"Segmind rejected the request ({status}){said}. Check the inputs and parameters.", status=status)
    if status == 500:
        return E.ServerError(f"Segmind had an internal error (500){said}. Try again later.", status=500)
    if status in (502, 503, 504):
        names = {502: "bad gateway", 503: "unavailable", 504: "gateway time-out"}
        return E.ServerError(f"Segmind's service is temporarily unreachable ({status} {names[status]}). Try again in a few minutes.", status=status)
    if status >= 500:
        return E.ServerError(f"Segmind answered with a server error ({status}){said}. Try again later.", status=status)
    return E.RequestError(f"Segmind answered with an unexpected status ({status}){said}.", status=status)


def _parse_retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _network_error(exc: Exception, url: str, timeout: float) -> E.Hunyuan3DError:
    host = urlsplit(url).hostname or url
    text = repr(exc)
    if isinstance(exc, requests.Timeout) and not isinstance(exc, requests.ConnectTimeout):
        return E.TimeoutError_(f"{host} did not answer within {timeout:g} s. Try again, or raise the time-outs in Preferences.")
    if isinstance(exc, requests.ConnectTimeout):
        return E.TimeoutError_(f"Connecting to {host} timed out. Check your internet connection and proxy settings.")
    if isinstance(exc, requests.exceptions.SSLError):
        return E.NetworkError(f"The secure connection to {host} failed (certificate or TLS error). Check the CA bundle and proxy settings.")
    if isinstance(exc, requests.exceptions.ProxyError):
        return E.NetworkError(f"The proxy refused or failed the connection to {host}. Check the proxy setting.")
    if "NameResolution" in text or "Name or service not known" in text or "getaddrinfo" in text or "nodename nor servname" in text:
        return E.NetworkError(f"The host {host} could not be found (DNS lookup failed). Check your internet connection and the base URL.")
    if "Connection refused" in text or "ConnectionRefused" in text or "Errno 111" in text:
        return E.NetworkError(f"{host} refused the connection. Check the base URL and proxy settings.")
    return E.NetworkError(f"The connection to {host} failed. Check your internet connection and try again.")


def _is_json_head(head: bytes) -> bool:
    return head.lstrip()[:1] in (b"{", b"[")


def _find_model_value(data: Any) -> str | None:
    """The model reference (URL or base64) in a JSON result, whatever its shape."""
    if isinstance(data, str):
        return data or None
    if isinstance(data, list):
        for item in data:
            found = _find_model_value(item)
            if found:
                return found
        return None
    if isinstance(data, dict):
        for key in ("output", "model_base64", "model", "glb", "url", "model_url", "result", "file_url", "mesh"):
            if key in data:
                found = _find_model_value(data[key])
                if found:
                    return found
    return None


class Client:
    """Talks to Segmind for one job (or for a few quick calls)."""

    def __init__(self, config: ClientConfig, gate: RateGate | None = None, *, rng: random.Random | None = None) -> None:
        self.config = config
        self.gate = gate or RateGate()
        self.rng = rng or random.Random()
        self.session = requests.Session()
        if config.proxy:
            self.session.proxies.update({"http": config.proxy, "https": config.proxy})
        if config.ca_bundle:
            self.session.verify = config.ca_bundle
        self.session.headers["User-Agent"] = "hunyuan3d-blender"
        self.remaining_credits: float | None = None
        self.credits_consumed: float | None = None
        self.api_origin = self._origin(config.base_url)

    def __repr__(self) -> str:
        return f"Client(base_url={self.config.base_url!r})"

    def close(self) -> None:
        self.session.close()

    # -- low level -------------------------------------------------------------------------
    @staticmethod
    def _origin(url: str) -> tuple[str, str, int | None]:
        parts = urlsplit(url)
        port = parts.port or {"http": 80, "https": 443}.get(parts.scheme)
        return parts.scheme, (parts.hostname or "").lower(), port

    def api_url(self, path: str) -> str:
        return self.config.base_url.rstrip("/") + "/" + path.lstrip("/")

    def _headers_for(self, url: str) -> dict[str, str]:
        """The key goes only to the configured API host (and the upload host), never to storage hosts."""
        origin = self._origin(url)
        if origin == self.api_origin or origin == self._origin(self.config.upload_url):
            if not self.config.api_key:
                raise E.AuthError("No Segmind API key is set. Set it in Preferences > Add-ons > Hunyuan3D or in SEGMIND_API_KEY.")
            return {"x-api-key": self.config.api_key}
        return {}

    def _send_once(self, method: str, url: str, cancel: CancelToken, *, json_body: Any = None, form: bool = False, timeout: float | None = None, stream: bool = True) -> requests.Response:
        """One request; the calling thread waits for headers but returns within 50 ms of a cancel."""
        cancel.check()
        headers = self._headers_for(url)
        read_timeout = timeout or self.config.read_timeout
        box: dict[str, Any] = {}
        done = threading.Event()

        def run() -> None:
            try:
                body = {"files": _form_fields(json_body)} if form else {"json": json_body}
                box["resp"] = self.session.request(method, url, headers=headers, stream=stream, timeout=(self.config.connect_timeout, read_timeout), **body)
            except BaseException as exc:
                box["exc"] = exc
            finally:
                done.set()
                if cancel.cancelled and "resp" in box:
                    box["resp"].close()

        threading.Thread(target=run, name="hunyuan3d-http", daemon=True).start()
        while not done.wait(0.05):
            if cancel.cancelled:
                raise E.CancelledError()
        if "exc" in box:
            exc = box["exc"]
            if isinstance(exc, requests.RequestException):
                raise _network_error(exc, url, read_timeout) from None
            raise exc
        resp: requests.Response = box["resp"]
        if cancel.cancelled:
            resp.close()
            raise E.CancelledError()
        self._read_credit_headers(resp)
        return resp

    def _read_credit_headers(self, resp: requests.Response) -> None:
        for header, attr in (("x-remaining-credits", "remaining_credits"), ("x-credits-consumed", "credits_consumed")):
            value = resp.headers.get(header)
            if value is not None:
                try:
                    setattr(self, attr, float(value))
                except ValueError:
                    pass

    def request(self, method: str, url: str, cancel: CancelToken, *, json_body: Any = None, form: bool = False, timeout: float | None = None, ok: tuple[int, ...] = ()) -> requests.Response:
        """A request with bounded retries for 429, 502-504 and connection errors; raises typed errors."""
        attempt = 0
        started = time.monotonic()
        while True:
            self.gate.wait(cancel)
            try:
                resp = self._send_once(method, url, cancel, json_body=json_body, form=form, timeout=timeout)
                if resp.status_code < 400 or resp.status_code in ok:
                    return resp
                retry_after = _parse_retry_after(resp.headers.get("Retry-After"))
                body = resp.content[:4096] if resp.status_code != 200 else b""
                resp.close()
                err = error_for_status(resp.status_code, body, resp.headers.get("Content-Type", ""), retry_after)
                err.message = redact(err.message, self.config.api_key)
            except (E.NetworkError, E.TimeoutError_) as exc:
                err = exc
                retry_after = None
                if isinstance(exc, E.TimeoutError_) and method == "POST":
                    raise  # the server may be working on it: do not pay twice
            # A 429 is the server pacing us, not a failure: it has its own, larger bound.
            limit = self.config.max_rate_retries if isinstance(err, E.RateLimitError) else self.config.max_retries
            if not err.retryable or attempt >= limit:
                raise err
            delay = retry_after if retry_after is not None else min(30.0, 2.0**attempt) * (0.5 + self.rng.random() / 2)
            if time.monotonic() - started + delay > self.config.retry_budget:
                raise err
            if isinstance(err, E.RateLimitError):
                self.gate.hold(delay)
            log.info("retrying %s %s in %.1f s after: %s", method, urlsplit(url).path, delay, err.message)
            attempt += 1
            cancel.sleep(delay)

    # -- API calls -------------------------------------------------------------------------
    def get_credits(self, cancel: CancelToken | None = None) -> Credits:
        """The account balance (``GET /v1/get-user-credits``)."""
        resp = self.request("GET", self.api_url("/v1/get-user-credits"), cancel or CancelToken())
        data = self._small_json(resp)

        def num(key: str) -> float | None:
            try:
                return float(data[key])
            except (KeyError, TypeError, ValueError):
                return None

        return Credits(num("credits"), num("free-credits") if "free-credits" in data else num("free_credits"))

    def _small_json(self, resp: requests.Response) -> Any:
        try:
            return json.loads(resp.content[:SMALL_JSON] or b"null")
        except ValueError:
            raise E.BadResponseError("Segmind answered with something that is not JSON. Check the base URL in Preferences.") from None
        finally:
            resp.close()

    def upload_asset(self, data: bytes, mime: str, cancel: CancelToken) -> str:
        """Upload a file through upload-asset and return its URL."""
        payload = {"data_urls": [f"data:{mime};base64," + base64.b64encode(data).decode("ascii")]}
        resp = self.request("POST", self.config.upload_url, cancel, json_body=payload)
        found = self._small_json(resp)
        urls = (found.get("file_urls") or found.get("urls") or found.get("url")) if isinstance(found, dict) else None
        if isinstance(urls, str):
            urls = [urls]
        if not urls or not isinstance(urls[0], str):
            raise E.BadResponseError("The upload service returned no file URL. Turn off uploads in Preferences to send files inline.")
        return urls[0]

    def _post_body(self, url: str, body: dict[str, Any], cancel: CancelToken, timeout: float | None = None) -> requests.Response:
        """POST a request body as JSON (Segmind's convention), or as form data if JSON is refused (415)."""
        try:
            return self.request("POST", url, cancel, json_body=body, timeout=timeout)
        except E.RequestError as exc:
            if exc.status != 415:
                raise
            log.info("%s refused JSON (415): sending form data", urlsplit(url).path)
            return self.request("POST", url, cancel, json_body=body, form=True, timeout=timeout)

    def submit(self, slug: str, body: dict[str, Any], cancel: CancelToken) -> Submission:
        """Queue a job (``POST /v2/<slug>``)."""
        resp = self._post_body(self.api_url(f"/v2/{slug}"), body, cancel)
        data = self._small_json(resp)
        rid = data.get("request_id") if isinstance(data, dict) else None
        if not rid:
            raise E.BadResponseError("Segmind accepted the job but returned no request id. Try again, or switch to synchronous calls in Preferences.")
        return Submission(str(rid), data.get("status_url") or data.get("poll_url") or "", data.get("response_url") or "")

    def poll(self, sub: Submission, cancel: CancelToken, on_status: Callable[[str], None] | None = None) -> dict[str, Any]:
        """Poll until the job completes; return the final status document.

        The interval grows with the job's age (4 % of it, between poll_min and poll_max), so
        polling adds at most ~4 % or a second to a job: ten polls a second for the first
        2.5 s, easing to one a second from 25 s on (a 100 s job costs about 160 polls).
        """
        url = self._same_origin(sub.status_url) or self.api_url(f"/v2/requests/{sub.request_id}/status")
        started = time.monotonic()
        last = ""
        while True:
            resp = self.request("GET", url, cancel, ok=(404, 422))
            status_code = resp.status_code
            data = self._small_json(resp)
            data = data if isinstance(data, dict) else {}
            state = str(data.get("status", "")).upper()
            if status_code == 404:
                raise E.ExpiredError("Segmind no longer has this job (404); queued results expire one hour after submission.", status=404)
            if state in FAILED_STATES or status_code == 422:
                reason = _server_message(json.dumps(data).encode(), "application/json") or "no reason given"
                raise E.JobFailedError(f"Segmind reports the job failed: {reason.rstrip('.')}. Change the inputs or try again.", status=status_code)
            if state != last and on_status:
                on_status(state)
            last = state
            if state in DONE_STATES:
                return data
            age = time.monotonic() - started
            if age > self.config.job_timeout:
                raise E.TimeoutError_(f"Segmind did not finish the job within {self.config.job_timeout / 60:g} minutes (last status: {state or 'none'}). Try again later.")
            cancel.sleep(min(self.config.poll_max, max(self.config.poll_min, 0.04 * age)))

    def _same_origin(self, url: str) -> str:
        return url if url and self._origin(url) == self.api_origin else ""

    def fetch_result(self, sub: Submission, final: dict[str, Any], dest: Path, cancel: CancelToken, expected: str | None = None, on_bytes: Callable[[int, int | None], None] | None = None) -> ModelFile:
        """Save a finished v2 job's model next to ``dest`` (``dest`` has no extension)."""
        if _find_model_value(final.get("output")):
            return self._save_json_result(final, dest, cancel, expected, on_bytes)
        url = self._same_origin(sub.response_url) or self.api_url(f"/v2/requests/{sub.request_id}")
        resp = self.request("GET", url, cancel)
        return self.save_model_response(resp, dest, cancel, expected, on_bytes)

    def run_sync(self, slug: str, body: dict[str, Any], dest: Path, cancel: CancelToken, expected: str | None = None, on_bytes: Callable[[int, int | None], None] | None = None) -> ModelFile:
        """Run a job with one blocking call (``POST /v1/<slug>``) and save its model."""
        resp = self._post_body(self.api_url(f"/v1/{slug}"), body, cancel, timeout=self.config.sync_timeout)
        return self.save_model_response(resp, dest, cancel, expected, on_bytes)

    # -- responses and downloads -------------------------------------------------------------
    def save_model_response(self, resp: requests.Response, dest: Path, cancel: CancelToken, expected: str | None = None, on_bytes: Callable[[int, int | None], None] | None = None) -> ModelFile:
        """Save whatever model a 200 carries: raw bytes, a JSON URL, or JSON base64."""
        part = dest.with_name(dest.name + ".part")
        head = self._stream_to(resp, part, cancel, on_bytes)
        try:
            if _is_json_head(head):
                size = part.stat().st_size
                if size <= SMALL_JSON:
                    try:
                        data = json.loads(part.read_bytes())
                    except ValueError:
                        raise E.BadResponseError("The server returned no model (its answer is broken JSON).") from None
                    return self._save_json_result(data, dest, cancel, expected, on_bytes)
                return self._finish(self._decode_b64_file(part, dest, cancel), dest, expected)
            return self._finish(part, dest, expected)
        finally:
            part.unlink(missing_ok=True)
            dest.with_name(dest.name + ".b64.part").unlink(missing_ok=True)

    def _save_json_result(self, data: Any, dest: Path, cancel: CancelToken, expected: str | None, on_bytes: Callable[[int, int | None], None] | None) -> ModelFile:
        value = _find_model_value(data.get("output") if isinstance(data, dict) and "output" in data else data)
        if not value:
            raise E.BadResponseError("The server returned no model (its answer has no output).")
        if value.startswith(("http://", "https://")):
            return self.download(value, dest, cancel, expected, on_bytes)
        if value.startswith("data:"):
            value = value.partition(",")[2]
        part = dest.with_name(dest.name + ".b64.part")
        try:
            with part.open("wb") as out:
                for i in range(0, len(value), 4 * CHUNK):
                    cancel.check()
                    out.write(binascii.a2b_base64(value[i : i + 4 * CHUNK]))
        except binascii.Error:
            part.unlink(missing_ok=True)
            raise E.BadResponseError("The server returned no model (its output is neither a URL nor base64).") from None
        try:
            return self._finish(part, dest, expected)
        finally:
            part.unlink(missing_ok=True)

    def download(self, url: str, dest: Path, cancel: CancelToken, expected: str | None = None, on_bytes: Callable[[int, int | None], None] | None = None) -> ModelFile:
        """Stream a result URL (without the API key unless it is the API host) into place."""
        resp = self.request("GET", url, cancel)
        part = dest.with_name(dest.name + ".dl.part")
        try:
            head = self._stream_to(resp, part, cancel, on_bytes)
            if _is_json_head(head):
                raise E.BadResponseError("The result URL returned JSON instead of a model.")
            return self._finish(part, dest, expected)
        finally:
            part.unlink(missing_ok=True)

    def _stream_to(self, resp: requests.Response, part: Path, cancel: CancelToken, on_bytes: Callable[[int, int | None], None] | None) -> bytes:
        """Write a response body to ``part`` in small chunks; return its first bytes."""
        expected_len = resp.headers.get("Content-Length")
        total = int(expected_len) if expected_len and expected_len.isdigit() else None
        unregister = cancel.on_cancel(lambda: _shutdown(resp))
        head = b""
        got = 0
        last_yield = time.perf_counter()
        try:
            out = _open_for_write(part)
            with out:
                for chunk in resp.iter_content(CHUNK):
                    if cancel.cancelled:
                        raise E.CancelledError()
                    now = time.perf_counter()
                    if now - last_yield > YIELD_EVERY:
                        # On a fast link recv() rarely blocks, and this thread would win the GIL back
                        # before Blender's main thread wakes: step aside briefly so the UI never waits.
                        time.sleep(YIELD_FOR)
                        last_yield = time.perf_counter()
                    if len(head) < 4096:
                        head += chunk[: 4096 - len(head)]
                    _write(out, chunk)
                    got += len(chunk)
                    if on_bytes:
                        on_bytes(got, total)
        except E.Hunyuan3DError:
            part.unlink(missing_ok=True)
            if cancel.cancelled:
                raise E.CancelledError() from None
            raise
        except (requests.RequestException, OSError):
            part.unlink(missing_ok=True)
            if cancel.cancelled:
                raise E.CancelledError() from None
            raise E.BadResponseError(f"The download was cut off after {got} bytes{f' of {total}' if total else ''}; nothing was kept. Try again.") from None
        finally:
            unregister()
            resp.close()
        if total is not None and got != total:
            part.unlink(missing_ok=True)
            raise E.BadResponseError(f"The download was cut off after {got} of {total} bytes; nothing was kept. Try again.")
        return head

    def _decode_b64_file(self, part: Path, dest: Path, cancel: CancelToken) -> Path:
        """Decode the base64 ``output`` of a large JSON body in chunks (no whole-body parse)."""
        out_path = dest.with_name(dest.name + ".b64.part")
        with part.open("rb") as src:
            window = src.read(SMALL_JSON)
            start = -1
            for key in (b'"output"', b'"model_base64"'):
                k = window.find(key)
                if k >= 0:
                    q = window.find(b'"', window.find(b":", k + len(key)) + 1)
                    start = q + 1
                    break
            if start <= 0:
                raise E.BadResponseError("The server returned no model (a large JSON answer without output).")
            src.seek(start)
            carry = b""
            try:
                with out_path.open("wb") as out:
                    while True:
                        cancel.check()
                        block = src.read(4 * CHUNK)
                        if not block:
                            raise E.BadResponseError("The server returned no model (its base64 output is cut off).")
                        end = block.find(b'"')
                        data = carry + (block if end < 0 else block[:end]).replace(b"\\", b"")
                        if data.startswith(b"data:"):
                            data = data.partition(b",")[2]
                        if end >= 0:
                            out.write(binascii.a2b_base64(data))
                            break
                        cut = len(data) - len(data) % 4
                        out.write(binascii.a2b_base64(data[:cut]))
                        carry = data[cut:]
            except (binascii.Error, E.Hunyuan3DError):
                out_path.unlink(missing_ok=True)
                raise E.BadResponseError("The server returned no model (its output is not valid base64).") from None
        return out_path

    def _finish(self, part: Path, dest: Path, expected: str | None) -> ModelFile:
        """Validate a complete file and rename it into place as ``dest.<format>``."""
        fmt = validate_model(part, expected)
        final = dest.with_name(f"{dest.name}.{fmt}")
        os.replace(part, final)
        return ModelFile(final, fmt, final.stat().st_size)


def _form_fields(body: dict[str, Any]) -> dict[str, tuple[None, str]]:
    """A JSON body as multipart form fields, the way Segmind's JavaScript sample sends them."""
    return {k: (None, json.dumps(v) if isinstance(v, bool) else str(v)) for k, v in body.items()}


def _open_for_write(path: Path):
    try:
        return path.open("wb")
    except OSError as exc:
        raise E.StoreError(f"The results folder cannot be written ({exc.strerror or exc}). Check the folder in Preferences.") from None


def _write(out: Any, chunk: bytes) -> None:
    try:
        out.write(chunk)
    except OSError as exc:
        raise E.StoreError(f"The result could not be written to the results folder ({exc.strerror or exc}). Free some disk space and retry.") from None


def _shutdown(resp: requests.Response) -> None:
    """Unblock a thread stuck in ``recv`` on this response (best effort).

    The socket is on the pooled connection, or (after ``Connection: close``) only behind the
    http.client response's file object.
    """
    raw = resp.raw
    conn = getattr(raw, "_connection", None) or getattr(raw, "connection", None)
    candidates = [getattr(conn, "sock", None)]
    fp = getattr(getattr(raw, "_fp", None), "fp", None)
    candidates.append(getattr(getattr(fp, "raw", None), "_sock", None))
    for sock in candidates:
        if isinstance(sock, socket.socket):
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
