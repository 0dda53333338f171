"""Campaign overhead and study scaling.

1. ``campaigns/sim_chip.yaml`` on the simulated chip: wall time per device against the sum
   of its runs' wall times (what the campaign itself costs: switching, safe states,
   judging, its record).
2. A study of ``--chips`` simulated nine-junction chips, each a chip-in-the-loop XOR
   training of ``--epochs`` epochs: wall time serially in this process, on a 1-worker and
   on a 2-worker Dask ``LocalCluster`` (cluster start-up included), the tables compared
   row for row. Target: 2 workers <= 0.65 x serial on a 2-core machine.

Run: ``python benchmarks/campaign.py [--chips 16] [--epochs 10] [--json FILE]``.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

from labrf.campaign import read_campaign
from labrf.campaign_run import run_campaign
from labrf.study import parse_study, run_study, same_results

ROOT = Path(__file__).resolve().parents[1]


def campaign_overhead(folder: Path) -> dict[str, Any]:
    result = run_campaign(read_campaign(ROOT / "campaigns" / "sim_chip.yaml"),
                          folder / "campaign.db", progress=None)
    devices = len(result.devices)
    overhead = result.wall_time_s - result.run_wall_time_s
    return {"devices": devices, "runs": result.runs_made, "failed": result.failed,
            "wall_s": result.wall_time_s, "runs_wall_s": result.run_wall_time_s,
            "wall_per_device_s": result.wall_time_s / devices,
            "runs_per_device_s": result.run_wall_time_s / devices,
            "overhead_per_device_s": overhead / devices,
            "overhead_fraction": overhead / result.wall_time_s}


def study_scaling(folder: Path, chips: int, epochs: int) -> dict[str, Any]:
    data = {"study": "bench", "station": "sim_network.yaml",
            "procedure": "chip-in-the-loop", "parameters": {"epochs": epochs},
            "grid": {"seed": list(range(chips))}}
    (folder / "study.yaml").write_text(yaml.safe_dump(data))
    study = parse_study(data, str(folder / "study.yaml"))
    times, tables = {}, {}
    for mode, options in (("serial", {"serial": True}), ("1 worker", {"workers": 1}),
                          ("2 workers", {"workers": 2})):
        t0 = time.perf_counter()
        result = run_study(study, folder / "study.db", progress=None,
                           out=folder / mode.replace(" ", "_"), **options)
        times[mode] = time.perf_counter() - t0
        tables[mode] = result.table
    return {"chips": chips, "epochs": epochs, "seconds": times,
            "ratio_1_worker": times["1 worker"] / times["serial"],
            "ratio_2_workers": times["2 workers"] / times["serial"],
            "same_table_1_worker": same_results(tables["serial"], tables["1 worker"]),
            "same_table_2_workers": same_results(tables["serial"], tables["2 workers"]),
            "mean_test_accuracy": float(tables["serial"]["test_accuracy"].mean())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chips", type=int, default=16,
                        help="simulated chips (default 16: on 8, the cluster start-up and "
                             "the workers' first imports are a tenth of the time)")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        camp = campaign_overhead(folder)
        print(f"campaign sim_chip: {camp['devices']} devices, {camp['runs']} runs, failed "
              f"{', '.join(camp['failed'])}; {camp['wall_per_device_s']:.2f} s per device "
              f"against {camp['runs_per_device_s']:.2f} s in its runs: overhead "
              f"{camp['overhead_per_device_s'] * 1e3:.0f} ms per device "
              f"({100 * camp['overhead_fraction']:.1f} %)")
        study = study_scaling(folder, args.chips, args.epochs)
    print(f"study of {study['chips']} chips (chip-in-the-loop XOR, {study['epochs']} "
          f"epochs):")
    for mode, seconds in study["seconds"].items():
        print(f"  {mode:<10} {seconds:7.1f} s  ({seconds / study['seconds']['serial']:.2f} x "
              f"serial)")
    print(f"  same table as serial: 1 worker {study['same_table_1_worker']}, 2 workers "
          f"{study['same_table_2_workers']}; target 2 workers <= 0.65 x serial: "
          f"{'met' if study['ratio_2_workers'] <= 0.65 else 'NOT met'}")
    if args.json:
        Path(args.json).write_text(json.dumps({"campaign": camp, "study": study}, indent=2))


if __name__ == "__main__":
    main()
