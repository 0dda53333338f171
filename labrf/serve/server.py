"""The measurement server's core, apart from HTTP: its stations (one worker process each,
so one bench runs one procedure at a time and two benches run in parallel), the run
queue, and the live points of each run for viewers.

The page and the API reach a bench only through a queued run: ``submit``, ``cancel``,
``abort`` and ``move`` act on the queue, and the workers run what it holds in order.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing as mp
import os
import queue as stdqueue
import signal
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from labrf.clock import Clock, WallClock
from labrf.errors import ConfigError, LabrfError
from labrf.serve import worker
from labrf.serve.forms import checked_parameters
from labrf.serve.queue import FINISHED, QueuedRun, RunQueue

log = logging.getLogger(__name__)

ABORT_GRACE_S = 10.0  #: s an aborted run has to stop at a point before it gets SIGINT
LIVE_POINTS = 20_000  #: points kept per run for viewers; beyond, every other one
MAX_RESTARTS = 3  #: deaths of a station's worker after which it is left broken
STATE_WRITE_S = 1.0  #: s between writes of a running run's progress to the queue file


@dataclass
class LiveRun:
    """A run's points as viewers see them: each with its index, thinned (every
    ``stride``-th kept) once there are more than ``LIVE_POINTS``."""

    rows: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    count: int = 0  #: points measured so far
    stride: int = 1
    progress: float = 0.0
    done: bool = False

    def add(self, rows: list[dict[str, Any]]) -> None:
        for row in rows:
            if self.count % self.stride == 0:
                self.rows.append((self.count, row))
            self.count += 1
        if len(self.rows) > LIVE_POINTS:
            self.stride *= 2
            self.rows = [(i, r) for i, r in self.rows if i % self.stride == 0]

    def since(self, cursor: int) -> list[tuple[int, dict[str, Any]]]:
        """The kept points with an index above ``cursor``."""
        lo, hi = 0, len(self.rows)
        while lo < hi:  # the first kept point after the cursor
            mid = (lo + hi) // 2
            if self.rows[mid][0] <= cursor:
                lo = mid + 1
            else:
                hi = mid
        return self.rows[lo:]


@dataclass
class StationWorker:
    """One station: its file, its worker process and what it is doing."""

    name: str
    file: Path
    description: dict[str, Any]
    process: Any = None
    inbox: Any = None
    abort: Any = None
    state: str = "starting"  #: starting, idle, running, broken, stopped
    job: int | None = None
    error: str | None = None
    restarts: int = 0
    #: each instrument's state as read back at the start and after the last run
    bench: dict[str, str] = field(default_factory=dict)


class Server:
    """Stations ``files`` (names: the files' stems), the queue beside ``db``."""

    def __init__(self, files: list[str | Path], db: str | Path,
                 clock: Clock | None = None) -> None:
        from labrf.data import use_database
        from labrf.station import read_station

        if not files:
            raise ConfigError("labrf serve needs at least one --station FILE")
        self.db = use_database(db)
        #: what the server's own waits (start-up, shut-down, state writes) go by
        self.clock: Clock = clock or WallClock()
        self.stations: dict[str, StationWorker] = {}
        for file in files:
            path = Path(file).expanduser().resolve()
            spec = read_station(path)
            name = path.stem
            if name in self.stations:
                raise ConfigError(f"two stations named {name!r} ({self.stations[name].file} "
                                  f"and {path}): station names are their files' stems")
            self.stations[name] = StationWorker(name, path, worker.describe_station(spec))
        self.queue = RunQueue(self.db.with_suffix(".queue.sqlite"))
        self.live: dict[int, LiveRun] = {}
        self._lock = threading.RLock()
        self._context = mp.get_context("spawn")
        self._outbox: Any = self._context.Queue()
        self._stopping = threading.Event()
        self._closing = False
        self._pump: threading.Thread | None = None
        self._written: dict[int, float] = {}

    # ------------------------------------------------------------------ life

    def start(self) -> None:
        """Start every station's worker and the thread that listens to them."""
        for station in self.stations.values():
            self._spawn(station)
        self._pump = threading.Thread(target=self._listen, name="labrf-serve", daemon=True)
        self._pump.start()

    def _spawn(self, station: StationWorker) -> None:
        station.inbox = self._context.Queue()
        # read by the worker before every point: a plain shared integer (a locked one
        # cost the measurement about 5 % per point)
        station.abort = self._context.Value("q", 0, lock=False)
        station.state, station.job, station.error = "starting", None, None
        station.process = self._context.Process(
            target=worker.main, name=f"labrf-station-{station.name}", daemon=True,
            args=(station.name, str(station.file), str(self.db), station.inbox,
                  self._outbox, station.abort))
        station.process.start()

    def stop(self, timeout: float = 30.0) -> None:
        """Abort what runs (the bench made safe), stop the workers and the listener; the
        waiting runs stay queued for the next start."""
        self._closing = True
        with self._lock:
            for station in self.stations.values():
                if station.job is not None:
                    station.abort.value = station.job
                with contextlib.suppress(Exception):
                    station.inbox.put(("quit",))
        deadline = self.clock.now() + timeout
        for station in self.stations.values():
            if station.process is not None:
                station.process.join(max(0.0, deadline - self.clock.now()))
                if station.process.is_alive():
                    station.process.terminate()
                    station.process.join(5)
        self._stopping.set()
        if self._pump is not None:
            self._pump.join(5)
        for station in self.stations.values():
            station.state = "stopped"
        self.queue.close()

    def wait_ready(self, timeout: float = 60.0) -> None:
        """Block until no station is starting (tests and benchmarks)."""
        deadline = self.clock.now() + timeout
        while any(s.state == "starting" for s in self.stations.values()):
            if self.clock.now() > deadline:
                raise LabrfError("stations still starting after "
                                 f"{timeout:g} s: " + ", ".join(
                                     s.name for s in self.stations.values()
                                     if s.state == "starting"))
            self.clock.sleep(0.02)

    # ------------------------------------------------------------------ queue

    def submit(self, procedure: str, station: str, parameters: Any,
               sample: str = "sample") -> QueuedRun:
        """Queue a run after checking it (ParameterError names what is wrong)."""
        from labrf.serve.forms import ParameterError

        if station not in self.stations:
            raise ParameterError(f"unknown station {station!r}; valid: "
                                 f"{', '.join(self.stations)}", "station")
        values = checked_parameters(procedure, parameters)
        if not isinstance(sample, str) or not sample.strip() or len(sample) > 200:
            raise ParameterError("sample must be a name of 1 to 200 characters", "sample")
        entry = self.queue.submit(station, procedure, values, sample)
        self._dispatch(station)
        return self.queue.get(entry.id)

    def cancel_or_abort(self, run: int) -> QueuedRun:
        """Cancel a waiting run, or abort a running one (it stops at its next point; the
        runner leaves the bench safe). LabrfError for a run that has ended."""
        entry = self.queue.get(run)
        if entry.status == "queued" and self.queue.cancel(run):
            return self.queue.get(run)
        with self._lock:
            station = self.stations.get(entry.station)
            if station is None or station.job != run:
                raise LabrfError(f"run {run} is {self.queue.get(run).status}: there is "
                                 "nothing to cancel or abort")
            station.abort.value = run
            timer = threading.Timer(ABORT_GRACE_S, self._interrupt, (station, run))
            timer.daemon = True
            timer.start()
        return self.queue.get(run)

    def _interrupt(self, station: StationWorker, run: int) -> None:
        """An aborted run that has not stopped at a point: SIGINT, as Ctrl-C."""
        with self._lock:
            if station.job == run and station.process is not None and \
                    station.process.is_alive():
                log.warning("run %d did not stop at a point within %g s: SIGINT", run,
                            ABORT_GRACE_S)
                with contextlib.suppress(ProcessLookupError):
                    os.kill(station.process.pid, signal.SIGINT)

    def move(self, run: int, index: int) -> list[QueuedRun]:
        """Put a waiting run at ``index`` of its station's waiting runs."""
        return self.queue.move(run, index)

    def _dispatch(self, name: str) -> None:
        """Hand ``name``'s next waiting run to its worker if it is idle."""
        with self._lock:
            station = self.stations[name]
            if station.state != "idle":
                return
            entry = self.queue.next_for(name)
            if entry is None:
                return
            station.state, station.job = "running", entry.id
            station.abort.value = 0
            self.live[entry.id] = LiveRun()
            self.queue.update(entry.id, status="running", started=time.time())
            station.inbox.put(("run", entry.id, entry.procedure, entry.parameters,
                               entry.sample))

    # ------------------------------------------------------------------ state

    def station_state(self) -> list[dict[str, Any]]:
        """What ``GET /api/stations`` answers."""
        with self._lock:
            return [{"name": s.name, **s.description, "state": s.state, "running": s.job,
                     "queued": len(self.queue.runs(s.name, "queued")), "error": s.error,
                     "bench": dict(s.bench)}
                    for s in self.stations.values()]

    def run_state(self, run: int | QueuedRun) -> dict[str, Any]:
        """A run (its id, or its queue entry) as ``GET /api/runs/{id}`` answers it, live
        progress included."""
        entry = self.queue.get(run) if isinstance(run, int) else run
        live = self.live.get(entry.id)
        if live is not None and entry.status == "running":
            entry.points, entry.progress = live.count, live.progress
        return entry.as_json()

    # ------------------------------------------------------------------ workers

    def _listen(self) -> None:
        while not self._stopping.is_set():
            try:
                message = self._outbox.get(timeout=0.25)
            except stdqueue.Empty:
                self._check_workers()
                continue
            except (EOFError, OSError):
                break
            try:
                self._handle(*message)
            except Exception as exc:  # the listener must outlive a message it cannot use
                log.exception("labrf serve: station %s, message %r", message[0], message[1])
                station = self.stations.get(message[0])
                if station is not None:  # shown with the station by GET /api/stations
                    station.error = f"the server could not use its {message[1]!r} " \
                                    f"message: {type(exc).__name__}: {exc}"

    def _handle(self, name: str, kind: str, *args: Any) -> None:
        station = self.stations[name]
        if kind == "ready":
            with self._lock:
                station.state, station.description = "idle", {**station.description,
                                                               **args[0]}
            self._dispatch(name)
        elif kind == "broken":
            with self._lock:
                station.state, station.error = "broken", args[0]
            log.error("station %s cannot open: %s", name, args[0])
        elif kind == "bench":
            with self._lock:
                station.bench = dict(args[0])
        elif kind == "started":
            job, run_id = args
            self.queue.update(job, run_id=run_id)
        elif kind == "points":
            job, rows, progress, points = args
            live = self.live.setdefault(job, LiveRun())
            live.add(rows)
            live.progress = progress
            now = self.clock.now()
            if now - self._written.get(job, 0.0) >= STATE_WRITE_S:
                self._written[job] = now
                self.queue.update(job, points=points, progress=progress)
        elif kind == "finished":
            job, result, error = args
            self._finish(station, job, result, error)

    def _finish(self, station: StationWorker, job: int, result: dict[str, Any] | None,
                error: str | None) -> None:
        if result is not None:
            status = result["status"] if result["status"] in FINISHED else "failed"
            values = {"status": status, "points": result["points"],
                      "error": result.get("error"), "result": result,
                      "progress": 100.0 if status == "completed" else
                      self.live.get(job, LiveRun()).progress}
        else:
            values = {"status": "failed", "error": error}
        self.queue.update(job, ended=time.time(), **values)
        live = self.live.get(job)
        if live is not None:
            live.done = True
        self._written.pop(job, None)
        with self._lock:
            if station.job == job:
                station.job = None
                if station.state == "running":
                    station.state = "idle"
        self._dispatch(station.name)

    def _check_workers(self) -> None:
        """A worker that died: its run failed; it is started again (after the third
        death the station is shown broken)."""
        if self._closing:
            return
        for station in self.stations.values():
            process = station.process
            if process is None or process.is_alive() or station.state in ("broken",
                                                                           "stopped"):
                continue
            job = station.job
            if job is not None:
                self._finish(station, job, None,
                             f"the worker of {station.name} died (exit code "
                             f"{process.exitcode})")
            station.restarts += 1
            if station.restarts > MAX_RESTARTS:
                station.state = "broken"
                station.error = (f"its worker died {station.restarts} times (last exit "
                                 f"code {process.exitcode})")
                continue
            log.error("the worker of %s died (exit code %s): starting it again",
                      station.name, process.exitcode)
            self._spawn(station)
