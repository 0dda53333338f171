"""R&S SMB100A emulator: command tree, ranges, level limit, offsets, output into the world."""

from __future__ import annotations

import math

import pytest

from labrf.sim.models.rs_smb100a import SMB100A
from tests.helpers import ask, errors, make_bench, write


@pytest.fixture
def smb() -> SMB100A:
    bench = make_bench({"rf": {"model": "smb100a", "address": "TCPIP::10.0.0.20::INSTR",
                               "output": "mtj"}})
    emulator = bench.emulators["rf"]
    assert isinstance(emulator, SMB100A)
    return emulator

def last(emulator: SMB100A) -> tuple[str, float, float, float]:
    """The emulator's RF output as the world has it: (instrument, since, frequency, power)."""
    out = emulator.world.rf_output(emulator.name)
    return emulator.name, out.since, out.frequency, out.power



def test_identity_options_and_power_on_state(smb: SMB100A) -> None:
    assert ask(smb, "*IDN?") == ("Rohde&Schwarz,SMB100A,1406.6000k03/101234,"
                                 "3.1.19.15-3.50.124.73")
    assert "SMB-B106" in ask(smb, "*OPT?").split(",")
    assert ask(smb, "FREQ?") == "1000000000"
    assert ask(smb, "POW?") == "-30"
    assert ask(smb, "OUTP?") == "0"
    assert ask(smb, "SYST:ERR?") == '0,"No error"'


@pytest.mark.parametrize("command", ["SOUR:FREQ 250 MHz", "FREQ 250MHZ", "FREQ:CW 0.25GHz",
                                     ":SOURce1:FREQuency:FIXed 250000000",
                                     "sour:freq 2.5e8 Hz"])
def test_frequency_forms_and_units(smb: SMB100A, command: str) -> None:
    write(smb, command)
    assert ask(smb, "SOUR1:FREQ:CW?") == "250000000"
    assert errors(smb) == []


def test_level_round_trip_and_joined_units(smb: SMB100A) -> None:
    write(smb, "SOUR:POW -10;:OUTP:STAT ON")
    assert ask(smb, "SOUR:POW:LEV:IMM:AMPL?;:OUTP?") == "-10;1"
    write(smb, "POW -12.5 dBm")
    assert ask(smb, "POW?") == "-12.5"


def test_min_max(smb: SMB100A) -> None:
    assert ask(smb, "FREQ? MIN") == "9000"
    assert ask(smb, "FREQ? MAX") == "6000000000"
    assert ask(smb, "POW? MAX") == "30"
    write(smb, "FREQ MAX;POW MIN")
    assert ask(smb, "FREQ?;POW?") == "6000000000;-145"


def test_unknown_header_is_113_and_changes_nothing(smb: SMB100A) -> None:
    write(smb, "FREQ:XYZ 1")
    write(smb, "OUTP:BOGUS ON")
    assert errors(smb) == ['-113,"Undefined header;FREQ:XYZ"',
                           '-113,"Undefined header;OUTP:BOGUS"']
    assert ask(smb, "OUTP?") == "0"


def test_out_of_range_is_222_and_state_unchanged(smb: SMB100A) -> None:
    write(smb, "FREQ 250 MHz;POW -10")
    write(smb, "FREQ 7 GHz")
    write(smb, "POW 31")
    write(smb, "FREQ 1 kHz")
    found = errors(smb)
    assert [e.split(",")[0] for e in found] == ["-222", "-222", "-222"]
    assert all('"Data out of range;' in e for e in found)
    assert ask(smb, "FREQ?;POW?") == "250000000;-10"


def test_second_rf_path_does_not_exist(smb: SMB100A) -> None:
    write(smb, "SOUR2:FREQ 1 GHz")
    assert errors(smb)[0].startswith("-114,")


def test_level_limit_refuses_higher_levels(smb: SMB100A) -> None:
    write(smb, "POW -20;POW:LIM -15")
    assert ask(smb, "POW:LIM?") == "-15"
    write(smb, "POW -10")
    found = errors(smb)
    assert len(found) == 1 and found[0].startswith('-221,"Settings conflict;')
    assert ask(smb, "POW?") == "-20"
    write(smb, "POW -15")
    assert errors(smb) == []
    assert ask(smb, "POW?") == "-15"


def test_level_limit_survives_rst_and_caps_the_output(smb: SMB100A) -> None:
    write(smb, "FREQ 300 MHz;POW 0;OUTP ON")
    write(smb, "POW:LIM -10")
    assert last(smb)[3] == pytest.approx(1e-4)  # capped at -10 dBm
    assert ask(smb, "POW?") == "0"  # the level query is not influenced by the limit
    write(smb, "*RST")
    assert ask(smb, "POW:LIM?") == "-10"
    write(smb, "POW:LIM 31")
    assert errors(smb)[0].startswith("-222,")


def test_output_pushes_to_the_world(smb: SMB100A) -> None:
    write(smb, "FREQ 250 MHz;POW -10")
    assert last(smb)[2:] == (250e6, 0.0)  # RF still off
    write(smb, "OUTP ON")
    name, t, frequency, power = last(smb)
    assert (name, frequency) == ("rf", 250e6)
    assert power == pytest.approx(1e-4)
    assert t == pytest.approx(smb.world.clock.now())
    write(smb, "FREQ 260 MHz")
    assert last(smb)[2] == 260e6
    write(smb, "POW -20")
    assert last(smb)[3] == pytest.approx(1e-5)
    write(smb, "OUTP OFF")
    assert last(smb)[3] == 0.0
    assert last(smb)[2:] == (260e6, 0.0)


