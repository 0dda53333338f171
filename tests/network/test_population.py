"""Populations of knob settings, computed as stacks of copies of a network: each setting
gets exactly what its own pass gives, forward, loss and gradient, across stacks."""

import numpy as np
import pytest

from labrf.errors import NetworkError
from labrf.network import layered_pass as lp
from labrf.network import population
from labrf.network.design import design_network, initial_knobs, perturbed

#: Three layers, three classes, with spread and path imbalance.
NET = design_network((6, 4, 3), spread=0.03, path_imbalance_db=0.5, seed=2)
RNG = np.random.default_rng(7)
INPUTS = RNG.uniform(0, 4e-6, (30, 6))
LABELS = RNG.integers(0, 3, 30)


def settings(network, count, seed=0):
    rng = np.random.default_rng(seed)
    x = initial_knobs(network, seed)
    lower, upper = network.knob_bounds()
    return np.clip(x + rng.uniform(-1e-3, 1e-3, (count, x.size)) * (upper - lower) / 10e-3,
                   lower, upper)


def test_the_stack_keeps_every_layer_on_the_exact_response():
    size = population.stack_size(NET)
    worst = max(m * k * n for m, k, n in (layer.shape for layer in NET.layers[1:]))
    assert size * worst * size <= lp.EXACT_LIMIT < (size + 1) * worst * (size + 1)
    stack = population.stacked(NET, size)
    assert stack.sizes == (6, 4 * size, 3 * size)
    assert all(isinstance(r, lp.ExactResponse)
               for r in lp.Plan(stack, np.zeros(stack.knob_count)).responses)


def test_each_setting_gets_its_own_forward_pass_loss_and_gradient():
    count = population.stack_size(NET) + 5  # two stacks
    x = settings(NET, count)
    acts = population.forward(NET, x, INPUTS)
    losses, grads = population.loss_and_gradient(NET, x, INPUTS, LABELS)
    assert acts[-1].powers.shape == (count, 30, 3) and grads.shape == (count, NET.knob_count)
    for i in (0, count - 6, count - 5, count - 1):
        one = lp.forward(NET, x[i], INPUTS)
        for layer, mine in zip(one, acts, strict=True):
            for name in ("voltages", "drives", "currents", "powers", "frequencies"):
                np.testing.assert_allclose(getattr(mine, name)[i], getattr(layer, name),
                                           rtol=1e-12, atol=1e-21, err_msg=name)
        value, g = lp.loss_and_gradient(NET, x[i], INPUTS, LABELS)
        assert losses[i] == pytest.approx(value, rel=1e-12)
        np.testing.assert_allclose(grads[i], g, rtol=1e-10, atol=1e-12 * np.abs(g).max())


def test_at_measured_activations_each_setting_gets_its_physics_aware_gradient():
    chip = perturbed(NET, 0.03, 0.5, seed=9)
    x = settings(NET, 4, seed=1)
    measured = population.forward(chip, x, INPUTS)
    acts = population.activations_from_voltages(NET, x, [a.voltages for a in measured])
    losses, grads = population.loss_and_gradient(NET, x, INPUTS, LABELS, acts)
    for i in range(4):
        one = lp.activations_from_voltages(NET, x[i], [a.voltages[i] for a in measured])
        value, g = lp.loss_and_gradient(NET, x[i], INPUTS, LABELS, one)
        assert losses[i] == pytest.approx(value, rel=1e-12)
        np.testing.assert_allclose(grads[i], g, rtol=1e-10, atol=1e-12 * np.abs(g).max())


def test_a_network_too_large_to_stack_is_computed_one_setting_at_a_time():
    big = design_network((40, 40, 4), seed=1)  # 40 x 40 x 40 lines: the grid response
    assert population.stack_size(big) == 1
    assert population.stacked(big, 1) is big
    x = settings(big, 2)
    x_in = np.random.default_rng(3).uniform(0, 1e-6, (5, 40))
    acts = population.forward(big, x, x_in)
    np.testing.assert_allclose(acts[-1].powers[1], lp.forward(big, x[1], x_in)[-1].powers,
                               rtol=1e-12, atol=1e-21)


def test_a_population_of_the_wrong_width_is_refused_naming_the_shape():
    with pytest.raises(NetworkError, match=rf"\(settings, {NET.knob_count}\).*\(3, 5\)"):
        population.forward(NET, np.zeros((3, 5)), INPUTS)
    with pytest.raises(NetworkError, match="labels must have shape"):
        population.loss_and_gradient(NET, settings(NET, 2), INPUTS, LABELS[:5])
