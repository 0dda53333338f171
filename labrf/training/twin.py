"""Offline training of a twin: a ``LayeredNetwork`` trained on a task's data with
minibatch projected Adam, knobs in units of ``KNOB_SCALE`` (1 mA).

``train_twin`` returns the trained knobs and a per-epoch history (loss, train and test
accuracy, seconds); ``train_in_the_loop`` trains against a chip (physics-aware or SPSA)
by the same loop, with the estimators of ``loop_estimators``, which training through a
bench's instruments (``chip_loop``) shares; ``dense_baseline`` trains an ordinary MLP of
the same sizes by the same optimizer, as the reference a physical network is compared
with.
"""

from __future__ import annotations

import functools
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

import numpy as np
from scipy.special import log_softmax
from threadpoolctl import threadpool_limits

from labrf.network import layered_pass as lp
from labrf.network.layered import LayeredNetwork
from labrf.network.train import KNOB_SCALE, adam_step
from labrf.training.datasets import TwinData

_F = TypeVar("_F", bound=Callable[..., Any])


def single_threaded_blas(func: _F) -> _F:
    """Run ``func`` with BLAS on one thread: its matrices are small, and BLAS threads that
    spin after each product starve the compiled loops' own threads (a training step of
    the drone twin took 90 ms with them, 19 ms without)."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with threadpool_limits(limits=1, user_api="blas"):
            return func(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


#: Default Adam step per minibatch, in units of KNOB_SCALE.
TWIN_LEARNING_RATE = 0.05
#: Default examples per minibatch.
BATCH = 64


@dataclass
class Epoch:
    """One epoch of training."""

    epoch: int
    loss: float  #: mean training loss over the epoch's minibatches
    train_accuracy: float
    test_accuracy: float
    seconds: float  #: wall time of the epoch's training steps (not the evaluation), s
    passes: float = 0.0  #: forward passes spent on training so far, in training sets


@dataclass
class TwinResult:
    """Trained knobs (A) and the history of a training."""

    knobs: np.ndarray
    history: list[Epoch] = field(default_factory=list)

    @property
    def seconds_per_epoch(self) -> float:
        return float(np.mean([e.seconds for e in self.history])) if self.history else 0.0


#: A minibatch's loss and its gradient with respect to the knobs in KNOB_SCALE units, and
#: the forward passes it cost (examples), from (knobs in KNOB_SCALE units, input powers
#: in W, labels, the training's random stream).
Estimator = Callable[[np.ndarray, np.ndarray, np.ndarray, np.random.Generator],
                     tuple[float, np.ndarray, int]]


def _cosine(lr: float, step: int, total: int) -> float:
    """The Adam step at ``step`` of ``total``: ``lr`` decaying to 0 along a cosine."""
    return lr * 0.5 * (1.0 + np.cos(np.pi * step / total))


@single_threaded_blas
def evaluate(network: LayeredNetwork, knobs: np.ndarray, x: np.ndarray, y: np.ndarray,
             power_scale: float) -> tuple[float, np.ndarray]:
    """Accuracy and predictions of ``network`` on features ``x`` with labels ``y``."""
    pred = lp.predict(network, lp.forward(network, knobs, x * power_scale))
    return float(np.mean(pred == y)), pred


#: Classes of inputs (B, N_0) W with knobs (A): a network's forward pass, or a chip's.
Judge = Callable[[np.ndarray, np.ndarray], np.ndarray]


def network_judge(network: LayeredNetwork) -> Judge:
    """The classes ``network`` gives."""
    return lambda knobs, inputs: lp.predict(network, lp.forward(network, knobs, inputs))


@dataclass
class AdamState:
    """Where a training stands after an epoch: enough to resume it exactly."""

    knobs: np.ndarray  #: A
    m: np.ndarray  #: Adam's first moment (KNOB_SCALE units)
    v: np.ndarray  #: Adam's second moment
    step: int  #: minibatches done
    epoch: int  #: epochs done
    examples: int  #: forward passes spent on training
    rng: dict[str, Any]  #: the shuffling stream's state (``bit_generator.state``)

    def arrays(self) -> dict[str, Any]:
        """As checkpoint arrays (``labrf.procedure.save_arrays``)."""
        return {"knobs": self.knobs, "adam_m": self.m, "adam_v": self.v, "step": self.step,
                "epoch": self.epoch, "examples": self.examples,
                "rng": json.dumps(self.rng)}

    @classmethod
    def from_arrays(cls, saved: Mapping[str, Any]) -> AdamState:
        """From the arrays ``arrays`` wrote."""
        return cls(np.asarray(saved["knobs"], float), np.asarray(saved["adam_m"], float),
                   np.asarray(saved["adam_v"], float), int(saved["step"]),
                   int(saved["epoch"]), int(saved["examples"]), json.loads(str(saved["rng"])))


def adam_epochs(network: LayeredNetwork, judge: LayeredNetwork | Judge, data: TwinData,
                knobs: np.ndarray, estimator: Estimator, *, epochs: int, batch: int,
                lr: float, seed: int, power_scale: float,
                on_epoch: Callable[[Epoch], None] | None,
                resume: AdamState | None = None,
                on_state: Callable[[AdamState], None] | None = None) -> TwinResult:
    """Projected minibatch Adam on ``network``'s knobs with gradients from ``estimator``,
    minibatches shuffled from ``seed``, the step decaying from ``lr`` along a cosine over
    ``epochs``; accuracies measured by ``judge`` (a network, or the classes a chip gives)
    after each epoch. ``resume`` continues from a state ``on_state`` was given (after
    each epoch, for a checkpoint): the same steps as without the interruption."""
    classes = network_judge(judge) if isinstance(judge, LayeredNetwork) else judge
    rng = np.random.default_rng(seed)
    lower, upper = (b / KNOB_SCALE for b in network.knob_bounds())
    x = network.clip(knobs) / KNOB_SCALE
    m, v = np.zeros_like(x), np.zeros_like(x)
    inputs, labels = data.train_x * power_scale, data.train_y
    step, total, examples = 0, epochs * int(np.ceil(len(labels) / batch)), 0
    first = 1
    if resume is not None:
        x, m, v = network.clip(resume.knobs) / KNOB_SCALE, resume.m.copy(), resume.v.copy()
        step, examples, first = resume.step, resume.examples, resume.epoch + 1
        rng.bit_generator.state = resume.rng
    result = TwinResult(knobs=x * KNOB_SCALE)
    for epoch in range(first, epochs + 1):
        start, losses = time.perf_counter(), []
        order = rng.permutation(len(labels))
        for a in range(0, len(order), batch):
            rows = order[a:a + batch]
            value, grad, spent = estimator(x, inputs[rows], labels[rows], rng)
            examples += spent
            step += 1
            x, m, v = adam_step(x, grad, m, v, step, _cosine(lr, step - 1, total), lower,
                                upper)
            losses.append(value)
        seconds = time.perf_counter() - start
        result.knobs = x * KNOB_SCALE
        train_acc = float(np.mean(classes(result.knobs, data.train_x * power_scale) == labels))
        test_acc = float(np.mean(classes(result.knobs, data.test_x * power_scale)
                                 == data.test_y))
        record = Epoch(epoch, float(np.mean(losses)), train_acc, test_acc, seconds,
                       examples / len(labels))
        result.history.append(record)
        if on_state is not None:
            on_state(AdamState(result.knobs, m, v, step, epoch, examples,
                               rng.bit_generator.state))
        if on_epoch is not None:
            on_epoch(record)
    return result


@single_threaded_blas
def train_twin(network: LayeredNetwork, data: TwinData, knobs: np.ndarray, *,
               epochs: int = 40, batch: int = BATCH, lr: float = TWIN_LEARNING_RATE,
               seed: int = 0, power_scale: float,
               objective: lp.LayeredObjective = lp.DEFAULT_LAYERED_OBJECTIVE,
               on_epoch: Callable[[Epoch], None] | None = None) -> TwinResult:
    """Train ``knobs`` of ``network`` offline on ``data`` (features times ``power_scale``
    W) for ``epochs`` passes over the training set (see ``adam_epochs``)."""

    def offline(x: np.ndarray, inputs: np.ndarray, labels: np.ndarray,
                _: np.random.Generator) -> tuple[float, np.ndarray, int]:
        value, grad = lp.loss_and_gradient(network, x * KNOB_SCALE, inputs, labels,
                                           objective=objective)
        return value, grad * KNOB_SCALE, len(labels)

    return adam_epochs(network, network, data, knobs, offline, epochs=epochs, batch=batch,
                        lr=lr, seed=seed, power_scale=power_scale, on_epoch=on_epoch)


@single_threaded_blas
def dense_baseline(data: TwinData, hidden: tuple[int, ...], *, epochs: int = 40,
                   batch: int = BATCH, lr: float = 1e-2, seed: int = 0) -> list[Epoch]:
    """An ordinary MLP (ReLU hidden layers, softmax output; logistic for two classes) of
    sizes inputs-``hidden``-outputs, trained by the same minibatch Adam with cosine decay:
    the reference a physical network's accuracy is read against."""
    rng = np.random.default_rng(seed)
    outputs = 1 if len(data.classes) == 2 else len(data.classes)
    sizes = (data.inputs, *hidden, outputs)
    params = []
    for n, m in zip(sizes[:-1], sizes[1:], strict=True):
        params += [rng.normal(0.0, np.sqrt(2.0 / n), (n, m)), np.zeros(m)]
    moments = [(np.zeros_like(p), np.zeros_like(p)) for p in params]

    def logits(x: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]]:
        acts = [x]
        for i in range(0, len(params), 2):
            z = acts[-1] @ params[i] + params[i + 1]
            acts.append(np.maximum(z, 0.0) if i + 2 < len(params) else z)
        return acts[-1], acts

    def classes(x: np.ndarray) -> np.ndarray:
        z, _ = logits(x)
        return (z[:, 0] > 0).astype(int) if outputs == 1 else np.argmax(z, axis=1)

    history, step = [], 0
    total = epochs * int(np.ceil(len(data.train_y) / batch))
    for epoch in range(1, epochs + 1):
        start, losses = time.perf_counter(), []
        order = rng.permutation(len(data.train_y))
        for a in range(0, len(order), batch):
            rows = order[a:a + batch]
            z, acts = logits(data.train_x[rows])
            y = data.train_y[rows]
            if outputs == 1:
                sign = np.where(y == 1, 1.0, -1.0)
                losses.append(float(np.mean(np.logaddexp(0.0, -sign * z[:, 0]))))
                dz = (-sign * 0.5 * (1.0 - np.tanh(0.5 * sign * z[:, 0])))[:, None]
            else:
                log_p = log_softmax(z, axis=1)
                losses.append(float(-np.mean(log_p[np.arange(len(y)), y])))
                dz = np.exp(log_p)
                dz[np.arange(len(y)), y] -= 1.0
            grad = dz / len(y)
            grads: list[np.ndarray] = [np.empty(0)] * len(params)
            for i in range(len(params) - 2, -1, -2):
                grads[i], grads[i + 1] = acts[i // 2].T @ grad, grad.sum(axis=0)
                if i:
                    grad = (grad @ params[i].T) * (acts[i // 2] > 0)
            rate = _cosine(lr, step, total)
            step += 1
            for i, g in enumerate(grads):
                m, v = moments[i]
                params[i], m, v = adam_step(params[i], g, m, v, step, rate, -np.inf, np.inf)
                moments[i] = (m, v)
        seconds = time.perf_counter() - start
        history.append(Epoch(epoch, float(np.mean(losses)),
                             float(np.mean(classes(data.train_x) == data.train_y)),
                             float(np.mean(classes(data.test_x) == data.test_y)), seconds))
    return history


#: A chip's pass at knobs (A) on inputs (B, N_0) W, as the model sees it: every layer's
#: activations and the plan they were computed with (or None). The flag says what the
#: pass is for: True, the operating point of a physics-aware gradient; False, a loss
#: (SPSA), where only what the loss reads matters.
ChipPass = Callable[[np.ndarray, np.ndarray, bool],
                    tuple[list[lp.LayerActivations], lp.Plan | None]]
#: The estimators a chip in the loop offers.
LOOP_ESTIMATORS = ("physics-aware", "spsa")


def loop_estimators(model: LayeredNetwork, chip_pass: ChipPass, *, spsa_step: float,
                    objective: lp.LayeredObjective) -> dict[str, Estimator]:
    """The estimators of training with a chip in the loop, each chip pass by
    ``chip_pass``. ``physics-aware``: the loss at the chip's activations and the backward
    pass through ``model`` at them (one pass per example); ``spsa``: the chip's loss at
    x +- c Delta, c = ``spsa_step`` in KNOB_SCALE units (two passes per example)."""
    lower, upper = (b / KNOB_SCALE for b in model.knob_bounds())

    def physics_aware(x: np.ndarray, inputs: np.ndarray, labels: np.ndarray,
                      _: np.random.Generator) -> tuple[float, np.ndarray, int]:
        k = x * KNOB_SCALE
        acts, plan = chip_pass(k, inputs, True)
        value, grad = lp.loss_and_gradient(model, k, inputs, labels, acts, objective, plan)
        return value, grad * KNOB_SCALE, len(labels)

    def spsa(x: np.ndarray, inputs: np.ndarray, labels: np.ndarray,
             rng: np.random.Generator) -> tuple[float, np.ndarray, int]:
        delta = rng.choice([-1.0, 1.0], size=x.shape)
        plus, minus = (lp.loss_terms(model, chip_pass(
            np.clip(x + sign * spsa_step * delta, lower, upper) * KNOB_SCALE, inputs,
            False)[0], labels, objective)[0] for sign in (1.0, -1.0))
        return 0.5 * (plus + minus), (plus - minus) / (2 * spsa_step) * delta, 2 * len(labels)

    return {"physics-aware": physics_aware, "spsa": spsa}


def loop_estimator(estimators: dict[str, Estimator], name: str) -> Estimator:
    """``estimators[name]``; ValueError naming the valid ones otherwise."""
    if name not in estimators:
        raise ValueError(f"estimator must be one of {', '.join(estimators)}, got {name!r}")
    return estimators[name]


@single_threaded_blas
def train_in_the_loop(model: LayeredNetwork, chip: LayeredNetwork, data: TwinData,
                      knobs: np.ndarray, *, estimator: str = "physics-aware",
                      epochs: int = 10, batch: int = BATCH, lr: float = TWIN_LEARNING_RATE,
                      seed: int = 0, power_scale: float, spsa_step: float = 0.05,
                      objective: lp.LayeredObjective = lp.DEFAULT_LAYERED_OBJECTIVE,
                      on_epoch: Callable[[Epoch], None] | None = None) -> TwinResult:
    """Train ``knobs`` with ``chip`` (a network standing for the hardware: spread, path
    imbalance) doing every forward pass (``loop_estimators``): physics-aware at the
    chip's chain voltages, or SPSA on the loss of the chip's own activations.
    Accuracies are the chip's."""

    def chip_pass(k: np.ndarray, inputs: np.ndarray, gradient: bool
                  ) -> tuple[list[lp.LayerActivations], lp.Plan | None]:
        measured = lp.forward(chip, k, inputs)
        if not gradient:
            return measured, None
        return lp.activations_from_voltages(model, k, [m.voltages for m in measured]), None

    step = loop_estimator(loop_estimators(model, chip_pass, spsa_step=spsa_step,
                                          objective=objective), estimator)
    return adam_epochs(model, chip, data, knobs, step, epochs=epochs,
                       batch=batch, lr=lr, seed=seed, power_scale=power_scale,
                       on_epoch=on_epoch)
