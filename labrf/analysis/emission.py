"""Emission of a spin-torque nano-oscillator: its line in one spectrum, and its threshold
and frequency tunability over a bias sweep.

One spectrum (:func:`fit_line`): a Lorentzian plus a flat floor, fitted in linear units
(W) to the analyzer trace,

    S(f) = floor + A w^2 / ((f - f0)^2 + w^2),

gives the centre ``f0`` and the line power: the trace above the floor integrated over the
span, plus the fitted Lorentzian's tails beyond it, divided by the noise bandwidth of the
analyzer's resolution filter (``noise_bandwidth_ratio * RBW``). A line of power P seen
through a single-pole (Lorentzian) RBW filter, as the simulated FSV models it, is a
Lorentzian of half-width ``gamma + RBW/2``, so the linewidth (FWHM) is ``2 w - RBW``.

Bias sweep (:func:`fit_emission`): ``phi(v) = max(0, a + b v)`` fitted to the line power
against the bias current (threshold ``-a/b``), and a straight line through the peak
frequency above threshold (tunability in Hz/A, frequency at threshold). Just above
threshold the emitted power ``(z - 1)/(z + Q)`` is nearly linear; its curvature biases the
threshold low by about 1 % for a sweep to 1.5 I_th, which the quoted (statistical)
uncertainty does not include.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike
from scipy.optimize import curve_fit

from labrf.errors import LabrfError
from labrf.physics.oscillator import normalized_power
from labrf.units import dbm_to_watt

#: noise bandwidth / RBW of a single-pole (Lorentzian) filter, as the simulated FSV has;
#: a real analyzer's Gaussian RBW filter has about 1.065
LORENTZIAN_NOISE_BANDWIDTH = math.pi / 2
MIN_SNR_DB = 10.0  #: a line's peak must stand this far above the median floor (dB)


@dataclass(frozen=True)
class LineFit:
    """One spectrum's emission line (SI units); NaN where no line was found."""

    detected: bool
    integrated_power: float  #: W, line power (0 when no line was found)
    peak_frequency: float  #: Hz, fitted line centre
    linewidth: float  #: Hz, FWHM of the line with the RBW removed
    floor: float  #: W per RBW, the noise floor under the line
    snr_db: float  #: dB, trace maximum over the median floor


def lorentzian(f: ArrayLike, center: float, half_width: float, amplitude: float,
               floor: float) -> np.ndarray:
    """``floor + amplitude w^2 / ((f - center)^2 + w^2)`` at ``f`` (Hz); W."""
    d = np.asarray(f, dtype=float) - center
    return floor + amplitude * half_width**2 / (d**2 + half_width**2)


def fit_line(frequency: ArrayLike, power_dbm: ArrayLike, rbw: float, *,
             noise_bandwidth_ratio: float = LORENTZIAN_NOISE_BANDWIDTH,
             min_snr_db: float = MIN_SNR_DB) -> LineFit:
    """The emission line in one trace: ``frequency`` in Hz, ``power_dbm`` in dBm per RBW,
    ``rbw`` the resolution bandwidth in Hz.

    The trace should sample the RBW filter (points no farther apart than RBW / 2;
    RBW / 4 or closer for a peak detector). No line (maximum less than ``min_snr_db``
    above the median) gives power 0 and NaN frequency and width.
    """
    f = np.asarray(frequency, dtype=float)
    p = np.asarray(dbm_to_watt(np.asarray(power_dbm, dtype=float)), dtype=float)
    if f.size < 8 or f.size != p.size:
        raise LabrfError(f"a spectrum needs at least 8 points of frequency and power, got "
                         f"{f.size} and {p.size}")
    if not rbw > 0:
        raise LabrfError(f"rbw must be positive (Hz), got {rbw!r}")
    median = float(np.median(p))
    k = int(np.argmax(p))
    snr_db = 10 * math.log10(p[k] / median) if median > 0 else math.inf
    if snr_db < min_snr_db:
        return LineFit(False, 0.0, math.nan, math.nan, float(np.mean(p)), snr_db)
    step = float(np.median(np.diff(f)))
    above = np.flatnonzero(p > (p[k] + median) / 2)
    w0 = max((f[above.max()] - f[above.min()] + step) / 2, step)
    floor0 = float(np.percentile(p, 5))
    guess = [f[k], w0, p[k] - floor0, floor0]
    scale = p[k]
    try:
        params, _ = curve_fit(lambda x, c, w, a, b: lorentzian(x, c, w, a, b) / scale, f,
                              p / scale, p0=guess, maxfev=5000)
    except (RuntimeError, ValueError) as exc:
        raise LabrfError(f"the Lorentzian fit of the line at {f[k]:.6g} Hz failed: "
                         f"{exc}") from None
    center, w, amplitude, floor = (float(v) for v in params)
    w = abs(w)
    excess = np.trapezoid(p - floor, f)
    tails = amplitude * w * (math.pi - math.atan((f[-1] - center) / w)
                             - math.atan((center - f[0]) / w))
    power = (excess + tails) / (noise_bandwidth_ratio * rbw)
    width = 2 * w - rbw
    return LineFit(True, float(power), center, width if width > 0 else math.nan, floor,
                   snr_db)


def phi(v: ArrayLike, a: float, b: float) -> np.ndarray:
    """The rectified linear emission curve ``max(0, a + b v)``."""
    return np.maximum(0.0, a + b * np.asarray(v, dtype=float))


