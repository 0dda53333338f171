"""The VISA adapter a role reads through: PyMeasure's, with every text reply bounded.

PyVISA reads a reply until its termination, however long that takes: an instrument (or
a serial adapter) that streams bytes without ever sending the termination keeps a read,
and its memory, growing. A role's adapter gives up after :data:`labrf.wire.MAX_REPLY`
bytes or four VISA timeouts, with an error saying which termination it waited for.
"""

from __future__ import annotations

import time
from typing import Any

from pymeasure.adapters import VISAAdapter

from labrf.wire import MAX_REPLY, TERMINATIONS

#: A reply may take this many VISA timeouts in all (each chunk has one timeout).
REPLY_TIMEOUTS = 4


class UnterminatedReply(OSError):
    """A reply went past the byte or time bound without its termination."""


class _Bound:
    """PyVISA's read-progress hook, used to stop a read that does not end."""

    def __init__(self, termination: str, deadline: float) -> None:
        self.termination, self.deadline, self.size = termination, deadline, 0

    def update(self, count: int) -> None:
        self.size += count
        if time.monotonic() > self.deadline:
            raise UnterminatedReply(f"{self.size} bytes in {REPLY_TIMEOUTS} timeouts "
                                    f"and no {_name(self.termination)} termination")


class BoundedVISAAdapter(VISAAdapter):
    """A VISAAdapter taking over the open connection of ``adapter`` (which then owns
    nothing, so that collecting it closes nothing), whose text reads are bounded."""

    limit: int = MAX_REPLY

    def __init__(self, adapter: VISAAdapter) -> None:
        super().__init__(adapter)
        self.log = adapter.log
        adapter.connection = None

    def _read(self, **kwargs: Any) -> str:
        conn = self.connection
        termination = conn.read_termination or ""
        timeout = conn.timeout
        seconds = 3600.0 if timeout is None or timeout == float("inf") else timeout / 1e3
        bound = _Bound(termination, time.monotonic() + REPLY_TIMEOUTS * seconds)
        raw = conn.read_bytes(self.limit + 1, break_on_termchar=True,
                              monitoring_interface=bound)
        if len(raw) > self.limit:
            raise UnterminatedReply(f"a reply of more than {self.limit} bytes with no "
                                    f"{_name(termination)} termination")
        message = raw.decode(conn.encoding)
        if termination and message.endswith(termination):
            return message[:-len(termination)]
        return message


def _name(termination: str) -> str:
    return TERMINATIONS.get(termination, repr(termination)) if termination else "(none set)"
