"""Network parameters: the nominal network, its variations and the knobs."""

import numpy as np
import pytest

from labrf.network import (
    BIAS_LIMITS,
    CONTROL_LIMITS,
    Knobs,
    Network,
    imbalanced_paths,
    nominal_network,
    varied_network,
)
from labrf.network.params import lower_bounds, upper_bounds
from labrf.physics import OscillatorParams, SpinDiodeParams


def test_nominal_network_uses_the_physics_defaults_apart_from_frequencies():
    net = nominal_network()
    assert len(net.synapses) == 6 and len(net.neurons) == 3
    for p in net.synapses:
        assert p == SpinDiodeParams(resonance=p.resonance)
    for p in net.neurons:
        assert p == OscillatorParams(frequency=p.frequency)
    f1, f2 = net.input_frequencies
    assert 200e6 < f1 < f2 < 300e6
    # Hidden resonances lie between the inputs; output ones amid the neurons' bands.
    assert all(f1 <= p.resonance <= f2 for p in net.hidden_synapses)
    low = min(p.frequency for p in net.hidden_neurons)
    high = max(p.frequency for p in net.hidden_neurons) + 14e6
    assert all(low <= p.resonance <= high for p in net.output_synapses)


def test_a_network_has_nine_junctions():
    net = nominal_network()
    with pytest.raises(ValueError, match="4 hidden synapses"):
        Network(net.hidden_synapses[:3], net.output_synapses, net.hidden_neurons,
                net.output_neuron)


def test_varied_network_is_seeded_and_spreads_by_sigma():
    net = nominal_network()
    a = varied_network(net, np.random.default_rng(7), 0.02)
    b = varied_network(net, np.random.default_rng(7), 0.02)
    c = varied_network(net, np.random.default_rng(8), 0.02)
    assert a == b and a != c
    rel = []
    for _ in range(40):
        v = varied_network(net, np.random.default_rng(len(rel)), 0.05)
        pairs = zip(net.synapses, v.synapses, strict=True)
        rel += [q.resonance / p.resonance - 1 for p, q in pairs]
        rel += [q.frequency / p.frequency - 1
                for p, q in zip(net.neurons, v.neurons, strict=True)]
    assert np.std(rel) == pytest.approx(0.05, rel=0.15)
    # What is not drawn stays put.
    assert all(p.damping == q.damping for p, q in zip(net.synapses, a.synapses, strict=True))
    assert a.input_frequencies == net.input_frequencies


def test_imbalanced_paths_are_seeded_and_spread_by_sigma_in_db():
    net = nominal_network()
    a = imbalanced_paths(net, np.random.default_rng(7), 0.5)
    assert a == imbalanced_paths(net, np.random.default_rng(7), 0.5)
    assert a.synapses == net.synapses and a.neurons == net.neurons
    db = []
    for seed in range(60):
        v = imbalanced_paths(net, np.random.default_rng(seed), 0.5)
        db += list(10 * np.log10(np.ravel(v.input_coupling)))
        db += list(10 * np.log10(v.emission_coupling))
    assert np.std(db) == pytest.approx(0.5, rel=0.1)
    assert imbalanced_paths(net, np.random.default_rng(7), 0.0) == net


def test_knobs_round_trip_clip_and_stack():
    k = Knobs([1e-3, -2e-3, 0, 0, 9e-3, -9e-3], [3e-3, 7e-3, -1e-3])
    assert np.array_equal(Knobs.from_vector(k.vector()).vector(), k.vector())
    c = k.clipped()
    assert c.control_currents[4] == CONTROL_LIMITS[1]
    assert c.control_currents[5] == CONTROL_LIMITS[0]
    assert tuple(c.bias_currents[1:]) == (BIAS_LIMITS[1], BIAS_LIMITS[0])
    pop = Knobs.from_vector(np.stack([k.vector(), c.vector()]))
    assert pop.vector().shape == (2, 9)
    assert np.array_equal(pop[1].vector(), c.vector())
    assert np.all(lower_bounds() <= c.vector()) and np.all(c.vector() <= upper_bounds())
    with pytest.raises(ValueError, match="control currents"):
        Knobs(np.zeros(5), np.zeros(3))


def test_knobs_are_one_array_with_named_views():
    x = np.linspace(-1e-3, 1e-3, 9)
    x.flags.writeable = False
    k = Knobs.from_vector(x)
    assert k.vector() is x  # a read-only vector is wrapped, not copied
    assert np.shares_memory(k.control_currents, x) and np.shares_memory(k.bias_currents, x)
    mine = np.zeros(9)
    held = Knobs.from_vector(mine)
    mine[0] = 1.0  # a caller's writeable array is copied: the knobs do not change under it
    assert held.control_currents[0] == 0.0
    with pytest.raises(ValueError, match="read-only"):
        held.vector()[0] = 1.0
    with pytest.raises(ValueError, match=r"9 currents.*\(8,\)"):
        Knobs.from_vector(np.zeros(8))
