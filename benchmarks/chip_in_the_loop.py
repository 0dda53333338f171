"""The digits chip trained with the chip in the loop through its instruments.

Per seed (the simulation seed of ``station_configs/sim_digits_chip.yaml``: a different
chip, 64-16-10, 2 % spread, 0.5 dB path imbalance), the median of ``--seeds``:
- the ideal twin's test accuracy (the design, trained offline);
- its weights written bare (no calibration) and through the calibrated model
  (offline-to-chip accuracy, measured through the instruments);
- physics-aware training through the instruments (tone table, knob bank, one analyzer
  trace per example) from the calibrated start, and SPSA from the same start: training
  passes (examples presented) until the test accuracy first reaches 95 % (a seed that
  never gets there counts as infinite; the ratio is then a lower bound: SPSA's whole
  budget over physics-aware's passes), the final accuracy, and wall time per pass.

The calibrated model is the simulator's truth of each synapse's resonance and each
neuron's threshold and frequency (``labrf.network.design.calibrated``): labrf has no
calibration procedure for a chip this size yet, so this shows what in-the-loop training
does once a lab has calibrated, not the calibration.
Run: ``python benchmarks/chip_in_the_loop.py [--seeds 3] [--pa-epochs 4] [--spsa-epochs
8] [--json FILE]``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from labrf.network.design import calibrated, design_network, initial_knobs, transfer_knobs
from labrf.station import load_station
from labrf.training.chip_loop import chip_judge, train_on_chip
from labrf.training.datasets import load_task
from labrf.training.layered_bench import LayeredBench
from labrf.training.twin import train_twin

ROOT = Path(__file__).resolve().parents[1]
STATION = ROOT / "station_configs" / "sim_digits_chip.yaml"
SIZES = (64, 16, 10)
TARGET = 0.95
INPUT_POWER = 10e-6  #: W, a digit's mean total power at the chip


def _median(values: list[float]) -> float:
    return float(statistics.median(values))


def one_seed(seed: int, folder: Path, pa_epochs: int, spsa_epochs: int) -> dict[str, Any]:
    data = load_task("digits", seed=seed)
    scale = data.power_scale(INPUT_POWER)
    design = design_network(SIZES)
    twin = train_twin(design, data, initial_knobs(design, seed), epochs=20, seed=seed,
                      power_scale=scale)
    station_data = yaml.safe_load(STATION.read_text())
    station_data["labrf"]["simulation"]["seed"] = 2026 + seed
    station_file = folder / f"digits_chip_{seed}.yaml"
    station_file.write_text(yaml.safe_dump(station_data))
    row: dict[str, Any] = {"seed": seed, "twin": twin.history[-1].test_accuracy}
    with load_station(station_file) as station:
        chip = station.bench.world.layered_chip("chip")
        model = calibrated(design, chip)
        start = transfer_knobs(design, chip, twin.knobs)
        bench = LayeredBench.from_station(lambda n, _: station.roles[n], station.clock, model)
        bench.prepare()
        judge = chip_judge(bench)
        x, y = data.test_x * scale, data.test_y
        row["bare"] = float(np.mean(judge(twin.knobs, x) == y))
        row["offline"] = float(np.mean(judge(start, x) == y))
        for estimator, epochs in (("physics-aware", pa_epochs), ("spsa", spsa_epochs)):
            passes0, wall0 = bench.passes, time.perf_counter()
            run = train_on_chip(model, bench, data, start, estimator=estimator,
                                epochs=epochs, lr=0.02, seed=seed, power_scale=scale)
            per_pass = (time.perf_counter() - wall0) / (bench.passes - passes0)
            train = len(data.train_y)  # Epoch.passes counts training sets
            hit = [e.passes * train for e in run.history if e.test_accuracy >= TARGET]
            row[estimator] = {"passes_to_target": hit[0] if hit else float("inf"),
                              "budget": run.history[-1].passes * train,
                              "final": run.history[-1].test_accuracy,
                              "curve": [e.test_accuracy for e in run.history],
                              "seconds_per_pass": per_pass}
        station.safe_state()
    print(f"  seed {seed}: twin {100 * row['twin']:.2f} %, bare {100 * row['bare']:.2f} %, "
          f"offline {100 * row['offline']:.2f} %, physics-aware "
          f"{100 * row['physics-aware']['final']:.2f} % (95 % at "
          f"{row['physics-aware']['passes_to_target']}), SPSA "
          f"{100 * row['spsa']['final']:.2f} % (95 % at {row['spsa']['passes_to_target']})",
          file=sys.stderr, flush=True)
    return row


def _finite(value: Any) -> Any:
    """``value`` with infinities as None (JSON has none)."""
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return None if isinstance(value, float) and not np.isfinite(value) else value


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--pa-epochs", type=int, default=4)
    parser.add_argument("--spsa-epochs", type=int, default=8)
    parser.add_argument("--json", help="also write the results to this file")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        rows = [one_seed(s, Path(tmp), args.pa_epochs, args.spsa_epochs)
                for s in range(args.seeds)]
    pa = _median([r["physics-aware"]["passes_to_target"] for r in rows])
    spsa = _median([r["spsa"]["passes_to_target"] for r in rows])
    lower_bound = not np.isfinite(spsa)
    budget = _median([r["spsa"]["budget"] for r in rows])
    ratio = (budget if lower_bound else spsa) / pa if np.isfinite(pa) else None
    summary = {
        "twin": _median([r["twin"] for r in rows]),
        "bare": _median([r["bare"] for r in rows]),
        "offline": _median([r["offline"] for r in rows]),
        "physics_aware_final": _median([r["physics-aware"]["final"] for r in rows]),
        "spsa_final": _median([r["spsa"]["final"] for r in rows]),
        "physics_aware_passes_to_95": pa, "spsa_passes_to_95": spsa,
        "spsa_budget": budget, "ratio": ratio, "ratio_is_lower_bound": lower_bound,
        "seconds_per_pass": _median([r["physics-aware"]["seconds_per_pass"] for r in rows]),
    }
    print(f"digits chip 64-16-10, 2 % spread, 0.5 dB paths, median of {args.seeds} seeds")
    print(f"  ideal twin {100 * summary['twin']:.2f} %; twin's weights bare "
          f"{100 * summary['bare']:.2f} %, through the calibration "
          f"{100 * summary['offline']:.2f} %")
    gap = summary["physics_aware_final"] - summary["twin"]
    print(f"  physics-aware through the instruments: "
          f"{100 * summary['physics_aware_final']:.2f} % after {args.pa_epochs} epochs "
          f"({100 * gap:+.2f} points from the twin); SPSA {100 * summary['spsa_final']:.2f} % "
          f"after {args.spsa_epochs}")
    spsa_text = f"never (budget {budget:.0f})" if lower_bound else f"{spsa:.0f}"
    ratio_text = "n/a" if ratio is None else f"{'>= ' if lower_bound else ''}{ratio:.2f}"
    print(f"  training passes to 95 %: physics-aware {pa:.0f}, SPSA {spsa_text}; ratio "
          f"{ratio_text}; {1e3 * summary['seconds_per_pass']:.2f} ms per pass")
    text = json.dumps(_finite({"seeds": rows, "summary": summary}))
    print(text)
    if args.json:
        Path(args.json).write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
