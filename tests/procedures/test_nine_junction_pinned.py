"""The nine-junction results of before the general network model, pinned: XOR, seed 0,
each estimator, on sim_network.yaml as shipped (2 % spread, 0.5 dB RF-path spread, noise).

Measured on commit e89bc04 (the fixed nine-junction ``labrf.network``), with short
trainings so that the finite-difference run stays a few seconds. The test accuracy, the
training passes, the validation accuracy of every epoch and the knobs that were tested
must come out the same, the knobs to 1 nA.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from labrf.runner import run
from labrf.station import LabStation, load_station

SIM_NETWORK = Path(__file__).resolve().parents[2] / "station_configs" / "sim_network.yaml"

#: estimator -> (epochs, test accuracy, training passes, validation accuracy per epoch,
#: tested model knobs in A: six control currents, three biases)
PINNED = {
    "offline": (1, 0.935, 0, [0.91],
                [6.959213045977e-04, 2.643524177608e-04, 4.628203383881e-03,
                 -3.701627233013e-03, -1.424319946894e-03, -3.080090160102e-03,
                 6.000000000000e-03, 4.893372057908e-03, 4.904667880094e-03]),
    "physics-aware": (3, 0.99, 600, [0.91, 0.97, 0.995, 0.98],
                      [8.310719282289e-04, 3.977534823227e-04, 4.589954057664e-03,
                       -3.726366583491e-03, -1.301943374855e-03, -3.163544376572e-03,
                       6.000000000000e-03, 4.923711099141e-03, 4.825582418972e-03]),
    "spsa": (3, 0.9975, 1200, [0.91, 0.98, 0.995, 0.955],
             [7.717199566331e-04, 3.580133309796e-04, 4.581309625450e-03,
              -3.759582057263e-03, -1.369926558753e-03, -3.193716642010e-03,
              5.926020111444e-03, 4.813629443617e-03, 4.822397733372e-03]),
    "finite-difference": (1, 0.97, 3600, [0.91, 0.98],
                          [7.645079195124e-04, 3.336998149051e-04, 4.577843828628e-03,
                           -3.748788072138e-03, -1.357162224816e-03, -3.140805870844e-03,
                           6.000000000000e-03, 4.941620405570e-03, 4.844607273614e-03]),
}


@pytest.fixture(scope="module")
def station() -> Iterator[LabStation]:
    with load_station(SIM_NETWORK) as st:
        yield st


@pytest.mark.parametrize("estimator", list(PINNED))
def test_xor_seed_0_is_unchanged(station: LabStation, tmp_path_factory, estimator: str
                                 ) -> None:
    epochs, accuracy, passes, validation, knobs = PINNED[estimator]
    db = tmp_path_factory.getbasetemp() / "pinned.db"
    result = run("chip-in-the-loop", station,
                 {"task": "xor", "seed": 0, "estimator": estimator, "epochs": epochs,
                  "map_points": 0}, db=db, progress=None)
    assert result.status == "completed", result.error
    fit = result.fit
    assert fit["test_accuracy"] == accuracy
    assert fit["hardware_forward_passes"] == passes
    assert fit["learning_curve"]["validation_accuracy"] == validation
    assert fit["knobs"] == pytest.approx(knobs, abs=1e-9)
