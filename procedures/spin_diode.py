"""Spin-diode (ST-FMR) procedures: a frequency sweep at fixed RF power, field and bias;
a field x frequency map (dispersion); a power x frequency map (linearity).

Each line is fitted with the symmetric plus antisymmetric Lorentzian of
labrf.analysis.lineshape: resonance, half-width and both amplitudes, with uncertainties.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
from pymeasure.experiment import FloatParameter, IntegerParameter, Parameter

from labrf.analysis.lineshape import fit_spin_diode, spin_diode_line
from labrf.analysis.plots import label, new_figure, save
from labrf.analysis.spin_diode_maps import fit_dispersion, fit_linearity, fit_lines
from labrf.procedure import Column, LabProcedure
from labrf.roles import CurrentSource, FieldCoil, RFSource, Voltmeter
from labrf.units import dbm_to_watt


class _SpinDiodeBase(LabProcedure):
    """Parameters and set-up shared by the spin-diode procedures."""

    f_start = FloatParameter("Start frequency", units="Hz", default=200e6, minimum=1e3,
                             maximum=1e12)
    f_stop = FloatParameter("Stop frequency", units="Hz", default=300e6, minimum=1e3,
                            maximum=1e12)
    points = IntegerParameter("Frequency points", default=101, minimum=6, maximum=100001)
    power = FloatParameter("RF power at the device", units="dBm", default=-20.0)
    field = FloatParameter("Field", units="T", default=0.0)
    bias = FloatParameter("Bias current", units="A", default=0.0)
    nplc = FloatParameter("Voltmeter integration", units="PLC", default=1.0, minimum=0.01)
    rf_source = Parameter("RF source", default="rf_source")
    meter = Parameter("Voltmeter", default="nanovoltmeter")
    magnet = Parameter("Field coil ('' for none)", default="magnet")
    bias_source = Parameter("Bias current source ('' for none)", default="current_source")

    def startup(self) -> None:
        self.rf = self.instrument(self.rf_source, RFSource)
        self.voltmeter = self.instrument(self.meter, Voltmeter)
        self.coil = self.instrument(self.magnet, FieldCoil) if self.magnet else None
        self.source = self.instrument(self.bias_source, CurrentSource) \
            if self.bias_source else None
        self.voltmeter.nplc(self.nplc)
        if self.coil is not None:
            self.coil.output(True)
            self.coil.field(self.field)
        elif self.field:
            raise ValueError(f"field {self.field} T asked with no field coil (magnet='')")
        if self.source is not None:
            self.source.output(True)
            self.source.current(self.bias)
        elif self.bias:
            raise ValueError(f"bias {self.bias} A asked with no current source")
        self.rf.power_at_device(self.power)
        self.rf.output(True)

    def frequencies(self) -> np.ndarray:
        return np.linspace(self.f_start, self.f_stop, int(self.points))

    def sweep(self, extra: Mapping[str, float], done: int, total: int) -> bool:
        """One frequency sweep; each point emitted with ``extra`` columns. False once
        the run is asked to stop."""
        for k, f in enumerate(self.frequencies()):
            if self.should_stop():
                return False
            self.rf.frequency(float(f))
            self.emit("results", {**extra, "frequency": float(f),
                                  "voltage": self.voltmeter.voltage()})
            self.progress(done + k + 1, total)
        return True

    def shutdown(self) -> None:
        rf = getattr(self, "rf", None)
        if rf is not None:
            rf.output(False)


class SpinDiodeSweep(_SpinDiodeBase):
    """Rectified DC voltage against RF frequency at fixed power, field and bias."""

    name = "spin-diode"
    COLUMNS = {"frequency": Column("Hz", label="RF frequency"),
               "voltage": Column("V", setpoints=("frequency",), label="DC voltage")}

    def execute(self) -> None:
        self.sweep({}, 0, int(self.points))

    def analyse(self, data: Mapping[str, np.ndarray]) -> dict[str, Any]:
        fit = fit_spin_diode(data["frequency"], data["voltage"])
        power_w = float(dbm_to_watt(self.power))
        return {**fit.as_dict(), "power_at_device_w": power_w,
                "antisymmetric_per_power": fit.antisymmetric / power_w,
                "symmetric_per_power": fit.symmetric / power_w}

    def plot(self, data: Mapping[str, np.ndarray], fit: Mapping[str, Any],
             path: Path) -> Path:
        fig, ax = new_figure(title=f"Spin-diode sweep, {self.power:g} dBm, "
                                   f"{self.field * 1e3:g} mT, {self.bias * 1e3:g} mA")
        f, v = data["frequency"], data["voltage"]
        ax.plot(f, v, ".", label="measured")
        if fit:
            dense = np.linspace(f.min(), f.max(), 1000)
            keys = ("resonance", "half_width", "symmetric", "antisymmetric", "offset")
            ax.plot(dense, spin_diode_line(dense, *(fit[k] for k in keys)),
                    label=f"fit: f_r = {fit['resonance'] / 1e6:.3f} MHz, "
                          f"D = {fit['half_width'] / 1e6:.3f} MHz")
        label(ax, "RF frequency", "Hz", "DC voltage", "V")
        ax.legend()
        return save(fig, path)


class SpinDiodeFieldMap(_SpinDiodeBase):
    """Frequency sweeps at a series of fields: the dispersion f_r(B)."""

    name = "spin-diode-field-map"
    field_start = FloatParameter("First field", units="T", default=-0.02)
    field_stop = FloatParameter("Last field", units="T", default=0.02)
    field_steps = IntegerParameter("Fields", default=5, minimum=2, maximum=1001)
    COLUMNS = {"field": Column("T", label="Field"),
               "frequency": Column("Hz", label="RF frequency"),
               "voltage": Column("V", setpoints=("field", "frequency"), label="DC voltage")}

    def fields(self) -> np.ndarray:
        return np.linspace(self.field_start, self.field_stop, int(self.field_steps))

    def execute(self) -> None:
        if self.coil is None:
            raise ValueError("a field map needs a field coil (magnet)")
        total = int(self.points) * int(self.field_steps)
        for j, b in enumerate(self.fields()):
            self.coil.field(float(b))
            if not self.sweep({"field": float(b)}, j * int(self.points), total):
                return

    def analyse(self, data: Mapping[str, np.ndarray]) -> dict[str, Any]:
        lines = fit_lines(data["field"], data["frequency"], data["voltage"])
        return {**fit_dispersion(lines), "lines": lines}

    def plot(self, data: Mapping[str, np.ndarray], fit: Mapping[str, Any],
             path: Path) -> Path:
        fig, (ax_map, ax_disp) = new_figure(1, 2, title="Spin-diode field map")
        _map(ax_map, data["field"], data["frequency"], data["voltage"])
        label(ax_map, "RF frequency", "Hz", "Field", "T")
        _dispersion(ax_disp, fit.get("lines", []), "field", fit)
        label(ax_disp, "Field", "T", "Resonance", "Hz")
        return save(fig, path)


class SpinDiodePowerMap(_SpinDiodeBase):
    """Frequency sweeps at a series of RF powers: linearity and saturation."""

    name = "spin-diode-power-map"
    power_start = FloatParameter("Lowest power at the device", units="dBm", default=-40.0)
    power_stop = FloatParameter("Highest power at the device", units="dBm", default=-10.0)
    power_steps = IntegerParameter("Powers", default=7, minimum=3, maximum=1001)
    COLUMNS = {"power_w": Column("W", label="RF power at the device"),
               "frequency": Column("Hz", label="RF frequency"),
               "voltage": Column("V", setpoints=("power_w", "frequency"), label="DC voltage")}

    def powers(self) -> np.ndarray:
        return np.linspace(self.power_start, self.power_stop, int(self.power_steps))

    def execute(self) -> None:
        total = int(self.points) * int(self.power_steps)
        for j, dbm in enumerate(self.powers()):
            self.rf.power_at_device(float(dbm))
            if not self.sweep({"power_w": float(dbm_to_watt(dbm))}, j * int(self.points),
                              total):
                return

    def analyse(self, data: Mapping[str, np.ndarray]) -> dict[str, Any]:
        lines = fit_lines(data["power_w"], data["frequency"], data["voltage"], "power_w")
        return {**fit_linearity(lines), "lines": lines}

    def plot(self, data: Mapping[str, np.ndarray], fit: Mapping[str, Any],
             path: Path) -> Path:
        fig, (ax_map, ax_lin) = new_figure(1, 2, title="Spin-diode power map")
        _map(ax_map, data["power_w"], data["frequency"], data["voltage"])
        label(ax_map, "RF frequency", "Hz", "RF power at the device", "W")
        lines = fit.get("lines", [])
        p = np.array([ln["power_w"] for ln in lines])
        a = np.array([abs(ln["antisymmetric"]) for ln in lines])
        ax_lin.loglog(p, a, "o", label="|antisymmetric amplitude|")
        if "sensitivity" in fit and len(p):
            dense = np.geomspace(p.min(), p.max(), 200)
            ax_lin.loglog(dense, fit["sensitivity"] * dense / (1 + dense / fit[
                "saturation_power"]), label=f"V = kP/(1+P/P_sat), P_sat = "
                                            f"{fit['saturation_power'] * 1e6:.1f} uW")
        label(ax_lin, "RF power at the device", "W", "Amplitude", "V")
        ax_lin.legend()
        return save(fig, path)


def _map(ax: Any, outer: np.ndarray, frequency: np.ndarray, voltage: np.ndarray) -> None:
    keys = np.unique(outer)
    grid = np.array([voltage[outer == k] for k in keys])
    freqs = frequency[outer == keys[0]]
    mesh = ax.pcolormesh(freqs, keys, grid, shading="nearest", cmap="RdBu_r")
    ax.figure.colorbar(mesh, ax=ax, label="DC voltage (V)")


def _dispersion(ax: Any, lines: Iterable[Mapping[str, float]], key: str,
                fit: Mapping[str, Any]) -> None:
    lines = list(lines)
    x = np.array([ln[key] for ln in lines])
    y = np.array([ln["resonance"] for ln in lines])
    err = np.array([ln["resonance_err"] for ln in lines])
    ax.errorbar(x, y, yerr=err, fmt="o", label="fitted resonance")
    if "slope" in fit and len(x):
        ax.plot(x, fit["intercept"] + fit["slope"] * x,
                label=f"{fit['slope'] * 1e-3 / 1e6:.4f} MHz/mT")
    ax.legend()
