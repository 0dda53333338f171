"""R&S SMB100A driver: command strings pinned to the manual, then against the emulator."""

from __future__ import annotations

import pytest
from pymeasure.test import expected_protocol

from labrf.drivers.rohdeschwarz import SMB100A
from labrf.sim.bench import Bench


def test_frequency() -> None:
    with expected_protocol(SMB100A, [("SOUR:FREQ:CW 250000000.00", None),
                                     ("SOUR:FREQ:CW?", "250000000")]) as inst:
        inst.frequency = 250e6
        assert inst.frequency == 250e6


def test_frequency_out_of_range_is_refused_before_sending() -> None:
    with expected_protocol(SMB100A, []) as inst, pytest.raises(ValueError):
        inst.frequency = 7e9


def test_frequency_range_is_dynamic() -> None:
    with expected_protocol(SMB100A, [("SOUR:FREQ:CW 12000000000.00", None)]) as inst:
        inst.frequency_values = [100e3, 12.75e9]  # option SMB-B112
        inst.frequency = 12e9


def test_power() -> None:
    with expected_protocol(SMB100A, [("SOUR:POW -10.50 dBm", None),
                                     ("SOUR:POW?", "-10.5")]) as inst:
        inst.power = -10.5
        assert inst.power == -10.5


def test_power_out_of_range() -> None:
    with expected_protocol(SMB100A, []) as inst, pytest.raises(ValueError):
        inst.power = 31


def test_power_limit() -> None:
    with expected_protocol(SMB100A, [("SOUR:POW:LIM 0.00 dBm", None),
                                     ("SOUR:POW:LIM?", "0")]) as inst:
        inst.power_limit = 0
        assert inst.power_limit == 0


def test_power_offset() -> None:
    with expected_protocol(SMB100A, [("SOUR:POW:OFFS -20.00", None),
                                     ("SOUR:POW:OFFS?", "-20")]) as inst:
        inst.power_offset = -20
        assert inst.power_offset == -20


@pytest.mark.parametrize("state, sent, reply", [(True, "OUTP:STAT 1", "1"),
                                                (False, "OUTP:STAT 0", "0")])
def test_output_enabled(state: bool, sent: str, reply: str) -> None:
    with expected_protocol(SMB100A, [(sent, None), ("OUTP:STAT?", reply)]) as inst:
        inst.output_enabled = state
        assert inst.output_enabled is state


def test_shutdown_turns_rf_off() -> None:
    with expected_protocol(SMB100A, [("OUTP:STAT 0", None)]) as inst:
        inst.shutdown()
        assert inst.isShutdown


def test_against_the_emulator() -> None:
    """Every property round-trips through the SMB100A emulator without an SCPI error."""
    bench = Bench.from_simulation({
        "seed": 1, "devices": {"mtj": {"kind": "mtj"}},
        "instruments": {"rf": {"model": "smb100a", "address": "GPIB0::28::INSTR",
                               "output": "mtj"}}})
    smb = SMB100A("GPIB0::28::INSTR", visa_library=bench.visa_library)
    try:
        assert smb.id.startswith("Rohde&Schwarz,SMB100A,")
        smb.power_limit = -5
        smb.power_offset = 0
        smb.frequency = 250e6
        smb.power = -10
        smb.output_enabled = True
        assert (smb.frequency, smb.power, smb.power_limit, smb.output_enabled) == (
            250e6, -10, -5, True)
        smb.power = 0  # above the limit: refused, the level stays
        assert smb.power == -10
        assert smb.check_errors()[0][0] == -221
        smb.shutdown()
        assert smb.output_enabled is False
        out = bench.world.rf_output("rf")
        assert (out.frequency, out.power) == (250e6, 0.0)
        assert smb.check_errors() == []
    finally:
        smb.adapter.close()
        bench.close()
