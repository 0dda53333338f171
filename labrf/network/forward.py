"""Forward pass, loss and analytic gradients of the two-layer network, batched over examples.

Forward (per example, inputs P_1, P_2 in W at f_1, f_2):

    V_j  = sum_k s_k sum_i V_dc(synapse jk; f_i, c_ji P_i)     chains A, B (s_k = (-1)^k)
    I_j  = b_j + g_m V_j;  P_j = P_emit(I_j);  f_j = f_osc(I_j)       neurons N1, N2
    V_O  = sum_k s_k sum_j V_dc(synapse Ok; f_j, G e_j P_j)    output chain
    I_O  = b_O + g_m V_O;  P_O = P_emit(I_O)                    output neuron NO

with V_dc the full spin-diode line of ``labrf.physics.spin_diode`` (every tone reaches every
junction of its chain: crosstalk, and saturation by the total power) and P_emit, f_osc
those of ``labrf.physics.oscillator``; c_ji and e_j are the RF paths' transmissions
(``Network.input_coupling``, ``Network.emission_coupling``; 1 as designed). A synapse's
resonance is f_r0 + gamma_B B + gamma_I c, with c its control current (a field line: no DC
current through the junction).

Class: NO emits (P_O > ``Network.detection_power``), i.e. I_O > I_on, its onset current.
Loss (``Objective``): logistic loss on the margin (I_O - I_on) / T, plus a penalty on
neuron drives above the junction current limit.

Gradients are analytic (reverse-mode chain rule), and ``backward`` evaluates the model's
local derivatives at whatever activations it is given: the model's own (offline training)
or those measured on a bench (physics-aware training, Wright et al., Nature 601, 549
(2022)).

Knobs may carry leading axes (a population of K knob settings: control currents (K, 6),
biases (K, 3)); activations then gain the same leading axes, (K, N, 3), and losses and
gradients are per knob setting. Offline search and training use this to train many starts
at once.

The network is one instance of the general model: ``instance`` is its 2-2-1
``LayeredNetwork`` (``design.from_nine_junction``). The simulated chip evaluates itself
through it (``instance_forward``) and chip-in-the-loop training takes its physics-aware
backward pass through it (``gradient_through_instance``); the population pass of this
module gives the same numbers (to 1e-12, tests/network) for the offline search, which
evaluates thousands of knob settings at once.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from functools import lru_cache
from typing import Any, NamedTuple

import numpy as np
from numpy.typing import ArrayLike

from labrf.network import layered_pass
from labrf.network.design import from_nine_junction
from labrf.network.layered import LayeredNetwork
from labrf.network.params import BIAS_LIMITS, Knobs, Network
from labrf.physics import OscillatorParams, SpinDiodeParams
from labrf.physics.oscillator import emitted_power, emitted_power_slope, frequency
from labrf.physics.oscillator import onset_current as oscillator_onset
from labrf.physics.spin_diode import rectified_voltage, resonance_frequency

#: Polarity of the synapses of a chain, s_k = (-1)^k.
POLARITY = (1.0, -1.0)
_POLARITY = np.array(POLARITY)
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


# ------------------------------------------------------------------------ devices


def _stacked(params: tuple, cls: type, shape: tuple[int, ...] = (-1,)) -> Any:
    """A ``cls`` parameter object whose fields are arrays (one entry per junction of
    ``params``, reshaped to ``shape``), which the vectorized physics functions broadcast
    over."""
    return cls(**{f.name: np.array([getattr(p, f.name) for p in params]).reshape(shape)
                  for f in fields(cls)})


class _Devices(NamedTuple):
    hidden_synapses: SpinDiodeParams  #: A1, A2, B1, B2, fields (4,)
    output_synapses: SpinDiodeParams  #: O1, O2, fields (2,)
    hidden_lines: SpinDiodeParams  #: A1 .. B2, fields (4, 1, 1): (synapse, example, tone)
    output_lines: SpinDiodeParams  #: O1, O2, fields (2, 1, 1)
    hidden_neurons: OscillatorParams  #: N1, N2, fields (2,)
    neurons: OscillatorParams  #: N1, N2, NO, fields (3,)


@lru_cache(maxsize=64)
def _devices(network: Network) -> _Devices:
    """The network's junctions, stacked for vectorized evaluation."""
    return _Devices(_stacked(network.hidden_synapses, SpinDiodeParams),
                    _stacked(network.output_synapses, SpinDiodeParams),
                    _stacked(network.hidden_synapses, SpinDiodeParams, (4, 1, 1)),
                    _stacked(network.output_synapses, SpinDiodeParams, (2, 1, 1)),
                    _stacked(network.hidden_neurons, OscillatorParams),
                    _stacked(network.neurons, OscillatorParams))


