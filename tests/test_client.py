"""The Segmind client against the stand-in server: bodies, responses, errors, retries, cancel."""

from __future__ import annotations

import base64
import itertools
import logging
import math
import socket
import threading
import time
from pathlib import Path

import pytest

from hunyuan3d_addon.core import errors as E
from hunyuan3d_addon.core.client import CancelToken, Client, ClientConfig
from hunyuan3d_addon.core.glb import glb_stats
from hunyuan3d_addon.core.jobs import JobRunner, JobSpec, JobState
from hunyuan3d_addon.core.params import MultiViewParams, SingleParams
from hunyuan3d_addon.core.store import ResultStore
from tests.conftest import GLB, IMAGE, MV, make_config
from tests.standin import StandIn, models


def run(runner: JobRunner, params: SingleParams | MultiViewParams, name: str = "t") -> object:
    job = runner.run(JobSpec(params.validated(), name=name))
    return job


def leftovers(store: ResultStore) -> list[str]:
    return sorted(p.name for p in store.root.glob("*") if not p.name.endswith(".json"))


@pytest.mark.parametrize("use_queue", [True, False])
def test_every_single_image_parameter_reaches_the_body(standin: StandIn, store: ResultStore, use_queue: bool) -> None:
    runner = JobRunner(store, make_config(standin, use_queue=use_queue))
    job = run(runner, SingleParams(image=str(IMAGE), text="a toy", octree_resolution="384", num_inference_steps=42, guidance_scale=7, seed=123, face_count=20000, texture=True))
    assert job.state is JobState.DONE, job.progress
    req = standin.generation_requests()[-1]
    assert req.path == ("/v2/hunyuan-3d-2" if use_queue else "/v1/hunyuan-3d-2")
    body = req.body
    assert base64.b64decode(body.pop("image")) == IMAGE.read_bytes()
    assert body == {"text": "a toy", "octree_resolution": 384, "num_inference_steps": 42, "guidance_scale": 7.0, "seed": 123, "face_count": 20000, "texture": True}
    assert type(body["guidance_scale"]) is float and type(body["octree_resolution"]) is int
    stats = glb_stats(job.result.path)
    assert stats.textures == 1 and stats.triangles == 40000
    assert job.record.seed == 123 and job.record.request_id if use_queue else True
    runner.shutdown(wait=True)


def test_every_multiview_parameter_reaches_the_body(standin: StandIn, runner: JobRunner) -> None:
    params = MultiViewParams(
        front_image=str(MV / "front.png"),
        back_image=str(MV / "back.png"),
        left_image=str(MV / "left.png"),
        right_image="https://example.invalid/right.png",
        steps=12,
        guidance_scale=3.5,
        seed=77,
        randomize_seed=False,
        octree_resolution=128,
        num_chunks=50000,
        target_face_num=5000,
        file_type="ply",
        remove_background=False,
    )
    job = run(runner, params)
    assert job.state is JobState.DONE, job.progress
    body = standin.last_body()
    for view in ("front", "back", "left"):
        assert base64.b64decode(body.pop(f"{view}_image")) == (MV / f"{view}.png").read_bytes()
    assert body == {
        "right_image": "https://example.invalid/right.png",
        "steps": 12,
        "guidance_scale": 3.5,
        "seed": 77,
        "randomize_seed": False,
        "octree_resolution": 128,
        "num_chunks": 50000,
        "target_face_num": 5000,
        "file_type": "ply",
        "remove_background": False,
    }
    assert job.result.format == "ply" and job.result.path.read_bytes().startswith(b"ply\n")


@pytest.mark.parametrize("fmt", ["glb", "obj", "ply", "stl"])
@pytest.mark.parametrize(("use_queue", "how"), [(False, "raw"), (False, "url"), (False, "base64"), (True, "url"), (True, "base64"), (True, "raw"), (True, "inline")])
def test_every_response_variant_and_format_is_saved(standin: StandIn, store: ResultStore, fmt: str, use_queue: bool, how: str) -> None:
    if use_queue:
        standin.queue_output = how
    else:
        standin.output = how
    runner = JobRunner(store, make_config(standin, use_queue=use_queue))
    job = run(runner, MultiViewParams(front_image=str(MV / "front.png"), file_type=fmt))
    runner.shutdown(wait=True)
    assert job.state is JobState.DONE, job.progress
    assert job.result.format == fmt
    assert job.result.path.read_bytes() == models.to_format(standin.glb, fmt)
    assert leftovers(store) == [job.result.path.name]


