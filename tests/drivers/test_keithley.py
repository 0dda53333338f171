"""Keithley drivers: PyMeasure's 2182 and 6221 re-exported, the 2400 made safe.

Command strings pinned to the manuals, then against the emulators.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import pytest
import pyvisa
from pymeasure.instruments.keithley import Keithley2400 as PyMeasureKeithley2400
from pymeasure.test import expected_protocol

from labrf.drivers.keithley import Keithley2182, Keithley2400, Keithley6221
from labrf.sim.bench import Bench
from tests.helpers import make_bench

# ------------------------------------------------------------------ 2182 protocol


def test_2182_is_pymeasures_driver_unchanged() -> None:
    from pymeasure.instruments.keithley import keithley2182, keithley6221

    assert Keithley2182 is keithley2182.Keithley2182
    assert Keithley6221 is keithley6221.Keithley6221


def test_2182_voltage_is_a_read() -> None:
    with expected_protocol(Keithley2182, [(":READ?", "+1.00000008E-01")]) as nv:
        assert nv.voltage == pytest.approx(0.100000008)


def test_2182_voltage_nplc() -> None:
    with expected_protocol(Keithley2182, [(":SENS:VOLT:NPLC 5", None),
                                          (":SENS:VOLT:NPLC?", "+5.00000000E+00")]) as nv:
        nv.voltage_nplc = 5
        assert nv.voltage_nplc == 5


def test_2182_channel_1_voltage_range() -> None:
    with expected_protocol(Keithley2182, [(":SENS:VOLT:CHAN1:RANG 0.1", None),
                                          (":SENS:VOLT:CHAN1:RANG?", "+1.00000000E-01")]) as nv:
        nv.ch_1.voltage_range = 0.1
        assert nv.ch_1.voltage_range == 0.1


def test_2182_channel_1_range_is_limited_to_120_v() -> None:
    with expected_protocol(Keithley2182, []) as nv, pytest.raises(ValueError):
        nv.ch_1.voltage_range = 121


@pytest.mark.parametrize("line, top", [("50", 50), ("60", 60)])
def test_2182_line_frequency_sets_the_nplc_limit(line: str, top: int) -> None:
    with expected_protocol(Keithley2182, [(":SYST:LFR?", line), (":SYST:LFR?", line),
                                          (f":SENS:VOLT:NPLC {top}", None)]) as nv:
        assert nv.line_frequency == top
        nv.auto_line_frequency()
        nv.voltage_nplc = top
        if top == 50:
            with pytest.raises(ValueError):
                nv.voltage_nplc = 60


# ------------------------------------------------------------------ 6221 protocol


def test_6221_source_current() -> None:
    with expected_protocol(Keithley6221, [(":SOUR:CURR 0.001", None),
                                          (":SOUR:CURR?", "+1.000000E-03")]) as cs:
        cs.source_current = 1e-3
        assert cs.source_current == 1e-3


def test_6221_source_current_beyond_105_ma_is_truncated_not_refused() -> None:
    """PyMeasure's truncated_range: a role must enforce its own limits before this."""
    with expected_protocol(Keithley6221, [(":SOUR:CURR 0.105", None)]) as cs:
        cs.source_current = 0.2


def test_6221_source_compliance() -> None:
    with expected_protocol(Keithley6221, [(":SOUR:CURR:COMP 5", None),
                                          (":SOUR:CURR:COMP?", "+5.000000E+00")]) as cs:
        cs.source_compliance = 5
        assert cs.source_compliance == 5


@pytest.mark.parametrize("state, sent", [(True, "OUTPut 1"), (False, "OUTPut 0")])
def test_6221_source_enabled(state: bool, sent: str) -> None:
    with expected_protocol(Keithley6221, [(sent, None),
                                          ("OUTPut?", str(int(state)))]) as cs:
        cs.source_enabled = state
        assert cs.source_enabled is state


def test_6221_source_range_turns_auto_range_off() -> None:
    with expected_protocol(Keithley6221, [(":SOUR:CURR:RANG:AUTO 0;:SOUR:CURR:RANG 0.002", None),
                                          (":SOUR:CURR:RANG?", "+2.000000E-03")]) as cs:
        cs.source_range = 2e-3
        assert cs.source_range == 2e-3


# ------------------------------------------------------------------ 2400 protocol

#: what PyMeasure's Keithley2400 sends when it is created
FORMAT = (":FORMAT:ELEMENTS VOLTAGE, CURRENT, RESISTANCE, TIME, STATUS", None)
#: one :READ? reply: V, I, R, time, status (sourcing 1 mA into 100 ohm)
READING = "+1.000000E-01,+1.000000E-03,+1.000000E+02,+1.210000E-01,+3.584000E+04"


def test_2400_source_mode_current() -> None:
    with expected_protocol(Keithley2400, [FORMAT, (":SOURCE:FUNCTION CURR", None),
                                          (":SOURCE:FUNCTION?", "CURR")]) as smu:
        smu.source_mode = "current"
        assert smu.source_mode == "current"


