"""Training of the network's knobs: projected Adam on the ``Objective``, and accuracy.

``train`` refines given knobs (one setting or a population, trained independently and at
once) with full-batch projected Adam; the knobs move in units of ``KNOB_SCALE`` (1 mA) and
are clipped back into their limits after every step. Given a ``bench`` (a ``Network``
standing in for the hardware, whose chain voltages are "measured"), it runs physics-aware
training instead: forward pass on the bench, backward pass through the model at the
measured activations.

``train_task`` is offline training from scratch: the loss landscape is rugged, so it
starts from the global search of ``search.search_knobs`` rather than from random knobs.
Everything is deterministic: same network, data and settings, same result.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from labrf.network.forward import (
    DEFAULT_OBJECTIVE,
    Objective,
    forward,
    gradient_at_measured,
    loss,
    loss_and_gradient,
    predict,
)
from labrf.network.params import Knobs, Network, lower_bounds, upper_bounds
from labrf.network.search import search_knobs
from labrf.network.tasks import Task

#: Unit in which the optimizer moves the knobs, A.
KNOB_SCALE = 1e-3
#: Default Adam step, in units of KNOB_SCALE.
LEARNING_RATE = 0.02
#: Defaults of ``train_task``: starting points from the global search, Adam steps for each,
#: training examples the search looks at.
CANDIDATES = 8
REFINE_STEPS = 400
SEARCH_EXAMPLES = 200


@dataclass(frozen=True)
class TrainResult:
    """Outcome of ``train``."""

    knobs: Knobs  #: final knobs, A
    losses: np.ndarray  #: (steps, ...) training loss before each step
    train_accuracy: float | np.ndarray  #: fraction correct on the training set, at the end


def accuracy(network: Network, knobs: Knobs, inputs: ArrayLike, labels: ArrayLike
             ) -> float | np.ndarray:
    """Fraction of examples whose class (does NO emit?) matches ``labels`` (one per knob
    setting of a population)."""
    act = forward(network, knobs, inputs)
    acc = np.mean(predict(network, act) == np.asarray(labels, dtype=bool), axis=-1)
    return float(acc) if acc.ndim == 0 else acc


def adam(grad: Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]], x0: np.ndarray,
         steps: int, lr: float, lower: np.ndarray, upper: np.ndarray, beta1: float = 0.9,
         beta2: float = 0.999, eps: float = 1e-8) -> tuple[np.ndarray, np.ndarray]:
    """Projected Adam: minimize from ``x0`` (..., n) with ``grad(x) -> (loss (...),
    gradient (..., n))``, clipping x into [lower, upper] after each step; leading axes are
    independent problems. Returns the final x and the loss history (steps, ...)."""
    x = np.array(x0, dtype=float)
    m = np.zeros_like(x)
    v = np.zeros_like(x)
    history = np.empty((steps, *x.shape[:-1]))
    for t in range(1, steps + 1):
        value, g = grad(x)
        history[t - 1] = value
        x, m, v = adam_step(x, g, m, v, t, lr, lower, upper, beta1, beta2, eps)
    return x, history


def adam_step(x: np.ndarray, g: np.ndarray, m: np.ndarray, v: np.ndarray, t: int,
              lr: float, lower: np.ndarray, upper: np.ndarray, beta1: float = 0.9,
              beta2: float = 0.999, eps: float = 1e-8
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Step ``t`` (from 1) of projected Adam: x moved against gradient ``g`` by about
    ``lr`` per coordinate and clipped into [lower, upper]; returns x and the updated
    moments m, v."""
    m = beta1 * m + (1 - beta1) * g
    v = beta2 * v + (1 - beta2) * g * g
    step = lr * (m / (1 - beta1**t)) / (np.sqrt(v / (1 - beta2**t)) + eps)
    return np.clip(x - step, lower, upper), m, v


def train(network: Network, inputs: ArrayLike, labels: ArrayLike, knobs: Knobs,
          steps: int = 600, lr: float = LEARNING_RATE,
          objective: Objective = DEFAULT_OBJECTIVE, bench: Network | None = None
          ) -> TrainResult:
    """Train ``knobs`` (one setting, or a population trained independently) on
    (``inputs`` (N, 2) W, ``labels`` (N,)) with full-batch projected Adam, ``lr`` in units
    of KNOB_SCALE per step.

    With ``bench`` given, each step's forward pass runs on ``bench`` and the gradient is
    taken through ``network`` at the bench's chain voltages (physics-aware training)."""
    x_in = np.asarray(inputs, dtype=float)
    y = np.asarray(labels, dtype=bool)

    def grad(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        k = Knobs.from_vector(x * KNOB_SCALE)
        g = (loss_and_gradient(network, k, x_in, y, objective=objective) if bench is None
             else gradient_at_measured(network, k, x_in, y,
                                       forward(bench, k, x_in).chain_voltages, objective))
        return np.asarray(g.loss), g.vector() * KNOB_SCALE

    x, history = adam(grad, knobs.vector() / KNOB_SCALE, steps, lr,
                      lower_bounds() / KNOB_SCALE, upper_bounds() / KNOB_SCALE)
    final = Knobs.from_vector(x * KNOB_SCALE)
    return TrainResult(final, history, accuracy(bench or network, final, x_in, y))


def train_task(network: Network, task: Task, candidates: int = CANDIDATES,
               steps: int = REFINE_STEPS, search_examples: int = SEARCH_EXAMPLES,
               lr: float = LEARNING_RATE, objective: Objective = DEFAULT_OBJECTIVE
               ) -> TrainResult:
    """Offline training on ``task``: a global search for ``candidates`` starting knobs
    (``search.search_knobs`` on the first ``search_examples`` training examples), each
    refined by ``steps`` of projected Adam on the whole training set; the result is the
    refined setting of highest training accuracy (ties: lowest loss). Deterministic."""
    x, y = task.train_inputs, task.train_labels
    starts, _ = search_knobs(network, x[:search_examples], y[:search_examples], candidates,
                             drive_limit=objective.drive_limit)
    result = train(network, x, y, starts, steps, lr, objective)
    final = loss(network, forward(network, result.knobs, x), y, objective)
    best = int(np.lexsort((final, -result.train_accuracy))[0])
    return TrainResult(result.knobs[best], result.losses[:, best],
                       float(result.train_accuracy[best]))
