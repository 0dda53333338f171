"""Fault injection: rules that make an emulated instrument misbehave as real ones do."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

FaultKind = Literal["timeout", "garble", "error", "drop", "reboot"]
FAULT_KINDS: tuple[str, ...] = ("timeout", "garble", "error", "drop", "reboot")


@dataclass
class FaultRule:
    """Make the ``nth`` message matching ``match`` (a case-insensitive regex searched in
    the message as written, e.g. "READ\\?") misbehave, and the ``times - 1`` matching
    messages after it.

    Kinds: ``timeout`` (the message is swallowed: a query never answers), ``garble`` (the
    reply is corrupted), ``error`` (the message runs, and ``error`` is queued as an SCPI
    error), ``drop`` (the connection is lost), ``reboot`` (the instrument power-cycles
    to its power-on state; the message is lost).
    """

    kind: FaultKind
    match: str = ".*"
    nth: int = 1
    times: int = 1
    error: tuple[int, str] = (-300, "Device-specific error")
    seen: int = field(default=0, init=False)
    fired: int = field(default=0, init=False)

    def __post_init__(self) -> None:
        if self.kind not in FAULT_KINDS:
            raise ValueError(f"fault kind '{self.kind}' is not one of {', '.join(FAULT_KINDS)}")
        if self.nth < 1 or self.times < 1:
            raise ValueError("fault nth and times must be at least 1")
        self._regex = re.compile(self.match, re.IGNORECASE)

    def check(self, message: str) -> bool:
        """Count ``message`` if it matches; True when this rule fires on it."""
        if self.exhausted or not self._regex.search(message):
            return False
        self.seen += 1
        if self.seen >= self.nth:
            self.fired += 1
            return True
        return False

    @property
    def exhausted(self) -> bool:
        return self.fired >= self.times
