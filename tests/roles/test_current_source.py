"""CurrentSource on the 6221 and the 2400: limits, ramps from a fresh readback, output
on and off without steps, and a voltage reading that never sources."""

from __future__ import annotations

import pytest

from labrf.errors import InstrumentError, LimitError
from labrf.station import LabStation
from tests.helpers import ask, write

SOURCES = ["current_source", "smu"]


def dc_drives(st: LabStation, name: str) -> list:
    return [d for d in st.bench.world.drives if d.instrument == name and d.kind == "dc"]


def assert_no_step_larger_than(drives: list, step: float) -> None:
    levels = [d.level if d.on else 0.0 for d in drives]
    jumps = [abs(b - a) for a, b in zip(levels, levels[1:], strict=False)]
    assert max(jumps, default=0.0) <= step * (1 + 1e-6), max(jumps)


@pytest.mark.parametrize("name", SOURCES)
def test_output_on_ramps_up_and_off_ramps_down(station, name) -> None:
    cs = station.roles[name]
    cs.current(4e-3)  # programmed with the output off: nothing flows yet
    assert station.bench.world.junction_reading("nanovoltmeter",
                                                station.clock.now()).current == 0
    start = len(station.bench.world.drives)
    t0 = station.clock.now()
    cs.output(True)
    assert station.clock.now() - t0 >= 4e-3 / 10e-3 - 1e-9  # 4 mA at 10 mA/s
    assert cs.current() == pytest.approx(4e-3)
    reading = station.bench.world.junction_reading("nanovoltmeter", station.clock.now())
    assert reading.current == pytest.approx(4e-3)
    cs.output(False)
    drives = list(station.bench.world.drives)[start:]
    assert_no_step_larger_than([d for d in drives if d.instrument == name],
                               10e-3 * 0.05)
    assert station.bench.world.junction_reading("nanovoltmeter",
                                                station.clock.now()).current == 0


@pytest.mark.parametrize("name", SOURCES)
def test_limits_refuse_before_anything_is_sent(station, name) -> None:
    cs = station.roles[name]
    before = len(station.bench.world.drives)
    with pytest.raises(LimitError, match=r"current: 7 mA is outside -6 mA to 6 mA"):
        cs.current(7e-3)
    with pytest.raises(LimitError, match="junction_voltage"):
        cs.compliance(1.0)
    with pytest.raises(LimitError, match="current_ramp_rate"):
        cs.ramp_rate(1.0)
    assert len(station.bench.world.drives) == before
    assert cs.compliance() == pytest.approx(0.6)


def test_compliance_caps_the_junction_voltage(station) -> None:
    """With the junction in its 150 ohm state, 6 mA would be 0.9 V: compliance holds it."""
    cs = station.roles["current_source"]
    mag = station.roles["magnet"]
    mag.output(True)
    mag.field(-0.05)  # beyond the -30 mT switching field: antiparallel, 150 ohm
    mag.field(0.0)
    cs.output(True)
    cs.current(6e-3)
    reading = station.bench.world.junction_reading("nanovoltmeter", station.clock.now())
    assert reading.in_compliance is False  # the voltmeter is not the limited source
    assert abs(reading.voltage) == pytest.approx(0.6, abs=1e-3)  # held at compliance
    assert not station.bench.world.junctions["mtj"].broken


@pytest.mark.parametrize("name", SOURCES)
def test_ramp_starts_from_the_real_level_after_a_change_behind_our_back(station, name) -> None:
    cs = station.roles[name]
    cs.output(True)
    cs.current(1e-3)
    command = {"current_source": "SOUR:CURR 3e-3", "smu": ":SOUR:CURR:LEV 3e-3"}[name]
    write(station.bench.emulators[name], command)
    start = len(station.bench.world.drives)
    cs.current(2e-3)
    drives = [d for d in list(station.bench.world.drives)[start:] if d.instrument == name]
    assert drives[0].level == pytest.approx(3e-3 - 0.5e-3)  # from 3 mA, not from 1 mA
    assert_no_step_larger_than(drives, 0.5e-3)


def test_2400_voltage_reads_only_with_the_output_on(station) -> None:
    smu = station.roles["smu"]
    before = len(station.bench.world.drives)
    with pytest.raises(InstrumentError, match="output is off"):
        smu.voltage()
    assert len(station.bench.world.drives) == before  # reading did not switch it on
    assert ask(station.bench.emulators["smu"], ":OUTP?") == "0"
    smu.output(True)
    smu.current(2e-3)
    resistance = station.bench.describe()["devices"]["mtj"]["junction"]["resistance"]
    assert smu.voltage() == pytest.approx(2e-3 * resistance, rel=0.02)


def test_a_connection_narrows_compliance_found_too_high(make_station) -> None:
    def fragile(data: dict) -> None:
        data["labrf"]["limits"]["junction_voltage"] = "0.3 V"

    st = make_station(fragile)
    assert st.roles["current_source"].compliance() == pytest.approx(0.3)
    assert st.roles["smu"].compliance() == pytest.approx(0.3)
