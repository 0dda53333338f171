"""Kepco BOP 36-12 (BIT 4886): PyMeasure's driver, command strings pinned to the manual,
then against the emulator driving a field coil."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pymeasure.test import expected_protocol

from labrf.drivers.kepco import KepcoBOP3612
from labrf.sim.bench import Bench
from tests.helpers import make_bench


def test_is_pymeasures_driver_unchanged() -> None:
    from pymeasure.instruments.kepco import kepcobop

    assert KepcoBOP3612 is kepcobop.KepcoBOP3612


@pytest.mark.parametrize("mode, reply", [("CURR", "1"), ("VOLT", "0")])
def test_operating_mode(mode: str, reply: str) -> None:
    """The query answers 0 (voltage) or 1 (current), mapped back to the name."""
    with expected_protocol(KepcoBOP3612, [(f"FUNCtion:MODE {mode}", None),
                                          ("FUNCtion:MODE?", reply)]) as bop:
        bop.operating_mode = mode
        assert bop.operating_mode == mode


def test_operating_mode_refuses_other_names() -> None:
    with expected_protocol(KepcoBOP3612, []) as bop, pytest.raises(ValueError):
        bop.operating_mode = "current"


def test_current_setpoint() -> None:
    with expected_protocol(KepcoBOP3612, [("CURRent 1.5", None),
                                          ("CURRent?", "1.50000E+00")]) as bop:
        bop.current_setpoint = 1.5
        assert bop.current_setpoint == 1.5


def test_voltage_setpoint() -> None:
    with expected_protocol(KepcoBOP3612, [("VOLTage -10", None),
                                          ("VOLTage?", "-1.00000E+01")]) as bop:
        bop.voltage_setpoint = -10
        assert bop.voltage_setpoint == -10


def test_setpoints_beyond_the_36_12_are_truncated_not_refused() -> None:
    """PyMeasure's truncated_range: 13 A becomes 12 A without an error; a role must
    enforce its own limits first."""
    with expected_protocol(KepcoBOP3612, [("CURRent 12", None), ("CURRent -12", None),
                                          ("VOLTage 36", None)]) as bop:
        bop.current_setpoint = 13
        bop.current_setpoint = -20
        bop.voltage_setpoint = 50


@pytest.mark.parametrize("state, sent", [(True, "OUTPut 1"), (False, "OUTPut 0")])
def test_output_enabled(state: bool, sent: str) -> None:
    with expected_protocol(KepcoBOP3612, [(sent, None), ("OUTPut?", str(int(state)))]) as bop:
        bop.output_enabled = state
        assert bop.output_enabled is state


def test_measured_current_and_voltage() -> None:
    with expected_protocol(KepcoBOP3612, [("MEASure:CURRent?", "1.49998E+00"),
                                          ("MEASure:VOLTage?", "1.50012E+00")]) as bop:
        assert bop.current == 1.49998
        assert bop.voltage == 1.50012


# ------------------------------------------------------------------ emulator

TAU, R = 0.2, 1.0  #: s, ohm: the default coil


@pytest.fixture
def bench() -> Iterator[Bench]:
    bench = make_bench({"psu": {"model": "kepco_bop", "address": "GPIB0::6::INSTR",
                                "output": "magnet"}},
                       devices={"magnet": {"kind": "coil"}}, noise=False)
    yield bench
    bench.close()


def test_voltage_setpoint_is_the_compliance_in_current_mode(bench: Bench) -> None:
    bop = KepcoBOP3612(bench.address("psu"), visa_library=bench.visa_library)
    try:
        bop.operating_mode = "CURR"
        bop.voltage_setpoint = 1.0  # V: at most 1 A through the 1 ohm coil
        bop.current_setpoint = 3.0
        bop.output_enabled = True
        bench.clock.sleep(10 * TAU)
        assert bop.current == pytest.approx(1.0 / R, rel=1e-3)
        assert bop.voltage == pytest.approx(1.0, rel=1e-3)
        bop.voltage_setpoint = 5.0  # compliance above 3 A x 1 ohm: the setpoint holds
        bench.clock.sleep(10 * TAU)
        assert bop.current == pytest.approx(3.0, rel=1e-3)
        assert bench.world.coil_reading("psu", bench.clock.now()).current == \
            pytest.approx(3.0, rel=1e-3)
        bop.output_enabled = False
        bench.clock.sleep(10 * TAU)
        assert bop.current == pytest.approx(0.0, abs=1e-3)
        assert bop.check_errors() == []
    finally:
        bop.adapter.close()
