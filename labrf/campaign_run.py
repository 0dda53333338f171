"""Running a campaign: every device of a chip through the same procedures, one at a time.

The campaign is a record of its own in the dataset (a run of procedure ``campaign``, on
the campaign's name as sample, holding its plan and its verdicts); its id is that run's
id. Each measurement is a normal run, on the device's name as sample, tagged
``labrf_campaign`` (the id), ``labrf_device`` and ``labrf_attempt``. Before each device
the station goes to its safe state and the switch routes the device; a device that
fails (a run that fails, a fit outside its accepted range, a fault the fit names) is
recorded with its reason and the campaign goes on (or retries it, or stops, as the file
says). ``resume`` continues the latest campaign of that name in the database and makes
only the runs it is missing: a completed run (accepted or not) is never made again.
"""

from __future__ import annotations

import json
import math
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TextIO

from labrf.campaign import Campaign, Device, Reference, Step
from labrf.data import (
    new_measurement,
    running,
    runs_where,
    set_metadata,
    start_run_metadata,
    status_of,
    use_database,
)
from labrf.errors import InstrumentError, LabrfError, LimitError
from labrf.runner import RunResult, run
from labrf.signals import describe, shielded, signal_name
from labrf.station import LabStation

CAMPAIGN = "campaign"  #: the procedure name of a campaign's own record
ATTEMPTED = ("completed", "failed")  #: run statuses that used an attempt


@dataclass
class Verdict:
    """What a campaign decided about one device."""

    device: str
    position: tuple[int, int]
    passed: bool | None = None  #: None: not measured (the campaign stopped first)
    reason: str = ""  #: why it failed ("" when it passed)
    runs: dict[str, int] = field(default_factory=dict)  #: procedure -> run id judged


@dataclass
class Attempt:
    """One run of a step on a device, as the dataset holds it."""

    run_id: int
    status: str
    fit: dict[str, Any]
    error: str


@dataclass
class CampaignResult:
    """How a campaign ended (also the ``--json`` line)."""

    campaign: int
    name: str
    status: str  #: completed, stopped (on_failure: stop), aborted (a signal), failed
    db: str
    verdicts: dict[str, Verdict]
    runs_made: int = 0
    wall_time_s: float = 0.0
    run_wall_time_s: float = 0.0  #: the part of it spent inside the runs
    signal: str | None = None
    error: str | None = None

    @property
    def devices(self) -> list[str]:
        return list(self.verdicts)

    @property
    def passed(self) -> list[str]:
        return [n for n, v in self.verdicts.items() if v.passed]

    @property
    def failed(self) -> list[str]:
        return [n for n, v in self.verdicts.items() if v.passed is False]

    def json_line(self) -> str:
        return json.dumps({
            "campaign": self.campaign, "name": self.name, "status": self.status,
            "devices": self.devices, "passed": self.passed, "failed": self.failed,
            "not_measured": [n for n, v in self.verdicts.items() if v.passed is None],
            "reasons": {n: v.reason for n, v in self.verdicts.items() if v.reason},
            "runs_made": self.runs_made, "wall_time_s": self.wall_time_s,
            "run_wall_time_s": self.run_wall_time_s, "db": self.db,
            "signal": self.signal, "error": self.error})


def judge(step: Step, attempt: Attempt) -> str:
    """Why ``attempt`` fails ``step`` ("" if it passes): a failed run, a failed fit, a
    fault the fit names, a fit value missing or outside its accepted range."""
    name = step.procedure
    if attempt.status != "completed":
        return f"{name} {attempt.status}: {attempt.error or 'no error recorded'}"
    fit = attempt.fit
    if "error" in fit:
        return f"{name}: {fit['error']}"
    if fit.get("fault"):
        return f"{name}: {fit['fault']}"
    for key, (low, high) in step.accept.items():
        value = fit.get(key)
        if not isinstance(value, int | float) or isinstance(value, bool) \
                or not math.isfinite(value):
            return f"{name}: no fit value {key} (got {value!r})"
        if not low <= value <= high:
            return f"{name}: {key} = {value:.5g} outside {step.accept_text[key]}"
    return ""


def _attempt(ds: Any) -> Attempt:
    meta = ds.metadata
    return Attempt(ds.run_id, status_of(meta), json.loads(meta.get("labrf_fit", "{}")),
                   str(meta.get("labrf_error", "")).splitlines()[0]
                   if meta.get("labrf_error") else "")


