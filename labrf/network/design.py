"""Networks to build: ``design_network`` lays out a frequency-multiplexed chip of any
sizes from physics.md's default devices, with device spread and RF-path imbalance drawn
from seeded streams; ``from_nine_junction`` is the nine-junction chip of Ross et al. as
one instance of ``LayeredNetwork``; ``initial_knobs`` gives a seeded starting point.

Layout of ``design_network``: the N_0 input tones, and the neurons of every layer, sit on
geometric frequency grids over ``band`` (each a fixed number of half-widths from the
next, since D = alpha f). Synapse k of a chain sits on tone k (chains as long as their
layer's inputs by default; ``facing_tones`` for longer ones), so its +-5 mA control
range (+-35 MHz) moves it across several tones on either side. Drive stages and
inter-layer gains are chosen so that a layer's typical total input power
(``input_power``) stays below saturation and maps the chain voltages onto the neurons'
working window (threshold to the drive limit). ``perturbed`` makes a chip to a design
(spread, path imbalance); ``calibrated`` is the model a lab holds of it after its
calibrations; ``transfer_knobs`` writes knobs through them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import fields, replace
from typing import Any

import numpy as np

from labrf.errors import NetworkError
from labrf.network.layered import BIAS_LIMITS, Layer, LayeredNetwork, Neurons, Synapses
from labrf.network.params import NEURON_NAMES, SYNAPSE_NAMES, Network
from labrf.physics import OscillatorParams, SpinDiodeParams
from labrf.physics.oscillator import emitted_power

#: Frequency band of the tones and neurons of a designed chip, Hz (physics.md's range).
DEFAULT_BAND = (100e6, 500e6)
#: Total RF power a chain of a designed chip receives for a typical input, W.
DEFAULT_INPUT_POWER = 10e-6
#: Drive-current window a typical chain voltage spans, A (threshold to the drive limit).
DRIVE_WINDOW = 2e-3
_SYNAPSE, _NEURON = SpinDiodeParams(), OscillatorParams()


def check_sizes(sizes: Sequence[int]) -> tuple[int, ...]:
    """``sizes`` as ints >= 1 (inputs, then neurons per layer); NetworkError otherwise."""
    sizes = tuple(sizes)
    if len(sizes) < 2:
        raise NetworkError(f"layer sizes need the inputs and at least one layer, got {sizes}")
    for index, size in enumerate(sizes):
        if int(size) != size or size < 1:
            raise NetworkError(f"layer sizes must be whole numbers >= 1, got sizes[{index}]"
                               f" = {size} in {'-'.join(map(str, sizes))}")
    return tuple(int(s) for s in sizes)


def geometric_grid(count: int, band: tuple[float, float]) -> np.ndarray:
    """``count`` frequencies (Hz) spaced geometrically from band[0] to band[1]."""
    lo, hi = band
    if not (0 < lo < hi):
        raise NetworkError(f"band must be 0 < low < high in Hz, got {band}")
    return np.geomspace(lo, hi, count) if count > 1 else np.array([np.sqrt(lo * hi)])


def facing_tones(synapses: int, tones: int) -> np.ndarray:
    """(synapses,) index of the tone each synapse of a chain sits on: in order, with
    neighbours sharing a tone when a chain has more synapses than tones (so two synapses
    per tone are a pair of opposite polarity: a signed weight)."""
    return (np.arange(synapses) * tones) // synapses


def design_network(sizes: Sequence[int], *, synapses_per_input: int = 1,
                   chain_length: int | None = None,
                   band: tuple[float, float] = DEFAULT_BAND, spread: float = 0.0,
                   path_imbalance_db: float = 0.0, seed: int = 0,
                   input_power: float = DEFAULT_INPUT_POWER,
                   synapse: SpinDiodeParams = _SYNAPSE,
                   neuron: OscillatorParams = _NEURON) -> LayeredNetwork:
    """A chip of ``sizes`` (e.g. (256, 128, 10)) with default devices ``synapse`` and
    ``neuron``, chains of ``synapses_per_input`` synapses per input tone (or
    ``chain_length`` in every layer); ``spread`` is the relative Gaussian spread of every
    junction's resonance, sensitivities, threshold, emitted power and emission frequency, and
    ``path_imbalance_db`` the log-normal spread (dB) of every RF path's transmission,
    both drawn from ``seed``."""
    sizes = check_sizes(sizes)
    if chain_length is not None and chain_length < 1:
        raise NetworkError(f"chain_length must be >= 1, got {chain_length}")
    if synapses_per_input < 1:
        raise NetworkError(f"synapses_per_input must be >= 1, got {synapses_per_input}")
    inputs = geometric_grid(sizes[0], band)
    layers, tones = [], inputs
    for index, (n, m) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        layer = _layer(tones, m, chain_length or synapses_per_input * n, synapse, neuron,
                       band, input_power, first=index == 0)
        layers.append(layer)
        tones = _working_frequency(layer.neurons)
    nominal = LayeredNetwork(input_frequencies=inputs, layers=tuple(layers),
                             field=0.0, drive_limit=BIAS_LIMITS[1])
    return perturbed(nominal, spread, path_imbalance_db, seed)


def perturbed(network: LayeredNetwork, spread: float, path_imbalance_db: float = 0.0,
              seed: int = 0) -> LayeredNetwork:
    """A chip made to ``network``'s design: every junction's resonance, sensitivities,
    threshold, emitted power and emission frequency scaled by 1 + spread N(0, 1), every RF
    path's transmission by 10^(path_imbalance_db N(0, 1) / 10), each quantity from its own
    child of ``seed`` (``SeedSequence.spawn``), so a chip depends only on its seed."""
    if not (0.0 <= spread < 0.5) or not (0.0 <= path_imbalance_db < 20.0):
        raise NetworkError(f"spread must be in [0, 0.5) and path_imbalance_db in [0, 20) dB"
                           f", got {spread} and {path_imbalance_db}")
    if spread == 0.0 and path_imbalance_db == 0.0:
        return network
    # seven quantities per layer, each from its own child of the seed (child 0 unused)
    children = iter(np.random.SeedSequence(seed).spawn(1 + 7 * len(network.layers))[1:])
    layers = []
    for layer in network.layers:
        syn, neu = layer.synapses, layer.neurons
        syn = replace(syn, **{name: _varied(getattr(syn, name), spread, next(children))
                              for name in ("resonance", "antisymmetric", "symmetric")})
        neu = replace(neu, **{name: _varied(getattr(neu, name), spread, next(children))
                              for name in ("threshold_current", "power_at_2ith",
                                           "frequency")})
        factor = 10.0 ** (path_imbalance_db * np.random.default_rng(next(children))
                          .standard_normal(layer.coupling.shape) / 10.0)
        layers.append(replace(layer, synapses=syn, neurons=neu,
                              coupling=layer.coupling * factor))
    return replace(network, layers=tuple(layers))


def _working_frequency(n: Neurons) -> np.ndarray:
    """Emission frequency (Hz) at the middle of the working window."""
    return n.frequency + n.current_tuning * 0.5 * DRIVE_WINDOW


def _varied(value: np.ndarray, spread: float, seed: np.random.SeedSequence
            ) -> np.ndarray:
    return value * (1.0 + spread * np.random.default_rng(seed).standard_normal(value.shape))


def _layer(tones: np.ndarray, m: int, k: int, synapse: SpinDiodeParams,
           neuron: OscillatorParams, band: tuple[float, float], input_power: float,
           first: bool) -> Layer:
    n = tones.size
    # synapse k of every chain on its tone (``facing_tones``)
    on_tone = np.broadcast_to(tones[facing_tones(k, n)], (m, k)).astype(float)
    shape = (m, k)
    syn = Synapses(
        resonance=on_tone,
        damping=np.full(shape, synapse.damping),
        antisymmetric=np.full(shape, synapse.antisymmetric),
        symmetric=np.full(shape, synapse.symmetric),
        current_tuning=np.full(shape, synapse.current_tuning),
        field_tuning=np.full(shape, synapse.field_tuning))
    freqs = geometric_grid(m, band)
    neu = Neurons(
        threshold_current=np.full(m, neuron.threshold_current),
        q=np.full(m, neuron.q),
        power_at_2ith=np.full(m, neuron.power_at_2ith),
        frequency=freqs,
        current_tuning=np.full(m, neuron.current_tuning),
        field_tuning=np.full(m, 0.0))
    # Inputs of layer > 0: the previous neurons' emission, about half of them at mid-window
    p_mid = float(emitted_power(neuron, neuron.threshold_current + 0.5 * DRIVE_WINDOW))
    gain = 1.0 if first else input_power / (0.5 * n * p_mid)
    # the drive window for a chain voltage of 0.8 A per W of typical input power: chains
    # whose weights add up that much saturate (a quarter of that gave drives beyond the
    # limit at the start of training, and a test accuracy 5 points lower on the drone task)
    g_m = DRIVE_WINDOW / (0.8 * synapse.antisymmetric * input_power)
    return Layer(synapses=syn, neurons=neu, coupling=np.full((m, n), gain),
                 saturation_power=np.full(m, synapse.saturation_power),
                 transconductance=np.full(m, g_m))


def initial_knobs(network: LayeredNetwork, seed: int = 0, control_spread: float = 0.5e-3
                  ) -> np.ndarray:
    """A starting knob vector, A: control currents uniform in +-``control_spread`` (so the
    weights start spread around zero, of both signs), biases mid-window above each
    neuron's threshold (hidden layers) or at threshold (the readout)."""
    rng = np.random.default_rng(seed)
    controls = rng.uniform(-control_spread, control_spread, network.synapse_count)
    biases = [layer.neurons.threshold_current + (0.25 * DRIVE_WINDOW if i < len(
        network.layers) - 1 else 0.0) for i, layer in enumerate(network.layers)]
    return network.clip(np.concatenate([controls, *biases]))


