"""Keithley 6221 emulator: DC output pushed to the world, ranges and compliance, *RST,
delta mode with a 2182A on the same junction, waveforms, status, errors, and
PyMeasure's Keithley6221 driving it unmodified."""

from __future__ import annotations

import numpy as np
import pytest
from pymeasure.instruments.keithley import Keithley6221

from tests.sim.conftest import ask, errors, make_bench, write

CS = {"model": "keithley6221", "address": "GPIB0::12::INSTR", "output": "mtj"}
NV = {"model": "keithley2182a", "address": "GPIB0::7::INSTR", "input": "mtj"}


def bench(noise: bool = False, with_meter: bool = True):
    instruments = {"cs": dict(CS), **({"nv": dict(NV)} if with_meter else {})}
    return make_bench(instruments, noise=noise)


@pytest.fixture
def b():
    return bench()


def seen(bench_) -> float:
    """Current the world sees through the junction (A)."""
    return bench_.world.junction_reading("cs", bench_.clock.now()).current


def resistance(bench_) -> float:
    return bench_.describe()["devices"]["mtj"]["junction"]["resistance"]


# ---------------------------------------------------------------- DC output and the world


def test_idn_and_power_on_state(b):
    cs = b.emulators["cs"]
    assert ask(cs, "*IDN?") == "KEITHLEY INSTRUMENTS INC.,MODEL 6221,1234567,D03  /700x"
    assert ask(cs, ":OUTP?") == "0"
    assert ask(cs, ":SOUR:CURR?") == "+0.000000E+00"
    assert ask(cs, ":SOUR:CURR:COMP?") == "+1.000000E+01"
    assert seen(b) == 0.0


def test_output_pushes_current_to_the_world(b):
    cs = b.emulators["cs"]
    write(cs, ":SOUR:CURR 1e-3")
    assert seen(b) == 0.0  # output still off
    write(cs, ":OUTP ON")
    assert seen(b) == pytest.approx(1e-3)
    write(cs, ":SOUR:CURR -2e-3")
    assert seen(b) == pytest.approx(-2e-3)
    write(cs, ":OUTP OFF")
    assert seen(b) == 0.0


def test_compliance_limits_the_current(b):
    cs = b.emulators["cs"]
    write(cs, ":SOUR:CURR 2e-3;:SOUR:CURR:COMP 0.1;:OUTP ON")
    reading = b.world.junction_reading("cs", b.clock.now())
    assert reading.in_compliance
    assert reading.voltage == pytest.approx(0.1)
    write(cs, ":SOUR:CURR:COMP 10")
    assert not b.world.junction_reading("cs", b.clock.now()).in_compliance


def test_rst_turns_the_output_off_at_zero(b):
    cs = b.emulators["cs"]
    write(cs, ":SOUR:CURR 1e-3;:OUTP ON")
    write(cs, "status:queue:clear;*RST;:stat:pres;:*CLS;")
    assert errors(cs) == []
    assert seen(b) == 0.0
    assert ask(cs, ":OUTP?;:SOUR:CURR?") == "0;+0.000000E+00"


def test_source_clear_turns_the_output_off(b):
    cs = b.emulators["cs"]
    write(cs, ":SOUR:CURR 1e-3;:OUTP ON")
    write(cs, ":SOUR:CLE")
    assert ask(cs, ":OUTP?") == "0"
    assert seen(b) == 0.0


# ---------------------------------------------------------------- settings and errors


