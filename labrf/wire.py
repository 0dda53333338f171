"""Framing on raw sockets and serial lines: terminations, serial formats, bounds.

Over GPIB, USB-TMC or VXI-11 the bus marks the end of a message (EOI, END). Over a raw
socket (``TCPIP::host::port::SOCKET``) or a serial port (``ASRL...``) nothing does: the
terminations *are* the protocol, and a serial line also needs the instrument's baud rate,
data bits, parity, stop bits and flow control. A :class:`Link` holds these, as a VISA
client sees them. The roles' bindings declare the factory link of each real model, the
simulated instruments declare theirs, and a station file may override them per
instrument (``init: connection: {...}``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from typing import Any

from pyvisa import constants, rname

from labrf.errors import ConfigError

#: Longest message (bytes) a simulated instrument buffers while waiting for its
#: termination; a longer one drops the connection, as an instrument's input buffer would.
MAX_MESSAGE = 65536
#: Longest text reply (bytes) a role reads before it gives up on a missing termination.
MAX_REPLY = 8 * 1024 * 1024

TERMINATIONS = {"\n": "LF", "\r": "CR", "\r\n": "CRLF", "\n\r": "LFCR"}
PARITIES = {"none": constants.Parity.none, "odd": constants.Parity.odd,
            "even": constants.Parity.even, "mark": constants.Parity.mark,
            "space": constants.Parity.space}
STOP_BITS = {1: constants.StopBits.one, 1.5: constants.StopBits.one_and_a_half,
             2: constants.StopBits.two}
FLOW_CONTROLS = {"none": constants.ControlFlow.none,
                 "xon_xoff": constants.ControlFlow.xon_xoff,
                 "rts_cts": constants.ControlFlow.rts_cts,
                 "dtr_dsr": constants.ControlFlow.dtr_dsr}
DATA_BITS = (5, 6, 7, 8)
SERIAL_KEYS = ("baud_rate", "data_bits", "parity", "stop_bits", "flow_control")


@dataclass(frozen=True)
class Link:
    """Terminations (client's view: ``read_termination`` ends what the instrument sends,
    ``write_termination`` ends what it is sent) and, for a serial port, the line format."""

    read_termination: str = "\n"
    write_termination: str = "\n"
    baud_rate: int = 9600  #: bit/s
    data_bits: int = 8
    parity: str = "none"
    stop_bits: float = 1
    flow_control: str = "none"

    def describe(self, kind: str) -> str:
        """``"read LF, write LF"``, plus ``", 57600 baud 7O1, no flow control"`` on serial."""
        text = (f"read {TERMINATIONS[self.read_termination]}, "
                f"write {TERMINATIONS[self.write_termination]}")
        if kind == "serial":
            stop = f"{self.stop_bits:g}"
            flow = ("no flow control" if self.flow_control == "none"
                    else f"{self.flow_control} flow control")
            text += (f", {self.baud_rate} baud {self.data_bits}{self.parity[0].upper()}"
                     f"{stop}, {flow}")
        return text

    def visa_options(self, kind: str) -> dict[str, Any]:
        """Keyword arguments of ``ResourceManager.open_resource`` for this link."""
        options: dict[str, Any] = {"read_termination": self.read_termination,
                                   "write_termination": self.write_termination}
        if kind == "serial":
            options.update(baud_rate=self.baud_rate, data_bits=self.data_bits,
                           parity=PARITIES[self.parity], stop_bits=STOP_BITS[self.stop_bits],
                           flow_control=FLOW_CONTROLS[self.flow_control])
        return options


def link_kind(address: str) -> str | None:
    """``"socket"``, ``"serial"`` or None (a bus that frames messages itself)."""
    try:
        parsed = rname.parse_resource_name(address)
    except ValueError:
        return None
    if parsed.interface_type_const == constants.InterfaceType.asrl:
        return "serial"
    if parsed.resource_class == "SOCKET":
        return "socket"
    return None


def override(link: Link, options: Any, key: str, address: str) -> Link:
    """``link`` with a station file's ``connection`` options applied; a ConfigError names
    the key and what would be valid."""
    if options is None:
        return link
    if not isinstance(options, Mapping):
        raise ConfigError(f"must be a mapping of {', '.join(_KEYS)}, got "
                          f"{type(options).__name__}", key=key)
    kind = link_kind(address)
    changes: dict[str, Any] = {}
    for name, value in options.items():
        where = f"{key}.{name}"
        if name not in _KEYS:
            raise ConfigError(f"unknown key; valid: {', '.join(_KEYS)}", key=where)
        if name in SERIAL_KEYS and kind != "serial":
            raise ConfigError(f"a serial setting, but {address} is not a serial (ASRL) "
                              f"address", key=where)
        changes[name] = _value(name, value, where)
    return replace(link, **changes)


_KEYS = tuple(f.name for f in fields(Link))


def _value(name: str, value: Any, where: str) -> Any:
    if name in ("read_termination", "write_termination"):
        if value not in TERMINATIONS:
            raise ConfigError(f"{value!r} is not a termination; valid: " + ", ".join(
                f"{t!r} ({n})" for t, n in TERMINATIONS.items()), key=where)
        return value
    if name == "baud_rate":
        if isinstance(value, bool) or not isinstance(value, int) or not 50 <= value <= 4_000_000:
            raise ConfigError(f"{value!r} is not a baud rate; give an integer from 50 to "
                              f"4000000, e.g. 9600", key=where)
        return value
    if name == "data_bits":
        if isinstance(value, bool) or value not in DATA_BITS:
            raise ConfigError(f"{value!r} is not a number of data bits; valid: 5, 6, 7, 8",
                              key=where)
        return int(value)
    if name == "stop_bits":
        if isinstance(value, bool) or value not in STOP_BITS:
            raise ConfigError(f"{value!r} is not a number of stop bits; valid: 1, 1.5, 2",
                              key=where)
        return value
    table = PARITIES if name == "parity" else FLOW_CONTROLS
    if value not in table:
        raise ConfigError(f"{value!r} is not a {name.replace('_', ' ')}; valid: "
                          f"{', '.join(table)}", key=where)
    return value


class MessageTooLong(OSError):
    """More than :data:`MAX_MESSAGE` bytes arrived without a termination."""


class Framer:
    """Splits a byte stream into messages at ``terminator`` (an instrument's input side).

    CR and LF around a message are dropped, so "*IDN?\\r\\n" is one message for an
    instrument terminated on LF or on CR; an empty message is ignored. More than
    ``limit`` bytes without a terminator raise :class:`MessageTooLong`.
    """

    def __init__(self, terminator: str, limit: int = MAX_MESSAGE) -> None:
        self.terminator = terminator.encode("latin-1")[-1:]
        self.limit = limit
        self.buffer = bytearray()

    def _end(self) -> int:
        """Index of the terminator that ends the first message, -1 if none has arrived:
        a terminator byte inside a definite-length block ``#<n><len><data>`` is data."""
        if b"#" not in self.buffer:
            return self.buffer.find(self.terminator)
        buffer, i = self.buffer, 0
        while i < len(buffer):
            ch = buffer[i]
            if ch == 0x23 and i + 1 < len(buffer) and 0x31 <= buffer[i + 1] <= 0x39:
                digits = buffer[i + 1] - 0x30
                count = bytes(buffer[i + 2:i + 2 + digits])
                if len(count) < digits:
                    return -1  # the block's header has not all arrived
                if not count.isdigit():
                    i += 1
                    continue
                i += 2 + digits + int(count)
                continue
            elif buffer[i:i + 1] == self.terminator:
                return i
            i += 1
        return -1

    def feed(self, data: bytes) -> list[bytes]:
        """The complete messages ``data`` ends, in order."""
        self.buffer.extend(data)
        messages = []
        while (index := self._end()) >= 0:
            message = bytes(self.buffer[:index]).lstrip(b"\r\n")
            if b"#" not in message:
                message = message.rstrip(b"\r\n")
            elif message.endswith(b"\r") and self.terminator == b"\n":
                message = message[:-1]  # CR LF after a block (its own bytes stay)
            del self.buffer[:index + 1]
            if message:
                messages.append(message)
        if len(self.buffer) > self.limit:
            size = len(self.buffer)
            self.buffer.clear()
            name = TERMINATIONS.get(self.terminator.decode("latin-1"), "")
            raise MessageTooLong(f"{size} bytes without a {name} termination (the limit "
                                 f"is {self.limit} bytes)")
        return messages
