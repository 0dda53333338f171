"""Keithley 2182A emulator: settings, readings from the world, noise, timing, buffer and
statistics, status, errors, and PyMeasure's Keithley2182 driving it unmodified."""

from __future__ import annotations

import numpy as np
import pytest
from pymeasure.instruments.keithley import Keithley2182

from tests.sim.conftest import ask, errors, make_bench, write

NV = {"model": "keithley2182a", "address": "GPIB0::7::INSTR", "input": "mtj",
      "terminator": "\r"}
CS = {"model": "keithley6221", "address": "GPIB0::12::INSTR", "output": "mtj"}


def bench(noise: bool = True, **extra):
    return make_bench({"nv": dict(NV), "cs": dict(CS)}, noise=noise, **extra)


@pytest.fixture
def nv():
    meter = bench().emulators["nv"]
    write(meter, "*RST")
    return meter


def readings(meter, message: str = "READ?") -> np.ndarray:
    return np.array([float(v) for v in ask(meter, message).split(",")])


# ---------------------------------------------------------------- identity and reset


def test_idn_and_reset_defaults(nv):
    assert ask(nv, "*IDN?") == "KEITHLEY INSTRUMENTS INC.,MODEL 2182A,1234567,C02 /A02"
    assert ask(nv, ":SENS:FUNC?") == '"VOLT:DC"'
    assert ask(nv, ":SENS:VOLT:NPLC?") == "+5.00000000E+00"
    assert ask(nv, ":SENS:CHAN?") == "1"
    assert ask(nv, ":SENS:VOLT:CHAN1:RANG:AUTO?") == "1"
    assert ask(nv, ":SENS:VOLT:DFIL?;DFIL:COUN?;TCON?") == "1;10;MOV"
    assert ask(nv, ":INIT:CONT?") == "0"
    assert ask(nv, ":SYST:LFR?") == "50"


def test_pymeasure_reset_string_leaves_no_error(nv):
    write(nv, ":SENS:VOLT:NPLC 1")
    write(nv, "status:queue:clear;*RST;:stat:pres;:*CLS;")
    assert errors(nv) == []
    assert ask(nv, ":SENS:VOLT:NPLC?") == "+5.00000000E+00"


def test_power_on_measures_continuously():
    meter = bench().emulators["nv"]
    assert ask(meter, ":INIT:CONT?") == "1"
    float(ask(meter, ":FETC?"))  # a continuous reading is always there
    write(meter, ":INIT")
    assert errors(meter) == ['-213,"Init ignored"']


# ---------------------------------------------------------------- settings round trips


@pytest.mark.parametrize("command, query, reply", [
    (":SENS:VOLT:NPLC 0.5", ":SENS:VOLT:NPLC?", "+5.00000000E-01"),
    (":SENS:TEMP:NPLC 2", ":SENS:TEMP:NPLC?", "+2.00000000E+00"),
    (":SENS:CHAN 2", ":SENS:CHAN?", "2"),
    (":SENS:FUNC 'TEMP'", ":SENS:FUNC?", '"TEMP"'),
    ("SENS:FUNC \"VOLT:DC\"", ":SENS:FUNC?", '"VOLT:DC"'),
    (":SENS:VOLT:CHAN1:RANG 0.05", ":SENS:VOLT:CHAN1:RANG?", "+1.00000000E-01"),
    (":SENS:VOLT:CHAN2:RANG 5", ":SENS:VOLT:CHAN2:RANG?", "+1.00000000E+01"),
    (":SENS:VOLT:CHAN1:REF 1e-3", ":SENS:VOLT:CHAN1:REF?", "+1.00000000E-03"),
    (":SENS:VOLT:CHAN2:REF:STAT ON", ":SENS:VOLT:CHAN2:REF:STAT?", "1"),
    (":SENS:TEMP:CHAN1:REF 20", ":SENS:TEMP:CHAN1:REF?", "+2.00000000E+01"),
    (":SENS:VOLT:DFIL:COUN 25", ":SENS:VOLT:CHAN1:DFIL:COUN?", "25"),
    (":SENS:VOLT:CHAN1:DFIL:TCON REP", ":SENS:VOLT:DFIL:TCON?", "REP"),
    (":SENS:VOLT:LPAS ON", ":SENS:VOLT:CHAN1:LPAS?", "1"),
    (":SENS:TEMP:TC K", ":SENS:TEMP:TC?", "K"),
    (":SENS:TEMP:RJUN:RSEL SIM", ":SENS:TEMP:RJUN:RSEL?", "SIM"),
    (":SYST:AZER:STAT OFF", ":SYST:AZER:STAT?", "0"),
    (":TRIG:SOUR BUS", ":TRIG:SOUR?", "BUS"),
    (":TRIG:COUN 20", ":TRIG:COUN?", "20"),
    (":TRIG:COUN INF", ":TRIG:COUN?", "+9.90000000E+37"),
    (":TRIG:DEL 0.5", ":TRIG:DEL?", "+5.00000000E-01"),
    (":TRAC:POIN 64", ":TRAC:POIN?", "64"),
    (":TRAC:FEED:CONT NEXT", ":TRAC:FEED:CONT?", "NEXT"),
    (":DISP:ENAB 0", ":DISP:ENAB?", "0"),
])
def test_setting_round_trips(nv, command, query, reply):
    write(nv, command)
    assert ask(nv, query) == reply
    assert errors(nv) == []


