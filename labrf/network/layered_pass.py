"""Forward pass, loss and analytic gradients of a ``LayeredNetwork``, batched over examples.

Layer l, tones at frequencies f_bi (layer 0: the fixed input frequencies) of powers p_bi:

    P_bji = c_ji p_bi                               power of tone i at chain j, W
    V_bj  = sum_i P_bji H_j(f_bi) / (1 + sum_i P_bji / P_sat,j)      chain voltage, V
    d_bj  = b_j + g_m,j V_bj;  I_bj = clip(d_bj, -I_max, I_max)      drive and current, A
    p_bj  = P_emit(I_bj);  f_bj = f_0,j + k_I,j (I_bj - I_th,j) + k_B,j B

with H_j the chain's summed spin-diode lines (``labrf.network.lines``) and P_emit the
oscillator of ``labrf.physics.oscillator``; (p, f) of layer l are the tones of layer l + 1.

Readout: with one output neuron, the class is whether it emits more than the detection
power; with several, the strongest emitter (-1 if none emits). Training scores each
output neuron by its drive above onset, z = (I - I_on) / T, which has the sign of "emits"
and stays differentiable below threshold. ``LayeredObjective``: logistic loss on z for one
output; for several, softmax cross-entropy on z plus a logistic term that makes the right
neuron emit; plus a penalty on drives beyond the drive limit. Gradients are analytic, and
``backward`` evaluates the local derivatives at any activations: the model's own, or
those measured on a chip (physics-aware training).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields, replace

import numpy as np
from numpy.typing import ArrayLike
from scipy.special import log_softmax

from labrf.errors import NetworkError
from labrf.network.layered import Layer, LayeredNetwork
from labrf.network.lines import ExactResponse, GridResponse, Lines
from labrf.physics.oscillator import (
    emitted_power,
    emitted_power_slope,
    frequency,
    onset_current,
)

#: Layers fed by neuron tones use the exact sum while chains x synapses x tones stays
#: below this; above it, the interpolated grid.
EXACT_LIMIT = 4096
#: Examples per block of the forward and backward passes (bounds memory).
BLOCK = 1024
#: Default temperature of the output scores, A.
TEMPERATURE = 0.1e-3


@dataclass(frozen=True)
class LayerActivations:
    """One layer's quantities for B examples, each (B, M)."""

    voltages: np.ndarray  #: chain voltages V, V
    drives: np.ndarray  #: b + g_m V asked of the drive stages, A
    currents: np.ndarray  #: neuron currents after the clamp, A
    powers: np.ndarray  #: emitted powers, W
    frequencies: np.ndarray  #: emission frequencies, Hz

    def map(self, change: Callable[[np.ndarray], np.ndarray]) -> LayerActivations:
        """These activations with ``change`` applied to every field (a slice, a
        reshape)."""
        return LayerActivations(*(change(getattr(self, f.name)) for f in fields(self)))

    @staticmethod
    def joined(parts: list[LayerActivations], axis: int = 0) -> LayerActivations:
        """``parts`` concatenated field by field along ``axis``."""
        return LayerActivations(*(np.concatenate([getattr(p, f.name) for p in parts],
                                                 axis=axis)
                                  for f in fields(LayerActivations)))


@dataclass(frozen=True)
class LayeredObjective:
    """Loss of the readout's scores plus the drive-limit penalty (see the module)."""

    temperature: float = TEMPERATURE  #: T, A
    limit_weight: float = 1.0  #: weight of the drive-limit penalty (dimensionless)
    emit_weight: float = 1.0  #: weight of "the right neuron emits" (several outputs)
    #: drives beyond this (A) are penalised; None: the network's drive limit
    drive_limit: float | None = None


DEFAULT_LAYERED_OBJECTIVE = LayeredObjective()


