"""Chip-in-the-loop training: estimators of the loss gradient, projected Adam over epochs,
and the evaluation of the trained chip.

Estimators (``ESTIMATORS``), each over minibatches of the training examples:

- ``physics-aware``: forward pass on the chip, backward pass through the model (the
  general model's 2-2-1 instance) at the measured chain voltages (Wright et al., Nature
  601, 549 (2022)): B passes per step.
- ``spsa``: the loss measured on the chip at x + c D and x - c D, D a random +-1 vector
  (simultaneous perturbation): 2 B passes per step, model-free.
- ``finite-difference``: central differences knob by knob: 18 B passes per step.
- ``offline``: no hardware in the loop; the model is trained and written to the chip.

Every estimator but ``offline`` starts from the offline solution. Knobs live in the
model's units (``KnobMap`` turns them into chip currents); the loss is the model's
``Objective`` evaluated at the measured activations, so all estimators minimize the same
measured quantity (SPSA and finite differences report the mean of their perturbed
measurements, spending no pass on the unperturbed knobs). Passes are counted by the
bench. A ``TrainingState`` after each epoch is enough to resume.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace

import numpy as np

from labrf.errors import LabrfError
from labrf.network.forward import (
    DEFAULT_OBJECTIVE,
    Activations,
    Objective,
    activations_from_chain_voltages,
    loss,
    loss_and_gradient,
    score,
)
from labrf.network.params import Knobs, Network
from labrf.network.tasks import Task
from labrf.network.train import adam_step, train_task
from labrf.training.calibration import KnobMap
from labrf.training.hardware import Measured, NetworkBench

ESTIMATORS = ("physics-aware", "spsa", "finite-difference", "offline")


@dataclass(frozen=True)
class Settings:
    """How a training runs (currents in A)."""

    estimator: str = "physics-aware"
    epochs: int = 20
    batch_size: int = 50
    train_examples: int = 200  #: training examples presented to the chip per epoch
    #: validation examples (from the training split, never trained on) measured after each
    #: epoch (0: none); the epoch with the best validation accuracy is the one kept
    validation_examples: int = 200
    learning_rate: float = 0.02e-3  #: Adam step, A
    perturbation: float = 0.05e-3  #: SPSA's c, A
    difference_step: float = 0.02e-3  #: finite differences' h, A
    seed: int = 0
    objective: Objective = DEFAULT_OBJECTIVE

    def __post_init__(self) -> None:
        if self.estimator not in ESTIMATORS:
            raise LabrfError(f"unknown estimator {self.estimator!r}; valid: "
                             f"{', '.join(ESTIMATORS)}")


@dataclass(frozen=True)
class TrainingState:
    """Everything a training needs to go on: model knobs (9,) in A, Adam's moments and
    step count, epochs done and hardware passes spent on training."""

    knobs: np.ndarray
    adam_m: np.ndarray
    adam_v: np.ndarray
    step: int = 0
    epoch: int = 0
    passes: int = 0

    @classmethod
    def start(cls, knobs: Knobs) -> TrainingState:
        """A fresh state at ``knobs``."""
        return cls(knobs.vector(), np.zeros(9), np.zeros(9))


@dataclass(frozen=True)
class EpochRecord:
    """One epoch, as measured: mean loss and accuracy over its training passes, accuracy
    on the validation examples (from the chain voltages), the state after it."""

    state: TrainingState
    loss: float
    train_accuracy: float
    validation_accuracy: float  #: validation accuracy; NaN without validation examples
    validation_passes: int
    chip_currents: np.ndarray  #: (9,) A written to the chip at the end of the epoch


class ChipInTheLoop:
    """A training of ``model``'s knobs with ``bench`` in the loop, on ``task``."""

    def __init__(self, model: Network, knob_map: KnobMap, bench: NetworkBench, task: Task,
                 settings: Settings) -> None:
        self.model, self.map, self.bench, self.task = model, knob_map, bench, task
        self.settings = settings
        self.lower, self.upper = knob_map.bounds()

    # ------------------------------------------------------------ chip and loss

    def chip_currents(self, x: np.ndarray) -> np.ndarray:
        """The chip's currents (9,) A that realize model knobs ``x`` (9,) A."""
        return self.map.to_chip(Knobs.from_vector(x)).vector()

    def write(self, x: np.ndarray) -> None:
        """Put model knobs ``x`` (9,) A on the chip."""
        self.bench.write(self.map.to_chip(Knobs.from_vector(x)))

    def measure(self, x: np.ndarray, inputs: np.ndarray, labels: np.ndarray
                ) -> tuple[float, np.ndarray, Activations, Measured]:
        """Loss, per-example margins (A) and activations of model knobs ``x``, from the
        chain voltages measured on the chip (one pass per example)."""
        self.write(x)
        measured = self.bench.forward(inputs)
        act = activations_from_chain_voltages(self.model, Knobs.from_vector(x),
                                              measured.chain_voltages)
        value = float(loss(self.model, act, labels, self.settings.objective))
        return value, score(self.model, act), act, measured

    def _pair(self, x: np.ndarray, step: np.ndarray, inputs: np.ndarray,
              labels: np.ndarray) -> tuple[float, float, np.ndarray]:
        """Losses measured at x + step and x - step (within the bounds), and the mean of
        their margins (A)."""
        up, m_up, _, _ = self.measure(np.clip(x + step, self.lower, self.upper), inputs,
                                      labels)
        down, m_down, _, _ = self.measure(np.clip(x - step, self.lower, self.upper), inputs,
                                          labels)
        return up, down, (m_up + m_down) / 2

    def gradient(self, x: np.ndarray, inputs: np.ndarray, labels: np.ndarray,
                 rng: np.random.Generator) -> tuple[float, np.ndarray, np.ndarray]:
        """Loss, gradient (9,) in 1/A and margins at ``x`` by the chosen estimator."""
        s = self.settings
        if s.estimator == "physics-aware":
            value, margins, act, measured = self.measure(x, inputs, labels)
            g = loss_and_gradient(self.model, Knobs.from_vector(x), measured.inputs, labels,
                                  act, s.objective)
            return value, g.vector(), margins
        if s.estimator == "spsa":
            delta = rng.choice([-1.0, 1.0], size=9)
            up, down, margins = self._pair(x, s.perturbation * delta, inputs, labels)
            return (up + down) / 2, (up - down) / (2 * s.perturbation) * delta, margins
        grad, values, margins = np.empty(9), [], []
        for i, step in enumerate(np.eye(9) * s.difference_step):
            up, down, mean_margins = self._pair(x, step, inputs, labels)
            grad[i] = (up - down) / (2 * s.difference_step)
            values.append((up + down) / 2)
            margins.append(mean_margins)
        return float(np.mean(values)), grad, np.mean(margins, axis=0)

    # ------------------------------------------------------------ training

    def offline_knobs(self, source: KnobMap | None = None) -> Knobs:
        """The model trained on the whole training set, within the chip's reach; or, given
        ``source``, the offline solution of ``source.model`` carried over (through the
        chip's currents) into this training's model."""
        model = self.model if source is None else source.model
        knobs = train_task(model, self.task, objective=self.settings.objective).knobs
        if source is not None:
            knobs = self.map.from_chip(source.to_chip(knobs))
        return Knobs.from_vector(np.clip(knobs.vector(), self.lower, self.upper))

    def _adam(self, state: TrainingState, grad: np.ndarray) -> TrainingState:
        t = state.step + 1
        x, m, v = adam_step(state.knobs, grad, state.adam_m, state.adam_v, t,
                            self.settings.learning_rate, self.lower, self.upper)
        x.flags.writeable = False  # the state's knobs, wrapped by Knobs without a copy
        return replace(state, knobs=x, adam_m=m, adam_v=v, step=t)

    def epochs(self, state: TrainingState) -> Iterator[EpochRecord]:
        """Train from ``state`` until ``Settings.epochs`` are done, yielding each epoch.
        The minibatch order of epoch k depends only on the seed and k, so a resumed
        training takes the same path as an uninterrupted one."""
        s = self.settings
        n = min(s.train_examples, len(self.task.train_inputs))
        x_all, y_all = self.task.train_inputs[:n], self.task.train_labels[:n]
        while state.epoch < s.epochs:
            rng = np.random.default_rng([s.seed, state.epoch])
            order = rng.permutation(n)
            losses, correct = [], 0
            for start in range(0, n, s.batch_size):
                batch = order[start:start + s.batch_size]
                before = self.bench.passes
                value, grad, margins = self.gradient(state.knobs, x_all[batch], y_all[batch],
                                                     rng)
                losses.append(value * len(batch))
                correct += int(np.sum((margins > 0) == y_all[batch]))
                state = self._adam(state, grad)
                state = replace(state, passes=state.passes + self.bench.passes - before)
            state = replace(state, epoch=state.epoch + 1)
            validation, used = self.validate(state.knobs)
            yield EpochRecord(state, float(np.sum(losses) / n), correct / n, validation, used,
                              self.chip_currents(state.knobs))

    def validate(self, x: np.ndarray) -> tuple[float, int]:
        """Accuracy of knobs ``x`` on the validation examples (``validation_examples`` of the
        training split that training does not use), from the measured chain voltages (no
        analyzer), and the passes it took."""
        n = min(self.settings.train_examples, len(self.task.train_inputs))
        m = min(self.settings.validation_examples, len(self.task.train_inputs) - n)
        if m <= 0:
            return float("nan"), 0
        inputs, labels = self.task.train_inputs[n:n + m], self.task.train_labels[n:n + m]
        before = self.bench.passes
        margins = self.measure(x, inputs, labels)[1]
        return float(np.mean((margins > 0) == labels)), self.bench.passes - before

    # ------------------------------------------------------------ evaluation

    def evaluate(self, x: np.ndarray, inputs: np.ndarray) -> tuple[np.ndarray, Measured]:
        """Whether the output neuron emits (N,), seen on the analyzer, for ``inputs``
        (N, 2) W with model knobs ``x`` on the chip."""
        self.write(x)
        measured = self.bench.forward(inputs, output=True)
        return self.bench.emits(measured), measured
