"""Runs in the QCoDeS SQLite dataset: where they live, their labrf metadata, their columns,
and their writers (several processes may write one database at once).

Every run carries labrf metadata: ``labrf_procedure``, ``labrf_status`` (running,
completed, aborted, failed; a run whose process died while running reads as
``interrupted``), ``labrf_parameters`` and ``labrf_fit`` (JSON), ``labrf_version``,
``labrf_pid``, ``labrf_error`` (a failure's traceback) and ``labrf_plot``.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import socket
import sqlite3
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from labrf.clock import WallClock
from labrf.errors import LabrfError

log = logging.getLogger(__name__)

DEFAULT_DB = Path("data") / "labrf.db"
#: how long (s) a write waits for other processes writing the same database
LOCK_PATIENCE = 120.0
#: SQLite's own wait (ms) for the write lock, per statement
BUSY_TIMEOUT_MS = 10_000
_SQLITE_MAGIC = b"SQLite format 3\x00"
T = TypeVar("T")


def _locked(exc: BaseException | None) -> bool:
    """Whether ``exc`` (or what caused it) is SQLite's 'database is locked' or 'busy'."""
    while exc is not None:
        if isinstance(exc, sqlite3.OperationalError) and any(
                word in str(exc) for word in ("locked", "busy")):
            return True
        exc = exc.__cause__ or exc.__context__
    return False


def retry_locked(action: Callable[[], T], what: str, patience: float = LOCK_PATIENCE) -> T:
    """Run ``action``, again while another process holds the database's write lock.

    SQLite's busy timeout covers a statement that writes first; a transaction that reads
    and then writes (QCoDeS creating a run, adding metadata) fails at once when another
    writer committed in between, and is safe to run again (it was rolled back). Waits
    grow from 10 ms to 1 s, jittered; after ``patience`` s a LabrfError says so.
    """
    waited, delay, jitter = 0.0, 0.01, None
    while True:
        try:
            return action()
        except (sqlite3.OperationalError, RuntimeError) as exc:
            if not _locked(exc):
                raise
            if waited >= patience:
                raise LabrfError(f"{what}: the database stayed locked by another writer "
                                 f"for {patience:.0f} s") from None
        jitter = jitter or np.random.default_rng(os.getpid())  # only when contended
        pause = delay * (0.5 + jitter.random())
        log.debug("%s: database locked, trying again in %.3f s", what, pause)
        WallClock().sleep(pause)
        waited += pause
        delay = min(1.0, delay * 2)


class WriteLock:
    """Serialises labrf's writes to one database across processes and threads.

    QCoDeS writes in transactions that read before they write (creating a run, adding
    metadata); in WAL mode such a transaction fails at once if another process commits
    in between, and creating a run is several of them, so a retry could leave a
    half-made run. Holding this lock, a process is the database's only labrf writer. It
    is an exclusive transaction on a small SQLite file beside the database
    (``<db>.writelock``), so it works on every platform and SQLite releases it if the
    process dies. Re-entrant within a thread; readers never take it.

    A stop signal raises wherever Python is: between taking the transaction and
    counting it, or between the count and its release. Whoever next takes the lock at
    depth 0 finds that stale transaction and ends it first, so such a signal never
    turns into "cannot start a transaction within a transaction".
    """

    _guard = threading.RLock()
    _depth: dict[str, int] = {}
    _connections: dict[str, sqlite3.Connection] = {}

    def __init__(self, db: str | Path) -> None:
        self.path = str(Path(db).expanduser().resolve()) + ".writelock"

    def _connection(self) -> sqlite3.Connection:
        conn = self._connections.get(self.path)
        if conn is None:
            conn = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_MS / 1000,
                                   isolation_level=None, check_same_thread=False)
            retry_locked(lambda: conn.execute("PRAGMA journal_mode=WAL"),
                         f"opening {self.path}")
            self._connections[self.path] = conn
        return conn

    def __enter__(self) -> WriteLock:
        WriteLock._guard.acquire()
        try:
            depth = self._depth.get(self.path, 0)
            if depth == 0:
                conn = self._connection()
                if conn.in_transaction:  # left by a signal inside __enter__/__exit__
                    conn.execute("ROLLBACK")
                retry_locked(lambda: conn.execute("BEGIN IMMEDIATE"),
                             f"waiting for the other writers of {self.path[:-10]}")
            self._depth[self.path] = depth + 1
        except BaseException:
            self._release_if_unheld()
            WriteLock._guard.release()
            raise
        return self

    def _release_if_unheld(self) -> None:
        """End the transaction if nobody in this process counts it as held."""
        conn = self._connections.get(self.path)
        if conn is not None and conn.in_transaction and not self._depth.get(self.path):
            conn.execute("ROLLBACK")

    def __exit__(self, *exc: object) -> None:
        try:
            self._depth[self.path] -= 1
        finally:
            try:
                self._release_if_unheld()
            finally:
                WriteLock._guard.release()


