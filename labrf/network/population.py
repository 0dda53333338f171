"""A population of knob settings of one ``LayeredNetwork``, evaluated at once by the
general model (offline search and training try thousands of settings of a small chip).

P settings of a network are computed as one network of P independent copies side by
side (``stacked``): every layer's chains and neurons repeated P times, the first layer's
copies all reading the input tones, and in each later layer copy p's chains reached only
by copy p's neurons (block-diagonal couplings: a zero transmission adds neither signal
nor saturation). ``layered_pass`` then does the physics, forward and backward, and the
copies' knobs, activations and gradients are reshaped to and from (P, ...) arrays. The
stacks are sized so that every layer keeps the exact chain response
(``layered_pass.EXACT_LIMIT``): the results are those of P separate passes.
"""

from __future__ import annotations

import math
from dataclasses import fields, replace
from functools import lru_cache

import numpy as np
from numpy.typing import ArrayLike

from labrf.errors import NetworkError
from labrf.network import layered_pass as lp
from labrf.network.layered import Layer, LayeredNetwork, Neurons, Synapses

#: Most copies of a network in one stack.
MAX_COPIES = 1024


def stack_size(network: LayeredNetwork) -> int:
    """Copies per stack: the most that keep every layer fed by neurons on the exact
    response (chains x synapses x tones grows as copies squared there)."""
    worst = max((m * k * n for m, k, n in (layer.shape for layer in network.layers[1:])),
                default=0)
    if worst == 0:
        return MAX_COPIES
    return max(1, min(MAX_COPIES, math.isqrt(lp.EXACT_LIMIT // worst)))


def _tiled(devices: Synapses | Neurons, copies: int) -> Synapses | Neurons:
    return type(devices)(**{f.name: np.concatenate([getattr(devices, f.name)] * copies)
                            for f in fields(devices)})


@lru_cache(maxsize=32)
def stacked(network: LayeredNetwork, copies: int) -> LayeredNetwork:
    """``copies`` independent copies of ``network`` as one network (see the module)."""
    if copies == 1:
        return network
    layers = []
    for index, layer in enumerate(network.layers):
        coupling = (np.tile(layer.coupling, (copies, 1)) if index == 0
                    else np.kron(np.eye(copies), layer.coupling))
        layers.append(Layer(_tiled(layer.synapses, copies), _tiled(layer.neurons, copies),
                            coupling, np.tile(layer.saturation_power, copies),
                            np.tile(layer.transconductance, copies)))
    return replace(network, layers=tuple(layers), neuron_names=(), synapse_names=())


@lru_cache(maxsize=32)
def _order(network: LayeredNetwork, copies: int) -> np.ndarray:
    """Indices into the raveled (copies, knob_count) knobs giving the stack's knob
    vector: each layer's control currents copy after copy, then each layer's biases."""
    index = np.arange(copies * network.knob_count).reshape(copies, network.knob_count)
    controls, biases, at = [], [], 0
    for layer in network.layers:
        m, k, _ = layer.shape
        controls.append(index[:, at:at + m * k].ravel())
        at += m * k
    for layer in network.layers:
        biases.append(index[:, at:at + layer.shape[0]].ravel())
        at += layer.shape[0]
    return np.concatenate(controls + biases)


def as_population(network: LayeredNetwork, knobs: ArrayLike) -> np.ndarray:
    """Knobs as (P, knob_count) A; NetworkError if a setting is not this network's."""
    x = np.asarray(knobs, dtype=float)
    if x.ndim != 2 or x.shape[1] != network.knob_count:
        raise NetworkError(f"a population of knobs must have shape (settings, "
                           f"{network.knob_count}) for this network, got {x.shape}")
    return x


def _to_stack(a: np.ndarray) -> np.ndarray:
    """(P, B, M) per copy to (B, P M) in the stack's column order."""
    return np.ascontiguousarray(np.swapaxes(a, 0, 1)).reshape(a.shape[1], -1)


def _from_stack(a: np.ndarray, copies: int) -> np.ndarray:
    """(B, P M) of the stack to (P, B, M) per copy."""
    return np.swapaxes(a.reshape(a.shape[0], copies, -1), 0, 1)


def _per_copy(a: lp.LayerActivations, copies: int) -> lp.LayerActivations:
    return a.map(lambda v: _from_stack(v, copies))


def _chunks(network: LayeredNetwork, count: int) -> list[slice]:
    size = stack_size(network)
    return [slice(a, min(a + size, count)) for a in range(0, count, size)]


def _stack_pass(network: LayeredNetwork, x: np.ndarray
                ) -> tuple[LayeredNetwork, np.ndarray, lp.Plan]:
    stack = stacked(network, len(x))
    knobs = x.ravel()[_order(network, len(x))]
    return stack, knobs, lp.Plan(stack, knobs)


def forward(network: LayeredNetwork, knobs: ArrayLike, inputs: ArrayLike
            ) -> list[lp.LayerActivations]:
    """Activations of every layer, each field (P, B, M_l), for knob settings ``knobs``
    (P, knob_count) A and input powers ``inputs`` (B, N_0) W."""
    x = as_population(network, knobs)
    p_in = lp.as_batch(network, inputs)
    parts = []
    for rows in _chunks(network, len(x)):
        stack, k, plan = _stack_pass(network, x[rows])
        parts.append([_per_copy(a, rows.stop - rows.start)
                      for a in lp.forward(stack, k, p_in, plan)])
    return [lp.LayerActivations.joined([part[i] for part in parts])
            for i in range(len(network.layers))]


def activations_from_voltages(network: LayeredNetwork, knobs: ArrayLike,
                              voltages: list[np.ndarray]) -> list[lp.LayerActivations]:
    """Activations implied by chain voltages per layer, (P, B, M_l) V, e.g. measured on a
    chip for each knob setting (P, knob_count) A."""
    x = as_population(network, knobs)
    sizes = [layer.shape[0] for layer in network.layers]
    biases = np.split(x[:, network.synapse_count:], np.cumsum(sizes)[:-1], axis=1)
    return [lp.drive_stage(network, layer, b[:, None, :], np.asarray(v, dtype=float))
            for layer, b, v in zip(network.layers, biases, voltages, strict=True)]


def loss_and_gradient(network: LayeredNetwork, knobs: ArrayLike, inputs: ArrayLike,
                      labels: ArrayLike,
                      activations: list[lp.LayerActivations] | None = None,
                      objective: lp.LayeredObjective = lp.DEFAULT_LAYERED_OBJECTIVE
                      ) -> tuple[np.ndarray, np.ndarray]:
    """Mean loss (P,) of each knob setting and its knob gradient (P, knob_count), 1/A.
    Without ``activations``, the model's own forward pass; with measured ones (fields
    (P, B, M_l)), the physics-aware gradient at them."""
    x = as_population(network, knobs)
    p_in = lp.as_batch(network, inputs)
    count, batch = x.shape[0], p_in.shape[0]
    y = np.tile(lp.check_labels(network, labels, batch), count)
    losses = np.empty(count)
    grads = np.empty_like(x)
    for rows in _chunks(network, count):
        copies = rows.stop - rows.start
        stack, k, plan = _stack_pass(network, x[rows])
        if activations is None:
            acts = lp.forward(stack, k, p_in, plan)
        else:
            acts = [a.map(lambda v, rows=rows: _to_stack(v[rows])) for a in activations]
        per_copy = [_per_copy(a, copies).map(lambda v, n=copies * batch: v.reshape(n, -1))
                    for a in acts]
        per, d_drives = lp.example_losses(network, per_copy, y[:copies * batch], objective)
        losses[rows] = per.reshape(copies, batch).mean(axis=1)
        d_stack = [_to_stack(d.reshape(copies, batch, -1)) / batch for d in d_drives]
        g = lp.backward(stack, k, p_in, acts, d_stack, plan)
        out = np.empty(copies * network.knob_count)
        out[_order(network, copies)] = g
        grads[rows] = out.reshape(copies, -1)
    return losses, grads
