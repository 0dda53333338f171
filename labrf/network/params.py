"""Parameters of the two-layer network of Ross et al. (Nat. Nanotechnol. 18, 1273 (2023)).

Nine junctions: a hidden layer of two chains (A, B) of two synapses, each chain driving an
oscillator neuron (N1, N2), and an output layer of one chain of two synapses driving the
output neuron NO. ``Network`` holds the devices and the wiring (frequencies, amplifier
gains); ``Knobs`` holds what training turns: one control current per synapse (a field
line that shifts its resonance by ``current_tuning``) and one bias current per neuron.
Device-to-device variability is just different parameter values (``varied_network``),
and so is the imbalance of the RF paths between them (``imbalanced_paths``).
SI units throughout.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
from numpy.typing import ArrayLike

from labrf.physics import OscillatorParams, SpinDiodeParams

#: Synapses in knob order: hidden chain A (A1, A2), hidden chain B (B1, B2), output (O1, O2).
SYNAPSE_NAMES = ("A1", "A2", "B1", "B2", "O1", "O2")
#: Neurons in knob order: hidden N1 (driven by chain A), N2 (chain B), output NO.
NEURON_NAMES = ("N1", "N2", "NO")
#: Control-current range of a synapse's field line, A.
CONTROL_LIMITS = (-5e-3, 5e-3)
#: Bias-current range of a neuron, A (the junction current limit).
BIAS_LIMITS = (0.0, 6e-3)


@dataclass(frozen=True)
class Network:
    """Devices and wiring of the nine-junction network (SI units).

    Chain voltages are read at high impedance: no DC current flows through a synapse, so
    its line keeps its zero-current width and sensitivity. Within a chain the synapses
    alternate in polarity, s_k = (-1)^k.
    """

    hidden_synapses: tuple[SpinDiodeParams, ...]  #: A1, A2, B1, B2
    output_synapses: tuple[SpinDiodeParams, ...]  #: O1, O2
    hidden_neurons: tuple[OscillatorParams, ...]  #: N1, N2
    output_neuron: OscillatorParams  #: NO
    input_frequencies: tuple[float, float] = (230e6, 270e6)  #: f1, f2 of the RF inputs, Hz
    hidden_transconductance: float = 100.0  #: g_m from chain A/B voltage to N1/N2, A/V
    output_transconductance: float = 100.0  #: g_m from the output chain to NO, A/V
    rf_gain: float = 30.0  #: power gain from N1, N2 to the output chain (linear, W/W)
    #: power transmission of the splitter's arms, from RF input i (columns: f1, f2) to
    #: chain j (rows: A, B), relative to the design (1: as designed)
    input_coupling: tuple[tuple[float, float], tuple[float, float]] = ((1.0, 1.0), (1.0, 1.0))
    #: power transmission from N1, N2 to the output chain (the combiner's arms), relative
    #: to the design; it multiplies ``rf_gain``
    emission_coupling: tuple[float, float] = (1.0, 1.0)
    detection_power: float = 1e-9  #: output power above which NO counts as emitting, W
    #: output-current limit of each neuron's drive stage (bias + g_m V, summed and
    #: clamped there), A: the junctions' current limit, which keeps a neuron below
    #: breakdown whatever the knobs and inputs
    drive_limit: float = BIAS_LIMITS[1]
    field: float = 0.0  #: out-of-plane field on every junction, T

    def __post_init__(self) -> None:
        for name in ("hidden_synapses", "output_synapses", "hidden_neurons"):
            object.__setattr__(self, name, tuple(getattr(self, name)))
        object.__setattr__(self, "input_frequencies",
                           tuple(float(f) for f in self.input_frequencies))
        inputs = np.asarray(self.input_coupling, dtype=float)
        emission = np.asarray(self.emission_coupling, dtype=float)
        if (inputs.shape != (2, 2) or emission.shape != (2,)
                or not (np.all(inputs > 0) and np.all(emission > 0))):
            raise ValueError("a Network's input_coupling is 2 x 2 and its emission_coupling "
                             "2 power transmissions, all > 0; got "
                             f"{self.input_coupling} and {self.emission_coupling}")
        object.__setattr__(self, "input_coupling",
                           tuple(tuple(float(g) for g in row) for row in inputs))
        object.__setattr__(self, "emission_coupling", tuple(float(g) for g in emission))
        if len(self.hidden_synapses) != 4 or len(self.output_synapses) != 2:
            raise ValueError("a Network has 4 hidden synapses (A1, A2, B1, B2) and 2 output "
                             f"synapses (O1, O2), got {len(self.hidden_synapses)} and "
                             f"{len(self.output_synapses)}")
        if len(self.hidden_neurons) != 2:
            raise ValueError("a Network has 2 hidden neurons (N1, N2), got "
                             f"{len(self.hidden_neurons)}")

    @property
    def synapses(self) -> tuple[SpinDiodeParams, ...]:
        """All six synapses in knob order (A1, A2, B1, B2, O1, O2)."""
        return (*self.hidden_synapses, *self.output_synapses)

    @property
    def emission_gains(self) -> np.ndarray:
        """(2,) power gain from N1 and N2 to the output chain, W/W."""
        return self.rf_gain * np.asarray(self.emission_coupling)

    @property
    def neurons(self) -> tuple[OscillatorParams, ...]:
        """All three neurons in knob order (N1, N2, NO)."""
        return (*self.hidden_neurons, self.output_neuron)


class Knobs:
    """What training sets: control currents of the six synapses and biases of the three
    neurons, in A (order: ``SYNAPSE_NAMES``, ``NEURON_NAMES``), held as one read-only array
    (..., 9) (``vector``); ``control_currents`` and ``bias_currents`` are views of it, and
    ``from_vector`` wraps a read-only vector as it is: going between the two forms copies
    nothing. Leading axes are a population of knob settings, evaluated at once."""

    __slots__ = ("_values",)

    def __init__(self, control_currents: ArrayLike, bias_currents: ArrayLike) -> None:
        c = np.asarray(control_currents, dtype=float)
        b = np.asarray(bias_currents, dtype=float)
        if c.shape[-1:] != (6,) or b.shape[-1:] != (3,) or c.shape[:-1] != b.shape[:-1]:
            raise ValueError("Knobs take control currents (..., 6) and bias currents "
                             f"(..., 3) in A, got shapes {c.shape} and {b.shape}")
        self._values = self._frozen(np.concatenate([c, b], axis=-1))

    @staticmethod
    def _frozen(values: np.ndarray) -> np.ndarray:
        values.flags.writeable = False
        return values

    @property
    def control_currents(self) -> np.ndarray:
        """(..., 6) field-line currents, A, within CONTROL_LIMITS (a view)."""
        return self._values[..., :6]

    @property
    def bias_currents(self) -> np.ndarray:
        """(..., 3) neuron bias currents, A, within BIAS_LIMITS (a view)."""
        return self._values[..., 6:]

    def vector(self) -> np.ndarray:
        """The nine knobs as one read-only vector (..., 9), A: six control currents, three
        biases (the array itself, not a copy)."""
        return self._values

    @classmethod
    def from_vector(cls, x: ArrayLike) -> Knobs:
        """Knobs over vector(s) of nine currents (..., 9), A, as ``vector`` returns; a
        float array is wrapped as it is (a read-only copy only if it is writeable)."""
        x = np.asarray(x, dtype=float)
        if x.shape[-1:] != (9,):
            raise ValueError(f"a knob vector has 9 currents (..., 9) in A, got shape "
                             f"{x.shape}")
        knobs = cls.__new__(cls)
        knobs._values = x if not x.flags.writeable else cls._frozen(x.copy())
        return knobs

    def clipped(self) -> Knobs:
        """The knobs brought within CONTROL_LIMITS and BIAS_LIMITS."""
        return Knobs.from_vector(np.clip(self._values, lower_bounds(), upper_bounds()))

    def __getitem__(self, index: int | slice | np.ndarray) -> Knobs:
        """The knob setting(s) at ``index`` of a population."""
        return Knobs.from_vector(self._values[index])

    def __repr__(self) -> str:
        return (f"Knobs(control_currents={self.control_currents!r}, "
                f"bias_currents={self.bias_currents!r})")


def lower_bounds() -> np.ndarray:
    """Lower limits of the knob vector, A."""
    return np.array([CONTROL_LIMITS[0]] * 6 + [BIAS_LIMITS[0]] * 3)


def upper_bounds() -> np.ndarray:
    """Upper limits of the knob vector, A."""
    return np.array([CONTROL_LIMITS[1]] * 6 + [BIAS_LIMITS[1]] * 3)


#: Zero-current resonances of the nominal synapses, Hz: hidden ones spread around the
#: inputs (230 and 270 MHz), output ones amid the hidden neurons' emission bands.
NOMINAL_RESONANCES = (240e6, 260e6, 245e6, 255e6, 300e6, 310e6)
#: Threshold emission frequencies of the nominal neurons N1, N2, NO, Hz. Between threshold
#: (4 mA) and the drive limit (6 mA) N1 sweeps 290-304 MHz and N2 300-314 MHz.
NOMINAL_NEURON_FREQUENCIES = (290e6, 300e6, 300e6)


def nominal_network() -> Network:
    """The network with physics.md's default devices, resonances at ``NOMINAL_RESONANCES``
    and neurons emitting from ``NOMINAL_NEURON_FREQUENCIES``, and ``Network``'s default
    wiring.

    Design: the inputs (230, 270 MHz) sit within the hidden synapses' +-35 MHz tuning
    range, so each chain weight can take either sign for either input. A hidden neuron only
    works between its threshold (4 mA) and the junction limit (6 mA); g_m = 100 A/V maps
    the chain voltages of the 0-3 uW inputs (a few V/W times a few uW) onto that 2 mA
    window. Over it N1 sweeps 290-304 MHz and N2 300-314 MHz: the sweeps overlap, so that
    both output synapses (tunable over 265-345 MHz) can act on both neurons, which lets
    both hidden neurons make bump-shaped responses as their frequency crosses an output
    line (needed for the circles task). G = 30 brings their emission (57 nW at 6 mA) to
    the output chain at under 2 uW, in its linear range."""
    synapses = [SpinDiodeParams(resonance=f) for f in NOMINAL_RESONANCES]
    neurons = [OscillatorParams(frequency=f) for f in NOMINAL_NEURON_FREQUENCIES]
    return Network(hidden_synapses=tuple(synapses[:4]), output_synapses=tuple(synapses[4:]),
                   hidden_neurons=tuple(neurons[:2]), output_neuron=neurons[2])


def _spread(value: float, sigma: float, rng: np.random.Generator) -> float:
    return float(value * (1.0 + sigma * rng.standard_normal()))


def vary_synapse(p: SpinDiodeParams, sigma: float, rng: np.random.Generator
                 ) -> SpinDiodeParams:
    """``p`` with resonance, both sensitivities and threshold each scaled by an independent
    factor 1 + sigma N(0, 1)."""
    return replace(p, resonance=_spread(p.resonance, sigma, rng),
                   antisymmetric=_spread(p.antisymmetric, sigma, rng),
                   symmetric=_spread(p.symmetric, sigma, rng),
                   threshold_current=_spread(p.threshold_current, sigma, rng))


def vary_neuron(p: OscillatorParams, sigma: float, rng: np.random.Generator
                ) -> OscillatorParams:
    """``p`` with threshold current and frequency each scaled by 1 + sigma N(0, 1)."""
    return replace(p, threshold_current=_spread(p.threshold_current, sigma, rng),
                   frequency=_spread(p.frequency, sigma, rng))


def varied_network(network: Network, rng: np.random.Generator, sigma: float = 0.02
                   ) -> Network:
    """A device-to-device variation of ``network``: every junction's resonance,
    sensitivities, threshold and emission frequency drawn with relative Gaussian spread
    ``sigma`` from ``rng`` (in junction order A1, A2, B1, B2, O1, O2, N1, N2, NO)."""
    syn = [vary_synapse(p, sigma, rng) for p in network.synapses]
    neu = [vary_neuron(p, sigma, rng) for p in network.neurons]
    return replace(network, hidden_synapses=tuple(syn[:4]), output_synapses=tuple(syn[4:]),
                   hidden_neurons=tuple(neu[:2]), output_neuron=neu[2])


def imbalanced_paths(network: Network, rng: np.random.Generator, sigma_db: float
                     ) -> Network:
    """``network`` with each RF path's power transmission (``input_coupling``: f1, f2 to
    chains A, B; ``emission_coupling``: N1, N2 to the output chain) scaled by an
    independent log-normal factor, 10^(sigma_db N(0, 1) / 10): the splitter's, combiner's
    and cables' imbalance, sigma_db in dB."""
    factors = 10.0 ** (sigma_db * rng.standard_normal(6) / 10.0)
    inputs = np.asarray(network.input_coupling) * factors[:4].reshape(2, 2)
    emission = np.asarray(network.emission_coupling) * factors[4:]
    return replace(network, input_coupling=tuple(map(tuple, inputs)),
                   emission_coupling=tuple(emission))
