"""Client benchmark against the stand-in server (in its own process):

(a) the time a queued job takes beyond the server's own job time, as a ratio (target < 1.05);
(b) the longest stretch the calling thread is kept from the GIL while a 200 MB result
    downloads and is validated (target < 5 ms);
(c) the peak memory that download adds to this process, sampled every millisecond (target < 32 MB).

    .venv/bin/python scripts/bench/client.py
"""

from __future__ import annotations

import statistics
import tempfile
import threading
import time
from pathlib import Path

from common import GapMeter, StandInProcess, rss_mb

from hunyuan3d_addon.core.client import ClientConfig
from hunyuan3d_addon.core.jobs import JobRunner, JobSpec, JobState
from hunyuan3d_addon.core.params import SingleParams
from hunyuan3d_addon.core.store import ResultStore

JOB_TIME = 10.0
JOBS = 4


def overhead() -> float:
    with StandInProcess("--job-time", str(JOB_TIME)) as server, tempfile.TemporaryDirectory() as tmp:
        runner = JobRunner(ResultStore(tmp), ClientConfig(api_key=server.api_key, base_url=server.base_url), max_workers=JOBS)
        t0 = time.monotonic()
        jobs = [runner.submit(JobSpec(SingleParams(text=f"job {i}").validated())) for i in range(JOBS)]
        times = []
        for job in jobs:
            job.wait()
            assert job.state is JobState.DONE, job.progress
            times.append(job.ended - job.started)
        runner.shutdown(wait=True)
        del t0
    return statistics.mean(times) / JOB_TIME


def big_download() -> tuple[float, float, float, float]:
    with StandInProcess("--glb-mb", "200", "--queue-output", "url") as server, tempfile.TemporaryDirectory() as tmp:
        runner = JobRunner(ResultStore(tmp), ClientConfig(api_key=server.api_key, base_url=server.base_url), max_workers=1)
        warm = runner.run(JobSpec(SingleParams(text="warm-up", seed=1).validated(), use_cache=False))  # connections, imports
        Path(warm.result.path).unlink()
        base = rss_mb()
        peak = [base]
        done = threading.Event()
        meter = GapMeter()
        t0 = time.monotonic()
        job = runner.submit(JobSpec(SingleParams(text="big", seed=2).validated(), use_cache=False))
        threading.Thread(target=lambda: (job.wait(), done.set()), daemon=True).start()
        meter.run_until(done, lambda: peak.__setitem__(0, max(peak[0], rss_mb())))
        took = time.monotonic() - t0
        assert job.state is JobState.DONE, job.progress
        size = job.result.size / 1e6
        runner.shutdown(wait=True)
        return meter.longest * 1000, peak[0] - base, size, took


def main() -> None:
    ratio = overhead()
    print(f"(a) job time / server job time ({JOBS} queued jobs of {JOB_TIME:g} s): {ratio:.3f}  (target < 1.05)")
    gap_ms, added_mb, size, took = big_download()
    print(f"(b) longest GIL gap on the calling thread during a {size:.0f} MB download + validation ({took:.1f} s): {gap_ms:.2f} ms  (target < 5 ms)")
    print(f"(c) peak memory added by that download: {added_mb:.2f} MB  (target < 32 MB)")


if __name__ == "__main__":
    main()
