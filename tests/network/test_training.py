"""Offline training reaches Ross et al.'s 97.7 % on the nominal network, and knobs
trained on the nominal model fail on a chip whose junctions vary by a few percent."""

from functools import cache

import numpy as np
import pytest

from labrf.network import (
    TASKS,
    Knobs,
    accuracy,
    forward,
    make_task,
    nominal_network,
    train,
    train_task,
    varied_network,
)
from labrf.network.params import lower_bounds, upper_bounds

NET = nominal_network()
TARGET = 0.977


@cache
def trained(name: str, seed: int) -> tuple[Knobs, float]:
    """Knobs trained offline on the nominal model, and their test accuracy there."""
    task = make_task(name, seed)
    knobs = train_task(NET, task).knobs
    return knobs, accuracy(NET, knobs, task.test_inputs, task.test_labels)


@pytest.mark.parametrize("name", sorted(TASKS))
def test_nominal_network_reaches_the_target_for_two_of_three_seeds(name):
    passed, results = 0, {}
    for seed in range(3):
        knobs, acc = trained(name, seed)
        results[seed] = acc
        passed += acc >= TARGET
        # Trained knobs respect their limits, and the drives stay near the junction limit.
        assert np.all(lower_bounds() <= knobs.vector())
        assert np.all(knobs.vector() <= upper_bounds())
        drive = forward(NET, knobs, make_task(name, seed).test_inputs).neuron_currents
        assert np.abs(drive).max() < 6.2e-3
        if passed == 2:
            break
    assert passed == 2, results


def test_variability_defeats_knobs_trained_on_the_nominal_model():
    drops = []
    for name in sorted(TASKS):
        knobs, nominal = trained(name, 0)
        task = make_task(name, 0)
        for draw in range(4):
            chip = varied_network(NET, np.random.default_rng(100 + draw), sigma=0.02)
            drops.append(nominal - accuracy(chip, knobs, task.test_inputs, task.test_labels))
    assert np.mean(drops) > 0.2, drops


def test_training_is_deterministic_and_a_bench_equal_to_the_model_changes_nothing():
    task = make_task("circles", 5)
    start = Knobs([1e-3, -1e-3, 2e-3, 0, 1e-3, -1e-3], [5e-3, 5e-3, 4e-3])
    x, y = task.train_inputs[:200], task.train_labels[:200]
    a = train(NET, x, y, start, steps=20)
    b = train(NET, x, y, start, steps=20)
    c = train(NET, x, y, start, steps=20, bench=NET)
    assert np.array_equal(a.knobs.vector(), b.knobs.vector())
    np.testing.assert_allclose(c.knobs.vector(), a.knobs.vector(), rtol=1e-9, atol=1e-15)
    assert a.losses[-1] < a.losses[0]
