"""Jobs and the results store: records, resume, cache, corrupt records, input shrinking."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from hunyuan3d_addon.core.glb import glb_stats, sniff_model
from hunyuan3d_addon.core.images import read_image_info, shrink_command
from hunyuan3d_addon.core.jobs import JobRunner, JobSpec, JobState
from hunyuan3d_addon.core.params import MultiViewParams, SingleParams
from hunyuan3d_addon.core.store import JobRecord, ResultStore
from tests.conftest import GLB, IMAGE, IMAGE2, make_config
from tests.standin import StandIn, models

HAS_BPY = importlib.util.find_spec("bpy") is not None

# A 4096 px "photo": a real input scaled up, with a camera's fine grain so it compresses like one.
PHOTO_4096 = """
import sys, bpy, numpy as np
img = bpy.data.images.load(sys.argv[1])
img.scale(4096, 4096)
px = np.empty(4096 * 4096 * 4, dtype=np.float32)
img.pixels.foreach_get(px)
px = px.reshape(-1, 4)
px[:, :3] += np.random.default_rng(1).normal(0, 0.02, (px.shape[0], 3)).astype(np.float32)
img.pixels.foreach_set(px.ravel())
img.filepath_raw = sys.argv[2]
img.file_format = "PNG"
img.save()
"""


def test_a_result_is_on_disk_with_its_record_before_the_final_message(standin: StandIn, runner: JobRunner, store: ResultStore) -> None:
    job = runner.run(JobSpec(SingleParams(image=str(IMAGE), seed=5).validated(), name="toy"))
    messages = []
    while not runner.messages.empty():
        messages.append(runner.messages.get())
    final = messages[-1]
    assert final.state is JobState.DONE and final.result.path.is_file()
    rec = json.loads((store.root / f"{job.id}.json").read_text())
    assert rec["status"] == "done" and rec["result_file"] == final.result.path.name
    assert rec["endpoint"] == "hunyuan-3d-2" and rec["name"] == "toy" and rec["seed"] == 5 and rec["seed_fixed"] is True
    assert rec["request_id"] and rec["credits_remaining"] is not None and rec["finished"] >= rec["created"]
    assert rec["inputs"][0]["sha256"] and rec["inputs"][0]["bytes_sent"] > 0 and rec["result_stats"]["triangles"] == 40000
    assert rec["params"]["image"] == str(IMAGE)
    states = [m.state for m in messages]
    assert states[0] is JobState.QUEUED and states.count(JobState.DONE) == 1
    assert [s for s in ("preparing", "submitted", "running", "downloading") if JobState(s) in states] == ["preparing", "submitted", "running", "downloading"]


def test_identical_request_with_fixed_seed_is_answered_from_the_store(standin: StandIn, runner: JobRunner) -> None:
    first = runner.run(JobSpec(SingleParams(image=str(IMAGE), seed=11).validated()))
    second = runner.run(JobSpec(SingleParams(image=str(IMAGE), seed=11).validated()))
    assert second.state is JobState.DONE and second.record.cached_from == first.id
    assert second.result.path == first.result.path
    assert len(standin.generation_requests()) == 1
    third = runner.run(JobSpec(SingleParams(image=str(IMAGE2), seed=11).validated()))
    random_seed = runner.run(JobSpec(SingleParams(image=str(IMAGE)).validated()))
    assert not third.record.cached_from and not random_seed.record.cached_from
    assert len(standin.generation_requests()) == 3


def test_a_pending_queue_job_is_resumed_after_a_crash(store: ResultStore) -> None:
    with StandIn(job_time=1.5) as server:
        runner = JobRunner(store, make_config(server))
        job = runner.submit(JobSpec(SingleParams(text="a lamp", seed=3).validated(), name="lamp"))
        path = store.root / f"{job.id}.json"
        deadline = time.monotonic() + 5
        while not (path.exists() and json.loads(path.read_text())["status"] == "submitted") and time.monotonic() < deadline:
            time.sleep(0.01)
        crashed = path.read_text()  # what a crash at this moment leaves on disk
        job.cancel()
        job.wait(2)
        runner.shutdown(wait=True)
        path.write_text(crashed)

        fresh = JobRunner(ResultStore(store.root), make_config(server))
        pending = fresh.store.pending()
        assert [r.id for r in pending] == [job.id] and pending[0].request_id
        resumed = fresh.resume(pending[0])
        assert resumed.wait(10)
        fresh.shutdown(wait=True)
        assert resumed.state is JobState.DONE, resumed.progress
        assert glb_stats(resumed.result.path).triangles == 40000
        assert len(server.generation_requests()) == 1
        assert store.load(job.id).status == "done" and store.pending() == []


def test_an_expired_job_fails_clearly_on_resume(standin: StandIn, store: ResultStore) -> None:
    store.save(JobRecord(id="20260101-000000-abcdef", endpoint="hunyuan-3d-2", status="submitted", request_id="gone", submitted=time.time()))
    runner = JobRunner(store, make_config(standin))
    job = runner.resume(store.pending()[0])
    job.wait(5)
    runner.shutdown(wait=True)
    assert job.state is JobState.FAILED and "expire one hour after submission" in job.error.message


def test_old_pending_jobs_are_not_offered(store: ResultStore) -> None:
    store.save(JobRecord(id="a", endpoint="hunyuan-3d-2", status="submitted", request_id="r", submitted=time.time() - 4000))
    assert store.pending() == []


def test_corrupt_records_are_skipped_with_a_warning(store: ResultStore, caplog: pytest.LogCaptureFixture) -> None:
    store.save(JobRecord(id="20260101-000000-000001", endpoint="hunyuan-3d-2", status="done"))
    (store.root / "20260101-000000-000002.json").write_text("{not json")
    (store.root / "20260101-000000-000003.json").write_text('{"id": 3}')
    records = store.records()
    assert [r.id for r in records] == ["20260101-000000-000001"]
    assert "Skipping unreadable job record" in caplog.text


def test_records_are_written_atomically(store: ResultStore) -> None:
    rec = JobRecord(id="x1", endpoint="hunyuan-3d-2", name="a" * 1000)
    store.save(rec)
    rec.name = "b"
    store.save(rec)
    assert [p.name for p in store.root.iterdir()] == ["x1.json"]
    assert store.load("x1").name == "b"


def test_jobs_run_on_a_bounded_pool(store: ResultStore) -> None:
    with StandIn(job_time=0.6) as server:
        runner = JobRunner(store, make_config(server), max_workers=2)
        jobs = [runner.submit(JobSpec(SingleParams(text=f"t{i}").validated())) for i in range(4)]
        time.sleep(0.3)
        assert sum(j.state is JobState.QUEUED for j in jobs) == 2
        for j in jobs:
            assert j.wait(10)
        runner.shutdown(wait=True)
    assert all(j.state is JobState.DONE for j in jobs)


def test_glb_stats_of_the_real_output() -> None:
    stats = glb_stats(GLB)
    assert (stats.meshes, stats.triangles, stats.vertices, stats.textures) == (1, 40000, 19996, 0)
    assert sniff_model(GLB.read_bytes()[:64]) == "glb"


@pytest.mark.parametrize("fmt", ["obj", "ply", "stl"])
def test_model_formats_are_recognised(fmt: str) -> None:
    data = models.to_format(GLB.read_bytes(), fmt)
    assert sniff_model(data[:4096], len(data)) == fmt


def test_image_headers_are_read_without_decoding(tmp_path: Path) -> None:
    info = read_image_info(IMAGE)
    assert (info.format, info.width, info.height) == ("png", 512, 512) or info.format == "png"
    jpeg = tmp_path / "x.jpg"
    jpeg.write_bytes(bytes.fromhex("ffd8ffe000104a46494600010100000100010000ffc00011080300020003012200021101031101"))
    assert (read_image_info(jpeg).width, read_image_info(jpeg).height) == (512, 768)


@pytest.mark.skipif(not HAS_BPY, reason="shrinking runs Blender's image library (the bpy module)")
def test_a_4096_px_photo_is_sent_at_least_8x_smaller(standin: StandIn, store: ResultStore, tmp_path: Path) -> None:
    big = tmp_path / "big.png"
    subprocess.run([sys.executable, "-c", PHOTO_4096, str(IMAGE2), str(big)], check=True, capture_output=True)
    assert read_image_info(big).width == 4096
    runner = JobRunner(store, make_config(standin), shrink_cmd=shrink_command(None, sys.executable))
    job = runner.run(JobSpec(SingleParams(image=str(big)).validated()))
    runner.shutdown(wait=True)
    assert job.state is JobState.DONE, job.progress
    sent = standin.last_body()["image"]
    import base64

    decoded = base64.b64decode(sent)
    info = read_image_info_bytes(decoded, tmp_path)
    assert max(info.width, info.height) == 1024
    assert len(sent) * 8 <= big.stat().st_size
    assert job.record.bytes_sent == len(sent) and job.record.inputs[0]["note"] == "shrunk from 4096x4096"


def read_image_info_bytes(data: bytes, tmp_path: Path):
    p = tmp_path / "sent.png"
    p.write_bytes(data)
    return read_image_info(p)


def test_multiview_urls_pass_through_untouched(standin: StandIn, runner: JobRunner) -> None:
    job = runner.run(JobSpec(MultiViewParams(front_image="https://example.invalid/f.png").validated()))
    assert job.state is JobState.DONE
    assert standin.last_body()["front_image"] == "https://example.invalid/f.png"


def test_a_shutdown_keeps_submitted_jobs_resumable_and_ends_queued_ones(store: ResultStore) -> None:
    with StandIn(job_time=5) as server:
        runner = JobRunner(store, make_config(server), max_workers=1)
        first = runner.submit(JobSpec(SingleParams(text="paid for").validated()))
        second = runner.submit(JobSpec(SingleParams(text="never sent").validated()))
        while not first.record.request_id:
            time.sleep(0.01)
        runner.shutdown(wait=True)
        assert first.wait(1) and second.wait(1)
        assert first.state is JobState.CANCELLED and second.state is JobState.CANCELLED
        assert [r.id for r in store.pending()] == [first.id]
        assert store.load(second.id) is None and len(server.generation_requests()) == 1


def test_a_process_exits_at_once_with_a_job_still_running_and_the_job_stays_resumable(tmp_path: Path) -> None:
    script = f"""
