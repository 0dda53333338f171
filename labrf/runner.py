"""The runner: a procedure against a station, every point to the dataset as it comes.

A run records its parameters, the station snapshot, labrf's version and its status
(running, then completed, aborted or failed with the traceback; a process that dies
leaves ``running``, which ``labrf runs`` shows as interrupted). Whatever happens, the
station is left in its safe state. After the run its fit goes into the run's metadata
and its plot next to the database.
"""

from __future__ import annotations

import importlib
import json
import logging
import math
import pkgutil
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TextIO

import numpy as np

from labrf.data import (
    DEFAULT_DB,
    PointWriter,
    latest_run,
    new_measurement,
    run_columns,
    running,
    set_metadata,
    start_run_metadata,
    use_database,
)
from labrf.errors import LabrfError, UsageError
from labrf.procedure import LabProcedure
from labrf.signals import describe, shielded, signal_name, stop_behind
from labrf.station import LabStation
from labrf.units import to_si

log = logging.getLogger(__name__)
#: the error of a run whose ``should_stop`` answered True
STOP_REQUESTED = "aborted on request (the procedure stopped at its next point)"


def procedures() -> dict[str, type[LabProcedure]]:
    """Every LabProcedure in labrf.procedures, by its command-line name."""
    import labrf.procedures as package

    found: dict[str, type[LabProcedure]] = {}
    for info in pkgutil.iter_modules(package.__path__):
        module = importlib.import_module(f"{package.__name__}.{info.name}")
        for obj in vars(module).values():
            if isinstance(obj, type) and issubclass(obj, LabProcedure) and obj.name:
                found[obj.name] = obj
    return dict(sorted(found.items()))


def procedure_class(name: str) -> type[LabProcedure]:
    """The procedure called ``name`` (``spin-diode``...); LabrfError lists the valid."""
    known = procedures()
    if name not in known:
        raise UsageError(f"unknown procedure '{name}'; valid: {', '.join(known)}")
    return known[name]


@dataclass
class RunResult:
    """What a run ended as (also the ``--json`` line)."""

    run_id: int
    status: str
    fit: dict[str, Any]
    plot: str | None
    db: str
    points: int = 0
    instrument_time_s: float = 0.0
    wall_time_s: float = 0.0
    retries: int = 0
    error: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    signal: str | None = None  #: the stop signal that aborted the run (e.g. "SIGTERM")

    def json_line(self) -> str:
        fields = {k: v for k, v in asdict(self).items() if k != "extra"}
        return json.dumps({**fields, **self.extra}, default=_jsonable)


def _jsonable(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    return str(value)


def json_safe(value: Any) -> Any:
    """JSON-safe values: NaN and infinities become None, numpy values Python ones."""
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple | np.ndarray):
        return [json_safe(v) for v in value]
    if isinstance(value, float | np.floating) and not math.isfinite(value):
        return None
    if isinstance(value, np.generic):
        return value.item()
    return value


class Progress:
    """A one-line progress bar with the ETA in instrument time."""

    def __init__(self, out: TextIO | None, clock: Any, width: int = 30) -> None:
        self.out, self.clock, self.width = out, clock, width
        self.t0 = clock.now()
        self.percent = 0.0
        self._shown = -1.0

    def update(self, percent: float) -> None:
        self.percent = max(0.0, min(100.0, float(percent)))
        if self.out is None or round(self.percent, 1) == self._shown:
            return  # redrawn only when the shown percentage changes
        self._shown = round(self.percent, 1)
        elapsed = self.clock.now() - self.t0
        eta = elapsed * (100 - self.percent) / self.percent if self.percent > 0 else math.nan
        filled = int(self.width * self.percent / 100)
        bar = "#" * filled + "-" * (self.width - filled)
        eta_text = f"{eta:7.1f} s" if math.isfinite(eta) else "      ? s"
        self.out.write(f"\r[{bar}] {self.percent:5.1f} %  instrument time {elapsed:8.1f} s  "
                       f"ETA {eta_text}")
        self.out.flush()

    def close(self) -> None:
        if self.out is not None:
            self.out.write("\n")
            self.out.flush()