def _current_db() -> str:
    import qcodes

    return str(qcodes.config.core.db_location)


#: (path, inode) of the database files this process has checked: never opened again by
#: Python (closing any descriptor of a file drops the process's POSIX locks on it,
#: SQLite's included; another process could then checkpoint and delete the WAL under an
#: open connection of this one: lost commits, then "file is not a database")
_CHECKED: set[tuple[str, int]] = set()


def check_database_file(path: Path) -> None:
    """LabrfError unless ``path`` is absent (it will be created) or an SQLite database."""
    if path.is_dir():
        raise LabrfError(f"--db {path} is a directory; give a database file, e.g. "
                         f"{path / 'labrf.db'}")
    if not path.exists():
        return
    try:
        key = (str(path), path.stat().st_ino)
    except OSError as exc:
        raise LabrfError(f"--db {path}: cannot be read ({exc.strerror})") from None
    if key in _CHECKED:
        return
    try:
        with path.open("rb") as handle:
            head = handle.read(len(_SQLITE_MAGIC))
    except OSError as exc:
        raise LabrfError(f"--db {path}: cannot be read ({exc.strerror})") from None
    if head and head != _SQLITE_MAGIC:
        raise LabrfError(f"--db {path} is not an SQLite database (it starts with "
                         f"{head[:8]!r}); give a labrf database or a new file name")
    if head:
        _CHECKED.add(key)