def as_batch(network: LayeredNetwork, inputs: ArrayLike) -> np.ndarray:
    """Input powers as (B, N_0) W; NetworkError if the width is not the network's."""
    p = np.asarray(inputs, dtype=float)
    if p.ndim == 1:
        p = p[None, :]
    n = network.sizes[0]
    if p.ndim != 2 or p.shape[1] != n:
        raise NetworkError(f"inputs must be RF powers of shape (examples, {n}) in W for "
                           f"this {'-'.join(map(str, network.sizes))} network, got shape "
                           f"{p.shape}")
    if not np.all(np.isfinite(p)) or np.any(p < 0):
        raise NetworkError("input powers must be finite and >= 0 W")
    return p


# ------------------------------------------------------------------ devices and tuning


def tuned_lines(network: LayeredNetwork, index: int, controls: np.ndarray) -> Lines:
    """Layer ``index``'s synapses with resonances moved by the field and their control
    currents ``controls`` (M, K), A."""
    syn = network.layers[index].synapses
    f_r = syn.resonance + syn.field_tuning * network.field + syn.current_tuning * controls
    if not np.all(f_r > 0):
        raise NetworkError(f"layers[{index}]: control currents move a resonance to or "
                           "below 0 Hz")
    return Lines(f_r, syn.damping, syn.symmetric, syn.antisymmetric)


def frequency_span(network: LayeredNetwork, index: int) -> tuple[float, float]:
    """Frequencies (Hz) layer ``index`` - 1's neurons can emit at: from threshold to the
    drive limit."""
    n = network.layers[index - 1].neurons
    ends = frequency(n.oscillators, np.stack([n.threshold_current,
                                              np.full_like(n.threshold_current,
                                                           network.drive_limit)]),
                     network.field)
    return float(ends.min()), float(ends.max())


def _response(network: LayeredNetwork, index: int, lines: Lines
              ) -> ExactResponse | GridResponse:
    m, k, n = network.layers[index].shape
    if index == 0 or m * k * n <= EXACT_LIMIT:
        return ExactResponse(lines)
    lo, hi = frequency_span(network, index)
    pad = 2.0 * float(np.max(lines.damping * lines.resonance))
    return GridResponse(lines, lo - pad, hi + pad)


def drive_stage(network: LayeredNetwork, layer: Layer, bias: np.ndarray,
                voltages: np.ndarray) -> LayerActivations:
    """A layer's neurons driven by chain ``voltages`` (B, M): drive b + g_m V, clamped at
    the drive limit; emitted power and frequency from ``labrf.physics.oscillator``."""
    drives = bias + layer.transconductance * voltages
    currents = np.clip(drives, -network.drive_limit, network.drive_limit)
    osc = layer.neurons.oscillators
    return LayerActivations(voltages, drives, currents, emitted_power(osc, currents),
                            frequency(osc, currents, network.field))


# ------------------------------------------------------------------ forward


class Plan:
    """Tuned responses of every layer for one knob vector (built once per pass, or kept
    by a caller while the knobs and input frequencies stay). ``previous``, a plan of the
    same network, lends the responses of every layer whose control currents it shares
    (a calibration that moves one layer's synapses rebuilds that layer only)."""

    def __init__(self, network: LayeredNetwork, knobs: np.ndarray,
                 previous: Plan | None = None) -> None:
        self.controls, self.biases = network.split(np.array(knobs, dtype=float))
        self.network = network
        kept = previous if previous is not None and previous.network is network else None
        self.responses = [
            kept.responses[i] if kept is not None and np.array_equal(kept.controls[i], c)
            else _response(network, i, tuned_lines(network, i, c))
            for i, c in enumerate(self.controls)]
        self.input_response = (kept.input_response if kept is not None
                               and kept.responses[0] is self.responses[0]
                               else self.responses[0].fixed(network.input_frequencies))


