"""Keithley 2400 SourceMeter emulator driving a junction (100 ohm by default)."""

from __future__ import annotations

import struct
import warnings

import pytest
from pymeasure.instruments.keithley import Keithley2400 as PyMeasure2400

from labrf.sim.models.keithley_2400 import NAN, SW_COMPLIANCE, SW_RANGE_COMPLIANCE
from tests.helpers import ask, errors, make_bench, write

R = 100.0  # ohm, the default junction
LINE = 50.0  # Hz, the default line frequency


def bench(noise: bool = True, **extra):
    return make_bench({"smu": {"model": "keithley2400", "address": "GPIB0::24::INSTR",
                               "output": "mtj"}}, noise=noise, **extra)


@pytest.fixture
def smu():
    b = bench()
    return b, b.emulators["smu"]


def values(reply: str) -> list[float]:
    return [float(x) for x in reply.split(",")]


def reading(reply: str) -> tuple[float, float, float, float, int]:
    """The five default elements of one reading; the status word as an int."""
    v, i, r, t, status = values(reply)
    return v, i, r, t, int(status)


def source_current(emulator, amps: float, compliance: float = 0.5) -> None:
    write(emulator, f":SOUR:FUNC CURR;:SOUR:CURR {amps};:SENS:VOLT:PROT {compliance};"
                    ":SENS:FUNC 'VOLT';:OUTP ON")


def test_identity_and_reset_state(smu):
    _, k = smu
    assert ask(k, "*IDN?").startswith("KEITHLEY INSTRUMENTS INC.,MODEL 2400,")
    assert ask(k, ":SOUR:FUNC?") == "VOLT"
    assert ask(k, ":SENS:FUNC?") == '"CURR:DC"'
    assert ask(k, ":OUTP?") == "0"
    assert ask(k, ":FORM:ELEM?") == "VOLT,CURR,RES,TIME,STAT"
    assert ask(k, ":SENS:CURR:PROT?") == "+1.050000E-04"
    assert ask(k, ":SENS:VOLT:PROT?") == "+2.100000E+01"
    assert ask(k, ":SYST:LFR?") == "50"
    assert ask(k, ":TRIG:COUN?;:ARM:COUN?") == "1;1"
    assert errors(k) == []


def test_round_trips_in_long_and_short_forms(smu):
    _, k = smu
    write(k, ":SOURCE:FUNCTION CURRENT;:SOURCE:CURRENT 1.5e-3")
    assert ask(k, ":SOUR:FUNC?;:SOUR:CURR?") == "CURR;+1.500000E-03"
    assert ask(k, ":SOURCE1:CURRENT:LEVEL:IMMEDIATE:AMPLITUDE?") == "+1.500000E-03"
    assert ask(k, ":SOUR:CURR:RANG?") == "+1.050000E-02"  # auto range follows the level
    write(k, ":SENS:CURR:NPLC 0.1")  # NPLC is global
    assert ask(k, ":SENSE:VOLTAGE:NPLCYCLES?;:SENS:RES:NPLC?") == "+1.000000E-01;+1.000000E-01"
    write(k, ":SENSE:VOLTAGE:RANGE 1")  # most sensitive range holding 1 V; auto off
    assert ask(k, ":SENS:VOLT:RANG?;:SENS:VOLT:RANG:AUTO?") == "+2.100000E+00;0"
    write(k, ":SOUR:DEL 0.01")
    assert ask(k, ":SOUR:DEL?;:SOUR:DEL:AUTO?") == "+1.000000E-02;0"
    write(k, ":ROUT:TERM REAR;:OUTP:SMOD HIMP;:SYST:RSEN ON;:SENS:RES:MODE MAN")
    assert ask(k, ":ROUTE:TERMINALS?;:OUTPUT:SMODE?;:SYSTEM:RSENSE?;:SENS:RES:MODE?") == \
        "REAR;HIMP;1;MAN"
    write(k, ":SENS:AVER ON;:SENS:AVER:TCON MOV;:SENS:AVER:COUN 7")
    assert ask(k, ":SENS:AVER?;:SENS:AVER:TCON?;:SENS:AVER:COUN?") == "1;MOV;7"
    write(k, ":SYSTEM:AZERO:STATE OFF")
    assert ask(k, ":SYST:AZER?") == "0"
    write(k, ":SYSTEM:AZERO:STATE ONCE")  # a one-shot refresh leaves the state alone
    assert ask(k, ":SYST:AZER?") == "0"
    write(k, ":TRIG:OUTP SOUR,SENS;:ARM:OUTP TEX;:TRIG:ILIN 3;:ARM:SOUR TIM;:ARM:TIM 0.5")
    assert ask(k, ":TRIG:OUTP?;:ARM:OUTP?;:TRIG:ILIN?;:ARM:SOUR?;:ARM:TIM?") == \
        "SOUR,SENS;TEX;3;TIM;+5.000000E-01"
    write(k, ":SENS:FUNC:OFF:ALL;:SENS:FUNC 'VOLT','RES'")
    assert ask(k, ":SENS:FUNC?;:SENS:FUNC:STAT? 'CURR'") == '"VOLT:DC","RES";0'
    write(k, ":SYST:LFR 60")
    assert ask(k, ":SYST:LFR?") == "60"
    write(k, ":SYST:BEEP 1000, 0.1;:DISP:ENAB OFF;:TRIG:CLE;:SYST:TIME:RES")
    assert ask(k, ":DISP:ENAB?") == "0"
    assert errors(k) == []


