"""``labrf serve`` as a process: ``labrf run --server`` and ``labrf runs --server`` against
it, a server killed with SIGKILL and started again (its queue kept, the run it was
making shown interrupted with its points), and a bind beyond loopback refused without a
token."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from labrf.serve.client import ServerClient
from tests.serve.conftest import SIM_BENCH, free_port

ENV = {**os.environ, "LABRF_SERVE_TOKEN": ""}


def _serve(db: Path, *extra: str) -> tuple[subprocess.Popen, str]:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "labrf.cli", "serve", "--station", str(SIM_BENCH), "--db",
         str(db), "--port", str(port), *extra], stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True, env=ENV)
    try:
        line = process.stdout.readline() if process.stdout else ""
        assert line.startswith("labrf serve: http://"), line
        url = f"http://127.0.0.1:{port}"
        client = ServerClient(url, timeout=10)
        deadline = time.monotonic() + 60
        while client.call("GET", "/api/stations")[0]["state"] == "starting":
            assert time.monotonic() < deadline
            time.sleep(0.1)
    except BaseException:  # a server that did not come up is not left running
        process.kill()
        process.wait(10)
        raise
    return process, url


def _labrf(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "labrf.cli", *args], capture_output=True,
                          text=True, timeout=120, env=ENV)


def test_a_killed_server_keeps_its_queue_and_shows_the_run_it_was_making_interrupted(
        tmp_path) -> None:
    db = tmp_path / "lab.db"
    process, url = _serve(db)
    client = ServerClient(url, timeout=10)
    try:
        cli = _labrf("run", "spin-diode", "--server", url, "--station", "sim_bench",
                     "--points", "21", "--power", "-20 dBm", "--json")
        assert cli.returncode == 0, cli.stderr
        done = json.loads(cli.stdout.strip().splitlines()[-1])
        assert done["status"] == "completed" and done["points"] == 21
        assert done["parameters"]["power"] == -20.0
        bad = _labrf("run", "spin-diode", "--server", url, "--station", "sim_bench",
                     "--points", "3")
        assert bad.returncode == 2 and "points = 3 is refused" in bad.stderr
        assert "Traceback" not in bad.stderr
        long = client.submit("spin-diode", "sim_bench", {"points": 100001})["id"]
        waiting = [client.submit("spin-diode", "sim_bench", {"points": n})["id"]
                   for n in (22, 23)]
        deadline = time.monotonic() + 60
        while client.run(long)["points"] < 50:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        listed = _labrf("runs", "--server", url)
        assert listed.returncode == 0 and "running" in listed.stdout
        process.send_signal(signal.SIGKILL)
        process.wait(10)
    finally:
        if process.poll() is None:
            process.kill()
    time.sleep(1.0)  # the worker, sent SIGTERM by the kernel, makes its bench safe
    again, url = _serve(db)
    client = ServerClient(url, timeout=10)
    try:
        interrupted = client.run(long)
        assert interrupted["status"] == "interrupted"
        points = client.call("GET", f"/api/runs/{long}/data")["columns"]["voltage"]
        assert len(points) >= 50  # its points are kept
        deadline = time.monotonic() + 60
        while any(client.run(i)["status"] != "completed" for i in waiting):
            assert time.monotonic() < deadline, [client.run(i) for i in waiting]
            time.sleep(0.1)
        first, second = (client.run(i) for i in waiting)
        assert first["ended"] <= second["started"] and second["points"] == 23
    finally:
        again.terminate()
        again.wait(30)


def test_serving_beyond_loopback_needs_a_token(tmp_path) -> None:
    refused = _labrf("serve", "--station", str(SIM_BENCH), "--db", str(tmp_path / "a.db"),
                     "--host", "0.0.0.0", "--port", str(free_port()))
    assert refused.returncode == 1
    assert "refusing to serve on 0.0.0.0 without a token" in refused.stderr
    assert "LABRF_SERVE_TOKEN" in refused.stderr and "Traceback" not in refused.stderr
    short = _labrf("serve", "--station", str(SIM_BENCH), "--db", str(tmp_path / "a.db"),
                   "--host", "0.0.0.0", "--token", "abc")
    assert short.returncode == 2 and "at least 16 characters" in short.stderr


@pytest.mark.parametrize("station", ["/nowhere/bench.yaml", str(SIM_BENCH) + ",x"])
def test_a_station_file_that_cannot_be_read_stops_the_server_with_its_name(
        tmp_path, station) -> None:
    result = _labrf("serve", "--station", station, "--db", str(tmp_path / "a.db"),
                    "--port", str(free_port()))
    assert result.returncode == 1 and station in result.stderr
    assert "Traceback" not in result.stderr
