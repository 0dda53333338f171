"""``labrf demo``: a spin-diode frequency sweep through the station's roles and real
drivers on the simulated bench, fitted and printed next to the simulator's truth."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TextIO

import numpy as np

from labrf.analysis.lineshape import fit_spin_diode
from labrf.errors import ConfigError
from labrf.station import load_station
from labrf.units import dbm_to_watt

DEFAULT_STATION = Path("station_configs/sim_bench.yaml")


def run_demo(station: Path = DEFAULT_STATION, points: int = 161, power_dbm: float = -20.0,
             nplc: float = 1.0, out: TextIO | None = None) -> dict[str, float]:
    """Sweep the RF source across the junction's resonance, read the rectified voltage
    on the nanovoltmeter, fit the line; returns the fitted and true values (SI).

    Everything goes through the station's roles (and so their limits); the bench is left
    in its safe state.
    """
    if not station.exists():
        raise ConfigError("station file not found; run from the repository root or pass "
                          "--station PATH (e.g. station_configs/sim_bench.yaml)",
                          file=str(station))
    wall_start = time.perf_counter()
    with load_station(station) as lab:
        if lab.bench is None:
            raise ConfigError("the demo runs on a simulated bench: this station file has no "
                              "labrf.simulation section", file=str(station))
        truth = lab.bench.describe()["devices"]["mtj"]
        source, meter = lab.roles["rf_source"], lab.roles["nanovoltmeter"]
        meter.nplc(nplc)
        source.power_at_device(power_dbm)
        source.output(True)
        f_r = truth["derived"]["resonance_at_zero_bias"]
        width = truth["derived"]["half_width_at_zero_bias"]
        freqs = np.linspace(f_r - 10 * width, f_r + 10 * width, points)
        volts = np.empty(points)
        t0 = lab.clock.now()
        for i, f in enumerate(freqs):
            source.frequency(float(f))
            volts[i] = meter.voltage()
        instrument_time = lab.clock.now() - t0
    fit = fit_spin_diode(freqs, volts)
    result = {
        "resonance_fit": fit.resonance, "resonance_true": f_r,
        "half_width_fit": fit.half_width, "half_width_true": width,
        "instrument_time": instrument_time, "wall_time": time.perf_counter() - wall_start,
    }
    if out is not None:
        p = float(dbm_to_watt(power_dbm))
        rows = [
            ("resonance f_r", fit.resonance / 1e6, fit.resonance_err / 1e6, f_r / 1e6, "MHz"),
            ("half-width D", fit.half_width / 1e6, fit.half_width_err / 1e6, width / 1e6,
             "MHz"),
            ("antisymmetric A/P", fit.antisymmetric / p * 1e-3, None,
             truth["spin_diode"]["antisymmetric"] * 1e-3 / (1 + p / truth["spin_diode"][
                 "saturation_power"]), "V/mW"),
        ]
        print(f"labrf demo: spin-diode sweep on the simulated bench ({station})", file=out)
        print(f"  {points} points, {power_dbm:g} dBm, NPLC {nplc:g}, through the station's "
              "roles and drivers over the in-process VISA backend", file=out)
        print(f"  {'quantity':<20}{'fitted':>12}{'+-':>10}{'truth':>12}  unit", file=out)
        for name, value, err, true, unit in rows:
            err_text = f"{err:10.4f}" if err is not None else " " * 10
            print(f"  {name:<20}{value:12.4f}{err_text}{true:12.4f}  {unit}", file=out)
        print(f"  instrument time {instrument_time:.1f} s, wall time "
              f"{result['wall_time']:.2f} s", file=out)
    return result
