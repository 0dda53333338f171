"""A network chip of any size seen through its three instruments: the knobs written as
one array to a knob bank, each example presented as the powers of one multitone
source's tones, the output neurons read from one spectrum-analyzer trace.

One *hardware forward pass* is one example: the tones' powers set, the settle time
waited, one sweep read (and, when asked for, every chain on the chain voltmeter). The
analyzer's span covers every output neuron from its threshold to the drive limit, its
detector is RMS (a peak detector reads each trace point's highest level: 20 % too much
power for lines a few points wide). Each output neuron's line moves with its drive, so
the trace's lines are found and matched, one to one, to where the model puts each
neuron for that example (from the chains, when read in the same pass, else from the
model's forward pass at the same knobs and inputs). A neuron's emitted power is its
line's channel power between the midpoints to its neighbours (the trace integrated,
divided by the RBW filter's noise bandwidth and by the gain from the chip to the
analyzer). Instrument names follow ``station_configs/sim_digits_chip.yaml``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import ArrayLike
from scipy.optimize import linear_sum_assignment

from labrf.errors import LabrfError
from labrf.network import layered_pass as lp
from labrf.network.layered import LayeredNetwork
from labrf.roles import ChainVoltmeter, KnobBank, MultitoneSource, SpectrumAnalyzer

#: Station names of the chip bench's instruments.
TONES, KNOBS, ANALYZER, CHAINS = "tones", "knobs", "spectrum_analyzer", "chains"
#: Trace points per RBW (the band integrals need the line shape sampled).
POINTS_PER_RBW = 2
#: Half-width of the window around a line's peak that its power is read over, in RBWs.
WINDOW = 5
#: Most points an analyzer trace takes (the FSV's).
MAX_POINTS = 32001


#: Relative margin of the analyzer's span beyond the output neurons' frequency range.
SPAN_MARGIN = 0.03
#: Lines closer than this many RBWs are one line of a trace.
MERGE = 3.0
#: Farthest a trace's line is from where the model expects it: this many RBWs, or this
#: fraction of its frequency if more (a model without calibration: the chip's spread)
TOLERANCE, RELATIVE_TOLERANCE = 10.0, 0.06
#: the RBW filter's half-width per RBW (a Lorentzian of the RBW's 3 dB width)
RBW_HALF_WIDTH = 0.5


def output_span(model: LayeredNetwork) -> tuple[float, float]:
    """(lowest, highest) frequency, Hz, any output neuron of ``model`` emits at (from its
    threshold to the drive limit), widened by ``SPAN_MARGIN``."""
    neurons = model.layers[-1].neurons
    top = neurons.frequency + neurons.current_tuning * np.maximum(
        model.drive_limit - neurons.threshold_current, 0.0)
    low, high = np.minimum(neurons.frequency, top), np.maximum(neurons.frequency, top)
    return float(low.min()) * (1 - SPAN_MARGIN), float(high.max()) * (1 + SPAN_MARGIN)


def trace_peaks(frequency: np.ndarray, watts: np.ndarray, floor: float, apart: int
                ) -> np.ndarray:
    """Indices of a trace's lines: points above ``floor`` W that are the highest within
    ``apart`` points on either side."""
    padded = np.pad(watts, apart, constant_values=-np.inf)
    window = np.lib.stride_tricks.sliding_window_view(padded, 2 * apart + 1)
    top = (watts >= window.max(axis=1)) & (watts > floor)
    return np.flatnonzero(top)


def match_lines(expected: np.ndarray, found: np.ndarray, tolerance: np.ndarray
                ) -> np.ndarray:
    """(C,) the line of ``found`` (Hz) each expected line (``expected``, Hz) is, -1 for
    none: one to one, nearest first in total (a common offset of the model is matched
    away), a line farther than its ``tolerance`` (C,) Hz left unmatched."""
    c = expected.size
    tolerance = np.broadcast_to(np.asarray(tolerance, dtype=float), (c,))
    cost = np.abs(expected[:, None] - found[None, :])
    cost = np.where(cost <= tolerance[:, None], cost, 1e3 * tolerance.max())
    rows, cols = linear_sum_assignment(np.hstack([cost, np.diag(tolerance)
                                                  + 1e3 * tolerance.max() * (1 - np.eye(c))]))
    out = np.full(c, -1)
    real = cols < found.size
    out[rows[real]] = cols[real]
    return out


def line_powers(frequency: np.ndarray, watts: np.ndarray, edges: np.ndarray, rbw: float,
                floor: float) -> tuple[np.ndarray, np.ndarray]:
    """Per band between consecutive ``edges`` (Hz, increasing) of one trace (``watts`` W
    at ``frequency`` Hz, RBW ``rbw`` Hz): the channel power of its line (W) within
    ``WINDOW`` RBWs of its peak and within the band, and the peak's frequency (Hz, by a
    parabola through the three highest points in dB). 0 W and NaN where the band holds
    no line: its highest point at the band's edge (a neighbour's tail) or not above
    ``floor`` W."""
    spacing = float(np.median(np.diff(frequency)))
    half = max(1, round(WINDOW * rbw / spacing))
    rho = RBW_HALF_WIDTH * rbw
    starts = np.searchsorted(frequency, edges)
    powers = np.zeros(edges.size - 1)
    peaks = np.full(edges.size - 1, np.nan)
    for band, (a, b) in enumerate(zip(starts[:-1], starts[1:], strict=True)):
        if b - a < 3:
            continue
        peak = a + int(np.argmax(watts[a:b]))
        if peak in (a, b - 1) or watts[peak] <= floor:
            continue
        lo, hi = max(peak - half, a), min(peak + half + 1, b)
        # the reading of a line is a Lorentzian of half-width rho (the RBW filter; lines
        # are narrower): it integrates to pi rho per unit power, a fraction
        # (atan(left / rho) + atan(right / rho)) / pi of it over the points lo..hi - 1
        left, right = (peak - lo + 0.5) * spacing, (hi - 1 - peak + 0.5) * spacing
        fraction = (math.atan(left / rho) + math.atan(right / rho)) / math.pi
        powers[band] = watts[lo:hi].sum() * spacing / (math.pi * rho) / fraction
        y0, y1, y2 = np.log(np.maximum(watts[peak - 1:peak + 2], 1e-300))
        curvature = y0 - 2 * y1 + y2
        offset = 0.5 * (y0 - y2) / curvature if curvature < 0 else 0.0
        peaks[band] = frequency[peak] + float(np.clip(offset, -0.5, 0.5)) * spacing
    return powers, peaks


@dataclass
class LayeredBench:
    """The roles of a chip bench and how a pass is made.

    ``settle_time`` (s) is waited after the tones change, before the sweep;
    ``output_gain`` (W/W) is the gain from the chip's output to the analyzer."""

    tones: MultitoneSource
    knobs: KnobBank
    analyzer: SpectrumAnalyzer
    clock: Any
    model: LayeredNetwork  #: the lab's model of the chip (frequencies, limits, sizes)
    settle_time: float = 1e-3
    output_gain: float = 1000.0
    rbw: float = 1e6  #: Hz
    passes: int = 0  #: hardware forward passes made
    #: the chain voltmeter, if the bench has one: ``forward(..., voltages=True)`` then
    #: also reads every chain of the chip in each pass
    chains: ChainVoltmeter | None = None
    span: tuple[float, float] = field(init=False)  #: the analyzer's span, Hz
    written: np.ndarray = field(init=False)  #: the knobs last written, A

    def __post_init__(self) -> None:
        self.span = output_span(self.model)
        self.written = np.zeros(self.model.knob_count)

    @classmethod
    def from_station(cls, instrument: Callable[[str, type], Any], clock: Any,
                     model: LayeredNetwork, chains: bool = False,
                     **settings: Any) -> LayeredBench:
        """The bench from a procedure's ``instrument(name, role)`` lookup; with
        ``chains``, the chain voltmeter too."""
        return cls(instrument(TONES, MultitoneSource), instrument(KNOBS, KnobBank),
                   instrument(ANALYZER, SpectrumAnalyzer), clock, model,
                   chains=instrument(CHAINS, ChainVoltmeter) if chains else None,
                   **settings)

    def prepare(self) -> None:
        """Tones at the model's input frequencies at 0 W, on; knobs at 0 A, on; the
        analyzer over every output neuron's frequency range, RMS detector."""
        self.tones.output(False)
        self.tones.set_tones(self.model.input_frequencies, np.zeros(self.model.sizes[0]))
        self.write(np.zeros(self.knobs.count))
        self.knobs.output(True)
        points = min(MAX_POINTS,
                     math.ceil((self.span[1] - self.span[0]) / self.rbw * POINTS_PER_RBW) + 1)
        self.analyzer.start(self.span[0])
        self.analyzer.stop(self.span[1])
        self.analyzer.rbw(self.rbw)
        self.analyzer.points(points)
        self.analyzer.detector("RMS")
        self.tones.output(True)

    def write(self, knobs: ArrayLike) -> None:
        """Set every knob (A): checked against the knob bank's channel limits, ramped."""
        self.knobs.write(knobs)
        self.written = np.array(knobs, dtype=float)

    def band_powers(self, frequency: np.ndarray, watts: np.ndarray, lines: np.ndarray,
                    expected: np.ndarray) -> np.ndarray:
        """(C,) power emitted by each output neuron (W at the chip) from one trace, the
        neurons' lines expected at ``lines`` (C,) Hz with powers ``expected`` (C,) W.

        The trace's lines (``trace_peaks``, ``MERGE`` RBWs apart at least) are read
        between the midpoints to their neighbours (``line_powers``) and matched one to
        one to the expected lines (``match_lines``, within ``TOLERANCE``). A neuron
        left without a line whose expected line is within ``MERGE`` RBWs of a matched
        one shares that line (two neurons on one frequency are one line of the trace):
        in the ratio of their expected powers, all to the matched neuron if none of
        them is expected to emit."""
        floor = self.model.detection_power * self.output_gain
        spacing = float(np.median(np.diff(frequency)))
        at = trace_peaks(frequency, watts, floor, max(1, round(MERGE * self.rbw / spacing)))
        out = np.zeros(lines.size)
        if at.size == 0:
            return out
        found = frequency[at]
        edges = np.concatenate([[frequency[0]], np.sqrt(found[:-1] * found[1:]),
                                [frequency[-1] + spacing]])
        powers, _ = line_powers(frequency, watts, edges, self.rbw, floor)
        owner = match_lines(lines, found, np.maximum(TOLERANCE * self.rbw,
                                                     RELATIVE_TOLERANCE * lines))
        matched = owner >= 0
        for j in np.flatnonzero(~matched):  # on a matched neuron's frequency: shares it
            near = np.flatnonzero(matched)
            if near.size:
                k = near[np.argmin(np.abs(lines[near] - lines[j]))]
                if abs(lines[k] - lines[j]) < MERGE * self.rbw:
                    owner[j] = owner[k]
        weight = np.maximum(np.asarray(expected, dtype=float), 0.0)
        for peak in np.unique(owner[owner >= 0]):
            sharing = np.flatnonzero(owner == peak)
            total = weight[sharing].sum()
            share = weight[sharing] / total if total > 0 else matched[sharing] * 1.0
            out[sharing] = powers[peak] * share
        return out / self.output_gain

    def _expected(self, output: lp.LayerActivations) -> tuple[np.ndarray, np.ndarray]:
        """(B, C) where the output neurons' lines are, Hz (a silent neuron's at its
        threshold frequency, where it would start to emit), and their powers, W, by the
        model at ``output`` (its output layer's activations)."""
        neurons = self.model.layers[-1].neurons
        lines = np.where(output.currents >= neurons.threshold_current, output.frequencies,
                         neurons.frequency)
        return lines, output.powers

    def _split(self, volts: np.ndarray) -> list[np.ndarray]:
        """Chain voltages (B, all chains) as one (B, M_l) array per layer."""
        bounds = np.cumsum([0, *(layer.shape[0] for layer in self.model.layers)])
        return [volts[:, a:b] for a, b in zip(bounds[:-1], bounds[1:], strict=True)]

    def forward(self, inputs: ArrayLike, voltages: bool = False
                ) -> np.ndarray | tuple[np.ndarray, list[np.ndarray]]:
        """Present each example of ``inputs`` (B, N_0), W at the chip; (B, C) the output
        neurons' emitted powers, W. With ``voltages`` (a bench with ``chains``), also
        every layer's chain voltages (B, M_l), V, read in the same pass."""
        x = np.atleast_2d(np.asarray(inputs, dtype=float))
        if voltages and self.chains is None:
            raise LabrfError("reading the chains needs the chip's chain voltmeter "
                             "('chains' in the station)")
        out = np.empty((len(x), self.model.sizes[-1]))
        volts = np.empty((len(x), sum(layer.shape[0] for layer in self.model.layers)))
        if not voltages:  # where the lines are: the model's forward pass
            lines, expected = self._expected(lp.forward(self.model, self.written, x)[-1])
        for n, powers in enumerate(x):  # one example at a time: a pass is a sweep
            self.tones.set_powers(powers)
            self.clock.sleep(self.settle_time)
            trace = self.analyzer.sweep()
            if voltages:  # where the lines are: the drives just read
                volts[n] = self.chains.read()
                line, power = (v[0] for v in self._expected(lp.activations_from_voltages(
                    self.model, self.written, self._split(volts[n:n + 1]))[-1]))
            else:
                line, power = lines[n], expected[n]
            out[n] = self.band_powers(np.asarray(trace.frequency), trace.power_watt, line,
                                      power)
            self.passes += 1
        return (out, self._split(volts)) if voltages else out

    def classify(self, powers: np.ndarray) -> np.ndarray:
        """(B,) class per example from measured output powers (the model's readout)."""
        return lp.classes(self.model, powers)
