"""Per-point overhead of a labrf sweep against QCoDeS ``do1d`` and a PyMeasure ``Worker``.

All three sweep the same simulated SMB100A frequency and read the same simulated 2182A
through the same roles, drivers and in-process bench, and record each point. A bare loop
of the same set and get, recording nothing, is the baseline; a method's overhead per point
is its time per point minus the baseline's. Everything is measured in one run.
Methods run in rotating order; medians over the repeats.
Run: ``python benchmarks/overhead.py [--points N] [--repeats R]``.
"""

from __future__ import annotations

import argparse
import logging
import math
import statistics
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

from labrf.procedure import Column, LabProcedure
from labrf.runner import Runner
from labrf.station import LabStation, load_station

STATION = Path(__file__).resolve().parents[1] / "station_configs" / "sim_bench.yaml"


class BenchSweep(LabProcedure):
    """The sweep every method runs: set the RF frequency, read the voltmeter."""

    name = "overhead-sweep"
    COLUMNS = {"frequency": Column("Hz"), "voltage": Column("V", setpoints=("frequency",))}

    def execute(self) -> None:
        rf, meter = self.station.roles["rf_source"], self.station.roles["nanovoltmeter"]
        freqs = self.freqs
        for k, f in enumerate(freqs):
            rf.frequency(float(f))
            self.emit("results", {"frequency": float(f), "voltage": meter.voltage()})
            self.emit("progress", 100.0 * (k + 1) / len(freqs))


def bare(station: LabStation, freqs: np.ndarray) -> float:
    rf, meter = station.roles["rf_source"], station.roles["nanovoltmeter"]
    t0 = time.perf_counter()
    for f in freqs:
        rf.frequency(float(f))
        meter.voltage()
    return time.perf_counter() - t0


def labrf_runner(station: LabStation, freqs: np.ndarray, db: Path) -> float:
    proc = BenchSweep()
    proc.freqs = freqs
    runner = Runner(proc, station, db, progress=None)
    t0 = time.perf_counter()
    result = runner.run()
    assert result.points == len(freqs), result
    return time.perf_counter() - t0


def qcodes_do1d(station: LabStation, freqs: np.ndarray, db: Path) -> float:
    from qcodes.dataset import do1d, initialise_or_create_database_at, load_or_create_experiment

    initialise_or_create_database_at(str(db))
    exp = load_or_create_experiment("do1d", sample_name="bench")
    rf, meter = station.roles["rf_source"], station.roles["nanovoltmeter"]
    t0 = time.perf_counter()
    do1d(rf.frequency, float(freqs[0]), float(freqs[-1]), len(freqs), 0.0, meter.voltage,
         exp=exp, do_plot=False, show_progress=False)
    return time.perf_counter() - t0


def pymeasure_worker(station: LabStation, freqs: np.ndarray, folder: Path) -> float:
    from pymeasure.experiment import Procedure, Results, Worker

    class Sweep(Procedure):
        DATA_COLUMNS = ["frequency", "voltage"]

        def execute(self) -> None:
            rf, meter = station.roles["rf_source"], station.roles["nanovoltmeter"]
            for k, f in enumerate(freqs):
                rf.frequency(float(f))
                self.emit("results", {"frequency": float(f), "voltage": meter.voltage()})
                self.emit("progress", 100.0 * (k + 1) / len(freqs))

    results = Results(Sweep(), str(folder / "worker.csv"))
    worker = Worker(results)
    t0 = time.perf_counter()
    worker.start()
    worker.join(timeout=600)
    return time.perf_counter() - t0


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--points", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=8)
    args = parser.parse_args(argv)
    logging.disable(logging.WARNING)
    warnings.simplefilter("ignore")
    freqs = np.linspace(240e6, 260e6, args.points)
    times: dict[str, list[float]] = {"bare loop": [], "labrf runner": [], "QCoDeS do1d": [],
                                     "PyMeasure Worker": []}
    with tempfile.TemporaryDirectory() as tmp, load_station(STATION) as station:
        folder = Path(tmp)
        station.roles["nanovoltmeter"].nplc(0.01)
        methods = {
            "bare loop": lambda r: bare(station, freqs),
            "labrf runner": lambda r: labrf_runner(station, freqs, folder / "labrf.db"),
            "QCoDeS do1d": lambda r: qcodes_do1d(station, freqs, folder / f"q{r}.db"),
            "PyMeasure Worker": lambda r: pymeasure_worker(station, freqs, folder),
        }
        order = list(methods)
        for r in range(args.repeats):  # the order rotates, so no method always goes first
            for name in order[r % len(order):] + order[:r % len(order)]:
                times[name].append(methods[name](r))
    print(f"{args.points} points, {args.repeats} runs of each; per point in us; overhead = "
          f"time per point minus the bare loop's")
    for label, stat in (("fastest run", min), ("median run", statistics.median)):
        per_point = {k: stat(v) / args.points * 1e6 for k, v in times.items()}
        overhead = {k: v - per_point["bare loop"] for k, v in per_point.items()}
        print(f"\n{label}:")
        print(f"{'method':<18}{'per point':>12}{'overhead':>12}{'overhead / do1d':>18}")
        for k in times:
            ratio = overhead[k] / overhead["QCoDeS do1d"] if k != "bare loop" else math.nan
            print(f"{k:<18}{per_point[k]:12.1f}{overhead[k]:12.1f}{ratio:18.2f}")


if __name__ == "__main__":
    main()
