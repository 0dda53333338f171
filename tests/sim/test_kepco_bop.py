"""Kepco BOP 36-12 / BIT 4886 emulator driving a field coil."""

from __future__ import annotations

import math

import numpy as np
import pytest
from pymeasure.instruments.kepco import KepcoBOP3612

from labrf.sim.emulator import Emulator
from labrf.sim.models.kepco_bop import DIAG_TEST_TIME, MEASURE_TIME
from tests.helpers import ask, errors, make_bench, write

TAU = 0.2  # s, the default coil's L/R
R = 1.0  # ohm, the default coil's resistance


def bench(noise: bool = False):
    return make_bench({"psu": {"model": "kepco_bop", "address": "GPIB0::6::INSTR",
                               "output": "magnet"}},
                      devices={"magnet": {"kind": "coil"}}, noise=noise)


@pytest.fixture
def kepco():
    b = bench()
    return b, b.emulators["psu"]


def current_on(emulator: Emulator, amps: float, compliance: float = 20.0) -> None:
    write(emulator, f"FUNC:MODE CURR;:VOLT {compliance};:CURR {amps};:OUTP ON")


def test_identity_and_power_on_state(kepco):
    _, k = kepco
    assert ask(k, "*IDN?") == "KEPCO,BOP 36-12 4886,E1234,1.52"
    assert ask(k, "OUTP?") == "0"
    assert ask(k, "FUNC:MODE?") == "0"
    assert float(ask(k, "VOLT?")) == 0.0
    assert float(ask(k, "CURR?")) == 0.0
    assert errors(k) == []


def test_round_trips_in_long_and_short_forms(kepco):
    _, k = kepco
    write(k, "FUNCtion:MODE CURRent")
    assert ask(k, "FUNC:MODE?") == "1"
    write(k, "SOURce:CURRent:LEVel:IMMediate:AMPLitude 1.5")
    assert float(ask(k, "CURR?")) == 1.5
    write(k, "curr 250 mA")
    assert float(ask(k, "SOUR:CURR:LEV?")) == 0.25
    write(k, "VOLTage:LEVel:IMMediate -12.5")
    assert float(ask(k, "VOLT?")) == -12.5
    assert float(ask(k, "CURR? MAX")) == 12.0
    assert float(ask(k, "VOLT? MIN")) == -36.0
    write(k, "OUTPut:STATe ON")
    assert ask(k, "OUTPut?") == "1"
    write(k, "FUNC:MODE VOLT")
    assert ask(k, "FUNC:MODE?") == "0"
    assert ask(k, "VOLT?") == "-1.25000E+01"
    assert errors(k) == []


def test_unknown_header_queues_113_and_changes_nothing(kepco):
    _, k = kepco
    write(k, "CURR 1")
    write(k, "CURR:FOO 2")
    write(k, "SYST:NONSENSE")
    assert errors(k) == ['-113,"Undefined header"'] * 2
    assert float(ask(k, "CURR?")) == 1.0


def test_out_of_range_setpoints_queue_222_and_keep_the_old_value(kepco):
    _, k = kepco
    write(k, "CURR 2;VOLT 10")
    write(k, "CURR 12.5")
    write(k, "VOLT -36.1")
    write(k, "FUNC:MODE AMPS")
    assert errors(k) == ['-222,"Data out of range"', '-222,"Data out of range"',
                         '-224,"Illegal parameter value"']
    assert float(ask(k, "CURR?")) == 2.0
    assert float(ask(k, "VOLT?")) == 10.0
    assert ask(k, "FUNC:MODE?") == "0"


def test_software_limits_cap_the_setpoints(kepco):
    _, k = kepco
    write(k, "CURR:LIM 2")
    assert float(ask(k, "CURR:LIM?")) == 2.0
    write(k, "CURR 3")
    write(k, "CURR -1.5")
    write(k, "CURR:LIM 1")  # below the present setpoint
    assert errors(k) == ['-222,"Data out of range"', '-221,"Settings conflict"']
    assert float(ask(k, "CURR?")) == -1.5
    assert float(ask(k, "CURR:LIM?")) == 2.0
    write(k, "*RST")  # the limits live in non-volatile memory
    assert float(ask(k, "CURR:LIM?")) == 2.0


def test_coil_current_lags_a_step_by_the_time_constant(kepco):
    b, k = kepco
    current_on(k, 2.0)
    t0 = b.clock.now()
    b.clock.advance_to(t0 + TAU - MEASURE_TIME)  # the reading is taken after MEASURE_TIME
    assert float(ask(k, "MEAS:CURR?")) == pytest.approx(2.0 * (1 - math.exp(-1)), rel=1e-4)
    b.clock.advance_to(t0 + 10 * TAU)
    assert float(ask(k, "MEASure:CURRent?")) == pytest.approx(2.0, rel=1e-4)
    assert float(ask(k, "MEASure:SCALar:VOLTage:DC?")) == pytest.approx(2.0 * R, rel=1e-4)