@pytest.mark.parametrize("command, query, reply", [
    (":SOUR:CURR 1.5e-3", ":SOUR:CURR?", "+1.500000E-03"),
    (":SOUR:CURR 20UA", ":SOUR:CURR?", "+2.000000E-05"),
    (":SOUR:CURR:COMP 5", ":SOUR:CURR:COMP?", "+5.000000E+00"),
    (":SOUR:CURR:RANG 1e-3", ":SOUR:CURR:RANG?", "+2.000000E-03"),
    (":SOUR:CURR:RANG:AUTO 1", ":SOUR:CURR:RANG:AUTO?", "1"),
    (":SOUR:DEL 0.01", ":SOUR:DEL?", "+1.000000E-02"),
    (":OUTP:LTE ON", ":OUTP:LTE?", "1"),
    (":OUTP:ISH GUAR", ":OUTP:ISH?", "GUAR"),
    (":SOUR:DELT:DEL INF", ":SOUR:DELT:DEL?", "+9.900000E+37"),
    (":SOUR:WAVE:DUR:TIME INF", ":SOUR:WAVE:DUR:TIME?", "+9.900000E+37"),
    (":SOUR:DELT:COUN 100", ":SOUR:DELT:COUN?", "100"),
    (":SOUR:DELT:CAB ON", ":SOUR:DELT:CAB?", "1"),
    (":SOUR:SWE:COUN 3", ":SOUR:SWE:COUN?", "3"),
    (":UNIT:VOLT:DC OHMS", ":UNIT:VOLT:DC?", "OHMS"),
    (":SOUR:WAVE:FUNC SQU", ":SOUR:WAVE:FUNC?", "SQU"),
    (":SOUR:WAVE:FREQ 347", ":SOUR:WAVE:FREQ?", "+3.470000E+02"),
    (":SOUR:WAVE:RANG FIX", ":SOUR:WAVE:RANG?", "FIX"),
    (":ARM:SOUR TIM", ":ARM:SOUR?", "TIM"),
    (":ARM:TIM 0.5", ":ARM:TIM?", "+5.000000E-01"),
    (":TRIG:OUTP DEL", ":TRIG:OUTP?", "DEL"),
    (":TRIG:OLIN 3", ":TRIG:OLIN?", "3"),
    (":STAT:MEAS:ENAB 512", ":STAT:MEAS:ENAB?", "512"),
    ("ESE 36", "*ESE?", "36"),  # PyMeasure's form without '*'
    ("*ESE 12", "ESE?", "12"),
])
def test_setting_round_trips(b, command, query, reply):
    cs = b.emulators["cs"]
    write(cs, command)
    assert ask(cs, query) == reply
    assert errors(cs) == []


def test_delta_high_sets_low_to_minus_high(b):
    cs = b.emulators["cs"]
    write(cs, ":SOUR:DELT:HIGH 2e-3")
    assert ask(cs, ":SOUR:DELT:LOW?") == "-2.000000E-03"


def test_ranges_follow_the_level(b):
    cs = b.emulators["cs"]
    write(cs, ":SOUR:CURR 10e-3")  # above the fixed 2 mA range: the range moves up
    assert ask(cs, ":SOUR:CURR:RANG?") == "+2.000000E-02"
    write(cs, ":SOUR:CURR:RANG 1e-6")
    assert errors(cs) == ['-221,"Settings conflict"']
    assert ask(cs, ":SOUR:CURR:RANG?") == "+2.000000E-02"
    write(cs, ":SOUR:CURR:RANG:AUTO 1;:SOUR:CURR 5e-6")
    assert ask(cs, ":SOUR:CURR:RANG?") == "+2.000000E-05"


@pytest.mark.parametrize("command, code", [
    (":SOUR:CURR 0.2", -222),
    (":SOUR:CURR:COMP 0.05", -222),
    (":SOUR:CURR:COMP 106", -222),
    (":SOUR:WAVE:FREQ 2e5", -222),
    (":OUTP:ISH CHASSIS", -224),
    (":SOUR:CURR 1 V", -131),
    (":SOUR:VOLT 1", -113),
    (":SOUR:DELT:ARM 1", -108),
])
def test_bad_commands_queue_the_error_and_change_nothing(b, command, code):
    cs = b.emulators["cs"]
    before = dict(cs.state)
    write(cs, command)
    found = errors(cs)
    assert len(found) == 1 and found[0].startswith(f"{code},")
    assert cs.state == before


def test_init_with_nothing_armed_is_a_conflict(b):
    write(b.emulators["cs"], ":INIT")
    assert errors(b.emulators["cs"]) == ['-221,"Settings conflict"']


# ---------------------------------------------------------------- delta mode


def test_nanovoltmeter_presence():
    assert ask(bench().emulators["cs"], ":SOUR:DELT:NVPR?") == "1"
    alone = bench(with_meter=False).emulators["cs"]
    assert ask(alone, ":SOUR:DELT:NVPR?") == "0"
    write(alone, ":SOUR:DELT:ARM")
    assert errors(alone) == ['-221,"Settings conflict"']