class Runner:
    """Runs one procedure on a connected station into a QCoDeS database."""

    def __init__(self, procedure: LabProcedure, station: LabStation,
                 db: str | Path = DEFAULT_DB, sample: str = "sample",
                 progress: TextIO | None = None, plots: Path | None = None,
                 tags: dict[str, Any] | None = None,
                 should_stop: Callable[[], bool] | None = None,
                 observer: Callable[[str, Any], None] | None = None) -> None:
        self.procedure, self.station, self.sample = procedure, station, sample
        #: asked between points; once it answers True the procedure winds down and the
        #: run ends ``aborted`` (a server's abort button); ``observer(topic, value)`` sees
        #: ("started", run id), every ("results", row) and ("progress", percent)
        self._stop_asked, self.observer = should_stop, observer
        self.stop_requested = False
        self.tags = dict(tags or {})  #: extra metadata the run starts with (a campaign's)
        self.db = use_database(db)
        self.plots = plots if plots is not None else self.db.parent / "plots"
        self.progress_out = progress
        self.points = 0
        self._writer: Any = None
        self.stopped_by: KeyboardInterrupt | None = None  #: the signal that aborted it

    def _measurement(self) -> Any:
        proc = self.procedure
        return new_measurement(proc.name, self.sample, dict(proc.COLUMNS), self.station)

    def _on_emit(self, topic: str, record: Any) -> None:
        if topic == "results":
            self._writer.write(record)
            self.points += 1
        elif topic == "progress":
            self.bar.update(record)
        if self.observer is not None:
            self.observer(topic, record)

    def _should_stop(self) -> bool:
        if not self.stop_requested and self._stop_asked is not None and self._stop_asked():
            self.stop_requested = True
        return self.stop_requested

    def run(self) -> RunResult:
        proc, station = self.procedure, self.station
        wall0, t0 = time.perf_counter(), station.clock.now()
        self.bar = Progress(self.progress_out, station.clock)
        self._retries0 = self._all_retries()
        proc.station = station
        proc.db = self.db
        proc.emit = self._on_emit
        proc.should_stop = self._should_stop
        status, error = "failed", None
        meas = self._measurement()
        with running(meas) as saver:
            dataset = saver.dataset
            if self.observer is not None:
                self.observer("started", dataset.run_id)
            self._writer = PointWriter(dataset, dict(proc.COLUMNS))
            start_run_metadata(dataset, proc.name, {
                n: p.value for n, p in proc.parameter_objects().items()})
            set_metadata(dataset, {"labrf_station_file": str(station.spec.file),
                                   **self.tags})
            if proc.CHECKPOINT:
                proc.checkpoint = (self.db.parent / "checkpoints"
                                   / f"run_{dataset.run_id}_{proc.name}.npz")
                set_metadata(dataset, {"labrf_checkpoint": str(proc.checkpoint)})
            if proc.prerequisites:
                set_metadata(dataset, {"labrf_prerequisites": json.dumps(
                    {k: v["run_id"] for k, v in proc.prerequisites.items()})})
            try:
                proc.startup()
                proc.execute()
                status = "completed"
                if self.stop_requested:
                    status, error = "aborted", STOP_REQUESTED
            except KeyboardInterrupt as exc:  # a StopSignal: SIGINT, SIGTERM or SIGHUP
                status, error = "aborted", describe(exc)
                self.stopped_by = exc
            except Exception as exc:  # any failure: keep the data, record it, go safe
                self.stopped_by = stop_behind(exc)
                status, error = ("aborted", describe(self.stopped_by)) if self.stopped_by \
                    else ("failed", f"{exc}\n{traceback.format_exc()}")
            finally:
                status, error = self._wind_down(status, error)
                set_metadata(dataset, {
                    "labrf_status": status, "labrf_error": error or "",
                    "labrf_retries": self._retries(),
                    "labrf_instrument_time_s": station.clock.now() - t0})
                self.bar.close()
        run_id = dataset.run_id
        fit, plot = self._analyse(dataset) if self.points else ({}, None)
        extra = dict(proc.summary(fit)) if fit and "error" not in fit else {}
        if status == "completed" and fit and "error" not in fit:
            try:
                note = proc.apply(fit)
            except LabrfError as exc:
                note = f"not applied: {exc}"
            if note:
                extra["applied"] = note
                set_metadata(dataset, {"labrf_applied": note})
        return RunResult(run_id, status, fit, plot, str(self.db), self.points,
                         station.clock.now() - t0, time.perf_counter() - wall0,
                         self._retries(), error.splitlines()[0] if error else None, extra,
                         signal_name(self.stopped_by) if self.stopped_by else None)

    def _wind_down(self, status: str, error: str | None) -> tuple[str, str | None]:
        """Procedure shutdown and the station's safe state, whatever happened (a stop
        signal during it is reported and does not cut the ramp-down short)."""
        for action in (self.procedure.shutdown, self.station.safe_state):
            for _attempt in range(2):
                try:
                    with shielded():
                        action()
                    break
                except KeyboardInterrupt as exc:  # raised by the action itself
                    status, error = "aborted", describe(exc)
                    self.stopped_by = self.stopped_by or exc
                except Exception as exc:
                    log.error("leaving the bench safe: %s", exc)
                    status = "failed"
                    error = (error + "\n" if error else "") + f"safe state: {exc}"
                    break
        return status, error

    def _all_retries(self) -> int:
        return sum(getattr(role, "retries", 0) for role in self.station.roles.values())

    def _retries(self) -> int:
        """Queries retried during this run."""
        return self._all_retries() - self._retries0

    def _analyse(self, dataset: Any) -> tuple[dict[str, Any], str | None]:
        data = run_columns(dataset)
        try:
            fit = json_safe(self.procedure.analyse(data))
        except Exception as exc:
            log.warning("%s: fit failed: %s", self.procedure.name, exc)
            fit = {"error": f"fit failed: {exc}"}
        set_metadata(dataset, {"labrf_fit": json.dumps(fit)})
        path = self.plots / f"run_{dataset.run_id}_{self.procedure.name}.png"
        try:
            written = self.procedure.plot(data, fit if "error" not in fit else {}, path)
        except Exception as exc:
            log.warning("%s: plot failed: %s", self.procedure.name, exc)
            written = None
        if written is not None:
            set_metadata(dataset, {"labrf_plot": str(written)})
        return fit, str(written) if written is not None else None


