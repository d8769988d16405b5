"""Run the stand-in in its own process (benchmarks): ``python -m tests.standin --job-time 1``.

Prints its base URL on the first line of stdout and serves until stdin closes.
"""

from __future__ import annotations

import argparse
import sys

from . import StandIn, models

p = argparse.ArgumentParser()
p.add_argument("--job-time", type=float, default=0.0)
p.add_argument("--rate-limit", type=int, default=None)
p.add_argument("--glb-mb", type=int, default=0, help="answer with a GLB padded to this many MB")
p.add_argument("--output", default="raw")
p.add_argument("--queue-output", default="url")
a = p.parse_args()
glb = models.padded_glb(models.WHITE_GLB.read_bytes(), a.glb_mb << 20) if a.glb_mb else None
with StandIn(job_time=a.job_time, rate_limit=a.rate_limit, glb=glb, output=a.output, queue_output=a.queue_output) as server:
    print(server.base_url, server.api_key, flush=True)
    sys.stdin.read()