def test_unknown_header_queues_113_and_changes_nothing(smu):
    _, k = smu
    write(k, ":SOUR:CURR 1e-3;:SOUR:CURRENTS 2e-3")
    assert errors(k) == ['-113,"Undefined header"']
    assert ask(k, ":SOUR:CURR?") == "+1.000000E-03"
    write(k, ":SOUR2:CURR 1e-4")  # only SOURce1 exists
    assert errors(k) == ['-114,"Header suffix out of range"']


def test_out_of_range_values_queue_222_and_keep_the_old_value(smu):
    _, k = smu
    write(k, ":SOUR:CURR 1.1")
    write(k, ":SOUR:VOLT 211")
    write(k, ":SENS:VOLT:PROT 300")
    write(k, ":SENS:CURR:NPLC 20")
    write(k, ":SYST:LFR 55")
    write(k, ":TRIG:COUN 100;:ARM:COUN 26")  # arm x trigger count above 2500
    assert errors(k) == ['-222,"Data out of range"'] * 6
    assert ask(k, ":SOUR:CURR?;:SOUR:VOLT?") == "+0.000000E+00;+0.000000E+00"
    assert ask(k, ":SENS:VOLT:PROT?;:ARM:COUN?") == "+2.100000E+01;1"


def test_a_level_cannot_exceed_a_fixed_source_range(smu):
    _, k = smu
    write(k, ":SOUR:CURR:RANG 1e-3")
    assert ask(k, ":SOUR:CURR:RANG:AUTO?") == "0"
    write(k, ":SOUR:CURR 2e-3")
    write(k, ":SOUR:CURR MAX")  # MIN/MAX need the highest range
    assert errors(k) == ['-222,"Data out of range"', '-221,"Settings conflict"']
    write(k, ":SOUR:CURR 1e-3;:SOUR:CURR:RANG:AUTO ON;:SOUR:CURR 2e-3")
    assert ask(k, ":SOUR:CURR?;:SOUR:CURR:RANG?") == "+2.000000E-03;+1.050000E-02"
    assert errors(k) == []


def test_readings_with_the_output_off_queue_803(smu):
    b, k = smu
    write(k, ":SOUR:FUNC CURR;:SOUR:CURR 1e-3")
    k.write(b":READ?", b.clock.now())
    assert k.read_reply() is None
    write(k, ":INIT")
    assert errors(k) == ['803,"Not permitted with OUTPUT off"'] * 2
    assert b.world.junction_reading("smu", b.clock.now()).current == 0.0


def test_measure_turns_the_output_on_as_the_manual_says(smu):
    b, k = smu
    write(k, ":SOUR:FUNC CURR;:SOUR:CURR 1e-3;:SENS:VOLT:PROT 0.5")
    v, i, r, _, status = reading(ask(k, ":MEAS:VOLT?"))
    assert ask(k, ":OUTP?") == "1"
    assert v == pytest.approx(R * 1e-3, rel=1e-4)
    assert i == 1e-3  # not measured: the source level
    assert r == NAN
    assert not status & SW_COMPLIANCE
    assert b.world.junction_reading("smu", b.clock.now()).current == pytest.approx(1e-3)


