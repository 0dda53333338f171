"""Twins and chips of the general network model: accuracy, speed, memory, and what device
spread does to offline weights and to training with the chip in the loop.

Per task (drone 256-128-10, digits 64-32-10), median of 3 seeds:
- the ideal twin (no spread): test accuracy after ``--epochs``, seconds per epoch, beside a
  dense MLP of the same sizes trained by the same loop (the baseline of the same run);
- per spread (2 %, 5 %, each with 0.5 dB path imbalance): a simulated chip made to the
  design from its own seed, the model a lab holds after calibrating it (resonances,
  thresholds and neuron frequencies measured; sensitivities, powers and paths as
  designed); the twin's knobs written through that calibration (offline-to-chip
  accuracy); then physics-aware training with the chip in the loop from there (forward on
  the chip, backward through the calibrated model at the chip's chain voltages), with its
  chip passes (training sets forwarded);
- on the digits chip at 2 %: chip passes to reach 95 % test accuracy from the starting
  knobs, physics-aware against SPSA (a seed that never gets there counts as infinite;
  the ratio is then a lower bound: SPSA's whole budget over physics-aware's passes).
The chip in these rows is the network model with the chip's devices, evaluated directly.
Then, per ``--chip-tasks`` (digits; drone with ``--chip-tasks digits,drone``), the same
through the simulated bench's instruments (``benchmarks/chip_in_the_loop.py``): the chip
calibrated by its chain voltmeter and analyzers, offline-to-chip and physics-aware
accuracies and hardware passes at 0, 2 and 5 % spread, SPSA beside physics-aware at 2 %,
median of ``--chip-seeds``.
Peak memory is the process's resident peak after the drone twins (they run first).
Run: ``python benchmarks/networks.py --data ../shared/data/RadioSpin_D62_RF_fingerprinting.h5
[--epochs 40] [--seeds 3] [--json FILE]``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path
from typing import Any

import numpy as np

from labrf.network.design import (
    DEFAULT_INPUT_POWER,
    calibrated,
    design_network,
    initial_knobs,
    perturbed,
    transfer_knobs,
)
from labrf.training.datasets import DEFAULT_HIDDEN, TwinData, load_task
from labrf.training.twin import dense_baseline, evaluate, train_in_the_loop, train_twin
from labrf.training.twin_run import peak_memory_mb

SPREADS = (0.02, 0.05)
IMBALANCE_DB = 0.5
TARGET = 0.95


def _median(values: list[float]) -> float:
    return float(statistics.median(values))


def task_rows(data: TwinData, epochs: int, seeds: int, loop_epochs: int) -> dict[str, Any]:
    sizes = (data.inputs, *DEFAULT_HIDDEN[data.name], len(data.classes))
    scale = data.power_scale(DEFAULT_INPUT_POWER)
    twins, dense = [], []
    for seed in range(seeds):
        design = design_network(sizes, seed=seed)
        result = train_twin(design, data, initial_knobs(design, seed), epochs=epochs,
                            seed=seed, power_scale=scale)
        twins.append((design, result))
        dense.append(dense_baseline(data, sizes[1:-1], epochs=epochs, seed=seed))
        print(f"  {data.name} seed {seed}: twin {100 * result.history[-1].test_accuracy:.2f} "
              f"%, {result.seconds_per_epoch:.3f} s/epoch; dense "
              f"{100 * dense[-1][-1].test_accuracy:.2f} %", file=sys.stderr, flush=True)
    out: dict[str, Any] = {
        "task": data.name, "layers": list(sizes), "epochs": epochs,
        "twin_test_accuracy": _median([r.history[-1].test_accuracy for _, r in twins]),
        "twin_seconds_per_epoch": _median([r.seconds_per_epoch for _, r in twins]),
        "dense_test_accuracy": _median([h[-1].test_accuracy for h in dense]),
        "dense_seconds_per_epoch": _median([float(np.mean([e.seconds for e in h]))
                                           for h in dense]),
        "peak_memory_mb": peak_memory_mb(), "spreads": []}
    for spread in SPREADS:
        offline, loop, passes = [], [], []
        for seed, (design, result) in enumerate(twins):
            chip = perturbed(design, spread, IMBALANCE_DB, seed=1000 + seed)
            model = calibrated(design, chip)
            written = transfer_knobs(design, chip, result.knobs)
            offline.append(evaluate(chip, written, data.test_x, data.test_y, scale)[0])
            tuned = train_in_the_loop(model, chip, data, written, epochs=loop_epochs,
                                      seed=seed, power_scale=scale)
            loop.append(tuned.history[-1].test_accuracy)
            passes.append(tuned.history[-1].passes)
        row = {"spread": spread, "path_imbalance_db": IMBALANCE_DB,
               "offline_to_chip_accuracy": _median(offline),
               "in_the_loop_accuracy": _median(loop), "in_the_loop_passes": _median(passes),
               "in_the_loop_gap_to_twin": out["twin_test_accuracy"] - _median(loop)}
        print(f"  {data.name} spread {100 * spread:g} %: offline "
              f"{100 * row['offline_to_chip_accuracy']:.2f} %, in the loop "
              f"{100 * row['in_the_loop_accuracy']:.2f} %", file=sys.stderr, flush=True)
        out["spreads"].append(row)
    return out


def passes_to_target(data: TwinData, seeds: int, pa_epochs: int, spsa_epochs: int
                     ) -> dict[str, Any]:
    sizes = (data.inputs, *DEFAULT_HIDDEN[data.name], len(data.classes))
    scale = data.power_scale(DEFAULT_INPUT_POWER)
    found: dict[str, list[float]] = {"physics-aware": [], "spsa": []}
    budget = {"physics-aware": pa_epochs, "spsa": 2 * spsa_epochs}
    for seed in range(seeds):
        design = design_network(sizes, seed=seed)
        chip = perturbed(design, 0.02, IMBALANCE_DB, seed=2000 + seed)
        model = calibrated(design, chip)
        start = transfer_knobs(design, chip, initial_knobs(design, seed))
        for estimator, epochs in (("physics-aware", pa_epochs), ("spsa", spsa_epochs)):
            run = train_in_the_loop(model, chip, data, start, estimator=estimator,
                                    epochs=epochs, lr=0.03, seed=seed, power_scale=scale)
            hit = [e.passes for e in run.history if e.test_accuracy >= TARGET]
            found[estimator].append(hit[0] if hit else float("inf"))
            print(f"  digits 2 % seed {seed} {estimator}: passes to 95 %: "
                  f"{found[estimator][-1]}, final {100 * run.history[-1].test_accuracy:.2f}"
                  " %", file=sys.stderr, flush=True)
    pa, spsa = _median(found["physics-aware"]), _median(found["spsa"])
    lower_bound = not np.isfinite(spsa)
    ratio = (budget["spsa"] if lower_bound else spsa) / pa if np.isfinite(pa) else None
    return {"task": data.name, "spread": 0.02, "target": TARGET,
            "physics_aware_passes": pa, "spsa_passes": spsa if np.isfinite(spsa) else None,
            "spsa_budget_passes": budget["spsa"], "ratio": ratio,
            "ratio_is_lower_bound": lower_bound}


_MEMORY_PROBE = """
import resource, sys
import numpy as np
from labrf.network import layered_pass as lp
from labrf.network.design import design_network, initial_knobs
hidden = int(sys.argv[1])
net = design_network((256, hidden, 10))
rng = np.random.default_rng(0)
x, y = rng.uniform(0, 4e-8, (64, 256)), rng.integers(0, 10, 64)
for _ in range(3):
    lp.loss_and_gradient(net, initial_knobs(net), x, y)
