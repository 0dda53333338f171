"""Calibrations of the network bench, fitted from its own measurements, and what training
builds on them: the model of the chip, and the map from model knobs to chip currents.

- Synapses: each chain's DC voltage, measured over a frequency sweep of a probe tone at
  several control-current settings, is fitted jointly with the two lines of its synapses
  (alternating polarity): per synapse the resonance at zero control, its tuning
  f_r(I_control) = f_0 + gamma I_control, the damping and both sensitivities.
- Neurons: the threshold, the frequency at threshold and the tunability of each
  oscillator's emission curve (``labrf.analysis.emission.fit_emission``).

A weight is written by setting the control current that puts a synapse's resonance
where the model wants it: the model may be the design (``nominal_network``), whose
resonances differ from the chip's by the device spread, and the calibration is what
connects the two (``KnobMap``). SI units throughout.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from numpy.typing import ArrayLike
from scipy.optimize import least_squares

from labrf.errors import LabrfError
from labrf.network.forward import POLARITY
from labrf.network.params import (
    CONTROL_LIMITS,
    NEURON_NAMES,
    SYNAPSE_NAMES,
    Knobs,
    Network,
    lower_bounds,
    upper_bounds,
)
from labrf.physics import SpinDiodeParams
from labrf.physics.spin_diode import rectified_voltage

#: Chains in order, with the synapses of each (knob indices).
CHAINS = {"A": (0, 1), "B": (2, 3), "O": (4, 5)}
#: Fitted quantities of a synapse, with the scale the least-squares fit works in.
_SYNAPSE_SCALES = {"resonance": 1e6, "current_tuning": 1e9, "damping": 1e-2, "antisymmetric": 1.0,
                   "symmetric": 1.0}


def chain_model(synapses: tuple[SpinDiodeParams, SpinDiodeParams], frequency: ArrayLike,
                controls: ArrayLike, power: float) -> np.ndarray:
    """DC voltage (V) of a chain of two synapses (polarity +, -) from one probe tone of
    ``power`` W at ``frequency`` (N,) Hz, with control currents ``controls`` (N, 2) A.
    Each ``SpinDiodeParams.current_tuning`` is the control line's tuning, Hz/A."""
    f = np.asarray(frequency, dtype=float)
    c = np.asarray(controls, dtype=float)
    return sum(POLARITY[k] * rectified_voltage(replace(p, resonance=p.resonance
                                                       + p.current_tuning * c[:, k]), f, power)
               for k, p in enumerate(synapses))


@dataclass(frozen=True)
class ChainFit:
    """The two synapses of one chain, fitted (SI units; errors are one sigma)."""

    synapses: tuple[SpinDiodeParams, SpinDiodeParams]
    errors: tuple[dict[str, float], dict[str, float]]
    offset: float  #: V, the chain's voltage without RF
    residual_rms: float  #: V


