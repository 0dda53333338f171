"""What the twins reach, seeded: the digits and drone twins, and a chip with spread
trained back with the chip in the loop (the model-level chip of ``perturbed``)."""

from pathlib import Path

import pytest

from labrf.network.design import (
    calibrated,
    design_network,
    initial_knobs,
    perturbed,
    transfer_knobs,
)
from labrf.training.datasets import load_task
from labrf.training.twin import evaluate, train_in_the_loop, train_twin

DRONE = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / \
    "RadioSpin_D62_RF_fingerprinting.h5"


def _twin(data, hidden, epochs=40, seed=0):
    net = design_network((data.inputs, hidden, len(data.classes)), seed=seed)
    scale = data.power_scale(10e-6)
    return net, scale, train_twin(net, data, initial_knobs(net, seed), epochs=epochs,
                                  seed=seed, power_scale=scale)


def test_digits_twin_reaches_95_percent():
    _, _, result = _twin(load_task("digits"), 32)
    assert result.history[-1].test_accuracy >= 0.95


@pytest.mark.skipif(not DRONE.is_file(), reason="drone data not present")
def test_drone_twin_reaches_98_percent_in_40_epochs():
    _, _, result = _twin(load_task("drone", DRONE), 128)
    assert result.history[-1].test_accuracy >= 0.98


def test_offline_weights_lose_accuracy_on_a_chip_and_physics_aware_training_wins_it_back():
    data = load_task("digits")
    net, scale, twin = _twin(data, 16, epochs=20)
    ideal = twin.history[-1].test_accuracy
    chip = perturbed(net, 0.05, 0.5, seed=11)
    written = transfer_knobs(net, chip, twin.knobs)
    offline, _ = evaluate(chip, written, data.test_x, data.test_y, scale)
    tuned = train_in_the_loop(calibrated(net, chip), chip, data, written, epochs=10,
                              lr=0.02, power_scale=scale)
    assert offline < ideal - 0.10
    assert tuned.history[-1].test_accuracy > ideal - 0.02
    assert tuned.history[-1].passes == 10
