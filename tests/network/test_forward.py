"""Forward pass: shapes and the device physics of physics.md, wired as in instruments.md."""

from dataclasses import replace

import numpy as np
import pytest

from labrf.network import (
    Knobs,
    activations_from_chain_voltages,
    forward,
    nominal_network,
    onset_current,
    predict,
    score,
)
from labrf.physics import SpinDiodeParams
from labrf.physics.oscillator import emitted_power, frequency
from labrf.physics.spin_diode import rectified_voltage, resonance_frequency

NET = nominal_network()
#: The nominal network with its drive-stage clamp far beyond any drive here (1 A), to
#: check the bare formulas.
FREE = replace(NET, drive_limit=1.0)
RNG = np.random.default_rng(0)
INPUTS = RNG.uniform(0, 3e-6, size=(50, 2))


def tuned_synapse(p: SpinDiodeParams, control_current: float) -> SpinDiodeParams:
    """Reference: synapse ``p`` with its field line carrying ``control_current`` (A)."""
    return replace(p, resonance=float(resonance_frequency(p, 0.0, control_current)))


def chain_voltage(synapses, controls, freqs, powers):
    """Reference: (N,) voltage of a chain, V, straight from ``labrf.physics``: every tone
    (``freqs`` Hz, ``powers`` (N, tones) W) on every synapse, polarity (-1)^k, saturation
    by the total power."""
    p = np.asarray(powers, dtype=float)
    total = p.sum(axis=-1, keepdims=True)
    return sum((-1) ** k * rectified_voltage(tuned_synapse(s, c), freqs, p,
                                             total_power=total).sum(axis=-1)
               for k, (s, c) in enumerate(zip(synapses, controls, strict=True)))


def knobs(controls=(0, 0, 0, 0, 0, 0), biases=(5e-3, 5e-3, 4e-3)):
    return Knobs(np.array(controls, dtype=float), np.array(biases, dtype=float))


def test_shapes_single_batch_and_population():
    act = forward(NET, knobs(), INPUTS)
    for a in (act.chain_voltages, act.neuron_currents, act.emitted_powers, act.frequencies):
        assert a.shape == (50, 3)
    assert forward(NET, knobs(), [1e-6, 2e-6]).neuron_currents.shape == (1, 3)
    pop = Knobs(RNG.uniform(-3e-3, 3e-3, (4, 6)), RNG.uniform(4e-3, 6e-3, (4, 3)))
    act_pop = forward(NET, pop, INPUTS)
    assert act_pop.neuron_currents.shape == (4, 50, 3)
    np.testing.assert_allclose(act_pop.chain_voltages[2], forward(NET, pop[2], INPUTS)
                               .chain_voltages, rtol=1e-12)
    with pytest.raises(ValueError, match=r"\(N, 2\)"):
        forward(NET, knobs(), np.zeros((3, 3)))


def test_chains_sum_every_input_on_every_synapse_with_alternating_polarity():
    k = knobs(RNG.uniform(-4e-3, 4e-3, 6))
    act = forward(NET, k, INPUTS)
    total = INPUTS.sum(axis=1)
    for j in range(2):
        expected = sum((-1) ** s * sum(
            rectified_voltage(tuned_synapse(NET.hidden_synapses[2 * j + s],
                                            k.control_currents[2 * j + s]),
                              NET.input_frequencies[i], INPUTS[:, i], total_power=total)
            for i in range(2)) for s in range(2))
        np.testing.assert_allclose(act.chain_voltages[:, j], expected, rtol=1e-10)
    # The output chain sees both hidden neurons' amplified emission at their frequencies.
    tones = NET.rf_gain * act.emitted_powers[:, :2]
    np.testing.assert_allclose(
        act.chain_voltages[:, 2],
        chain_voltage(NET.output_synapses, k.control_currents[4:], act.frequencies[:, :2],
                      tones), rtol=1e-10)


