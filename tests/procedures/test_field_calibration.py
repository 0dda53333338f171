"""Field calibration on sim_bench against the simulator's truth (field per current within
1 %, remanence), the calibration handed to the FieldCoil, failure paths, and the fit on
synthetic data from the coil physics."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

from labrf.analysis.field import DOWN, UP, apply_calibration, calibration, fit_field_calibration
from labrf.errors import ConfigError, LabrfError
from labrf.physics.coil import CoilParams
from labrf.physics.coil import field as coil_field
from labrf.physics.hysteresis import play
from labrf.procedures.field_calibration import FieldCalibration
from labrf.station import LabStation
from tests.procedures.inline import is_png, run_inline, sim_bench

FAST = {"points": 19}  # 20 mT steps from -180 to +180 mT, 0 mT included


@pytest.fixture(scope="module")
def station() -> Iterator[LabStation]:
    with sim_bench() as st:
        yield st


@pytest.fixture(scope="module")
def calibrated(station: LabStation) -> tuple:
    run = run_inline(station, FieldCalibration, FAST)
    return run, run.data, run.procedure.analyse(run.data)


def coil_truth(station: LabStation) -> dict[str, Any]:
    return station.bench.describe()["devices"]["electromagnet"]


def test_field_per_current_matches_the_truth(station, calibrated) -> None:
    _, _, fit = calibrated
    truth = coil_truth(station)
    assert fit["field_per_current"] == pytest.approx(truth["field_per_current"], rel=0.01)
    assert fit["field_per_current_up"] == pytest.approx(truth["field_per_current"], rel=0.01)
    assert fit["field_per_current_down"] == pytest.approx(truth["field_per_current"],
                                                          rel=0.01)
    assert 0 < fit["field_per_current_err"] < 1e-3 * truth["field_per_current"]
    assert abs(fit["field_offset"]) < 0.5e-3  # remanence and the probe's zero offset
    assert fit["remanence"] == pytest.approx(truth["remanence"], abs=0.05e-3)
    assert abs(fit["hysteresis"]) < truth["remanence"]  # flips near 0 A: offsets barely move
    assert fit["residual_rms"] < 0.5e-3 and fit["points"] == 38


def test_rows_cover_both_branches(calibrated) -> None:
    run, data, _ = calibrated
    assert len(run.rows) == 38 and run.progress[-1] == pytest.approx(100.0)
    up, down = data["branch"] == UP, data["branch"] == DOWN
    assert up.sum() == down.sum() == 19
    assert np.all(np.diff(data["supply_current"][up]) > 0)
    assert np.all(np.diff(data["supply_current"][down]) < 0)
    assert data["supply_current"].max() == pytest.approx(0.18 / 0.025, abs=0.01)
    assert data["field"] == pytest.approx(0.025 * data["supply_current"], abs=0.5e-3)


def test_coil_back_at_zero_and_off(station, calibrated) -> None:
    magnet = station.roles["magnet"]
    assert magnet.output() is False
    assert abs(magnet.supply_current()) < 5e-3
    assert abs(station.roles["gaussmeter"].field()) < 0.5e-3


def test_the_fit_becomes_the_coils_calibration(station, calibrated) -> None:
    run, _, fit = calibrated
    magnet = station.roles["magnet"]
    nominal = (magnet.field_per_current, magnet.field_offset)
    try:
        assert run.procedure.calibration(fit) == (fit["field_per_current"],
                                                  fit["field_offset"])
        assert apply_calibration(magnet, fit) == calibration(fit)
        assert magnet.field_per_current == fit["field_per_current"]
        assert magnet.field_offset == fit["field_offset"]
        magnet.output(True)
        magnet.field(0.1)
        station.clock.sleep(1.0)
        assert station.roles["gaussmeter"].field() == pytest.approx(0.1, abs=0.4e-3)
    finally:
        magnet.safe_state()
        magnet.set_calibration(*nominal)


def test_plot_is_a_png(calibrated, tmp_path) -> None:
    run, data, fit = calibrated
    assert is_png(run.procedure.plot(data, fit, tmp_path / "field.png"))
    assert is_png(run.procedure.plot(data, {}, tmp_path / "no_fit.png"))


def test_stop_between_points_leaves_the_coil_at_zero(station) -> None:
    run = run_inline(station, FieldCalibration, {"points": 5, "max_field": 0.02},
                     stop_after=3)
    assert len(run.rows) == 3
    assert station.roles["magnet"].output() is False
    assert abs(station.roles["magnet"].supply_current()) < 5e-3


def test_max_field_must_leave_room_below_the_limit(station) -> None:
    with pytest.raises(LabrfError, match=r"max_field 0\.2 T .* valid: up to 0\.19 T"):
        run_inline(station, FieldCalibration, {"max_field": 0.2})
    assert station.roles["magnet"].output() is False


@pytest.mark.parametrize("parameter, value", [("magnet", "coil"),
                                              ("gaussmeter", "hall_probe")])
def test_a_wrong_instrument_name_fails_naming_it(station, parameter, value) -> None:
    with pytest.raises(ConfigError, match=f"'{value}'"):
        run_inline(station, FieldCalibration, {parameter: value})
    assert station.roles["magnet"].output() is False


def test_registered_by_name() -> None:
    from labrf.runner import procedure_class

    assert procedure_class("field-calibration") is FieldCalibration


# ---------------------------------------------------------------- synthetic data


def synthetic_loop(p: CoilParams, i_max: float, n: int, noise: float, seed: int = 1
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Currents, fields and branches of a down-up-down sweep through the coil physics."""
    rng = np.random.default_rng(seed)
    up = np.linspace(-i_max, i_max, n)
    currents = np.concatenate([up, up[::-1]])
    branches = np.repeat([UP, DOWN], n)
    state, fields = -i_max + p.hysteresis_width, []
    for i in currents:
        state = float(play(state, i, p.hysteresis_width))
        fields.append(float(coil_field(p, i, state)))
    return (currents + 1e-3 * rng.standard_normal(currents.size),
            np.array(fields) + noise * rng.standard_normal(currents.size), branches)