def prerequisites(cls: type[LabProcedure], station: LabStation, db: str | Path,
                  sample: str = "sample", progress: TextIO | None = sys.stderr
                  ) -> dict[str, dict[str, Any]]:
    """The runs ``cls`` builds on (its ``REQUIRES``): for each, the latest completed run on
    this station's file in ``db``, or, if there is none, a new run of it (default
    parameters) made now. LabrfError if such a run does not complete."""
    found: dict[str, dict[str, Any]] = {}
    for required in cls.requires(station):
        ds = latest_run(db, required, station_file=str(station.spec.file))
        if ds is None:
            log.info("%s needs a completed %s run on this station: running it now",
                     cls.name, required)
            result = run(required, station, db=db, sample=sample, progress=progress)
            if result.status != "completed" or "error" in result.fit:
                raise LabrfError(
                    f"{cls.name} needs a completed {required} run, and the one just made "
                    f"(run {result.run_id}) ended {result.status}: "
                    f"{result.error or result.fit.get('error')}")
            found[required] = {"run_id": result.run_id, "fit": result.fit}
        else:
            found[required] = {"run_id": ds.run_id,
                               "fit": json.loads(ds.metadata.get("labrf_fit", "{}"))}
    return found


#: What a person may type for a yes/no parameter.
TRUE_WORDS = ("1", "true", "yes", "on")
FALSE_WORDS = ("0", "false", "no", "off")


