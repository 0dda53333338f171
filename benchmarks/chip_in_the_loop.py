"""Network chips trained with the chip in the loop through their instruments.

Per task (``--task digits``: ``station_configs/sim_digits_chip.yaml``, 64-16-10; ``drone``:
``sim_drone_chip.yaml``, 256-128-10) and device spread (``--spreads``: 0, 2 and 5 %; 0.5 dB
of path imbalance with any spread, none without), per seed (the simulation seed of the
station file: a different chip), the median of ``--seeds``:
- the ideal twin's test accuracy (the design, trained offline);
- the chip calibrated through its instruments (``labrf.training.layered_calibration``:
  emission curves, per-synapse control sweeps on the chain voltmeter), readings and
  seconds; its resonances' rms error against the simulator's truth;
- the twin's weights written bare (no calibration) and through the measured calibration
  (offline-to-chip accuracy, measured through the instruments);
- a twin of the measured model trained offline (the chip-in-the-loop procedure's start),
  on the chip;
- physics-aware training through the instruments (tone table, knob bank, one analyzer
  trace per example) from that start on the measured model: final accuracy and training
  passes (examples presented) until the test accuracy first reaches 95 %;
- at ``--spsa-spread`` (2 %), SPSA from the same start: passes to 95 % (a seed that never
  gets there counts as infinite; the ratio is then a lower bound: SPSA's whole budget
  over physics-aware's passes).
Run: ``python benchmarks/chip_in_the_loop.py [--task digits] [--seeds 3] [--spreads 0,2,5]
[--pa-epochs 4] [--spsa-epochs 12] [--json FILE]`` (``--data FILE`` for the drone).
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

from labrf.network.design import initial_knobs, transfer_knobs
from labrf.station import load_station
from labrf.training.chip_loop import chip_judge, train_on_chip
from labrf.training.datasets import TwinData, load_task
from labrf.training.layered_bench import LayeredBench
from labrf.training.layered_calibration import ChipCalibrator
from labrf.training.twin import train_twin

ROOT = Path(__file__).resolve().parents[1]
STATIONS = {task: ROOT / "station_configs" / f"sim_{task}_chip.yaml"
            for task in ("digits", "drone")}
TARGET = 0.95
INPUT_POWER = 10e-6  #: W, an example's mean total power at the chip
TWIN_EPOCHS = {"digits": 20, "drone": 40}


def _median(values: list[float]) -> float:
    return float(statistics.median(values))


def one_seed(task: str, data: TwinData, spread: float, seed: int, folder: Path,
             pa_epochs: int, spsa_epochs: int, lr: float = 0.02) -> dict[str, Any]:
    """One chip of ``task`` at ``spread``: its rows (see the module)."""
    scale = data.power_scale(INPUT_POWER)
    station_data = yaml.safe_load(STATIONS[task].read_text())
    sim = station_data["labrf"]["simulation"]
    sim["seed"] = 2026 + seed
    sim["variability"] = f"{100 * spread:g} %"
    sim["devices"]["chip"]["path_imbalance"] = "0.5 dB" if spread else "0 dB"
    station_file = folder / f"{task}_chip_{seed}_{spread:g}.yaml"
    station_file.write_text(yaml.safe_dump(station_data))
    row: dict[str, Any] = {"seed": seed, "spread": spread}
    with load_station(station_file) as station:
        design = station.spec.chip
        twin = train_twin(design, data, initial_knobs(design, seed), epochs=TWIN_EPOCHS[task],
                          seed=seed, power_scale=scale)
        row["twin"] = twin.history[-1].test_accuracy
        chip = station.bench.world.layered_chip("chip")

        def roles(name: str, _: type) -> Any:
            return station.roles[name]

        bench = LayeredBench.from_station(roles, station.clock, design)
        wall = time.perf_counter()
        calibrator = ChipCalibrator(bench, station.roles["chains"],
                                    station.roles["monitor_analyzer"], design)
        cal = calibrator.run()
        errors = np.concatenate([(r - c.synapses.resonance).ravel()
                                 for r, c in zip(cal.resonance, chip.layers, strict=True)])
        offsets = np.concatenate([(d.synapses.resonance - c.synapses.resonance).ravel()
                                  for d, c in zip(design.layers, chip.layers, strict=True)])
        row["calibration"] = {"readings": cal.passes,
                              "seconds": time.perf_counter() - wall,
                              "resonance_error_rms_hz": float(np.sqrt(np.mean(errors ** 2))),
                              "design_offset_rms_hz": float(np.sqrt(np.mean(offsets ** 2)))}
        model = cal.model(design)
        written = transfer_knobs(design, model, twin.knobs)
        bench = LayeredBench.from_station(roles, station.clock, model, chains=True)
        bench.prepare()
        judge = chip_judge(bench)
        x, y = data.test_x * scale, data.test_y
        row["bare"] = float(np.mean(judge(twin.knobs, x) == y))
        row["offline"] = float(np.mean(judge(written, x) == y))
        # the procedure's offline start: a twin of the measured model
        start = train_twin(model, data, initial_knobs(model, seed), epochs=TWIN_EPOCHS[task],
                           seed=seed, power_scale=scale).knobs
        row["offline_measured"] = float(np.mean(judge(start, x) == y))
        for estimator, epochs in (("physics-aware", pa_epochs), ("spsa", spsa_epochs)):
            if not epochs:
                continue
            passes0, wall0 = bench.passes, time.perf_counter()
            run = train_on_chip(model, bench, data, start, estimator=estimator,
                                epochs=epochs, lr=lr, seed=seed, power_scale=scale)
            per_pass = (time.perf_counter() - wall0) / (bench.passes - passes0)
            train = len(data.train_y)  # Epoch.passes counts training sets
            hit = [e.passes * train for e in run.history if e.test_accuracy >= TARGET]
            row[estimator] = {"passes_to_target": hit[0] if hit else float("inf"),
                              "budget": run.history[-1].passes * train,
                              "final": run.history[-1].test_accuracy,
                              "curve": [e.test_accuracy for e in run.history],
                              "seconds_per_pass": per_pass}
        station.safe_state()
    text = ", ".join(f"{k} {100 * row[k]['final']:.2f} % (95 % at "
                     f"{row[k]['passes_to_target']})" for k in ("physics-aware", "spsa")
                     if k in row)
    print(f"  {task} spread {100 * spread:g} % seed {seed}: twin {100 * row['twin']:.2f} %, "
          f"bare {100 * row['bare']:.2f} %, offline {100 * row['offline']:.2f} % (twin of "
          f"the measured model {100 * row['offline_measured']:.2f} %), {text}; "
          f"calibration {row['calibration']['readings']} readings in "
          f"{row['calibration']['seconds']:.1f} s, resonances to "
          f"{row['calibration']['resonance_error_rms_hz'] / 1e3:.1f} kHz rms (design: "
          f"{row['calibration']['design_offset_rms_hz'] / 1e6:.2f} MHz)",
          file=sys.stderr, flush=True)
    return row


def chip_rows(task: str, data: TwinData, spreads: list[float], seeds: int, pa_epochs: int,
              spsa_epochs: int, spsa_spread: float, lr: float = 0.02, first_seed: int = 0
              ) -> dict[str, Any]:
    """Every seed at every spread, and the medians per spread."""
    out: dict[str, Any] = {"task": task, "spreads": []}
    with tempfile.TemporaryDirectory() as tmp:
        for spread in spreads:
            spsa = spsa_epochs if spread == spsa_spread else 0
            rows = [one_seed(task, data, spread, s, Path(tmp), pa_epochs, spsa, lr)
                    for s in range(first_seed, first_seed + seeds)]
            out["spreads"].append({"spread": spread, "seeds": rows,
                                   "summary": summary(rows)})
    return out


def summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Medians over seeds; SPSA's passes against physics-aware's when both ran."""
    out: dict[str, Any] = {k: _median([r[k] for r in rows])
                           for k in ("twin", "bare", "offline", "offline_measured")}
    out["calibration_error_rms_hz"] = _median(
        [r["calibration"]["resonance_error_rms_hz"] for r in rows])
    out["calibration_seconds"] = _median([r["calibration"]["seconds"] for r in rows])
    for key in ("physics-aware", "spsa"):
        if key in rows[0]:
            out[f"{key}_final"] = _median([r[key]["final"] for r in rows])
            out[f"{key}_passes_to_95"] = _median([r[key]["passes_to_target"] for r in rows])
            out[f"{key}_seconds_per_pass"] = _median([r[key]["seconds_per_pass"]
                                                      for r in rows])
    if "spsa" in rows[0] and "physics-aware" in rows[0]:
        pa, spsa = out["physics-aware_passes_to_95"], out["spsa_passes_to_95"]
        lower_bound = not np.isfinite(spsa)
        budget = _median([r["spsa"]["budget"] for r in rows])
        out["spsa_budget"] = budget
        out["ratio"] = (budget if lower_bound else spsa) / pa if np.isfinite(pa) else None
        out["ratio_is_lower_bound"] = lower_bound
    return out


