"""Clocks: the simulated bench runs on a virtual clock, a real bench on the wall clock.

Drivers, roles and procedures never call ``time.sleep``; they ask the station's clock,
so that a simulated bench can run a two-hour measurement in seconds and still report
the instrument time it would have taken.
"""

from __future__ import annotations

import time
from typing import Protocol


class Clock(Protocol):
    """What labrf needs of a clock: the time in seconds, and a way to let time pass."""

    def now(self) -> float: ...

    def sleep(self, seconds: float) -> None: ...


class VirtualClock:
    """A clock that only moves when told to: ``sleep`` returns at once."""

    def __init__(self, start: float = 0.0) -> None:
        self._now = float(start)

    def now(self) -> float:
        """Current instrument time in s."""
        return self._now

    def sleep(self, seconds: float) -> None:
        """Let ``seconds`` of instrument time pass (no wall time)."""
        if seconds > 0:
            self._now += seconds

    def advance_to(self, t: float) -> None:
        """Move the clock forward to ``t`` in s (never backward)."""
        if t > self._now:
            self._now = t


class WallClock:
    """The wall clock, optionally scaled: with ``scale=10`` ten instrument seconds pass
    per wall second."""

    def __init__(self, scale: float = 1.0) -> None:
        if scale <= 0:
            raise ValueError(f"clock scale must be positive, got {scale}")
        self.scale = scale
        self._origin = time.monotonic()

    def now(self) -> float:
        """Instrument time in s since the clock was made."""
        return (time.monotonic() - self._origin) * self.scale

    def sleep(self, seconds: float) -> None:
        """Wait ``seconds`` of instrument time (``seconds / scale`` of wall time)."""
        if seconds > 0:
            time.sleep(seconds / self.scale)

    def advance_to(self, t: float) -> None:
        """Wait until instrument time ``t``."""
        self.sleep(t - self.now())
