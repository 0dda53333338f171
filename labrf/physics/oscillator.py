"""Spin-torque nano-oscillator emission: the neuron.

Nonlinear auto-oscillator theory (Slavin and Tiberkevich, IEEE Trans. Magn. 45, 1875
(2009)), with z = I / I_th:

    p(z) = (z - 1) / (z + Q)  for z > 1, else 0;    P_emit = P_scale p(z)
    f_osc = f_0 + k_I (I - I_th) + k_B B
    FWHM linewidth = w_th / (1 + p / p_0): hundreds of kHz at threshold, tens well above.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike


@dataclass(frozen=True)
class OscillatorParams:
    """Auto-oscillation parameters of one junction (SI units)."""

    threshold_current: float = 4e-3  #: I_th, A
    q: float = 2.0  #: nonlinear damping coefficient Q (dimensionless)
    power_at_2ith: float = 100e-9  #: emitted power at I = 2 I_th, W
    frequency: float = 300e6  #: f_0, emission frequency at threshold, Hz
    current_tuning: float = 7e9  #: k_I, Hz/A (7 MHz/mA)
    field_tuning: float = 0.5e9  #: k_B, Hz/T
    linewidth_threshold: float = 500e3  #: FWHM at threshold, Hz
    linewidth_p0: float = 0.02  #: normalized power at which the line has narrowed twofold

    @property
    def power_scale(self) -> float:
        """P_scale in W, such that P_emit(2 I_th) = power_at_2ith."""
        return self.power_at_2ith * (2.0 + self.q)


def normalized_power(z: ArrayLike, q: float) -> np.ndarray:
    """p(z) = (z - 1)/(z + Q) above threshold (z > 1), 0 below."""
    z = np.asarray(z, dtype=float)
    return np.where(z > 1.0, (z - 1.0) / (z + q), 0.0)


def emitted_power(p: OscillatorParams, current: ArrayLike) -> np.ndarray:
    """Emitted RF power in W at DC ``current`` (A)."""
    return p.power_scale * normalized_power(np.asarray(current, dtype=float)
                                            / p.threshold_current, p.q)


def emitted_power_slope(p: OscillatorParams, current: ArrayLike) -> np.ndarray:
    """dP_emit/dI in W/A at DC ``current`` (A); 0 at and below threshold."""
    z = np.asarray(current, dtype=float) / p.threshold_current
    return np.where(z > 1.0, p.power_scale * (1.0 + p.q) / (z + p.q) ** 2
                    / p.threshold_current, 0.0)


def onset_current(p: OscillatorParams, detection_power: float) -> np.ndarray:
    """Drive current (A) at which the emitted power reaches ``detection_power`` (W): the
    current above which the oscillator counts as emitting (inf where it never does)."""
    x = np.asarray(detection_power / np.asarray(p.power_scale, dtype=float))
    inside = x < 1.0
    safe = np.where(inside, x, 0.0)
    return np.where(inside, p.threshold_current * (1.0 + p.q * safe) / (1.0 - safe), np.inf)


def frequency(p: OscillatorParams, current: ArrayLike, field: ArrayLike = 0.0) -> np.ndarray:
    """Emission frequency in Hz at ``current`` (A) and ``field`` (T)."""
    return (p.frequency + p.current_tuning * (np.asarray(current, dtype=float)
                                              - p.threshold_current)
            + p.field_tuning * np.asarray(field, dtype=float))


def linewidth(p: OscillatorParams, current: ArrayLike) -> np.ndarray:
    """Full width at half maximum of the emission line in Hz."""
    pn = normalized_power(np.asarray(current, dtype=float) / p.threshold_current, p.q)
    return p.linewidth_threshold / (1.0 + pn / p.linewidth_p0)


def line_in_rbw(freqs: ArrayLike, power: ArrayLike, center: ArrayLike, fwhm: ArrayLike,
                rbw: float) -> np.ndarray:
    """Power in W that an analyzer of resolution bandwidth ``rbw`` (Hz) reads at
    ``freqs`` (Hz) from a Lorentzian line of total ``power`` (W), ``center`` and ``fwhm``.

    The RBW filter is modelled as a Lorentzian of the same 3 dB width, so the reading is
    the exact convolution: a Lorentzian of half-width gamma + rho, peak P rho/(gamma + rho),
    which tends to P for rbw >> fwhm and to the line's density times the filter's noise
    bandwidth for rbw << fwhm. Broadcasts ``power``, ``center``, ``fwhm`` over lines.
    """
    f = np.asarray(freqs, dtype=float)[..., None]
    power = np.atleast_1d(np.asarray(power, dtype=float))
    gamma = np.atleast_1d(np.asarray(fwhm, dtype=float)) / 2.0
    rho = rbw / 2.0
    width = gamma + rho
    detuning = f - np.atleast_1d(np.asarray(center, dtype=float))
    return np.sum(power * rho * width / (detuning**2 + width**2), axis=-1)