def use_database(path: str | Path) -> Path:
    """Make ``path`` QCoDeS's database (created if missing) and return it, absolute.

    A path that is a directory, not SQLite, damaged or unwritable is a LabrfError naming
    it. Several processes may use one database at the same time (WAL journal, busy
    timeout, locked writes retried).
    """
    from qcodes.dataset import initialise_or_create_database_at

    path = Path(path).expanduser().resolve()
    check_database_file(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise LabrfError(f"--db {path}: cannot create its folder ({exc.strerror})") from None
    try:
        with WriteLock(path):
            retry_locked(lambda: initialise_or_create_database_at(str(path)),
                         f"opening {path}")
    except (sqlite3.DatabaseError, RuntimeError, OSError) as exc:
        raise LabrfError(f"--db {path}: cannot be used as a database "
                         f"({_root_cause(exc)})") from None
    return path


def _root_cause(exc: BaseException) -> str:
    while exc.__cause__ is not None:
        exc = exc.__cause__
    return f"{type(exc).__name__}: {exc}"


def set_metadata(dataset: Any, values: dict[str, Any]) -> None:
    """Add or update metadata of a run, each key retried while the database is locked."""
    with WriteLock(dataset.path_to_db):
        for key, value in values.items():
            retry_locked(lambda k=key, v=value: dataset.add_metadata(k, v),
                         f"run {dataset.run_id}: writing {key}")


@contextlib.contextmanager
def running(meas: Any) -> Iterator[Any]:
    """``meas.run()``: its DataSaver, the run created even while other processes write
    the same database, and QCoDeS's "Starting experimental run" print sent to the log
    instead of the terminal."""
    runner, printed = meas.run(), io.StringIO()
    lock = WriteLock(_current_db())
    with lock, contextlib.redirect_stdout(printed):
        saver = retry_locked(runner.__enter__, "creating a run")
    for line in printed.getvalue().splitlines():
        log.info("qcodes: %s", line.strip())
    try:
        yield saver
    except BaseException as exc:
        with lock:
            if not runner.__exit__(type(exc), exc, exc.__traceback__):
                raise
    else:
        with lock:
            retry_locked(lambda: runner.__exit__(None, None, None), "closing the run")


def new_measurement(name: str, sample: str, columns: dict[str, Any],
                    station: Any = None) -> Any:
    """A QCoDeS ``Measurement`` named ``name`` (experiment ``name``, ``sample``) with a
    custom parameter per column (objects with ``unit``, ``paramtype``, ``setpoints`` and
    ``label``, e.g. ``labrf.procedure.Column``)."""
    from qcodes.dataset import Measurement

    exp = _experiment(name, sample)
    meas = Measurement(exp=exp, station=station, name=name)
    for column, spec in columns.items():
        meas.register_custom_parameter(column, label=spec.label or column, unit=spec.unit,
                                       paramtype=spec.paramtype,
                                       setpoints=spec.setpoints or None)
    return meas


def _experiment(name: str, sample: str) -> Any:
    """The QCoDeS experiment ``name`` on ``sample``, made if missing. Two processes that
    make it at the same moment make two; both then use the older."""
    from qcodes.dataset import experiments, new_experiment

    def oldest() -> Any:
        found = [e for e in experiments() if e.name == name and e.sample_name == sample]
        return min(found, key=lambda e: e.exp_id) if found else None

    with WriteLock(_current_db()):
        exp = retry_locked(oldest, f"finding experiment {name}")
        if exp is None:
            retry_locked(lambda: new_experiment(name, sample_name=sample),
                         f"creating experiment {name}")
            exp = retry_locked(oldest, f"finding experiment {name}")
    return exp


def start_run_metadata(dataset: Any, procedure: str, parameters: dict[str, Any]) -> None:
    """The labrf metadata a run starts with: its procedure, parameters (JSON), labrf's
    version, the process running it (``status_of`` tells a dead one) and status running."""
    import labrf

    set_metadata(dataset, {"labrf_procedure": procedure,
                           "labrf_parameters": json.dumps(parameters, default=str),
                           "labrf_version": labrf.__version__, "labrf_pid": os.getpid(),
                           "labrf_host": socket.gethostname(), "labrf_status": "running"})


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


def runs_where(db: str | Path, **metadata: Any) -> list[Any]:
    """The runs of ``db`` whose metadata has every ``key=value`` given (compared as text),
    as QCoDeS datasets, oldest first; none if ``db`` does not exist."""
    from qcodes.dataset import experiments

    path = Path(db)
    if not path.exists():
        return []
    use_database(path)
    wanted = {k: str(v) for k, v in metadata.items()}
    found = [ds for exp in experiments() for ds in exp.data_sets()
             if all(str(ds.metadata.get(k)) == v for k, v in wanted.items())]
    return sorted(found, key=lambda ds: ds.run_id)


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
        self.conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        self.names = list(columns)
        self.arrays = {n for n, c in columns.items() if c.paramtype == "array"}
        names = ", ".join(f'"{n}"' for n in self.names)
        marks = ", ".join("?" for _ in self.names)
        self.sql = f'INSERT INTO "{dataset.table_name}" ({names}) VALUES ({marks})'
        self.lock = WriteLock(dataset.path_to_db)
        self.points = 0

    def write(self, row: dict[str, Any]) -> None:
        """Commit one point: every column, numbers as floats, arrays as float arrays."""
        missing = [n for n in self.names if n not in row]
        if missing:
            raise LabrfError(f"a result lacks the column(s) {', '.join(missing)}; it has "
                             f"{', '.join(row)}")
        values = [np.asarray(row[n], dtype=float) if n in self.arrays else float(row[n])
                  for n in self.names]
        with self.lock:
            retry_locked(lambda: self._commit(values), f"writing point {self.points + 1}")
        self.points += 1

    def _commit(self, values: list[Any]) -> None:
        """Insert and commit one row; after a commit that found the database locked, only
        the commit is tried again (the row is in the open transaction)."""
        try:
            if not self.conn.in_transaction:
                self.conn.execute(self.sql, values)
        finally:  # committed even if Ctrl-C lands between the insert and the commit
            if self.conn.in_transaction:
                self.conn.commit()
