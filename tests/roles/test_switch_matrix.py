"""The SwitchMatrix role on the emulated 3706A: break-before-make, read back, and never a
relay moved with RF or a current on through the matrix (checked against the world's own
record of what the sources did), whatever the order of actions."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

from labrf.errors import ConfigError, LimitError
from labrf.roles import SwitchMatrix
from labrf.sim.models.keithley_3706a import Transition
from labrf.station import LabStation, load_station, make_safe, read_station

STATION: dict[str, Any] = {
    "instruments": {
        "rf_source": {"type": "labrf.roles.RFSource", "address": "GPIB0::20::INSTR",
                      "init": {"driver": "labrf.drivers.rohdeschwarz.SMB100A"}},
        "current_source": {"type": "labrf.roles.CurrentSource",
                           "address": "GPIB0::12::INSTR",
                           "init": {"driver": "labrf.drivers.keithley.Keithley6221"}},
        "switch": {"type": "labrf.roles.SwitchMatrix", "address": "GPIB0::16::INSTR",
                   "init": {"driver": "labrf.drivers.keithley.Keithley3706A"}},
    },
    "labrf": {"simulation": {
        "seed": 3, "noise": False, "devices": {"mtj": {"kind": "mtj"}},
        "instruments": {"rf_source": {"model": "smb100a", "output": "mtj"},
                        "current_source": {"model": "keithley6221", "output": "mtj"},
                        "switch": {"model": "keithley3706a"}}}},
}


def _file(tmp_path: Path, on_load: str | None = None) -> Path:
    data = yaml.safe_load(yaml.safe_dump(STATION))
    if on_load is not None:
        data["instruments"]["switch"]["init"]["on_load"] = on_load
    path = tmp_path / f"switch_{on_load}.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


@pytest.fixture
def station(tmp_path: Path) -> Iterator[LabStation]:
    with load_station(_file(tmp_path)) as lab:
        yield lab


def _transitions(lab: LabStation) -> list[Transition]:
    assert lab.bench is not None
    return lab.bench.emulators["switch"].transitions


def _load_at(lab: LabStation, transition: Transition) -> list[str]:
    """What was on through the matrix when ``transition`` happened, from the world's log
    of every drive the sources made."""
    assert lab.bench is not None
    last: dict[str, Any] = {}
    for drive in list(lab.bench.world.drives)[:transition.drives_before]:
        last[drive.instrument] = drive
    return [f"{name} {d.kind} {d.level}" for name, d in last.items()
            if d.on and d.level != 0 and d.kind in ("rf", "dc")]


def test_switching_is_break_before_make_and_read_back(station: LabStation) -> None:
    switch = station.roles["switch"]
    assert isinstance(switch, SwitchMatrix)
    switch.route("1101,1202")
    assert switch.route() == "1101,1202"
    before = len(_transitions(station))
    switch.route("1303")
    moves = [(t.channel, t.closed) for t in _transitions(station)[before:]]
    assert moves == [("1101", False), ("1202", False), ("1303", True)]
    assert switch.state_summary() == "closed 1303"
    switch.route("")
    assert switch.state_summary() == "all open"


@pytest.mark.parametrize("what", ["rf", "current"])
def test_switching_under_load_is_refused_and_moves_nothing(station: LabStation,
                                                           what: str) -> None:
    switch = station.roles["switch"]
    switch.route("1101")
    if what == "rf":
        station.roles["rf_source"].output(True)
    else:
        station.roles["current_source"].current(1e-3)
        station.roles["current_source"].output(True)
    before = len(_transitions(station))
    with pytest.raises(LimitError) as info:
        switch.route("1202")
    message = str(info.value)
    assert "refusing to switch" in message and "on_load: safe" in message
    assert ("rf_source: RF on" if what == "rf" else "current_source: output on at 1 mA") \
        in message
    assert len(_transitions(station)) == before
    assert switch.route() == "1101"


def test_on_load_safe_ramps_the_station_down_first(tmp_path: Path) -> None:
    with load_station(_file(tmp_path, "safe")) as lab:
        lab.roles["rf_source"].output(True)
        lab.roles["current_source"].current(2e-3)
        lab.roles["current_source"].output(True)
        lab.roles["switch"].route("1405")
        assert lab.roles["switch"].route() == "1405"
        assert not lab.roles["rf_source"].output()
        assert not lab.roles["current_source"].output()
        assert all(not _load_at(lab, t) for t in _transitions(lab))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_random_orders_never_switch_under_load(tmp_path: Path, seed: int) -> None:
    rng = np.random.default_rng(seed)
    channels = [f"1{r}{c:02d}" for r in range(1, 7) for c in range(1, 17)]
    with load_station(_file(tmp_path, str(rng.choice(["raise", "safe"])))) as lab:
        rf, source, switch = (lab.roles[n] for n in ("rf_source", "current_source",
                                                     "switch"))
        refused = 0
        for _ in range(40):
            action = rng.integers(6)
            if action == 0:
                rf.output(bool(rng.integers(2)))
            elif action == 1:
                source.current(float(rng.uniform(-3e-3, 3e-3)))
            elif action == 2:
                source.output(bool(rng.integers(2)))
            else:
                route = ",".join(rng.choice(channels, size=int(rng.integers(0, 3)),
                                            replace=False))
                try:
                    switch.route(route)
                except LimitError:
                    refused += 1
        moves = _transitions(lab)
        assert moves, "the sequence never switched"
        for move in moves:
            assert not _load_at(lab, move), move
        assert refused == 0 or switch.on_load == "raise"


def test_station_safe_turns_sources_off_and_keeps_the_route(station: LabStation) -> None:
    station.roles["switch"].route("1101")
    station.roles["rf_source"].output(True)
    before = len(_transitions(station))
    station.safe_state()
    assert not station.roles["rf_source"].output()
    assert station.roles["switch"].route() == "1101"  # the device is not left floating
    assert len(_transitions(station)) == before


def test_station_file_checks_on_load(tmp_path: Path) -> None:
    assert read_station(_file(tmp_path, "safe")).instruments["switch"].options["on_load"] \
        == "safe"
    with pytest.raises(ConfigError) as info:
        read_station(_file(tmp_path, "hope"))
    assert info.value.key == "instruments.switch.init.on_load"
    assert "'hope'; valid: raise, safe" in str(info.value)
    rows = {row.name: row for row in make_safe(_file(tmp_path))}
    assert rows["switch"].ok and rows["switch"].after == "all open"
