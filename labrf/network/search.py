"""Global search for starting knobs, using the additive structure of the network.

The output neuron's drive is b_O + g_O V_O with V_O = h_1(I_1) + h_2(I_2) (up to the weak
coupling of the two tones through the output synapses' saturation), where h_j depends only
on hidden neuron j's drive I_j = b_j + g_m W_j . P and on the two output resonances: each
hidden neuron contributes a one-dimensional ridge function, bent by its emission threshold
and by its frequency sweeping across the output synapses' lines. The loss landscape in the
knobs is therefore rugged (many local minima), and gradient descent from random starts
rarely finds the good basins. This module searches them systematically instead:

1. candidate operating points of each hidden neuron: its chain's weight vector W_j in one
   of ``directions`` directions of the input plane, sized so that its drive spans one of
   ``spreads`` (A) over the data, the largest drive at ``top`` (A); the control currents
   realizing W_j come from a table of W over a grid of control currents;
2. a ``grid`` x ``grid`` lattice of output control currents;
3. for every pair of hidden candidates and output setting, the class separation of V_O
   (a d' score, computed from per-neuron tables and their cross products), then, for the
   best ``exact`` of them, the best accuracy over output biases that keep the output
   neuron's bias and drive within limits.

The result is a population of starting knobs for gradient refinement (``train.train_task``).
"""

from __future__ import annotations

from dataclasses import replace
from functools import lru_cache

import numpy as np
from numpy.typing import ArrayLike

from labrf.network.forward import hidden_chain_voltages, onset_current
from labrf.network.params import BIAS_LIMITS, CONTROL_LIMITS, Knobs, Network
from labrf.physics.oscillator import emitted_power, frequency
from labrf.physics.spin_diode import rectified_voltage, resonance_frequency

#: Default search: weight directions, drive spreads (A), largest drive (A), output lattice.
DIRECTIONS = 8
SPREADS = (1.5e-3, 2.0e-3, 2.5e-3, 3.0e-3)
TOP = 6.0e-3
GRID = 21
#: How many (pair, output) settings get an exact accuracy after the d' pre-selection.
EXACT = 3000
_UNIT_POWER = 1e-7  # W, to read chain weights off the model at negligible saturation


@lru_cache(maxsize=16)
def weight_table(network: Network, chain: int, steps: int = 81
                 ) -> tuple[np.ndarray, np.ndarray]:
    """Control currents (M, 2) in A on a ``steps`` x ``steps`` grid over CONTROL_LIMITS, and
    the weights (M, 2), V/W, that hidden chain ``chain`` (0: A, 1: B) then gives inputs 1, 2."""
    g = np.linspace(*CONTROL_LIMITS, steps)
    c1, c2 = np.meshgrid(g, g, indexing="ij")
    pairs = np.stack([c1.ravel(), c2.ravel()], axis=1)
    controls = np.zeros((len(pairs), 4))
    controls[:, 2 * chain:2 * chain + 2] = pairs
    v = hidden_chain_voltages(network, controls, _UNIT_POWER * np.eye(2))
    weights = v[:, :, chain] / _UNIT_POWER
    return pairs, weights