def _chain_voltages(layer: Layer, p: np.ndarray, h: np.ndarray) -> tuple[np.ndarray, ...]:
    """V (B, M), the unsaturated sum U and the saturation factor, for tone powers p
    (B, N) and responses h (M, N) or (B, M, N)."""
    total = p @ layer.coupling.T
    sat = 1.0 / (1.0 + total / layer.saturation_power)
    if h.ndim == 2:
        unsat = p @ (layer.coupling * h).T
    else:
        unsat = np.einsum("bn,jn,bjn->bj", p, layer.coupling, h)
    return unsat * sat, unsat, sat


def _forward_block(network: LayeredNetwork, plan: Plan, p_in: np.ndarray,
                   probe: tuple[float, float] | None = None) -> list[LayerActivations]:
    out: list[LayerActivations] = []
    p, f = p_in, None
    last = len(network.layers) - 1
    for index, layer in enumerate(network.layers):
        if index == 0:
            h = plan.input_response
        else:
            if probe is not None and index == last:
                layer, p, f = _with_probe(layer, p, f, probe)
            h, _ = plan.responses[index].at(f)
        act = drive_stage(network, layer, plan.biases[index],
                          _chain_voltages(layer, p, h)[0])
        p, f = act.powers, act.frequencies
        out.append(act)
    return out


def _with_probe(layer: Layer, p: np.ndarray, f: np.ndarray, probe: tuple[float, float]
                ) -> tuple[Layer, np.ndarray, np.ndarray]:
    """The last layer, its tone powers (B, N + 1) and frequencies with the probe tone
    (Hz, W) appended, reaching every chain with transmission 1."""
    column = np.ones((p.shape[0], 1))
    coupling = np.hstack([layer.coupling, np.ones((layer.coupling.shape[0], 1))])
    return (replace(layer, coupling=coupling), np.hstack([p, float(probe[1]) * column]),
            np.hstack([f, float(probe[0]) * column]))


def _joined(blocks: list[list[LayerActivations]]) -> list[LayerActivations]:
    if len(blocks) == 1:
        return blocks[0]
    return [LayerActivations.joined([b[i] for b in blocks]) for i in range(len(blocks[0]))]


def forward(network: LayeredNetwork, knobs: ArrayLike, inputs: ArrayLike,
            plan: Plan | None = None, probe: tuple[float, float] | None = None
            ) -> list[LayerActivations]:
    """Activations of every layer for input powers ``inputs`` (B, N_0), W. ``probe``
    (frequency in Hz, power in W): a tone injected at the last layer's combiner, beside
    the previous layer's emission (a chip's port for calibrating its output synapses)."""
    p_in = as_batch(network, inputs)
    plan = plan or Plan(network, np.asarray(knobs, dtype=float))
    if probe is not None and (len(network.layers) < 2 or not isinstance(
            plan.responses[-1], ExactResponse)):
        raise NetworkError("a probe tone needs two layers or more and a last layer small "
                           f"enough for the exact chain response (<= {EXACT_LIMIT} "
                           "chains x synapses x tones)")
    return _joined([_forward_block(network, plan, p_in[a:a + BLOCK], probe)
                    for a in range(0, max(len(p_in), 1), BLOCK)])


def activations_from_voltages(network: LayeredNetwork, knobs: ArrayLike,
                              voltages: list[np.ndarray]) -> list[LayerActivations]:
    """Activations implied by chain voltages per layer (B, M_l), e.g. measured on a chip:
    drives b + g_m V, clamped currents, emission from the oscillator model."""
    _, biases = network.split(np.asarray(knobs, dtype=float))
    return [drive_stage(network, layer, b, np.asarray(v, dtype=float))
            for layer, b, v in zip(network.layers, biases, voltages, strict=True)]


# ------------------------------------------------------------------ readout and loss


def scores(network: LayeredNetwork, activations: list[LayerActivations],
           temperature: float = TEMPERATURE) -> np.ndarray:
    """(B, C) output drives above onset, in units of ``temperature`` (A)."""
    onsets = onset_current(network.layers[-1].neurons.oscillators, network.detection_power)
    return (activations[-1].currents - onsets) / temperature


