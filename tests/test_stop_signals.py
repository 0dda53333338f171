"""Every stop signal aborts safely: SIGINT, SIGTERM and SIGHUP sent to a `labrf run`
mid-sweep against a served bench leave RF off and the current and field at zero (read
back by a plain client), the run `aborted` naming the signal, exit 128 + signal; a second
signal during the ramp-down does not cut it short; SIGKILL leaves the run `interrupted`
with its points; `labrf station safe` makes a bench safe after a crash."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from pathlib import Path

import pytest

from labrf.data import list_runs, load_run
from tests.helpers import Served
from tests.helpers import labrf_command as labrf

POINTS = 4000


def _start_run(served: Served, db: Path, *extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen(labrf("run", "spin-diode", "--station", str(served.station),
                                  "--points", str(POINTS), "--nplc", "0.1", "--bias", "1 mA",
                                  "--db", str(db), "--json", *extra),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _wait_for_points(proc: subprocess.Popen[str], db: Path, at_least: int = 5) -> None:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()
        runs = list_runs(db) if db.exists() else []
        if runs and runs[-1].points >= at_least:
            return
        time.sleep(0.1)
    raise AssertionError("the run wrote no points")


def _assert_bench_safe(served: Served) -> None:
    assert served.ask("rf_source", "OUTP?") in ("0", "OFF")
    assert served.ask("current_source", "OUTP?") in ("0", "OFF")
    assert float(served.ask("current_source", "SOUR:CURR?")) == 0.0
    assert served.ask("magnet", "OUTP?") in ("0", "OFF")
    assert abs(float(served.ask("magnet", "CURR?"))) < 1e-6


@pytest.mark.parametrize("signum", [signal.SIGHUP, signal.SIGTERM, signal.SIGINT],
                         ids=["SIGHUP", "SIGTERM", "SIGINT"])
def test_a_stop_signal_mid_sweep_aborts_safely(served: Served, tmp_path: Path,
                                               signum: signal.Signals) -> None:
    db = tmp_path / "signals.db"
    proc = _start_run(served, db)
    _wait_for_points(proc, db)
    proc.send_signal(signum)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 128 + signum, err
    assert "Traceback" not in err
    result = json.loads(out.strip().splitlines()[-1])
    assert result["status"] == "aborted" and result["signal"] == signum.name
    assert signum.name in result["error"]
    _assert_bench_safe(served)
    (info,) = list_runs(db)
    assert info.status == "aborted" and 0 < info.points < POINTS
    assert signum.name in load_run(db, info.run_id).metadata["labrf_error"]


def test_a_second_signal_during_the_ramp_down_does_not_cut_it(served: Served,
                                                              tmp_path: Path) -> None:
    db = tmp_path / "twice.db"
    proc = _start_run(served, db, "--field", "20 mT")  # ramps down at 10 mT/s: 2 s
    _wait_for_points(proc, db)
    proc.send_signal(signal.SIGTERM)
    time.sleep(0.5)
    proc.send_signal(signal.SIGTERM)
    time.sleep(0.3)
    proc.send_signal(signal.SIGHUP)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 128 + signal.SIGTERM, err
    assert "SIGTERM received while the bench is being made safe" in err
    assert "SIGHUP received while the bench is being made safe" in err
    assert "Traceback" not in err
    _assert_bench_safe(served)
    assert list_runs(db)[0].status == "aborted"


def test_sigkill_leaves_the_run_interrupted_with_its_points(served: Served,
                                                            tmp_path: Path) -> None:
    db = tmp_path / "killed.db"
    proc = _start_run(served, db)
    _wait_for_points(proc, db, at_least=20)
    proc.kill()
    proc.communicate(timeout=30)
    (info,) = list_runs(db)
    assert info.status == "interrupted" and info.points >= 20
    assert served.ask("rf_source", "OUTP?") in ("1", "ON")  # nothing could switch it off
    safe = subprocess.run(labrf("station", "safe", str(served.station)),
                          capture_output=True, text=True, timeout=120)
    assert safe.returncode == 0, safe.stderr
    lines = {line.split()[0]: line for line in safe.stdout.splitlines()}
    assert "was: output on" in lines["rf_source"] and "now: output off" in lines["rf_source"]
    assert "was: output on" in lines["current_source"]
    assert "all 7 instruments in their safe state" in safe.stdout
    _assert_bench_safe(served)


def test_station_safe_reports_an_instrument_it_cannot_reach(served: Served,
                                                            tmp_path: Path) -> None:
    text = served.station.read_text()
    port = served.endpoints["gaussmeter"][0].split("::")[2]
    dead = tmp_path / "dead.yaml"
    dead.write_text(text.replace(f"::{port}::", "::1::"))
    served.ask("rf_source", "OUTP ON;*OPC?")
    safe = subprocess.run(labrf("station", "safe", str(dead)), capture_output=True,
                          text=True, timeout=120)
    assert safe.returncode == 1
    assert "Traceback" not in safe.stderr
    assert "1 of 7 instruments could not be made safe: gaussmeter" in safe.stderr
    magnet = next(line for line in safe.stdout.splitlines() if line.startswith("magnet"))
    assert "now: output off" in magnet  # ramped down without its gaussmeter
    assert served.ask("rf_source", "OUTP?") in ("0", "OFF")  # the others still made safe


def test_a_signal_landing_in_compiled_code_still_reads_as_a_stop() -> None:
    from labrf.signals import StopSignal, describe, exit_code, stop_behind

    stop = StopSignal(signal.SIGTERM)
    try:
        try:
            raise stop
        except StopSignal:
            raise SystemError("CPUDispatcher(...) returned a result with an exception "  # noqa: B904 (the implicit context is the case)
                              "set")
    except SystemError as wrapped:
        found = stop_behind(wrapped)
    assert found is stop and exit_code(found) == 143
    assert describe(found) == "stopped by SIGTERM (a termination request)"
    assert stop_behind(ValueError("a real failure")) is None
