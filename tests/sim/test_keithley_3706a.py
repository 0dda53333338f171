"""Keithley 3706A switch emulator (3730 6x16 matrix): QCoDeS's own driver, unchanged,
in process and over the served bench; relay order; TSP errors; interlock."""

from __future__ import annotations

import warnings
from collections.abc import Iterator

import pytest
from qcodes.instrument import Instrument
from qcodes.instrument_drivers.Keithley import Keithley3706A

from labrf.clock import WallClock
from labrf.sim.bench import Bench
from labrf.sim.models.keithley_3706a import BACKPLANE, RELAY_TIME
from labrf.sim.server import BenchServer
from tests.helpers import make_bench

SECTION = {"switch": {"model": "keithley3706a", "address": "GPIB0::16::INSTR"}}


def _errors(switch: Keithley3706A) -> list[str]:
    found = []
    while int(float(switch.ask("errorqueue.count"))):
        found.append(switch.ask("errorqueue.next()"))
    return found


@pytest.fixture
def rig() -> Iterator[tuple[Bench, Keithley3706A]]:
    bench = make_bench(SECTION)
    switch = Keithley3706A("switch_3706a", "GPIB0::16::INSTR", visalib=bench.visa_library)
    try:
        yield bench, switch
    finally:
        switch.close()
        bench.close()


def test_qcodes_driver_connects_and_reads_the_card(rig) -> None:
    _, switch = rig
    assert switch.get_idn()["model"] == "3706A"
    (card,) = switch.get_switch_cards()
    assert card["slot_no"] == "1" and card["model"] == "3730"
    assert len(switch.get_channels()) == 96
    assert switch.get_analog_backplane_specifiers() == list(BACKPLANE)
    assert switch.get_interlock_state()[0]["state"] == "Both interlock 1 and 2 are engaged"
    assert switch.channel_connect_rule() == "BREAK_BEFORE_MAKE"
    assert switch.gpib_enabled() is True and switch.gpib_address() == 16
    switch.gpib_address(9)
    assert switch.gpib_address() == 9
    assert switch.get_closed_channels("allslots") is None
    assert _errors(switch) == []


def test_close_open_and_exclusive_close(rig) -> None:
    bench, switch = rig
    switch.close_channel("1101,1203")
    assert switch.get_closed_channels("slot1") == ["1101", "1203"]
    switch.exclusive_close("1305,1911")
    assert switch.get_closed_channels("allslots") == ["1305", "1911"]
    switch.open_channel("1911")
    assert switch.get_closed_channels("1301:1316") == ["1305"]
    switch.open_channel("allslots")
    assert switch.get_closed_channels("allslots") is None
    assert _errors(switch) == []
    assert bench.emulators["switch"].transitions[-1].closed is False


@pytest.mark.parametrize(("rule", "opens_first"), [("BREAK_BEFORE_MAKE", True),
                                                   ("MAKE_BEFORE_BREAK", False)])
def test_exclusive_close_follows_the_connect_rule(rig, rule: str, opens_first: bool) -> None:
    bench, switch = rig
    switch.close_channel("1101")
    switch.channel_connect_rule(rule)
    emulator = bench.emulators["switch"]
    emulator.transitions.clear()
    switch.exclusive_close("1202")
    order = [(t.channel, t.closed) for t in emulator.transitions]
    expected = [("1101", False), ("1202", True)]
    assert order == (expected if opens_first else expected[::-1])
    times = [t.time for t in emulator.transitions]
    assert times[1] - times[0] == pytest.approx(RELAY_TIME)


def test_forbidden_channels_never_close(rig) -> None:
    _, switch = rig
    switch.set_forbidden_channels("1405")
    assert switch.get_forbidden_channels("allslots") == "1405"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # QCoDeS warns before it sends
        switch.close_channel("1405")
    assert switch.get_closed_channels("allslots") is None
    (error,) = _errors(switch)
    assert error.startswith("-221\tSettings conflict") and "1405" in error
    switch.clear_forbidden_channels("1405")
    switch.close_channel("1405")
    assert switch.get_closed_channels("allslots") == ["1405"]


def test_backplane_of_a_channel_closes_with_it_and_needs_the_interlock(rig) -> None:
    bench, switch = rig
    switch.set_backplane("1101", "1912")
    assert switch.get_backplane("1101") == "1912"
    switch.close_channel("1101")
    assert switch.get_closed_channels("allslots") == ["1101", "1912"]
    switch.open_channel("allslots")
    bench.emulators["switch"].interlock = 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        switch.close_channel("1913")
    assert switch.get_closed_channels("allslots") is None
    assert "interlock disengaged" in _errors(switch)[0]


@pytest.mark.parametrize(("command", "code"), [
    ("channel.close('1999')", "1115"),           # no such channel
    ("channel.close('slot3')", "1115"),          # an empty slot
    ("channel.close(1101", "-285"),              # unbalanced
    ("channel.teleport('1101')", "-285"),        # no such function
    ("channel.connectrule = 7", "1115"),
    ("gpib.address = 31", "1115"),
    ("channel.setdelay('1101', -1)", "1115"),
    ("x = = 1", "-285"),
])
def test_bad_tsp_is_an_error_in_the_queue(rig, command: str, code: str) -> None:
    _, switch = rig
    switch.write(command)
    errors = _errors(switch)
    assert len(errors) == 1 and errors[0].split("\t")[0] == code, errors
    assert switch.get_closed_channels("allslots") is None


def test_qcodes_driver_over_the_served_bench() -> None:
    bench = Bench.from_simulation({"seed": 1, "devices": {"mtj": {"kind": "mtj"}},
                                   "instruments": SECTION}, clock=WallClock(scale=100))
    with BenchServer(bench) as server:
        switch = Keithley3706A("served_3706a", server.endpoints["switch"].resource,
                               visalib="@py")
        try:
            switch.exclusive_close("1616")
            assert switch.get_closed_channels("allslots") == ["1616"]
        finally:
            switch.close()
    assert not Instrument.exist("served_3706a")
