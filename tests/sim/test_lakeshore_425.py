"""Lake Shore 425 gaussmeter emulator reading the field coil."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest
from pymeasure.instruments.lakeshore import LakeShore425

from labrf.sim.emulator import Emulator
from labrf.sim.models.lakeshore_425 import MU0, UPDATE_TIME
from tests.helpers import ask, make_bench, write

C = 25e-3  # T/A, the default coil's field per current
CME, EXE = 32, 16
REPLY = re.compile(r"^[+-]\d{1,3}\.\d+E[+-]\d{2}$")


def bench(noise: bool = False):
    return make_bench({"psu": {"model": "kepco_bop", "address": "GPIB0::6::INSTR",
                               "output": "magnet"},
                       "gm": {"model": "lakeshore425", "address": "GPIB0::12::INSTR",
                              "probe": "magnet"}},
                      devices={"magnet": {"kind": "coil", "remanence": 0.0}}, noise=noise)


def set_field(b, tesla: float) -> None:
    """Drive the coil to ``tesla`` and wait until it has settled."""
    write(b.emulators["psu"], f"FUNC:MODE CURR;:VOLT 36;:CURR {tesla / C};:OUTP 1")
    b.clock.sleep(5.0)


@pytest.fixture
def ideal():
    b = bench()
    return b, b.emulators["gm"]


def esr(emulator: Emulator) -> int:
    return int(ask(emulator, "*ESR?"))


def test_identity_and_power_on_event(ideal):
    _, g = ideal
    assert ask(g, "*IDN?") == "LSCI,MODEL425,LSA1234,1.3"
    assert esr(g) == 128  # power on
    assert esr(g) == 0
    assert ask(g, "UNIT?") == "1"
    assert ask(g, "AUTO?") == "1"
    assert ask(g, "RDGMODE?") == "1,0,1"
    assert ask(g, "TYPE?") == "40"


def test_unknown_command_sets_the_command_error_bit_only(ideal):
    _, g = ideal
    esr(g)
    write(g, "FOO 1")
    write(g, "SYST:ERR?")  # no SCPI error queue on a 425: no reply either
    assert g.read_reply() is None
    assert esr(g) == CME
    assert ask(g, "*STB?") == "0"  # no error-available bit: there is no queue
    assert esr(g) == 0


def test_out_of_range_sets_the_execution_error_bit_and_keeps_the_value(ideal):
    _, g = ideal
    esr(g)
    write(g, "UNIT 2")
    write(g, "UNIT 5")
    write(g, "RANGE 0")
    write(g, "RDGMODE 3,0,1")
    assert esr(g) == EXE
    assert ask(g, "UNIT?") == "2"
    assert ask(g, "RDGMODE?") == "1,0,1"


def test_range_auto_and_mode_round_trips(ideal):
    _, g = ideal
    write(g, "RANGE 3")
    assert ask(g, "RANGE?") == "3"
    assert ask(g, "AUTO?") == "0"
    write(g, "AUTO")
    assert ask(g, "AUTO?") == "1"
    write(g, "AUTO 0")
    assert ask(g, "AUTO?") == "0"
    write(g, "RDGMODE 2,1,2")
    assert ask(g, "RDGMODE?") == "2,1,2"
    write(g, "*RST")
    assert (ask(g, "RDGMODE?"), ask(g, "AUTO?")) == ("1,0,1", "1")
    assert esr(g) == 128


def test_unit_conversion(ideal):
    b, g = ideal
    set_field(b, 0.1)
    true = b.world.field_at_probe("gm", b.clock.now())
    assert true == pytest.approx(0.1, rel=1e-6)
    expected = {"1": true * 1e4, "2": true, "3": true * 1e4, "4": true / MU0}
    for unit, value in expected.items():
        write(g, f"UNIT {unit}")
        reply = ask(g, "RDGFIELD?")
        assert REPLY.match(reply), reply
        assert float(reply) == pytest.approx(value, rel=1e-4)
    write(g, "UNIT 1")
    assert ask(g, "RDGFIELD?") == "+1.0000E+03"


def test_negative_fields_and_reply_format(ideal):
    b, g = ideal
    set_field(b, -12.3456e-3)
    reply = ask(g, "RDGFIELD?")
    assert REPLY.match(reply), reply
    assert reply == "-123.46E+00"  # G on the 350 G range: 0.01 G resolution


def test_auto_range_follows_the_field(ideal):
    b, g = ideal
    set_field(b, 2e-3)
    assert ask(g, "RANGE?") == "1"
    set_field(b, 50e-3)
    assert ask(g, "RANGE?") == "3"


def test_overload_reads_full_scale_with_the_field_sign(ideal):
    b, g = ideal
    write(g, "RANGE 1")  # 35 G
    set_field(b, 10e-3)
    assert ask(g, "RDGFIELD?") == "+35.000E+00"
    set_field(b, -10e-3)
    assert ask(g, "RDGFIELD?") == "-35.000E+00"
    write(g, "RANGE 3")
    assert float(ask(g, "RDGFIELD?")) == pytest.approx(-100.0, abs=0.1)


def test_reading_takes_one_update_period(ideal):
    b, g = ideal
    t0 = b.clock.now()
    ask(g, "RDGFIELD?")
    assert UPDATE_TIME < b.clock.now() - t0 < UPDATE_TIME + 0.01


def test_field_follows_the_coil_time_constant(ideal):
    b, g = ideal
    write(g, "RANGE 3")
    write(b.emulators["psu"], "FUNC:MODE CURR;:VOLT 36;:CURR 4;:OUTP 1")
    t0 = b.clock.now()
    b.clock.advance_to(t0 + 0.2 - UPDATE_TIME)  # the reading is taken after UPDATE_TIME
    assert float(ask(g, "RDGFIELD?")) == pytest.approx(4 * C * 1e4 * (1 - math.exp(-1)),
                                                       abs=0.1)


def test_zprobe_cancels_the_probe_offset():
    b = bench(noise=True)
    g = b.emulators["gm"]
    write(g, "UNIT 2;RANGE 1")
    assert abs(g.probe_offset) > 0

    def mean_field() -> float:
        return float(np.mean([float(ask(g, "RDGFIELD?")) for _ in range(100)]))

    assert mean_field() == pytest.approx(g.probe_offset, abs=1e-6)
    write(g, "ZPROBE")
    assert mean_field() == pytest.approx(0.0, abs=1e-6)
    write(g, "*RST;UNIT 2;RANGE 1")  # the zero survives *RST
    assert mean_field() == pytest.approx(0.0, abs=1e-6)
    write(g, "ZCLEAR")
    assert mean_field() == pytest.approx(g.probe_offset, abs=1e-6)


def test_noise_grows_with_the_range():
    b = bench(noise=True)
    g = b.emulators["gm"]
    write(g, "UNIT 2")
    spread = {}
    for rng in (1, 4):
        write(g, f"RANGE {rng}")
        spread[rng] = np.std([float(ask(g, "RDGFIELD?")) for _ in range(100)])
    assert 1e-6 < spread[1] < 5e-6
    assert spread[4] > 20 * spread[1]


def test_rms_mode_reads_no_ac_field_from_a_dc_coil(ideal):
    b, g = ideal
    set_field(b, 20e-3)
    write(g, "RDGMODE 2,0,1")
    assert float(ask(g, "RDGFIELD?")) == 0.0


def test_max_hold(ideal):
    b, g = ideal
    set_field(b, 20e-3)
    ask(g, "RDGFIELD?")
    set_field(b, 5e-3)
    minimum, maximum = (float(v) for v in ask(g, "RDGMNMX?").split(","))
    assert minimum == 0.0
    assert maximum == pytest.approx(200.0, abs=0.01)
    assert float(ask(g, "RDGMX?")) == pytest.approx(200.0, abs=0.01)


def test_pymeasure_driver_runs_unmodified(ideal):
    b, g = ideal
    meter = LakeShore425(b.address("gm"), visa_library=b.visa_library)
    set_field(b, 30e-3)
    assert meter.unit == "G"
    assert meter.field == pytest.approx(300.0, abs=0.01)
    meter.unit = "T"
    meter.range = 3500
    assert (meter.unit, meter.range) == ("T", 3500)
    assert meter.field == pytest.approx(0.03, abs=1e-5)
    meter.auto_range()
    meter.dc_mode()
    assert meter.mode == (1, 0, 1)
    meter.ac_mode(wideband=False)
    assert meter.mode == (2, 1, 2)
    meter.dc_mode()
    meter.zero_probe()  # zeroes whatever the probe sees: here, the coil's field
    assert meter.field == pytest.approx(0.0, abs=1e-5)
    mean, _ = meter.measure(3, delay=0)
    assert mean == pytest.approx(0.0, abs=1e-5)
    assert esr(g) == 128  # only power-on: no command or execution error
