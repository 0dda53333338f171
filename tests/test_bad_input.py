"""Bad paths and values get one-line messages and exit 1 (2 for a usage mistake), never a
traceback: databases that are not SQLite, truncated, directories or unwritable; station
files with NaN or a garbage address; a refused parameter value, checked before any
instrument is touched."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from labrf.cli import main
from labrf.runner import parse_value, procedures

ROOT = Path(__file__).resolve().parents[1]
SIM_BENCH = ROOT / "station_configs" / "sim_bench.yaml"


def labrf(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "labrf.cli", *args], capture_output=True,
                          text=True, cwd=cwd, timeout=120)


def _good_database(tmp_path: Path) -> Path:
    db = tmp_path / "good.db"
    assert main(["run", "spin-diode", "--station", str(SIM_BENCH), "--db", str(db),
                 "--points", "11"]) == 0
    return db


def _bad_database(tmp_path: Path, kind: str) -> tuple[Path, str]:
    """A --db of the given kind and the words its message must hold."""
    if kind == "text":
        path = tmp_path / "notes.db"
        path.write_text("these are my notes, not a database\n")
        return path, "is not an SQLite database"
    if kind == "truncated":
        path = tmp_path / "cut.db"
        path.write_bytes(_good_database(tmp_path).read_bytes()[:3000])
        return path, "cannot be used as a database"
    if kind == "directory":
        path = tmp_path / "folder.db"
        path.mkdir()
        return path, "is a directory"
    if kind == "under-a-file":
        (tmp_path / "plain").write_text("x")
        return tmp_path / "plain" / "lab.db", "cannot"
    return Path("/proc/labrf-no-database.db"), "cannot be used as a database"


KINDS = ["text", "truncated", "directory", "under-a-file", "unwritable"]


@pytest.mark.parametrize("kind", KINDS)
def test_run_refuses_a_bad_database_before_connecting(tmp_path, kind) -> None:
    db, words = _bad_database(tmp_path, kind)
    done = labrf("run", "spin-diode", "--station", str(SIM_BENCH), "--db", str(db),
                 "--points", "11", cwd=tmp_path)
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr
    (line,) = done.stderr.strip().splitlines()
    assert line.startswith("labrf: error: --db") and str(db) in line and words in line


@pytest.mark.parametrize("kind", ["text", "truncated", "directory"])
def test_runs_and_show_refuse_a_bad_database(tmp_path, kind) -> None:
    db, words = _bad_database(tmp_path, kind)
    for command in (["runs"], ["show", "1"], ["export", "1"]):
        done = labrf(*command, "--db", str(db), cwd=tmp_path)
        assert done.returncode == 1, (command, done.stderr)
        assert "Traceback" not in done.stderr and words in done.stderr, command


def test_runs_of_a_missing_database_says_so(tmp_path, capsys) -> None:
    assert main(["runs", "--db", str(tmp_path / "nothing.db")]) == 1
    assert "no database at" in capsys.readouterr().err


def test_a_refused_value_names_the_parameter_and_its_range(tmp_path, capsys) -> None:
    code = main(["run", "spin-diode", "--station", str(SIM_BENCH), "--db",
                 str(tmp_path / "t.db"), "--points", "3"])
    assert code == 2
    err = capsys.readouterr().err
    assert "points = 3 is refused" in err and "valid: 6 to 100001" in err
    assert not (tmp_path / "t.db").exists()  # refused before the database or the bench


@pytest.mark.parametrize(("option", "text", "words"), [
    ("--resume", "ture", "--resume 'ture': not a yes/no value: use one of 1, true, yes, on "
     "or 0, false, no, off"),
    ("--nplc", "fast", "--nplc 'fast': not a number of PLC"),
    ("--points", "eleven", "--points 'eleven': not a whole number"),
])
def test_a_value_that_is_not_one_is_refused_not_guessed(tmp_path, capsys, option, text,
                                                         words) -> None:
    """A misspelt yes/no was read as "no" (a --resume typo started training afresh)."""
    procedure = "chip-in-the-loop" if option == "--resume" else "spin-diode"
    station = SIM_BENCH.with_name("sim_network.yaml") if option == "--resume" else SIM_BENCH
    code = main(["run", procedure, "--station", str(station), "--db",
                 str(tmp_path / "t.db"), option, text])
    assert code == 2
    assert words in capsys.readouterr().err
    assert not (tmp_path / "t.db").exists()  # refused before the database or the bench


def test_a_value_may_carry_its_unit() -> None:
    spin = procedures()["spin-diode"]().parameter_objects()
    training = procedures()["chip-in-the-loop"]().parameter_objects()
    assert parse_value(spin["nplc"], "0.5 PLC") == 0.5
    assert parse_value(spin["points"], " 11 ") == 11
    assert parse_value(spin["f_start"], "200 MHz") == 200e6
    assert [parse_value(training["resume"], w) for w in ("Yes", "on", "0", "False")] == [
        True, True, False, False]


def test_nan_in_a_station_file_names_the_key(tmp_path) -> None:
    text = SIM_BENCH.read_text().replace("attenuation: 0 dB", "attenuation: .nan")
    path = tmp_path / "nan.yaml"
    path.write_text(text)
    for command in (["station", "check", str(path)],
                    ["run", "spin-diode", "--station", str(path), "--db",
                     str(tmp_path / "t.db")]):
        done = labrf(*command, cwd=tmp_path)
        assert done.returncode == 1 and "Traceback" not in done.stderr
        assert "key 'instruments.rf_source.init.attenuation'" in done.stderr
        assert "nan is not a finite number" in done.stderr


def test_a_garbage_address_names_the_instrument_and_key(tmp_path) -> None:
    text = SIM_BENCH.read_text().replace("address: GPIB0::7::INSTR", "address: garbage")
    path = tmp_path / "garbage.yaml"
    path.write_text(text)
    done = labrf("station", "check", str(path), cwd=tmp_path)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert "key 'instruments.nanovoltmeter.address'" in done.stderr
    assert "'garbage' is not a VISA resource string" in done.stderr


def test_a_plot_to_a_place_that_cannot_be_written_names_it(tmp_path, capsys) -> None:
    """``labrf plot --output`` to an unwritable place was a FileNotFoundError traceback."""
    db = _good_database(tmp_path)
    assert main(["plot", "1", "--db", str(db), "--output", "/proc/labrf/p.png"]) == 1
    assert "--output /proc/labrf/p.png: cannot write there" in capsys.readouterr().err
    assert main(["plot", "1", "--db", str(db), "--output", str(tmp_path)]) == 0
    assert (tmp_path / "run_1_spin-diode.png").exists()  # a folder gets the usual name
