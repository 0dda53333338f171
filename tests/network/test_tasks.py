"""Tasks: seeded, balanced, in the linear power range, with the stated geometry."""

import numpy as np
import pytest

from labrf.network import TASKS, make_task
from labrf.network.tasks import MAX_POWER


@pytest.mark.parametrize("name", sorted(TASKS))
def test_tasks_are_seeded_balanced_and_in_range(name):
    a, b, c = make_task(name, 3), make_task(name, 3), make_task(name, 4)
    assert np.array_equal(a.train_inputs, b.train_inputs)
    assert np.array_equal(a.test_labels, b.test_labels)
    assert not np.array_equal(a.train_inputs, c.train_inputs)
    for x, y in ((a.train_inputs, a.train_labels), (a.test_inputs, a.test_labels)):
        assert x.shape == (len(y), 2) and y.dtype == bool
        assert y.sum() == len(y) // 2
        assert x.min() >= 0 and x.max() <= MAX_POWER
    assert not np.array_equal(a.train_inputs[:10], a.test_inputs[:10])


def test_task_geometry():
    half = MAX_POWER / 2
    xor = make_task("xor", 0, gap=0.2)
    d = (xor.train_inputs - half) / half
    assert np.all(np.abs(d) >= 0.2 - 1e-12)
    assert np.array_equal(xor.train_labels, d[:, 0] * d[:, 1] < 0)
    ring = make_task("circles", 0)
    r = np.hypot(*((ring.test_inputs - half) / half).T)
    assert np.all(r[ring.test_labels] < 0.5) and np.all(r[~ring.test_labels] >= 0.7)
    moons = make_task("moons", 0)
    # The upper moon (emit) lies above the lower one on average.
    assert moons.train_inputs[moons.train_labels, 1].mean() > moons.train_inputs[
        ~moons.train_labels, 1].mean()


def test_unknown_task_is_named():
    with pytest.raises(ValueError, match="circles"):
        make_task("spirals", 0)
