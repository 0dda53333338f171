"""Spin-diode (ST-FMR) rectification by a magnetic tunnel junction: the synapse.

    V_dc(f) = P * [S D^2 + A D d] / (d^2 + D^2) / (1 + P / P_sat),   d = f - f_r

with D = alpha f_r the half-width (half width at half maximum of the symmetric line).
Tuning: f_r = f_r0 + gamma_B B + gamma_I I. Near the oscillation threshold the line
narrows as (1 - I/I_th) and the sensitivity grows as 1 / (1 - I/I_th).
Sources: Tulapurkar et al., Nature 438, 339 (2005); Sankey et al., PRL 96, 227601 (2006);
Leroux, Mizrahi et al., Phys. Rev. Applied 15, 034067 (2021).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

#: Smallest value of (1 - I/I_th) used near and above threshold, so that the line stays
#: finite where the small-signal theory stops holding.
MIN_CRITICALITY = 0.05


@dataclass(frozen=True)
class SpinDiodeParams:
    """Spin-diode parameters of one junction (SI units)."""

    resonance: float = 250e6  #: f_r at zero field and zero current, Hz
    damping: float = 0.02  #: effective damping alpha; half-width D = alpha f_r
    antisymmetric: float = 20.0  #: antisymmetric sensitivity A, V/W (20 mV/mW)
    symmetric: float = 3.0  #: symmetric sensitivity S, V/W (3 mV/mW)
    saturation_power: float = 30e-6  #: P_sat, W
    field_tuning: float = 0.5e9  #: d f_r / d B, Hz/T (0.5 MHz/mT)
    current_tuning: float = 7e9  #: d f_r / d I, Hz/A (7 MHz/mA)
    threshold_current: float = 4e-3  #: oscillation threshold I_th, A


def criticality(p: SpinDiodeParams, current: ArrayLike) -> np.ndarray:
    """1 - I/I_th, floored at MIN_CRITICALITY (dimensionless)."""
    return np.maximum(1.0 - np.asarray(current, dtype=float) / p.threshold_current,
                      MIN_CRITICALITY)


def resonance_frequency(p: SpinDiodeParams, field: ArrayLike = 0.0,
                        current: ArrayLike = 0.0) -> np.ndarray:
    """Resonance f_r in Hz at out-of-plane field ``field`` (T) and DC current (A)."""
    return (p.resonance + p.field_tuning * np.asarray(field, dtype=float)
            + p.current_tuning * np.asarray(current, dtype=float))


def half_width(p: SpinDiodeParams, field: ArrayLike = 0.0,
               current: ArrayLike = 0.0) -> np.ndarray:
    """Half-width D in Hz: alpha f_r, narrowed by (1 - I/I_th)."""
    return p.damping * resonance_frequency(p, field, current) * criticality(p, current)


def rectified_voltage(p: SpinDiodeParams, frequency: ArrayLike, power: ArrayLike,
                      field: ArrayLike = 0.0, current: ArrayLike = 0.0,
                      total_power: ArrayLike | None = None) -> np.ndarray:
    """DC voltage in V rectified from RF power ``power`` (W at the junction) at
    ``frequency`` (Hz), with the junction at ``field`` (T) and DC ``current`` (A).

    Saturation follows ``total_power`` (W), the power of every tone reaching the
    junction; by default the tone's own power."""
    f = np.asarray(frequency, dtype=float)
    power = np.asarray(power, dtype=float)
    f_r = resonance_frequency(p, field, current)
    crit = criticality(p, current)
    width = p.damping * f_r * crit
    detuning = f - f_r
    shape = (p.symmetric * width**2 + p.antisymmetric * width * detuning) / (
        detuning**2 + width**2)
    total = power if total_power is None else np.asarray(total_power, dtype=float)
    return power * shape / crit / (1.0 + total / p.saturation_power)
