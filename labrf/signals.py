"""Stop signals: SIGINT (Ctrl-C), SIGTERM (a kill, a scheduler) and SIGHUP (a closed
terminal or a dropped SSH connection) all stop a command the same way.

Each raises :class:`StopSignal` (a KeyboardInterrupt naming the signal) in the main
thread, so a run is aborted and its bench made safe. While the bench is being made safe
(:func:`shielded`), a further signal does not cut the ramp-down short: it is reported,
not raised. The command then exits with 128 + the signal's number.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
from collections.abc import Iterator
from types import FrameType
from typing import Any

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
WHY = {signal.SIGINT: "Ctrl-C", signal.SIGTERM: "a termination request",
       signal.SIGHUP: "the terminal or SSH connection closed"}

_shield_depth = 0


class StopSignal(KeyboardInterrupt):
    """A stop signal arrived; ``signum`` is its number."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum

    @property
    def name(self) -> str:
        return signal.Signals(self.signum).name

    def __str__(self) -> str:
        return f"stopped by {self.name} ({WHY.get(self.signum, 'a signal')})"


def describe(exc: KeyboardInterrupt) -> str:
    """What stopped a run, for its status line: the signal's name and why it comes."""
    return str(exc) if isinstance(exc, StopSignal) else str(StopSignal(signal.SIGINT))


def stop_behind(exc: BaseException) -> KeyboardInterrupt | None:
    """The stop signal behind ``exc``, if any: a signal that lands while compiled code
    runs (numba, a C extension) surfaces as that code's error (e.g. SystemError "returned
    a result with an exception set") with the StopSignal as its context."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, KeyboardInterrupt):
            return current
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return None


def signal_name(exc: KeyboardInterrupt) -> str:
    """The stop signal's name ("SIGINT" for a bare KeyboardInterrupt)."""
    return exc.name if isinstance(exc, StopSignal) else "SIGINT"


def exit_code(exc: KeyboardInterrupt) -> int:
    """128 + the signal's number (130 for a bare KeyboardInterrupt: SIGINT)."""
    return 128 + (exc.signum if isinstance(exc, StopSignal) else signal.SIGINT)


def _handler(signum: int, frame: FrameType | None) -> None:
    if signum == signal.SIGHUP:
        _detach_from_terminal()
    if _shield_depth:
        _say(f"labrf: {signal.Signals(signum).name} received while the bench is being "
             f"made safe; finishing that first")
        return
    raise StopSignal(signum)


def _detach_from_terminal() -> None:
    """After a hang-up the terminal is gone: writing to it would fail (EIO), so standard
    output and error on a terminal go to /dev/null; pipes and files are kept."""
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError, AttributeError):
            if stream.isatty():
                stream.flush()
                devnull = os.open(os.devnull, os.O_WRONLY)
                os.dup2(devnull, stream.fileno())
                os.close(devnull)


def _say(message: str) -> None:
    with contextlib.suppress(OSError, ValueError):
        print(message, file=sys.stderr, flush=True)


@contextlib.contextmanager
def stop_signals() -> Iterator[None]:
    """Within: every stop signal raises StopSignal (outside a shielded section)."""
    previous: dict[int, Any] = {}
    for signum in STOP_SIGNALS:
        with contextlib.suppress(ValueError):  # not the main thread: leave them be
            previous[signum] = signal.signal(signum, _handler)
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


@contextlib.contextmanager
def shielded() -> Iterator[None]:
    """Within: stop signals are reported, not raised (for making a bench safe)."""
    global _shield_depth
    _shield_depth += 1
    try:
        yield
    finally:
        _shield_depth -= 1
