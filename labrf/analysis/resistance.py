"""Resistance loop R(B) of a magnetic tunnel junction: the two plateaus, the TMR and the
switching fields.

The resistances split into two plateaus at the midpoint between their 5th and 95th
percentiles; each plateau's level is its median (robust to the points caught mid-switch),
with the standard error of a median, ``1.2533 * 1.4826 MAD / sqrt(n)``. The lower
plateau is the parallel state (R_P), the upper the antiparallel one (R_AP): TMR =
(R_AP - R_P) / R_P, positive as in MgO junctions. A branch's switching field is where its
resistance crosses the mid-level (R_P + R_AP) / 2, linearly interpolated between the two
points around the steepest crossing.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from labrf.errors import LabrfError

UP, DOWN = 1, -1  #: branch labels: field increasing, decreasing
MIN_CONTRAST = 10.0  #: plateaus must stand this many standard deviations apart
MIN_TMR = 1e-3  #: and this far apart relative to R_P (a saturating tail is no switch)
MIN_PLATEAU = 2  #: points each plateau needs


@dataclass(frozen=True)
class ResistanceFit:
    """Plateaus (ohm), TMR and switching fields (T) of a resistance loop."""

    resistance_parallel: float  #: ohm, R_P (lower plateau)
    resistance_parallel_err: float
    resistance_antiparallel: float  #: ohm, R_AP (upper plateau)
    resistance_antiparallel_err: float
    tmr: float  #: (R_AP - R_P) / R_P
    tmr_err: float
    switching_field_up: float  #: T, where the field-increasing branch crosses the mid-level
    switching_field_down: float  #: T, the same on the field-decreasing branch
    coercive_field: float  #: T, (up - down) / 2
    loop_shift: float  #: T, (up + down) / 2
    points: int

    def as_dict(self) -> dict[str, Any]:
        """Plain floats (and the point count) for JSON."""
        return asdict(self)


def _level(values: np.ndarray) -> tuple[float, float, float]:
    """Median, its standard error and the robust standard deviation of ``values``."""
    median = float(np.median(values))
    sigma = 1.4826 * float(np.median(np.abs(values - median)))
    return median, 1.2533 * sigma / math.sqrt(values.size), sigma


def switching_field(field: ArrayLike, resistance: ArrayLike, level: float) -> float:
    """Field (T) where ``resistance`` (in sweep order) crosses ``level`` (ohm), linearly
    interpolated at the steepest crossing; NaN if it never crosses."""
    b = np.asarray(field, dtype=float)
    r = np.asarray(resistance, dtype=float) - level
    crossings = np.flatnonzero(np.sign(r[:-1]) * np.sign(r[1:]) < 0)
    exact = np.flatnonzero(r == 0)
    if crossings.size == 0:
        return float(b[exact[0]]) if exact.size else math.nan
    k = int(crossings[np.argmax(np.abs(r[crossings + 1] - r[crossings]))])
    return float(b[k] + (b[k + 1] - b[k]) * (0.0 - r[k]) / (r[k + 1] - r[k]))


def fit_resistance_loop(field: ArrayLike, resistance: ArrayLike, branch: ArrayLike, *,
                        min_tmr: float = MIN_TMR) -> ResistanceFit:
    """Plateaus, TMR and switching fields of a loop: ``field`` in T, ``resistance`` in
    ohm, ``branch`` +1 (field increasing) or -1 (decreasing), points in sweep order.

    Raises LabrfError when the resistance shows no two distinct plateaus, at least
    ``MIN_CONTRAST`` noise deviations and ``min_tmr`` relative to R_P apart (the junction
    did not switch: the field sweep stops short of its switching field).
    """
    b = np.asarray(field, dtype=float)
    r = np.asarray(resistance, dtype=float)
    s = np.asarray(branch, dtype=float)
    if not b.size == r.size == s.size:
        raise LabrfError(f"field, resistance and branch differ in length: {b.size}, "
                         f"{r.size}, {s.size}")
    ok = np.isfinite(b) & np.isfinite(r)
    b, r, s = b[ok], r[ok], s[ok]
    if r.size < 2 * MIN_PLATEAU:
        raise LabrfError(f"resistance loop: {r.size} points; need at least "
                         f"{2 * MIN_PLATEAU}")
    lo, hi = np.percentile(r, [5, 95])
    split = (lo + hi) / 2
    low, high = r[r < split], r[r >= split]
    if low.size < MIN_PLATEAU or high.size < MIN_PLATEAU:
        raise LabrfError(f"resistance loop: no two plateaus ({low.size} points below and "
                         f"{high.size} above {split:.6g} ohm); did the field reach the "
                         f"switching field?")
    r_p, r_p_err, sigma_p = _level(low)
    r_ap, r_ap_err, sigma_ap = _level(high)
    noise = max(sigma_p, sigma_ap, 1e-12 * abs(r_ap))
    if r_ap - r_p < max(MIN_CONTRAST * noise, min_tmr * abs(r_p)):
        raise LabrfError(f"resistance loop: the two levels {r_p:.6g} and {r_ap:.6g} ohm "
                         f"differ by less than {MIN_CONTRAST:g} times the noise "
                         f"({noise:.3g} ohm) or {min_tmr * 100:.3g} % of R_P: the junction did not "
                         f"switch within the sweep")
    tmr = (r_ap - r_p) / r_p
    tmr_err = math.hypot(r_ap_err / r_p, r_ap * r_p_err / r_p**2)
    mid = (r_p + r_ap) / 2
    up = switching_field(b[s == UP], r[s == UP], mid) if np.any(s == UP) else math.nan
    down = switching_field(b[s == DOWN], r[s == DOWN], mid) if np.any(s == DOWN) \
        else math.nan
    return ResistanceFit(r_p, r_p_err, r_ap, r_ap_err, tmr, tmr_err, up, down,
                         (up - down) / 2, (up + down) / 2, int(r.size))