def fit_chain(frequency: ArrayLike, controls: ArrayLike, voltage: ArrayLike, power: float,
              guess: tuple[SpinDiodeParams, SpinDiodeParams]) -> ChainFit:
    """Fit a chain's sweeps: ``voltage`` (N,) V measured at probe ``frequency`` (N,) Hz of
    ``power`` W with control currents ``controls`` (N, 2) A. ``guess`` (e.g. the design
    synapses) starts the fit and gives the saturation power, which is not fitted.

    Raises LabrfError if the fit fails or a synapse's line is not resolved (its resonance
    error above a tenth of its half-width)."""
    f = np.asarray(frequency, dtype=float)
    c = np.asarray(controls, dtype=float)
    v = np.asarray(voltage, dtype=float)
    if not (f.ndim == 1 and c.shape == (f.size, 2) and v.shape == f.shape and f.size >= 12):
        raise LabrfError(f"a chain fit needs N >= 12 frequencies, (N, 2) control currents "
                         f"and N voltages; got shapes {f.shape}, {c.shape}, {v.shape}")
    names = list(_SYNAPSE_SCALES)
    scales = np.array([*(_SYNAPSE_SCALES[n] for n in names)] * 2 + [1e-6])
    x0 = np.array([getattr(p, n) for p in guess for n in names] + [0.0]) / scales
    v_scale = float(np.max(np.abs(v))) or 1.0

    def unpack(x: np.ndarray) -> tuple[tuple[SpinDiodeParams, SpinDiodeParams], float]:
        values = x * scales
        pair = tuple(replace(g, **dict(zip(names, values[5 * k:5 * k + 5], strict=True)))
                     for k, g in enumerate(guess))
        return pair, float(values[-1])  # type: ignore[return-value]

    def residual(x: np.ndarray) -> np.ndarray:
        pair, offset = unpack(x)
        return (chain_model(pair, f, c, power) + offset - v) / v_scale

    lower = np.array([0.0, -np.inf, 1e-4, -np.inf, -np.inf] * 2 + [-np.inf]) / scales
    upper = np.array([np.inf, np.inf, 0.5, np.inf, np.inf] * 2 + [np.inf]) / scales
    result = least_squares(residual, x0, bounds=(lower, upper), x_scale="jac")
    if not result.success:
        raise LabrfError(f"the chain fit did not converge: {result.message}")
    pair, offset = unpack(result.x)
    dof = max(f.size - x0.size, 1)
    rms = math.sqrt(2 * result.cost / dof) * v_scale
    try:
        cov = np.linalg.inv(result.jac.T @ result.jac) * (rms / v_scale) ** 2
        sigma = np.sqrt(np.clip(np.diag(cov), 0, None)) * scales
    except np.linalg.LinAlgError:
        sigma = np.full(x0.size, np.inf)
    errors = tuple({n: float(sigma[5 * k + i]) for i, n in enumerate(names)} for k in (0, 1))
    for k, p in enumerate(pair):
        if not errors[k]["resonance"] < 0.1 * p.damping * p.resonance:
            raise LabrfError(
                f"the chain fit does not resolve synapse {k + 1}: resonance "
                f"{p.resonance / 1e6:.3f} +- {errors[k]['resonance'] / 1e6:.3f} MHz; widen "
                f"the frequency sweep or the control settings")
    return ChainFit(pair, errors, offset, rms)  # type: ignore[arg-type]