def tuned_synapse(p: SpinDiodeParams, control_current: float, field: float = 0.0
                  ) -> SpinDiodeParams:
    """Synapse ``p`` with its resonance moved by ``field`` (T) and its field line's
    ``control_current`` (A); no DC current flows through the junction."""
    return replace(p, resonance=float(resonance_frequency(p, field, control_current)))


def _tuned(flat: SpinDiodeParams, lines: SpinDiodeParams, controls: np.ndarray,
           field: float) -> SpinDiodeParams:
    """Stacked synapses with resonances moved by ``field`` and ``controls`` (..., m), A;
    fields shaped (..., m, 1, 1) to broadcast over (examples, tones)."""
    f_r = resonance_frequency(flat, field, controls)
    return replace(lines, resonance=f_r[..., None, None])


def _synapse_voltages(tuned: SpinDiodeParams, freqs: ArrayLike, powers: np.ndarray
                      ) -> np.ndarray:
    """(..., m, N) DC voltage of each tuned synapse, V, from tones at ``freqs`` (Hz) of
    ``powers`` (W), shaped (..., N, tones): every tone reaches every synapse, and saturation
    follows their total power."""
    total = powers.sum(axis=-1, keepdims=True)
    return rectified_voltage(tuned, freqs, powers, total_power=total).sum(axis=-1)


def _hidden_powers(network: Network, p_in: np.ndarray) -> np.ndarray:
    """(4, N, 2) input powers (W) reaching each hidden synapse A1, A2, B1, B2 through the
    splitter's arms, from the (N, 2) powers at the inputs."""
    coupling = np.repeat(np.asarray(network.input_coupling), 2, axis=0)
    return p_in * coupling[:, None, :]


def _chains(v_syn: np.ndarray) -> np.ndarray:
    """(..., N, m/2) chain voltages from (..., m, N) synapse voltages, with polarity
    (-1)^k within a chain of two."""
    return np.swapaxes(v_syn[..., 0::2, :] - v_syn[..., 1::2, :], -1, -2)


def chain_voltage(synapses: tuple[SpinDiodeParams, ...], controls: ArrayLike,
                  freqs: ArrayLike, powers: ArrayLike, field: float = 0.0) -> np.ndarray:
    """(N,) DC voltage of one chain of synapses, V, with ``controls`` (A, one per synapse),
    for tones at ``freqs`` (Hz) of ``powers`` (N, tones) in W."""
    p = np.asarray(powers, dtype=float)
    total = p.sum(axis=-1, keepdims=True)
    return sum(POLARITY[k % 2] * rectified_voltage(tuned_synapse(s, c, field), freqs, p,
                                                   total_power=total).sum(axis=-1)
               for k, (s, c) in enumerate(zip(synapses, np.asarray(controls, dtype=float),
                                              strict=True)))


def neuron_response(p: OscillatorParams, current: ArrayLike, field: float = 0.0
                    ) -> tuple[np.ndarray, np.ndarray]:
    """Emitted power (W) and frequency (Hz) of neuron(s) ``p`` driven with ``current`` (A)."""
    return emitted_power(p, current), frequency(p, current, field)


# ------------------------------------------------------------------------ forward


