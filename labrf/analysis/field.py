"""Field-coil calibration: the gaussmeter's field against the supply current.

A straight line ``B = c I + B0`` is fitted to each branch of an up-and-down current sweep
and to both together (least squares, one-sigma errors from the covariance).
The joint fit is the calibration: :func:`apply_calibration` hands its ``c`` (T/A) and
``B0`` (T) to ``FieldCoil.set_calibration``, and from then on the coil's ``field`` is set
through it. The hysteresis is half the difference between the branches' offsets,
``(B0_down - B0_up) / 2`` (positive when the field lags the current, as remanence does).
A remanence that flips close to zero current hardly moves the offsets of lines fitted
over the whole sweep; the remanence, half the difference between the branches' fields at
zero current (interpolated between the two points nearest it), shows it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any, Protocol

import numpy as np
from numpy.typing import ArrayLike

from labrf.errors import LabrfError

UP, DOWN = 1, -1  #: branch labels: current increasing, decreasing


@dataclass(frozen=True)
class FieldFit:
    """Calibration of a field coil (T/A, T; errors are one sigma)."""

    field_per_current: float  #: c of both branches together, T/A
    field_per_current_err: float
    field_offset: float  #: B0 of both branches together, T
    field_offset_err: float
    field_per_current_up: float
    field_per_current_up_err: float
    field_offset_up: float
    field_offset_up_err: float
    field_per_current_down: float
    field_per_current_down_err: float
    field_offset_down: float
    field_offset_down_err: float
    hysteresis: float  #: T, (B0_down - B0_up) / 2
    hysteresis_err: float
    field_at_zero_up: float  #: T, the up branch's field at 0 A (interpolated)
    field_at_zero_down: float  #: T, the down branch's field at 0 A (interpolated)
    remanence: float  #: T, (field_at_zero_down - field_at_zero_up) / 2
    residual_rms: float  #: T, of the joint fit
    points: int

    def as_dict(self) -> dict[str, Any]:
        """Plain floats (and the point count) for JSON."""
        return asdict(self)


class Calibratable(Protocol):
    """What :func:`apply_calibration` needs: a FieldCoil's ``set_calibration``."""

    def set_calibration(self, field_per_current: float, field_offset: float = 0.0) -> None:
        ...


def _line(current: np.ndarray, field: np.ndarray) -> tuple[float, float, float, float]:
    """Slope, its error, offset, its error of ``field = slope current + offset``."""
    if current.size < 3 or np.ptp(current) == 0:
        return math.nan, math.nan, math.nan, math.nan
    (slope, offset), cov = np.polyfit(current, field, 1, cov=True)
    slope_err, offset_err = np.sqrt(np.diag(cov))
    return float(slope), float(slope_err), float(offset), float(offset_err)


def _at_zero(current: np.ndarray, field: np.ndarray) -> float:
    """``field`` (T) at zero ``current``, linearly interpolated; NaN unless 0 A lies
    within the currents."""
    if current.size < 2 or not current.min() <= 0.0 <= current.max():
        return math.nan
    order = np.argsort(current)
    return float(np.interp(0.0, current[order], field[order]))


def fit_field_calibration(supply_current: ArrayLike, field: ArrayLike,
                          branch: ArrayLike) -> FieldFit:
    """Fit ``field`` (T, gaussmeter) against ``supply_current`` (A) per ``branch`` (+1 up,
    -1 down) and together. A branch with fewer than three points gives NaN for its line
    and the hysteresis, one that does not reach 0 A NaN for the remanence; LabrfError
    when the points together cannot give a line."""
    i = np.asarray(supply_current, dtype=float)
    b = np.asarray(field, dtype=float)
    s = np.asarray(branch, dtype=float)
    if not i.size == b.size == s.size:
        raise LabrfError(f"supply_current, field and branch differ in length: {i.size}, "
                         f"{b.size}, {s.size}")
    ok = np.isfinite(i) & np.isfinite(b)
    i, b, s = i[ok], b[ok], s[ok]
    c, c_err, b0, b0_err = _line(i, b)
    if not math.isfinite(c):
        raise LabrfError(f"field calibration: {i.size} points over "
                         f"{float(np.ptp(i)) if i.size else 0.0:.4g} A of supply current; "
                         f"a line needs at least 3 points at different currents")
    up = _line(i[s == UP], b[s == UP])
    down = _line(i[s == DOWN], b[s == DOWN])
    hysteresis = (down[2] - up[2]) / 2
    hysteresis_err = math.hypot(down[3], up[3]) / 2
    zero_up = _at_zero(i[s == UP], b[s == UP])
    zero_down = _at_zero(i[s == DOWN], b[s == DOWN])
    rms = float(np.sqrt(np.mean((b - (c * i + b0)) ** 2)))
    return FieldFit(c, c_err, b0, b0_err, *up, *down, hysteresis, hysteresis_err, zero_up,
                    zero_down, (zero_down - zero_up) / 2, rms, int(i.size))


def calibration(fit: FieldFit | Mapping[str, Any]) -> tuple[float, float]:
    """``(field_per_current, field_offset)`` in T/A and T: what FieldCoil.set_calibration
    takes."""
    values = fit.as_dict() if isinstance(fit, FieldFit) else fit
    try:
        c, b0 = float(values["field_per_current"]), float(values["field_offset"])
    except (KeyError, TypeError, ValueError) as exc:
        raise LabrfError(f"not a field calibration fit (needs field_per_current and "
                         f"field_offset): {exc}") from None
    if not (math.isfinite(c) and math.isfinite(b0)) or c == 0:
        raise LabrfError(f"field calibration unusable: field_per_current {c} T/A, "
                         f"field_offset {b0} T")
    return c, b0


def apply_calibration(field_coil: Calibratable, fit: FieldFit | Mapping[str, Any]
                      ) -> tuple[float, float]:
    """Make ``fit`` the calibration ``field_coil`` (a FieldCoil) sets its field by; returns
    the ``(field_per_current, field_offset)`` it was given."""
    c, b0 = calibration(fit)
    field_coil.set_calibration(c, b0)
    return c, b0
