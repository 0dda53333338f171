"""Simulated studies: many simulated chips, each a full chip-in-the-loop training (or any
procedure) or a full campaign on its own simulated bench, run on a Dask cluster.

.. code-block:: yaml

    study: spread-xor
    station: sim_network.yaml       # the bench every point starts from
    procedure: chip-in-the-loop     # or  campaign: sim_chip.yaml
    parameters: {epochs: 10}        # the procedure's parameters, for every point
    grid:                           # every combination is a point...
      seed: [0, 1, 2, 3]            # the simulated chip's seed: each a different chip
      variability: [1 %, 3 %]       # device-to-device spread
      path_imbalance: [0.5 dB]      # RF-path spread of the network devices
      estimator: [physics-aware]    # any procedure parameter
    sample: 6                       # ...or this many of them, drawn with sample_seed
    sample_seed: 0

Each point writes its station (the base one with the point's simulation values) and a
database into a temporary folder of the worker, runs, and returns one row: the point's
values, the status and the scalar results (a fit's, or a campaign's counts). Rows are
seeded, so the same study run serially (``serial=True``) gives the same table, row for
row. The client gathers the rows into one table (``study.csv``, ``study.parquet``) and
records the study in its database (procedure ``study``, the table in its metadata).
A worker that dies has its points rerun by the Dask scheduler.
"""

from __future__ import annotations

import itertools
import json
import math
import re
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import numpy as np
import pandas as pd
import yaml

from labrf.errors import ConfigError, LabrfError, UsageError
from labrf.paths import writable_folder
from labrf.station import KeyChecker

TOP_KEYS = ("study", "station", "procedure", "campaign", "parameters", "grid", "sample",
            "sample_seed")
SIMULATION_KEYS = ("seed", "variability", "path_imbalance")
STUDY = "study"  #: the procedure name of a study's record
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*")
SPAWN_ENVIRON = "distributed.nanny.pre-spawn-environ"  #: Dask's environment of workers
TIMING = ("wall_time_s",)  #: columns that differ between runs of the same point
#: results naming files of the point's temporary folder, gone once it has run
LOCAL_FILES = ("checkpoint", "resumed_from", "plot")


@dataclass(frozen=True)
class Point:
    """One simulated chip of a study, self-contained (it travels to a worker)."""

    index: int
    station: dict[str, Any]  #: the station file's mapping, with the point's simulation
    values: dict[str, Any]  #: the grid values of this point, as written
    procedure: str | None = None
    parameters: dict[str, Any] = field(default_factory=dict)  #: SI values
    campaign: dict[str, Any] | None = None  #: a campaign file's mapping


@dataclass
class Study:
    """A validated study file."""

    file: str
    name: str
    points: list[Point]


def _simulated(station: dict[str, Any], key: str, value: Any, r: KeyChecker) -> None:
    """Put a grid value into the station mapping's simulation section."""
    from labrf.units import to_base

    sim = station["labrf"]["simulation"]
    if key == "seed":
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise r.fail("grid.seed", f"{value!r} is not a seed (an integer >= 0)")
        sim["seed"] = value
    elif key == "variability":
        sim["variability"] = value
    else:
        networks = [d for d in sim.get("devices", {}).values()
                    if isinstance(d, dict) and d.get("kind") == "network"]
        if not networks:
            raise r.fail("grid.path_imbalance", "the station has no network device to "
                                                "give a path imbalance to")
        try:
            to_base(value)
        except LabrfError as exc:
            raise r.fail("grid.path_imbalance", f"{value!r}: {exc}") from None
        for device in networks:
            device["path_imbalance"] = value