def print_table(result: dict[str, Any], seeds: int) -> None:
    """The medians, one line per spread."""
    print(f"{result['task']} chip through its instruments, median of {seeds} seeds")
    print(f"  {'spread':>6} {'twin':>7} {'bare':>7} {'offline':>8} {'measured':>9} "
          f"{'in-loop':>8} {'PA->95%':>8} {'cal. err':>9}")
    for entry in result["spreads"]:
        s = entry["summary"]
        pa = s.get("physics-aware_final", float("nan"))
        hit = s.get("physics-aware_passes_to_95", float("nan"))
        print(f"  {100 * entry['spread']:5.0f}% {100 * s['twin']:6.2f}% {100 * s['bare']:6.2f}%"
              f" {100 * s['offline']:7.2f}% {100 * s['offline_measured']:8.2f}% "
              f"{100 * pa:7.2f}% {hit:8.0f} "
              f"{s['calibration_error_rms_hz'] / 1e3:6.1f} kHz")
        if s.get("ratio") is not None or "spsa_final" in s:
            spsa = s["spsa_passes_to_95"]
            text = (f"never (budget {s['spsa_budget']:.0f})" if s["ratio_is_lower_bound"]
                    else f"{spsa:.0f}")
            ratio = s["ratio"]
            ratio_text = "n/a" if ratio is None else (
                f"{'>= ' if s['ratio_is_lower_bound'] else ''}{ratio:.2f}")
            print(f"    SPSA at {100 * entry['spread']:g} %: {100 * s['spsa_final']:.2f} %, "
                  f"passes to 95 %: {text}; physics-aware {hit:.0f}; ratio "
                  f"{ratio_text}")