def test_polling_adds_little_time_and_few_requests(store: ResultStore) -> None:
    with StandIn(job_time=2.0) as server:
        runner = JobRunner(store, make_config(server))
        t0 = time.monotonic()
        job = run(runner, SingleParams(text="a cup"))
        took = time.monotonic() - t0
        runner.shutdown(wait=True)
        polls = [r for r in server.requests if r.path.endswith("/status")]
    assert job.state is JobState.DONE
    assert took < 2.0 + 0.3
    assert len(polls) <= 25


ERRORS = [
    (400, E.RequestError, "rejected the request (400)"),
    (401, E.AuthError, "API key is missing or invalid (401)"),
    (403, E.ForbiddenError, "refused access (403)"),
    (404, E.NotFoundError, "no such model or request (404)"),
    (405, E.RequestError, "(405)"),
    (406, E.CreditsError, "not have enough credits (406)"),
    (422, E.RequestError, "rejected the request (422)"),
    (429, E.RateLimitError, "limiting the rate of requests (429)"),
    (500, E.ServerError, "internal error (500)"),
    (502, E.ServerError, "(502 bad gateway)"),
    (503, E.ServerError, "(503 unavailable)"),
    (504, E.ServerError, "(504 gateway time-out)"),
]


@pytest.mark.parametrize(("status", "kind", "text"), ERRORS)
def test_every_status_code_has_its_typed_error_and_message(standin: StandIn, store: ResultStore, status: int, kind: type, text: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    standin.fail_next(status, times=math.inf, path="/hunyuan", headers={"Retry-After": "0"}, body={"error": f"oops {standin.api_key}"})
    runner = JobRunner(store, make_config(standin, max_retries=2, max_rate_retries=2))
    job = run(runner, SingleParams(text="x"))
    runner.shutdown(wait=True)
    assert job.state is JobState.FAILED
    assert isinstance(job.error, kind) and text in job.error.message
    retried = status in (429, 502, 503, 504)
    fell_back = status in (404, 405)  # no queue for this model? the synchronous call is tried too
    assert len(standin.generation_requests()) == (3 if retried else 2 if fell_back else 1)
    assert standin.api_key not in job.error.message and standin.api_key not in caplog.text
    assert job.error.message.endswith(".")
    assert leftovers(store) == []
    assert store.load(job.id).error == job.error.message


def test_error_message_includes_the_servers_reason(standin: StandIn, runner: JobRunner) -> None:
    standin.fail_next(422, body={"error": "image: could not decode"}, path="/v2/")
    job = run(runner, SingleParams(text="x"))
    assert job.error.message == "Segmind rejected the request (422): image: could not decode. Check the inputs and parameters."


def test_rate_limits_get_more_retries_than_other_errors(standin: StandIn, store: ResultStore) -> None:
    standin.fail_next(429, times=4, path="/v2/hunyuan", headers={"Retry-After": "0"})
    runner = JobRunner(store, make_config(standin, max_retries=1))
    job = run(runner, SingleParams(text="x"))
    runner.shutdown(wait=True)
    assert job.state is JobState.DONE and len(standin.generation_requests()) == 5


def test_html_error_bodies_are_not_shown(standin: StandIn, runner: JobRunner) -> None:
    standin.fail_next(502, times=math.inf, body=b"<html><body>Bad Gateway</body></html>", headers={"Content-Type": "text/html", "Retry-After": "0"})
    job = run(runner, SingleParams(text="x"))
    assert "<html" not in job.error.message and "502" in job.error.message


def test_retry_after_is_honoured_then_the_job_succeeds(standin: StandIn, runner: JobRunner) -> None:
    standin.fail_next(429, times=1, path="/v2/hunyuan", headers={"Retry-After": "1"})
    standin.fail_next(503, times=1, path="/v2/hunyuan", headers={"Retry-After": "0"})
    job = run(runner, SingleParams(text="x"))
    gens = standin.generation_requests()
    assert job.state is JobState.DONE
    assert len(gens) == 3
    assert gens[1].at - gens[0].at >= 0.95


def test_backoff_without_retry_after_grows_and_is_bounded(standin: StandIn, store: ResultStore) -> None:
    standin.fail_next(502, times=math.inf, path="/v2/hunyuan")
    client = Client(make_config(standin, max_retries=3, retry_budget=4))
    t0 = time.monotonic()
    with pytest.raises(E.ServerError):
        client.submit("hunyuan-3d-2", {"text": "x"}, CancelToken())
    took = time.monotonic() - t0
    gens = standin.generation_requests()
    gaps = [b.at - a.at for a, b in itertools.pairwise(gens)]
    assert 2 <= len(gens) <= 4 and took < 4.5
    assert gaps[0] >= 0.45 and (len(gaps) < 2 or gaps[1] >= 0.95)


def test_500_is_not_retried(standin: StandIn, runner: JobRunner) -> None:
    standin.fail_next(500, times=math.inf, path="/v2/hunyuan")
    run(runner, SingleParams(text="x"))
    assert len(standin.generation_requests()) == 1


def test_read_timeout_is_reported(standin: StandIn, store: ResultStore) -> None:
    standin.fail_next(200, path="/v2/requests", delay=2.0, body={"status": "PROCESSING"})
    runner = JobRunner(store, make_config(standin, read_timeout=0.5, max_retries=0))
    job = run(runner, SingleParams(text="x"))
    runner.shutdown(wait=True)
    assert isinstance(job.error, E.TimeoutError_)
    assert "did not answer within 0.5 s" in job.error.message


def test_connection_refused_is_reported(store: ResultStore) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cfg = ClientConfig(api_key="k-123456", base_url=f"http://127.0.0.1:{port}", max_retries=1, retry_budget=5)
    with pytest.raises(E.NetworkError, match="refused the connection"):
        Client(cfg).get_credits()


def test_dns_failure_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_dns(*args: object, **kw: object) -> None:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", no_dns)
    cfg = ClientConfig(api_key="k-123456", base_url="https://api.segmind.example", max_retries=0)
    with pytest.raises(E.NetworkError, match=r"api.segmind.example could not be found \(DNS lookup failed\)"):
        Client(cfg).get_credits()


def test_no_key_is_a_clear_error_and_nothing_is_sent(standin: StandIn, store: ResultStore) -> None:
    runner = JobRunner(store, make_config(standin, api_key=""))
    job = run(runner, SingleParams(text="x"))
    assert isinstance(job.error, E.AuthError) and "No Segmind API key is set" in job.error.message
    assert standin.requests == []


def test_the_key_never_goes_to_the_result_host(standin: StandIn, runner: JobRunner) -> None:
    standin.queue_output = "url"
    job = run(runner, SingleParams(text="x"))
    assert job.state is JobState.DONE
    file_requests = [r for r in standin.requests if r.server == "files"]
    api_requests = [r for r in standin.requests if r.server == "api"]
    assert file_requests and all("x-api-key" not in r.headers for r in file_requests)
    assert all(r.headers.get("x-api-key") == standin.api_key for r in api_requests)


def test_the_key_is_in_no_repr_or_message(standin: StandIn) -> None:
    cfg = make_config(standin)
    client = Client(cfg)
    assert standin.api_key not in repr(cfg) and standin.api_key not in repr(client)
    standin.fail_next(403, body={"error": f"key {standin.api_key} is blocked"})
    with pytest.raises(E.ForbiddenError) as info:
        client.get_credits()
    assert standin.api_key not in str(info.value) and "***" in str(info.value)


@pytest.mark.parametrize(
    ("reply", "text"),
    [
        ({"body": b""}, "empty file"),
        ({"body": b"<html>hello</html>", "headers": {"Content-Type": "text/html"}}, "no model"),
        ({"body": {"status": "success"}}, "no output"),
        ({"body": {"status": "success", "output": "!!not base64!!"}}, "neither a URL nor base64"),
        ({"body": b"glTF" + b"\x02\x00\x00\x00" + b"\xff" * 40}, "truncated or padded"),
        ({"body": b"{broken json"}, "broken JSON"),
    ],
)
def test_bodies_without_a_model_are_errors_and_leave_no_file(standin: StandIn, store: ResultStore, reply: dict, text: str) -> None:
    standin.fail_next(200, path="/v1/hunyuan", **reply)
    runner = JobRunner(store, make_config(standin, use_queue=False))
    job = run(runner, SingleParams(text="x"))
    runner.shutdown(wait=True)
    assert isinstance(job.error, E.BadResponseError) and text in job.error.message
    assert leftovers(store) == []


def test_truncated_download_is_reported_and_leaves_no_file(standin: StandIn, runner: JobRunner, store: ResultStore) -> None:
    standin.queue_output = "url"
    real = standin.add_file

    def add_truncated(name: str, data: bytes) -> str:
        from tests.standin.server import Reply

        standin.file_replies[name] = Reply(200, data, truncate_at=len(data) // 2)
        return real(name, data)

    standin.add_file = add_truncated  # type: ignore[method-assign]
    job = run(runner, SingleParams(text="x"))
    assert isinstance(job.error, E.BadResponseError) and "cut off" in job.error.message
    assert leftovers(store) == []


def test_large_base64_json_answers_are_decoded_in_chunks(standin: StandIn, store: ResultStore) -> None:
    standin.glb = models.tile_glb(GLB.read_bytes(), 10)  # ~7 MB GLB, ~10 MB of base64
    standin.output = "base64"
    runner = JobRunner(store, make_config(standin, use_queue=False))
    job = run(runner, SingleParams(text="x"))
    runner.shutdown(wait=True)
    assert job.state is JobState.DONE, job.progress
    assert job.result.path.read_bytes() == standin.glb
    assert glb_stats(job.result.path).triangles == 400000


def test_cancel_mid_poll_stops_within_half_a_second(store: ResultStore) -> None:
    with StandIn(job_time=30) as server:
        runner = JobRunner(store, make_config(server))
        job = runner.submit(JobSpec(SingleParams(text="x").validated()))
        while job.state is not JobState.RUNNING:
            time.sleep(0.05)
        time.sleep(0.6)
        t0 = time.monotonic()
        job.cancel()
        assert job.wait(2)
        assert time.monotonic() - t0 < 0.5
        n = len(server.requests)
        time.sleep(1.2)
        assert len(server.requests) == n
        runner.shutdown(wait=True)
    assert job.state is JobState.CANCELLED and job.error is None
    assert store.load(job.id).status == "cancelled"


@pytest.mark.parametrize("use_queue", [True, False])
def test_cancel_mid_download_stops_within_half_a_second(standin: StandIn, store: ResultStore, use_queue: bool) -> None:
    from tests.standin.server import Reply

    big = models.tile_glb(GLB.read_bytes(), 4)
    if use_queue:
        standin.queue_output = "url"
        standin.glb = big
        real = standin.add_file

        def add_stalling(name: str, data: bytes) -> str:
            standin.file_replies[name] = Reply(200, data, stall_at=len(data) // 3)
            return real(name, data)

        standin.add_file = add_stalling  # type: ignore[method-assign]
    else:
        standin.fail_next(200, path="/v1/hunyuan", body=big, stall_at=len(big) // 3)
    runner = JobRunner(store, make_config(standin, use_queue=use_queue, read_timeout=20))
    job = runner.submit(JobSpec(SingleParams(text="x").validated()))
    deadline = time.monotonic() + 10
    while not (job.state is JobState.DOWNLOADING and "MB" in job.progress) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert job.state is JobState.DOWNLOADING
    t0 = time.monotonic()
    job.cancel()
    assert job.wait(2)
    assert time.monotonic() - t0 < 0.5
    runner.shutdown(wait=True)
    assert job.state is JobState.CANCELLED
    assert leftovers(store) == []


def test_credits_balance_and_header(standin: StandIn, runner: JobRunner) -> None:
    standin.credits = 42.5
    credits = Client(make_config(standin)).get_credits()
    assert credits.credits == 42.5 and credits.free_credits == 0.0
    job = run(runner, SingleParams(text="x"))
    assert job.record.credits_remaining == 41.5


def test_upload_asset_is_used_for_a_mesh_when_configured(standin: StandIn, store: ResultStore) -> None:
    runner = JobRunner(store, make_config(standin, upload_assets=True))
    job = run(runner, SingleParams(mesh=str(GLB), image=str(IMAGE)))
    runner.shutdown(wait=True)
    assert job.state is JobState.DONE, job.progress
    body = standin.last_body()
    assert body["mesh"].startswith(standin.files_url) and body["texture"] is True
    upload = next(r for r in standin.requests if r.path == "/upload-asset")
    assert base64.b64decode(upload.body["data_urls"][0].partition(",")[2]) == GLB.read_bytes()
    assert glb_stats(job.result.path).textures == 1


def test_mesh_is_inline_base64_without_uploads(standin: StandIn, runner: JobRunner) -> None:
    job = run(runner, SingleParams(mesh=str(GLB)))
    assert job.state is JobState.DONE
    assert base64.b64decode(standin.last_body()["mesh"]) == GLB.read_bytes()
    assert not any(r.path == "/upload-asset" for r in standin.requests)


@pytest.mark.parametrize(
    ("params", "text"),
    [
        (SingleParams(image="/no/such/photo.png"), "does not exist"),
        (SingleParams(image=str(GLB)), "is not a PNG, JPEG or WebP image"),
        (SingleParams(mesh=str(IMAGE)), "is not a valid GLB"),
        (MultiViewParams(front_image=str(MV / "front.png"), back_image="/missing/back.png"), "back image file"),
    ],
)
def test_bad_input_files_are_clear_errors_and_nothing_is_sent(standin: StandIn, runner: JobRunner, params: object, text: str) -> None:
    job = run(runner, params)
    assert isinstance(job.error, E.InputError) and text in job.error.message and "nothing was sent" in job.error.message
    assert standin.requests == []


def test_proxy_setting_routes_requests_through_the_proxy(standin: StandIn) -> None:
    """The proxy here is the stand-in itself: a proxied request arrives with an absolute URL."""
    cfg = ClientConfig(api_key=standin.api_key, base_url="http://api.segmind.example", proxy=standin.base_url, max_retries=0)
    with pytest.raises(E.Hunyuan3DError):
        Client(cfg).get_credits()
    assert standin.requests and standin.requests[-1].path == "http://api.segmind.example/v1/get-user-credits"


def test_cancel_token_callbacks_run_once() -> None:
    token = CancelToken()
    hits: list[int] = []
    token.on_cancel(lambda: hits.append(1))
    t = threading.Thread(target=token.cancel)
    t.start()
    t.join()
    token.cancel()
    assert hits == [1]
    with pytest.raises(E.CancelledError):
        token.sleep(5)


def test_store_dir_that_cannot_be_written_is_a_clear_error(standin: StandIn, tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    runner = JobRunner(ResultStore(blocker / "results"), make_config(standin))
    job = run(runner, SingleParams(text="x"))
    runner.shutdown(wait=True)
    assert isinstance(job.error, E.StoreError) and "results folder" in job.error.message


def test_config_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SEGMIND_API_KEY", "env-key-123")
    monkeypatch.setenv("SEGMIND_BASE_URL", "http://127.0.0.1:9")
    cfg = ClientConfig.from_env(use_queue=False)
    assert (cfg.api_key, cfg.base_url, cfg.use_queue) == ("env-key-123", "http://127.0.0.1:9", False)
    monkeypatch.delenv("SEGMIND_BASE_URL")
    assert ClientConfig.from_env().base_url == "https://api.segmind.com"


def test_one_429_holds_back_every_client_sharing_the_gate(standin: StandIn) -> None:
    from hunyuan3d_addon.core.client import RateGate

    gate = RateGate()
    first, second = Client(make_config(standin), gate), Client(make_config(standin), gate)
    standin.fail_next(429, times=1, path="/v2/hunyuan", headers={"Retry-After": "1"})
    t = threading.Thread(target=first.submit, args=("hunyuan-3d-2", {"text": "a"}, CancelToken()))
    t.start()
    while not standin.generation_requests():
        time.sleep(0.01)
    time.sleep(0.1)
    t0 = time.monotonic()
    second.get_credits()
    assert time.monotonic() - t0 >= 0.7  # waited for the shared back-off, without a 429 of its own
    t.join()
    assert [r.path for r in standin.requests].count("/v1/get-user-credits") == 1


def test_a_job_that_never_finishes_stops_polling_at_the_job_timeout(store: ResultStore) -> None:
    with StandIn(job_time=60) as server:
        runner = JobRunner(store, make_config(server, job_timeout=0.5))
        job = run(runner, SingleParams(text="x"))
        runner.shutdown(wait=True)
    assert isinstance(job.error, E.TimeoutError_) and "did not finish the job within" in job.error.message


@pytest.mark.parametrize("status", [404, 405])
def test_a_model_without_a_queue_runs_synchronously(standin: StandIn, runner: JobRunner, status: int) -> None:
    standin.fail_next(status, times=math.inf, path="/v2/hunyuan")
    job = run(runner, SingleParams(text="x", seed=3))
    assert job.state is JobState.DONE, job.progress
    assert [r.path for r in standin.generation_requests()] == ["/v2/hunyuan-3d-2", "/v1/hunyuan-3d-2"]
    assert job.record.mode == "sync" and standin.generation_requests()[1].body["seed"] == 3


def test_an_endpoint_that_refuses_json_gets_form_data(standin: StandIn, runner: JobRunner) -> None:
    standin.form_only = {"hunyuan3d-2mv"}
    job = run(runner, MultiViewParams(front_image=str(MV / "front.png"), steps=12, guidance_scale=4.5, remove_background=False, seed=5, file_type="obj"))
    assert job.state is JobState.DONE, job.progress
    first, second = standin.generation_requests()
    assert not first.form and second.form
    body = second.body
    assert base64.b64decode(body.pop("front_image")) == (MV / "front.png").read_bytes()
    assert body == {"steps": 12, "guidance_scale": 4.5, "seed": 5, "randomize_seed": False, "octree_resolution": 256, "num_chunks": 200000, "target_face_num": 10000, "file_type": "obj", "remove_background": False}
    assert job.result.format == "obj"
