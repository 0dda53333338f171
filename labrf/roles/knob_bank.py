"""The knob-bank role: every knob of a network chip, as the channels of one multichannel
current source, written and read back as arrays.

The station file lists the knobs' channel groups as a list, in knob order (the chip's:
every control current, then every bias), each with its instrument channels and range; a
group that flows through junctions (``junction: true``, the neurons' biases) is also held
to the ``junction_current`` limit and ramped at the ``current_ramp_rate`` limit::

    init:
      driver: labrf.drivers.scpi.MultichannelCurrentSource
      channels:
        - {group: controls, channels: "1:1184", range: [-5 mA, 5 mA]}        # field lines
        - {group: biases, channels: "1185:1210", range: [0 A, 6 mA], junction: true}

``write(currents)`` checks every knob against its group's range before anything is
sent (LimitError naming the channel, its group and the range), then ramps: the largest
change of a junction channel sets the number of steps, all channels move together.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from labrf.drivers.scpi import MultichannelCurrentSource
from labrf.errors import ConfigError, LabrfError, LimitError
from labrf.roles.base import Binding, Role
from labrf.units import format_quantity, to_si

STEP_TIME = 0.05  #: s between the steps of a ramp
GROUP_KEYS = ("group", "channels", "range", "junction")


def _channel_range(value: Any, channels: int, key: str) -> tuple[int, int]:
    """``"A:B"`` (or one channel) as (A, B), 1-based and inclusive, inside 1..channels."""
    text = str(value).strip()
    first, _, last = text.partition(":")
    try:
        a, b = int(first), int(last or first)
    except ValueError:
        raise ConfigError(f"{value!r} is not a channel range such as '1:1184'",
                          key=key) from None
    if not 1 <= a <= b <= channels:
        raise ConfigError(f"{text}: give increasing channels from 1 to {channels}", key=key)
    return a, b


@dataclass(frozen=True)
class ChannelGroup:
    """Consecutive channels with one range (A)."""

    name: str
    first: int  #: index of its first knob in the knob vector (0-based)
    count: int
    low: float
    high: float
    junction: bool  #: its current flows through junctions
    channel: int = 1  #: the instrument channel of its first knob (1-based)


class KnobBank(Role):
    """A multichannel current source wired to a chip's knobs."""

    role = "knob bank"
    bindings = {
        MultichannelCurrentSource: Binding(
            "labrf MCS-65536 (emulated multichannel current source)", r"^labrf,MCS-",
            {"output": "output_enabled", "set": "set_currents", "setpoints": "currents",
             "measured": "measured_currents", "channels": "channels"},
            {"current": (-10e-3, 10e-3), "channels": (1, 65536)}),
    }

    def __init__(self, name: str, address: str, driver: str | type, *,
                 channels: Any = None, **kwargs: Any) -> None:
        super().__init__(name, address, driver, **kwargs)
        try:
            self.groups = self._groups(channels)
        except BaseException:
            self._close_driver()
            raise
        self.count = sum(g.count for g in self.groups)
        self.low = np.concatenate([np.full(g.count, g.low) for g in self.groups])
        self.high = np.concatenate([np.full(g.count, g.high) for g in self.groups])
        self.junction = np.concatenate([np.full(g.count, g.junction) for g in self.groups])

    def _groups(self, channels: Any) -> list[ChannelGroup]:
        key = f"{self.name}.init.channels"
        if not isinstance(channels, list | tuple) or not channels:
            raise ConfigError("give the channel groups as a list in knob order, e.g. "
                              "- {group: controls, channels: '1:1184', range: [-5 mA, 5 mA]}",
                              key=key)
        i_lo, i_hi = self.range_of("current", (-np.inf, np.inf))
        _, n_max = self.range_of("channels", (1, 65536))
        groups: list[ChannelGroup] = []
        used: set[int] = set()
        for index, spec in enumerate(channels):
            where = f"{key}[{index}]"
            if not isinstance(spec, Mapping):
                raise ConfigError("must be a mapping with group, channels and range",
                                  key=where)
            unknown = [k for k in spec if k not in GROUP_KEYS]
            if unknown:
                raise ConfigError(f"unknown key {unknown[0]!r}; valid: {', '.join(GROUP_KEYS)}",
                                  key=where)
            name = spec.get("group")
            if not isinstance(name, str) or not name:
                raise ConfigError(f"group must name the knobs, got {name!r}",
                                  key=f"{where}.group")
            first, last = _channel_range(spec.get("channels"), int(n_max), f"{where}.channels")
            if used & set(range(first, last + 1)):
                raise ConfigError(f"channels {first}:{last} overlap another group's",
                                  key=f"{where}.channels")
            used |= set(range(first, last + 1))
            bounds = spec.get("range")
            if not isinstance(bounds, list | tuple) or len(bounds) != 2:
                raise ConfigError(f"range must be [low, high], got {bounds!r}",
                                  key=f"{where}.range")
            try:
                low, high = (to_si(b, "A") for b in bounds)
            except LabrfError as exc:
                raise ConfigError(str(exc), key=f"{where}.range") from None
            junction = spec.get("junction", False)
            if not isinstance(junction, bool):
                raise ConfigError(f"junction must be true or false, got {junction!r}",
                                  key=f"{where}.junction")
            ceiling = (-self.limits.junction_current, self.limits.junction_current) \
                if junction else (i_lo, i_hi)
            if not ceiling[0] <= low < high <= ceiling[1]:
                why = "the junction_current limit" if junction else "the model's range"
                raise ConfigError(f"range [{format_quantity(low, 'A')}, "
                                  f"{format_quantity(high, 'A')}] must be increasing and "
                                  f"inside {why}, [{format_quantity(ceiling[0], 'A')}, "
                                  f"{format_quantity(ceiling[1], 'A')}]", key=f"{where}.range")
            knob = sum(g.count for g in groups)
            groups.append(ChannelGroup(name, knob, last - first + 1, low, high, junction,
                                       first))
        return groups

    # ------------------------------------------------------------ checks

    def checked(self, currents: ArrayLike) -> np.ndarray:
        """``currents`` (A, one per channel) if every one is inside its group's range;
        LimitError naming the first that is not, before anything is sent."""
        amps = np.asarray(currents, dtype=float).ravel()
        if amps.size != self.count:
            raise LimitError(f"{self.name}: {amps.size} currents for {self.count} channels "
                             f"({', '.join(f'{g.name} {g.count}' for g in self.groups)})")
        bad = np.flatnonzero(~np.isfinite(amps) | (amps < self.low) | (amps > self.high))
        if bad.size:
            k = int(bad[0])
            group = next(g for g in self.groups if g.first <= k < g.first + g.count)
            raise LimitError(f"{self.name}: channel {group.channel + k - group.first} ("
                             f"{group.name} "
                             f"{k - group.first + 1} of {group.count}) at {float(amps[k])!r} A is "
                             f"outside [{format_quantity(group.low, 'A')}, "
                             f"{format_quantity(group.high, 'A')}]"
                             + (" (the junction_current limit)" if group.junction else "")
                             + f"; {bad.size} channel(s) out of range, nothing was sent")
        return amps

    # ------------------------------------------------------------ writes and reads

    def _read_groups(self, feature: str) -> np.ndarray:
        owner, attr = self._target(feature)
        return np.concatenate([np.asarray(self._query(
            f"reading {feature}", lambda g=g: getattr(owner, attr)(g.count, g.channel)),
            float) for g in self.groups])

    def setpoints(self) -> np.ndarray:
        """The knobs' setpoints, A, read back (in knob order)."""
        return self._read_groups("setpoints")

    def measured(self) -> np.ndarray:
        """The currents flowing out of the knobs' channels, A (0 with the output off)."""
        return self._read_groups("measured")

    def _set(self, currents: np.ndarray) -> None:
        for g in self.groups:
            self.call("set", currents[g.first:g.first + g.count], g.channel)

    def write(self, currents: ArrayLike) -> None:
        """Every channel to ``currents`` (A): checked, then ramped from a fresh readback
        (junction channels at most ``current_ramp_rate``)."""
        target = self.checked(currents)
        if not self.read("output"):
            self._set(target)
            return
        self._ramp(self.setpoints(), target)

    def _ramp(self, start: np.ndarray, target: np.ndarray) -> None:
        change = np.abs(target - start)[self.junction]
        largest = float(change.max()) if change.size else 0.0
        rate = self.limits.current_ramp_rate
        steps = max(1, math.ceil(largest / (rate * STEP_TIME) * (1 - 1e-12)))
        for k in range(1, steps + 1):
            self._set(target if k == steps else start + (target - start) * k / steps)
            if k < steps:
                self.clock.sleep(STEP_TIME)

    def output(self, on: bool | None = None) -> bool | None:
        """Read (no argument) or set the output: on starts every channel from 0 A and
        ramps to the setpoints; off ramps to 0 A first."""
        if on is None:
            return bool(self.read("output"))
        if on and self.read("output"):
            return None
        if on:
            target = self.checked(self.setpoints())
            self._set(np.zeros(self.count))
            self.send("output", True)
            self._ramp(np.zeros(self.count), target)
        else:
            self.to_zero()
            self.send("output", False)
        return None

    def to_zero(self) -> None:
        """Every channel ramped to 0 A (output left as it is)."""
        if self.read("output"):
            self._ramp(self.setpoints(), np.zeros(self.count))
        else:
            self._set(np.zeros(self.count))

    def safe_state(self) -> None:
        """Every channel ramped to 0 A, output off."""
        self.output(False)

    def state_summary(self) -> str:
        on = "on" if self.read("output") else "off"
        amps = self.setpoints()
        return (f"output {on}, {self.count} channels, largest "
                f"{format_quantity(float(np.max(np.abs(amps))), 'A')}")