def test_auto_output_off_reads_with_the_output_off(smu):
    b, k = smu
    write(k, ":SOUR:FUNC CURR;:SOUR:CURR 1e-3;:SOUR:CLE:AUTO ON;:SENS:FUNC 'VOLT'")
    v = values(ask(k, ":READ?"))[0]
    assert v == pytest.approx(R * 1e-3, rel=1e-4)
    assert ask(k, ":OUTP?") == "0"
    assert b.world.junction_reading("smu", b.clock.now()).current == 0.0


def test_resistance_of_the_junction_within_noise(smu):
    _, k = smu
    source_current(k, 1e-3)
    readings = [values(ask(k, ":MEAS:RES?")) for _ in range(20)]
    resistances = [r[2] for r in readings]
    assert all(r == pytest.approx(R, rel=2e-4) for r in resistances)
    assert len(set(resistances)) > 1  # noise is on
    v, i, _, _, _ = reading(ask(k, ":MEAS:CURR?"))
    assert v == NAN and i == pytest.approx(1e-3, rel=1e-4)
    write(k, ":SOUR:CURR 0")
    assert values(ask(k, ":MEAS:RES?"))[2] == NAN  # no current: no resistance


def test_noise_is_off_when_the_world_says_so():
    k = bench(noise=False).emulators["smu"]
    source_current(k, 1e-3)
    write(k, ":SENS:FUNC:ALL")
    v, i, r, _, _ = reading(ask(k, ":READ?"))
    assert (v, i, r) == (pytest.approx(0.1, abs=1e-15), 1e-3, pytest.approx(R, abs=1e-9))


def test_compliance_limits_the_output_and_is_reported(smu):
    b, k = smu
    source_current(k, 1e-3, compliance=0.05)  # I R = 0.1 V > 0.05 V
    write(k, ":SENS:FUNC:ALL")
    v, i, r, _, status = reading(ask(k, ":READ?"))
    assert v == pytest.approx(0.05, rel=1e-3)
    assert i == pytest.approx(0.5e-3, rel=1e-3)
    assert r == pytest.approx(R, rel=1e-3)
    assert status & SW_COMPLIANCE
    assert ask(k, ":SENS:VOLT:PROT:TRIP?") == "1"
    assert int(ask(k, ":STAT:MEAS?")) & 16384
    write(k, ":SENS:VOLT:PROT 1")
    _, i, _, _, status = reading(ask(k, ":READ?"))
    assert i == pytest.approx(1e-3, rel=1e-4) and not status & SW_COMPLIANCE
    assert ask(k, ":SENS:VOLT:PROT:TRIP?") == "0"
    assert not b.describe()["devices"]["mtj"]["broken"]


def test_a_fixed_measure_range_below_the_protection_is_range_compliance(smu):
    _, k = smu
    source_current(k, 5e-3, compliance=21)  # 0.5 V wanted
    write(k, ":SENS:VOLT:RANG 0.2")  # 0.21 V range
    v, _, _, _, status = reading(ask(k, ":READ?"))
    assert v == pytest.approx(0.21, rel=1e-3)
    assert status & SW_RANGE_COMPLIANCE and not status & SW_COMPLIANCE


def test_voltage_source_with_current_compliance(smu):
    _, k = smu
    write(k, ":SOUR:FUNC VOLT;:SOUR:VOLT 0.2;:SENS:CURR:PROT 1e-3;:OUTP ON")
    v, i, _, _, status = reading(ask(k, ":READ?"))
    assert v == 0.2  # the source level: voltage is not measured
    assert i == pytest.approx(1e-3, rel=1e-3)  # 2 mA wanted, 1 mA allowed
    assert status & SW_COMPLIANCE
    assert ask(k, ":SENS:CURR:PROT:TRIP?") == "1"


def test_reading_time_is_nplc_over_line_frequency_per_reading(smu):
    b, k = smu
    source_current(k, 1e-3)
    ask(k, ":READ?")  # the first reading after a source change waits the source delay
    t0 = b.clock.now()
    ask(k, ":READ?")
    assert b.clock.now() - t0 == pytest.approx(1 / LINE)
    write(k, ":SENS:VOLT:NPLC 10;:TRIG:COUN 5")
    t0 = b.clock.now()
    readings = values(ask(k, ":READ?"))
    assert len(readings) == 25
    assert b.clock.now() - t0 == pytest.approx(5 * 10 / LINE)
    times = readings[3::5]
    assert times[1] - times[0] == pytest.approx(10 / LINE)
    write(k, ":SENS:VOLT:NPLC 1;:TRIG:COUN 1;:SENS:AVER ON;:SENS:AVER:COUN 4;:TRIG:DEL 0.1")
    t0 = b.clock.now()
    ask(k, ":READ?")
    assert b.clock.now() - t0 == pytest.approx(0.1 + 4 / LINE)