def predict(network: LayeredNetwork, activations: list[LayerActivations]) -> np.ndarray:
    """(B,) class of the readout's activations (see ``classes``)."""
    return classes(network, activations[-1].powers)


def classes(network: LayeredNetwork, powers: np.ndarray) -> np.ndarray:
    """(B,) class from the output neurons' emitted powers (B, C), W: one output, 1 where
    it emits above the detection power else 0; several, the strongest emitter, or -1
    where none emits."""
    emits = powers > network.detection_power
    if powers.shape[1] == 1:
        return emits[:, 0].astype(int)
    return np.where(emits.any(axis=1), np.argmax(powers, axis=1), -1)


def check_labels(network: LayeredNetwork, labels: ArrayLike, count: int) -> np.ndarray:
    """``labels`` as (count,) ints valid for the readout; NetworkError otherwise."""
    y = np.asarray(labels)
    classes = max(2, network.sizes[-1])
    if y.shape != (count,):
        raise NetworkError(f"labels must have shape ({count},), got {y.shape}")
    y = y.astype(int)
    if np.any((y < 0) | (y >= classes)):
        raise NetworkError(f"labels must be classes 0..{classes - 1} for a network with "
                           f"{network.sizes[-1]} output neuron(s)")
    return y


def _penalty(network: LayeredNetwork, activations: list[LayerActivations],
             objective: LayeredObjective) -> tuple[np.ndarray, list[np.ndarray]]:
    t = objective.temperature
    limit = network.drive_limit if objective.drive_limit is None else objective.drive_limit
    total, grads = 0.0, []
    for act in activations:
        excess = np.maximum(np.abs(act.drives) - limit, 0.0) / t
        total = total + objective.limit_weight * np.sum(excess**2, axis=1)
        grads.append(2.0 * objective.limit_weight * np.sign(act.drives) * excess / t)
    return total, grads


def example_losses(network: LayeredNetwork, activations: list[LayerActivations],
                   labels: ArrayLike, objective: LayeredObjective = DEFAULT_LAYERED_OBJECTIVE
                   ) -> tuple[np.ndarray, list[np.ndarray]]:
    """Loss of each example (B,) and its derivative with respect to each layer's drives
    (B, M_l), 1/A (not divided by B)."""
    b = activations[-1].drives.shape[0]
    y = check_labels(network, labels, b)
    t = objective.temperature
    z = scores(network, activations, t)
    penalty, grads = _penalty(network, activations, objective)
    if z.shape[1] == 1:
        sign = np.where(y == 1, 1.0, -1.0)
        m = sign * z[:, 0]
        per = np.logaddexp(0.0, -m)
        dz = (-sign * 0.5 * (1.0 - np.tanh(0.5 * m)))[:, None]
    else:
        rows = np.arange(b)
        log_p = log_softmax(z, axis=1)
        per = -log_p[rows, y]
        dz = np.exp(log_p)
        dz[rows, y] -= 1.0
        zy = z[rows, y]
        per = per + objective.emit_weight * np.logaddexp(0.0, -zy)
        dz[rows, y] -= objective.emit_weight * 0.5 * (1.0 - np.tanh(0.5 * zy))
    last = activations[-1]
    passes = (np.abs(last.drives) < network.drive_limit).astype(float)
    grads[-1] = grads[-1] + dz / t * passes
    return per + penalty, grads


def loss_terms(network: LayeredNetwork, activations: list[LayerActivations],
               labels: ArrayLike, objective: LayeredObjective = DEFAULT_LAYERED_OBJECTIVE
               ) -> tuple[float, list[np.ndarray]]:
    """Mean loss and its derivative with respect to each layer's drives (B, M_l), 1/A."""
    per, grads = example_losses(network, activations, labels, objective)
    b = per.shape[0]
    return float(np.mean(per)), [g / b for g in grads]


# ------------------------------------------------------------------ backward