@dataclass(frozen=True)
class EmissionFit:
    """Threshold and tunability of an oscillator (SI units; errors are one sigma)."""

    threshold_current: float  #: A, -a/b
    threshold_current_err: float
    phi_a: float  #: W, intercept of phi(v) = max(0, a + b v)
    phi_a_err: float
    phi_b: float  #: W/A, slope of phi
    phi_b_err: float
    tunability: float  #: Hz/A, d f_peak / d I above threshold
    tunability_err: float
    frequency_at_threshold: float  #: Hz, the tunability line at the threshold
    frequency_at_threshold_err: float
    points_above_threshold: int  #: points with a line

    def as_dict(self) -> dict[str, Any]:
        """Plain floats (and the point count) for JSON."""
        return asdict(self)


def _line(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Slope, intercept and their covariance (scaled by the residuals, as curve_fit's)
    of a straight-line least-squares fit."""
    return np.polyfit(x, y, 1, cov=True)


def fit_emission(bias: ArrayLike, integrated_power: ArrayLike,
                 peak_frequency: ArrayLike) -> EmissionFit:
    """Fit threshold and tunability: ``bias`` in A, ``integrated_power`` in W (0 where no
    line was seen), ``peak_frequency`` in Hz (NaN where no line was seen).

    Raises LabrfError when fewer than three points show a line (the threshold is then
    beyond the sweep, or the spectrum does not cover the line).
    """
    v = np.asarray(bias, dtype=float)
    p = np.asarray(integrated_power, dtype=float)
    f = np.asarray(peak_frequency, dtype=float)
    if not v.size == p.size == f.size:
        raise LabrfError(f"bias, integrated_power and peak_frequency differ in length: "
                         f"{v.size}, {p.size}, {f.size}")
    ok = np.isfinite(v) & np.isfinite(p)
    v, p, f = v[ok], p[ok], f[ok]
    lit = (p > 0) & np.isfinite(f)
    n_lit = int(lit.sum())
    if n_lit < 3:
        top = f"{v.max():.4g} A" if v.size else "no bias at all"
        raise LabrfError(f"emission fit: {n_lit} of {v.size} points show a line above the "
                         f"noise floor (need 3); the threshold lies beyond the sweep (largest "
                         f"bias {top}) or the spectrum misses the line")
    # phi in scaled units (bias / max |bias|, power / max power); threshold and slope as
    # the fitted parameters, so that the threshold's uncertainty comes out directly
    vs, ps = float(np.max(np.abs(v))), float(np.max(p))
    x, y = v / vs, p / ps
    (s0, c0), _ = _line(x[lit], y[lit])
    x_th0 = -c0 / s0 if s0 != 0 else float(x[lit].min())
    try:
        (x_th, slope), cov = curve_fit(lambda u, t, s: np.maximum(0.0, s * (u - t)), x, y,
                                       p0=[x_th0, s0], maxfev=5000)
    except (RuntimeError, ValueError) as exc:
        raise LabrfError(f"emission fit: phi(v) = max(0, a + b v) did not converge: "
                         f"{exc}") from None
    x_th_err, slope_err = np.sqrt(np.diag(cov))
    cov_ts = cov[0, 1]
    threshold, threshold_err = x_th * vs, x_th_err * vs
    b, b_err = slope * ps / vs, slope_err * ps / vs
    a = -b * threshold  # a = -s t in scaled units
    a_err = ps * math.sqrt(x_th**2 * slope_err**2 + slope**2 * x_th_err**2
                           + 2 * x_th * slope * cov_ts)
    (k, f0), fcov = _line(v[lit], f[lit])
    errs = np.sqrt(np.diag(fcov))
    f_th = k * threshold + f0
    f_th_err = math.sqrt(max(fcov[1, 1] + threshold**2 * fcov[0, 0]
                             + 2 * threshold * fcov[0, 1] + (k * threshold_err)**2, 0.0))
    return EmissionFit(float(threshold), float(threshold_err), float(a), float(a_err),
                       float(b), float(b_err), float(k), float(errs[0]), float(f_th),
                       f_th_err, n_lit)


@dataclass(frozen=True)
class ThresholdFit:
    """Threshold from the auto-oscillator law (SI units; errors are one sigma)."""

    threshold_current: float  #: A
    threshold_current_err: float
    power_scale: float  #: W, P_scale of p(z) = (z - 1)/(z + Q) in the units of the powers
    q: float  #: the Q held fixed


def fit_threshold(bias: ArrayLike, integrated_power: ArrayLike, q: float,
                  first_guess: float) -> ThresholdFit:
    """Threshold of ``P = P_scale (z - 1)/(z + Q)``, z = I / I_th, with Q = ``q`` held
    fixed, fitted to the points of ``bias`` (A) that show a line (``integrated_power`` in
    W, > 0), from ``first_guess`` (A, e.g. phi's threshold). Unlike phi's straight line it
    has no curvature bias; the power's scale (the path's gain) cancels out."""
    v = np.asarray(bias, dtype=float)
    p = np.asarray(integrated_power, dtype=float)
    lit = np.isfinite(v) & np.isfinite(p) & (p > 0)
    if lit.sum() < 3:
        raise LabrfError(f"threshold fit: {int(lit.sum())} points show a line (need 3)")
    v, p = v[lit], p[lit]
    scale = float(np.max(p))

    def law(i: np.ndarray, threshold: float, amplitude: float) -> np.ndarray:
        return amplitude * normalized_power(i / threshold, q)

    z_max = float(v.max()) / first_guess
    a0 = (z_max + q) / max(z_max - 1.0, 1e-3)
    try:
        (threshold, amplitude), cov = curve_fit(law, v, p / scale, p0=[first_guess, a0],
                                                maxfev=5000)
    except (RuntimeError, ValueError) as exc:
        raise LabrfError(f"threshold fit did not converge: {exc}") from None
    return ThresholdFit(float(threshold), float(np.sqrt(cov[0, 0])),
                        float(amplitude * scale), float(q))