def forward(network: Network, knobs: Knobs, inputs: ArrayLike) -> Activations:
    """Forward pass for input powers ``inputs`` (N, 2), W, at the network's input
    frequencies, for one knob setting or a population of them (leading axes)."""
    p_in = as_inputs(inputs)
    dev = _devices(network)
    c, b = knobs.control_currents, knobs.bias_currents
    f_in = np.asarray(network.input_frequencies, dtype=float)
    hidden = _tuned(dev.hidden_synapses, dev.hidden_lines, c[..., :4], network.field)
    v_h = _chains(_synapse_voltages(hidden, f_in, _hidden_powers(network, p_in)))
    d_h = b[..., None, :2] + network.hidden_transconductance * v_h
    i_h = clamp(network, d_h)
    p_h, f_h = neuron_response(dev.hidden_neurons, i_h, network.field)
    output = _tuned(dev.output_synapses, dev.output_lines, c[..., 4:], network.field)
    tones_f, tones_p = f_h, network.emission_gains * p_h
    v_o = _chains(_synapse_voltages(output, tones_f[..., None, :, :],
                                    tones_p[..., None, :, :]))
    d_o = b[..., None, 2:] + network.output_transconductance * v_o
    i_o = clamp(network, d_o)
    p_o, f_o = neuron_response(network.output_neuron, i_o, network.field)
    return Activations(*(np.concatenate(pair, axis=-1) for pair in (
        (v_h, v_o), (i_h, i_o), (p_h, p_o), (f_h, f_o), (d_h, d_o))))


@lru_cache(maxsize=8)
def instance(network: Network) -> LayeredNetwork:
    """The network as the general model's 2-2-1 instance (``design.from_nine_junction``),
    kept for the last few networks."""
    return from_nine_junction(network)


def instance_forward(network: Network, knobs: Knobs, inputs: ArrayLike,
                     probe: tuple[float, float] | None = None) -> Activations:
    """``forward`` for one knob setting, computed by the general model
    (``layered_pass.forward`` on ``instance(network)``): how the simulated chip evaluates
    itself. ``probe`` (frequency in Hz, power in W) adds a tone at the combiner, reaching
    the output chain beside the hidden neurons' emission (the bench's port for
    calibrating the output synapses)."""
    layers = layered_pass.forward(instance(network), knobs.vector(), as_inputs(inputs),
                                  probe=probe)
    return Activations(*(np.concatenate([getattr(a, name) for a in layers], axis=-1)
                         for name in ("voltages", "currents", "powers", "frequencies",
                                      "drives")))


def clamp(network: Network, drives: ArrayLike) -> np.ndarray:
    """Neuron currents (A) that drive stages asked for ``drives`` (A) deliver: clipped to
    +-``Network.drive_limit``."""
    return np.clip(drives, -network.drive_limit, network.drive_limit)


def _transconductances(network: Network) -> np.ndarray:
    return np.array([network.hidden_transconductance] * 2 + [network.output_transconductance])


def activations_from_chain_voltages(network: Network, knobs: Knobs,
                                    chain_voltages: ArrayLike) -> Activations:
    """Activations implied by chain voltages (N, 3) in V, e.g. measured on a bench:
    neuron drive I = b + g_m V, emission and frequency from the oscillator model."""
    v = np.asarray(chain_voltages, dtype=float)
    drives = knobs.bias_currents[..., None, :] + _transconductances(network) * v
    currents = clamp(network, drives)
    powers, freqs = neuron_response(_devices(network).neurons, currents, network.field)
    return Activations(v, currents, powers, freqs, drives)


def activations_from_neuron_currents(network: Network, knobs: Knobs,
                                     neuron_currents: ArrayLike) -> Activations:
    """Activations implied by neuron drive currents (N, 3) in A, e.g. measured on a bench:
    chain voltages V = (I - b) / g_m (currents below the clamp), emission and frequency
    from the oscillator model."""
    i = np.asarray(neuron_currents, dtype=float)
    v = (i - knobs.bias_currents[..., None, :]) / _transconductances(network)
    powers, freqs = neuron_response(_devices(network).neurons, i, network.field)
    return Activations(v, i, powers, freqs, i)


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


#: The default objective.
DEFAULT_OBJECTIVE = Objective()


def _signs(labels: ArrayLike) -> np.ndarray:
    return np.where(np.asarray(labels, dtype=bool), 1.0, -1.0)


def loss(network: Network, activations: Activations, labels: ArrayLike,
         objective: Objective = DEFAULT_OBJECTIVE) -> float | np.ndarray:
    """Mean training loss (dimensionless) of ``objective`` for ``labels`` (N,) (True: NO
    should emit); one value per knob setting if the activations have leading axes."""
    y = _signs(labels)
    t = objective.temperature
    logistic = np.logaddexp(0.0, -y * score(network, activations) / t)
    excess = np.maximum(np.abs(activations.drives) - objective.drive_limit, 0.0) / t
    per_example = logistic + objective.limit_weight * np.sum(excess**2, axis=-1)
    mean = np.mean(per_example, axis=-1)
    return float(mean) if mean.ndim == 0 else mean


