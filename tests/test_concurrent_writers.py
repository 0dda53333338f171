"""Many processes, one database: concurrent runs all complete with every point, a reader
sees consistent runs meanwhile, a writer killed mid-run loses at most its point in flight,
and QCoDeS's own lines stay out of the terminal."""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from labrf.data import LOCK_PATIENCE, WriteLock, list_runs, load_run, retry_locked, run_columns
from labrf.errors import LabrfError

ROOT = Path(__file__).resolve().parents[1]
SIM_BENCH = ROOT / "station_configs" / "sim_bench.yaml"
POINTS = 4000


def labrf(*args: str) -> list[str]:
    return [sys.executable, "-m", "labrf.cli", *args]


def test_three_writers_and_a_reader_on_one_database(tmp_path) -> None:
    db = tmp_path / "shared.db"
    writers = [subprocess.Popen(labrf("run", "spin-diode", "--station", str(SIM_BENCH),
                                      "--points", str(POINTS), "--db", str(db), "--json",
                                      "--sample", f"writer{k}"),
                                cwd=tmp_path, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True) for k in range(3)]
    reads = 0
    while any(w.poll() is None for w in writers):
        if db.exists():
            reader = subprocess.run(labrf("runs", "--db", str(db)), capture_output=True,
                                    text=True, cwd=tmp_path)
            assert reader.returncode == 0, reader.stderr
            assert "Traceback" not in reader.stderr
            reads += 1
        time.sleep(0.2)
    for writer in writers:
        out, err = writer.communicate(timeout=120)
        assert writer.returncode == 0, err
        assert "Traceback" not in err and "locked" not in err
        assert "Starting experimental run" not in out + err
        assert json.loads(out.strip().splitlines()[-1])["points"] == POINTS
    runs = list_runs(db)
    assert [r.status for r in runs] == ["completed"] * 3
    assert [r.points for r in runs] == [POINTS] * 3
    assert sorted(r.sample for r in runs) == ["writer0", "writer1", "writer2"]
    for info in runs:
        frequency = run_columns(load_run(db, info.run_id))["frequency"]
        assert len(np.unique(frequency)) == POINTS  # no row lost, none written twice
    assert reads >= 1
    assert "Starting experimental run" in (tmp_path / "labrf.log").read_text()


def test_a_writer_killed_beside_another_loses_at_most_its_point_in_flight(tmp_path) -> None:
    db = tmp_path / "shared.db"
    steady = subprocess.Popen(labrf("run", "spin-diode", "--station", str(SIM_BENCH),
                                    "--points", str(POINTS), "--db", str(db)),
                              cwd=tmp_path, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, text=True)
    victim = subprocess.Popen(labrf("run", "spin-diode", "--station", str(SIM_BENCH),
                                    "--points", "20000", "--db", str(db),
                                    "--sample", "victim"),
                              cwd=tmp_path, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if db.exists() and any(r.sample == "victim" and r.points > 500
                               for r in list_runs(db)):
            break
        time.sleep(0.05)
    victim.send_signal(signal.SIGKILL)
    victim.wait(timeout=30)
    _, err = steady.communicate(timeout=120)
    assert steady.returncode == 0, err
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    by_sample = {r.sample: r for r in list_runs(db)}
    killed = by_sample["victim"]
    assert killed.status == "interrupted" and killed.points > 500
    frequency = run_columns(load_run(db, killed.run_id))["frequency"]
    step = np.diff(frequency)
    assert len(frequency) == killed.points
    assert np.allclose(step, step[0])  # the first n points of the sweep, none missing
    assert by_sample["sample"].status == "completed" and by_sample["sample"].points == POINTS


def test_a_lock_that_never_clears_is_a_message_not_a_hang(tmp_path) -> None:
    calls = []

    def locked() -> None:
        calls.append(1)
        raise sqlite3.OperationalError("database is locked")

    with pytest.raises(LabrfError, match="writing point 7: the database stayed locked by "
                                         "another writer"):
        retry_locked(locked, "writing point 7", patience=0.2)
    assert len(calls) > 2
    assert LOCK_PATIENCE >= 60  # a long write by another process is waited for


def test_other_database_errors_are_not_retried() -> None:
    calls = []

    def broken() -> None:
        calls.append(1)
        raise sqlite3.OperationalError("no such table: runs")

    with pytest.raises(sqlite3.OperationalError, match="no such table"):
        retry_locked(broken, "reading")
    assert calls == [1]


def _lock_is_free(db: Path) -> bool:
    """Whether another process could take labrf's write lock of ``db`` now."""
    other = sqlite3.connect(str(db.resolve()) + ".writelock", timeout=0,
                            isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
        other.execute("ROLLBACK")
        return True
    except sqlite3.OperationalError:
        return False
    finally:
        other.close()


def test_a_signal_inside_the_write_lock_leaves_it_usable_and_released(
        tmp_path, monkeypatch) -> None:
    """A stop signal between taking the lock's transaction and counting it (or between
    the count and its release) once made the run's last metadata write fail with "cannot
    start a transaction within a transaction" and a traceback instead of exit 143."""
    import labrf.data as data
    from labrf.signals import StopSignal

    db = tmp_path / "signalled.db"
    with WriteLock(db):
        pass
    real_retry = data.retry_locked

    def begin_then_signal(action, what, patience=LOCK_PATIENCE):
        real_retry(action, what, patience)
        raise StopSignal(signal.SIGTERM)

    monkeypatch.setattr(data, "retry_locked", begin_then_signal)
    with pytest.raises(StopSignal), WriteLock(db):
        pass
    monkeypatch.setattr(data, "retry_locked", real_retry)
    assert _lock_is_free(db)

    def signal_before_release(self) -> None:
        raise StopSignal(signal.SIGHUP)

    with monkeypatch.context() as patched, pytest.raises(StopSignal), WriteLock(db):
        patched.setattr(WriteLock, "_release_if_unheld", signal_before_release)
    assert not _lock_is_free(db)  # the stale transaction still holds it ...
    with WriteLock(db):  # ... until the next writer of this process ends it
        assert not _lock_is_free(db)
    assert _lock_is_free(db)
