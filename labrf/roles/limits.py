"""Hard limits of the device under test, and how a station file may narrow them.

The hard limits keep the lab's default junction (breakdown 0.8 V, at most 150 ohm in its
antiparallel state, ../shared/docs/physics.md) below breakdown with every knob at its
limit at once: 0.6 V of DC compliance plus the 0.17 V RF peak of -10 dBm across 150 ohm
is 0.77 V. A station file may narrow any of them, for a more fragile device, and is
refused if it tries to widen one. Nothing in labrf can raise them.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from labrf.errors import ConfigError, LabrfError
from labrf.units import format_quantity, to_si


@dataclass(frozen=True)
class Limits:
    """Limits a role enforces before anything reaches an instrument (SI units)."""

    junction_current: float = 6e-3  #: A, |current| a source may push through a junction
    junction_voltage: float = 0.6  #: V, DC compliance across a junction
    rf_power_at_device: float = 1e-4  #: W (-10 dBm), RF power reaching a junction
    field: float = 0.3  #: T, |field| at the device
    field_ramp_rate: float = 0.02  #: T/s, fastest field change
    current_ramp_rate: float = 0.01  #: A/s, fastest change of a junction current

    def as_dict(self) -> dict[str, str]:
        """The limits as readable quantities (for snapshots and tables)."""
        return {f.name: format_quantity(getattr(self, f.name), UNITS[f.name])
                for f in dataclasses.fields(self)}


UNITS = {"junction_current": "A", "junction_voltage": "V", "rf_power_at_device": "W",
         "field": "T", "field_ramp_rate": "T/s", "current_ramp_rate": "A/s"}

HARD_LIMITS = Limits()


def narrow(base: Limits, section: Any, *, file: str | None = None,
           key: str = "labrf.limits") -> Limits:
    """``base`` narrowed by a station file's limits mapping (values may carry units).

    ConfigError names the key when a name is unknown, a value unreadable or not positive,
    or when it would widen ``base``.
    """
    if section is None:
        return base
    if isinstance(section, Limits):
        section = dataclasses.asdict(section)
    if not isinstance(section, dict):
        raise ConfigError(f"must be a mapping of limits ({', '.join(UNITS)}), got "
                          f"{type(section).__name__}", file=file, key=key)
    changes: dict[str, float] = {}
    for name, raw in section.items():
        where = f"{key}.{name}"
        if name not in UNITS:
            raise ConfigError(f"unknown limit; valid: {', '.join(UNITS)}", file=file, key=where)
        try:
            value = to_si(raw, UNITS[name])
        except LabrfError as exc:
            raise ConfigError(str(exc), file=file, key=where) from None
        if not value > 0:
            raise ConfigError(f"must be positive, got {raw!r}", file=file, key=where)
        ceiling = getattr(base, name)
        if value > ceiling * (1 + 1e-9):
            raise ConfigError(
                f"{format_quantity(value, UNITS[name])} would widen the limit of "
                f"{format_quantity(ceiling, UNITS[name])}; a station may only narrow a "
                f"limit (valid: up to {format_quantity(ceiling, UNITS[name])})",
                file=file, key=where)
        changes[name] = min(value, ceiling)
    return dataclasses.replace(base, **changes)
