"""Shared benchmark helpers: a stand-in server in its own process, a main-thread gap meter."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))


class StandInProcess:
    """``python -m tests.standin`` in a subprocess, so its threads do not share our GIL."""

    def __init__(self, *args: str) -> None:
        self.proc = subprocess.Popen([sys.executable, "-m", "tests.standin", *args], cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline().split()
        self.base_url, self.api_key = line[0], line[1]

    def __enter__(self) -> StandInProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.proc.stdin.close()
        self.proc.wait(10)


class GapMeter:
    """Runs on the calling thread: sleeps ``tick`` at a time and records the longest overshoot."""

    def __init__(self, tick: float = 0.001) -> None:
        self.tick = tick
        self.longest = 0.0
        self.samples = 0

    def run_until(self, done: threading.Event, work=None) -> None:
        while not done.is_set():
            t0 = time.perf_counter()
            if work is not None:
                work()
            time.sleep(self.tick)
            gap = time.perf_counter() - t0 - self.tick
            self.longest = max(self.longest, gap)
            self.samples += 1


def rss_mb() -> float:
    """Resident memory of this process now (Linux)."""
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
