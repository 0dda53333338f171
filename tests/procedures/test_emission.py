"""Emission curve on sim_bench against the simulator's truth (threshold within 3 %,
tunability within 5 %, line power and width as the physics says), its failure paths,
and the line and emission fits on synthetic data."""

from __future__ import annotations

import math
from collections.abc import Iterator

import numpy as np
import pytest

from labrf.analysis.emission import fit_emission, fit_line, phi
from labrf.errors import ConfigError, LabrfError, LimitError
from labrf.physics.oscillator import OscillatorParams, emitted_power, frequency, line_in_rbw
from labrf.physics.oscillator import linewidth as line_fwhm
from labrf.procedures.emission import EmissionCurve
from labrf.station import LabStation
from labrf.units import watt_to_dbm
from tests.procedures.inline import is_png, run_inline, sim_bench

FAST = {"spectrum_points": 201, "rbw": 500e3, "vbw": 50e3}  # 100 kHz bins, RBW/5


@pytest.fixture(scope="module")
def station() -> Iterator[LabStation]:
    with sim_bench() as st:
        yield st


@pytest.fixture(scope="module")
def curve(station: LabStation) -> tuple:
    run = run_inline(station, EmissionCurve, FAST)
    return run, run.data, run.procedure.analyse(run.data)


def oscillator(station: LabStation) -> tuple[OscillatorParams, float]:
    devices = station.bench.describe()["devices"]
    return OscillatorParams(**devices["mtj"]["oscillator"]), 10 ** (devices["amp"]["gain_db"]
                                                                     / 10)


def test_threshold_and_tunability_match_the_truth(station, curve) -> None:
    _, _, fit = curve
    truth, _ = oscillator(station)
    assert fit["threshold_current"] == pytest.approx(truth.threshold_current, rel=0.03)
    assert fit["tunability"] == pytest.approx(truth.current_tuning, rel=0.05)
    assert fit["frequency_at_threshold"] == pytest.approx(truth.frequency, abs=1e6)
    assert 0 < fit["threshold_current_err"] < 0.01 * truth.threshold_current
    assert fit["phi_b"] > 0 and fit["phi_a"] < 0
    assert -fit["phi_a"] / fit["phi_b"] == pytest.approx(fit["threshold_current"])
    assert fit["points_above_threshold"] == 10  # 4.2 to 6.0 mA
    assert all(isinstance(v, float | int) and not isinstance(v, bool) for v in fit.values())


def test_rows_hold_spectra_voltage_and_the_line(station, curve) -> None:
    run, data, _ = curve
    truth, gain = oscillator(station)
    assert len(run.rows) == 31 and run.progress[-1] == pytest.approx(100.0)
    assert data["bias"] == pytest.approx(np.linspace(0, 5.8e-3, 31))
    assert data["spectrum_frequency"].shape == data["spectrum_power"].shape == (31, 201)
    assert data["spectrum_frequency"][0, [0, -1]] == pytest.approx([297e6, 317e6])
    resistance = station.bench.describe()["devices"]["mtj"]["junction"]["resistance"]
    assert data["voltage"] == pytest.approx(data["bias"] * resistance, abs=1e-5)
    lit = data["bias"] > truth.threshold_current * 1.01
    below = data["bias"] < truth.threshold_current * 0.99
    assert np.all(data["integrated_power"][below] == 0)
    assert np.isnan(data["linewidth"][below]).all()
    assert np.isnan(data["peak_frequency"][below]).all()
    # line power after the amplifier, the RBW filter's noise bandwidth divided out
    assert data["integrated_power"][lit] == pytest.approx(
        gain * emitted_power(truth, data["bias"][lit]), rel=0.01)
    assert data["linewidth"][lit] == pytest.approx(line_fwhm(truth, data["bias"][lit]),
                                                   rel=0.05)
    assert data["peak_frequency"][lit] == pytest.approx(frequency(truth, data["bias"][lit]),
                                                        abs=0.2e6)


def test_source_back_at_zero_and_off(station, curve) -> None:
    source = station.roles["current_source"]
    assert source.current() == 0.0
    assert source.output() is False


def test_plot_is_a_png(curve, tmp_path) -> None:
    run, data, fit = curve
    path = run.procedure.plot(data, fit, tmp_path / "plots" / "emission.png")
    assert is_png(path)
    assert is_png(run.procedure.plot(data, {}, tmp_path / "no_fit.png"))  # fit failed


def test_stop_between_points_leaves_the_source_at_zero(station) -> None:
    run = run_inline(station, EmissionCurve, {**FAST, "bias_points": 11}, stop_after=4)
    assert len(run.rows) == 4
    assert station.roles["current_source"].current() == 0.0
    assert station.roles["current_source"].output() is False


@pytest.mark.parametrize("parameter, value, named", [
    ("analyzer", "fsw", "'fsw'"),
    ("source", "nanovoltmeter", "'nanovoltmeter' is a voltmeter"),
    ("meter", "dvm", "'dvm'"),
])
def test_a_wrong_instrument_name_fails_naming_it(station, parameter, value, named) -> None:
    with pytest.raises(ConfigError, match=named):
        run_inline(station, EmissionCurve, {**FAST, parameter: value})
    assert station.roles["current_source"].output() is False


def test_a_bias_beyond_the_limit_fails_before_the_output_turns_on(station) -> None:
    with pytest.raises(LimitError, match="junction_current"):
        run_inline(station, EmissionCurve, {**FAST, "bias_stop": 8e-3})
    assert station.roles["current_source"].output() is False