def test_rst_turns_the_output_off_and_the_world_sees_it(smu):
    b, k = smu
    source_current(k, 1e-3)
    assert b.world.junction_reading("smu", b.clock.now()).current == pytest.approx(1e-3)
    write(k, "*RST")
    assert ask(k, ":OUTP?;:SOUR:FUNC?;:SOUR:CURR?") == "0;VOLT;+0.000000E+00"
    assert b.world.junction_reading("smu", b.clock.now()).current == 0.0


def test_buffer_fills_sets_the_full_bit_and_gives_statistics(smu):
    b, k = smu
    source_current(k, 1e-3)
    write(k, ":SENS:FUNC 'RES'")
    write(k, ":STAT:PRES;*CLS;*SRE 1;:STAT:MEAS:ENAB 512;")
    write(k, ":TRAC:CLEAR;:TRAC:POIN 10;:TRIG:COUN 10;:TRIG:DEL 0")
    write(k, ":TRAC:FEED SENSE;:TRAC:FEED:CONT NEXT;")
    t0 = b.clock.now()
    write(k, ":INIT")
    assert ask(k, "*STB?") == "65"  # waits for the run, as the 2400 defers commands
    assert b.clock.now() - t0 == pytest.approx(0.001 + 10 / LINE)
    assert ask(k, ":TRAC:POIN:ACT?;:TRAC:FEED:CONT?") == "10;NEV"
    data = values(ask(k, ":FORM:DATA ASCII;:TRAC:DATA?"))
    assert len(data) == 50
    assert data[3] == 0.0 and data[8] == pytest.approx(1 / LINE)  # timestamps from the first
    mean = values(ask(k, ":CALCULATE3:FORMAT MEAN;:CALCULATE3:DATA?;"))
    assert mean == [pytest.approx(0.1, rel=1e-4), pytest.approx(1e-3, rel=1e-5),
                    pytest.approx(R, rel=1e-4)]
    sdev = values(ask(k, ":CALC3:FORM SDEV;:CALC3:DATA?"))
    assert 0 < sdev[0] < 1e-5
    write(k, ":STAT:PRES;*CLS")
    assert ask(k, "*STB?") == "0"


def test_abort_cuts_a_run_short(smu):
    b, k = smu
    source_current(k, 1e-3)
    write(k, ":TRAC:CLE;:TRAC:POIN 100;:TRIG:COUN 100;:TRAC:FEED:CONT NEXT")
    write(k, ":INIT")
    b.clock.sleep(0.2)
    write(k, ":ABOR")
    assert 5 <= int(ask(k, ":TRAC:POIN:ACT?")) <= 11
    write(k, ":TRAC:CLE")  # storage is still active
    assert errors(k) == ['800,"Illegal with storage active"']
    write(k, ":TRAC:FEED:CONT NEV;:TRAC:CLE")
    assert ask(k, ":TRAC:POIN:ACT?") == "0"


def test_bus_trigger_starts_an_armed_run(smu):
    b, k = smu
    source_current(k, 1e-3)
    write(k, ":ARM:COUN 1;:ARM:SOUR BUS;:TRIG:SOUR IMM;:TRIG:COUN 3")
    write(k, ":INIT")
    b.clock.sleep(1.0)
    write(k, ":INIT")
    assert errors(k) == ['-213,"Init ignored"']
    write(k, "*TRG")
    assert len(values(ask(k, ":FETC?"))) == 15
    k.write(b":READ?", b.clock.now())
    assert k.read_reply() is None
    assert errors(k) == ['-214,"Trigger deadlock"']


def test_timed_arm_spaces_the_sweeps(smu):
    b, k = smu
    source_current(k, 1e-3)
    ask(k, ":READ?")
    write(k, ":ARM:SOUR TIM;:ARM:TIM 0.5;:ARM:COUN 3;:TRIG:COUN 2")
    t0 = b.clock.now()
    times = values(ask(k, ":READ?"))[3::5]
    assert len(times) == 6
    assert times[2] - times[0] == pytest.approx(0.5)
    assert b.clock.now() - t0 == pytest.approx(1.0 + 2 / LINE)


