"""Device physics of physics.md: each model's defining behaviour."""

import numpy as np
import pytest

from labrf.physics import (
    CoilParams,
    JunctionParams,
    OscillatorParams,
    SpinDiodeParams,
    coil,
    junction,
    oscillator,
    spin_diode,
)
from labrf.physics.hysteresis import play

P = SpinDiodeParams()


def test_spin_diode_line_is_antisymmetric_about_resonance_with_a_symmetric_part():
    d = P.damping * P.resonance
    v_plus = spin_diode.rectified_voltage(P, P.resonance + d, 1e-6)
    v_minus = spin_diode.rectified_voltage(P, P.resonance - d, 1e-6)
    v_res = spin_diode.rectified_voltage(P, P.resonance, 1e-6)
    # at f_r +- D: (S D^2 +- A D^2) / (2 D^2) times P (saturation is tiny at 1 uW)
    assert v_plus - v_minus == pytest.approx(P.antisymmetric * 1e-6, rel=0.05)
    assert v_res == pytest.approx(P.symmetric * 1e-6, rel=0.05)


def test_rectified_voltage_is_linear_below_psat_and_bends_above():
    f = P.resonance + P.damping * P.resonance
    powers = np.array([0.1e-6, 0.2e-6, 0.4e-6])
    v = spin_diode.rectified_voltage(P, f, powers)
    assert v[1] / v[0] == pytest.approx(2, rel=0.01)
    high = spin_diode.rectified_voltage(P, f, np.array([30e-6, 60e-6]))
    assert high[1] / high[0] == pytest.approx(2 * (1 + 1) / (1 + 2))


def test_resonance_tunes_with_field_and_current():
    assert spin_diode.resonance_frequency(P, 10e-3, 0) - P.resonance == pytest.approx(5e6)
    assert spin_diode.resonance_frequency(P, 0, 1e-3) - P.resonance == pytest.approx(7e6)


def test_line_narrows_and_sensitivity_grows_near_threshold():
    w0 = spin_diode.half_width(P, 0, 0)
    w3 = spin_diode.half_width(P, 0, 3e-3)
    f0 = spin_diode.resonance_frequency(P, 0, 0) + w0
    f3 = spin_diode.resonance_frequency(P, 0, 3e-3) + w3
    assert w3 / w0 == pytest.approx(0.25 * (1 + 21e6 / 250e6), rel=1e-6)
    ratio = spin_diode.rectified_voltage(P, f3, 1e-7, 0, 3e-3) / spin_diode.rectified_voltage(
        P, f0, 1e-7)
    assert ratio == pytest.approx(4, rel=0.01)


def test_oscillator_emits_only_above_threshold_with_slavin_power():
    o = OscillatorParams()
    currents = np.array([0, 3.9e-3, 4e-3, 8e-3, 12e-3])
    power = oscillator.emitted_power(o, currents)
    assert list(power[:3]) == [0, 0, 0]
    assert power[3] == pytest.approx(100e-9)
    assert power[4] == pytest.approx(o.power_scale * 2 / 5)
    assert oscillator.frequency(o, 6e-3) - oscillator.frequency(o, 5e-3) == pytest.approx(7e6)


def test_oscillator_line_narrows_from_hundreds_to_tens_of_khz():
    o = OscillatorParams()
    assert 200e3 < oscillator.linewidth(o, 4.05e-3) <= 500e3
    assert 10e3 < oscillator.linewidth(o, 12e-3) < 100e3


def test_line_in_rbw_keeps_total_power_for_wide_rbw_and_density_for_narrow():
    f = np.array([300e6])
    assert oscillator.line_in_rbw(f, 1e-6, 300e6, 10e3, 10e6) == pytest.approx(1e-6, rel=2e-3)
    narrow = oscillator.line_in_rbw(f, 1e-6, 300e6, 1e6, 1e3)
    density = 1e-6 / (np.pi * 0.5e6)
    assert narrow == pytest.approx(density * np.pi * 0.5e3, rel=2e-3)


def test_coil_current_follows_setpoint_with_its_time_constant():
    c = CoilParams()
    assert coil.current_after(c, 0, 1, c.time_constant) == pytest.approx(1 - np.exp(-1))
    assert coil.voltage(c, 0.5, 2.0) == pytest.approx(0.5 + c.inductance * 2.0)


def test_remanence_keeps_the_sign_of_the_last_excursion():
    c = CoilParams()
    h = play(0.0, 2.0, c.hysteresis_width)
    h = play(h, 0.0, c.hysteresis_width)
    assert coil.field(c, 0.0, h) == pytest.approx(c.remanence)
    h = play(play(h, -2.0, c.hysteresis_width), 0.0, c.hysteresis_width)
    assert coil.field(c, 0.0, h) == pytest.approx(-c.remanence)


def test_free_layer_switches_with_hysteresis_and_sets_tmr():
    j = JunctionParams()
    h = j.switching_field
    r_p = junction.resistance(j, junction.free_layer(j, h))
    h = play(h, -1.5 * j.switching_field, j.switching_field)
    r_ap = junction.resistance(j, junction.free_layer(j, h))
    assert r_p == pytest.approx(j.resistance, rel=1e-3)
    assert r_ap == pytest.approx(j.resistance * (1 + j.tmr), rel=1e-3)
    h = play(h, 0.0, j.switching_field)  # back to zero: stays antiparallel
    assert junction.resistance(j, junction.free_layer(j, h)) == pytest.approx(r_ap, rel=1e-3)


def test_broken_junction_is_a_short_and_peak_voltage_adds_rf():
    j = JunctionParams()
    assert junction.resistance(j, 1.0, broken=True) == j.shorted_resistance
    assert junction.peak_voltage(100, 4e-3, 0) == pytest.approx(0.4)
    assert junction.peak_voltage(100, 0, 1e-3) == pytest.approx(np.sqrt(0.2))


def test_saturation_follows_the_total_power_of_all_tones():
    f = P.resonance + P.damping * P.resonance
    alone = spin_diode.rectified_voltage(P, f, 10e-6)
    shared = spin_diode.rectified_voltage(P, f, 10e-6, total_power=40e-6)
    assert shared / alone == pytest.approx((1 + 10 / 30) / (1 + 40 / 30))
