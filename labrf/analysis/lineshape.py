"""Spin-diode line-shape fit: symmetric plus antisymmetric Lorentzian with an offset.

    V(f) = V0 + [S D^2 + A D (f - f_r)] / ((f - f_r)^2 + D^2)

fitted by non-linear least squares (scipy.optimize.curve_fit), with one-sigma
uncertainties from the covariance matrix.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike
from scipy.optimize import curve_fit


@dataclass(frozen=True)
class SpinDiodeFit:
    """Fitted line: resonance and half-width in Hz, amplitudes and offset in V."""

    resonance: float
    half_width: float
    symmetric: float
    antisymmetric: float
    offset: float
    resonance_err: float
    half_width_err: float
    symmetric_err: float = float("nan")
    antisymmetric_err: float = float("nan")
    offset_err: float = float("nan")

    def as_dict(self) -> dict[str, float]:
        """The fit as plain floats (Hz, V), for run metadata."""
        return {k: float(v) for k, v in self.__dict__.items()}


def spin_diode_line(f: ArrayLike, resonance: float, half_width: float, symmetric: float,
                    antisymmetric: float, offset: float) -> np.ndarray:
    """The spin-diode line shape in V at frequencies ``f`` (Hz)."""
    d = np.asarray(f, dtype=float) - resonance
    w = half_width
    return offset + (symmetric * w**2 + antisymmetric * w * d) / (d**2 + w**2)


def fit_spin_diode(frequency: ArrayLike, voltage: ArrayLike) -> SpinDiodeFit:
    """Fit a spin-diode sweep: ``frequency`` in Hz, ``voltage`` in V."""
    f = np.asarray(frequency, dtype=float)
    v = np.asarray(voltage, dtype=float)
    if f.size < 6 or f.size != v.size:
        raise ValueError(f"need at least 6 points of frequency and voltage, got {f.size} "
                         f"and {v.size}")
    offset = float(np.median(v))
    excursion = np.abs(v - offset)
    # the antisymmetric line's extremes sit at f_r -+ D: start between them
    i_max, i_min = int(np.argmax(v)), int(np.argmin(v))
    f0 = 0.5 * (f[i_max] + f[i_min])
    w0 = max(abs(f[i_max] - f[i_min]) / 2, 3 * abs(f[1] - f[0]))
    a0 = float(v[i_min] - v[i_max]) if f[i_min] > f[i_max] else float(v[i_max] - v[i_min])
    guess = [f0, w0, float(excursion.max()) * 0.1, a0, offset]
    params, cov = curve_fit(spin_diode_line, f, v, p0=guess, maxfev=20000)
    errs = np.sqrt(np.diag(cov))
    return SpinDiodeFit(float(params[0]), abs(float(params[1])), float(params[2]),
                        float(params[3]) * np.sign(params[1]), float(params[4]),
                        float(errs[0]), float(errs[1]), float(errs[2]), float(errs[3]),
                        float(errs[4]))