@dataclass(frozen=True)
class SynapseCalibration:
    """Per synapse (``SYNAPSE_NAMES`` order): resonance at zero control current (Hz), its
    tuning by the control current (Hz/A), damping, sensitivities (V/W)."""

    resonance: np.ndarray  #: (6,) Hz
    tuning: np.ndarray  #: (6,) Hz/A
    damping: np.ndarray  #: (6,)
    antisymmetric: np.ndarray  #: (6,) V/W
    symmetric: np.ndarray  #: (6,) V/W
    resonance_err: np.ndarray  #: (6,) Hz, one sigma
    tuning_err: np.ndarray  #: (6,) Hz/A, one sigma

    def __post_init__(self) -> None:
        for name in ("resonance", "tuning", "damping", "antisymmetric", "symmetric",
                     "resonance_err", "tuning_err"):
            value = np.asarray(getattr(self, name), dtype=float)
            if value.shape != (6,):
                raise LabrfError(f"a synapse calibration has 6 values of {name} "
                                 f"({', '.join(SYNAPSE_NAMES)}), got shape {value.shape}")
            object.__setattr__(self, name, value)
        if np.any(self.tuning == 0):
            raise LabrfError("a synapse calibration with zero tuning cannot set a resonance")

    @classmethod
    def from_chains(cls, fits: Mapping[str, ChainFit]) -> SynapseCalibration:
        """From the fits of chains A, B and O."""
        missing = [c for c in CHAINS if c not in fits]
        if missing:
            raise LabrfError(f"a synapse calibration needs chains A, B and O; missing "
                             f"{', '.join(missing)}")
        syn = [p for chain in CHAINS for p in fits[chain].synapses]
        err = [e for chain in CHAINS for e in fits[chain].errors]
        return cls(np.array([p.resonance for p in syn]), np.array([p.current_tuning
                                                                    for p in syn]),
                   np.array([p.damping for p in syn]), np.array([p.antisymmetric for p in syn]),
                   np.array([p.symmetric for p in syn]), np.array([e["resonance"] for e in err]),
                   np.array([e["current_tuning"] for e in err]))

    def resonances(self, controls: ArrayLike) -> np.ndarray:
        """Resonances (..., 6), Hz, at control currents ``controls`` (..., 6), A."""
        return self.resonance + self.tuning * np.asarray(controls, dtype=float)

    def controls(self, resonances: ArrayLike) -> np.ndarray:
        """Control currents (..., 6), A, that put the synapses at ``resonances`` Hz."""
        return (np.asarray(resonances, dtype=float) - self.resonance) / self.tuning

    def as_dict(self) -> dict[str, Any]:
        """Plain data by synapse name, SI units, for the dataset and JSON."""
        return {name: {field: float(getattr(self, field)[k]) for field in
                       ("resonance", "tuning", "damping", "antisymmetric", "symmetric",
                        "resonance_err", "tuning_err")}
                for k, name in enumerate(SYNAPSE_NAMES)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Mapping[str, float]]) -> SynapseCalibration:
        """Inverse of ``as_dict``; LabrfError names a missing synapse or quantity."""
        try:
            return cls(*(np.array([float(data[n][field]) for n in SYNAPSE_NAMES]) for field in
                         ("resonance", "tuning", "damping", "antisymmetric", "symmetric",
                          "resonance_err", "tuning_err")))
        except (KeyError, TypeError, ValueError) as exc:
            raise LabrfError(f"not a synapse calibration: missing or bad {exc}; it needs "
                             f"{', '.join(SYNAPSE_NAMES)} each with resonance, tuning, "
                             f"damping, antisymmetric, symmetric and their errors") from None


@dataclass(frozen=True)
class NeuronCalibration:
    """Per neuron (``NEURON_NAMES`` order): threshold (A), frequency at threshold (Hz) and
    tunability (Hz/A) of its emission."""

    threshold_current: np.ndarray  #: (3,) A
    frequency: np.ndarray  #: (3,) Hz
    tunability: np.ndarray  #: (3,) Hz/A

    def __post_init__(self) -> None:
        for name in ("threshold_current", "frequency", "tunability"):
            value = np.asarray(getattr(self, name), dtype=float)
            if value.shape != (3,) or not np.all(np.isfinite(value)):
                raise LabrfError(f"a neuron calibration has 3 finite values of {name} "
                                 f"({', '.join(NEURON_NAMES)}), got {value}")
            object.__setattr__(self, name, value)

    def as_dict(self) -> dict[str, Any]:
        """Plain data by neuron name, SI units."""
        return {name: {field: float(getattr(self, field)[j]) for field in
                       ("threshold_current", "frequency", "tunability")}
                for j, name in enumerate(NEURON_NAMES)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Mapping[str, float]]) -> NeuronCalibration:
        """Inverse of ``as_dict``; LabrfError names a missing neuron or quantity."""
        try:
            return cls(*(np.array([float(data[n][field]) for n in NEURON_NAMES]) for field in
                         ("threshold_current", "frequency", "tunability")))
        except (KeyError, TypeError, ValueError) as exc:
            raise LabrfError(f"not a neuron calibration: missing or bad {exc}; it needs "
                             f"{', '.join(NEURON_NAMES)} each with threshold_current, "
                             "frequency and tunability") from None


