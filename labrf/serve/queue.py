"""The server's run queue, kept in an SQLite file beside the database so that it survives
a restart: runs wait per station in their order, and each keeps its status, its dataset
run, its progress and how it ended.

Statuses: ``queued`` (waiting), ``running``, then ``completed``, ``aborted`` (stopped
while running), ``cancelled`` (removed while waiting), ``failed``, or ``interrupted`` (it
was running when the server died: its points are in the dataset up to that moment).
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from labrf.errors import LabrfError

STATUSES = ("queued", "running", "completed", "aborted", "cancelled", "failed",
            "interrupted")
FINISHED = ("completed", "aborted", "cancelled", "failed", "interrupted")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    station TEXT NOT NULL,
    procedure TEXT NOT NULL,
    parameters TEXT NOT NULL,
    sample TEXT NOT NULL,
    status TEXT NOT NULL,
    position REAL NOT NULL,
    submitted REAL NOT NULL,
    started REAL,
    ended REAL,
    run_id INTEGER,
    points INTEGER NOT NULL DEFAULT 0,
    progress REAL NOT NULL DEFAULT 0,
    error TEXT,
    result TEXT
)
"""


@dataclass
class QueuedRun:
    """One submitted run (times in s since the epoch)."""

    id: int
    station: str
    procedure: str
    parameters: dict[str, Any]  #: SI values, as the runner takes them
    sample: str
    status: str
    position: float
    submitted: float
    started: float | None = None
    ended: float | None = None
    run_id: int | None = None  #: its run in the dataset, once started
    points: int = 0
    progress: float = 0.0  #: percent
    error: str | None = None
    result: dict[str, Any] = field(default_factory=dict)  #: the runner's RunResult

    @property
    def eta_s(self) -> float | None:
        """Wall seconds left, from the progress so far (None until there is some)."""
        if self.status != "running" or not self.started or self.progress <= 0:
            return None
        elapsed = time.time() - self.started
        return elapsed * (100.0 - self.progress) / self.progress

    def as_json(self) -> dict[str, Any]:
        """What ``GET /api/runs/{id}`` answers."""
        return {"id": self.id, "station": self.station, "procedure": self.procedure,
                "parameters": self.parameters, "sample": self.sample,
                "status": self.status, "points": self.points,
                "progress": round(self.progress, 3), "eta_s": self.eta_s,
                "run_id": self.run_id, "submitted": self.submitted,
                "started": self.started, "ended": self.ended, "error": self.error,
                "fit": self.result.get("fit", {}), "plot": bool(self.result.get("plot")),
                "wall_time_s": self.result.get("wall_time_s"),
                "instrument_time_s": self.result.get("instrument_time_s")}


class RunQueue:
    """The queue in ``path`` (created if missing). Opening it marks the runs that were
    running when the last server stopped as ``interrupted``. Safe to use from several
    threads of one process."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        try:
            self._db = sqlite3.connect(self.path, check_same_thread=False,
                                       isolation_level=None)
            self._db.execute(_SCHEMA)
        except sqlite3.Error as exc:
            raise LabrfError(f"cannot use the run queue {self.path}: {exc}") from None
        self._lock = threading.Lock()
        with self._lock:
            self._db.execute(
                "UPDATE runs SET status = 'interrupted', ended = ?, error = "
                "'the server stopped while it was running' WHERE status = 'running'",
                (time.time(),))

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def _row(self, row: tuple[Any, ...]) -> QueuedRun:
        (id_, station, procedure, parameters, sample, status, position, submitted,
         started, ended, run_id, points, progress, error, result) = row
        return QueuedRun(id_, station, procedure, json.loads(parameters), sample, status,
                         position, submitted, started, ended, run_id, points, progress,
                         error, json.loads(result) if result else {})

    def submit(self, station: str, procedure: str, parameters: dict[str, Any],
               sample: str = "sample") -> QueuedRun:
        """Append a run to ``station``'s queue."""
        with self._lock:
            last = self._db.execute("SELECT MAX(position) FROM runs").fetchone()[0]
            cursor = self._db.execute(
                "INSERT INTO runs (station, procedure, parameters, sample, status, position,"
                " submitted) VALUES (?, ?, ?, ?, 'queued', ?, ?)",
                (station, procedure, json.dumps(parameters), sample, (last or 0) + 1,
                 time.time()))
            run_id = cursor.lastrowid
        return self.get(int(run_id or 0))

    def get(self, run: int) -> QueuedRun:
        """Run ``run``; LabrfError if there is none."""
        with self._lock:
            row = self._db.execute("SELECT * FROM runs WHERE id = ?", (run,)).fetchone()
        if row is None:
            raise LabrfError(f"no run {run} in the queue")
        return self._row(row)

    def runs(self, station: str | None = None, status: str | None = None
             ) -> list[QueuedRun]:
        """Runs in queue order (waiting ones by position, the others as submitted)."""
        query, args = "SELECT * FROM runs", []
        where = []
        if station is not None:
            where.append("station = ?")
            args.append(station)
        if status is not None:
            where.append("status = ?")
            args.append(status)
        if where:
            query += " WHERE " + " AND ".join(where)
        with self._lock:
            rows = self._db.execute(query + " ORDER BY position", args).fetchall()
        return [self._row(r) for r in rows]

    def next_for(self, station: str) -> QueuedRun | None:
        """The first waiting run of ``station``, or None."""
        waiting = self.runs(station, "queued")
        return waiting[0] if waiting else None

    def update(self, run: int, **values: Any) -> None:
        """Set columns of run ``run`` (``parameters`` and ``result`` as dicts)."""
        for key in ("parameters", "result"):
            if key in values:
                values[key] = json.dumps(values[key])
        columns = ", ".join(f"{k} = ?" for k in values)
        with self._lock:
            self._db.execute(f"UPDATE runs SET {columns} WHERE id = ?",
                             (*values.values(), run))

    def cancel(self, run: int) -> bool:
        """Remove a waiting run from the queue (status ``cancelled``); False if it was not
        waiting."""
        with self._lock:
            cursor = self._db.execute(
                "UPDATE runs SET status = 'cancelled', ended = ? WHERE id = ? AND "
                "status = 'queued'", (time.time(), run))
        return cursor.rowcount == 1

    def move(self, run: int, index: int) -> list[QueuedRun]:
        """Put waiting run ``run`` at ``index`` (0: next) of its station's waiting runs;
        the new order. LabrfError if it is not waiting."""
        entry = self.get(run)
        if entry.status != "queued":
            raise LabrfError(f"run {run} is {entry.status}; only waiting runs can be moved")
        waiting = [r for r in self.runs(entry.station, "queued") if r.id != run]
        index = max(0, min(int(index), len(waiting)))
        order = [*waiting[:index], entry, *waiting[index:]]
        positions = sorted(r.position for r in order)
        with self._lock:
            for r, position in zip(order, positions, strict=True):
                self._db.execute("UPDATE runs SET position = ? WHERE id = ?",
                                 (position, r.id))
        return self.runs(entry.station, "queued")
