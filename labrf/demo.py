"""``labrf demo``: the README's main job. On the simulated bench, a spin-diode sweep and an
emission curve run as procedures through the runner (every point in the dataset, the
bench left safe), and each fitted value is printed beside the simulator's truth. Then, on
the simulated nine-junction network bench, the chip is calibrated and trained with the
chip in the loop on the XOR task, beside the design and the calibrated model trained
offline."""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any, TextIO

from labrf.errors import ConfigError
from labrf.runner import RunResult, run
from labrf.shipped import station_path
from labrf.station import load_station

DEFAULT_STATION = Path("station_configs/sim_bench.yaml")
DEFAULT_NETWORK = Path("station_configs/sim_network.yaml")
DEFAULT_DB = Path("data") / "demo.db"


def _rows(sweep: RunResult, emission: RunResult, truth: dict[str, Any]
          ) -> list[tuple[str, float, float, float, str, float]]:
    """(quantity, fitted, error, truth, unit, scale) for the table."""
    derived, diode, osc = truth["derived"], truth["spin_diode"], truth["oscillator"]
    fit, em = sweep.fit, emission.fit
    p = fit["power_at_device_w"]
    return [
        ("resonance f_r", fit["resonance"], fit["resonance_err"],
         derived["resonance_at_zero_bias"], "MHz", 1e-6),
        ("half-width D", fit["half_width"], fit["half_width_err"],
         derived["half_width_at_zero_bias"], "MHz", 1e-6),
        ("antisymmetric A/P", fit["antisymmetric_per_power"], fit["antisymmetric_err"] / p,
         diode["antisymmetric"] / (1 + p / diode["saturation_power"]), "mV/mW", 1.0),
        ("symmetric S/P", fit["symmetric_per_power"], fit["symmetric_err"] / p,
         diode["symmetric"] / (1 + p / diode["saturation_power"]), "mV/mW", 1.0),
        ("threshold I_th", em["threshold_current"], em["threshold_current_err"],
         osc["threshold_current"], "mA", 1e3),
        ("tunability", em["tunability"], em["tunability_err"], osc["current_tuning"],
         "MHz/mA", 1e-9),
        ("f at threshold", em["frequency_at_threshold"], em["frequency_at_threshold_err"],
         osc["frequency"], "MHz", 1e-6),
    ]


def run_training(network: Path, db: Path) -> tuple[dict[str, RunResult], str]:
    """Calibrations, then XOR trained offline (the design, and the calibrated model) and
    with the chip in the loop (physics-aware, calibrated model), on the network bench;
    with how far the bench's chip is from its design, in words."""
    runs = {"offline-design": {"estimator": "offline", "model": "design"},
            "offline-calibrated": {"estimator": "offline"}, "physics-aware": {}}
    with load_station(network) as lab:
        if lab.bench is None:
            raise ConfigError("the demo trains on a simulated network bench: this station "
                              "file has no labrf.simulation section", file=str(network))
        described = lab.bench.describe()
        results = {name: run("chip-in-the-loop", lab, {"task": "xor", **params}, db=db,
                             sample="demo-network", progress=None)
                   for name, params in runs.items()}
    paths = [d["path_imbalance_db"] for d in described["devices"].values()
             if d["kind"] == "network"]
    spread = (f"{100 * described['variability']:g} % device spread, "
              f"{paths[0] if paths else 0:g} dB spread of the RF paths")
    for result in results.values():
        if result.status != "completed":
            raise ConfigError(f"the demo's training run {result.run_id} {result.status}: "
                              f"{result.error}", file=str(network))
    return results, spread


def run_demo(station: Path = DEFAULT_STATION, db: Path = DEFAULT_DB,
             out: TextIO | None = None, network: Path | None = DEFAULT_NETWORK
             ) -> dict[str, Any]:
    """Run both procedures, then (unless ``network`` is None) the training; returns their
    results and the truth."""
    station = station_path(station)
    network = station_path(network) if network is not None else None
    wall0 = time.perf_counter()
    with load_station(station) as lab:
        if lab.bench is None:
            raise ConfigError("the demo runs on a simulated bench: this station file has no "
                              "labrf.simulation section", file=str(station))
        truth = lab.bench.describe()["devices"]["mtj"]
        sweep = run("spin-diode", lab, {"f_start": 220e6, "f_stop": 280e6, "points": 121},
                    db=db, sample="demo-mtj", progress=None)
        emission = run("emission", lab, {}, db=db, sample="demo-mtj", progress=None)
        instrument_time = lab.clock.now()
    for result in (sweep, emission):
        if result.status != "completed":
            raise ConfigError(f"the demo's {result.run_id} run {result.status}: "
                              f"{result.error}", file=str(station))
    rows = _rows(sweep, emission, truth)
    training, spread = run_training(network, db) if network is not None else ({}, "")
    if out is not None:
        print(f"labrf demo on the simulated bench ({station}): spin-diode sweep (run "
              f"{sweep.run_id}) and emission curve (run {emission.run_id}) through the "
              f"runner, roles and drivers", file=out)
        print(f"  {'quantity':<20}{'fitted':>12}{'+-':>10}{'truth':>12}  unit", file=out)
        for name, value, err, true, unit, scale in rows:
            err_text = f"{err * scale:10.4f}" if math.isfinite(err) else " " * 10
            print(f"  {name:<20}{value * scale:12.4f}{err_text}{true * scale:12.4f}  {unit}",
                  file=out)
        print(f"  plots: {sweep.plot}", file=out)
        print(f"         {emission.plot}", file=out)
        if training:
            trained = training["physics-aware"]
            calibrations = ", ".join(map(str, trained.extra["prerequisites"].values()))
            print(f"network bench ({network}, {spread}): synapse and neuron "
                  f"calibrations (runs {calibrations}), then XOR on 400 held-out examples",
                  file=out)
            for name, text in (("offline-design", "design, trained offline"),
                               ("offline-calibrated", "calibrated model, trained offline")):
                print(f"  {text + ', written to the chip:':<56}test accuracy "
                      f"{training[name].fit['test_accuracy']:.4f}", file=out)
            print(f"  {'chip in the loop (physics-aware, calibrated model):':<56}test accuracy "
                  f"{trained.fit['test_accuracy']:.4f}, "
                  f"{trained.fit['hardware_forward_passes']} hardware passes, "
                  f"{trained.instrument_time_s:.0f} s of instrument time", file=out)
            print(f"  plot: {trained.plot}", file=out)
        print(f"  data: {sweep.db} (labrf runs --db {sweep.db}); wall time "
              f"{time.perf_counter() - wall0:.1f} s (instrument time {instrument_time:.1f} s "
              f"for the junction)", file=out)
    return {"spin_diode": sweep, "emission": emission, "truth": truth, "rows": rows,
            "training": training}
