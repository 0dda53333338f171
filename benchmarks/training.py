"""Chip-in-the-loop training on the simulated nine-junction bench: estimator x task x seed.

Runs ``chip-in-the-loop`` through the runner on ``station_configs/sim_network.yaml``
(2 % device spread, 0.5 dB spread of the RF paths, noise on) for every estimator, task
and seed, after one synapse and one neuron calibration, and prints per run and then per
estimator and task (medians over the seeds): final test accuracy (analyzer, 400 held-out
examples), training forward passes, passes until the validation accuracy first reached
97.7 %, instrument time and wall time. Every estimator uses the calibrated model;
``offline`` also runs with the bare design. Then the two comparisons the training is
for: how much worse ``offline`` is, and how many times more passes ``spsa`` and
``finite-difference`` need than ``physics-aware`` to reach 97.7 % validation accuracy
(0 where the offline start already has it).

    python benchmarks/training.py [--seeds 3] [--epochs 20] [--tasks xor circles moons]
    python benchmarks/training.py --start design --epochs 20 \
        --estimators physics-aware spsa finite-difference
    python benchmarks/training.py --path-imbalance 0 0.5 1 --estimators offline physics-aware

``--path-imbalance`` runs the whole table once per spread of the RF paths' transmissions
(dB, one sigma; the station file's own figure by default), on a copy of the station file.
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import tempfile
import time
from pathlib import Path

import yaml

from labrf.runner import run
from labrf.station import load_station

STATION = Path(__file__).resolve().parents[1] / "station_configs" / "sim_network.yaml"
ESTIMATORS = ("offline", "physics-aware", "spsa", "finite-difference")


def _passes(value: float) -> str:
    return "never" if math.isinf(value) else f"{value:.0f}"


def _ratio(theirs: dict[str, float], pa: dict[str, float]) -> str:
    """How many times physics-aware's passes to the target the other estimator needed:
    a lower bound (its whole budget) where it never got there."""
    if math.isinf(pa["to_target"]):
        return "physics-aware did not reach it"
    if pa["to_target"] == 0:
        return "the offline start already reaches it"
    if math.isinf(theirs["to_target"]):
        return (f"> {theirs['passes'] / pa['to_target']:.1f}x (not reached in its "
                f"{theirs['passes']:.0f} passes)")
    return f"{theirs['to_target'] / pa['to_target']:.1f}x"


def station_file(tmp: Path, path_imbalance: float | None) -> Path:
    """The benchmark's station file, or a copy of it in ``tmp`` with the chip's
    ``path_imbalance`` set to ``path_imbalance`` dB."""
    if path_imbalance is None:
        return STATION
    data = yaml.safe_load(STATION.read_text())
    data["labrf"]["simulation"]["devices"]["chip"]["path_imbalance"] = f"{path_imbalance} dB"
    copy = tmp / f"sim_network_{path_imbalance:g}dB.yaml"
    copy.write_text(yaml.safe_dump(data, sort_keys=False))
    return copy


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--tasks", nargs="+", default=["xor", "circles", "moons"])
    parser.add_argument("--estimators", nargs="+", default=list(ESTIMATORS))
    parser.add_argument("--start", choices=["model", "design"], default="model",
                        help="start from the offline solution of the calibrated model, or "
                             "of the bare design (far from the target)")
    parser.add_argument("--path-imbalance", type=float, nargs="+", default=[None],
                        metavar="DB", help="spread(s) of the RF paths' transmissions, dB")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        for imbalance in args.path_imbalance:
            if imbalance is not None:
                print(f"\n=== RF path imbalance {imbalance:g} dB ===", flush=True)
            status = table(args, station_file(Path(tmp), imbalance), Path(tmp))
            if status:
                return status
    return 0


def table(args: argparse.Namespace, station_path: Path, tmp: Path) -> int:
    """Run and print the table for one station file; non-zero if a run did not complete."""
    rows = []
    with load_station(station_path) as station:
        db = tmp / f"training_{station_path.stem}.db"
        runs = [(e, "calibrated") for e in args.estimators]
        if "offline" in args.estimators:
            runs.insert(0, ("offline", "design"))
        print(f"{'task':8} {'seed':>4} {'estimator':18} {'model':10} {'test acc':>8} "
              f"{'passes':>7} {'to 97.7%':>8} {'instr. s':>9} {'wall s':>7}", flush=True)
        for task in args.tasks:
            for seed in range(args.seeds):
                for estimator, model in runs:
                    wall = time.perf_counter()
                    result = run("chip-in-the-loop", station,
                                 {"task": task, "estimator": estimator, "seed": seed,
                                  "model": model, "epochs": args.epochs,
                                  "start": args.start}, db=db,
                                 progress=None)
                    wall = time.perf_counter() - wall
                    if result.status != "completed":
                        print(f"{task} {seed} {estimator}: {result.status} {result.error}",
                              file=sys.stderr)
                        return 1
                    fit = result.fit
                    row = {"task": task, "seed": seed, "estimator": estimator,
                           "model": model, "accuracy": fit["test_accuracy"],
                           "passes": fit["hardware_forward_passes"],
                           "to_target": fit["passes_to_target"],
                           "instrument": result.instrument_time_s, "wall": wall}
                    rows.append(row)
                    to_target = "-" if row["to_target"] is None else str(row["to_target"])
                    print(f"{task:8} {seed:4d} {estimator:18} {model:10} "
                          f"{row['accuracy']:8.4f} {row['passes']:7d} {to_target:>8} "
                          f"{row['instrument']:9.0f} {wall:7.1f}", flush=True)

    print("\nmedians over seeds")
    print(f"{'task':8} {'estimator':18} {'model':10} {'test acc':>8} {'passes':>7} "
          f"{'to 97.7%':>8} {'reached':>7} {'instr. s':>9} {'wall s':>7}")
    summary = {}
    for task in args.tasks:
        for estimator, model in runs:
            sel = [r for r in rows if r["task"] == task and r["estimator"] == estimator
                   and r["model"] == model]
            reached = [r["to_target"] for r in sel if r["to_target"] is not None]
            med = {k: statistics.median([r[k] for r in sel]) for k in ("accuracy", "passes",
                                                             "instrument", "wall")}
            # a seed that never reached the target counts as infinitely many passes
            med["to_target"] = statistics.median(
                [math.inf if r["to_target"] is None else r["to_target"] for r in sel])
            summary[task, estimator, model] = med
            print(f"{task:8} {estimator:18} {model:10} {med['accuracy']:8.4f} "
                  f"{med['passes']:7.0f} {_passes(med['to_target']):>8} "
                  f"{len(reached)}/{len(sel):<5} {med['instrument']:9.0f} {med['wall']:7.1f}")

    if ("physics-aware" in args.estimators) and ("offline" in args.estimators):
        print("\noffline against physics-aware (median test accuracy)")
        for task in args.tasks:
            pa = summary[task, "physics-aware", "calibrated"]["accuracy"]
            for model in ("design", "calibrated"):
                off = summary[task, "offline", model]["accuracy"]
                print(f"  {task:8} offline ({model} model) {off:.4f}, physics-aware "
                      f"{pa:.4f}: offline is {100 * (pa - off):+.1f} points worse")
    if "physics-aware" in args.estimators:
        print("\npasses to reach 97.7 % validation accuracy, ratio to physics-aware "
              "(medians over seeds, a seed that never reached it counting as infinite; "
              f"budgets: {args.epochs} epochs)")
        for task in args.tasks:
            pa = summary[task, "physics-aware", "calibrated"]
            for other in ("spsa", "finite-difference"):
                if other not in args.estimators:
                    continue
                theirs = summary[task, other, "calibrated"]
                print(f"  {task:8} {other:18} {_passes(theirs['to_target'])} vs "
                      f"{_passes(pa['to_target'])}: {_ratio(theirs, pa)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
