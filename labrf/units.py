"""Reading quantities typed by people ("250 MHz", "-10 dBm", "20 mT") into SI floats.

Conversion happens once, at the edge (YAML, CLI); inside labrf everything is SI.
"""

from __future__ import annotations

import math
import re
from functools import cache
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from labrf.errors import UnitError

_LOG_UNIT = re.compile(r"^\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*(dBm|dB)\s*$")


@cache
def _registry() -> Any:
    import pint

    return pint.UnitRegistry()


def dbm_to_watt(dbm: ArrayLike) -> Any:
    """Power in dBm to watts (scalars or arrays)."""
    return 1e-3 * db_to_ratio(dbm)


def watt_to_dbm(watt: ArrayLike) -> Any:
    """Power in watts to dBm (scalars or arrays; -inf for zero power)."""
    with np.errstate(divide="ignore"):
        return 10.0 * np.log10(np.asarray(watt, dtype=float) / 1e-3)


def db_to_ratio(db: ArrayLike) -> Any:
    """A power gain in dB to a linear power ratio (scalars or arrays)."""
    return 10.0 ** (np.asarray(db, dtype=float) / 10.0)


def to_si(value: Any, unit: str) -> float:
    """Convert ``value`` to a float in the SI unit ``unit``.

    ``value`` may be a number (taken as already in ``unit``) or a string with a unit
    ("250 MHz", "0.5 MHz/mT", "-10 dBm", "30 dB", "2 %"). ``unit`` is a pint unit
    expression ("Hz", "T/A", "Hz/T"), or "W" (which also accepts dBm), "ratio" (accepts
    dB and %), or "dB" (a plain number of decibels). NaN and infinities are refused.
    """
    number = _to_si(value, unit)
    if not math.isfinite(number):
        raise UnitError(f"{value!r} is not a finite quantity in {unit}")
    return number


def _to_si(value: Any, unit: str) -> float:
    if isinstance(value, bool):
        raise UnitError(f"expected a quantity in {unit}, got the boolean {value!r}")
    if isinstance(value, int | float):
        return float(value)
    if not isinstance(value, str):
        raise UnitError(f"expected a quantity in {unit}, got {value!r}")
    text = value.strip()
    log = _LOG_UNIT.match(text)
    if log:
        number, log_unit = float(log.group(1)), log.group(2)
        if log_unit == "dBm" and unit == "W":
            return dbm_to_watt(number)
        if log_unit == "dB" and unit == "ratio":
            return db_to_ratio(number)
        if log_unit == "dB" and unit == "dB":
            return number
        raise UnitError(f"'{value}' is in {log_unit}, expected a quantity in {unit}")
    if unit == "dB":
        raise UnitError(f"'{value}' is not in dB (expected e.g. '30 dB')")
    if unit == "ratio" and text.endswith("%"):
        try:
            return float(text[:-1]) / 100.0
        except ValueError as exc:
            raise UnitError(f"'{value}' is not a percentage") from exc
    ureg = _registry()
    target = "dimensionless" if unit == "ratio" else unit
    try:
        quantity = ureg.Quantity(text)
        return float(quantity.to(target).magnitude)
    except Exception as exc:  # pint raises several unrelated types
        raise UnitError(f"'{value}' cannot be read as a quantity in {unit}: {exc}") from exc


def to_base(value: Any) -> float:
    """A number, or a quantity string in any unit ("200 MHz", "80 ohm", "20 mV/mW"), as
    a float in SI base units; UnitError if it is neither (or not finite)."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise UnitError(f"{value!r} is not a number or a quantity such as '200 MHz'")
    if isinstance(value, str):
        try:
            value = _registry().Quantity(value.strip()).to_base_units().magnitude
        except Exception as exc:  # pint raises several unrelated types
            raise UnitError(f"{value!r} is not a number or a quantity such as '200 MHz' "
                            f"({exc})") from None
    number = float(value)
    if not math.isfinite(number):
        raise UnitError(f"{value!r} is not finite")
    return number


_PREFIXES = ((1e9, "G"), (1e6, "M"), (1e3, "k"), (1.0, ""), (1e-3, "m"), (1e-6, "u"),
             (1e-9, "n"))


def format_quantity(value: float, unit: str) -> str:
    """``value`` (SI) as people read it: ``0.006, "A"`` -> ``"6 mA"``; watts also in dBm."""
    if unit == "W" and value > 0:
        return f"{float(watt_to_dbm(value)):.4g} dBm"
    if unit in ("dBm", "dB", ""):
        return f"{value:.4g} {unit}".rstrip()
    magnitude = abs(value)
    for scale, prefix in _PREFIXES:
        if magnitude >= scale or scale == 1e-9:
            if magnitude == 0:
                scale, prefix = 1.0, ""
            return f"{value / scale:.4g} {prefix}{unit}"
    return f"{value:g} {unit}"