def loss_sensitivity(network: Network, activations: Activations, labels: ArrayLike,
                     objective: Objective = DEFAULT_OBJECTIVE) -> np.ndarray:
    """(..., N, 3) derivative of the mean loss with respect to what the drive stages of
    N1, N2 and NO are asked for (b + g_m V), 1/A."""
    y = _signs(labels)
    t = objective.temperature
    m = y * score(network, activations) / t
    sig = 0.5 * (1.0 - np.tanh(0.5 * m))  # sigma(-m), without overflow
    d = activations.drives
    excess = np.maximum(np.abs(d) - objective.drive_limit, 0.0) / t
    sens = 2.0 * objective.limit_weight * np.sign(d) * excess / t
    sens[..., 2] -= y * sig / t * _unclamped(network, d[..., 2])
    return sens / len(y)


def _unclamped(network: Network, drives: np.ndarray) -> np.ndarray:
    """1 where a drive stage passes its drive on (below its clamp), else 0."""
    return (np.abs(drives) < network.drive_limit).astype(float)


# ------------------------------------------------------------------------ gradients


class _DiodePartials(NamedTuple):
    d_power: np.ndarray  #: dV/dP of the tone itself at fixed total power, V/W
    d_total: np.ndarray  #: dV/dP_total (saturation), V/W
    d_freq: np.ndarray  #: dV/df of the tone, V/Hz
    d_resonance: np.ndarray  #: dV/df_r of the synapse, V/Hz


def _diode_partials(p: SpinDiodeParams, freq: ArrayLike, power: np.ndarray
                    ) -> _DiodePartials:
    """Local derivatives of ``rectified_voltage`` (tuned synapses ``p`` carrying no DC
    current, saturation by the total power of the tones) with respect to a tone's power,
    the total power, a tone's frequency and the resonance; shaped (..., m, N, tones).

    With u = (f - f_r)/D and D = alpha f_r the line is (S + A u)/(1 + u^2), so
    du/df = 1/D and du/df_r = -(1 + alpha u)/D."""
    total = power.sum(axis=-1, keepdims=True)
    width = p.damping * p.resonance
    u = (freq - p.resonance) / width
    q = 1.0 / (1.0 + u * u)
    shape = (p.symmetric + p.antisymmetric * u) * q
    slope = (p.antisymmetric - (2.0 * p.symmetric + p.antisymmetric * u) * u) * q * q / width
    sat = 1.0 / (1.0 + total / p.saturation_power)
    scaled = power * sat
    return _DiodePartials(d_power=shape * sat,
                          d_total=-scaled * shape * sat / p.saturation_power,
                          d_freq=scaled * slope,
                          d_resonance=-scaled * slope * (1.0 + p.damping * u))


