"""One training of a network chip of any size with the chip in the loop, as the
``chip-in-the-loop`` procedure runs it on a station with a ``labrf.chip``.

The model is the chip's design with its calibration (``LayeredCalibration.model``). The
start is the offline solution: a twin of the model trained for ``offline_epochs``
(``train_twin``), its knobs written to the chip as they are (the model already holds the
chip's resonances and thresholds). ``offline`` stops there; ``physics-aware`` and
``spsa`` then train on the chip (``train_on_chip``) for ``epochs`` epochs. Accuracies
are always the chip's (one pass per example, classified from the analyzer trace).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from labrf.errors import LabrfError
from labrf.network.design import initial_knobs
from labrf.network.layered import LayeredNetwork
from labrf.training.chip_loop import chip_judge, train_on_chip
from labrf.training.datasets import TwinData, check_width
from labrf.training.layered_bench import LayeredBench
from labrf.training.twin import LOOP_ESTIMATORS, AdamState, Epoch, train_twin

#: Estimators of a layered chip's training.
LAYERED_ESTIMATORS = ("offline", *LOOP_ESTIMATORS)


@dataclass
class LayeredChipRun:
    """A chip-in-the-loop training: model, bench, data and settings (SI units; ``lr`` in
    units of 1 mA per step, as the twins')."""

    model: LayeredNetwork
    bench: LayeredBench
    data: TwinData
    estimator: str
    epochs: int
    offline_epochs: int
    batch: int
    lr: float
    seed: int
    power_scale: float  #: W of a tone whose feature is 1
    evaluation_passes: int = 0  #: passes spent measuring accuracies

    def __post_init__(self) -> None:
        if self.estimator not in LAYERED_ESTIMATORS:
            raise LabrfError(f"a network chip trains with {', '.join(LAYERED_ESTIMATORS)}; "
                             f"got estimator {self.estimator!r}")
        check_width(self.data, self.model.sizes)
        self._judge = chip_judge(self.bench)

    def accuracy(self, knobs: np.ndarray, train: bool) -> tuple[float, np.ndarray]:
        """The chip's accuracy and classes on the training or test set with ``knobs``."""
        x, y = (self.data.train_x, self.data.train_y) if train else (self.data.test_x,
                                                                      self.data.test_y)
        classes = self._judge(knobs, x * self.power_scale)
        self.evaluation_passes += len(y)
        return float(np.mean(classes == y)), classes

    def offline_knobs(self) -> np.ndarray:
        """The offline solution: a twin of the model trained on the task, A."""
        twin = train_twin(self.model, self.data, initial_knobs(self.model, self.seed),
                          epochs=self.offline_epochs, seed=self.seed,
                          power_scale=self.power_scale)
        return twin.knobs

    def train(self, start: np.ndarray, resume: AdamState | None,
              on_epoch: Callable[[Epoch], None], on_state: Callable[[AdamState], None]
              ) -> np.ndarray:
        """Train from ``start`` (or ``resume``); the final knobs, A. Each epoch's
        accuracies are measured on the chip (train and test sets)."""
        if self.estimator == "offline" or self.epochs == 0:
            return start
        train_size, test_size = len(self.data.train_y), len(self.data.test_y)

        def counted(epoch: Epoch) -> None:
            self.evaluation_passes += train_size + test_size
            on_epoch(epoch)

        result = train_on_chip(self.model, self.bench, self.data, start,
                               estimator=self.estimator, epochs=self.epochs,
                               batch=self.batch, lr=self.lr, seed=self.seed,
                               power_scale=self.power_scale, on_epoch=counted,
                               resume=resume, on_state=on_state)
        return result.knobs