def parse_study(data: Any, file: str) -> Study:
    """Validate a study mapping read from ``file``: every point's station and parameters
    are checked here, before anything runs."""
    import copy

    from labrf.campaign import parse_campaign
    from labrf.runner import configured, parse_value, procedure_class
    from labrf.sim.config import read_yaml
    from labrf.station import parse_station

    r = KeyChecker(file)
    data = r.mapping(data, "")
    r.only(data, "", TOP_KEYS)
    name = data.get("study")
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise r.fail("study", f"{name!r}: give the study a name of letters, digits, '-' "
                              f"and '_'")
    here = Path(file).parent
    if ("procedure" in data) == ("campaign" in data):
        raise r.fail("procedure", "name either a procedure (each point one run) or a "
                                  "campaign file (each point a whole campaign)")
    campaign = None
    if "campaign" in data:
        from labrf.shipped import campaign_path

        local = here / str(data["campaign"])
        try:
            campaign = read_yaml(campaign_path(local if local.exists() else
                                               str(data["campaign"])))
            base = parse_campaign(campaign, str(local if local.exists() else
                                                campaign_path(str(data["campaign"]))))
        except ConfigError as exc:
            raise r.fail("campaign", str(exc)) from None
        station_file = base.station.file
        procedure = None
    else:
        procedure = data["procedure"]
        try:
            cls = procedure_class(str(procedure))
        except UsageError as exc:
            raise r.fail("procedure", str(exc)) from None
        station_name = data.get("station")
        if not isinstance(station_name, str):
            raise r.fail("station", "missing: name the station file every point starts "
                                    "from (e.g. sim_network.yaml)")
        local = here / station_name
        station_file = str(local if local.exists() else station_name)
    try:
        station = read_yaml(station_file)
        parse_station(copy.deepcopy(station), str(station_file))
    except ConfigError as exc:
        raise r.fail("station", str(exc)) from None
    if not isinstance(station.get("labrf", {}).get("simulation"), dict):
        raise r.fail("station", f"{station_file} has no simulation section: a study runs "
                                f"on simulated chips only")
    options = cls().parameter_objects() if procedure else {}
    fixed = {}
    for pname, value in r.mapping(data.get("parameters") or {}, "parameters").items():
        if pname not in options:
            raise r.fail(f"parameters.{pname}", f"{procedure or 'a campaign'} has no "
                                                f"parameter {pname}; valid: "
                                                f"{', '.join(options) or 'none'}")
        try:
            fixed[pname] = parse_value(options[pname], str(value))
        except (LabrfError, ValueError) as exc:
            raise r.fail(f"parameters.{pname}", f"{value!r}: {exc}") from None
    grid = r.mapping(data.get("grid"), "grid")
    if not grid:
        raise r.fail("grid", "empty: give at least one key with a list of values, e.g. "
                             "seed: [0, 1, 2, 3]")
    for key, values in grid.items():
        if key not in SIMULATION_KEYS and key not in options:
            raise r.fail(f"grid.{key}", f"unknown key; valid: {', '.join(SIMULATION_KEYS)}"
                                        + (f", or a parameter of {procedure}: "
                                           f"{', '.join(options)}" if options else ""))
        if not isinstance(values, list) or not values:
            raise r.fail(f"grid.{key}", f"{values!r} is not a non-empty list of values")
        for value in values:  # each value checked, also those a sample leaves out
            if key in SIMULATION_KEYS:
                _simulated(copy.deepcopy(station), key, value, r)
                continue
            try:
                configured(str(procedure), {**fixed, key: parse_value(options[key],
                                                                      str(value))})
            except (LabrfError, ValueError) as exc:
                raise r.fail(f"grid.{key}", f"{value!r}: {exc}") from None
    combos = [dict(zip(grid, c, strict=True)) for c in itertools.product(*grid.values())]
    sample = data.get("sample")
    if sample is not None:
        if isinstance(sample, bool) or not isinstance(sample, int) or not \
                1 <= sample <= len(combos):
            raise r.fail("sample", f"{sample!r}: draw 1 to {len(combos)} of the grid's "
                                   f"{len(combos)} points")
        seed = data.get("sample_seed", 0)
        if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
            raise r.fail("sample_seed", f"{seed!r} is not a seed (an integer >= 0)")
        chosen = np.random.default_rng(seed).choice(len(combos), size=sample, replace=False)
        combos = [combos[i] for i in sorted(chosen)]
    points = []
    for index, values in enumerate(combos):
        point_station = copy.deepcopy(station)
        parameters = dict(fixed)
        for key, value in values.items():
            if key in SIMULATION_KEYS:
                _simulated(point_station, key, value, r)
            else:
                try:
                    parameters[key] = parse_value(options[key], str(value))
                except (LabrfError, ValueError) as exc:
                    raise r.fail(f"grid.{key}", f"{value!r}: {exc}") from None
        try:
            parse_station(copy.deepcopy(point_station), f"{file} (point {index})")
            if procedure:
                configured(str(procedure), parameters)
        except (ConfigError, UsageError) as exc:
            raise r.fail("grid", f"point {index} {values}: {exc}") from None
        points.append(Point(index, point_station, values, procedure, parameters, campaign))
    return Study(file, name, points)


