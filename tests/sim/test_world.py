"""The world: coupling between sources, devices and meters; breakdown; random streams."""

import math

import numpy as np
import pytest

from labrf.sim.config import InstrumentConfig, parse_simulation
from labrf.sim.world import World

WIRING = {
    "src": {"output": "mtj"}, "cs": {"output": "mtj"}, "cs2": {"output": "mtj"},
    "nv": {"input": "mtj"}, "sa": {"input": "amp"}, "psu": {"output": "magnet"},
    "gm": {"probe": "magnet"},
}


def make_world(seed: int = 1, **devices_extra) -> World:
    section = {"seed": seed, "devices": {
        "mtj": {"kind": "mtj", "field_from": "magnet", **devices_extra},
        "amp": {"kind": "amplifier", "input": "mtj", "gain": "30 dB"},
        "magnet": {"kind": "coil"}}}
    config = parse_simulation(section, {})
    instruments = {n: InstrumentConfig(n, "x", f"GPIB0::{i}::INSTR", w)
                   for i, (n, w) in enumerate(WIRING.items())}
    return World(type(config)(**{**config.__dict__, "instruments": instruments}))


def test_voltmeter_sees_the_rectified_line_of_the_rf_drive():
    w = make_world()
    assert w.junction_reading("nv", 0).voltage == 0
    w.drive_rf("src", 0, 255e6, 1e-6)
    v_above = w.junction_reading("nv", 0).voltage
    w.drive_rf("src", 0, 245e6, 1e-6)
    v_below = w.junction_reading("nv", 0).voltage
    assert v_above > 0 > v_below
    w.drive_rf("src", 0, 255e6, 0.0)
    assert w.junction_reading("nv", 0).voltage == 0


def test_dc_bias_adds_ir_and_compliance_limits_current():
    w = make_world()
    w.drive_dc("cs", 0, on=True, level=1e-3, compliance=10)
    reading = w.junction_reading("nv", 0)
    assert reading.voltage == pytest.approx(0.1) and reading.current == pytest.approx(1e-3)
    w.drive_dc("cs", 0, on=True, level=5e-3, compliance=0.2)
    reading = w.junction_reading("cs", 0)
    assert reading.voltage == pytest.approx(0.2) and reading.in_compliance
    w.drive_dc("cs2", 0, on=True, mode="voltage", level=0.05, compliance=1)
    assert w.junction_reading("nv", 0).current == pytest.approx(0.5e-3)


def test_junction_breaks_down_past_its_voltage_and_stays_broken():
    w = make_world()
    w.drive_rf("src", 0, 250e6, 1e-6)
    w.drive_dc("cs", 1.0, on=True, level=9e-3, compliance=100)  # 0.9 V > 0.8 V
    assert w.junctions["mtj"].broken and w.junctions["mtj"].broken_at == 1.0
    assert "broke down" in w.events[0][1]
    w.drive_dc("cs", 2.0, on=False)
    assert w.junction_reading("nv", 2).voltage == 0  # short: no rectification
    w.drive_dc("cs", 3.0, on=True, level=1e-3)
    assert w.junction_reading("nv", 3).voltage == pytest.approx(5e-3)  # 5 ohm short
    assert w.describe()["devices"]["mtj"]["broken"]


def test_rf_power_alone_can_break_a_junction():
    w = make_world()
    w.drive_rf("src", 0, 250e6, 10e-3)  # sqrt(2 P R) = 1.41 V
    assert w.junctions["mtj"].broken


def test_emission_reaches_the_analyzer_above_threshold_only():
    w = make_world()
    freqs = np.linspace(280e6, 340e6, 601)
    w.drive_dc("cs", 0, on=True, level=3e-3, compliance=10)
    assert w.spectrum("sa", 0, freqs, 100e3).max() == 0
    w.drive_dc("cs", 0, on=True, level=6e-3, compliance=10)
    trace = w.spectrum("sa", 0, freqs, 100e3)
    assert freqs[np.argmax(trace)] == pytest.approx(300e6 + 14e6, abs=0.2e6)
    assert w.noise_density("sa") == pytest.approx(1.380649e-23 * 290 * 2 * 1000, rel=0.01)


def test_coil_lags_its_supply_and_moves_the_field_and_resonance():
    w = make_world()
    w.drive_coil("psu", 0, on=True, level=1.0, limit=20)
    tau = 0.2
    assert w.coil_reading("psu", tau).current == pytest.approx(1 - math.exp(-1), rel=1e-6)
    assert w.field_at_probe("gm", 10.0) == pytest.approx(25e-3 + 0.2e-3, rel=1e-3)
    w.drive_rf("src", 10, 262.6e6, 1e-7)  # f_r(25.2 mT) = 262.6 MHz: symmetric peak only
    near = w.junction_reading("nv", 10).voltage
    assert near == pytest.approx(3.0 * 1e-7, rel=0.02)


def test_supply_voltage_limit_caps_coil_current():
    w = make_world()
    w.drive_coil("psu", 0, on=True, level=5.0, limit=2.0)  # 1 ohm coil: 2 A at most
    assert w.coil_reading("psu", 100).current == pytest.approx(2.0)


def test_streams_are_seeded_and_stable_per_component():
    a, b, c = make_world(seed=3), make_world(seed=3), make_world(seed=4)
    assert a.rng("nv/noise").random() == b.rng("nv/noise").random()
    assert a.rng("nv/noise").random() != c.rng("nv/noise").random()
    assert a.rng("nv/noise").random() != a.rng("sa/noise").random()


def test_variability_spreads_devices_reproducibly():
    section = {"seed": 5, "variability": "5 %", "devices": {
        f"j{i}": {"kind": "mtj"} for i in range(40)}}
    worlds = [World(parse_simulation(section, {})) for _ in range(2)]
    f = [[j.config.spin_diode.resonance for j in w.junctions.values()] for w in worlds]
    assert f[0] == f[1]
    spread = np.std(f[0]) / 250e6
    assert 0.03 < spread < 0.07
