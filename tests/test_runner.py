"""The runner and its commands: points in the dataset as they come, status, safe state on
abort and on failure, retries of transient faults, the JSON line, runs/show/export/plot."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from labrf.cli import main
from labrf.data import list_runs, load_run, run_columns
from labrf.runner import run
from labrf.sim.faults import FaultRule
from labrf.station import load_station

ROOT = Path(__file__).resolve().parents[1]
SIM_BENCH = ROOT / "station_configs" / "sim_bench.yaml"
SWEEP = ["--f-start", "220 MHz", "--f-stop", "280 MHz", "--points", "61"]


def labrf(*args: str) -> list[str]:
    return [sys.executable, "-m", "labrf.cli", *args]


def test_json_line_runs_show_export_and_plot(tmp_path, capsys) -> None:
    db = str(tmp_path / "lab.db")
    code = main(["run", "spin-diode", "--station", str(SIM_BENCH), *SWEEP, "--power",
                 "-25 dBm", "--db", db, "--sample", "mtj-7", "--json"])
    out = capsys.readouterr().out.strip().splitlines()
    assert code == 0 and len(out) == 1
    line = json.loads(out[0])
    assert {"run_id", "status", "fit", "plot", "db"} <= set(line)
    assert line["status"] == "completed" and line["db"] == db
    assert line["fit"]["resonance"] == pytest.approx(250e6, abs=0.3e6)
    assert Path(line["plot"]).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    ds = load_run(db, line["run_id"])
    assert json.loads(ds.metadata["labrf_parameters"])["power"] == -25
    assert ds.metadata["labrf_status"] == "completed"
    assert ds.snapshot["station"]["instruments"]["rf_source"]["model"].endswith("SMB100A")
    assert ds.sample_name == "mtj-7"
    assert main(["runs", "--db", db]) == 0
    assert "spin-diode" in capsys.readouterr().out
    assert main(["show", str(line["run_id"]), "--db", db]) == 0
    shown = capsys.readouterr().out
    assert "resonance" in shown and "completed" in shown
    for fmt, reader in (("csv", pd.read_csv), ("parquet", pd.read_parquet)):
        out_file = tmp_path / f"x.{fmt}"
        assert main(["export", "1", "--db", db, "--format", fmt, "-o", str(out_file)]) == 0
        table = reader(out_file)
        assert list(table.columns) == ["point", "frequency", "voltage"]
        assert table.shape == (61, 3)
    assert main(["export", "1", "--db", db, "--format", "netcdf", "-o",
                 str(tmp_path / "x.nc")]) == 0
    assert main(["plot", "1", "--db", db, "-o", str(tmp_path / "again.png")]) == 0
    assert (tmp_path / "again.png").stat().st_size > 10_000


def test_bad_options_name_what_is_valid(tmp_path, capsys) -> None:
    db = str(tmp_path / "lab.db")
    assert main(["run", "spin-dyode", "--station", str(SIM_BENCH), "--db", db]) == 2
    assert "valid: " in capsys.readouterr().err
    assert main(["run", "spin-diode", "--station", str(SIM_BENCH), "--f-start", "3 mT",
                 "--db", db]) == 2
    assert "--f-start" in capsys.readouterr().err
    assert main(["show", "7", "--db", db]) == 1


def test_limits_hold_inside_a_run(tmp_path) -> None:
    with load_station(SIM_BENCH) as station:
        result = run("spin-diode", station, {"power": 0.0, "points": 11},
                     db=tmp_path / "lab.db", progress=None)
        assert result.status == "failed" and "-10 dBm" in result.error
        assert not station.bench.world.junctions["mtj"].broken


def wait_for_points(db: Path, at_least: int, timeout: float = 60.0) -> int:
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        try:
            with sqlite3.connect(db) as con:
                table = con.execute("SELECT result_table_name FROM runs").fetchone()
                if table:
                    n = con.execute(f'SELECT COUNT(*) FROM "{table[0]}"').fetchone()[0]
                    if n >= at_least:
                        return n
        except sqlite3.OperationalError:
            pass
        time.sleep(0.05)
    raise AssertionError(f"fewer than {at_least} points after {timeout} s")


def test_sigkill_mid_sweep_keeps_every_point_and_reads_interrupted(tmp_path) -> None:
    db = tmp_path / "lab.db"
    proc = subprocess.Popen(labrf("run", "spin-diode", "--station", str(SIM_BENCH),
                                  "--points", "20000", "--db", str(db), "--json"),
                            cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    seen = wait_for_points(db, 200)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    (info,) = list_runs(db)
    assert info.status == "interrupted"
    assert info.points >= seen
    data = run_columns(load_run(db, info.run_id))
    assert len(data["frequency"]) == info.points
    assert np.all(np.diff(data["frequency"]) > 0)  # every point up to the last, in order


def test_sigint_of_the_cli_aborts_and_records_it(tmp_path) -> None:
    db = tmp_path / "lab.db"
    proc = subprocess.Popen(labrf("run", "spin-diode", "--station", str(SIM_BENCH),
                                  "--points", "20000", "--db", str(db), "--json"),
                            cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    wait_for_points(db, 100)
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 130
    assert json.loads(out.strip().splitlines()[-1])["status"] == "aborted"
    (info,) = list_runs(db)
    assert info.status == "aborted" and info.points >= 100


def test_ctrl_c_leaves_rf_off_and_currents_and_field_at_zero(tmp_path, monkeypatch) -> None:
    from labrf.data import PointWriter

    write = PointWriter.write

    def write_then_ctrl_c(self: PointWriter, row: dict) -> None:
        write(self, row)
        if self.points == 20:  # Ctrl-C mid-sweep, whatever the machine's speed
            os.kill(os.getpid(), signal.SIGINT)

    monkeypatch.setattr(PointWriter, "write", write_then_ctrl_c)
    # Ctrl-C as a terminal delivers it, even under a shell that started the tests in the
    # background (which ignores SIGINT, and Python then keeps it ignored)
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        with load_station(SIM_BENCH) as station:
            result = run("spin-diode", station, {"points": 100000, "bias": 2e-3,
                                                 "field": 0.02}, db=tmp_path / "lab.db",
                         progress=None)
            world, now = station.bench.world, station.clock.now()
            assert result.status == "aborted" and result.points > 0
            assert world.rf_output("rf_source").power == 0
            assert world.junction_reading("nanovoltmeter", now).current == 0
            station.clock.sleep(2.0)
            assert abs(world.field_at_probe("gaussmeter", station.clock.now())) < 1e-3
            assert station.roles["magnet"].output() is False
    finally:
        signal.signal(signal.SIGINT, previous)


def test_timeouts_and_garbled_replies_are_retried(tmp_path) -> None:
    with load_station(SIM_BENCH) as station:
        bench = station.bench
        clean = run("spin-diode", station, {"points": 41}, db=tmp_path / "lab.db",
                    progress=None)
        bench.inject_fault("nanovoltmeter", FaultRule("timeout", match=r"READ\?", nth=5))
        bench.inject_fault("nanovoltmeter", FaultRule("garble", match=r"READ\?", nth=20))
        faulty = run("spin-diode", station, {"points": 41}, db=tmp_path / "lab.db",
                     progress=None)
    assert faulty.status == "completed" and faulty.points == 41
    assert clean.retries == 0 and faulty.retries == 2
    assert faulty.fit["resonance"] == pytest.approx(clean.fit["resonance"], abs=0.3e6)
    ds = load_run(tmp_path / "lab.db", faulty.run_id)
    assert int(ds.metadata["labrf_retries"]) == faulty.retries


def test_a_dropped_connection_fails_cleanly_and_keeps_the_points(tmp_path) -> None:
    with load_station(SIM_BENCH) as station:
        station.bench.inject_fault("nanovoltmeter", FaultRule("drop", match=r"READ\?",
                                                              nth=15))
        result = run("spin-diode", station, {"points": 41, "bias": 1e-3},
                     db=tmp_path / "lab.db", progress=None)
        assert result.status == "failed" and result.points == 14
        assert "nanovoltmeter" in result.error and "GPIB0::7::INSTR" in result.error
        world = station.bench.world
        assert world.rf_output("rf_source").power == 0
        assert world.junction_reading("smu", station.clock.now()).current == 0
    ds = load_run(tmp_path / "lab.db", result.run_id)
    assert ds.metadata["labrf_status"] == "failed"
    assert "Traceback" in ds.metadata["labrf_error"]
    assert len(run_columns(ds)["voltage"]) == 14


def test_progress_bar_shows_eta_in_instrument_time(tmp_path) -> None:
    import io

    out = io.StringIO()
    with load_station(SIM_BENCH) as station:
        run("spin-diode", station, {"points": 21}, db=tmp_path / "lab.db", progress=out)
    text = out.getvalue()
    assert "100.0 %" in text and "ETA" in text and "instrument time" in text


def test_procedure_options_are_listed_with_units(capsys) -> None:
    with pytest.raises(SystemExit):
        main(["run", "spin-diode", "--help"])
    text = capsys.readouterr().out
    assert "--f-start VALUE" in text and "[Hz]" in text and "[dBm]" in text
    assert main(["run", "spin-diode", "--points", "5"]) == 2
    assert "needs --station" in capsys.readouterr().err
