"""``labrf demo``: the README's main job. On the simulated bench, a spin-diode sweep and an
emission curve run as procedures through the runner (every point in the dataset, the
bench left safe), and each fitted value is printed beside the simulator's truth."""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any, TextIO

from labrf.errors import ConfigError
from labrf.runner import RunResult, run
from labrf.station import load_station

DEFAULT_STATION = Path("station_configs/sim_bench.yaml")
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


def run_demo(station: Path = DEFAULT_STATION, db: Path = DEFAULT_DB,
             out: TextIO | None = None) -> dict[str, Any]:
    """Run both procedures; returns their results and the truth."""
    if not station.exists():
        raise ConfigError("station file not found; run from the repository root or pass "
                          "--station PATH (e.g. station_configs/sim_bench.yaml)",
                          file=str(station))
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
        print(f"  data: {sweep.db} (labrf runs --db {sweep.db}); instrument time "
              f"{instrument_time:.1f} s, wall time {time.perf_counter() - wall0:.1f} s",
              file=out)
    return {"spin_diode": sweep, "emission": emission, "truth": truth, "rows": rows}