def test_setting_a_range_turns_autorange_off(nv):
    write(nv, ":SENS:VOLT:CHAN1:RANG 1")
    assert ask(nv, ":SENS:VOLT:CHAN1:RANG:AUTO?") == "0"
    assert ask(nv, ":SENS:VOLT:CHAN2:RANG:AUTO?") == "1"


@pytest.mark.parametrize("command, code", [
    (":SENS:VOLT:NPLC 0.001", -222),
    (":SENS:VOLT:NPLC 55", -222),  # above 50 PLC on a 50 Hz line
    (":SENS:VOLT:CHAN1:RANG 121", -222),
    (":SENS:VOLT:DFIL:COUN 101", -222),
    (":SENS:VOLT:CHAN2:DFIL ON", -114),  # the digital filter is channel 1's
    (":SENS:CHAN 3", -222),
    (":SENS:FUNC 'RES'", -224),
    (":TRIG:SOUR NOW", -224),
    (":SENS:VOLT:NPLC", -109),
    (":SENS:VOLT:BOGUS 1", -113),
])
def test_bad_commands_queue_the_error_and_change_nothing(nv, command, code):
    before = dict(nv.state)
    write(nv, command)
    found = errors(nv)
    assert len(found) == 1 and found[0].startswith(f"{code},")
    assert nv.state == before


def test_nplc_up_to_60_on_a_60_hz_line():
    meter = bench(line_frequency=60).emulators["nv"]
    assert ask(meter, ":SYST:LFR?") == "60"
    write(meter, ":SENS:VOLT:NPLC 60")
    assert errors(meter) == []
    assert ask(meter, ":SENS:VOLT:NPLC? MAX") == "+6.00000000E+01"


# ---------------------------------------------------------------- readings and time


def test_reading_takes_nplc_over_line_frequency(nv):
    clock = nv.world.clock
    t0 = clock.now()
    ask(nv, ":READ?")
    assert clock.now() - t0 == pytest.approx(0.1)  # NPLC 5 at 50 Hz
    write(nv, ":SENS:VOLT:DFIL:TCON REP")
    t0 = clock.now()
    ask(nv, ":READ?")
    assert clock.now() - t0 == pytest.approx(1.0)  # repeating filter: 10 conversions
    write(nv, ":SENS:VOLT:DFIL OFF;:SENS:VOLT:NPLC 1;:TRIG:COUN 30")
    t0 = clock.now()
    assert len(readings(nv)) == 30
    assert clock.now() - t0 == pytest.approx(30 * 0.02)


def test_reading_time_on_a_60_hz_line():
    meter = bench(line_frequency=60).emulators["nv"]
    write(meter, "*RST;:SENS:VOLT:NPLC 6")
    t0 = meter.world.clock.now()
    ask(meter, ":READ?")
    assert meter.world.clock.now() - t0 == pytest.approx(0.1)


def test_reading_is_the_junction_voltage():
    b = bench(noise=False)
    meter, source = b.emulators["nv"], b.emulators["cs"]
    write(meter, "*RST")
    assert float(ask(meter, ":READ?")) == 0.0
    write(source, ":SOUR:CURR 1e-3;:OUTP ON")
    value = float(ask(meter, ":READ?"))
    truth = b.world.junction_reading("nv", b.clock.now()).voltage
    assert value == pytest.approx(truth, rel=1e-8)
    assert 0.05 < value < 0.2  # 1 mA through about 100 ohm
    assert float(ask(meter, ":SENS:VOLT:CHAN1:RANG?")) == 0.1  # autoranged
    write(meter, ":SENS:CHAN 2")
    assert float(ask(meter, ":READ?")) == 0.0  # nothing on channel 2


