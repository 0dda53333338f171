"""The nine-junction network computed as one instance of the general model: forward pass,
readout, loss and gradients, batched over examples and over populations of knob settings.

The chip (Ross et al.): inputs P_1, P_2 (W) at f_1, f_2 reach chains A and B (synapses
A1, A2 and B1, B2, polarity (-1)^k, every tone on every synapse); neurons N1, N2 driven by
b_j + g_m V_j emit at their drive-dependent frequencies; their amplified emission reaches
the output chain (O1, O2), which drives the output neuron NO. ``instance`` is that chip
as the general model's 2-2-1 ``LayeredNetwork`` (``design.from_nine_junction``), and
every quantity here is computed by ``layered_pass`` on it (``population`` for leading
axes of the knobs: thousands of settings in the offline search, a few starts refined
together in offline training). This module gives the chip's own names and shapes: the
activations as (..., N, 3) arrays (columns chain A / N1, chain B / N2, output chain / NO)
and the knobs as ``Knobs``.

Class: NO emits (P_O > ``Network.detection_power``), i.e. I_O > I_on, its onset current.
Loss (``Objective``): logistic loss on the margin (I_O - I_on) / T, plus a penalty on
neuron drives above the junction current limit (``layered_pass.LayeredObjective`` with
one output). Gradients are analytic, at the model's own activations (offline training) or
at those measured on a bench (physics-aware training, Wright et al., Nature 601, 549
(2022)).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import lru_cache

import numpy as np
from numpy.typing import ArrayLike

from labrf.network import layered_pass as lp
from labrf.network import population
from labrf.network.design import from_nine_junction
from labrf.network.layered import LayeredNetwork
from labrf.network.params import BIAS_LIMITS, Knobs, Network
from labrf.physics import OscillatorParams
from labrf.physics.oscillator import onset_current as oscillator_onset

#: Polarity of the synapses of a chain, s_k = (-1)^k.
POLARITY = (1.0, -1.0)
#: Default temperature of the logistic loss, A (0.1 mA of output-neuron drive).
TEMPERATURE = 0.1e-3
#: Default drive limit of the neurons, A: the junction current limit.
DRIVE_LIMIT = BIAS_LIMITS[1]


@dataclass(frozen=True)
class Activations:
    """Every intermediate quantity of a forward pass for N examples; columns are chain A /
    neuron N1, chain B / N2, output chain / NO. Shapes (..., N, 3), the leading axes those
    of the knobs."""

    chain_voltages: np.ndarray  #: DC voltages of chains A, B, O, V
    neuron_currents: np.ndarray  #: drive currents of N1, N2, NO (after the clamp), A
    emitted_powers: np.ndarray  #: emitted power at each neuron (before any gain), W
    frequencies: np.ndarray  #: emission frequencies (meaningful where emitting), Hz
    drives: np.ndarray  #: what the drive stages are asked for, b + g_m V (before the clamp), A

    @property
    def output_power(self) -> np.ndarray:
        """(..., N) power emitted by the output neuron, W."""
        return self.emitted_powers[..., 2]


@dataclass(frozen=True)
class Gradient:
    """Mean loss over a batch and its gradient with respect to the knobs."""

    loss: float | np.ndarray  #: mean loss (dimensionless), one per knob setting
    control_currents: np.ndarray  #: (..., 6) dL/dc, 1/A
    bias_currents: np.ndarray  #: (..., 3) dL/db, 1/A

    def vector(self) -> np.ndarray:
        """The gradient as a vector in ``Knobs.vector`` order, (..., 9), 1/A."""
        return np.concatenate([self.control_currents, self.bias_currents], axis=-1)


def as_inputs(inputs: ArrayLike) -> np.ndarray:
    """Input powers as an (N, 2) float array, W (a single pair becomes N = 1)."""
    p = np.asarray(inputs, dtype=float)
    if p.ndim == 1:
        p = p[None, :]
    if p.ndim != 2 or p.shape[1] != 2:
        raise ValueError(f"inputs must be RF powers of shape (N, 2) in W, got {p.shape}")
    return p


# ------------------------------------------------------------------------ the instance


@lru_cache(maxsize=8)
def instance(network: Network) -> LayeredNetwork:
    """The network as the general model's 2-2-1 instance (``design.from_nine_junction``),
    kept for the last few networks."""
    return from_nine_junction(network)


@lru_cache(maxsize=8)
def hidden_layer(network: Network) -> LayeredNetwork:
    """The instance's first layer alone (chains A, B driving N1, N2): its knob vector is
    the four hidden control currents, then the biases of N1, N2."""
    inst = instance(network)
    return replace(inst, layers=inst.layers[:1], neuron_names=(), synapse_names=())


def _settings(knobs: Knobs) -> tuple[np.ndarray, tuple[int, ...]]:
    """Knob settings as (P, 9) A and the leading shape they came with."""
    x = knobs.vector()
    return x.reshape(-1, 9), x.shape[:-1]


def _layers(act: Activations, shape: tuple[int, ...]) -> list[lp.LayerActivations]:
    """Activations (..., N, 3) as the instance's two layers, each field reshaped to
    ``shape`` + (M_l,) (M_l = 2, 1)."""
    names = ("chain_voltages", "drives", "neuron_currents", "emitted_powers", "frequencies")
    return [lp.LayerActivations(*(getattr(act, n)[..., cols] for n in names)).map(
        lambda a: a.reshape(*shape, a.shape[-1])) for cols in (slice(0, 2), slice(2, 3))]


def _activations(layers: list[lp.LayerActivations], lead: tuple[int, ...]) -> Activations:
    """The instance's layers, fields (P, N, M_l), as ``Activations`` with leading shape
    ``lead``."""
    a = lp.LayerActivations.joined(layers, axis=-1).map(
        lambda v: v.reshape(*lead, *v.shape[-2:]))
    return Activations(a.voltages, a.currents, a.powers, a.frequencies, a.drives)


def hidden_chain_voltages(network: Network, controls: ArrayLike, inputs: ArrayLike
                          ) -> np.ndarray:
    """(P, N, 2) voltages of chains A and B, V, for hidden control currents ``controls``
    (P, 4) A (A1, A2, B1, B2) and input powers ``inputs`` (N, 2) W."""
    c = np.asarray(controls, dtype=float).reshape(-1, 4)
    x = np.concatenate([c, np.zeros((len(c), 2))], axis=1)
    return population.forward(hidden_layer(network), x, as_inputs(inputs))[0].voltages


# ------------------------------------------------------------------------ forward


def forward(network: Network, knobs: Knobs, inputs: ArrayLike,
            probe: tuple[float, float] | None = None) -> Activations:
    """Forward pass for input powers ``inputs`` (N, 2), W, at the network's input
    frequencies, for one knob setting or a population of them (leading axes).

    ``probe`` (frequency in Hz, power in W; one knob setting): a tone at the combiner,
    reaching the output chain beside the hidden neurons' emission (the bench's port for
    calibrating the output synapses)."""
    x, lead = _settings(knobs)
    p_in = as_inputs(inputs)
    if probe is not None:
        if lead:
            raise ValueError("a probe tone is played for one knob setting at a time")
        layers = lp.forward(instance(network), x[0], p_in, probe=probe)
        return _activations(layers, lead)
    return _activations(population.forward(instance(network), x, p_in), lead)


def activations_from_chain_voltages(network: Network, knobs: Knobs,
                                    chain_voltages: ArrayLike) -> Activations:
    """Activations implied by chain voltages (..., N, 3) in V, e.g. measured on a bench:
    neuron drive I = b + g_m V, clamped, emission and frequency from the oscillator
    model."""
    x, lead = _settings(knobs)
    v = np.asarray(chain_voltages, dtype=float)
    v = np.broadcast_to(v, (*lead, *v.shape[-2:])).reshape(len(x), *v.shape[-2:])
    layers = population.activations_from_voltages(instance(network), x,
                                                  [v[..., :2], v[..., 2:]])
    return _activations(layers, lead)


# ------------------------------------------------------------------------ class and loss


def onset_current(p: OscillatorParams, detection_power: float) -> float:
    """Drive current (A) at which neuron ``p`` emits ``detection_power`` (W): the current
    above which it counts as emitting (inf if it never reaches that power)."""
    return float(oscillator_onset(p, detection_power))


def score(network: Network, activations: Activations) -> np.ndarray:
    """(..., N) output-neuron drive above its onset current, A: positive iff NO emits."""
    i_on = onset_current(network.output_neuron, network.detection_power)
    return activations.neuron_currents[..., 2] - i_on


def predict(network: Network, activations: Activations) -> np.ndarray:
    """(..., N) class: True where the output neuron emits more than the detection power."""
    return activations.output_power > network.detection_power


@dataclass(frozen=True)
class Objective:
    """Training objective: a logistic loss on the output neuron's margin, plus a penalty
    that keeps every neuron's drive within the junction current limit:

        L = mean_n [ log(1 + exp(-y_n s_n / T)) + w sum_j (max(0, |I_nj| - I_max) / T)^2 ]

    with y = +1 (should emit) or -1 (silent) and s the ``score`` (A). The score is the
    output neuron's drive above onset: its sign is exactly the class, and unlike P_O it
    stays differentiable where the neuron is silent."""

    temperature: float = TEMPERATURE  #: T, A
    drive_limit: float = DRIVE_LIMIT  #: I_max, A
    limit_weight: float = 1.0  #: w (dimensionless); 0 switches the penalty off

    def layered(self) -> lp.LayeredObjective:
        """This objective as the general model's (one output neuron)."""
        return lp.LayeredObjective(temperature=self.temperature,
                                   limit_weight=self.limit_weight,
                                   drive_limit=self.drive_limit)