def test_delta_run_measures_the_resistance(b):
    cs = b.emulators["cs"]
    write(cs, "*RST;:SOUR:DELT:HIGH 1e-3;:SOUR:DELT:DEL 0.002;:SOUR:DELT:COUN 10;"
              ":TRAC:POIN 10")
    write(cs, ":STAT:MEAS:ENAB 512;*SRE 1")
    write(cs, ":SOUR:DELT:ARM")
    assert ask(cs, ":SOUR:DELT:ARM?") == "1"
    t0 = b.clock.now()
    write(cs, ":INIT:IMM")
    assert int(ask(cs, "*STB?")) & 65 == 65  # buffer full
    assert b.clock.now() - t0 == pytest.approx(12 * (0.002 + 1 / 50))  # count + 2 A/D
    fields = np.array([float(v) for v in ask(cs, ":TRAC:DATA?").split(",")])
    values, stamps = fields[0::2], fields[1::2]  # READ,TST pairs
    assert len(values) == 10
    assert np.all(np.diff(stamps) > 0)
    r = resistance(b)
    assert values == pytest.approx(np.full(10, r * 1e-3), rel=1e-6)
    assert float(ask(cs, ":SENS:DATA?")) == pytest.approx(r * 1e-3, rel=1e-6)
    assert seen(b) == 0.0  # back to the DC setting (output off)
    write(cs, ":UNIT:VOLT:DC OHMS;:SOUR:DELT:ARM;:INIT")
    write(cs, ":FORM:ELEM READ")
    ohms = np.array([float(v) for v in ask(cs, ":TRAC:DATA?").split(",")])
    assert ohms == pytest.approx(np.full(10, r), rel=1e-6)
    write(cs, ":SOUR:SWE:ABOR")
    assert ask(cs, ":SOUR:DELT:ARM?") == "0"
    assert errors(cs) == []


def test_noisy_delta_readings_average_to_the_resistance():
    b = bench(noise=True)
    cs = b.emulators["cs"]
    write(cs, "*RST;:SOUR:DELT:HIGH 1e-4;:SOUR:DELT:COUN 200;:TRAC:POIN 200;"
              ":FORM:ELEM READ;:SOUR:DELT:ARM;:INIT")
    values = np.array([float(v) for v in ask(cs, ":TRAC:DATA?").split(",")])
    assert np.mean(values) == pytest.approx(resistance(b) * 1e-4, abs=1e-8)
    assert 5e-9 < np.std(values) < 100e-9


# ---------------------------------------------------------------- waveforms


def test_waveform_runs_for_its_duration(b):
    cs = b.emulators["cs"]
    write(cs, ":SOUR:WAVE:FUNC SIN;:SOUR:WAVE:AMPL 1e-3;:SOUR:WAVE:OFFS 5e-4;"
              ":SOUR:WAVE:FREQ 100;:SOUR:WAVE:DUR:TIME 2")
    assert ask(cs, ":SOUR:WAVE:DUR:CYCL?") == "+2.000000E+02"
    write(cs, ":SOUR:WAVE:INIT")
    assert errors(cs) == ['-221,"Settings conflict"']  # not armed
    write(cs, ":SOUR:WAVE:ARM;:SOUR:WAVE:INIT")
    assert seen(b) == pytest.approx(5e-4)  # the junction sees the DC component
    t0 = b.clock.now()
    assert ask(cs, "*OPC?") == "1"
    assert b.clock.now() - t0 == pytest.approx(2.0)
    ask(cs, "*STB?")
    assert seen(b) == 0.0
    write(cs, ":SOUR:WAVE:ABOR")
    assert errors(cs) == []


def test_arbitrary_waveform_storage(b):
    cs = b.emulators["cs"]
    write(cs, ":SOUR:WAVE:FUNC ARB2;:SOUR:WAVE:ARM")
    assert errors(cs) == ['-221,"Settings conflict"']  # ARB2 is empty
    write(cs, ":SOUR:WAVE:ARB:DATA 0, 0.5, 1, -1")
    write(cs, ":SOUR:WAVE:ARB:COPY 2")
    assert ask(cs, ":SOUR:WAVE:ARB:POIN?") == "4"
    write(cs, ":SOUR:WAVE:ARM")
    assert ask(cs, ":SOUR:WAVE:ARM?") == "1"
    write(cs, ":SOUR:WAVE:ARB:DATA 2")
    assert errors(cs) == ['-222,"Data out of range"']


# ---------------------------------------------------------------- PyMeasure's driver


def test_pymeasure_keithley6221_sources_and_runs_delta():
    b = bench(noise=False)
    source = Keithley6221(b.address("cs"), visa_library=b.visa_library)
    source.reset()
    source.source_compliance = 5
    source.source_current = 1e-3
    source.enable_source()
    assert seen(b) == pytest.approx(1e-3)
    assert source.source_enabled is True
    source.shutdown()
    assert seen(b) == 0.0
    assert source.delta_connected is True
    source.delta_high_source = 1e-3
    source.delta_delay = 0.002
    source.delta_cycles = 5
    source.delta_buffer_points = 5
    source.write(":FORM:ELEM READ")
    source.delta_arm()
    source.delta_start()
    assert source.delta_values == pytest.approx([resistance(b) * 1e-3] * 5, rel=1e-6)
    source.delta_abort()
    assert source.check_errors() == []
    b.close()