def test_a_trace_too_coarse_for_the_rbw_is_refused(station) -> None:
    with pytest.raises(LabrfError, match="spectrum_points"):
        run_inline(station, EmissionCurve, {**FAST, "rbw": 50e3})
    assert station.roles["current_source"].output() is False


def test_no_point_above_threshold_is_a_clear_error(station) -> None:
    run = run_inline(station, EmissionCurve, {**FAST, "bias_stop": 3.5e-3, "bias_points": 8})
    assert np.all(run.data["integrated_power"] == 0)
    with pytest.raises(LabrfError, match="0 of 8 points show a line.*beyond the sweep"):
        run.procedure.analyse(run.data)


def set_junction(station: LabStation, field: float) -> None:
    """Switch the free layer with a field excursion (negative: antiparallel), back at 0."""
    magnet = station.roles["magnet"]
    magnet.output(True)
    magnet.field(field)
    magnet.field(0.0)
    magnet.safe_state()


def test_compliance_of_an_antiparallel_junction_is_reported(station, caplog) -> None:
    set_junction(station, -0.05)  # 150 ohm: the 0.6 V compliance caps the bias at 4 mA
    try:
        with caplog.at_level("WARNING", logger="labrf.procedures.emission"):
            run = run_inline(station, EmissionCurve, {**FAST, "bias_start": 3e-3,
                                                      "bias_points": 6})
    finally:
        set_junction(station, 0.05)
    assert run.data["voltage"][-1] == pytest.approx(0.6, abs=1e-4)
    warnings = [r.message for r in caplog.records if "compliance" in r.message]
    assert len(warnings) == 1 and "current may be less than the bias" in warnings[0]
    with pytest.raises(LabrfError, match="0 of 6 points show a line"):
        run.procedure.analyse(run.data)


def test_registered_by_name() -> None:
    from labrf.runner import procedure_class

    assert procedure_class("emission") is EmissionCurve


# ---------------------------------------------------------------- synthetic data


def test_fit_emission_recovers_phi_from_noisy_physics() -> None:
    rng = np.random.default_rng(7)
    p = OscillatorParams(threshold_current=3e-3, current_tuning=5e9)
    bias = np.linspace(0, 4.5e-3, 46)
    power = emitted_power(p, bias)
    power = np.where(power > 0, power * (1 + 0.01 * rng.standard_normal(bias.size)), 0.0)
    freq = np.where(power > 0, frequency(p, bias) + 20e3 * rng.standard_normal(bias.size),
                    np.nan)
    fit = fit_emission(bias, power, freq)
    assert fit.threshold_current == pytest.approx(3e-3, rel=0.02)
    assert fit.tunability == pytest.approx(5e9, rel=0.01)
    assert fit.phi_a == pytest.approx(-fit.phi_b * fit.threshold_current)
    assert fit.phi_a_err > 0 and fit.phi_b_err > 0 and fit.tunability_err > 0


def test_fit_emission_on_an_exact_rectified_line() -> None:
    bias = np.linspace(0, 5e-3, 26)
    power = phi(bias, -2e-4, 0.05)  # threshold 4 mA
    fit = fit_emission(bias, power, np.where(power > 0, 3e8 + 7e9 * (bias - 4e-3), np.nan))
    assert fit.threshold_current == pytest.approx(4e-3, rel=1e-6)
    assert fit.phi_b == pytest.approx(0.05, rel=1e-6)
    assert fit.frequency_at_threshold == pytest.approx(3e8, rel=1e-9)


def test_fit_emission_needs_three_points_with_a_line() -> None:
    with pytest.raises(LabrfError, match="2 of 5 points"):
        fit_emission([0, 1e-3, 2e-3, 3e-3, 4e-3], [0, 0, 0, 1e-9, 2e-9],
                     [math.nan] * 3 + [3e8, 3.1e8])


@pytest.mark.parametrize("rbw, fwhm", [(100e3, 300e3), (1e6, 60e3)])
def test_fit_line_gives_power_and_width_through_the_rbw(rbw, fwhm) -> None:
    rng = np.random.default_rng(3)
    f = np.linspace(290e6, 310e6, 801)
    line = line_in_rbw(f, 2e-8, 301.3e6, fwhm, rbw)
    floor = 1e-17 * rbw * rng.gamma(10, 0.1, f.size)  # -140 dBm/Hz, video-averaged
    fit = fit_line(f, watt_to_dbm(line + floor), rbw)
    assert fit.detected
    assert fit.integrated_power == pytest.approx(2e-8, rel=0.01)
    assert fit.linewidth == pytest.approx(fwhm, rel=0.03)
    assert fit.peak_frequency == pytest.approx(301.3e6, abs=2e3)


def test_fit_line_on_noise_finds_nothing() -> None:
    rng = np.random.default_rng(5)
    f = np.linspace(290e6, 310e6, 401)
    fit = fit_line(f, watt_to_dbm(1e-12 * rng.gamma(10, 0.1, f.size)), 200e3)
    assert not fit.detected and fit.integrated_power == 0.0
    assert math.isnan(fit.peak_frequency) and math.isnan(fit.linewidth)


def test_fit_line_refuses_short_traces() -> None:
    with pytest.raises(LabrfError, match="at least 8 points"):
        fit_line([1.0, 2.0, 3.0], [-80.0, -20.0, -80.0], 1e3)