lp.forward(net, initial_knobs(net), rng.uniform(0, 4e-8, (1000, 256)))
try:  # the high-water mark of this process image (ru_maxrss survives exec on Linux)
    with open("/proc/self/status") as status:
        peak = next(int(line.split()[1]) for line in status if line.startswith("VmHWM"))
except OSError:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(net.junction_count, peak / 1024)
"""


def memory_rows(hidden: tuple[int, ...] = (1, 64, 128, 256, 512)) -> list[dict[str, float]]:
    """Peak resident memory of a fresh process doing training steps (minibatch 64) and a
    1000-example forward pass of a 256-H-10 network, beside the same for H = 1 (imports
    and compiled code): what grows with the junctions, per junction above H = 1."""
    import subprocess

    rows = []
    for h in hidden:
        out = subprocess.run([sys.executable, "-c", _MEMORY_PROBE, str(h)],
                             capture_output=True, text=True, check=True).stdout.split()
        rows.append({"hidden": h, "junctions": int(out[0]), "peak_mb": float(out[1])})
    base = rows[0]
    for row in rows[1:]:
        row["above_import_mb"] = row["peak_mb"] - base["peak_mb"]
        row["kb_per_junction"] = 1024 * row["above_import_mb"] / (row["junctions"]
                                                                 - base["junctions"])
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="../shared/data/RadioSpin_D62_RF_fingerprinting.h5")
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--loop-epochs", type=int, default=20)
    parser.add_argument("--chip-tasks", default="digits",
                        help="chips trained through their instruments (comma list)")
    parser.add_argument("--chip-seeds", type=int, default=3)
    parser.add_argument("--json", help="also write the results to this file")
    args = parser.parse_args(argv)
    results: dict[str, Any] = {"tasks": []}
    for name in ("drone", "digits"):
        data = load_task(name, args.data if name == "drone" else None)
        results["tasks"].append(task_rows(data, args.epochs, args.seeds, args.loop_epochs))
    results["passes_to_95"] = passes_to_target(load_task("digits"), args.seeds, 10, 15)
    results["memory"] = memory_rows()
    print(f"{'task':<8}{'spread':>8}{'twin %':>9}{'dense %':>9}{'s/epoch':>9}"
          f"{'offline %':>11}{'in-loop %':>11}{'passes':>8}{'peak MB':>9}")
    for t in results["tasks"]:
        print(f"{t['task']:<8}{0:>8.0%}{100 * t['twin_test_accuracy']:>9.2f}"
              f"{100 * t['dense_test_accuracy']:>9.2f}{t['twin_seconds_per_epoch']:>9.3f}"
              f"{100 * t['twin_test_accuracy']:>11.2f}{'-':>11}{'-':>8}"
              f"{t['peak_memory_mb']:>9.0f}")
        for s in t["spreads"]:
            print(f"{t['task']:<8}{s['spread']:>8.0%}{'':>9}{'':>9}{'':>9}"
                  f"{100 * s['offline_to_chip_accuracy']:>11.2f}"
                  f"{100 * s['in_the_loop_accuracy']:>11.2f}{s['in_the_loop_passes']:>8.0f}")
    p = results["passes_to_95"]
    print(f"digits chip 2 %: passes to 95 %: physics-aware {p['physics_aware_passes']}, SPSA "
          f"{p['spsa_passes'] or 'never (budget ' + str(p['spsa_budget_passes']) + ')'}; "
          f"ratio {'>= ' if p['ratio_is_lower_bound'] else ''}{p['ratio']}")
    for row in results["memory"][1:]:
        print(f"256-{row['hidden']}-10: {row['junctions']} junctions, peak "
              f"{row['peak_mb']:.0f} MB, {row['above_import_mb']:.0f} MB above import "
              f"({row['kb_per_junction']:.2f} kB per junction)")
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import chip_in_the_loop as bench

    results["instruments"] = []
    for name in filter(None, args.chip_tasks.split(",")):
        rows = bench.chip_rows(name, load_task(name, args.data if name == "drone" else None),
                               [0.0, 0.02, 0.05], args.chip_seeds, 4, 8 if name == "digits"
                               else 0, 0.02)
        bench.print_table(rows, args.chip_seeds)
        results["instruments"].append(rows)
    text = json.dumps(bench._finite(results))
    print(text)
    if args.json:
        Path(args.json).write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