def test_fixed_range_too_small_overflows():
    b = bench(noise=False)
    meter, source = b.emulators["nv"], b.emulators["cs"]
    write(source, ":SOUR:CURR 1e-3;:OUTP ON")
    write(meter, "*RST;:SENS:VOLT:CHAN1:RANG 0.01")
    assert ask(meter, ":READ?") == "+9.90000000E+37"
    assert int(ask(meter, ":STAT:MEAS?")) & 1  # reading overflow
    write(meter, ":SENS:VOLT:CHAN1:RANG:AUTO ON")
    assert abs(float(ask(meter, ":READ?"))) < 1


def test_relative_reading_subtracts_the_reference():
    b = bench(noise=False)
    meter, source = b.emulators["nv"], b.emulators["cs"]
    write(source, ":SOUR:CURR 1e-3;:OUTP ON")
    write(meter, "*RST")
    raw = float(ask(meter, ":READ?"))
    write(meter, ":SENS:VOLT:CHAN1:REF 0.01;:SENS:VOLT:CHAN1:REF:STAT ON")
    assert float(ask(meter, ":READ?")) == pytest.approx(raw - 0.01)
    write(meter, ":SENS:VOLT:CHAN1:REF:ACQ")
    assert float(ask(meter, ":SENS:VOLT:CHAN1:REF?")) == pytest.approx(raw)
    assert float(ask(meter, ":READ?")) == pytest.approx(0.0, abs=1e-12)


def test_fetch_repeats_the_last_reading_and_is_stale_after_a_change(nv):
    write(nv, ":FETC?")
    assert errors(nv) == ['-230,"Data corrupt or stale"']
    first = ask(nv, ":READ?")
    assert ask(nv, ":FETC?") == first
    write(nv, ":SENS:VOLT:NPLC 1")
    write(nv, ":FETC?")
    assert errors(nv) == ['-230,"Data corrupt or stale"']


def test_measure_query_configures_and_reads(nv):
    write(nv, ":SENS:FUNC 'TEMP'")
    float(ask(nv, ":MEAS:VOLT?"))
    assert ask(nv, ":SENS:FUNC?") == '"VOLT:DC"'


def test_temperature_function_and_internal_sensor(nv):
    assert float(ask(nv, ":SENS:TEMP:RTEM?")) == pytest.approx(25.0, abs=0.1)
    write(nv, ":SENS:CHAN 1;:SENS:FUNC 'TEMP';:SENS:TEMP:NPLC 5")
    assert float(ask(nv, ":READ?")) == pytest.approx(25.0, abs=0.1)
    write(nv, ":UNIT:TEMP K")
    assert float(ask(nv, ":READ?")) == pytest.approx(298.15, abs=0.1)


# ---------------------------------------------------------------- noise


def _std(meter, nplc: float, points: int = 400) -> float:
    write(meter, f":SENS:VOLT:NPLC {nplc};:TRIG:COUN {points}")
    return float(np.std(readings(meter), ddof=1))


def test_noise_falls_as_one_over_root_nplc(nv):
    write(nv, ":SENS:VOLT:DFIL OFF")
    s1, s25 = _std(nv, 1), _std(nv, 25)
    assert s1 == pytest.approx(50e-9, rel=0.15)
    assert s1 / s25 == pytest.approx(5.0, rel=0.15)


def test_digital_filter_divides_noise_by_root_count(nv):
    write(nv, ":SENS:VOLT:DFIL OFF")
    raw = _std(nv, 1)
    write(nv, ":SENS:VOLT:DFIL ON;:SENS:VOLT:DFIL:COUN 16")
    assert raw / _std(nv, 1) == pytest.approx(4.0, rel=0.15)


def test_no_noise_when_the_world_is_quiet():
    meter = bench(noise=False).emulators["nv"]
    write(meter, "*RST;:TRIG:COUN 50")
    assert np.all(readings(meter) == 0.0)


def test_noise_is_reproducible_from_the_seed():
    first, second = bench().emulators["nv"], bench().emulators["nv"]
    for meter in (first, second):
        write(meter, "*RST;:TRIG:COUN 5")
    assert ask(first, ":READ?") == ask(second, ":READ?")


# ---------------------------------------------------------------- buffer, statistics, status


