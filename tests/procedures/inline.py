"""Run a procedure without the runner: startup, execute and shutdown on a connected
station, the emitted rows collected into columns."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from labrf.procedure import LabProcedure
from labrf.station import LabStation, load_station

SIM_BENCH = Path(__file__).resolve().parents[2] / "station_configs" / "sim_bench.yaml"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@contextmanager
def sim_bench() -> Iterator[LabStation]:
    """sim_bench.yaml connected on its simulated bench; safe and closed after."""
    with load_station(SIM_BENCH) as station:
        yield station


@dataclass
class InlineRun:
    """What one inline run produced."""

    procedure: LabProcedure
    rows: list[dict[str, Any]] = field(default_factory=list)
    progress: list[float] = field(default_factory=list)

    @property
    def data(self) -> dict[str, np.ndarray]:
        """Each column over the rows (array columns two-dimensional)."""
        return {name: np.array([row[name] for row in self.rows])
                for name in self.procedure.COLUMNS}


def run_inline(station: LabStation, procedure_class: type[LabProcedure],
               parameters: Mapping[str, Any] | None = None,
               stop_after: int | None = None) -> InlineRun:
    """Run ``procedure_class`` with ``parameters`` on ``station``; ``should_stop`` turns
    true once ``stop_after`` rows are in. Shutdown runs whatever happens."""
    proc = procedure_class()
    proc.set_parameters(dict(parameters or {}))
    proc.station = station
    result = InlineRun(proc)

    def emit(topic: str, record: Any) -> None:
        if topic == "results":
            result.rows.append(record)
        elif topic == "progress":
            result.progress.append(float(record))

    proc.emit = emit
    proc.should_stop = lambda: stop_after is not None and len(result.rows) >= stop_after
    try:
        proc.startup()
        proc.execute()
    finally:
        proc.shutdown()
    return result


def is_png(path: Path) -> bool:
    """Whether ``path`` is a non-empty PNG file."""
    return path.is_file() and path.read_bytes()[:8] == PNG_MAGIC
