"""A frequency-multiplexed network of MTJs of any size: layers of RF tones, chains of
synapses and oscillator neurons, as arrays (a particular chip is data, not a class).

Layer l takes N_l RF tones (layer 0: the data, in the powers of tones at the fixed
``LayeredNetwork.input_frequencies``; layer l > 0: the emission of layer l - 1's neurons,
at their own drive-dependent frequencies). It has M_l chains of K_l synapses in series
(alternating polarity s_k = (-1)^k): every tone reaches every synapse of a chain, through
the path transmission ``coupling[j, i]`` (W/W, amplifier gain included). Chain j drives
neuron j through a drive stage, bias + g_m V, clamped at ``drive_limit``. The last layer's
neurons are the readout: with one output neuron the class is whether it emits; with
several, the strongest emitter.

Knobs (what a chip lets you turn) are one flat vector, A: every synapse's control current
(layer by layer, chain by chain, synapse by synapse), then every neuron's bias (layer by
layer). ``knob_labels`` names them for people and station files. SI units throughout.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from functools import cached_property

import numpy as np
from numpy.typing import ArrayLike

from labrf.errors import NetworkError
from labrf.physics import OscillatorParams

#: Control-current range of a synapse's field line, A.
CONTROL_LIMITS = (-5e-3, 5e-3)
#: Bias-current range of a neuron, A (the junction current limit).
BIAS_LIMITS = (0.0, 6e-3)


def _array(value: ArrayLike, shape: tuple[int, ...], where: str) -> np.ndarray:
    """``value`` as a read-only float array broadcast to ``shape``; NetworkError names
    ``where`` if it does not fit or is not finite."""
    a = np.asarray(value, dtype=float)
    try:
        a = np.array(np.broadcast_to(a, shape))
    except ValueError:
        raise NetworkError(f"{where} must have shape {shape} (or broadcast to it), got "
                           f"{a.shape}") from None
    if not np.all(np.isfinite(a)):
        raise NetworkError(f"{where} must be finite, got {a[~np.isfinite(a)][:3]}")
    a.flags.writeable = False
    return a


@dataclass(frozen=True)
class Synapses:
    """The synapses of a layer, fields shaped (M chains, K synapses) (SI units)."""

    resonance: np.ndarray  #: f_r at zero field and control current, Hz
    damping: np.ndarray  #: alpha; half-width D = alpha f_r
    antisymmetric: np.ndarray  #: A, V/W
    symmetric: np.ndarray  #: S, V/W
    current_tuning: np.ndarray  #: resonance shift per control current, Hz/A
    field_tuning: np.ndarray  #: resonance shift per field, Hz/T

    def checked(self, shape: tuple[int, int], where: str) -> Synapses:
        """These synapses as arrays of ``shape``, positive where physics needs it."""
        out = {f.name: _array(getattr(self, f.name), shape, f"{where}.{f.name}")
               for f in fields(self)}
        for name in ("resonance", "damping"):
            if not np.all(out[name] > 0):
                raise NetworkError(f"{where}.{name} must be > 0 for every synapse")
        return Synapses(**out)


@dataclass(frozen=True)
class Neurons:
    """The oscillator neurons of a layer, fields shaped (M,) (SI units)."""

    threshold_current: np.ndarray  #: I_th, A
    q: np.ndarray  #: nonlinear damping Q
    power_at_2ith: np.ndarray  #: emitted power at 2 I_th, W
    frequency: np.ndarray  #: emission frequency at threshold, Hz
    current_tuning: np.ndarray  #: Hz/A
    field_tuning: np.ndarray  #: Hz/T

    def checked(self, shape: tuple[int], where: str) -> Neurons:
        """These neurons as arrays of ``shape``, positive where physics needs it."""
        out = {f.name: _array(getattr(self, f.name), shape, f"{where}.{f.name}")
               for f in fields(self)}
        for name in ("threshold_current", "power_at_2ith", "frequency"):
            if not np.all(out[name] > 0):
                raise NetworkError(f"{where}.{name} must be > 0 for every neuron")
        if not np.all(out["q"] >= 0):
            raise NetworkError(f"{where}.q must be >= 0 for every neuron")
        return Neurons(**out)

    @cached_property
    def oscillators(self) -> OscillatorParams:
        """These neurons as one ``OscillatorParams`` with (M,) fields, for the vectorised
        functions of ``labrf.physics.oscillator``."""
        return OscillatorParams(**{f.name: getattr(self, f.name) for f in fields(self)})


@dataclass(frozen=True)
class Layer:
    """One layer: M chains of K synapses fed by N tones, and the M neurons they drive."""

    synapses: Synapses  #: (M, K)
    neurons: Neurons  #: (M,)
    coupling: np.ndarray  #: (M, N) power transmission from tone i to chain j, W/W
    saturation_power: np.ndarray  #: (M,) P_sat shared by the synapses of a chain, W
    transconductance: np.ndarray  #: (M,) g_m of each neuron's drive stage, A/V

    @property
    def shape(self) -> tuple[int, int, int]:
        """(M chains, K synapses per chain, N input tones)."""
        m, k = np.shape(self.synapses.resonance)
        return m, k, int(np.shape(self.coupling)[1])

    def checked(self, inputs: int, where: str) -> Layer:
        """This layer validated for ``inputs`` tones, every field an array of its shape."""
        res = np.shape(self.synapses.resonance)
        if len(res) != 2 or min(res) < 1:
            raise NetworkError(f"{where}.synapses.resonance must be (chains, synapses per "
                               f"chain) with both >= 1, got shape {res}")
        m, k = res
        coupling = _array(self.coupling, (m, inputs), f"{where}.coupling")
        if not np.all(coupling >= 0):
            raise NetworkError(f"{where}.coupling: power transmissions must be >= 0")
        sat = _array(self.saturation_power, (m,), f"{where}.saturation_power")
        if not np.all(sat > 0):
            raise NetworkError(f"{where}.saturation_power must be > 0")
        return Layer(self.synapses.checked((m, k), f"{where}.synapses"),
                     self.neurons.checked((m,), f"{where}.neurons"), coupling, sat,
                     _array(self.transconductance, (m,), f"{where}.transconductance"))


@dataclass(frozen=True, eq=False)
class LayeredNetwork:
    """A network of ``layers`` fed by tones at ``input_frequencies`` (Hz). Layer l > 0
    takes as many tones as layer l - 1 has neurons. Compared and hashed by identity."""

    input_frequencies: np.ndarray  #: (N_0,) Hz
    layers: tuple[Layer, ...]
    drive_limit: float = BIAS_LIMITS[1]  #: every drive stage's output clamp, A
    detection_power: float = 1e-9  #: emitted power above which a neuron counts as emitting, W
    field: float = 0.0  #: out-of-plane field on every junction, T
    control_limits: tuple[float, float] = CONTROL_LIMITS  #: A
    bias_limits: tuple[float, float] = BIAS_LIMITS  #: A
    #: names of the layers' neurons for people and station files, (sum M_l,) in knob
    #: order; empty for generated names (L1N0 ...)
    neuron_names: tuple[str, ...] = ()
    #: names of the synapses, (sum M_l K_l,) in knob order; empty for generated names
    synapse_names: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        f = np.asarray(self.input_frequencies, dtype=float)
        if f.ndim != 1 or f.size < 1 or not np.all(np.isfinite(f) & (f > 0)):
            raise NetworkError("input_frequencies must be one or more frequencies > 0 Hz, "
                               f"got {self.input_frequencies!r}")
        f = np.array(f)
        f.flags.writeable = False
        object.__setattr__(self, "input_frequencies", f)
        if not self.layers:
            raise NetworkError("a network needs at least one layer")
        layers, inputs = [], f.size
        for index, layer in enumerate(self.layers):
            checked = layer.checked(inputs, f"layers[{index}]")
            layers.append(checked)
            inputs = checked.shape[0]
        object.__setattr__(self, "layers", tuple(layers))
        for name in ("drive_limit", "detection_power"):
            value = float(getattr(self, name))
            if not (np.isfinite(value) and value > 0):
                raise NetworkError(f"{name} must be finite and > 0, got {value}")
        for name, count in (("neuron_names", self.neuron_count),
                            ("synapse_names", self.synapse_count)):
            names = tuple(getattr(self, name))
            if names and len(names) != count:
                raise NetworkError(f"{name} must name all {count} or none, got {len(names)}")
            object.__setattr__(self, name, names)

    # ------------------------------------------------------------ sizes and knobs

    @property
    def sizes(self) -> tuple[int, ...]:
        """Tones into the first layer, then neurons per layer (e.g. (256, 128, 10))."""
        return (self.input_frequencies.size, *(layer.shape[0] for layer in self.layers))

    @property
    def synapse_count(self) -> int:
        return sum(m * k for m, k, _ in (layer.shape for layer in self.layers))

    @property
    def neuron_count(self) -> int:
        return sum(layer.shape[0] for layer in self.layers)

    @property
    def junction_count(self) -> int:
        """Synapses and neurons: the MTJs of the chip."""
        return self.synapse_count + self.neuron_count

    @property
    def knob_count(self) -> int:
        return self.synapse_count + self.neuron_count

    def split(self, x: ArrayLike) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """Views of knob vector ``x`` (knob_count,): control currents (M_l, K_l) and biases
        (M_l,) per layer, A."""
        x = np.asarray(x)
        if x.shape != (self.knob_count,):
            raise NetworkError(f"this network has {self.knob_count} knobs "
                               f"({self.synapse_count} control currents, {self.neuron_count} "
                               f"biases), got a vector of shape {x.shape}")
        controls, biases, at = [], [], 0
        for layer in self.layers:
            m, k, _ = layer.shape
            controls.append(x[at:at + m * k].reshape(m, k))
            at += m * k
        for layer in self.layers:
            m = layer.shape[0]
            biases.append(x[at:at + m])
            at += m
        return controls, biases

    def knob_bounds(self) -> tuple[np.ndarray, np.ndarray]:
        """Lower and upper knob vectors, A."""
        n_c = self.synapse_count
        lower = np.concatenate([np.full(n_c, self.control_limits[0]),
                                np.full(self.neuron_count, self.bias_limits[0])])
        upper = np.concatenate([np.full(n_c, self.control_limits[1]),
                                np.full(self.neuron_count, self.bias_limits[1])])
        return lower, upper

    def clip(self, x: ArrayLike) -> np.ndarray:
        """Knobs ``x`` brought within the control and bias limits."""
        return np.clip(np.asarray(x, dtype=float), *self.knob_bounds())

    def knob_labels(self) -> list[str]:
        """A name per knob: ``control_<synapse>`` then ``bias_<neuron>``."""
        syn = self.synapse_names or tuple(
            f"L{i}C{j}S{k}" for i, layer in enumerate(self.layers)
            for j in range(layer.shape[0]) for k in range(layer.shape[1]))
        neu = self.neuron_names or tuple(
            f"L{i}N{j}" for i, layer in enumerate(self.layers) for j in range(layer.shape[0]))
        return [f"control_{s}" for s in syn] + [f"bias_{n}" for n in neu]

    def with_layer(self, index: int, **changes: object) -> LayeredNetwork:
        """This network with fields of layer ``index`` replaced."""
        layers = list(self.layers)
        layers[index] = replace(layers[index], **changes)
        return replace(self, layers=tuple(layers))
