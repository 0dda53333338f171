"""The play (backlash) operator: the simplest rate-independent hysteresis."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike


def play(state: ArrayLike, x: ArrayLike, half_width: ArrayLike) -> np.ndarray:
    """Next output of a play operator of half-width ``half_width`` driven to ``x``.

    The output follows the input with a lag: it stays put while ``x`` moves within
    ``half_width`` of it, and is dragged along otherwise. Exact for monotonic motion of
    ``x`` between two calls, which is how the simulated world uses it.
    """
    x = np.asarray(x, dtype=float)
    w = np.asarray(half_width, dtype=float)
    return np.clip(np.asarray(state, dtype=float), x - w, x + w)