def test_auto_ohms_sources_the_test_current_of_the_range(smu):
    b, k = smu
    write(k, ":SENS:FUNC 'RES';:SENS:RES:MODE AUTO;:SENS:RES:RANG 2e3;:OUTP ON")
    assert b.world.junction_reading("smu", b.clock.now()).current == pytest.approx(1e-3)
    r = values(ask(k, ":READ?"))[2]
    assert r == pytest.approx(R, rel=1e-3)
    write(k, ":SENS:RES:RANG 2e2")  # 10 mA: 1 V, above the junction's breakdown
    assert b.describe()["devices"]["mtj"]["broken"]
    assert values(ask(k, ":READ?"))[2] == pytest.approx(5.0, rel=1e-3)  # now a short


def test_binary_format(smu):
    _, k = smu
    source_current(k, 1e-3)
    write(k, ":FORM:DATA REAL,32;:FORM:BORD NORM;:FORM:ELEM VOLT")
    k.write(b":READ?", k.world.clock.now())
    data = k.read_reply().data
    assert data[:2] == b"#0" and len(data) == 2 + 4 + 1
    assert struct.unpack(">f", data[2:6])[0] == pytest.approx(0.1, rel=1e-4)
    assert ask(k, ":FORM:DATA?") == "REAL,32"


def test_an_unwired_output_is_an_open_circuit():
    b = make_bench({"smu": {"model": "keithley2400", "address": "GPIB0::24::INSTR"}},
                   devices={})
    k = b.emulators["smu"]
    source_current(k, 1e-3, compliance=2)
    v, _, _, _, status = reading(ask(k, ":READ?"))
    assert v == pytest.approx(2, rel=1e-3) and status & SW_COMPLIANCE


def test_pymeasure_driver_runs_unmodified(smu):
    b, k = smu
    smu = PyMeasure2400(b.address("smu"), visa_library=b.visa_library)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        smu.reset()
        smu.apply_current(compliance_voltage=0.5)
        smu.measure_voltage(nplc=1)
        smu.measure_current(auto_range=False, current=1e-3)
        smu.measure_resistance()
        smu.use_front_terminals()
        smu.set_trigger_counts(1, 1)
        smu.output_trigger_on_external(2, "SENS")
        smu.disable_output_trigger()
        smu.auto_zero = "ONCE"
    smu.source_current = 1e-3
    smu.enable_source()
    assert smu.source_enabled is True
    assert smu.voltage == pytest.approx(0.1, rel=1e-4)
    assert smu.current == pytest.approx(1e-3, rel=1e-4)
    assert smu.resistance == pytest.approx(R, rel=1e-3)
    assert smu.measure_all()["resistance"] == pytest.approx(R, rel=1e-3)
    smu.config_buffer(8)
    smu.start_buffer()
    smu.wait_for_buffer()
    assert len(smu.buffer_data) == 40
    assert smu.mean_resistance == pytest.approx(R, rel=1e-3)
    assert smu.std_voltage < 1e-5
    smu.trigger_on_bus()
    smu.trigger_immediately()
    smu.sample_continuously()
    smu.current_nplc = 0.1
    smu.source_delay = 0.01
    smu.compliance_voltage = 0.6
    smu.filter_enabled = True
    smu.repeat_filter_enabled = False
    smu.wires = 4
    smu.line_frequency = 60
    smu.front_terminals_enabled = False
    smu.output_off_state = "disconnected"
    smu.display_enabled = False
    smu.auto_zero_once()
    smu.beep(440, 0.1)
    smu.reset_trigger()
    smu.clear_trigger()
    smu.trigger()
    smu.ramp_to_current(2e-3, steps=3, pause=0)
    assert (smu.current_nplc, smu.source_delay_auto_enabled, smu.wires) == (0.1, False, 4)
    assert smu.output_off_state == "disconnected"
    smu.shutdown()
    assert k.state["OUTP"] is False and k.state["SOUR:CURR"] == 0.0
    assert smu.check_errors() == []
    assert errors(k) == []
    assert not b.describe()["devices"]["mtj"]["broken"]
