"""The nine-junction network bench, seen through its roles: knobs written as currents,
examples presented as RF input powers, chain voltages and the output neuron measured.

One *hardware forward pass* is one example presented to the chip: both input powers set,
then the three chain voltages read (and, for an evaluation, the output neuron's spectrum).
Every pass is counted. Instrument names follow ``station_configs/sim_network.yaml``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from labrf.network.params import NEURON_NAMES, SYNAPSE_NAMES, Knobs
from labrf.roles import CurrentSource, RFSource, SpectrumAnalyzer, Voltmeter
from labrf.units import watt_to_dbm

#: Station names of the network bench's instruments.
INPUTS = ("rf_input_1", "rf_input_2")
CONTROLS = tuple(f"control_{name}" for name in SYNAPSE_NAMES)
BIASES = tuple(f"bias_{name}" for name in NEURON_NAMES)
CHAINS = ("chain_A", "chain_B", "chain_O")
OUTPUT_ANALYZER = "spectrum_analyzer"
#: Lowest input power set, W: a zero of the task is sent as this (-60 dBm), not as RF off.
POWER_FLOOR = 1e-9


def at_zero(sources: tuple[CurrentSource, ...] | list[CurrentSource]) -> None:
    """Each current source at 0 A with its output on (one that was on ramps down)."""
    for source in sources:
        source.current(0.0)
        source.output(True)


@dataclass
class Measured:
    """What hardware passes measured, one row per example."""

    chain_voltages: np.ndarray  #: (N, 3) V, chains A, B, O
    output_power: np.ndarray  #: (N,) W at the analyzer, NaN where not measured
    inputs: np.ndarray  #: (N, 2) W, the powers actually set


@dataclass
class NetworkBench:
    """The roles of a network bench and how a pass is made.

    ``settle_time`` (s) is waited after the input powers change, before reading. The
    output neuron emits when the analyzer's peak in ``output_band`` (Hz) exceeds
    ``detection_power`` times ``output_gain`` (the amplifier's power gain, W/W)."""

    inputs: tuple[RFSource, RFSource]
    controls: tuple[CurrentSource, ...]
    biases: tuple[CurrentSource, ...]
    chains: tuple[Voltmeter, ...]
    analyzer: SpectrumAnalyzer
    clock: Any
    settle_time: float = 0.01
    output_band: tuple[float, float] = (280e6, 330e6)
    detection_power: float = 1e-9
    output_gain: float = 1000.0
    passes: int = 0  #: hardware forward passes made

    @classmethod
    def from_station(cls, instrument: Callable[[str, type], Any], clock: Any,
                     **settings: Any) -> NetworkBench:
        """The bench from a procedure's ``instrument(name, role)`` lookup."""
        return cls(tuple(instrument(n, RFSource) for n in INPUTS),  # type: ignore[arg-type]
                   tuple(instrument(n, CurrentSource) for n in CONTROLS),
                   tuple(instrument(n, CurrentSource) for n in BIASES),
                   tuple(instrument(n, Voltmeter) for n in CHAINS),
                   instrument(OUTPUT_ANALYZER, SpectrumAnalyzer), clock, **settings)

    def prepare(self, frequencies: tuple[float, float], nplc: float,
                rbw: float = 1e6, points: int = 201) -> None:
        """Inputs at ``frequencies`` (Hz), at the power floor, on; sources at 0 A, on;
        voltmeters at ``nplc``; the analyzer over ``output_band``."""
        for source, f in zip(self.inputs, frequencies, strict=True):
            source.output(False)
            source.frequency(f)
            source.power_at_device(float(watt_to_dbm(POWER_FLOOR)))
        at_zero((*self.controls, *self.biases))
        for meter in self.chains:
            meter.nplc(nplc)
        self.analyzer.start(self.output_band[0])
        self.analyzer.stop(self.output_band[1])
        self.analyzer.rbw(rbw)
        self.analyzer.points(points)
        for source in self.inputs:
            source.output(True)

    def write(self, chip: Knobs) -> None:
        """Set the chip's control and bias currents (A); each source ramps at its rate."""
        for source, amps in zip((*self.controls, *self.biases), chip.vector(), strict=True):
            source.current(float(amps))

    def _present(self, powers: np.ndarray) -> np.ndarray:
        sent = np.maximum(powers, POWER_FLOOR)
        for source, p in zip(self.inputs, sent, strict=True):
            source.power_at_device(float(watt_to_dbm(p)))
        self.clock.sleep(self.settle_time)
        return sent

    def forward(self, inputs: ArrayLike, *, output: bool = False) -> Measured:
        """Present each example of ``inputs`` (N, 2), W, and read the chains (and, with
        ``output``, the output neuron's power at the analyzer, W)."""
        x = np.atleast_2d(np.asarray(inputs, dtype=float))
        volts = np.empty((len(x), 3))
        power = np.full(len(x), math.nan)
        sent = np.empty_like(x)
        for n, pair in enumerate(x):
            sent[n] = self._present(pair)
            volts[n] = [meter.voltage() for meter in self.chains]
            if output:
                power[n] = float(np.max(self.analyzer.sweep().power_watt))
            self.passes += 1
        return Measured(volts, power, sent)

    def emits(self, measured: Measured) -> np.ndarray:
        """(N,) True where the output neuron emitted above the detection power."""
        return measured.output_power > self.detection_power * self.output_gain
