"""Runs in the QCoDeS SQLite dataset: where they live, their labrf metadata, their columns,
and their export.

Every run carries labrf metadata: ``labrf_procedure``, ``labrf_status`` (running,
completed, aborted, failed; a run whose process died while running reads as
``interrupted``), ``labrf_parameters`` and ``labrf_fit`` (JSON), ``labrf_version``,
``labrf_pid``, ``labrf_error`` (a failure's traceback) and ``labrf_plot``.
"""

from __future__ import annotations

import json
import os
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from labrf.errors import LabrfError

DEFAULT_DB = Path("data") / "labrf.db"
EXPORT_FORMATS = ("csv", "netcdf", "parquet")


def use_database(path: str | Path) -> Path:
    """Make ``path`` QCoDeS's database (created if missing) and return it, absolute."""
    from qcodes.dataset import initialise_or_create_database_at

    path = Path(path).expanduser().resolve()
    path.parent.mkdir(parents=True, exist_ok=True)
    initialise_or_create_database_at(str(path))
    return path


def new_measurement(name: str, sample: str, columns: dict[str, Any],
                    station: Any = None) -> Any:
    """A QCoDeS ``Measurement`` named ``name`` (experiment ``name``, ``sample``) with a
    custom parameter per column (objects with ``unit``, ``paramtype``, ``setpoints`` and
    ``label``, e.g. ``labrf.procedure.Column``)."""
    from qcodes.dataset import Measurement, load_or_create_experiment

    exp = load_or_create_experiment(name, sample_name=sample)
    meas = Measurement(exp=exp, station=station, name=name)
    for column, spec in columns.items():
        meas.register_custom_parameter(column, label=spec.label or column, unit=spec.unit,
                                       paramtype=spec.paramtype,
                                       setpoints=spec.setpoints or None)
    return meas


def start_run_metadata(dataset: Any, procedure: str, parameters: dict[str, Any]) -> None:
    """The labrf metadata a run starts with: its procedure, parameters (JSON), labrf's
    version, the process running it (``status_of`` tells a dead one) and status running."""
    import labrf

    for key, value in (("labrf_procedure", procedure),
                       ("labrf_parameters", json.dumps(parameters, default=str)),
                       ("labrf_version", labrf.__version__), ("labrf_pid", os.getpid()),
                       ("labrf_host", socket.gethostname()), ("labrf_status", "running")):
        dataset.add_metadata(key, value)


def _alive(pid: int, host: str) -> bool:
    if host != socket.gethostname():
        return True  # another machine's run: cannot tell, trust its status
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def status_of(metadata: dict[str, Any]) -> str:
    """A run's status; ``running`` whose process is gone is ``interrupted``."""
    status = str(metadata.get("labrf_status", "unknown"))
    if status == "running":
        pid = int(metadata.get("labrf_pid", -1))
        if pid == os.getpid() and metadata.get("labrf_host") == socket.gethostname():
            return "running"
        if pid < 0 or not _alive(pid, str(metadata.get("labrf_host", ""))):
            return "interrupted"
    return status


@dataclass
class RunInfo:
    """One line of ``labrf runs``."""

    run_id: int
    procedure: str
    sample: str
    status: str
    started: str
    points: int
    fit: dict[str, Any]


def load_run(db: str | Path, run_id: int) -> Any:
    """The QCoDeS dataset of run ``run_id`` in ``db``."""
    from qcodes.dataset import load_by_id

    path = Path(db)
    if not path.exists():
        raise LabrfError(f"no database at {path}; runs are recorded by 'labrf run ... --db "
                         f"{path}'")
    use_database(path)
    try:
        return load_by_id(int(run_id))
    except (ValueError, RuntimeError, NameError) as exc:
        raise LabrfError(f"{path} has no run {run_id} ({exc}); 'labrf runs --db {path}' "
                         f"lists them") from None


def list_runs(db: str | Path) -> list[RunInfo]:
    """Every run of ``db``, oldest first."""
    from qcodes.dataset import experiments

    path = Path(db)
    if not path.exists():
        raise LabrfError(f"no database at {path}")
    use_database(path)
    runs = []
    for exp in experiments():
        for ds in exp.data_sets():
            meta = ds.metadata
            runs.append(RunInfo(ds.run_id, str(meta.get("labrf_procedure", ds.name)),
                                ds.sample_name, status_of(meta),
                                ds.run_timestamp() or "", ds.number_of_results,
                                json.loads(meta.get("labrf_fit", "{}"))))
    return sorted(runs, key=lambda r: r.run_id)