def test_rf_path_transmissions_scale_the_power_each_chain_sees():
    k = knobs(RNG.uniform(-4e-3, 4e-3, 6))
    paths = replace(NET, input_coupling=((0.8, 1.1), (1.2, 0.9)), emission_coupling=(0.7, 1.3))
    act = forward(paths, k, INPUTS)
    for j in range(2):
        # Chain j is the nominal chain fed with input i's power times c_ji.
        alone = forward(NET, k, INPUTS * np.array(paths.input_coupling[j]))
        np.testing.assert_allclose(act.chain_voltages[:, j], alone.chain_voltages[:, j],
                                   rtol=1e-10)
    tones = NET.rf_gain * np.array([0.7, 1.3]) * act.emitted_powers[:, :2]
    np.testing.assert_allclose(
        act.chain_voltages[:, 2],
        chain_voltage(NET.output_synapses, k.control_currents[4:], act.frequencies[:, :2],
                      tones), rtol=1e-10)
    with pytest.raises(ValueError, match="emission_coupling"):
        replace(NET, emission_coupling=(1.0, 0.0))


def test_polarity_identical_synapses_cancel_and_swapping_flips_the_sign():
    # A1 (240 MHz) and A2 (260 MHz) both moved to 250 MHz: the chain voltage cancels.
    shift = 10e6 / NET.hidden_synapses[0].current_tuning
    act = forward(NET, knobs((shift, -shift, 0, 0, 0, 0)), INPUTS)
    assert np.max(np.abs(act.chain_voltages[:, 0])) < 1e-12
    assert np.max(np.abs(act.chain_voltages[:, 1])) > 1e-6
    # Swapping the two resonances flips chain A's voltage.
    a = forward(NET, knobs((-2e-3, 1e-3, 0, 0, 0, 0)), INPUTS).chain_voltages[:, 0]
    c_swap = (1e-3 + 20e6 / 7e9, -2e-3 - 20e6 / 7e9)
    b = forward(NET, knobs((*c_swap, 0, 0, 0, 0)), INPUTS).chain_voltages[:, 0]
    np.testing.assert_allclose(b, -a, rtol=1e-9)


def test_crosstalk_far_detuned_input_still_moves_the_chain():
    # Chain A tuned to 226 and 234 MHz, around input 1 (230 MHz); input 2 (270 MHz) is
    # 36 to 44 MHz, about eight half-widths, away from both.
    c = ((226e6 - 240e6) / 7e9, (234e6 - 260e6) / 7e9, 0, 0, 0, 0)
    p = np.array([[1e-6, 0.0], [1e-6, 3e-6], [0.0, 3e-6]])
    v = forward(NET, knobs(c), p).chain_voltages[:, 0]
    width = NET.hidden_synapses[0].damping * 230e6
    assert 7 * width < 270e6 - 234e6
    assert abs(v[1] - v[0]) > 0.5e-6  # V: tails and shared saturation, not zero
    assert abs(v[2]) > 0.5e-6  # input 2 alone reaches chain A
    assert abs(v[2]) / 3e-6 < 0.1 * abs(v[0]) / 1e-6  # but per watt far weaker (~3 %)


def test_neurons_emit_only_above_threshold_and_their_frequency_follows_the_drive():
    act = forward(NET, knobs(biases=(3.9e-3, 0.0, 3.99e-3)), np.zeros((1, 2)))
    assert np.all(act.emitted_powers == 0)
    assert np.all(act.chain_voltages[:, 2] == 0)  # nothing reaches the output chain
    act = forward(NET, knobs(RNG.uniform(-3e-3, 3e-3, 6)), INPUTS)
    for j, p in enumerate(NET.neurons):
        i = act.neuron_currents[:, j]
        np.testing.assert_array_equal(act.emitted_powers[:, j], emitted_power(p, i))
        np.testing.assert_allclose(act.frequencies[:, j], frequency(p, i), rtol=1e-12)
        assert np.all(act.emitted_powers[i <= p.threshold_current, j] == 0)
    lo, hi = (forward(NET, knobs(biases=(b, b, 0.0)), np.zeros((1, 2)))
              for b in (4.5e-3, 5.5e-3))
    np.testing.assert_allclose(hi.frequencies[:, :2] - lo.frequencies[:, :2], 7e6, rtol=1e-9)
    assert np.all(hi.emitted_powers[:, :2] > lo.emitted_powers[:, :2])


