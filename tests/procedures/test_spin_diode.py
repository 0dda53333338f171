"""Spin-diode procedures on sim_bench, through the runner, against the simulator's truth:
f_r within 0.3 MHz, linewidth within 10 %, linear below P_sat and bending above,
dispersion within 5 % of the configured MHz/mT."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from labrf.data import load_run, run_columns
from labrf.runner import run
from labrf.station import load_station

SIM_BENCH = Path(__file__).resolve().parents[2] / "station_configs" / "sim_bench.yaml"


@pytest.fixture(scope="module")
def station():
    with load_station(SIM_BENCH) as st:
        yield st


def truth(station) -> dict:
    return station.bench.describe()["devices"]["mtj"]


def test_sweep_finds_resonance_and_linewidth(station, tmp_path) -> None:
    result = run("spin-diode", station, {"f_start": 220e6, "f_stop": 280e6, "points": 121},
                 db=tmp_path / "lab.db", progress=None)
    assert result.status == "completed" and result.points == 121
    derived = truth(station)["derived"]
    assert result.fit["resonance"] == pytest.approx(derived["resonance_at_zero_bias"],
                                                    abs=0.3e6)
    assert result.fit["half_width"] == pytest.approx(derived["half_width_at_zero_bias"],
                                                     rel=0.10)
    assert result.fit["resonance_err"] < 0.1e6
    data = run_columns(load_run(tmp_path / "lab.db", result.run_id))
    assert data["frequency"].shape == data["voltage"].shape == (121,)


def test_power_map_is_linear_below_psat_and_bends_above(station, tmp_path) -> None:
    result = run("spin-diode-power-map", station,
                 {"f_start": 225e6, "f_stop": 275e6, "points": 51, "power_start": -45.0,
                  "power_stop": -10.0, "power_steps": 8}, db=tmp_path / "lab.db",
                 progress=None)
    fit = result.fit
    assert result.status == "completed", result.error
    assert fit["linear_points"] >= 3
    assert fit["linear_r2_below_psat"] > 0.999
    assert fit["bending_at_max_power"] < 0.5  # 100 uW is 3 P_sat: well below the line
    p_sat = truth(station)["spin_diode"]["saturation_power"]
    assert fit["saturation_power"] == pytest.approx(p_sat, rel=0.15)
    assert Path(result.plot).exists()


def test_field_map_gives_the_dispersion(station, tmp_path) -> None:
    result = run("spin-diode-field-map", station,
                 {"f_start": 220e6, "f_stop": 280e6, "points": 61, "field_start": -0.02,
                  "field_stop": 0.02, "field_steps": 5}, db=tmp_path / "lab.db",
                 progress=None)
    assert result.status == "completed", result.error
    tuning = truth(station)["spin_diode"]["field_tuning"]  # Hz/T
    assert result.fit["slope"] == pytest.approx(tuning, rel=0.05)
    lines = result.fit["lines"]
    assert [ln["field"] for ln in lines] == pytest.approx(list(np.linspace(-0.02, 0.02, 5)))
    assert station.roles["magnet"].output() is False  # the runner left the field at zero


def test_a_missing_instrument_fails_naming_it(station, tmp_path) -> None:
    result = run("spin-diode", station, {"meter": "dvm", "points": 11},
                 db=tmp_path / "lab.db", progress=None)
    assert result.status == "failed"
    assert "dvm" in result.error and "nanovoltmeter" in result.error