def test_fit_recovers_slope_and_remanence_of_the_coil_physics() -> None:
    p = CoilParams(field_per_current=0.04, remanence=1e-3, hysteresis_width=1.0)
    current, field, branch = synthetic_loop(p, 5.0, 51, 20e-6)
    fit = fit_field_calibration(current, field, branch)
    # the remanence, odd in the current, tilts the line by about 3 B_rem / (2 I_max)
    assert fit.field_per_current == pytest.approx(0.04 + 1.5 * 1e-3 / 5.0, rel=0.002)
    assert fit.remanence == pytest.approx(1e-3, rel=0.1)
    assert fit.hysteresis > 0  # a wide loop moves the offsets apart
    assert fit.field_offset == pytest.approx(0.0, abs=1e-4)
    assert fit.hysteresis_err > 0 and fit.field_per_current_err > 0


def test_one_branch_gives_nan_for_the_other() -> None:
    current = np.linspace(-1, 1, 11)
    fit = fit_field_calibration(current, 0.025 * current + 1e-4, np.full(11, UP))
    assert fit.field_per_current == pytest.approx(0.025)
    assert fit.field_offset == pytest.approx(1e-4)
    assert np.isnan(fit.field_per_current_down) and np.isnan(fit.hysteresis)


def test_too_few_points_is_a_clear_error() -> None:
    with pytest.raises(LabrfError, match="at least 3 points at different currents"):
        fit_field_calibration([1.0, 1.0, 1.0], [0.02, 0.02, 0.02], [UP, UP, UP])


class _Coil:
    def __init__(self) -> None:
        self.calls: list[tuple[float, float]] = []

    def set_calibration(self, field_per_current: float, field_offset: float = 0.0) -> None:
        self.calls.append((field_per_current, field_offset))


def test_apply_calibration_hands_slope_and_offset_to_the_coil() -> None:
    coil = _Coil()
    current = np.linspace(-2, 2, 9)
    fit = fit_field_calibration(current, 0.03 * current - 2e-4, np.full(9, DOWN))
    assert apply_calibration(coil, fit) == pytest.approx((0.03, -2e-4))
    assert coil.calls == [calibration(fit.as_dict())]
    with pytest.raises(LabrfError, match="unusable"):
        calibration({"field_per_current": float("nan"), "field_offset": 0.0})
    with pytest.raises(LabrfError, match="needs field_per_current"):
        calibration({"error": "fit failed"})


def test_a_run_through_the_runner_applies_the_calibration(station, tmp_path) -> None:
    from labrf.runner import run

    coil = station.roles["magnet"]
    coil.set_calibration("20 mT/A")  # wrong on purpose
    try:
        result = run("field-calibration", station, {"points": 9, "max_field": 0.1},
                     db=tmp_path / "lab.db", progress=None)
        assert result.status == "completed", result.error
        assert coil.field_per_current == pytest.approx(0.025, rel=0.01)
        assert "field_per_current" in result.extra["applied"]
    finally:
        coil.set_calibration("25 mT/A")
