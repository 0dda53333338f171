"""Reading quantities typed by people ("250 MHz", "-10 dBm", "20 mT") into SI floats.

Conversion happens once, at the edge (YAML, CLI); inside labrf everything is SI.
"""

from __future__ import annotations

import math
import re
from functools import cache
from typing import Any

from labrf.errors import UnitError

_LOG_UNIT = re.compile(r"^\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*(dBm|dB)\s*$")


@cache
def _registry() -> Any:
    import pint

    return pint.UnitRegistry()


def dbm_to_watt(dbm: float) -> float:
    """Power in dBm to watts."""
    return 1e-3 * 10.0 ** (dbm / 10.0)


def watt_to_dbm(watt: float) -> float:
    """Power in watts to dBm (-inf for zero power)."""
    return 10.0 * math.log10(watt / 1e-3) if watt > 0 else -math.inf


def db_to_ratio(db: float) -> float:
    """A power gain in dB to a linear power ratio."""
    return 10.0 ** (db / 10.0)


def to_si(value: Any, unit: str) -> float:
    """Convert ``value`` to a float in the SI unit ``unit``.

    ``value`` may be a number (taken as already in ``unit``) or a string with a unit
    ("250 MHz", "0.5 MHz/mT", "-10 dBm", "30 dB", "2 %"). ``unit`` is a pint unit
    expression ("Hz", "T/A", "Hz/T"), or "W" (which also accepts dBm), "ratio" (accepts
    dB and %), or "dB" (a plain number of decibels).
    """
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