def hidden_candidates(network: Network, chain: int, inputs: np.ndarray,
                      directions: int = DIRECTIONS, spreads: tuple[float, ...] = SPREADS,
                      top: float = TOP) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Candidate settings of one hidden chain and its neuron: control currents (C, 2) and
    bias (C,) in A, and the resulting drive currents (C, N) for ``inputs`` (N, 2), W."""
    pairs, weights = weight_table(network, chain)
    centred = inputs - inputs.mean(axis=0)
    targets = []
    for angle in np.arange(directions) * 2.0 * np.pi / directions:
        d = np.array([np.cos(angle), np.sin(angle)])
        extent = max(float(np.ptp(centred @ d)), 1e-12)
        targets += [s / (network.hidden_transconductance * extent) * d for s in spreads]
    targets = np.array(targets)
    nearest = np.argmin(((weights[None] - targets[:, None]) ** 2).sum(axis=-1), axis=1)
    controls = pairs[nearest]
    full = np.zeros((len(controls), 4))
    full[:, 2 * chain:2 * chain + 2] = controls
    v = hidden_chain_voltages(network, full, inputs)
    drive = network.hidden_transconductance * v[..., chain]
    bias = np.clip(top - drive.max(axis=1), *BIAS_LIMITS)
    return controls, bias, bias[:, None] + drive


def _contributions(network: Network, neuron: int, currents: np.ndarray, grid: np.ndarray
                   ) -> np.ndarray:
    """(2, G, C, N) output-synapse voltages (with polarity) from hidden neuron ``neuron``
    alone, for output control currents ``grid`` (G,) A and drives ``currents`` (C, N) A."""
    osc = network.hidden_neurons[neuron]
    power, freq = emitted_power(osc, currents), frequency(osc, currents, network.field)
    out = []
    for k, p in enumerate(network.output_synapses):
        f_r = resonance_frequency(p, network.field, grid)
        line = replace(p, resonance=f_r[:, None, None])
        out.append((-1.0) ** k * rectified_voltage(line, freq,
                                                   network.emission_gains[neuron] * power))
    return np.stack(out)


def best_threshold(v: np.ndarray, labels: np.ndarray, lo: ArrayLike, hi: ArrayLike
                   ) -> tuple[np.ndarray, np.ndarray]:
    """Best accuracy of "True iff v > t" over thresholds t in [lo, hi] (per row of v, shape
    (..., N)), and that threshold."""
    order = np.argsort(v, axis=-1)
    vs = np.take_along_axis(v, order, axis=-1)
    ys = np.take_along_axis(np.broadcast_to(labels, v.shape), order, axis=-1).astype(float)
    pad = np.zeros((*v.shape[:-1], 1))
    above = np.concatenate([np.cumsum(ys[..., ::-1], axis=-1)[..., ::-1], pad], axis=-1)
    below = np.concatenate([pad, np.cumsum(1.0 - ys, axis=-1)], axis=-1)
    acc = (above + below) / v.shape[-1]  # split i: True for the sorted entries i, i+1, ...
    left = np.concatenate([vs[..., :1] - 1.0, vs], axis=-1)
    right = np.concatenate([vs, vs[..., -1:] + 1.0], axis=-1)
    lo = np.asarray(lo)[..., None]
    hi = np.asarray(hi)[..., None]
    t = np.clip((left + right) / 2.0, lo, hi)
    acc = np.where((t >= left) & (t <= right) & (lo <= hi), acc, -1.0)
    i = np.argmax(acc, axis=-1)[..., None]
    return np.take_along_axis(acc, i, -1)[..., 0], np.take_along_axis(t, i, -1)[..., 0]


def search_knobs(network: Network, inputs: ArrayLike, labels: ArrayLike, count: int = 8,
                 directions: int = DIRECTIONS, spreads: tuple[float, ...] = SPREADS,
                 top: float = TOP, grid: int = GRID, exact: int = EXACT,
                 drive_limit: float = BIAS_LIMITS[1]) -> tuple[Knobs, np.ndarray]:
    """The ``count`` best starting knobs found for (``inputs`` (N, 2) W, ``labels`` (N,)),
    with distinct hidden settings, as a population (count,), and their accuracy on these
    examples under the search's additive model."""
    x = np.asarray(inputs, dtype=float)
    y = np.asarray(labels, dtype=bool)
    if y.all() or not y.any():
        raise ValueError("search_knobs needs examples of both classes (labels True and False)")
    lattice = np.linspace(*CONTROL_LIMITS, grid)
    cands = [hidden_candidates(network, j, x, directions, spreads, top) for j in range(2)]
    # h[j][k1, k2, c, n]: neuron j's contribution to the output drive g_O V_O, A, with
    # output controls (k1, k2).
    gm = network.output_transconductance
    h = []
    for j, (_, _, currents) in enumerate(cands):
        parts = gm * _contributions(network, j, currents, lattice)
        h.append((parts[0][:, None] + parts[1][None, :]).reshape(grid * grid, *currents.shape))
    # d' of the drive h_A + h_B for every (output setting, candidate A, candidate B).
    stats = []
    for cls in (y, ~y):
        ha, hb = h[0][..., cls], h[1][..., cls]
        mean_a, mean_b = ha.mean(-1), hb.mean(-1)
        cross = (np.einsum("gan,gbn->gab", ha, hb) / cls.sum()
                 - mean_a[..., :, None] * mean_b[..., None, :])
        var = ha.var(-1)[..., :, None] + hb.var(-1)[..., None, :] + 2.0 * cross
        stats.append((mean_a[..., :, None] + mean_b[..., None, :], var))
    (mu1, var1), (mu0, var0) = stats
    dprime = (mu1 - mu0) / np.sqrt(np.maximum((var1 + var0) / 2.0, 1e-30))
    flat = np.argsort(dprime.ravel())[::-1][:exact]
    g, a, b = np.unravel_index(flat, dprime.shape)
    u = h[0][g, a] + h[1][g, b]  # (exact, N) drive from the chain, A
    # NO emits iff u > tau = I_on - b_O; keep b_O within BIAS_LIMITS and |drive| <= limit.
    i_on = onset_current(network.output_neuron, network.detection_power)
    lo = np.maximum(u.max(-1) - (drive_limit - i_on), i_on - BIAS_LIMITS[1])
    hi = np.minimum(i_on - BIAS_LIMITS[0], u.min(-1) + (i_on + drive_limit))
    acc, tau = best_threshold(u, y, lo, hi)
    # Best output setting per hidden pair, then the best pairs.
    order = np.lexsort((-dprime.ravel()[flat], -acc))
    chosen, seen = [], set()
    for i in order:
        if (a[i], b[i]) not in seen:
            seen.add((a[i], b[i]))
            chosen.append(i)
        if len(chosen) == count:
            break
    chosen = np.array(chosen)
    k1, k2 = np.unravel_index(g[chosen], (grid, grid))
    controls = np.concatenate([cands[0][0][a[chosen]], cands[1][0][b[chosen]],
                               lattice[k1, None], lattice[k2, None]], axis=1)
    bias = np.stack([cands[0][1][a[chosen]], cands[1][1][b[chosen]],
                     i_on - tau[chosen]], axis=1)
    return Knobs(controls, bias).clipped(), acc[chosen]