def parse_value(parameter: Any, text: str) -> Any:
    """A value typed by a person (command line, campaign file) in the procedure
    parameter's unit ("200 MHz" -> 2e8, "1 PLC" -> 1.0); ValueError saying what was
    expected otherwise (a misspelt yes/no is refused, never read as no)."""
    from pymeasure.experiment import BooleanParameter, FloatParameter, IntegerParameter

    units = getattr(parameter, "units", None) or ""
    text = text.strip()
    if isinstance(parameter, BooleanParameter):
        word = text.lower()
        if word in TRUE_WORDS or word in FALSE_WORDS:
            return word in TRUE_WORDS
        raise ValueError(f"not a yes/no value: use one of {', '.join(TRUE_WORDS)} or "
                         f"{', '.join(FALSE_WORDS)}")
    if isinstance(parameter, IntegerParameter):
        try:
            return int(_without_unit(text, units))
        except ValueError:
            raise ValueError("not a whole number") from None
    if isinstance(parameter, FloatParameter):
        if units in ("dBm", "dB"):
            return to_si(text.replace("dBm", "dB") if units == "dBm" else text, "dB") \
                if not _is_number(text) else float(text)
        if units in ("", "PLC"):
            plain = _without_unit(text, units)
            if not _is_number(plain):
                raise ValueError("not a number" + (f" of {units}" if units else ""))
            return float(plain)
        return to_si(text if not _is_number(text) else float(text), units)
    return text


def _without_unit(text: str, units: str) -> str:
    """``text`` without a trailing ``units`` ("1 PLC" -> "1")."""
    if units and text.endswith(units):
        return text[:-len(units)].strip()
    return text


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def valid_values(parameter: Any) -> str:
    """What a procedure parameter accepts, with its unit ("11 to 100001", "0 to 0.006 A")."""
    unit = f" {parameter.units}" if getattr(parameter, "units", None) else ""
    if getattr(parameter, "choices", None):
        return ", ".join(map(str, parameter.choices))
    low, high = getattr(parameter, "minimum", None), getattr(parameter, "maximum", None)
    if low is not None and high is not None:
        return f"{low:g} to {high:g}{unit}"
    return f"a {type(parameter).__name__.removesuffix('Parameter').lower()}{unit}"


def configured(name: str, parameters: dict[str, Any] | None = None) -> LabProcedure:
    """Procedure ``name`` with ``parameters`` (SI values) set; UsageError naming an
    unknown parameter, or a refused value and the valid ones."""
    proc = procedure_class(name)()
    known = proc.parameter_objects()
    unknown = [k for k in parameters or {} if k not in known]
    if unknown:
        raise UsageError(f"{name} has no parameter {', '.join(unknown)}; valid: "
                         f"{', '.join(known)}")
    for key, value in (parameters or {}).items():
        try:
            proc.set_parameters({key: value})
        except ValueError as exc:
            raise UsageError(f"{name}: {key} = {value!r} is refused ({exc}); valid: "
                             f"{valid_values(known[key])}") from None
    return proc


def run(name: str, station: LabStation, parameters: dict[str, Any] | None = None,
        db: str | Path = DEFAULT_DB, sample: str = "sample",
        progress: TextIO | None = sys.stderr, tags: dict[str, Any] | None = None,
        should_stop: Callable[[], bool] | None = None,
        observer: Callable[[str, Any], None] | None = None) -> RunResult:
    """Run procedure ``name`` with ``parameters`` (SI values) on a connected station,
    after the runs it builds on (``LabProcedure.REQUIRES``), made first if missing; a
    procedure that does not fit the station (``LabProcedure.check``) raises before any.
    ``tags`` are metadata the run carries from its start (``labrf_campaign``...);
    ``should_stop`` and ``observer`` as for ``Runner`` (the runs it builds on see neither)."""
    proc = configured(name, parameters)
    proc.check(station)
    proc.prerequisites = prerequisites(type(proc), station, db, sample, progress)
    result = Runner(proc, station, db, sample, progress, tags=tags, should_stop=should_stop,
                    observer=observer).run()
    if proc.prerequisites:
        result.extra["prerequisites"] = {k: v["run_id"] for k, v in proc.prerequisites.items()}
    return result