def test_2400_source_current_and_compliance_voltage() -> None:
    with expected_protocol(Keithley2400, [FORMAT, (":SOURCE:CURRENT 0.001", None),
                                          (":SOURCE:CURRENT?", "+1.000000E-03"),
                                          (":SENSE:VOLTAGE:PROTECTION 0.5", None),
                                          (":SENSE:VOLTAGE:PROTECTION?", "+5.000000E-01")]
                           ) as smu:
        smu.source_current = 1e-3
        assert smu.source_current == 1e-3
        smu.compliance_voltage = 0.5
        assert smu.compliance_voltage == 0.5


def test_2400_source_enabled() -> None:
    with expected_protocol(Keithley2400, [FORMAT, ("OUTPUT 1", None), ("OUTPUT?", "1"),
                                          ("OUTPUT 0", None), ("OUTPUT?", "0"),
                                          ("OUTPUT 1", None), ("OUTPUT 0", None)]) as smu:
        smu.source_enabled = True
        assert smu.source_enabled is True
        smu.source_enabled = False
        assert smu.source_enabled is False
        smu.enable_source()
        smu.disable_source()


MEASUREMENTS = [
    ("voltage", ':SENS:FUNC:ON "VOLT";:READ?', 0.1),
    ("current", ':SENS:FUNC:ON "CURR";:READ?', 1e-3),
    ("resistance", ':SENS:RES:MODE MAN;:SENS:FUNC:ON "RES";:READ?', 100.0),
]


@pytest.mark.parametrize("prop, sent, value", MEASUREMENTS)
def test_2400_measurements_read_and_never_measure_or_configure(prop: str, sent: str,
                                                               value: float) -> None:
    with expected_protocol(Keithley2400, [FORMAT, (sent, READING)]) as smu:
        written: list[str] = []
        write = smu.adapter.write
        smu.adapter.write = lambda command, **kw: (written.append(command),  # type: ignore
                                                   write(command, **kw))[1]
        assert getattr(smu, prop) == value
    assert written == [sent]
    assert ":READ?" in sent and "MEAS" not in sent.upper() and "CONF" not in sent.upper()


@pytest.mark.parametrize("prop, sent, _", MEASUREMENTS)
def test_2400_an_element_neither_sourced_nor_measured_is_nan(prop: str, sent: str,
                                                             _: float) -> None:
    nan = "+9.910000E+37,+9.910000E+37,+9.910000E+37,+1.210000E-01,+3.584000E+04"
    with expected_protocol(Keithley2400, [FORMAT, (sent, nan)]) as smu:
        assert math.isnan(getattr(smu, prop))


def test_2400_pymeasures_own_measurements_do_send_measure() -> None:
    """What the subclass guards against: PyMeasure's voltage is ``:MEASURE:VOLTAGE?``."""
    with expected_protocol(PyMeasureKeithley2400, [FORMAT, (":MEASURE:VOLTAGE?", READING)]
                           ) as smu:
        assert smu.voltage == 0.1


# ------------------------------------------------------------------ emulators

R = 100.0  #: ohm, the default junction of the simulated world (parallel state)


@pytest.fixture
def bench() -> Iterator[Bench]:
    bench = make_bench({
        "smu": {"model": "keithley2400", "address": "GPIB0::24::INSTR", "output": "mtj"},
    }, noise=False)
    yield bench
    bench.close()


@pytest.fixture
def smu(bench: Bench) -> Iterator[Keithley2400]:
    smu = Keithley2400(bench.address("smu"), visa_library=bench.visa_library)
    smu.source_mode = "current"
    smu.compliance_voltage = 0.5
    smu.source_current = 1e-3
    yield smu
    smu.adapter.close()


@pytest.mark.parametrize("prop", ["voltage", "current", "resistance"])
def test_2400_with_the_output_off_a_measurement_does_not_source(bench: Bench,
                                                                smu: Keithley2400,
                                                                prop: str) -> None:
    start = bench.clock.now()
    with pytest.raises(pyvisa.errors.VisaIOError) as failure:
        getattr(smu, prop)
    assert failure.value.error_code == pyvisa.constants.StatusCode.error_timeout
    assert bench.clock.now() - start == pytest.approx(2.0)  # the VISA timeout, 2 s
    assert bench.world.junction_reading("smu", bench.clock.now()).current == 0.0
    assert smu.source_enabled is False
    codes = [code for code, _ in smu.check_errors()]
    assert codes[0] == 803  # "Not permitted with OUTPUT off"
    assert bench.emulators["smu"].state["OUTP"] is False


