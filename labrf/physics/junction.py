"""Junction resistance (with TMR and a hysteretic free layer) and barrier breakdown.

R = R_P + (R_AP - R_P)(1 - m)/2 with m = tanh(h / w) and h a play operator of half-width
B_sw on the field: the free layer switches near +-B_sw. Past its breakdown voltage an MgO
barrier becomes a short (``shorted_resistance``) and stays broken; the voltage it sees
is |I| R from DC plus the RF amplitude sqrt(2 P R).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike


@dataclass(frozen=True)
class JunctionParams:
    """Electrical parameters of one MTJ (SI units)."""

    resistance: float = 100.0  #: R_P, parallel-state resistance, ohm
    tmr: float = 0.5  #: (R_AP - R_P) / R_P
    switching_field: float = 30e-3  #: B_sw, free-layer switching field, T
    switching_width: float = 2e-3  #: w, width of the switching step, T
    breakdown_voltage: float = 0.8  #: V_bd, V
    shorted_resistance: float = 5.0  #: resistance after breakdown, ohm


def free_layer(p: JunctionParams, state: ArrayLike) -> np.ndarray:
    """Free-layer alignment m in [-1, 1] (+1 parallel) from the play state h (T)."""
    return np.tanh(np.asarray(state, dtype=float) / p.switching_width)


def resistance(p: JunctionParams, alignment: ArrayLike, broken: ArrayLike = False
               ) -> np.ndarray:
    """Junction resistance in ohm for free-layer alignment m, or the short if broken."""
    intact = p.resistance * (1.0 + p.tmr * (1.0 - np.asarray(alignment, dtype=float)) / 2.0)
    return np.where(broken, p.shorted_resistance, intact)


def peak_voltage(r: ArrayLike, current: ArrayLike, rf_power: ArrayLike) -> np.ndarray:
    """Peak voltage in V across a junction of resistance ``r`` (ohm) carrying DC
    ``current`` (A) and absorbing RF ``rf_power`` (W)."""
    r = np.asarray(r, dtype=float)
    return (np.abs(np.asarray(current, dtype=float)) * r
            + np.sqrt(2.0 * np.maximum(np.asarray(rf_power, dtype=float), 0.0) * r))