# ---------------------------------------------------------------- the nine-junction chip


def _stack(cls: type, params: Sequence[Any], shape: tuple[int, ...]) -> Any:
    """A ``cls`` (Synapses or Neurons) whose fields are the same-named fields of the
    physics parameter objects ``params``, stacked into arrays of ``shape``."""
    return cls(**{f.name: np.array([getattr(p, f.name) for p in params],
                                   dtype=float).reshape(shape) for f in fields(cls)})


def _chain_saturation(params: Sequence[SpinDiodeParams], chains: int) -> np.ndarray:
    sat = np.array([p.saturation_power for p in params]).reshape(chains, -1)
    if not np.allclose(sat, sat[:, :1]):
        raise NetworkError("a chain's synapses must share one saturation_power, got "
                           f"{sat.tolist()} W")
    return sat[:, 0]


def from_nine_junction(network: Network) -> LayeredNetwork:
    """The nine-junction network as a 2-2-1 ``LayeredNetwork`` (chains of two), labelled
    A1..O2 and N1, N2, NO; its knob vector is ``Knobs.vector``'s."""
    hidden = Layer(synapses=_stack(Synapses, network.hidden_synapses, (2, 2)),
                   neurons=_stack(Neurons, network.hidden_neurons, (2,)),
                   coupling=np.asarray(network.input_coupling, dtype=float),
                   saturation_power=_chain_saturation(network.hidden_synapses, 2),
                   transconductance=np.full(2, network.hidden_transconductance))
    output = Layer(synapses=_stack(Synapses, network.output_synapses, (1, 2)),
                   neurons=_stack(Neurons, [network.output_neuron], (1,)),
                   coupling=network.emission_gains[None, :],
                   saturation_power=_chain_saturation(network.output_synapses, 1),
                   transconductance=np.full(1, network.output_transconductance))
    return LayeredNetwork(input_frequencies=np.asarray(network.input_frequencies),
                          layers=(hidden, output), drive_limit=network.drive_limit,
                          detection_power=network.detection_power, field=network.field,
                          neuron_names=NEURON_NAMES, synapse_names=SYNAPSE_NAMES)