def read_study(path: str | Path) -> Study:
    """Read and validate a study file."""
    from labrf.shipped import campaign_path
    from labrf.sim.config import read_yaml

    try:
        path = campaign_path(path)  # the shipped studies sit beside the shipped campaigns
    except ConfigError as exc:
        raise ConfigError(exc.reason.replace("campaign file", "study file"),
                          file=str(path)) from None
    if not path.is_file():
        raise ConfigError("study file not found", file=str(path))
    return parse_study(read_yaml(path), str(path))


def _scalars(values: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in values.items()
            if isinstance(v, int | float | str | bool) or v is None}


def run_point(point: Point) -> dict[str, Any]:
    """Run one point on its own simulated bench, in a temporary folder; its row. Never
    raises for what the point does: a failure is the row's status and error."""
    from labrf.station import load_station

    wall0 = time.perf_counter()
    row: dict[str, Any] = {"point": point.index, **point.values}
    with tempfile.TemporaryDirectory(prefix="labrf-study-") as folder:
        station_file = Path(folder) / "station.yaml"
        station_file.write_text(yaml.safe_dump(point.station, sort_keys=False))
        db = Path(folder) / "point.db"
        try:
            if point.campaign is not None:
                row.update(_campaign_point(point, station_file, db))
            else:
                from labrf.runner import run

                with load_station(station_file) as station:
                    result = run(str(point.procedure), station, point.parameters, db=db,
                                 progress=None)
                row["status"] = result.status
                row["error"] = result.error or ""
                row.update({k: v for k, v in _scalars(result.fit).items()
                            if k not in row and k not in LOCAL_FILES})
        except LabrfError as exc:  # a bench or file that failed: the row says so
            row["status"], row["error"] = "failed", str(exc)
    row["wall_time_s"] = time.perf_counter() - wall0
    return row


def _campaign_point(point: Point, station_file: Path, db: Path) -> dict[str, Any]:
    from labrf.campaign import parse_campaign
    from labrf.campaign_run import run_campaign

    assert point.campaign is not None
    data = {**point.campaign, "station": str(station_file)}
    result = run_campaign(parse_campaign(data, str(station_file.parent / "campaign.yaml")),
                          db, progress=None)
    return {"status": result.status, "error": result.error or "",
            "devices": len(result.devices), "passed": len(result.passed),
            "failed": ",".join(result.failed)}


@dataclass
class StudyResult:
    study: int  #: the study's record in the database
    name: str
    table: pd.DataFrame
    files: dict[str, Path]
    wall_time_s: float
    workers: int

    def json_line(self) -> str:
        statuses = self.table["status"].value_counts().to_dict() if len(self.table) else {}
        return json.dumps({"study": self.study, "name": self.name,
                           "points": len(self.table), "statuses": statuses,
                           "workers": self.workers, "wall_time_s": self.wall_time_s,
                           **{k: str(v) for k, v in self.files.items()}})


