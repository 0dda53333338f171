"""A network chip of any size seen through its three instruments: the knobs written as
one array to a knob bank, each example presented as the powers of one multitone
source's tones, the output neurons read from one spectrum-analyzer trace.

One *hardware forward pass* is one example: the tones' powers set, the settle time
waited, one sweep read. Each output neuron owns a band of the trace (edges halfway, on a
log scale, between neighbouring neurons' working frequencies); its emitted power is the
band's channel power (the trace integrated over the band, divided by the RBW filter's
noise bandwidth and by the gain from the chip to the analyzer). Instrument names follow
``station_configs/sim_digits_chip.yaml``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

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


def output_bands(model: LayeredNetwork) -> tuple[np.ndarray, np.ndarray]:
    """(C + 1,) band edges in Hz around the output neurons' working frequencies, in
    increasing order: halfway (geometric mean) between neighbours, and as far beyond the
    first and the last; and (C,) the neuron of each band."""
    neurons = model.layers[-1].neurons
    window = model.drive_limit - neurons.threshold_current
    working = neurons.frequency + neurons.current_tuning * 0.5 * window
    order = np.argsort(working)
    f = working[order]
    if f.size == 1:
        return np.array([f[0] / 1.2, f[0] * 1.2]), order
    inner = np.sqrt(f[:-1] * f[1:])
    return np.concatenate([[f[0] ** 2 / inner[0]], inner, [f[-1] ** 2 / inner[-1]]]), order


def line_powers(frequency: np.ndarray, watts: np.ndarray, edges: np.ndarray, rbw: float,
                floor: float) -> tuple[np.ndarray, np.ndarray]:
    """Per band between consecutive ``edges`` (Hz, increasing) of one trace (``watts`` W
    at ``frequency`` Hz, RBW ``rbw`` Hz): the channel power of its line (W) within
    ``WINDOW`` RBWs of its peak, and the peak's frequency (Hz, by a parabola through the
    three highest points in dB). 0 W and NaN where the band holds no line: its highest
    point at the band's edge (a neighbour's tail) or not above ``floor`` W."""
    spacing = float(np.median(np.diff(frequency)))
    half = max(1, round(WINDOW * rbw / spacing))
    starts = np.searchsorted(frequency, edges)
    powers = np.zeros(edges.size - 1)
    peaks = np.full(edges.size - 1, np.nan)
    for band, (a, b) in enumerate(zip(starts[:-1], starts[1:], strict=True)):
        if b - a < 3:
            continue
        peak = a + int(np.argmax(watts[a:b]))
        if peak in (a, b - 1) or watts[peak] <= floor:
            continue
        window = watts[max(peak - half, 0):peak + half + 1]
        # a Lorentzian of 3 dB width B (the RBW filter; lines are narrower) integrates
        # to pi B / 2 per unit power, a fraction 2/pi atan(2 WINDOW) of it in the window
        powers[band] = window.sum() * spacing / (math.pi * rbw / 2) / (
            2 / math.pi * math.atan(2 * WINDOW))
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
    edges: np.ndarray = field(init=False)  #: band edges, Hz, increasing
    neuron_of_band: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        self.edges, self.neuron_of_band = output_bands(self.model)

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
        analyzer over the output bands."""
        self.tones.output(False)
        self.tones.set_tones(self.model.input_frequencies, np.zeros(self.model.sizes[0]))
        self.knobs.write(np.zeros(self.knobs.count))
        self.knobs.output(True)
        span = self.edges[-1] - self.edges[0]
        points = min(MAX_POINTS, math.ceil(span / self.rbw * POINTS_PER_RBW) + 1)
        self.analyzer.start(float(self.edges[0]))
        self.analyzer.stop(float(self.edges[-1]))
        self.analyzer.rbw(self.rbw)
        self.analyzer.points(points)
        self.tones.output(True)

    def write(self, knobs: ArrayLike) -> None:
        """Set every knob (A): checked against the knob bank's channel limits, ramped."""
        self.knobs.write(knobs)

    def band_powers(self, frequency: np.ndarray, watts: np.ndarray) -> np.ndarray:
        """(C,) power emitted by each output neuron (W at the chip) from one trace
        (``line_powers`` over the output bands)."""
        powers, _ = line_powers(frequency, watts, self.edges, self.rbw,
                                self.model.detection_power * self.output_gain)
        out = np.zeros(powers.size)
        out[self.neuron_of_band] = powers
        return out / self.output_gain

    def forward(self, inputs: ArrayLike, voltages: bool = False
                ) -> np.ndarray | tuple[np.ndarray, list[np.ndarray]]:
        """Present each example of ``inputs`` (B, N_0), W at the chip; (B, C) the output
        neurons' emitted powers, W. With ``voltages`` (a bench with ``chains``), also
        every layer's chain voltages (B, M_l), V, read in the same pass."""
        x = np.atleast_2d(np.asarray(inputs, dtype=float))
        out = np.empty((len(x), self.edges.size - 1))
        if voltages and self.chains is None:
            raise LabrfError("reading the chains needs the chip's chain voltmeter "
                             "('chains' in the station)")
        volts = np.empty((len(x), sum(layer.shape[0] for layer in self.model.layers)))
        for n, powers in enumerate(x):  # one example at a time: a pass is a sweep
            self.tones.set_powers(powers)
            self.clock.sleep(self.settle_time)
            trace = self.analyzer.sweep()
            out[n] = self.band_powers(np.asarray(trace.frequency), trace.power_watt)
            if voltages:
                volts[n] = self.chains.read()  # type: ignore[union-attr]
            self.passes += 1
        if not voltages:
            return out
        bounds = np.cumsum([0, *(layer.shape[0] for layer in self.model.layers)])
        return out, [volts[:, a:b] for a, b in zip(bounds[:-1], bounds[1:], strict=True)]

    def classify(self, powers: np.ndarray) -> np.ndarray:
        """(B,) class per example from measured output powers (the model's readout)."""
        return lp.classes(self.model, powers)