def calibrated(design: LayeredNetwork, chip: LayeredNetwork) -> LayeredNetwork:
    """The model a lab holds of ``chip`` after calibrating it: each synapse's resonance
    (its f_r(I_control) calibration) and each neuron's threshold and emission frequency
    (its emission curve) as the chip has them; sensitivities, emitted powers and RF-path
    transmissions as designed (not measured per device)."""
    layers = []
    for d, c in zip(design.layers, chip.layers, strict=True):
        syn = replace(d.synapses, resonance=c.synapses.resonance)
        neu = replace(d.neurons, threshold_current=c.neurons.threshold_current,
                      frequency=c.neurons.frequency)
        layers.append(replace(d, synapses=syn, neurons=neu))
    return replace(design, layers=tuple(layers))


def transfer_knobs(source: LayeredNetwork, target: LayeredNetwork, knobs: np.ndarray
                   ) -> np.ndarray:
    """Knobs (A) that give ``target`` the detunings and drives above threshold that
    ``knobs`` give ``source``: offline weights written to a chip through its calibration.
    Control currents are shifted by the resonance offsets over the tuning, and in layers
    fed by neurons also by the offset of the neuron each synapse faces
    (``facing_tones``), so that each keeps its detuning from its tone; biases shift by
    the threshold offsets. Clipped to the limits."""
    controls, biases = source.split(np.asarray(knobs, dtype=float))
    out_c, out_b = [], []
    for index, (s, t, c, b) in enumerate(zip(source.layers, target.layers, controls,
                                             biases, strict=True)):
        shift = s.synapses.resonance - t.synapses.resonance
        if index:
            tones = (target.layers[index - 1].neurons.frequency
                     - source.layers[index - 1].neurons.frequency)
            shift = shift + tones[facing_tones(shift.shape[1], tones.size)]
        out_c.append(c + shift / t.synapses.current_tuning)
        out_b.append(b + t.neurons.threshold_current - s.neurons.threshold_current)
    return target.clip(np.concatenate([*(c.ravel() for c in out_c), *out_b]))
