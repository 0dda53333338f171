"""Help, version and non-finite numbers on the command line."""

import pytest

import labrf
from labrf.cli import main

STATION = "station_configs/sim_bench.yaml"


def test_version(capsys):
    with pytest.raises(SystemExit) as stop:
        main(["--version"])
    assert stop.value.code == 0
    assert capsys.readouterr().out.strip() == f"labrf {labrf.__version__}"


def test_run_help_lists_the_procedures(capsys):
    assert main(["run", "--help"]) == 0
    out = capsys.readouterr().out
    assert "--station" in out and "spin-diode" in out and "chip-in-the-loop" in out


def test_run_without_a_procedure_names_the_valid_ones(capsys):
    assert main(["run"]) == 2
    err = capsys.readouterr().err
    assert "labrf run needs a procedure; valid: chip-calibration, chip-in-the-loop" in err


def test_procedure_help_shows_the_common_options(capsys):
    with pytest.raises(SystemExit) as stop:
        main(["run", "spin-diode", "--help"])
    assert stop.value.code == 0
    out = capsys.readouterr().out
    for option in ("--station", "--db", "--sample", "--json", "--power", "--f-start"):
        assert option in out


@pytest.mark.parametrize("option, value", [("--power", "inf"), ("--f-start", "nan"),
                                           ("--nplc", "infinity")])
def test_non_finite_values_name_the_option(tmp_path, capsys, option, value):
    code = main(["run", "spin-diode", "--station", STATION, "--db", str(tmp_path / "t.db"),
                 option, value])
    assert code == 2
    err = capsys.readouterr().err
    assert err.startswith(f"labrf: error: {option} '{value}': ") and "finite" in err
    assert len(err.strip().splitlines()) == 1
    assert not (tmp_path / "t.db").exists()
