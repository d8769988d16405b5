"""Shared fixtures: the stand-in server, a results store, a runner wired to both."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from hunyuan3d_addon.core.client import ClientConfig
from hunyuan3d_addon.core.jobs import JobRunner
from hunyuan3d_addon.core.store import ResultStore
from tests.standin import StandIn

FIXTURES = Path(__file__).parent / "fixtures"
IMAGE = FIXTURES / "004.png"
IMAGE2 = FIXTURES / "052.png"
GLB = FIXTURES / "hunyuan3d2_white_mesh.glb"
MV = FIXTURES / "multiview" / "1"


@pytest.fixture
def standin() -> Iterator[StandIn]:
    with StandIn() as server:
        yield server


@pytest.fixture
def store(tmp_path: Path) -> ResultStore:
    return ResultStore(tmp_path / "results")


def make_config(server: StandIn, **kw: object) -> ClientConfig:
    cfg = ClientConfig(api_key=server.api_key, base_url=server.base_url, upload_url=server.upload_url, max_retries=3, retry_budget=30, connect_timeout=2, read_timeout=5)
    for k, v in kw.items():
        setattr(cfg, k, v)
    return cfg


@pytest.fixture
def config(standin: StandIn) -> ClientConfig:
    return make_config(standin)


@pytest.fixture
def runner(store: ResultStore, config: ClientConfig) -> Iterator[JobRunner]:
    r = JobRunner(store, config, max_workers=2)
    yield r
    r.shutdown(wait=True)


_exit_status = [0]


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    _exit_status[0] = int(exitstatus)


def pytest_unconfigure(config: pytest.Config) -> None:
    """Leave without the bpy module's own teardown, once pytest has reported everything.

    The bpy 4.2 LTS wheel crashes (SIGSEGV) at interpreter exit after any glTF export, even in a
    three-line script that only exports; the tests have passed or failed by then, so exit with
    pytest's status rather than the wheel's crash.
    """
    import os
    import sys

    if "bpy" in sys.modules:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(_exit_status[0])
