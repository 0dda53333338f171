"""Resistance loop on sim_bench against the simulator's truth (R_P within 1 %, TMR within
a few %, switching fields), each way of measuring the voltage, failure paths, and the
loop fit on synthetic data from the junction physics."""

from __future__ import annotations

import math
from collections.abc import Iterator

import numpy as np
import pytest

from labrf.analysis.resistance import DOWN, UP, fit_resistance_loop, switching_field
from labrf.errors import ConfigError, LabrfError
from labrf.physics.hysteresis import play
from labrf.physics.junction import JunctionParams, free_layer, resistance
from labrf.procedures.resistance import ResistanceLoop
from labrf.station import LabStation
from tests.procedures.inline import is_png, run_inline, sim_bench

FAST = {"points": 41}  # 2.5 mT steps, -50 to +50 mT


@pytest.fixture(scope="module")
def station() -> Iterator[LabStation]:
    with sim_bench() as st:
        yield st


@pytest.fixture(scope="module")
def loop(station: LabStation) -> tuple:
    run = run_inline(station, ResistanceLoop, FAST)
    return run, run.data, run.procedure.analyse(run.data)


def junction_truth(station: LabStation) -> dict:
    return station.bench.describe()["devices"]["mtj"]["junction"]


def test_plateaus_tmr_and_switching_fields_match_the_truth(station, loop) -> None:
    _, _, fit = loop
    truth = junction_truth(station)
    assert fit["resistance_parallel"] == pytest.approx(truth["resistance"], rel=0.01)
    assert fit["resistance_antiparallel"] == pytest.approx(
        truth["resistance"] * (1 + truth["tmr"]), rel=0.01)
    assert fit["tmr"] == pytest.approx(truth["tmr"], rel=0.03)
    assert fit["switching_field_up"] == pytest.approx(truth["switching_field"], abs=1e-3)
    assert fit["switching_field_down"] == pytest.approx(-truth["switching_field"], abs=1e-3)
    assert fit["coercive_field"] == pytest.approx(truth["switching_field"], abs=1e-3)
    assert abs(fit["loop_shift"]) < 0.5e-3
    assert 0 < fit["tmr_err"] < 1e-3 and fit["points"] == 82


def test_rows_follow_the_loop(loop) -> None:
    run, data, _ = loop
    assert len(run.rows) == 82 and run.progress[-1] == pytest.approx(100.0)
    up = np.linspace(-0.05, 0.05, 41)
    assert data["field"] == pytest.approx(np.concatenate([up, up[::-1]]))
    assert data["branch"] == pytest.approx(np.repeat([UP, DOWN], 41))
    assert data["field_measured"] == pytest.approx(data["field"], abs=0.5e-3)
    # the up branch starts antiparallel (saturated at -50 mT), the down branch parallel
    assert data["resistance"][0] == pytest.approx(150.0, rel=1e-3)
    assert data["resistance"][41] == pytest.approx(100.0, rel=1e-3)


def test_source_and_coil_back_at_zero_and_off(station, loop) -> None:
    smu, magnet = station.roles["smu"], station.roles["magnet"]
    assert smu.current() == 0.0 and smu.output() is False
    assert magnet.output() is False and abs(magnet.supply_current()) < 5e-3


def test_plot_is_a_png(loop, tmp_path) -> None:
    run, data, fit = loop
    assert is_png(run.procedure.plot(data, fit, tmp_path / "loop.png"))
    assert is_png(run.procedure.plot(data, {}, tmp_path / "no_fit.png"))


@pytest.mark.parametrize("source, meter", [("smu", "smu"),
                                           ("current_source", "nanovoltmeter")])
def test_other_ways_to_measure_give_the_same_loop(station, source, meter) -> None:
    run = run_inline(station, ResistanceLoop, {**FAST, "points": 21, "source": source,
                                               "meter": meter, "gaussmeter": ""})
    assert np.isnan(run.data["field_measured"]).all()  # no gaussmeter: set fields used
    fit = run.procedure.analyse(run.data)
    assert fit["resistance_parallel"] == pytest.approx(100.0, rel=0.01)
    assert fit["tmr"] == pytest.approx(0.5, rel=0.03)
    assert station.roles[source].output() is False


