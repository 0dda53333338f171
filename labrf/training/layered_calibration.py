"""Calibrations of a network chip of any size, through its instruments: what the lab's
model of the chip (``LayeredCalibration.model``) is built from, in place of the design.

- Neurons, layer by layer (their emission curves): inputs off, every bias at 0 A but
  those of one group of the layer's neurons, stepped together from below threshold to
  the drive limit; each step one trace of the analyzer that sees the layer (the output
  analyzer for the last, the monitor tap for the others); each neuron's line is read in
  its own window of the trace (the groups interleave the neurons so that no two windows
  of a group overlap) and its threshold and frequency at threshold are fitted from its
  emission curve (``labrf.analysis.emission.fit_emission``).
- Synapses, layer by layer, every chain at once (the chain voltmeter reads them all): a
  probe tone on the tone synapse k of every chain faces (layer 0: input tone k of the
  multitone source; later layers: neuron k of the layer before, alone, at a bias whose
  frequency the neuron calibration gives), synapse k's control current of every chain
  stepped over its range, the others at 0 A. Each chain's voltage follows that one line,
  V(I) = V_0 + a s_k h((f_p - f_r - gamma I) / (alpha (f_r + gamma I))), over the
  constant background of the chain's other synapses; f_r (the resonance at zero
  control), a and V_0 are fitted per chain (a grid over f_r with a and V_0 solved
  exactly at each point, refined by a parabola), with alpha, gamma and S/A the design's.
  a gives the path's transmission times the synapse's sensitivity, relative to design.

Every setting is written through the roles (limits checked first); the calibration
leaves tones off and knobs at 0 A. SI units throughout.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace

import numpy as np

from labrf.analysis.emission import fit_emission, fit_threshold
from labrf.errors import LabrfError
from labrf.network.design import facing_tones
from labrf.network.layered import LayeredNetwork
from labrf.physics.oscillator import emitted_power
from labrf.roles import ChainVoltmeter, SpectrumAnalyzer
from labrf.training.layered_bench import LayeredBench, line_powers

#: Values of the ``kind`` column of a chip calibration's rows.
SYNAPSE, NEURON = 0, 1
#: Control-current steps of a synapse sweep.
CONTROL_STEPS = 41
#: Bias steps of an emission curve, from BIAS_START x the design threshold to the limit.
BIAS_STEPS = 16
BIAS_START = 0.8
#: Probe power at a first-layer chain, W (a tenth of the input-power budget).
PROBE_POWER = 5e-6
#: Probe neurons' bias above their measured threshold, A (mid-window).
PROBE_OVERDRIVE = 1e-3
#: Relative margin of a neuron's window beyond its design frequency span.
WINDOW_MARGIN = 0.06
#: relative widening of a located line's window (the tuning's spread, the RBW), and of
#: the design band searched for each line
LINE_MARGIN, SEARCH_WIDTH = 0.01, 0.25
#: Resonances searched, relative to the design's: +- SEARCH in SEARCH_POINTS steps (6 sigma
#: of a 5 % spread).
SEARCH, SEARCH_POINTS = 0.3, 961
#: Analyzer RBW of the emission traces, Hz; points per RBW.
RBW, POINTS_PER_RBW = 1e6, 2
#: A line counts when its peak is this many times the trace's median (its noise floor).
NOISE_FACTOR = 30.0


@dataclass(frozen=True)
class LayeredCalibration:
    """What the calibrations measured of a chip, per layer (SI units)."""

    resonance: tuple[np.ndarray, ...]  #: (M, K) synapse resonances at zero control, Hz
    gain: tuple[np.ndarray, ...]  #: (M, K) path x sensitivity relative to the design
    threshold: tuple[np.ndarray, ...]  #: (M,) neuron thresholds, A
    frequency: tuple[np.ndarray, ...]  #: (M,) neuron frequencies at threshold, Hz
    residual: tuple[np.ndarray, ...]  #: (M, K) rms residual of each synapse fit, V
    passes: int = 0  #: readings made (voltmeter readings and traces)

    def model(self, design: LayeredNetwork, paths: bool = True) -> LayeredNetwork:
        """``design`` with the measured resonances, thresholds and frequencies; with
        ``paths``, every path's transmission scaled by the measured gain of the synapse
        that faces its tone (mean over them)."""
        layers = []
        for index, layer in enumerate(design.layers):
            syn = replace(layer.synapses, resonance=self.resonance[index])
            neu = replace(layer.neurons, threshold_current=self.threshold[index],
                          frequency=self.frequency[index])
            coupling = layer.coupling
            if paths:
                m, k, n = layer.shape
                facing = facing_tones(k, n)
                counts = np.bincount(facing, minlength=n)
                sums = np.zeros((m, n))
                np.add.at(sums.T, facing, self.gain[index].T)
                coupling = coupling * np.where(counts > 0, sums / np.maximum(counts, 1), 1.0)
            layers.append(replace(layer, synapses=syn, neurons=neu, coupling=coupling))
        return replace(design, layers=tuple(layers))

    @classmethod
    def from_rows(cls, design: LayeredNetwork, rows: Mapping[str, np.ndarray]
                  ) -> LayeredCalibration:
        """The calibration of a ``chip-calibration`` run from its rows (``kind``, ``layer``,
        ``chain``, ``position`` and the measured columns); LabrfError if a device of
        ``design`` is missing."""
        kind, layer = np.asarray(rows["kind"]), np.asarray(rows["layer"])
        chain, position = np.asarray(rows["chain"]), np.asarray(rows["position"])
        out: dict[str, list[np.ndarray]] = {k: [] for k in (
            "resonance", "gain", "residual", "threshold", "frequency")}
        for index, lay in enumerate(design.layers):
            m, k, _ = lay.shape
            syn = np.flatnonzero((kind == SYNAPSE) & (layer == index))
            neu = np.flatnonzero((kind == NEURON) & (layer == index))
            if syn.size != m * k or neu.size != m:
                raise LabrfError(f"the chip calibration holds {syn.size} synapses and "
                                 f"{neu.size} neurons of layer {index}; the chip's design "
                                 f"has {m * k} and {m}: calibrate this chip again")
            at = chain[syn].astype(int) * k + position[syn].astype(int)
            for name in ("resonance", "gain", "residual"):
                values = np.empty(m * k)
                values[at] = np.asarray(rows[name])[syn]
                out[name].append(values.reshape(m, k))
            for name in ("threshold", "frequency"):
                values = np.empty(m)
                values[chain[neu].astype(int)] = np.asarray(rows[name])[neu]
                out[name].append(values)
        return cls(*(tuple(out[k]) for k in ("resonance", "gain", "threshold",
                                              "frequency", "residual")))


class CalibrationStopped(LabrfError):
    """A calibration stopped on request (before the sweep its message names)."""


# ------------------------------------------------------------------ fits


def line_shape(u: np.ndarray, symmetric: np.ndarray, antisymmetric: np.ndarray
               ) -> np.ndarray:
    """A spin-diode line per watt, (S + A u) / (1 + u^2), V/W."""
    return (symmetric + antisymmetric * u) / (1.0 + u * u)


def fit_control_sweeps(controls: np.ndarray, volts: np.ndarray, probe: np.ndarray,
                       design: np.ndarray, damping: np.ndarray, tuning: np.ndarray,
                       symmetric: np.ndarray, antisymmetric: np.ndarray, polarity: float
                       ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Fit M chains' sweeps of one synapse each: ``volts`` (M, P) V at control currents
    ``controls`` (P,) A, probe frequencies ``probe`` (M,) Hz; per chain the synapse's
    design resonance, damping, tuning (Hz/A) and sensitivities (M,). Returns the
    resonances at zero control (M,) Hz, the line amplitudes a (M,) W (V per design V/W)
    and the rms residuals (M,) V. A grid over +- SEARCH of the design, then parabolas
    through ever closer points (a and V_0 solved exactly at every resonance tried)."""
    v = volts[:, None, :]
    dv = v - v.mean(axis=2, keepdims=True)

    def rss(f_r: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Residual sums of squares (M, C) and amplitudes at resonances ``f_r`` (M, C)."""
        tuned = f_r[:, :, None] + tuning[:, None, None] * controls[None, None, :]
        u = (probe[:, None, None] - tuned) / (damping[:, None, None] * tuned)
        h = polarity * line_shape(u, symmetric[:, None, None], antisymmetric[:, None, None])
        dh = h - h.mean(axis=2, keepdims=True)
        a = np.maximum((dh * dv).sum(axis=2) / np.maximum((dh * dh).sum(axis=2), 1e-300),
                       0.0)  # a line of the wrong sign is no fit
        return ((dv - a[:, :, None] * dh) ** 2).sum(axis=2), a

    rel = np.linspace(-SEARCH, SEARCH, SEARCH_POINTS)
    values, _ = rss(design[:, None] * (1.0 + rel[None, :]))
    best = design * (1.0 + rel[np.argmin(values, axis=1)])
    h = design * (rel[1] - rel[0])
    for _ in range(4):  # each parabola from points h apart, h shrinking fourfold
        r0, r1, r2 = rss(best[:, None] + h[:, None] * np.array([-1.0, 0.0, 1.0]))[0].T
        curvature = r0 - 2 * r1 + r2
        shift = np.where(curvature > 0, 0.5 * (r0 - r2) / np.where(curvature > 0,
                                                                     curvature, 1.0), 0.0)
        best = best + np.clip(shift, -1.0, 1.0) * h
        h = h / 4
    final, amplitude = rss(best[:, None])
    return best, amplitude[:, 0], np.sqrt(final[:, 0] / controls.size)


def overlapping_outputs(model: LayeredNetwork) -> list[tuple[int, int, float, float]]:
    """Pairs of output neurons (i, j, overlap start, end in Hz) whose emission bands, from
    threshold to the drive limit, overlap: where their lines meet, one analyzer trace
    sees one line, which ``LayeredBench`` shares in the ratio its model expects (with 5 %
    spread two neighbours of the digits chip's output layer, 20 % apart by design, can
    land on one frequency)."""
    n = model.layers[-1].neurons
    lo = n.frequency
    hi = n.frequency + n.current_tuning * np.maximum(model.drive_limit - n.threshold_current,
                                                     0.0)
    pairs = []
    for i in range(lo.size):
        for j in range(i + 1, lo.size):
            start, end = max(lo[i], lo[j]), min(hi[i], hi[j])
            if start < end:
                pairs.append((i, j, float(start), float(end)))
    return pairs


def _span(analyzer: SpectrumAnalyzer, start: float, stop: float) -> None:
    """``analyzer`` over ``start``..``stop`` (Hz) at the emission traces' RBW, RMS
    detector (lines are integrated over the trace)."""
    analyzer.detector("RMS")
    analyzer.start(start)
    analyzer.stop(stop)
    analyzer.rbw(RBW)
    analyzer.points(min(32001, math.ceil((stop - start) / RBW * POINTS_PER_RBW) + 1))


# ------------------------------------------------------------------ the measurements


@dataclass
class ChipCalibrator:
    """Runs the calibrations of ``bench``'s chip; ``design`` gives what to expect."""

    bench: LayeredBench
    chains: ChainVoltmeter
    monitor: SpectrumAnalyzer | None
    design: LayeredNetwork
    progress: Callable[[str], None] | None = None
    #: asked before every sweep; True stops the calibration (``CalibrationStopped``)
    should_stop: Callable[[], bool] | None = None
    passes: int = 0

    def _say(self, text: str) -> None:
        if self.should_stop is not None and self.should_stop():
            raise CalibrationStopped(text)
        if self.progress is not None:
            self.progress(text)

    def _knobs(self, controls: list[np.ndarray] | None = None,
               biases: list[np.ndarray] | None = None) -> None:
        """Write every knob: ``controls`` (M, K) and ``biases`` (M,) per layer, A; 0
        where None."""
        net = self.design
        c = controls or [np.zeros(layer.shape[:2]) for layer in net.layers]
        b = biases or [np.zeros(layer.shape[0]) for layer in net.layers]
        self.bench.write(np.concatenate([*(x.ravel() for x in c), *b]))

    def _inputs(self, powers: np.ndarray) -> None:
        self.bench.tones.set_powers(powers)
        self.bench.clock.sleep(self.bench.settle_time)

    def run(self) -> LayeredCalibration:
        """Both calibrations, every layer; tones off and knobs ramped to 0 A and off at
        the end (also on an error or a stop)."""
        bench = self.bench
        bench.prepare()
        try:
            threshold, frequency = [], []
            for index in range(len(self.design.layers)):
                th, f0 = self.neurons(index)
                threshold.append(th)
                frequency.append(f0)
            resonance, gain, residual = [], [], []
            for index in range(len(self.design.layers)):
                r, g, e = self.synapses(index, threshold, frequency)
                resonance.append(r)
                gain.append(g)
                residual.append(e)
        finally:
            self._inputs(np.zeros(self.design.sizes[0]))
            bench.tones.output(False)
            bench.knobs.output(False)
        return LayeredCalibration(tuple(resonance), tuple(gain), tuple(threshold),
                                  tuple(frequency), tuple(residual), self.passes)

    # ---------------------------------------------------------------- neurons

    def _windows(self, index: int, top: np.ndarray, analyzer: SpectrumAnalyzer
                 ) -> tuple[np.ndarray, np.ndarray]:
        """(M,) lowest and highest frequency (Hz) neuron j of layer ``index`` may emit at
        for biases from ``BIAS_START`` of its design threshold up to ``top`` (M,) A: each
        neuron's line is first found alone at ``top`` (``_locate``), so that a chip whose
        neurons sit far from their design frequencies (5 % spread: 15 MHz at 300 MHz,
        more than the spacing of their lines) is still read neuron by neuron. A neuron
        with no line there keeps the design's window."""
        n = self.design.layers[index].neurons
        span = n.current_tuning * np.maximum(top - BIAS_START * n.threshold_current, 0.0)
        design_hi = n.frequency + n.current_tuning * np.maximum(top - n.threshold_current,
                                                                0.0)
        found = self._locate(index, top, analyzer, n.frequency * (1 - SEARCH_WIDTH),
                             design_hi * (1 + SEARCH_WIDTH))
        lo = np.where(np.isnan(found), n.frequency * (1 - WINDOW_MARGIN),
                      found - (1 + LINE_MARGIN) * span - LINE_MARGIN * found)
        hi = np.where(np.isnan(found), design_hi * (1 + WINDOW_MARGIN),
                      found * (1 + LINE_MARGIN))
        return lo, hi

    def _locate(self, index: int, top: np.ndarray, analyzer: SpectrumAnalyzer,
                lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
        """(M,) frequency (Hz) of each neuron's line biased alone at ``top``, searched
        over ``lo``..``hi`` of the whole layer; NaN where no line rises above the noise."""
        net = self.design
        m = net.layers[index].shape[0]
        _span(analyzer, float(lo.min()), float(hi.max()))
        found = np.full(m, np.nan)
        self._say(f"layer {index} neurons: finding each one's line ({m} traces)")
        for j in range(m):
            biases = [np.zeros(x.shape[0]) for x in net.layers]
            biases[index][j] = top[j]
            self._knobs(biases=biases)
            self.bench.clock.sleep(self.bench.settle_time)
            trace = analyzer.sweep()
            self.passes += 1
            watts = np.asarray(trace.power_watt)
            peak = int(np.argmax(watts))
            if watts[peak] > NOISE_FACTOR * float(np.median(watts)):
                found[j] = float(np.asarray(trace.frequency)[peak])
        return found

    def _groups(self, lo: np.ndarray, hi: np.ndarray) -> list[np.ndarray]:
        """Neurons in interleaved groups whose windows do not overlap."""
        order = np.argsort(lo)
        for count in range(1, order.size + 1):
            groups = [order[g::count] for g in range(count)]
            if all(np.all(lo[g[1:]] > hi[g[:-1]]) for g in groups):
                return groups
        return [order[g:g + 1] for g in range(order.size)]

    def neurons(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        """(M,) thresholds (A) and frequencies at threshold (Hz) of layer ``index``."""
        net = self.design
        last = index == len(net.layers) - 1
        analyzer = self.bench.analyzer if last else self.monitor
        if analyzer is None:
            raise LabrfError(f"calibrating layer {index}'s neurons needs the chip's monitor "
                             "tap on an analyzer (a 'monitor_analyzer' in the station)")
        layer = net.layers[index]
        m = layer.shape[0]
        top = np.minimum(net.bias_limits[1], net.drive_limit)
        steps = np.linspace(BIAS_START * layer.neurons.threshold_current,
                            np.full(m, top), BIAS_STEPS)  # (S, M)
        lo, hi = self._windows(index, steps[-1], analyzer)
        powers = np.zeros((BIAS_STEPS, m))
        peaks = np.full((BIAS_STEPS, m), np.nan)
        self._inputs(np.zeros(net.sizes[0]))
        for group in self._groups(lo, hi):
            self._say(f"layer {index} neurons: emission curves of {group.size} of {m}")
            _span(analyzer, float(lo[group].min()), float(hi[group].max()))
            edges = np.sort(np.concatenate([lo[group], hi[group]]))
            owner = np.argsort(lo[group])
            for s, row in enumerate(steps):
                biases = [np.zeros(x.shape[0]) for x in net.layers]
                biases[index] = np.where(np.isin(np.arange(m), group), row, 0.0)
                self._knobs(biases=biases)
                self.bench.clock.sleep(self.bench.settle_time)
                trace = analyzer.sweep()
                self.passes += 1
                watts = trace.power_watt
                floor = NOISE_FACTOR * float(np.median(watts))
                line, freqs = line_powers(np.asarray(trace.frequency), watts, edges, RBW,
                                          floor)
                # bands alternate: a window (even) and the gap to the next (odd); powers
                # in the analyzer's units (the fits need only their shape)
                neurons = group[owner]
                powers[s, neurons] = line[0::2]
                peaks[s, neurons] = freqs[0::2]
        threshold, frequency = np.empty(m), np.empty(m)
        for j in range(m):
            try:
                line = fit_emission(steps[:, j], powers[:, j], peaks[:, j])
                law = fit_threshold(steps[:, j], powers[:, j], float(layer.neurons.q[j]),
                                    line.threshold_current)
            except LabrfError as exc:
                raise LabrfError(f"layer {index} neuron {j}: {exc}") from None
            threshold[j] = law.threshold_current
            frequency[j] = line.frequency_at_threshold + line.tunability * (
                law.threshold_current - line.threshold_current)
        return threshold, frequency

    # ---------------------------------------------------------------- synapses

    def synapses(self, index: int, threshold: list[np.ndarray],
                 frequency: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(M, K) resonances (Hz), gains and fit residuals (V) of layer ``index``."""
        net = self.design
        layer = net.layers[index]
        m, k, n = layer.shape
        syn = layer.synapses
        facing = facing_tones(k, n)
        lo_c, hi_c = net.control_limits
        controls = np.linspace(lo_c, hi_c, CONTROL_STEPS)
        chain_at = sum(x.shape[0] for x in net.layers[:index])
        resonance, gain, residual = (np.empty((m, k)) for _ in range(3))
        if index == 0:
            probe_f = np.asarray(net.input_frequencies, dtype=float)
            probe_p = np.full(n, PROBE_POWER)
        else:
            prev = net.layers[index - 1].neurons
            bias = np.minimum(threshold[index - 1] + PROBE_OVERDRIVE, net.drive_limit)
            probe_f = frequency[index - 1] + prev.current_tuning * (bias -
                                                                   threshold[index - 1])
            osc = replace(prev.oscillators, threshold_current=threshold[index - 1])
            probe_p = emitted_power(osc, bias)
        saturation = layer.saturation_power
        for s in range(k):
            tone = int(facing[s])
            self._say(f"layer {index} synapses: position {s + 1} of {k} (tone {tone})")
            biases = [np.zeros(x.shape[0]) for x in net.layers]
            powers = np.zeros(net.sizes[0])
            if index == 0:
                powers[tone] = PROBE_POWER
            else:
                biases[index - 1][tone] = bias[tone]
            self._inputs(powers)
            volts = np.empty((m, CONTROL_STEPS))
            for p, current in enumerate(controls):
                c = [np.zeros(x.shape[:2]) for x in net.layers]
                c[index][:, s] = current
                self._knobs(c, biases)
                self.bench.clock.sleep(self.bench.settle_time)
                volts[:, p] = self.chains.read()[chain_at:chain_at + m]
                self.passes += 1
            polarity = 1.0 if s % 2 == 0 else -1.0
            r, a, e = fit_control_sweeps(
                controls, volts, np.full(m, probe_f[tone]), syn.resonance[:, s],
                syn.damping[:, s], syn.current_tuning[:, s], syn.symmetric[:, s],
                syn.antisymmetric[:, s], polarity)
            expected = layer.coupling[:, tone] * probe_p[tone] / (
                1 + layer.coupling[:, tone] * probe_p[tone] / saturation)
            resonance[:, s], gain[:, s], residual[:, s] = r, a / expected, e
        return resonance, gain, residual
