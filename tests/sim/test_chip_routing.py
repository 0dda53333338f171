"""A chip behind a switch matrix (station_configs/sim_chip.yaml): closing a device's
channels really changes what the bench measures; the shorted and the open device read as
such; an open row is an open circuit."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from labrf.errors import ConfigError
from labrf.station import LabStation, load_station, read_station

ROOT = Path(__file__).resolve().parents[2]
SIM_CHIP = ROOT / "station_configs" / "sim_chip.yaml"
BIAS = 100e-6  # A


def channels(label: str) -> str:
    """The channels that reach device J<r><c> of the 4 x 4 chip: rows 1 (DC) and 2 (RF)."""
    column = 4 * (int(label[1]) - 1) + int(label[2])
    return f"11{column:02d},12{column:02d}"


@pytest.fixture(scope="module")
def chip() -> Iterator[LabStation]:
    with load_station(SIM_CHIP) as station:
        yield station


def _resistance(chip: LabStation, label: str) -> float:
    """V/I of device ``label`` at BIAS, switching with the source off."""
    source, meter = chip.roles["current_source"], chip.roles["nanovoltmeter"]
    source.output(False)
    chip.roles["switch"].route(channels(label))
    source.current(BIAS)
    source.output(True)
    try:
        return meter.voltage() / BIAS
    finally:
        source.output(False)


def test_each_device_reads_its_own_resistance(chip: LabStation) -> None:
    assert chip.bench is not None
    truth = chip.bench.describe()["devices"]
    measured = {}
    for label in ("J11", "J12", "J34", "J44"):
        r = _resistance(chip, label)
        derived = truth[f"chip.{label}"]["derived"]
        assert derived["resistance_parallel"] * 0.99 < r < \
            derived["resistance_antiparallel"] * 1.01, (label, r)
        measured[label] = r
    assert len({round(r, 1) for r in measured.values()}) == 4  # 3 % spread: all differ


def test_the_shorted_and_the_open_device_read_as_such(chip: LabStation) -> None:
    assert _resistance(chip, "J23") < 10.0  # a shorted barrier: a few ohm
    assert _resistance(chip, "J41") > 5e3  # open: the source sits at its compliance
    assert chip.bench is not None
    devices = chip.bench.describe()["devices"]
    assert devices["chip.J23"]["fault"] == "shorted"
    assert devices["chip.J41"]["fault"] == "open"
    assert devices["chip.J11"]["fault"] is None


def test_an_open_row_is_an_open_circuit(chip: LabStation) -> None:
    chip.roles["switch"].route("")
    assert abs(chip.roles["nanovoltmeter"].voltage()) < 1e-6


def test_a_chip_station_is_checked_by_key(tmp_path: Path) -> None:
    data = yaml.safe_load(SIM_CHIP.read_text())
    data["labrf"]["simulation"]["devices"]["chip"]["open"] = ["J23"]
    path = tmp_path / "chip.yaml"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(ConfigError) as info:
        read_station(path)
    assert info.value.key == "labrf.simulation.devices.chip.open"
    assert "J23 is already shorted" in str(info.value)
    data["labrf"]["simulation"]["devices"]["chip"]["open"] = ["J55"]
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(ConfigError, match="'J55' is not a device of this chip; its "
                                          "devices: J11 to J44"):
        read_station(path)


def test_an_open_device_under_rf_and_current_stays_open(chip: LabStation) -> None:
    """A broken bond absorbs no RF: the strongest drive must not 'break down' the barrier
    behind it into a short (found by a campaign that swept emission before the I-V check)."""
    rf, source = chip.roles["rf_source"], chip.roles["current_source"]
    chip.roles["switch"].route(channels("J41"))
    rf.power_at_device(-10.0)
    rf.output(True)
    source.current(5e-3)
    source.output(True)
    try:
        chip.roles["nanovoltmeter"].voltage()
    finally:
        rf.output(False)
        source.output(False)
    assert chip.bench is not None
    assert not chip.bench.describe()["devices"]["chip.J41"]["broken"]
    assert _resistance(chip, "J41") > 5e3
