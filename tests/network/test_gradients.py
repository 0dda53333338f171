"""Analytic gradients against central finite differences, and the backward pass at
measured activations (physics-aware training)."""

import numpy as np
import pytest

from labrf.network import (
    Knobs,
    Objective,
    activations_from_chain_voltages,
    forward,
    gradient_at_measured,
    imbalanced_paths,
    loss,
    loss_and_gradient,
    nominal_network,
    onset_current,
    varied_network,
)

NET = nominal_network()
RNG = np.random.default_rng(1)
INPUTS = RNG.uniform(0, 3e-6, size=(120, 2))
LABELS = RNG.random(120) > 0.5
#: Knobs with every hidden and the output neuron crossing threshold over INPUTS.
KNOBS = Knobs([3.8e-3, -4.4e-3, 0.5e-3, 1.4e-3, 4.9e-3, -2.9e-3], [3.9e-3, 5.0e-3, 4.5e-3])


def finite_difference(network, knobs, objective, h=1e-8):
    x = knobs.vector()
    g = np.zeros(9)
    for i in range(9):
        e = np.zeros(9)
        e[i] = h
        up, down = (loss(network, forward(network, Knobs.from_vector(x + s * e), INPUTS),
                         LABELS, objective) for s in (1, -1))
        g[i] = (up - down) / (2 * h)
    return g


def relative_error(a, b):
    return np.abs(a - b) / np.maximum(np.abs(b), 1e-3 * np.abs(b).max())


IMBALANCED = imbalanced_paths(varied_network(NET, np.random.default_rng(3)),
                              np.random.default_rng(4), 1.0)


@pytest.mark.parametrize("network", [NET, varied_network(NET, np.random.default_rng(3)),
                                     IMBALANCED], ids=["nominal", "varied", "imbalanced"])
@pytest.mark.parametrize("objective", [Objective(), Objective(drive_limit=4.7e-3)],
                         ids=["loss", "loss+drive-penalty"])
def test_gradient_matches_central_differences(network, objective):
    act = forward(network, KNOBS, INPUTS)
    if network is NET:  # every neuron crosses its threshold somewhere: kinks are present
        on = act.neuron_currents > np.array([p.threshold_current for p in network.neurons])
        assert np.all(on.any(axis=0)) and not np.any(on.all(axis=0))
    g = loss_and_gradient(network, KNOBS, INPUTS, LABELS, objective=objective)
    assert g.loss == pytest.approx(loss(network, act, LABELS, objective))
    fd = finite_difference(network, KNOBS, objective)
    assert np.all(relative_error(g.vector(), fd) < 1e-4), (g.vector(), fd)


def test_population_gradients_are_those_of_each_setting():
    pop = Knobs(RNG.uniform(-3e-3, 3e-3, (3, 6)), RNG.uniform(4e-3, 6e-3, (3, 3)))
    g = loss_and_gradient(NET, pop, INPUTS, LABELS)
    assert g.vector().shape == (3, 9) and np.shape(g.loss) == (3,)
    for i in range(3):
        one = loss_and_gradient(NET, pop[i], INPUTS, LABELS)
        np.testing.assert_allclose(g.vector()[i], one.vector(), rtol=1e-9)
        assert g.loss[i] == pytest.approx(one.loss, rel=1e-12)


def output_bias_gradient(network, act, objective):
    """Reference: dL/db_NO from the loss's own formula, at activations ``act``."""
    y = np.where(LABELS, 1.0, -1.0)
    t = objective.temperature
    margin = y * (act.neuron_currents[:, 2]
                  - onset_current(network.output_neuron, network.detection_power)) / t
    d = act.drives[:, 2]
    unclamped = np.abs(d) < network.drive_limit
    logistic = -y / t / (1.0 + np.exp(margin)) * unclamped
    excess = np.maximum(np.abs(d) - objective.drive_limit, 0.0) / t
    return np.mean(logistic + 2.0 * objective.limit_weight * np.sign(d) * excess / t)


@pytest.mark.parametrize("objective", [Objective(), Objective(temperature=0.3e-3,
                                                              drive_limit=4.5e-3,
                                                              limit_weight=2.0)],
                         ids=["default", "tight-limit"])
def test_gradient_at_measured_activations(objective):
    # Measured on the model itself: the ordinary gradient.
    own = forward(NET, KNOBS, INPUTS).chain_voltages
    np.testing.assert_allclose(
        gradient_at_measured(NET, KNOBS, INPUTS, LABELS, own, objective).vector(),
        loss_and_gradient(NET, KNOBS, INPUTS, LABELS, objective=objective).vector(),
        rtol=1e-12)
    # Measured on another chip: loss and local derivatives come from the measurement.
    bench = imbalanced_paths(varied_network(NET, np.random.default_rng(5), 0.03),
                             np.random.default_rng(6), 0.5)
    measured = forward(bench, KNOBS, INPUTS).chain_voltages
    pat = gradient_at_measured(NET, KNOBS, INPUTS, LABELS, measured, objective)
    act = activations_from_chain_voltages(NET, KNOBS, measured)
    assert pat.loss == pytest.approx(loss(NET, act, LABELS, objective), rel=1e-12)
    assert pat.bias_currents[2] == pytest.approx(output_bias_gradient(NET, act, objective),
                                                 rel=1e-10)
    model = loss_and_gradient(NET, KNOBS, INPUTS, LABELS, objective=objective)
    assert not np.allclose(pat.vector(), model.vector(), rtol=1e-2)
    if objective.drive_limit < NET.drive_limit:
        assert np.abs(act.drives).max() > objective.drive_limit  # the penalty is at work


def test_physics_aware_gradients_of_a_population_are_those_of_each_setting():
    """Offline physics-aware training (``train(..., bench=...)``) takes a population of
    settings, each with the voltages measured for it."""
    bench = varied_network(NET, np.random.default_rng(5), 0.03)
    pop = Knobs(KNOBS.control_currents + RNG.uniform(-5e-4, 5e-4, (3, 6)),
                KNOBS.bias_currents + RNG.uniform(-2e-4, 2e-4, (3, 3)))
    measured = forward(bench, pop, INPUTS).chain_voltages
    g = gradient_at_measured(NET, pop, INPUTS, LABELS, measured)
    for i in range(3):
        one = gradient_at_measured(NET, pop[i], INPUTS, LABELS, measured[i])
        np.testing.assert_allclose(g.vector()[i], one.vector(), rtol=1e-10)
        assert g.loss[i] == pytest.approx(one.loss, rel=1e-12)