def test_class_is_emission_and_score_is_its_drive_margin():
    k = knobs(RNG.uniform(-3e-3, 3e-3, 6), (5.2e-3, 4.8e-3, 4.0e-3))
    act = forward(FREE, k, INPUTS)
    s = score(FREE, act)
    assert np.array_equal(predict(FREE, act), s > 0)
    assert s.max() > 0 and s.min() < 0
    i_on = onset_current(NET.output_neuron, NET.detection_power)
    assert emitted_power(NET.output_neuron, i_on) == pytest.approx(NET.detection_power)


def test_activations_from_measured_chain_voltages_reproduce_the_forward_pass():
    k = knobs(RNG.uniform(-3e-3, 3e-3, 6))
    act = forward(FREE, k, INPUTS)
    again = activations_from_chain_voltages(FREE, k, act.chain_voltages)
    for name in ("chain_voltages", "neuron_currents", "emitted_powers", "frequencies"):
        np.testing.assert_allclose(getattr(again, name), getattr(act, name), rtol=1e-9,
                                   atol=1e-15)


def test_drive_stages_clamp_every_neuron_at_the_drive_limit():
    k = knobs(RNG.uniform(-3e-3, 3e-3, 6), (5.2e-3, 4.8e-3, 4.0e-3))
    act = forward(NET, k, INPUTS * 3)
    assert np.abs(act.drives).max() > 2 * NET.drive_limit  # asked for far more
    assert np.abs(act.neuron_currents).max() == NET.drive_limit
    np.testing.assert_array_equal(act.neuron_currents,
                                  np.clip(act.drives, -NET.drive_limit, NET.drive_limit))
    again = activations_from_chain_voltages(NET, k, act.chain_voltages)
    np.testing.assert_allclose(again.neuron_currents, act.neuron_currents, rtol=1e-12)


def test_a_probe_tone_reaches_the_output_chain_alone_when_the_neurons_are_silent():
    controls = np.array([0, 0, 0, 0, 1e-3, -2e-3])
    k = knobs(controls, (0.0, 0.0, 0.0))
    for f in (280e6, 305e6, 330e6):
        act = forward(NET, k, np.zeros((1, 2)), probe=(f, 1e-6))
        want = chain_voltage(NET.output_synapses, controls[4:], [f], [[1e-6]])
        np.testing.assert_allclose(act.chain_voltages[:, 2], want, rtol=1e-12)
        np.testing.assert_array_equal(act.chain_voltages[:, :2], 0.0)
    assert forward(NET, k, np.zeros((1, 2))).chain_voltages[0, 2] == 0.0


def test_a_population_of_settings_is_each_settings_own_pass_with_the_neurons_emitting():
    """Offline search and training evaluate populations of knob settings at once (as
    copies of the chip side by side, in stacks): each setting's activations are those of
    its own pass, across the stacks' boundary (40 settings, 32 to a stack)."""
    k = knobs((2e-3, -1e-3, -2.5e-3, 1.5e-3, 1e-3, -2e-3), (5.2e-3, 5.4e-3, 4.8e-3))
    pop = Knobs(k.control_currents + RNG.uniform(-1e-3, 1e-3, (40, 6)),
                k.bias_currents + RNG.uniform(-0.3e-3, 0.3e-3, (40, 3)))
    acts = forward(NET, pop, INPUTS)
    assert acts.chain_voltages.shape == (40, 50, 3)
    for i in (0, 31, 32, 39):
        one = forward(NET, pop[i], INPUTS)
        assert np.count_nonzero(one.emitted_powers[:, :2]) > 20  # hidden neurons emit
        for name in ("chain_voltages", "neuron_currents", "emitted_powers", "frequencies",
                     "drives"):
            np.testing.assert_allclose(getattr(acts, name)[i], getattr(one, name),
                                       rtol=1e-12, atol=1e-21, err_msg=name)
    with pytest.raises(ValueError, match="one knob setting"):
        forward(NET, pop, INPUTS, probe=(300e6, 1e-6))
