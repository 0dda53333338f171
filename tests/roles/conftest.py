"""Fixtures of the role tests: the sim_bench station, or a variant of it, connected."""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from labrf.errors import SafeStateError
from labrf.station import LabStation, load_station

SIM_BENCH = Path(__file__).resolve().parents[2] / "station_configs" / "sim_bench.yaml"


def station_data() -> dict[str, Any]:
    """sim_bench.yaml as a mapping (a fresh copy to edit)."""
    return copy.deepcopy(yaml.safe_load(SIM_BENCH.read_text()))


def write_station(path: Path, data: dict[str, Any]) -> Path:
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


@pytest.fixture
def station() -> Iterator[LabStation]:
    """sim_bench.yaml connected on its simulated bench; left safe (as far as its
    instruments still answer: some tests kill one) and closed after."""
    st = load_station(SIM_BENCH)
    try:
        yield st
        with contextlib.suppress(SafeStateError):
            st.safe_state()
    finally:
        st.close()


@pytest.fixture
def make_station(tmp_path: Path) -> Iterator[Callable[..., LabStation]]:
    """Connect a variant of sim_bench.yaml: ``make_station(edit)`` where ``edit(data)``
    changes the mapping in place."""
    opened: list[LabStation] = []

    def make(edit: Callable[[dict[str, Any]], None] | None = None,
             name: str = "station.yaml") -> LabStation:
        data = station_data()
        if edit is not None:
            edit(data)
        st = load_station(write_station(tmp_path / name, data))
        opened.append(st)
        return st

    yield make
    for st in opened:
        st.close()