def test_2400_pymeasures_own_voltage_would_have_sourced(bench: Bench) -> None:
    """The same reading through PyMeasure's driver drives 1 mA through the junction."""
    smu = PyMeasureKeithley2400(bench.address("smu"), visa_library=bench.visa_library)
    smu.source_mode = "current"
    smu.compliance_voltage = 0.5
    smu.source_current = 1e-3
    assert smu.voltage == pytest.approx(1e-3 * R)
    assert smu.source_enabled is True
    assert bench.world.junction_reading("smu", bench.clock.now()).current == 1e-3
    smu.adapter.close()


def test_2400_with_the_output_on_reads_i_times_r(bench: Bench, smu: Keithley2400) -> None:
    assert bench.describe()["devices"]["mtj"]["junction"]["resistance"] == R
    smu.enable_source()
    assert smu.source_enabled is True
    truth = bench.world.junction_reading("smu", bench.clock.now())
    assert truth.current == pytest.approx(1e-3)
    assert smu.voltage == pytest.approx(1e-3 * R, rel=1e-6)
    assert smu.current == pytest.approx(1e-3, rel=1e-6)
    assert smu.resistance == pytest.approx(R, rel=1e-6)
    smu.source_current = 2e-3
    assert smu.voltage == pytest.approx(2e-3 * R, rel=1e-6)
    smu.disable_source()
    assert bench.world.junction_reading("smu", bench.clock.now()).current == 0.0
    assert smu.check_errors() == []


def test_2400_resistance_uses_manual_ohms_never_the_test_current(bench: Bench,
                                                                 smu: Keithley2400) -> None:
    smu.write(":SENS:RES:MODE AUTO")  # auto ohms would source 1 mA ... 0.1 A of its own
    smu.source_current = 1e-4
    smu.enable_source()
    assert smu.resistance == pytest.approx(R, rel=1e-6)
    assert bench.world.junction_reading("smu", bench.clock.now()).current == 1e-4
    assert smu.ask(":SENS:RES:MODE?").strip() == "MAN"
    assert smu.check_errors() == []


@pytest.mark.filterwarnings("error")  # e.g. pyvisa's warning of a wrong terminator
def test_2182_and_6221_measure_a_junction_on_fixed_ranges() -> None:
    bench = make_bench({
        "cs": {"model": "keithley6221", "address": "GPIB0::12::INSTR", "output": "mtj"},
        "nv": {"model": "keithley2182a", "address": "GPIB0::7::INSTR", "input": "mtj",
               "terminator": "\r"},  # PyMeasure's Keithley2182 reads to a CR
    }, noise=False)
    cs = Keithley6221(bench.address("cs"), visa_library=bench.visa_library)
    nv = Keithley2182(bench.address("nv"), visa_library=bench.visa_library)
    try:
        cs.source_compliance = 2
        cs.source_range = 1e-3
        cs.source_current = 5e-4
        # the 6221 picks the lowest range holding 1 mA: 2 mA (ranges 2 nA ... 20 mA, 100 mA)
        assert (cs.source_compliance, cs.source_range, cs.source_current) == (2, 2e-3, 5e-4)
        assert bench.world.junction_reading("nv", bench.clock.now()).current == 0.0
        cs.source_enabled = True
        assert cs.source_enabled is True
        nv.auto_line_frequency()  # the simulated line is 50 Hz: NPLC up to 50
        assert nv.line_frequency == 50
        with pytest.raises(ValueError):
            nv.voltage_nplc = 60
        nv.voltage_nplc = 1
        nv.ch_1.voltage_range = 0.1
        assert (nv.voltage_nplc, nv.ch_1.voltage_range) == (1, 0.1)
        assert nv.ch_1.voltage_range_auto_enabled is False
        start = bench.clock.now()
        assert nv.voltage == pytest.approx(5e-4 * R, rel=1e-6)
        assert bench.clock.now() - start >= 1 / 50  # one NPLC at 50 Hz, at least
        cs.source_enabled = False
        assert bench.world.junction_reading("nv", bench.clock.now()).current == 0.0
        assert cs.check_errors() == [] and nv.check_errors() == []
    finally:
        cs.adapter.close()
        nv.adapter.close()
        bench.close()


def test_3706a_protocol() -> None:
    from labrf.drivers.keithley import Keithley3706A

    with expected_protocol(Keithley3706A, [
            ("channel.connectrule = 1", None),
            ("print(channel.connectrule)", "1.00000e+00"),
            ("channel.exclusiveclose('1101,1202')", None),
            ("print(channel.getclose('allslots'))", "1101;1202"),
            ("channel.open('allslots')", None),
            ("print(channel.getclose('allslots'))", "nil"),
            ("print(errorqueue.count)", "1.00000e+00"),
            ("print(errorqueue.next())", "1115\tParameter error: channel 1999\t2\t0"),
    ]) as switch:
        switch.connect_rule = "break_before_make"
        assert switch.connect_rule == "break_before_make"
        switch.exclusive_close("1101,1202")
        assert switch.closed_channels == ["1101", "1202"]
        switch.open_all()
        assert switch.closed_channels == []
        assert switch.check_errors() == [(1115, "Parameter error: channel 1999")]