def calibrated_network(design: Network, synapses: SynapseCalibration,
                       neurons: NeuronCalibration | None = None) -> Network:
    """``design`` with every calibrated quantity replaced by the chip's: resonances,
    tunings, damping and sensitivities of the synapses; thresholds, frequencies and
    tunabilities of the neurons if ``neurons`` is given.

    The RF paths (``Network.input_coupling``, ``Network.emission_coupling``) keep the
    design's values: neither calibration measures them. Chains A and B are probed through
    input 1, so their fitted sensitivities carry input 1's path, not input 2's; the output
    chain is probed at the combiner, past the neurons' paths."""
    syn = tuple(replace(p, resonance=float(synapses.resonance[k]),
                        current_tuning=float(synapses.tuning[k]),
                        damping=float(synapses.damping[k]),
                        antisymmetric=float(synapses.antisymmetric[k]),
                        symmetric=float(synapses.symmetric[k]))
                for k, p in enumerate(design.synapses))
    neu = design.neurons
    if neurons is not None:
        neu = tuple(replace(p, threshold_current=float(neurons.threshold_current[j]),
                            frequency=float(neurons.frequency[j]),
                            current_tuning=float(neurons.tunability[j]))
                    for j, p in enumerate(neu))
    return replace(design, hidden_synapses=syn[:4], output_synapses=syn[4:],
                   hidden_neurons=neu[:2], output_neuron=neu[2])


@dataclass(frozen=True)
class KnobMap:
    """From the knobs of a model to the currents that realize them on the chip.

    A model's control current c puts its synapse at f_model(c); the chip's control current
    that gives the same resonance comes from the chip's calibration. Bias currents are
    physical currents: the same on both. ``bounds`` keeps model knobs where both the
    model's limits and the chip's ``control_limits`` allow."""

    model: Network
    calibration: SynapseCalibration
    control_limits: tuple[float, float] = CONTROL_LIMITS  #: chip control-current range, A

    @property
    def _model_lines(self) -> tuple[np.ndarray, np.ndarray]:
        """The model's resonances at zero control (Hz) and tunings (Hz/A), (6,) each."""
        return (np.array([p.resonance for p in self.model.synapses]),
                np.array([p.current_tuning for p in self.model.synapses]))

    def to_chip(self, knobs: Knobs) -> Knobs:
        """Chip currents (A) for model ``knobs``. Knobs within ``bounds`` give currents
        within ``control_limits`` exactly: the map's rounding (a part in 1e9 past a limit)
        is clipped away; anything further is left for the current source to refuse."""
        f0, gamma = self._model_lines
        chip = self.calibration.controls(f0 + gamma * knobs.control_currents)
        lo, hi = self.control_limits
        tol = 1e-9 * max(abs(lo), abs(hi))
        chip = np.where((chip > hi) & (chip <= hi + tol), hi, chip)
        chip = np.where((chip < lo) & (chip >= lo - tol), lo, chip)
        return Knobs(chip, knobs.bias_currents)

    def from_chip(self, chip: Knobs) -> Knobs:
        """Model knobs (A) that give chip currents ``chip``: the inverse of ``to_chip``."""
        f0, gamma = self._model_lines
        f = self.calibration.resonances(chip.control_currents)
        return Knobs((f - f0) / gamma, chip.bias_currents)

    def bounds(self) -> tuple[np.ndarray, np.ndarray]:
        """Lower and upper model knobs (9,), A, that map within both ranges."""
        f0, gamma = self._model_lines
        reach = np.sort(np.stack([self.calibration.resonances(np.full(6, lim))
                                  for lim in self.control_limits]), axis=0)
        ends = np.sort((reach - f0) / gamma, axis=0)
        lo, hi = lower_bounds(), upper_bounds()
        lo[:6] = np.maximum(lo[:6], ends[0])
        hi[:6] = np.minimum(hi[:6], ends[1])
        if np.any(lo > hi):
            bad = [SYNAPSE_NAMES[k] for k in np.flatnonzero(lo[:6] > hi[:6])]
            raise LabrfError(f"the model's resonance range and the chip's do not overlap "
                             f"for synapse(s) {', '.join(bad)}")
        return lo, hi