def backward(network: Network, knobs: Knobs, inputs: ArrayLike, activations: Activations,
             d_currents: ArrayLike) -> np.ndarray:
    """Vector-Jacobian product: the gradient (..., 9), in ``Knobs.vector`` order and 1/A
    per unit of g, of sum_n sum_j g_nj d_nj, for g = ``d_currents`` (..., N, 3) (e.g.
    ``loss_sensitivity``) and d the drives asked of the neurons' drive stages. Every local
    derivative is evaluated at ``activations``: the model's own, or those measured on a
    bench."""
    p_in = as_inputs(inputs)
    g_i = np.asarray(d_currents, dtype=float)
    dev = _devices(network)
    c = knobs.control_currents
    grad = np.empty((*g_i.shape[:-2], 9))
    grad[..., 8] = g_i[..., 2].sum(axis=-1)

    # Output chain: its tones are the hidden neurons' amplified emissions.
    g_vo = network.output_transconductance * g_i[..., 2]
    gains = network.emission_gains
    p_o = gains * activations.emitted_powers[..., None, :, :2]
    output = _tuned(dev.output_synapses, dev.output_lines, c[..., 4:], network.field)
    part = _diode_partials(output, activations.frequencies[..., None, :, :2], p_o)
    grad[..., 4:6] = (_POLARITY * dev.output_synapses.current_tuning
                      * np.einsum("...n,...knj->...k", g_vo, part.d_resonance))
    s = _POLARITY[:, None, None]
    dvo_dp = np.sum(s * (part.d_power + part.d_total.sum(axis=-1, keepdims=True)), axis=-3)
    dvo_df = np.sum(s * part.d_freq, axis=-3)

    # Hidden neurons: emitted power and frequency both move with the drive.
    hn = dev.hidden_neurons
    slope = emitted_power_slope(hn, activations.neuron_currents[..., :2])
    g_ih = g_i[..., :2] + g_vo[..., None] * (dvo_dp * gains * slope
                                             + dvo_df * hn.current_tuning) * _unclamped(
        network, activations.drives[..., :2])
    grad[..., 6:8] = g_ih.sum(axis=-2)

    # Hidden chains: tones at fixed frequencies, so only the resonances move.
    g_vh = network.hidden_transconductance * g_ih
    hidden = _tuned(dev.hidden_synapses, dev.hidden_lines, c[..., :4], network.field)
    part = _diode_partials(hidden, np.asarray(network.input_frequencies, dtype=float),
                           _hidden_powers(network, p_in))
    per_synapse = part.d_resonance.sum(axis=-1)  # (..., 4, N)
    per_synapse = per_synapse.reshape(*per_synapse.shape[:-2], 2, 2, per_synapse.shape[-1])
    grad[..., :4] = (np.tile(_POLARITY, 2) * dev.hidden_synapses.current_tuning
                     * np.einsum("...nj,...jkn->...jk", g_vh, per_synapse).reshape(
                         *grad.shape[:-1], 4))
    return grad


def loss_and_gradient(network: Network, knobs: Knobs, inputs: ArrayLike, labels: ArrayLike,
                      activations: Activations | None = None,
                      objective: Objective = DEFAULT_OBJECTIVE) -> Gradient:
    """Mean loss and its gradient for ``inputs`` (N, 2), W, and ``labels`` (N,).

    With ``activations`` None the model's own forward pass is used (offline training);
    given measured ones (``activations_from_chain_voltages``), the loss and every local
    derivative are evaluated at them (physics-aware training)."""
    if activations is None:
        activations = forward(network, knobs, inputs)
    sens = loss_sensitivity(network, activations, labels, objective)
    g = backward(network, knobs, inputs, activations, sens)
    return Gradient(loss(network, activations, labels, objective), g[..., :6], g[..., 6:])


def gradient_through_instance(network: Network, knobs: Knobs, inputs: ArrayLike,
                              labels: ArrayLike, chain_voltages: ArrayLike,
                              objective: Objective = DEFAULT_OBJECTIVE) -> Gradient:
    """``gradient_at_measured`` for one knob setting, computed by the general model on
    ``instance(network)``: the loss and backward pass at the chain voltages (N, 3), V,
    measured on a bench (physics-aware training on the nine-junction chip)."""
    layered = instance(network)
    v = np.asarray(chain_voltages, dtype=float)
    x = knobs.vector()
    acts = layered_pass.activations_from_voltages(layered, x, [v[:, :2], v[:, 2:]])
    value, g = layered_pass.loss_and_gradient(
        layered, x, as_inputs(inputs), np.asarray(labels, dtype=bool).astype(int), acts,
        layered_pass.LayeredObjective(temperature=objective.temperature,
                                      limit_weight=objective.limit_weight,
                                      drive_limit=objective.drive_limit))
    return Gradient(value, g[:6], g[6:])


def gradient_at_measured(network: Network, knobs: Knobs, inputs: ArrayLike,
                         labels: ArrayLike, chain_voltages: ArrayLike,
                         objective: Objective = DEFAULT_OBJECTIVE) -> Gradient:
    """Physics-aware gradient: loss and backward pass at the chain voltages (N, 3), V,
    measured on a bench for ``inputs`` (N, 2), W, with ``knobs`` set."""
    act = activations_from_chain_voltages(network, knobs, chain_voltages)
    return loss_and_gradient(network, knobs, inputs, labels, act, objective)
