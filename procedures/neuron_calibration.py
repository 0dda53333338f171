"""Neuron calibration of the network bench: the emission curve of each of the three
oscillator neurons.

Each neuron's bias is swept alone (the other biases, every control current and the RF
inputs at 0, so its chain adds nothing to its drive), and at each bias the spectrum of
its emission is taken: the output neuron NO on ``spectrum_analyzer``, the hidden neurons
N1 and N2 on ``monitor_analyzer`` (the combiner's coupled port). Each line is fitted
(``labrf.analysis.emission.fit_line``) and each curve (``fit_emission``): threshold,
frequency at threshold and tunability per neuron.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from pymeasure.experiment import FloatParameter, IntegerParameter

from labrf.analysis.emission import (
    LORENTZIAN_NOISE_BANDWIDTH,
    LineFit,
    fit_emission,
    fit_line,
    fit_threshold,
)
from labrf.analysis.plots import label, new_figure, save
from labrf.errors import LabrfError
from labrf.network import nominal_network
from labrf.network.params import NEURON_NAMES
from labrf.procedure import Column, LabProcedure
from labrf.roles import CurrentSource, RFSource, SpectrumAnalyzer
from labrf.training.calibration import NeuronCalibration
from labrf.training.hardware import BIASES, CONTROLS, INPUTS, OUTPUT_ANALYZER, at_zero

log = logging.getLogger(__name__)
#: What a spectrum without a fittable line records.
NO_LINE = LineFit(False, 0.0, math.nan, math.nan, math.nan, math.nan)
#: The analyzer that sees each neuron.
ANALYZERS = ("monitor_analyzer", "monitor_analyzer", OUTPUT_ANALYZER)


class NeuronCalibrationProcedure(LabProcedure):
    """Emission curve of N1, N2 and NO, one after the other."""

    name: ClassVar[str] = "neuron-calibration"

    bias_start = FloatParameter("First bias current", units="A", default=3.0e-3,
                                minimum=0.0, maximum=1.0)
    bias_stop = FloatParameter("Last bias current", units="A", default=6.0e-3, minimum=0.0,
                               maximum=1.0)
    bias_points = IntegerParameter("Bias points", default=25, minimum=4, maximum=10001)
    start = FloatParameter("Analyzer start", units="Hz", default=270e6, minimum=0.0,
                           maximum=1e12)
    stop = FloatParameter("Analyzer stop", units="Hz", default=330e6, minimum=0.0,
                          maximum=1e12)
    rbw = FloatParameter("Resolution bandwidth", units="Hz", default=300e3, minimum=1.0,
                         maximum=1e8)
    vbw = FloatParameter("Video bandwidth", units="Hz", default=30e3, minimum=1.0,
                         maximum=1e8)
    spectrum_points = IntegerParameter("Spectrum points", default=801, minimum=101,
                                       maximum=100001)
    settle_time = FloatParameter("Wait after each bias step", units="s", default=0.05,
                                 minimum=0.0, maximum=3600.0)

    COLUMNS: ClassVar[Mapping[str, Column]] = {
        "neuron": Column("", label="Neuron (0: N1, 1: N2, 2: NO)"),
        "bias": Column("A", label="Bias current"),
        "peak_frequency": Column("Hz", setpoints=("neuron", "bias"), label="Line frequency"),
        "integrated_power": Column("W", setpoints=("neuron", "bias"), label="Line power"),
        "linewidth": Column("Hz", setpoints=("neuron", "bias"), label="Linewidth (FWHM)"),
        "spectrum_frequency": Column("Hz", "array", label="Spectrum frequency"),
        "spectrum_power": Column("dBm", "array", setpoints=("spectrum_frequency",),
                                 label="Spectrum level"),
    }

    def startup(self) -> None:
        """Instruments found, sweep checked against the limits, bench at rest: RF off,
        every control and bias at 0 A and on; analyzers set."""
        self._biases = [self.instrument(n, CurrentSource) for n in BIASES]
        self._controls = [self.instrument(n, CurrentSource) for n in CONTROLS]
        self._inputs = [self.instrument(n, RFSource) for n in INPUTS]
        self._analyzers = [self.instrument(n, SpectrumAnalyzer) for n in ANALYZERS]
        for bias in (self.bias_start, self.bias_stop):
            self._biases[0].current.validate(bias)
        for source in self._inputs:
            source.output(False)
        at_zero((*self._controls, *self._biases))
        for sa in set(self._analyzers):
            sa.start(self.start)
            sa.stop(self.stop)
            sa.rbw(self.rbw)
            sa.vbw(self.vbw)
            sa.points(int(self.spectrum_points))
        self._rbw = float(self._analyzers[0].rbw())
        step = (self.stop - self.start) / (int(self.spectrum_points) - 1)
        if step > self._rbw / 2:
            raise LabrfError(f"{self.name}: points {step:.4g} Hz apart do not sample an RBW "
                             f"of {self._rbw:.4g} Hz; raise spectrum_points or rbw so that "
                             f"(stop - start) / (spectrum_points - 1) <= rbw / 2")

    def execute(self) -> None:
        """Per neuron, one row per bias; each bias returns to 0 A after its sweep."""
        biases = np.linspace(self.bias_start, self.bias_stop, int(self.bias_points))
        clock = self.station.clock
        for j, (source, sa) in enumerate(zip(self._biases, self._analyzers, strict=True)):
            for i, bias in enumerate(biases):
                if self.should_stop():
                    return
                source.current(float(bias))
                clock.sleep(self.settle_time)
                trace = sa.sweep()
                try:
                    line = fit_line(trace.frequency, trace.power, self._rbw,
                                    noise_bandwidth_ratio=LORENTZIAN_NOISE_BANDWIDTH)
                except LabrfError as exc:  # a noise peak that is no line: none seen here
                    log.warning("%s: %s at %.4g A: %s", self.name, NEURON_NAMES[j], bias, exc)
                    line = NO_LINE
                self.emit("results", {
                    "neuron": j, "bias": float(bias), "peak_frequency": line.peak_frequency,
                    "integrated_power": line.integrated_power, "linewidth": line.linewidth,
                    "spectrum_frequency": np.asarray(trace.frequency, dtype=float),
                    "spectrum_power": np.asarray(trace.power, dtype=float)})
                self.progress(j * biases.size + i + 1, 3 * biases.size)
            source.current(0.0)

    def shutdown(self) -> None:
        """Every bias and control ramped to 0 A and off."""
        for source in (*getattr(self, "_biases", ()), *getattr(self, "_controls", ())):
            source.output(False)

    def analyse(self, data: Mapping[str, np.ndarray]) -> dict[str, Any]:
        """Per neuron: threshold (A), frequency at threshold (Hz), tunability (Hz/A), with
        the whole emission fit beside them. The threshold is the auto-oscillator law's
        (``fit_threshold``, Q of the design), which phi's straight line reads about 1 %
        low; the frequency at threshold follows the tunability line there."""
        fits = {}
        for j, name in enumerate(NEURON_NAMES):
            rows = np.asarray(data["neuron"]) == j
            try:
                fits[name] = fit_emission(data["bias"][rows], data["integrated_power"][rows],
                                          data["peak_frequency"][rows])
            except LabrfError as exc:
                raise LabrfError(f"neuron {name}: {exc}") from None
        design = nominal_network().neurons
        laws = {}
        for j, name in enumerate(NEURON_NAMES):
            rows = np.asarray(data["neuron"]) == j
            laws[name] = fit_threshold(data["bias"][rows], data["integrated_power"][rows],
                                       design[j].q, fits[name].threshold_current)
        thresholds = np.array([laws[n].threshold_current for n in NEURON_NAMES])
        calibration = NeuronCalibration(
            thresholds,
            np.array([fits[n].frequency_at_threshold + fits[n].tunability
                      * (laws[n].threshold_current - fits[n].threshold_current)
                      for n in NEURON_NAMES]),
            np.array([fits[n].tunability for n in NEURON_NAMES]))
        return {"neurons": calibration.as_dict(),
                "threshold_err": {n: laws[n].threshold_current_err for n in NEURON_NAMES},
                "emission": {n: f.as_dict() for n, f in fits.items()}}

    def plot(self, data: Mapping[str, np.ndarray], fit: Mapping[str, Any],
             path: Path) -> Path:
        """Line power (log scale: each neuron is seen through its own path's gain) and
        frequency against bias, one curve per neuron."""
        fig, (ax_p, ax_f) = new_figure(1, 2, title="Neuron calibration")
        for j, name in enumerate(NEURON_NAMES):
            rows = np.asarray(data["neuron"]) == j
            text = name
            if fit and name in fit.get("neurons", {}):
                n = fit["neurons"][name]
                text += (f": I_th {n['threshold_current'] * 1e3:.3f} mA, "
                         f"{n['frequency'] / 1e6:.2f} MHz")
            power = data["integrated_power"][rows]
            ax_p.semilogy(data["bias"][rows], np.where(power > 0, power, math.nan), "o-",
                          label=text)
            freq = data["peak_frequency"][rows]
            ax_f.plot(data["bias"][rows], np.where(np.isfinite(freq), freq, math.nan), "o-",
                      label=name)
        label(ax_p, "Bias current", "A", "Line power", "W")
        label(ax_f, "Bias current", "A", "Line frequency", "Hz")
        ax_p.legend(fontsize="small")
        ax_f.legend(fontsize="small")
        return save(fig, path)
