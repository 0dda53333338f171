"""Fits over series of spin-diode lines: the dispersion f_r(B) of a field map and the
linearity and saturation of a power map."""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike
from scipy.optimize import curve_fit

from labrf.analysis.lineshape import fit_spin_diode
from labrf.errors import LabrfError


def fit_lines(outer: ArrayLike, frequency: ArrayLike, voltage: ArrayLike,
              key: str = "field") -> list[dict[str, float]]:
    """Fit the line of each value of ``outer`` (a field in T, a power in W...): one dict
    per line with ``key`` and the line's fit (Hz, V)."""
    outer, f, v = (np.asarray(a, dtype=float) for a in (outer, frequency, voltage))
    lines = []
    for value in np.unique(outer):
        sel = outer == value
        lines.append({key: float(value), **fit_spin_diode(f[sel], v[sel]).as_dict()})
    return lines


def fit_dispersion(lines: list[dict[str, float]], key: str = "field") -> dict[str, float]:
    """Weighted linear fit of resonance against ``key``: slope (Hz per unit of key),
    intercept (Hz), their one-sigma errors."""
    if len(lines) < 2:
        raise LabrfError(f"a dispersion needs at least two lines, got {len(lines)}")
    x = np.array([ln[key] for ln in lines])
    y = np.array([ln["resonance"] for ln in lines])
    err = np.array([ln["resonance_err"] for ln in lines])
    sigma = np.where(np.isfinite(err) & (err > 0), err, np.nanmax(np.abs(y)) * 1e-6)
    (slope, intercept), cov = np.polyfit(x, y, 1, w=1 / sigma, cov="unscaled") \
        if len(lines) > 2 else (np.polyfit(x, y, 1), np.full((2, 2), np.nan))
    return {"slope": float(slope), "slope_err": float(np.sqrt(cov[0, 0])),
            "intercept": float(intercept), "intercept_err": float(np.sqrt(cov[1, 1]))}


def _saturating(p: np.ndarray, k: float, p_sat: float) -> np.ndarray:
    return k * p / (1 + p / p_sat)


def fit_linearity(lines: list[dict[str, Any]], key: str = "power_w") -> dict[str, float]:
    """Amplitude of the antisymmetric line against RF power (W): V = k P / (1 + P/P_sat)
    fitted for k (V/W) and P_sat (W); the R^2 of a straight line through the points below
    P_sat / 10 (linearity), and the ratio of the amplitude at the highest power to the
    straight line's (bending, 1 if linear)."""
    p = np.array([ln[key] for ln in lines])
    a = np.abs(np.array([ln["antisymmetric"] for ln in lines]))
    if len(p) < 3:
        raise LabrfError(f"a linearity fit needs at least three powers, got {len(p)}")
    order = np.argsort(p)
    p, a = p[order], a[order]
    k0 = a[0] / p[0]
    (k, p_sat), cov = curve_fit(_saturating, p, a, p0=[k0, p[-1]], maxfev=20000)
    low = p <= p_sat / 10
    if low.sum() >= 3:
        slope, intercept = np.polyfit(p[low], a[low], 1)
        residual = a[low] - (slope * p[low] + intercept)
        r2 = 1 - float(np.sum(residual**2) / np.sum((a[low] - a[low].mean()) ** 2))
    else:
        slope, r2 = k, float("nan")
    errs = np.sqrt(np.diag(cov))
    return {"sensitivity": float(k), "sensitivity_err": float(errs[0]),
            "saturation_power": float(p_sat), "saturation_power_err": float(errs[1]),
            "linear_r2_below_psat": r2, "linear_points": int(low.sum()),
            "bending_at_max_power": float(a[-1] / (slope * p[-1]))}