def _fill_buffer(meter, points: int) -> None:
    """PyMeasure's config_buffer then start_buffer, as raw messages."""
    write(meter, ":STAT:PRES;*CLS;*SRE 1;:STAT:MEAS:ENAB 512;")
    write(meter, ":TRAC:CLEAR;")
    write(meter, f":TRAC:POIN {points}")
    write(meter, f":TRIG:COUN {points}")
    write(meter, ":TRIG:DEL 0")
    write(meter, ":TRAC:FEED SENSE;:TRAC:FEED:CONT NEXT;")
    assert int(ask(meter, "*STB?")) & 65 == 0
    write(meter, ":INIT")


def test_buffer_fills_and_sets_the_buffer_full_bit(nv):
    _fill_buffer(nv, 50)
    assert int(ask(nv, "*STB?")) & 65 == 65
    assert ask(nv, ":TRAC:POIN:ACT?") == "50"
    assert ask(nv, ":TRAC:FEED:CONT?") == "NEV"
    data = readings(nv, ":TRAC:DATA?")
    assert len(data) == 50
    assert int(ask(nv, ":STAT:MEAS?")) & 512
    assert int(ask(nv, "*STB?")) & 1 == 0  # reading the event register cleared it
    write(nv, ":TRAC:CLE")
    assert ask(nv, ":TRAC:POIN:ACT?") == "0"


def test_statistics_over_the_buffer(nv):
    _fill_buffer(nv, 40)
    data = readings(nv, ":TRAC:DATA?")
    stat = {form: float(ask(nv, f":CALC2:FORM {form};:CALC2:STAT ON;:CALC2:IMM?;"))
            for form in ("MEAN", "SDEV", "MAX", "MIN", "PKPK")}
    assert stat["MEAN"] == pytest.approx(np.mean(data), rel=1e-6)
    assert stat["SDEV"] == pytest.approx(np.std(data, ddof=1), rel=1e-6)
    assert stat["MAX"] == pytest.approx(data.max(), rel=1e-6)
    assert stat["MIN"] == pytest.approx(data.min(), rel=1e-6)
    assert stat["PKPK"] == pytest.approx(np.ptp(data), rel=1e-6)
    assert ask(nv, ":CALC2:DATA?") == ask(nv, ":CALC2:IMM?")


def test_statistics_of_an_empty_buffer_are_not_a_number(nv):
    assert ask(nv, ":CALC2:STAT ON;:CALC2:IMM?") == "+9.91000000E+37"
    assert errors(nv) == []


def test_bus_trigger(nv):
    write(nv, ":TRIG:SOUR BUS;:TRIG:COUN 2;:INIT")
    write(nv, "*TRG")
    write(nv, "*TRG")
    assert len(readings(nv, ":FETC?")) == 2
    write(nv, "*TRG")
    assert errors(nv) == ['-211,"Trigger ignored"']
    write(nv, ":READ?")
    assert errors(nv) == ['-214,"Trigger deadlock"']


def test_status_preset_clears_enables_but_rst_does_not(nv):
    write(nv, ":STAT:MEAS:ENAB 512")
    write(nv, "*RST")
    assert ask(nv, ":STAT:MEAS:ENAB?") == "512"
    write(nv, ":STAT:PRES")
    assert ask(nv, ":STAT:MEAS:ENAB?") == "0"


# ---------------------------------------------------------------- PyMeasure's driver


def test_pymeasure_keithley2182_measures_and_buffers():
    b = bench(noise=True)
    source = b.emulators["cs"]
    write(source, ":SOUR:CURR 1e-3;:OUTP ON")
    meter = Keithley2182(b.address("nv"), visa_library=b.visa_library)
    meter.reset()
    meter.ch_1.setup_voltage(auto_range=True, nplc=1)
    assert meter.channel_function == "voltage"
    assert meter.line_frequency == 50
    voltage = meter.voltage
    truth = b.world.junction_reading("nv", b.clock.now()).voltage
    assert voltage == pytest.approx(truth, abs=1e-6)
    meter.config_buffer(points=20)
    meter.start_buffer()
    meter.wait_for_buffer(timeout=1)
    data = meter.buffer_data
    assert len(data) == 20
    assert meter.mean == pytest.approx(np.mean(data), rel=1e-6)
    assert meter.check_errors() == []
    b.close()


def test_binary_single_precision_readings():
    meter = bench(noise=False).emulators["nv"]
    write(meter, "*RST;:FORM SRE;:FORM:BORD NORM;:TRIG:COUN 3")
    reply = ask(meter, ":READ?").encode("latin-1")
    assert reply[:2] == b"#0"
    assert np.frombuffer(reply[2:], dtype=">f4").tolist() == [0.0, 0.0, 0.0]
