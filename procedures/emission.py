"""Emission curve of a spin-torque nano-oscillator: a bias-current sweep with, at each
current, the spectrum of the emitted RF and the DC voltage across the junction.

Each spectrum's line is fitted at once (labrf.analysis.emission.fit_line): its power
(integrated in W over the line above the noise floor, divided by the noise bandwidth of
the RBW filter), centre frequency and linewidth. The analysis fits the threshold with
``phi(v) = max(0, a + b v)`` and the frequency tunability above it.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from pymeasure.experiment import FloatParameter, IntegerParameter, Parameter

from labrf.analysis.emission import LORENTZIAN_NOISE_BANDWIDTH, fit_emission, fit_line, phi
from labrf.analysis.plots import label, new_figure, save
from labrf.errors import LabrfError
from labrf.procedure import Column, LabProcedure
from labrf.roles import CurrentSource, SpectrumAnalyzer, Voltmeter

log = logging.getLogger(__name__)
COMPLIANCE_MARGIN = 0.999  #: a voltage this close to the compliance means it limits the bias


class EmissionCurve(LabProcedure):
    """Spectra and junction voltage against bias current (sim_bench defaults: 0 to 6 mA
    in 31 points; the line, 300 MHz + 7 MHz/mA above the 4 mA threshold, in a 20 MHz span
    around 307 MHz).

    The trace must sample the resolution filter: ``span / (spectrum_points - 1)`` may be
    at most ``rbw / 2`` (``rbw / 4`` keeps a peak detector unbiased). A junction voltage
    at the source's compliance is logged as a warning: the current may then be less than
    the bias recorded (a 100 ohm junction reaches the 0.6 V compliance at 6 mA, an
    antiparallel 150 ohm one at 4 mA). The source ends at 0 A, and its output is switched
    off in ``shutdown``.
    """

    name: ClassVar[str] = "emission"

    source = Parameter("Bias current source", default="current_source")
    analyzer = Parameter("Spectrum analyzer", default="spectrum_analyzer")
    meter = Parameter("Voltmeter", default="nanovoltmeter")
    bias_start = FloatParameter("First bias current", units="A", default=0.0,
                                minimum=-1.0, maximum=1.0)
    bias_stop = FloatParameter("Last bias current", units="A", default=5.8e-3,
                               minimum=-1.0, maximum=1.0)
    bias_points = IntegerParameter("Bias points", default=31, minimum=2, maximum=100001)
    center = FloatParameter("Analyzer centre frequency", units="Hz", default=307e6,
                            minimum=0.0, maximum=1e12)
    span = FloatParameter("Analyzer span", units="Hz", default=20e6, minimum=1.0,
                          maximum=1e12)
    rbw = FloatParameter("Resolution bandwidth", units="Hz", default=200e3, minimum=1.0,
                         maximum=1e8)
    vbw = FloatParameter("Video bandwidth", units="Hz", default=20e3, minimum=1.0,
                         maximum=1e8)
    spectrum_points = IntegerParameter("Spectrum points", default=401, minimum=101,
                                       maximum=100001)
    nplc = FloatParameter("Voltmeter integration", units="PLC", default=1.0, minimum=0.01,
                          maximum=50.0)
    settle_time = FloatParameter("Wait after each bias step", units="s", default=0.05,
                                 minimum=0.0, maximum=3600.0)
    noise_bandwidth_ratio = FloatParameter(
        "RBW filter noise bandwidth / RBW (pi/2 single-pole, 1.065 Gaussian)",
        default=LORENTZIAN_NOISE_BANDWIDTH, minimum=0.5, maximum=3.0)

    LIVE_PLOT = {"kind": "map", "x": "spectrum_frequency", "y": "bias",
                 "z": "spectrum_power"}
    COLUMNS: ClassVar[Mapping[str, Column]] = {
        "bias": Column("A", label="Bias current"),
        "voltage": Column("V", setpoints=("bias",), label="Junction voltage"),
        "spectrum_frequency": Column("Hz", "array", label="Spectrum frequency"),
        "spectrum_power": Column("dBm", "array", setpoints=("spectrum_frequency",),
                                 label="Spectrum level"),
        "peak_frequency": Column("Hz", setpoints=("bias",), label="Line frequency"),
        "integrated_power": Column("W", setpoints=("bias",), label="Line power"),
        "linewidth": Column("Hz", setpoints=("bias",), label="Linewidth (FWHM)"),
    }

    _source: CurrentSource | None = None
    _rbw: float = math.nan  #: Hz, the RBW the analyzer actually uses
    _compliance: float = math.inf  #: V, the source's compliance

    def biases(self) -> np.ndarray:
        """The bias currents of the sweep in A."""
        return np.linspace(self.bias_start, self.bias_stop, int(self.bias_points))

    def startup(self) -> None:
        """Find the instruments, check the sweep against the limits, set up the analyzer
        and voltmeter, and turn the source on (it ramps to the first bias)."""
        source = self.instrument(self.source, CurrentSource)
        self._analyzer = self.instrument(self.analyzer, SpectrumAnalyzer)
        self._meter = self.instrument(self.meter, Voltmeter)
        for bias in (self.bias_start, self.bias_stop):
            source.current.validate(bias)  # LimitError before anything changes
        sa = self._analyzer
        sa.center(self.center)
        sa.span(self.span)
        sa.rbw(self.rbw)
        sa.vbw(self.vbw)
        sa.points(int(self.spectrum_points))
        self._rbw = float(sa.rbw())
        step = float(sa.span()) / (int(sa.points()) - 1)
        if step > self._rbw / 2:
            raise LabrfError(f"{self.name}: the trace does not sample the resolution filter: "
                             f"points {step:.4g} Hz apart with an RBW of {self._rbw:.4g} Hz; "
                             f"raise spectrum_points or rbw, or narrow span, so that "
                             f"span / (spectrum_points - 1) <= rbw / 2")
        self._meter.nplc(self.nplc)
        self._compliance = float(source.compliance())
        self._source = source
        if not source.output():
            source.current(self.bias_start)
        source.output(True)

    def execute(self) -> None:
        """One row per bias: spectrum, voltage and the line's fit; ends at 0 A."""
        assert self._source is not None, "startup() first"
        biases = self.biases()
        clock = self.station.clock
        warned = False
        for i, bias in enumerate(biases):
            if self.should_stop():
                break
            self._source.current(float(bias))
            clock.sleep(self.settle_time)
            trace = self._analyzer.sweep()
            voltage = float(self._meter.voltage())
            if not warned and abs(voltage) >= COMPLIANCE_MARGIN * self._compliance:
                warned = True
                log.warning("%s: %.4g V across the junction at %.4g A is the compliance of "
                            "%s (%.4g V): from here the current may be less than the bias "
                            "recorded", self.name, voltage, bias, self.source,
                            self._compliance)
            line = fit_line(trace.frequency, trace.power, self._rbw,
                            noise_bandwidth_ratio=self.noise_bandwidth_ratio)
            self.emit("results", {
                "bias": float(bias), "voltage": voltage,
                "spectrum_frequency": np.asarray(trace.frequency, dtype=float),
                "spectrum_power": np.asarray(trace.power, dtype=float),
                "peak_frequency": line.peak_frequency,
                "integrated_power": line.integrated_power,
                "linewidth": line.linewidth})
            self.progress(i + 1, biases.size)
        self._source.current(0.0)

    def shutdown(self) -> None:
        """Source output off (it ramps to 0 A first)."""
        if self._source is not None:
            self._source.output(False)

    def analyse(self, data: Mapping[str, np.ndarray]) -> dict[str, Any]:
        """Threshold (A), phi's a (W) and b (W/A), tunability (Hz/A) and frequency at
        threshold (Hz), each with its one-sigma error; LabrfError when fewer than three
        points show a line."""
        return fit_emission(data["bias"], data["integrated_power"],
                            data["peak_frequency"]).as_dict()

    def plot(self, data: Mapping[str, np.ndarray], fit: Mapping[str, Any],
             path: Path) -> Path:
        """Line power and line frequency against bias, with the fits."""
        fig, (ax_p, ax_f) = new_figure(1, 2, title="Emission curve")
        bias = np.asarray(data["bias"], dtype=float)
        power = np.asarray(data["integrated_power"], dtype=float)
        freq = np.asarray(data["peak_frequency"], dtype=float)
        ax_p.plot(bias, power, "o", label="measured")
        ax_f.plot(bias, freq, "o", label="measured")
        if fit.get("phi_b") is not None and np.isfinite(fit.get("phi_b", math.nan)):
            dense = np.linspace(bias.min(), bias.max(), 400)
            ax_p.plot(dense, phi(dense, fit["phi_a"], fit["phi_b"]),
                      label=f"max(0, a + b I): I_th = {fit['threshold_current'] * 1e3:.3f} mA")
            lit = dense[dense >= fit["threshold_current"]]
            ax_f.plot(lit, fit["frequency_at_threshold"] + fit["tunability"]
                      * (lit - fit["threshold_current"]),
                      label=f"{fit['tunability'] * 1e-6 * 1e-3:.3f} MHz/mA")
        label(ax_p, "Bias current", "A", "Line power", "W")
        label(ax_f, "Bias current", "A", "Line frequency", "Hz")
        ax_p.legend()
        ax_f.legend()
        return save(fig, path)