def test_voltage_during_a_step_includes_l_di_dt(kepco):
    b, k = kepco
    write(k, "FUNC:MODE VOLT;:CURR 5;:VOLT 3;:OUTP 1")
    t0 = b.clock.now()
    b.clock.advance_to(t0 + TAU / 2)
    i = b.world.coil_reading("psu", b.clock.now() + MEASURE_TIME).current
    assert float(ask(k, "MEAS:CURR?")) == pytest.approx(i, rel=1e-5)
    assert 0 < i < 3.0 / R
    assert float(ask(k, "MEAS:VOLT?")) > R * i  # L dI/dt adds while the current rises


def test_the_other_setpoint_is_the_compliance(kepco):
    b, k = kepco
    current_on(k, 2.0, compliance=0.5)  # 0.5 V across 1 ohm allows only 0.5 A
    b.clock.sleep(10 * TAU)
    assert float(ask(k, "MEAS:CURR?")) == pytest.approx(0.5 / R, rel=1e-4)
    write(k, "FUNC:MODE VOLT;:VOLT 5;:CURR 1")  # voltage mode, 1 A current limit
    b.clock.sleep(10 * TAU)
    assert float(ask(k, "MEAS:CURR?")) == pytest.approx(1.0, rel=1e-4)


def test_output_off_lets_the_coil_current_decay(kepco):
    b, k = kepco
    current_on(k, 3.0)
    b.clock.sleep(10 * TAU)
    write(k, "OUTP OFF")
    b.clock.sleep(TAU - MEASURE_TIME)
    assert float(ask(k, "MEAS:CURR?")) == pytest.approx(3.0 * math.exp(-1), rel=1e-3)


def test_rst_turns_the_output_off_and_the_world_sees_it(kepco):
    b, k = kepco
    current_on(k, 4.0)
    b.clock.sleep(10 * TAU)
    assert b.world.coils["magnet"].target == pytest.approx(4.0)
    write(k, "*RST")
    assert ask(k, "OUTP?") == "0"
    assert ask(k, "FUNC:MODE?") == "0"
    assert float(ask(k, "CURR?")) == 0.0
    assert b.world.coils["magnet"].target == 0.0
    b.clock.sleep(10 * TAU)
    assert abs(b.world.coil_reading("psu", b.clock.now()).current) < 1e-3
    assert abs(float(ask(k, "MEAS:CURR?"))) < 1e-3


def test_measurements_take_instrument_time_and_have_noise():
    b = bench(noise=True)
    k = b.emulators["psu"]
    current_on(k, 1.0)
    b.clock.sleep(10 * TAU)
    t0 = b.clock.now()
    readings = np.array([float(ask(k, "MEAS:CURR?")) for _ in range(200)])
    assert b.clock.now() - t0 == pytest.approx(200 * MEASURE_TIME)
    assert readings.mean() == pytest.approx(1.0, abs=5e-4)
    assert 0.5e-3 < readings.std() < 2e-3
    volts = np.array([float(ask(k, "MEAS:VOLT?")) for _ in range(200)])
    assert 2e-3 < volts.std() < 10e-3


def test_diag_test_passes_without_driving_the_coil(kepco):
    b, k = kepco
    write(k, "CURR 5;VOLT 10")
    t0 = b.clock.now()
    assert ask(k, "DIAG:TST?") == "0"
    assert b.clock.now() - t0 == pytest.approx(DIAG_TEST_TIME)
    assert ask(k, "OUTP?") == "0"
    assert b.world.coils["magnet"].target == 0.0
    assert ask(k, "*TST?") == "0"


def test_error_code_query_and_beep(kepco):
    _, k = kepco
    write(k, "SYST:BEEP")
    write(k, "BOGUS")
    assert ask(k, "SYST:ERR:CODE?") == "-113"
    assert ask(k, "SYST:ERR:CODE?") == "0"


def test_pymeasure_driver_runs_unmodified(kepco):
    b, k = kepco
    bop = KepcoBOP3612(b.address("psu"), visa_library=b.visa_library, timeout=10000)
    assert bop.id.startswith("KEPCO,BOP 36-12")
    assert bop.confidence_test == 0
    assert bop.bop_test == 0
    bop.operating_mode = "CURR"
    assert bop.operating_mode == "CURR"
    bop.voltage_setpoint = 10
    bop.current_setpoint = 1.5
    bop.output_enabled = True
    assert (bop.voltage_setpoint, bop.current_setpoint, bop.output_enabled) == (10, 1.5, True)
    bop.beep()
    bop.wait_to_continue()
    b.clock.sleep(10 * TAU)
    assert bop.current == pytest.approx(1.5, rel=1e-4)
    assert bop.voltage == pytest.approx(1.5 * R, rel=1e-4)
    bop.operating_mode = "VOLT"
    assert bop.operating_mode == "VOLT"
    bop.output_enabled = False
    assert bop.output_enabled is False
    assert bop.check_errors() == []
    assert errors(k) == []
