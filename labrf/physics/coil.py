"""Electromagnet driven by a bipolar supply: B = c I + B_rem clip(h / w, -1, 1).

The coil current follows a setpoint with the magnet's L/R time constant; the yoke's
remanence is a play operator of half-width w on the current (h is its state), so the
field at zero current is +B_rem after a positive excursion and -B_rem after a negative
one.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike


@dataclass(frozen=True)
class CoilParams:
    """Electromagnet parameters (SI units)."""

    field_per_current: float = 25e-3  #: c, T/A (25 mT/A)
    time_constant: float = 0.2  #: L/R, s
    resistance: float = 1.0  #: winding resistance R, ohm
    remanence: float = 0.2e-3  #: B_rem, T
    hysteresis_width: float = 0.05  #: w, half-width of the remanence loop, A

    @property
    def inductance(self) -> float:
        """L = tau R, in H."""
        return self.time_constant * self.resistance


def current_after(p: CoilParams, start: ArrayLike, target: ArrayLike,
                  elapsed: ArrayLike) -> np.ndarray:
    """Coil current in A, ``elapsed`` s after the supply's setpoint went from a coil
    current ``start`` to ``target`` (first-order L/R response)."""
    elapsed = np.maximum(np.asarray(elapsed, dtype=float), 0.0)
    target = np.asarray(target, dtype=float)
    return target + (np.asarray(start, dtype=float) - target) * np.exp(
        -elapsed / p.time_constant)


def voltage(p: CoilParams, current: ArrayLike, didt: ArrayLike) -> np.ndarray:
    """Voltage across the coil in V: R I + L dI/dt."""
    return p.resistance * np.asarray(current, dtype=float) + p.inductance * np.asarray(didt)


def field(p: CoilParams, current: ArrayLike, remanence_state: ArrayLike) -> np.ndarray:
    """Field at the sample in T for coil ``current`` (A) and remanence play state (A)."""
    rem = np.clip(np.asarray(remanence_state, dtype=float) / p.hysteresis_width, -1.0, 1.0)
    return p.field_per_current * np.asarray(current, dtype=float) + p.remanence * rem