def _client(dask: str, workers: int) -> tuple[Any, Any]:
    from dask import config as dask_config
    from distributed import Client, LocalCluster

    if dask == "local":
        # Dask's workers trim malloc's heap from 64 kB up: the simulated bench's many
        # small allocations then cost page faults (a point took 25 % longer in a worker)
        with dask_config.set({f"{SPAWN_ENVIRON}.MALLOC_TRIM_THRESHOLD_": None}):
            cluster = LocalCluster(n_workers=workers, threads_per_worker=1,
                                   processes=True, dashboard_address=None)
        return Client(cluster), cluster
    if not re.fullmatch(r"(tcp|tls)://[^\s/:]+:\d+", dask):
        raise UsageError(f"--dask {dask!r}: give 'local' or a scheduler address such as "
                         f"tcp://10.0.0.5:8786")
    try:
        return Client(dask, timeout=10), None
    except OSError as exc:
        raise LabrfError(f"--dask {dask}: no scheduler answered ({exc})") from None


def run_study(study: Study, db: str | Path, *, dask: str = "local", workers: int = 2,
              serial: bool = False, out: Path | None = None,
              progress: TextIO | None = sys.stderr) -> StudyResult:
    """Run every point of ``study``, serially in this process or on Dask, and record
    the gathered table in ``db`` (and as CSV and parquet in ``out``)."""
    from labrf.data import use_database

    db = use_database(db)
    if out is not None:
        writable_folder(out)
    wall0 = time.perf_counter()
    rows: list[dict[str, Any]] = []

    def done(row: dict[str, Any]) -> None:
        rows.append(row)
        if progress is not None:
            elapsed = time.perf_counter() - wall0
            eta = elapsed / len(rows) * (len(study.points) - len(rows))
            progress.write(f"[{len(rows)}/{len(study.points)}] point {row['point']} "
                           f"{row.get('status')}  ETA {eta:.0f} s\n")
            progress.flush()

    if serial:
        workers = 1
        for point in study.points:
            done(run_point(point))
    else:
        from distributed import as_completed

        client, cluster = _client(dask, workers)
        try:
            workers = len(client.scheduler_info()["workers"]) or workers
            futures = client.map(run_point, study.points, pure=False)
            for future in as_completed(futures):
                done(future.result())
        finally:
            client.close()
            if cluster is not None:
                cluster.close()
    table = pd.DataFrame(sorted(rows, key=lambda r: r["point"]))
    record, files = _record(study, db, table, out)
    return StudyResult(record, study.name, table, files, time.perf_counter() - wall0,
                       workers)


def _record(study: Study, db: Path, table: pd.DataFrame, out: Path | None
            ) -> tuple[int, dict[str, Path]]:
    from labrf.data import (
        new_measurement,
        running,
        set_metadata,
        start_run_metadata,
        use_database,
    )

    use_database(db)  # each point ran on a database of its own
    with running(new_measurement(STUDY, study.name, {})) as saver:
        record = saver.dataset
    start_run_metadata(record, STUDY, {"file": str(Path(study.file).resolve()),
                                       "points": len(study.points)})
    clean = table.astype(object).where(table.notna(), None)
    set_metadata(record, {"labrf_study_table": json.dumps(clean.to_dict("records"),
                                                          default=_jsonable),
                          "labrf_status": "completed"})
    out = out if out is not None else db.parent / f"study_{record.run_id}"
    out.mkdir(parents=True, exist_ok=True)
    files = {"csv": out / "study.csv", "parquet": out / "study.parquet"}
    table.to_csv(files["csv"], index=False)
    table.to_parquet(files["parquet"], index=False)
    return record.run_id, files


def _jsonable(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return str(value)


def same_results(a: pd.DataFrame, b: pd.DataFrame) -> bool:
    """Whether two study tables agree row for row (timing columns aside)."""
    keep = [c for c in a.columns if c not in TIMING]
    return list(a.columns) == list(b.columns) and a[keep].equals(b[keep])
