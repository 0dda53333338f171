"""Faults during ramps: a garbled readback, a lost connection, a dead instrument. None may
step a junction or leave a current or field on where the bench can still be reached."""

from __future__ import annotations

import pytest

from labrf.errors import InstrumentError, SafeStateError
from labrf.sim.faults import FaultRule


def levels(station, name: str) -> list[float]:
    return [d.level if d.on else 0.0 for d in station.bench.world.drives
            if d.instrument == name and d.kind == "dc"]


def test_a_garbled_readback_cannot_make_a_ramp_jump(station) -> None:
    cs = station.roles["current_source"]
    cs.output(True)
    cs.current(2e-3)
    rule = station.bench.inject_fault("current_source", FaultRule("garble", match=r"CURR\?"))
    start = len(levels(station, "current_source"))
    cs.current(3e-3)
    assert rule.fired == 1
    steps = levels(station, "current_source")[start - 1:]
    assert max(abs(b - a) for a, b in zip(steps, steps[1:], strict=False)) <= 0.5e-3 + 1e-12
    assert cs.current() == pytest.approx(3e-3)


def test_a_readback_that_never_agrees_changes_nothing(station) -> None:
    cs = station.roles["current_source"]
    cs.output(True)
    cs.current(1e-3)
    station.bench.inject_fault("current_source", FaultRule("garble", match=r"CURR\?",
                                                           times=9))  # 3 reads x 3 tries
    before = len(station.bench.world.drives)
    with pytest.raises(InstrumentError, match="no two of three readbacks agree"):
        cs.current(2e-3)
    assert len(station.bench.world.drives) == before


def test_a_dropped_source_fails_naming_it_and_the_rest_is_made_safe(station) -> None:
    rf, cs, mag = (station.roles[n] for n in ("rf_source", "current_source", "magnet"))
    rf.power(-20)
    rf.output(True)
    mag.output(True)
    mag.field(0.03)
    cs.output(True)
    station.bench.inject_fault("current_source", FaultRule("drop", match=r"SOUR:CURR ",
                                                           nth=3))
    with pytest.raises(InstrumentError, match=r"current_source .*GPIB0::12::INSTR"):
        cs.current(4e-3)
    assert not station.bench.world.junctions["mtj"].broken
    with pytest.raises(SafeStateError, match="current_source"):
        station.safe_state()
    world, now = station.bench.world, station.clock.now()
    assert world.rf_output("rf_source").power == 0  # RF went off first
    assert mag.output() is False
    station.clock.sleep(2.0)
    assert abs(world.field_at_probe("gaussmeter", station.clock.now())) < 1e-3
    assert world.junction_reading("nanovoltmeter", now).current <= 1e-3 + 1e-12


def test_a_timeout_during_the_safe_state_is_retried_or_reported(station) -> None:
    cs = station.roles["smu"]
    cs.output(True)
    cs.current(3e-3)
    station.bench.inject_fault("smu", FaultRule("timeout", match=r"OUTP(UT)?\?"))
    station.safe_state()  # one timeout: retried
    assert cs.retries == 1
    cs.output(True)
    cs.current(3e-3)
    station.bench.inject_fault("smu", FaultRule("timeout", match=r"OUTP(UT)?\?", times=3))
    with pytest.raises(SafeStateError, match="smu"):
        station.safe_state()
    station.safe_state()  # the fault has passed: a second call completes
    assert station.bench.world.junction_reading("nanovoltmeter",
                                                station.clock.now()).current == 0


def test_a_timed_out_query_is_retried_and_counted(station) -> None:
    meter = station.roles["nanovoltmeter"]
    rule = station.bench.inject_fault("nanovoltmeter", FaultRule("timeout", match=r"READ\?"))
    assert meter.voltage() == pytest.approx(0.0, abs=1e-6)
    assert rule.fired == 1 and meter.retries == 1


def test_a_persistent_timeout_fails_naming_the_instrument(station) -> None:
    meter = station.roles["nanovoltmeter"]
    station.bench.inject_fault("nanovoltmeter", FaultRule("timeout", match=r"READ\?", times=3))
    with pytest.raises(InstrumentError, match=r"nanovoltmeter \(Keithley 2182A at GPIB0::7"):
        meter.voltage()
    assert meter.retries == 2
