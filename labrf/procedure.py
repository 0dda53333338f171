"""The base of labrf's measurement procedures: a PyMeasure ``Procedure`` that measures
through a station's roles and knows its data columns, its fit and its plot.

A procedure never touches a driver or the simulator: the runner gives it a connected
:class:`~labrf.station.LabStation`, and it asks for instruments by role::

    rf = self.instrument(self.rf_source, RFSource)

``emit("results", row)`` hands one measured point to the runner, which writes it to the
dataset at once; ``emit("progress", percent)`` drives the progress bar.
"""

from __future__ import annotations

import zipfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import numpy as np
from pymeasure.experiment import Procedure

from labrf.errors import ConfigError, LabrfError
from labrf.roles.base import Role

R = TypeVar("R", bound=Role)


@dataclass(frozen=True)
class Column:
    """One recorded quantity: SI unit, QCoDeS paramtype ("numeric" or "array") and the
    columns it depends on (its setpoints)."""

    unit: str
    paramtype: str = "numeric"
    setpoints: tuple[str, ...] = ()
    label: str = ""


class LabProcedure(Procedure):
    """A PyMeasure procedure run by ``labrf run`` against a station's roles.

    Subclasses set ``name`` (the command-line name), ``COLUMNS`` (what each point records)
    and implement ``startup``/``execute``; ``analyse`` fits the data and ``plot`` draws
    it. Parameters are PyMeasure parameters whose ``units`` are SI (or dBm), so that the
    command line can take ``--f-start "200 MHz"``.
    """

    name: ClassVar[str] = ""
    COLUMNS: ClassVar[Mapping[str, Column]] = {}
    #: procedures whose latest completed run on the same station this one builds on (a
    #: calibration); the runner runs any that is missing first
    REQUIRES: ClassVar[tuple[str, ...]] = ()

    #: what a live view draws while the run goes: {"kind": "line", "x": column, "y":
    #: [columns], "where": {column: value}} or {"kind": "map", "x", "y", "z"} (an array
    #: column z against its array setpoint x, one row per value of y); None: ``live_plot``
    #: picks the first column with one setpoint against it
    LIVE_PLOT: ClassVar[Mapping[str, Any] | None] = None

    @classmethod
    def live_plot(cls) -> dict[str, Any]:
        """The live view of this procedure's points (``LIVE_PLOT`` or the default)."""
        if cls.LIVE_PLOT is not None:
            return dict(cls.LIVE_PLOT)
        for name, column in cls.COLUMNS.items():
            if column.paramtype == "numeric" and len(column.setpoints) >= 1:
                return {"kind": "line", "x": column.setpoints[-1], "y": [name]}
        names = list(cls.COLUMNS)
        return {"kind": "line", "x": names[0], "y": names[1:2]} if names else {}

    @classmethod
    def requires(cls, station: Any) -> tuple[str, ...]:
        """The procedures this one builds on for ``station`` (by default ``REQUIRES``)."""
        return cls.REQUIRES

    def check(self, station: Any) -> None:
        """Raise LabrfError if these parameters do not fit ``station``, before anything
        runs (the runs it builds on included); by default every station fits."""

    station: Any = None  #: the connected LabStation, set by the runner
    #: the runs this one builds on, by procedure name: {"run_id": int, "fit": dict}; and
    #: the database they are in (set by the runner)
    prerequisites: Mapping[str, Mapping[str, Any]] = {}
    db: Path | None = None
    #: whether the runner gives each run a checkpoint file (state for resuming, beside the
    #: run, referenced from its metadata as ``labrf_checkpoint``), and its path
    CHECKPOINT: ClassVar[bool] = False
    checkpoint: Path | None = None

    def save_checkpoint(self, **arrays: Any) -> None:
        """Replace the run's checkpoint with ``arrays`` (numbers or arrays), atomically:
        a reader (or a process killed mid-write) sees the old file or the new one."""
        if self.checkpoint is None:
            raise LabrfError(f"{self.name} has no checkpoint file: run it with labrf's "
                             "runner")
        save_arrays(self.checkpoint, arrays)

    def __init__(self, **kwargs: Any) -> None:
        self.DATA_COLUMNS = list(self.COLUMNS)
        super().__init__(**kwargs)

    def instrument(self, name: str, role: type[R]) -> R:
        """The station's instrument ``name``, which must play ``role``."""
        if self.station is None:
            raise LabrfError(f"{type(self).__name__} has no station: run it with labrf's "
                             f"runner (labrf run {self.name} --station FILE)")
        roles = self.station.roles
        if name not in roles:
            of_role = [n for n, r in roles.items() if isinstance(r, role)]
            raise ConfigError(f"{type(self).__name__} needs a {role.role} named '{name}'; "
                              f"the station's {role.__name__} instruments: "
                              f"{', '.join(of_role) or 'none'}", file=self.station.spec.file)
        found = roles[name]
        if not isinstance(found, role):
            raise ConfigError(f"'{name}' is a {found.role}, not a {role.role}",
                              file=self.station.spec.file, key=f"instruments.{name}.type")
        return found

    def progress(self, done: int, total: int) -> None:
        """Report ``done`` of ``total`` steps."""
        self.emit("progress", 100.0 * done / max(total, 1))

    def field_loop(self, coil: Any, up: np.ndarray, settle_time: float
                   ) -> Iterator[tuple[int, float]]:
        """Set ``coil`` to each field of ``up`` (T) then back down, waiting ``settle_time``
        (s) at each; yields (branch, field) with branch +1 up, -1 down, and reports
        progress after each. Stops early when the run is asked to stop."""
        total, done = 2 * len(up), 0
        for branch, fields in ((1, up), (-1, up[::-1])):
            for b in fields:
                if self.should_stop():
                    return
                coil.field(float(b))
                self.station.clock.sleep(settle_time)
                yield branch, float(b)
                done += 1
                self.progress(done, total)

    def analyse(self, data: Mapping[str, np.ndarray]) -> dict[str, Any]:
        """Fits of the recorded data (SI units, JSON-serialisable); none by default."""
        return {}

    def summary(self, fit: Mapping[str, Any]) -> Mapping[str, Any]:
        """Headline figures of a fit, added at the top level of ``--json``'s line (none by
        default)."""
        return {}

    def apply(self, fit: Mapping[str, Any]) -> str | None:
        """Put a completed run's fit to use on the station (e.g. a new calibration);
        returns a note for the user, or None. Nothing by default."""
        return None

    def plot(self, data: Mapping[str, np.ndarray], fit: Mapping[str, Any],
             path: Path) -> Path | None:
        """Write a PNG of the data and fit to ``path``; None if this procedure has none."""
        return None


def save_arrays(path: Path, arrays: Mapping[str, Any]) -> None:
    """Write ``arrays`` to ``path`` as .npz, through a temporary file and a rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("wb") as handle:
        np.savez(handle, **{k: np.asarray(v) for k, v in arrays.items()})
    tmp.replace(path)


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    """The arrays of checkpoint ``path``; LabrfError naming the file if it is missing or
    unreadable."""
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as data:
            return {k: data[k] for k in data.files}
    except FileNotFoundError:
        raise LabrfError(f"checkpoint {path} not found") from None
    except (OSError, ValueError, zipfile.BadZipFile) as exc:
        raise LabrfError(f"checkpoint {path} is not readable: {exc}") from None
