"""Batch benchmark against the stand-in server (in its own process):

(1) 100 jobs, concurrency 8, stand-in job time 1 s: throughput as a ratio of the ideal 8 jobs/s
    (target >= 0.9);
(2) the same with the stand-in limiting generation requests to 50 a minute: no failed job, and the
    time within 10 % of what the limit allows (the schedule where request n > 50 goes out exactly
    60 s after request n - 50, each job taking 1 s on one of 8 workers).

    .venv/bin/python scripts/bench/batch.py
"""

from __future__ import annotations

import heapq
import tempfile
import time
from pathlib import Path

from common import StandInProcess

from hunyuan3d_addon.core.batch import Batch, build_item
from hunyuan3d_addon.core.client import ClientConfig

JOBS = 100
CONCURRENCY = 8
JOB_TIME = 1.0
LIMIT = 50


def run(server: StandInProcess) -> tuple[float, int, int]:
    items = []
    for i in range(JOBS):
        item = build_item({"prompt": f"object {i}", "seed": i}, {}, Path.cwd(), f"job {i}")
        items.append(item)
    cfg = ClientConfig(api_key=server.api_key, base_url=server.base_url, retry_budget=900)
    with tempfile.TemporaryDirectory() as out:
        batch = Batch(items, Path(out), cfg, concurrency=CONCURRENCY)
        t0 = time.monotonic()
        progress = batch.run()
        return time.monotonic() - t0, progress.done, progress.failed


def limit_schedule() -> float:
    """The shortest time the rate limit allows for JOBS jobs on CONCURRENCY workers."""
    free = [0.0] * CONCURRENCY
    sent: list[float] = []
    end = 0.0
    for n in range(JOBS):
        start = heapq.heappop(free)
        if n >= LIMIT:
            start = max(start, sent[n - LIMIT] + 60.0)
        sent.append(start)
        heapq.heappush(free, start + JOB_TIME)
        end = max(end, start + JOB_TIME)
    return end


def main() -> None:
    with StandInProcess("--job-time", str(JOB_TIME)) as server:
        took, done, failed = run(server)
    ideal = JOBS * JOB_TIME / CONCURRENCY
    print(f"(1) {JOBS} jobs, concurrency {CONCURRENCY}, job time {JOB_TIME:g} s: {took:.1f} s, {done} done, {failed} failed; throughput {JOBS / took:.2f} jobs/s = {ideal / took:.2f} of the ideal {CONCURRENCY / JOB_TIME:g} jobs/s  (target >= 0.9)")
    with StandInProcess("--job-time", str(JOB_TIME), "--rate-limit", str(LIMIT)) as server:
        took, done, failed = run(server)
    allowed = limit_schedule()
    print(f"(2) same, limited to {LIMIT} requests/minute: {took:.1f} s, {done} done, {failed} failed; the limit allows {allowed:.1f} s: ratio {allowed / took:.2f}  (target: no failures, >= 0.9)")


if __name__ == "__main__":
    main()