def latest_run(db: str | Path, procedure: str, *, station_file: str | None = None,
               statuses: tuple[str, ...] = ("completed",)) -> Any | None:
    """The newest run of ``procedure`` in ``db`` whose status is one of ``statuses`` (and,
    if given, recorded on ``station_file``), as a QCoDeS dataset; None if there is none."""
    from qcodes.dataset import experiments

    path = Path(db)
    if not path.exists():
        return None
    use_database(path)
    found = None
    for exp in experiments():
        for ds in exp.data_sets():
            meta = ds.metadata
            if (meta.get("labrf_procedure") == procedure and status_of(meta) in statuses
                    and (station_file is None
                         or meta.get("labrf_station_file") == str(station_file))
                    and (found is None or ds.run_id > found.run_id)):
                found = ds
    return found


def run_columns(dataset: Any) -> dict[str, np.ndarray]:
    """Each recorded column of a run as an array (one row per point; array columns are
    two-dimensional)."""
    columns: dict[str, np.ndarray] = {}
    for tree in dataset.get_parameter_data().values():
        for name, values in tree.items():
            if name not in columns:
                columns[name] = np.asarray(values)
    return columns


class PointWriter:
    """Writes each measured point as one committed row of its run's QCoDeS results table.

    QCoDeS's DataSaver validates and converts every row in Python (about 200 us a point
    with a commit each); a prepared INSERT and a commit cost about 25 us, and the table,
    its columns and the run's bookkeeping stay QCoDeS's own (the run is opened and closed
    by ``Measurement.run()``). The connection runs SQLite's WAL journal with
    ``synchronous=NORMAL``: a committed point survives the death of the process (only a
    power cut may lose the last few).
    """

    def __init__(self, dataset: Any, columns: dict[str, Any]) -> None:
        self.conn = dataset.conn
        self.conn.execute("PRAGMA synchronous=NORMAL")
        # another process writing the same database waits its turn instead of failing
        self.conn.execute("PRAGMA busy_timeout=10000")
        self.names = list(columns)
        self.arrays = {n for n, c in columns.items() if c.paramtype == "array"}
        names = ", ".join(f'"{n}"' for n in self.names)
        marks = ", ".join("?" for _ in self.names)
        self.sql = f'INSERT INTO "{dataset.table_name}" ({names}) VALUES ({marks})'
        self.points = 0

    def write(self, row: dict[str, Any]) -> None:
        """Commit one point: every column, numbers as floats, arrays as float arrays."""
        missing = [n for n in self.names if n not in row]
        if missing:
            raise LabrfError(f"a result lacks the column(s) {', '.join(missing)}; it has "
                             f"{', '.join(row)}")
        values = [np.asarray(row[n], dtype=float) if n in self.arrays else float(row[n])
                  for n in self.names]
        try:
            self.conn.execute(self.sql, values)
        finally:  # committed even if Ctrl-C lands between the insert and the commit
            if self.conn.in_transaction:
                self.conn.commit()
        self.points += 1


def export_run(dataset: Any, fmt: str, path: Path | None = None) -> Path:
    """Write a run to ``path`` (default: beside its database) as csv, netcdf or parquet."""
    if fmt not in EXPORT_FORMATS:
        raise LabrfError(f"unknown export format '{fmt}'; valid: {', '.join(EXPORT_FORMATS)}")
    suffix = {"csv": ".csv", "netcdf": ".nc", "parquet": ".parquet"}[fmt]
    if path is None:
        path = Path(dataset.path_to_db).parent / f"run_{dataset.run_id}{suffix}"
    if fmt == "netcdf":
        xr = dataset.to_xarray_dataset()
        xr.attrs = {k: (v if isinstance(v, str | int | float) and not isinstance(v, bool)
                        else json.dumps(v, default=str)) for k, v in xr.attrs.items()}
        xr.to_netcdf(path, engine="h5netcdf")
        return path
    frames = dataset.to_pandas_dataframe_dict()
    frame = pd.concat(frames.values(), axis=1) if len(frames) > 1 else \
        next(iter(frames.values()))
    frame = frame.reset_index()
    if fmt == "csv":
        frame.to_csv(path, index=False)
    else:
        frame.to_parquet(path, index=False)
    return path
