"""A procedure run from another process against `labrf sim serve`, as a lab reaches
instruments over raw sockets: a station file of the SOCKET addresses the server prints,
no simulation section, the terminations of each model's binding."""

from __future__ import annotations

import json
import socket
import subprocess
from pathlib import Path

import yaml

from tests.helpers import Served
from tests.helpers import labrf_command as labrf


def test_spin_diode_from_a_second_process_over_sockets(served: Served, tmp_path: Path
                                                       ) -> None:
    assert served.endpoints["nanovoltmeter"][1] == "CR"
    check = subprocess.run(labrf("station", "check", str(served.station)),
                           capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert check.returncode == 0, check.stdout + check.stderr
    assert "all 7 instruments answered" in check.stdout
    done = subprocess.run(labrf("run", "spin-diode", "--station", str(served.station),
                                "--points", "11", "--nplc", "0.1", "--db",
                                str(tmp_path / "served.db"), "--json"),
                          capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["points"] == 11 and result["status"] == "completed"
    assert served.ask("rf_source", "OUTP?") in ("0", "OFF")
    assert served.ask("current_source", "OUTP?") in ("0", "OFF")


def test_a_wrong_termination_in_the_station_file_fails_naming_the_instrument(
        served: Served, tmp_path: Path) -> None:
    data = yaml.safe_load(served.station.read_text())
    data["instruments"]["nanovoltmeter"]["init"]["connection"] = {
        "read_termination": "\n", "write_termination": "\n"}
    data["instruments"]["nanovoltmeter"]["init"]["timeout"] = "0.5 s"
    wrong = tmp_path / "wrong.yaml"
    wrong.write_text(yaml.safe_dump(data))
    check = subprocess.run(labrf("station", "check", str(wrong)), capture_output=True,
                           text=True, cwd=tmp_path, timeout=120)
    assert check.returncode == 1
    assert "Traceback" not in check.stderr
    failed = [line for line in check.stdout.splitlines() if "FAILED" in line]
    assert len(failed) == 1 and failed[0].startswith("nanovoltmeter"), check.stdout
    assert "no reply to *IDN?" in failed[0] and "read LF, write LF" in failed[0]


def test_ports_beyond_the_range_or_taken_are_refused_naming_the_instrument(tmp_path: Path
                                                                           ) -> None:
    """``labrf sim serve --port P`` serves instrument i on P + i: past 65535 (or on a port
    in use) it names the instrument and the port, without a traceback; ``labrf serve``
    refuses a port out of range before starting."""
    station = Path(__file__).resolve().parents[1] / "station_configs" / "sim_bench.yaml"
    done = subprocess.run(labrf("sim", "serve", str(station), "--port", "65533"),
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr
    assert "cannot serve instrument" in done.stderr and ":65536" in done.stderr
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run(labrf("sim", "serve", str(station), "--port", str(port)),
                              capture_output=True, text=True, timeout=60)
    assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr
    assert f"on 127.0.0.1:{port}" in done.stderr and "in use" in done.stderr
    done = subprocess.run(labrf("serve", "--station", str(station), "--port", "99999",
                                "--db", str(tmp_path / "lab.db")),
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "'99999': a port is 0 (any free one) to 65535" in done.stderr