def _finite(value: Any) -> Any:
    """``value`` with infinities as None (JSON has none)."""
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return None if isinstance(value, float) and not np.isfinite(value) else value


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", choices=sorted(STATIONS), default="digits")
    parser.add_argument("--data", help="the drone file (RadioSpin_D62_RF_fingerprinting.h5)")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--spreads", default="0,2,5", help="device spreads, %% (comma list)")
    parser.add_argument("--spsa-spread", type=float, default=2.0, help="%%")
    parser.add_argument("--pa-epochs", type=int, default=4)
    parser.add_argument("--spsa-epochs", type=int, default=12)
    parser.add_argument("--lr", type=float, default=0.02,
                        help="in-the-loop Adam step, mA (default: %(default)s)")
    parser.add_argument("--first-seed", type=int, default=0)
    parser.add_argument("--json", help="also write the results to this file")
    args = parser.parse_args(argv)
    data = load_task(args.task, data=args.data)
    spreads = [float(s) / 100 for s in args.spreads.split(",")]
    result = chip_rows(args.task, data, spreads, args.seeds, args.pa_epochs,
                       args.spsa_epochs, args.spsa_spread / 100, args.lr, args.first_seed)
    print_table(result, args.seeds)
    text = json.dumps(_finite(result))
    print(text)
    if args.json:
        Path(args.json).write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
