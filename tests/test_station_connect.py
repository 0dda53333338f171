"""Connecting a real-lab station: an address where nothing answers fails naming the file,
key, instrument and address, and leaves nothing open."""

from __future__ import annotations

from pathlib import Path

import pytest
from qcodes.instrument import Instrument

from labrf.clock import VirtualClock
from labrf.errors import ConfigError
from labrf.sim.bench import Bench
from labrf.station import LabStation, read_station

ROOT = Path(__file__).resolve().parents[1] / "station_configs"


def test_an_address_where_nothing_answers_is_named() -> None:
    spec = read_station(ROOT / "lab_example.yaml")
    assert spec.simulation is None
    bench = Bench.from_station_file(ROOT / "sim_bench.yaml")  # serves no GPIB0::5
    spec.visa_library = bench.visa_library
    station = LabStation(spec, None, VirtualClock())
    try:
        with pytest.raises(ConfigError) as err:
            station.open("rf_source_2")
        message = str(err.value)
        assert err.value.key == "instruments.rf_source_2"
        assert err.value.file == str(ROOT / "lab_example.yaml")
        assert "GPIB0::5::INSTR" in message and "RFSource" in message
        assert "cannot open" in message and "Insufficient location information" in message
        assert not Instrument.exist("rf_source_2")
    finally:
        station.close()
        bench.close()