def test_a_source_that_measures_nothing_cannot_be_the_meter(station) -> None:
    with pytest.raises(ConfigError, match="Keithley 6221 measures no voltage"):
        run_inline(station, ResistanceLoop, {"source": "current_source",
                                             "meter": "current_source"})
    assert station.roles["current_source"].output() is False


@pytest.mark.parametrize("parameter, value", [("meter", "dvm"), ("magnet", "coil"),
                                              ("source", "gaussmeter")])
def test_a_wrong_instrument_name_fails_naming_it(station, parameter, value) -> None:
    with pytest.raises(ConfigError, match=f"'{value}'"):
        run_inline(station, ResistanceLoop, {parameter: value})
    assert station.roles["smu"].output() is False
    assert station.roles["magnet"].output() is False


def test_a_loop_short_of_the_switching_field_is_a_clear_error(station) -> None:
    run = run_inline(station, ResistanceLoop, {"points": 11, "max_field": 0.02})
    with pytest.raises(LabrfError, match="did not switch"):
        run.procedure.analyse(run.data)


def test_registered_by_name() -> None:
    from labrf.runner import procedure_class

    assert procedure_class("resistance") is ResistanceLoop


# ---------------------------------------------------------------- synthetic data


def synthetic_loop(p: JunctionParams, b_max: float, n: int, noise: float
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Fields, resistances and branches of a loop through the junction physics."""
    rng = np.random.default_rng(11)
    up = np.linspace(-b_max, b_max, n)
    fields = np.concatenate([up, up[::-1]])
    state, r = -b_max + p.switching_field, []
    for b in fields:
        state = float(play(state, b, p.switching_field))
        r.append(float(resistance(p, free_layer(p, state))))
    return fields, np.array(r) * (1 + noise * rng.standard_normal(fields.size)), \
        np.repeat([UP, DOWN], n)


def test_fit_recovers_an_exchange_biased_loop() -> None:
    p = JunctionParams(resistance=250.0, tmr=1.2, switching_field=10e-3,
                       switching_width=0.5e-3)
    field, r, branch = synthetic_loop(p, 30e-3, 121, 1e-4)
    field = field + 4e-3  # an exchange bias shifts the loop
    r[[10, 70]] *= 1.3  # two glitches
    fit = fit_resistance_loop(field, r, branch)
    assert fit.resistance_parallel == pytest.approx(250.0, rel=1e-3)
    assert fit.tmr == pytest.approx(1.2, rel=1e-2)
    assert fit.switching_field_up == pytest.approx(14e-3, abs=0.3e-3)
    assert fit.switching_field_down == pytest.approx(-6e-3, abs=0.3e-3)
    assert fit.loop_shift == pytest.approx(4e-3, abs=0.3e-3)
    assert fit.coercive_field == pytest.approx(10e-3, abs=0.3e-3)


def test_switching_field_interpolates_and_gives_nan_without_crossing() -> None:
    assert switching_field([0.0, 1.0, 2.0], [10.0, 10.0, 20.0], 15.0) == pytest.approx(1.5)
    assert math.isnan(switching_field([0.0, 1.0], [10.0, 11.0], 15.0))


def test_a_flat_loop_has_no_plateaus() -> None:
    rng = np.random.default_rng(2)
    with pytest.raises(LabrfError, match="did not switch"):
        fit_resistance_loop(np.linspace(-1, 1, 40), 100 + 1e-3 * rng.standard_normal(40),
                            np.repeat([UP, DOWN], 20))
    x = np.linspace(-1, 1, 40)
    drift = 100 + 5e-3 * (x > 0.5) + 1e-5 * rng.standard_normal(40)  # 50 ppm, 500 sigma
    with pytest.raises(LabrfError, match=r"0\.1 % of R_P"):
        fit_resistance_loop(x, drift, np.repeat([UP, DOWN], 20))
