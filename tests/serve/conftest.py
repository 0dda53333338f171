"""A measurement server over the simulated bench and network stations, and helpers to
wait on its runs."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
SIM_BENCH = ROOT / "station_configs" / "sim_bench.yaml"
SIM_NETWORK = ROOT / "station_configs" / "sim_network.yaml"
BASE = "http://127.0.0.1:8765"
LONG = {"points": 100001}  #: a spin-diode run that lasts long enough to be aborted


def free_port() -> int:
    """A TCP port free on loopback now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(client: Any, run: int, statuses: tuple[str, ...], timeout: float = 120.0
             ) -> dict[str, Any]:
    """The run's state once its status is one of ``statuses``."""
    deadline = time.monotonic() + timeout
    while True:
        state = client.get(f"/api/runs/{run}").json()
        if state["status"] in statuses:
            return state
        assert time.monotonic() < deadline, f"run {run} still {state['status']}"
        time.sleep(0.05)


def wait_points(client: Any, run: int, points: int, timeout: float = 60.0) -> dict[str, Any]:
    """The run's state once it has measured at least ``points`` points."""
    deadline = time.monotonic() + timeout
    while True:
        state = client.get(f"/api/runs/{run}").json()
        if state["points"] >= points or state["status"] not in ("queued", "running"):
            return state
        assert time.monotonic() < deadline, f"run {run}: {state['points']} points"
        time.sleep(0.05)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from labrf.serve.server import Server

    srv = Server([SIM_BENCH, SIM_NETWORK], tmp_path_factory.mktemp("serve") / "lab.db")
    srv.start()
    srv.wait_ready()
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def client(server: Any) -> Iterator[Any]:
    from starlette.testclient import TestClient

    from labrf.serve.app import build_app

    with TestClient(build_app(server), base_url=BASE) as c:
        yield c