import sys, time
sys.path.insert(0, {str(Path(__file__).resolve().parents[1])!r})
from tests.standin import StandIn
from tests.conftest import make_config
from hunyuan3d_addon.core.jobs import JobRunner, JobSpec
from hunyuan3d_addon.core.params import SingleParams
from hunyuan3d_addon.core.store import ResultStore
server = StandIn(job_time=60).start()
runner = JobRunner(ResultStore({str(tmp_path)!r}), make_config(server))
job = runner.submit(JobSpec(SingleParams(text="long").validated()))
while not job.record.request_id:
    time.sleep(0.01)
time.sleep(0.3)
print(job.id)
"""  # exits without shutting anything down, as a quitting Blender may
    t0 = time.monotonic()
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=30)
    assert proc.returncode == 0, proc.stderr
    assert time.monotonic() - t0 < 10
    job_id = proc.stdout.split()[-1]
    assert [r.id for r in ResultStore(tmp_path).pending()] == [job_id]


def test_provenance_holds_file_names_and_32_bit_integers_only() -> None:
    rec = JobRecord(
        id="j1",
        endpoint="hunyuan-3d-2",
        seed=5_000_000_000,
        params={"image": "C:\\Users\\me\\photos\\chair.png", "mesh": "https://cdn.example/a/b/old.glb?sig=1", "text": None, "face_count": 40000, "seed": -1, "texture": True},
    )
    assert rec.provenance() == {"job": "j1", "model": "hunyuan-3d-2", "image": "chair.png", "mesh": "old.glb", "face_count": 40000, "seed": "5000000000", "texture": True}