#: The default objective.
DEFAULT_OBJECTIVE = Objective()


def _classes(labels: ArrayLike) -> np.ndarray:
    """Labels (True: NO should emit) as the general model's classes 1 / 0."""
    return np.asarray(labels, dtype=bool).astype(int)


def loss(network: Network, activations: Activations, labels: ArrayLike,
         objective: Objective = DEFAULT_OBJECTIVE) -> float | np.ndarray:
    """Mean training loss (dimensionless) of ``objective`` for ``labels`` (N,) (True: NO
    should emit); one value per knob setting if the activations have leading axes."""
    lead = activations.drives.shape[:-2]
    n = activations.drives.shape[-2]
    per, _ = lp.example_losses(instance(network), _layers(activations, (-1,)),
                               np.tile(_classes(labels), int(np.prod(lead))),
                               objective.layered())
    mean = per.reshape(*lead, n).mean(axis=-1)
    return float(mean) if mean.ndim == 0 else mean


# ------------------------------------------------------------------------ gradients


def loss_and_gradient(network: Network, knobs: Knobs, inputs: ArrayLike, labels: ArrayLike,
                      activations: Activations | None = None,
                      objective: Objective = DEFAULT_OBJECTIVE) -> Gradient:
    """Mean loss and its gradient for ``inputs`` (N, 2), W, and ``labels`` (N,), per knob
    setting.

    With ``activations`` None the model's own forward pass is used (offline training);
    given measured ones (``activations_from_chain_voltages``), the loss and every local
    derivative are evaluated at them (physics-aware training)."""
    x, lead = _settings(knobs)
    measured = None if activations is None else _layers(
        activations, (len(x), activations.drives.shape[-2]))
    value, g = population.loss_and_gradient(instance(network), x, as_inputs(inputs),
                                            _classes(labels), measured, objective.layered())
    g = g.reshape(*lead, 9)
    return Gradient(float(value[0]) if not lead else value.reshape(lead), g[..., :6],
                    g[..., 6:])


def gradient_at_measured(network: Network, knobs: Knobs, inputs: ArrayLike,
                         labels: ArrayLike, chain_voltages: ArrayLike,
                         objective: Objective = DEFAULT_OBJECTIVE) -> Gradient:
    """Physics-aware gradient: loss and backward pass at the chain voltages (..., N, 3),
    V, measured on a bench for ``inputs`` (N, 2), W, with ``knobs`` set."""
    act = activations_from_chain_voltages(network, knobs, chain_voltages)
    return loss_and_gradient(network, knobs, inputs, labels, act, objective)