class CampaignRunner:
    """Runs ``campaign`` on a connected station into ``db``."""

    def __init__(self, campaign: Campaign, station: LabStation, db: str | Path,
                 progress: TextIO | None = sys.stderr, resume: bool = False) -> None:
        self.campaign, self.station, self.progress = campaign, station, progress
        self.db = use_database(db)
        self.resume = resume
        self.switch = station.roles[campaign.switch]
        self.history: dict[tuple[str, str], list[Attempt]] = {}
        self.runs_made = 0
        self.run_wall_s = 0.0
        self._wall0 = time.perf_counter()

    # ---------------------------------------------------------------- the record

    def _plan(self) -> str:
        return json.dumps(self.campaign.raw, sort_keys=True, default=str)

    def _new_record(self) -> Any:
        c = self.campaign
        meas = new_measurement(CAMPAIGN, c.name, {}, self.station)
        with running(meas) as saver:
            record = saver.dataset
        start_run_metadata(record, CAMPAIGN, {"file": str(Path(c.file).resolve()),
                                              "devices": len(c.devices),
                                              "procedures": [s.procedure for s in c.steps]})
        set_metadata(record, {"labrf_campaign_name": c.name,
                              "labrf_campaign_file": str(Path(c.file).resolve()),
                              "labrf_campaign_plan": self._plan(),
                              "labrf_station_file": str(self.station.spec.file)})
        return record

    def _resumed_record(self) -> Any:
        c = self.campaign
        found = runs_where(self.db, labrf_procedure=CAMPAIGN, labrf_campaign_name=c.name)
        if not found:
            raise LabrfError(f"no campaign '{c.name}' in {self.db} to resume; run it "
                             f"without --resume to start it")
        record = found[-1]
        status = status_of(record.metadata)
        if status == "running":
            raise LabrfError(f"campaign {record.run_id} ('{c.name}') is running in process "
                             f"{record.metadata.get('labrf_pid')}; wait for it or stop it")
        if record.metadata.get("labrf_campaign_plan") != self._plan():
            raise LabrfError(f"{c.file} changed since campaign {record.run_id} started "
                             f"(its devices, procedures or criteria differ); start a new "
                             f"campaign (without --resume) or restore the file")
        start_run_metadata(record, CAMPAIGN, json.loads(
            record.metadata.get("labrf_parameters", "{}")))
        for ds in runs_where(self.db, labrf_campaign=record.run_id):
            attempt = _attempt(ds)
            key = (str(ds.metadata.get("labrf_device")),
                   str(ds.metadata.get("labrf_procedure")))
            self.history.setdefault(key, []).append(attempt)
        return record

    def _write_verdicts(self, record: Any, verdicts: dict[str, Verdict]) -> None:
        set_metadata(record, {"labrf_campaign_devices": json.dumps(
            {n: asdict(v) for n, v in verdicts.items()})})

    # ---------------------------------------------------------------- the devices

    def _say(self, text: str) -> None:
        if self.progress is not None:
            self.progress.write(text + "\n")
            self.progress.flush()

    def _parameters(self, step: Step, fits: dict[str, dict[str, Any]]) -> dict[str, Any]:
        values = {}
        for name, value in step.parameters.items():
            if isinstance(value, Reference):
                found = fits.get(value.procedure, {}).get(value.key)
                if not isinstance(found, int | float) or isinstance(found, bool):
                    raise LabrfError(f"{step.procedure}: parameter {name} needs "
                                     f"{value.procedure}.{value.key}, which its fit lacks "
                                     f"(got {found!r})")
                value = float(found) + value.offset
            values[name] = value
        return values

    def _measure(self, record: Any, device: Device, step: Step,
                 fits: dict[str, dict[str, Any]]) -> Attempt:
        """One new run of ``step`` on ``device``."""
        attempts = self.history.setdefault((device.name, step.procedure), [])
        tags = {"labrf_campaign": record.run_id, "labrf_device": device.name,
                "labrf_campaign_name": self.campaign.name,
                "labrf_attempt": len(attempts) + 1}
        result: RunResult = run(step.procedure, self.station,
                                self._parameters(step, fits), db=self.db,
                                sample=device.name, progress=None, tags=tags)
        self.runs_made += 1
        self.run_wall_s += result.wall_time_s
        attempt = Attempt(result.run_id, result.status, result.fit, result.error or "")
        if result.signal:
            raise _Stopped(result.signal)
        attempts.append(attempt)
        return attempt

    def _device(self, record: Any, device: Device) -> Verdict:
        """Every step on ``device``, as far as it passes."""
        verdict = Verdict(device.name, device.position)
        allowed = 1 + (self.campaign.retries if self.campaign.on_failure == "retry" else 0)
        fits: dict[str, dict[str, Any]] = {}
        routed = False
        for step in self.campaign.steps:
            attempts = [a for a in self.history.get((device.name, step.procedure), [])
                        if a.status in ATTEMPTED]
            reasons = [judge(step, a) for a in attempts]
            while "" not in reasons and len(attempts) < allowed:
                if not routed:
                    self._route(device)
                    routed = True
                try:
                    attempt = self._measure(record, device, step, fits)
                except LabrfError as exc:  # a parameter its earlier fits cannot give
                    verdict.passed, verdict.reason = False, str(exc)
                    return verdict
                if attempt.status in ATTEMPTED:
                    attempts.append(attempt)
                    reasons.append(judge(step, attempt))
                self._say(f"  {device.name} {step.procedure}: run {attempt.run_id} "
                          f"{attempt.status}" + (f"; {reasons[-1]}" if reasons[-1] else ""))
            if "" in reasons:
                good = attempts[reasons.index("")]
                verdict.runs[step.procedure] = good.run_id
                fits[step.procedure] = good.fit
                continue
            verdict.runs[step.procedure] = attempts[-1].run_id
            verdict.passed, verdict.reason = False, reasons[-1]
            return verdict
        verdict.passed = True
        return verdict

    def _route(self, device: Device) -> None:
        """The bench safe, then the switch to ``device`` (break-before-make)."""
        self.station.safe_state()
        try:
            self.switch.switch(device.channels)
        except LimitError as exc:  # still energized after the safe state: stop everything
            raise LabrfError(f"the bench is not safe to switch to {device.name}: {exc}"
                             ) from None

    def _eta(self, done_runs: int, left_runs: int) -> str:
        if not done_runs:
            return "?"
        seconds = (time.perf_counter() - self._wall0) / done_runs * left_runs
        return f"{seconds:.0f} s"

    # ---------------------------------------------------------------- the campaign

    def run(self) -> CampaignResult:
        c = self.campaign
        record = self._resumed_record() if self.resume else self._new_record()
        verdicts = {n: Verdict(n, d.position) for n, d in c.devices.items()}
        result = CampaignResult(record.run_id, c.name, "failed", str(self.db), verdicts)
        self._say(f"campaign {record.run_id} ({c.name}): {len(c.devices)} devices x "
                  f"{len(c.steps)} procedures" + (", resumed" if self.resume else ""))
        try:
            for index, device in enumerate(c.devices.values()):
                self._say(f"[{index + 1}/{len(c.devices)}] {device.name} (channels "
                          f"{device.channels})")
                try:
                    verdicts[device.name] = self._device(record, device)
                except InstrumentError as exc:  # the switch could not route this device
                    verdicts[device.name] = Verdict(device.name, device.position, False,
                                                    f"switch: {exc}")
                self._write_verdicts(record, verdicts)
                v = verdicts[device.name]
                left = (len(c.devices) - index - 1) * len(c.steps)
                self._say(f"  {device.name}: {'passed' if v.passed else 'FAILED: ' + v.reason}"
                          f"  ({index + 1}/{len(c.devices)} devices, ETA "
                          f"{self._eta(self.runs_made, left)})")
                if v.passed is False and c.on_failure == "stop":
                    result.status = "stopped"
                    break
            else:
                result.status = "completed"
        except KeyboardInterrupt as exc:  # a stop signal between runs
            result.status, result.signal = "aborted", signal_name(exc)
            result.error = describe(exc)
        except _Stopped as exc:  # a stop signal during a run (the run is aborted)
            result.status, result.signal = "aborted", exc.signal
            result.error = f"stopped by {exc.signal}"
        except LabrfError as exc:  # the bench failed: nothing more is safe to try
            result.status, result.error = "failed", str(exc)
        finally:
            with shielded():
                self._finish(record, result)
        result.runs_made = self.runs_made
        result.run_wall_time_s = self.run_wall_s
        result.wall_time_s = time.perf_counter() - self._wall0
        return result

    def _finish(self, record: Any, result: CampaignResult) -> None:
        try:
            self.station.safe_state()
        except LabrfError as exc:
            result.status = "failed"
            result.error = (result.error + "; " if result.error else "") + \
                f"safe state: {exc}"
        self._write_verdicts(record, result.verdicts)
        set_metadata(record, {"labrf_status": result.status,
                              "labrf_error": result.error or ""})


class _Stopped(Exception):
    """A run of the campaign was aborted by a stop signal."""

    def __init__(self, signal: str) -> None:
        super().__init__(signal)
        self.signal = signal


def run_campaign(campaign: Campaign, db: str | Path, *, resume: bool = False,
                 progress: TextIO | None = sys.stderr) -> CampaignResult:
    """Connect ``campaign``'s station and run the campaign into ``db``."""
    from labrf.station import load_station

    use_database(db)
    with load_station(campaign.station.file) as station:
        return CampaignRunner(campaign, station, db, progress, resume).run()
