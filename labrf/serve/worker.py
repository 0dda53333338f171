"""A station's worker: its own process (QCoDeS instrument names are global in a process,
so two stations with the same names each need one), which opens the station, runs the
queued runs it is handed one at a time through ``labrf.runner``, and reports back.

Messages in (``inbox``): ``("run", job, procedure, parameters, sample)``, ``("quit",)``.
Messages out (``outbox``), each a tuple starting with the station's name:
``ready`` (its description), ``bench`` (each instrument's state read back, at the start
and after each run), ``broken`` (why it could not open), ``started`` (job,
dataset run id), ``points`` (job, rows, progress %, points so far), ``finished`` (job,
the RunResult as a dict, or an error). Points go out in batches at most every
``BATCH_S``, so that viewers never slow the measurement.

An abort asks for the job by id through ``abort`` (a shared integer): the procedure
stops at its next point and the runner leaves the bench safe. If the server dies the
worker gets SIGTERM (Linux's parent-death signal), which aborts a running run the same
way, as Ctrl-C would.
"""

from __future__ import annotations

import contextlib
import ctypes
import signal
import time
import traceback
from dataclasses import asdict
from typing import Any

BATCH_S = 0.1  #: s, the longest a measured point waits before it is sent to the server


def _die_with_parent() -> None:
    """Ask Linux to send SIGTERM to this process when its parent dies."""
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def describe_station(spec: Any) -> dict[str, Any]:
    """A station file's instruments and roles (a ``StationSpec``), for the API."""
    return {"file": str(spec.file), "simulated": spec.simulation is not None,
            "instruments": [{"name": i.name, "role": i.role.role, "type": i.role.__name__,
                             "driver": i.driver, "address": i.address}
                            for i in spec.instruments.values()]}


class _Batcher:
    """The runner's observer: collects points and sends them in batches."""

    def __init__(self, name: str, job: int, outbox: Any) -> None:
        self.name, self.job, self.outbox = name, job, outbox
        self.rows: list[dict[str, Any]] = []
        self.progress, self.points, self.sent = 0.0, 0, time.perf_counter()

    def __call__(self, topic: str, value: Any) -> None:
        if topic == "results":
            self.rows.append(value)
            self.points += 1
        elif topic == "progress":
            self.progress = float(value)
        elif topic == "started":
            self.outbox.put((self.name, "started", self.job, int(value)))
            return
        now = time.perf_counter()
        if now - self.sent >= BATCH_S:
            self.flush(now)

    def flush(self, now: float | None = None) -> None:
        self.outbox.put((self.name, "points", self.job, _plain(self.rows), self.progress,
                         self.points))
        self.rows = []
        self.sent = now if now is not None else time.perf_counter()


def _plain(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows with numpy values as floats and lists (cheap to pickle, JSON-ready)."""
    out = []
    for row in rows:
        plain = {}
        for key, value in row.items():
            tolist = getattr(value, "tolist", None)
            plain[key] = tolist() if tolist is not None else value
        out.append(plain)
    return out


def bench_state(station: Any) -> dict[str, str]:
    """Each instrument's state read back from it ("output off, 0 A, ..."), or why not."""
    state = {}
    for role_name, role in station.roles.items():
        try:
            state[role_name] = role.state_summary()
        except Exception as exc:
            state[role_name] = f"not read: {exc}"
    return state


def main(name: str, station_file: str, db: str, inbox: Any, outbox: Any, abort: Any) -> None:
    """The worker's loop (the target of its process)."""
    _die_with_parent()
    from labrf.cli import configure_logging
    from labrf.signals import stop_signals
    from labrf.station import load_station

    configure_logging(db)
    with stop_signals():
        try:
            station = load_station(station_file)
        except KeyboardInterrupt:
            return
        except Exception as exc:
            outbox.put((name, "broken", f"{type(exc).__name__}: {exc}"))
            return
        # at the end (quit, or a stop signal): the bench made safe and closed
        with station, contextlib.suppress(KeyboardInterrupt):
            _serve(name, station, db, inbox, outbox, abort)


def _serve(name: str, station: Any, db: str, inbox: Any, outbox: Any, abort: Any) -> None:
    """Run what ``inbox`` hands over until it says quit or a stop signal ends a run."""
    from labrf.runner import run

    outbox.put((name, "ready", describe_station(station.spec)))
    outbox.put((name, "bench", bench_state(station)))
    while (message := inbox.get())[0] != "quit":
        _, job, procedure, parameters, sample = message
        batcher = _Batcher(name, job, outbox)
        try:
            result = run(procedure, station, parameters, db=db, sample=sample,
                         progress=None, should_stop=lambda job=job: abort.value == job,
                         observer=batcher)
        except KeyboardInterrupt as exc:  # the server died before the run started
            outbox.put((name, "finished", job, None, f"stopped: {exc}"))
            raise
        except Exception as exc:  # refused before it ran (check, prerequisites)
            batcher.flush()
            outbox.put((name, "finished", job, None,
                        f"{exc}" if str(exc) else traceback.format_exc()))
            continue
        batcher.flush()
        outbox.put((name, "bench", bench_state(station)))
        outbox.put((name, "finished", job, asdict(result), None))
        if result.signal:  # SIGTERM: the server died; the bench is safe
            return