def test_rst_turns_rf_off(smb: SMB100A) -> None:
    write(smb, "FREQ 250 MHz;POW -10;OUTP ON")
    assert last(smb)[3] > 0
    write(smb, "*RST")
    assert last(smb)[2:] == (1e9, 0.0)
    assert ask(smb, "OUTP?;FREQ?;POW?") == "0;1000000000;-30"


def test_offsets_change_queries_not_the_output(smb: SMB100A) -> None:
    write(smb, "FREQ 250 MHz;POW -10;OUTP ON")
    write(smb, "FREQ:OFFS 1 MHz;:POW:OFFS -20")
    assert ask(smb, "FREQ?;POW?") == "251000000;-30"
    assert last(smb)[2:] == (250e6, pytest.approx(1e-4))
    write(smb, "POW -40")  # the level after a -20 dB attenuator: -20 dBm at the connector
    assert last(smb)[3] == pytest.approx(1e-5)
    assert ask(smb, "POW? MIN") == "-165"


def test_power_unit(smb: SMB100A) -> None:
    write(smb, "POW 0")
    write(smb, "UNIT:POW V")
    assert float(ask(smb, "POW?")) == pytest.approx(math.sqrt(50e-3), rel=1e-9)
    write(smb, "POW 0.1 V")
    write(smb, "UNIT:POW DBM")
    assert float(ask(smb, "POW?")) == pytest.approx(10 * math.log10(0.01 / 50 / 1e-3),
                                                    abs=0.005)
    write(smb, "POW 107 dBuV")
    assert ask(smb, "POW?") == "0.01"


def test_pulse_modulation_average_power(smb: SMB100A) -> None:
    write(smb, "POW 0;OUTP ON")
    write(smb, "SOUR:PULM:PER 10 us;WIDT 2.5 us;STAT ON")
    assert last(smb)[3] == pytest.approx(0.25e-3)
    write(smb, "SOUR:MOD:STAT OFF")
    assert last(smb)[3] == pytest.approx(1e-3)
    assert ask(smb, "SOUR:PULM:STAT?;SOUR?;:SOUR:MOD:STAT?") == "1;INT;0"


def test_qcodes_contrib_driver_commands(smb: SMB100A) -> None:
    """Every command of QCoDeS' contrib RohdeSchwarz_SMB100A, as it formats them."""
    for command in ["SOUR:FREQ 250000000.00", "SOUR:PHAS 90.00", "SOUR:POW -10.00",
                    ":OUTP:STAT 1", ":SOUR:PULM:STAT 0",
                    "FREQ:START 100000000.000000000000 Hz",
                    "FREQ:STOP 200000000.000000000000 Hz",
                    "SWE:STEP 1000000.000000000000 Hz", "SWE:POIN 11.000000000000",
                    "SWE:DWEL 0.010000000000 s", "SOUR:FREQ:MODE CW", "SOUR:FREQ:MODE SWE",
                    "TRIG:FSW:SOUR AUTO", "TRIG:FSW:SOUR SING", "*TRG"]:
        write(smb, command)
    replies = ask(smb, "SOUR:FREQ?;:SOUR:PHAS?;:SOUR:POW?;:OUTP:STAT?;:SOUR:PULM:STAT?;"
                       ":FREQ:START?;STOP?;:SWE:STEP?;POIN?;DWEL?;"
                       ":SOUR:FREQ:MODE?;:TRIG:FSW:SOUR?")
    assert replies.split(";") == ["250000000", "90", "-10", "1", "0", "100000000",
                                  "200000000", "10000000", "11", "0.01", "SWE", "SING"]
    assert ask(smb, "*TST?") == "0"
    assert errors(smb) == []


def test_sweep_step_and_points_are_coupled(smb: SMB100A) -> None:
    write(smb, "FREQ:STAR 100 MHz;STOP 500 MHz")
    write(smb, "SWE:STEP 10 MHz")
    assert ask(smb, "SWE:POIN?") == "41"
    write(smb, "FREQ:CENT 400 MHz")
    assert ask(smb, "FREQ:STAR?;STOP?;SPAN?") == "200000000;600000000;400000000"


def test_error_queue_forms(smb: SMB100A) -> None:
    write(smb, "FOO;*ESE 300")
    assert ask(smb, "SYST:ERR:COUN?") == "1"  # the -113 ends the message
    write(smb, "POW 99")
    assert ask(smb, "SYST:ERR:CODE?") == "-113"
    assert ask(smb, "SYST:ERR:ALL?").startswith('-222,"Data out of range;')
    assert ask(smb, "SYST:ERR:ALL?") == '0,"No error"'


def test_opc_waits_for_settling(smb: SMB100A) -> None:
    t0 = smb.world.clock.now()
    write(smb, "FREQ 300 MHz")
    assert ask(smb, "*OPC?") == "1"
    assert smb.world.clock.now() - t0 == pytest.approx(3e-3)