def backward(network: LayeredNetwork, knobs: ArrayLike, inputs: ArrayLike,
             activations: list[LayerActivations], d_drives: list[np.ndarray],
             plan: Plan | None = None) -> np.ndarray:
    """Vector-Jacobian product: the knob-vector gradient (knob_count,), 1/A per unit of
    g, of sum_l sum_bj g_l,bj d_l,bj for g = ``d_drives`` (e.g. from ``loss_terms``) and d
    the drives of each layer; every local derivative at ``activations``."""
    p_in = as_batch(network, inputs)
    plan = plan or Plan(network, np.asarray(knobs, dtype=float))
    g_controls = [np.zeros(c.shape) for c in plan.controls]
    g_biases = [np.zeros(b.shape) for b in plan.biases]
    for a in range(0, len(p_in), BLOCK):
        rows = slice(a, a + BLOCK)
        _backward_block(network, plan, p_in[rows],
                        [act.map(lambda a, rows=rows: a[rows]) for act in activations],
                        [np.asarray(g, dtype=float)[rows] for g in d_drives],
                        g_controls, g_biases)
    return np.concatenate([*(g.ravel() for g in g_controls), *g_biases])


def _backward_block(network: LayeredNetwork, plan: Plan, p_in: np.ndarray,
                    acts: list[LayerActivations], d_drives: list[np.ndarray],
                    g_controls: list[np.ndarray], g_biases: list[np.ndarray]) -> None:
    g_current = np.zeros_like(acts[-1].currents)
    for index in range(len(network.layers) - 1, -1, -1):
        layer, act = network.layers[index], acts[index]
        passes = np.abs(act.drives) < network.drive_limit
        g_d = d_drives[index] + g_current * passes
        g_biases[index] += g_d.sum(axis=0)
        g_v = layer.transconductance * g_d
        if index == 0:
            p, h = p_in, plan.input_response
            _, unsat, sat = _chain_voltages(layer, p, h)
            weight = g_v * sat
            upstream = layer.coupling * (weight.T @ p)
            grad_fr = plan.responses[0].fixed_adjoint(network.input_frequencies, upstream)
        else:
            prev = acts[index - 1]
            p, f = prev.powers, prev.frequencies
            h, h_f = plan.responses[index].at(f)
            _, unsat, sat = _chain_voltages(layer, p, h)
            weight = g_v * sat  # (B, M)
            cw = weight[:, :, None] * layer.coupling[None]  # (B, M, N)
            grad_fr = plan.responses[index].adjoint(f, cw * p[:, None, :])
            g_p = (np.einsum("bjn,bjn->bn", cw, h)
                   - (g_v * unsat * sat * sat / layer.saturation_power) @ layer.coupling)
            g_f = np.einsum("bjn,bjn->bn", cw * p[:, None, :], h_f)
            prev_layer = network.layers[index - 1]
            g_current = (g_p * emitted_power_slope(prev_layer.neurons.oscillators,
                                                   prev.currents)
                         + g_f * prev_layer.neurons.current_tuning)
        g_controls[index] += grad_fr * layer.synapses.current_tuning


def loss_and_gradient(network: LayeredNetwork, knobs: ArrayLike, inputs: ArrayLike,
                      labels: ArrayLike, activations: list[LayerActivations] | None = None,
                      objective: LayeredObjective = DEFAULT_LAYERED_OBJECTIVE,
                      plan: Plan | None = None) -> tuple[float, np.ndarray]:
    """Mean loss and its knob gradient (knob_count,), 1/A. Without ``activations`` the
    model's own forward pass (offline); with measured ones, the physics-aware gradient.
    ``plan``: the one the activations were computed with, if any (built otherwise)."""
    plan = plan or Plan(network, np.asarray(knobs, dtype=float))
    if activations is None:
        activations = forward(network, knobs, inputs, plan)
    value, d_drives = loss_terms(network, activations, labels, objective)
    return value, backward(network, knobs, inputs, activations, d_drives, plan)
