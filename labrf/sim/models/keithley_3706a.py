"""Keithley 3706A system switch with a 3730 6x16 high-density matrix card in slot 1.

The 3706A speaks TSP (Lua statements), not SCPI. This emulator runs the subset that a
switch-matrix client sends, QCoDeS's ``Keithley3706A`` driver among them:

- statements: ``channel.close('spec')``, ``channel.open('spec')``,
  ``channel.exclusiveclose('spec')``, ``channel.exclusiveslotclose('spec')``,
  ``channel.reset('spec')``, ``channel.setforbidden('spec')``,
  ``channel.clearforbidden('spec')``, ``channel.setdelay('spec', s)``,
  ``channel.setbackplane('spec', 'relays')``, ``reset()``, ``errorqueue.clear()``,
  ``setup.save()``, ``setup.recall(n)``, ``lan.reset()``, and assignments to
  ``channel.connectrule`` (``channel.BREAK_BEFORE_MAKE``, ``channel.MAKE_BEFORE_BREAK``,
  ``channel.OFF``), ``comm.gpib.enable``, ``comm.lan.enable``, ``gpib.address``;
- ``print(expression)``: the reply, for ``channel.getclose``, ``channel.getforbidden``,
  ``channel.getdelay``, ``channel.getbackplane``, ``channel.connectrule``,
  ``slot[n].idn``, ``slot[n].rows.matrix``, ``slot[n].columns.matrix``,
  ``slot[n].interlock.state``, ``memory.available()``, ``lan.status.ipaddress``,
  ``errorqueue.count``, ``errorqueue.next()``, and the settings above;
- the IEEE 488.2 common commands (``*IDN?``, ``*RST``, ``*CLS``, ``*OPC?``...).

A channel specifier is a comma-separated list of channels (``1101``: slot 1, row 1,
column 01), ranges (``1101:1116``), backplane relays (``1911`` to ``1916``), ``slot1``
or ``allslots``. Closed channels are reported ``;``-separated (``nil`` when none), as
QCoDeS reads them. A syntax error queues -285, an unknown channel 1115 (parameter
error), closing a forbidden channel -221 (settings conflict, nothing closes); a
backplane relay does not energize while the card's interlock is disengaged (-221).

Each relay operation takes ``RELAY_TIME`` of instrument time; ``exclusiveclose`` under
``BREAK_BEFORE_MAKE`` (the default) opens before it closes. ``transitions`` records every
relay change with its instrument time and the number of world drives before it, for tests
of switching order and of what was on when a relay moved.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, ClassVar

from labrf.sim.emulator import Emulator
from labrf.sim.scpi import ScpiError

SLOTS = 6
CARD_SLOT = 1
ROWS, COLUMNS = 6, 16
CARD_IDN = "3730,6x16 High Density Matrix,01.40h,1234567"
BACKPLANE = tuple(f"{CARD_SLOT}9{k}" for k in range(11, 17))
RELAY_TIME = 0.004  #: s per relay operation (the 3730's latching relays)
CONNECT_RULES = {"OFF": 0, "BREAK_BEFORE_MAKE": 1, "MAKE_BEFORE_BREAK": 2}
TSP_ERRORS = {-285: "TSP Syntax error", 1115: "Parameter error",
              -221: "Settings conflict"}
_TOKEN = re.compile(r"\s*(?:(?P<number>-?\d+(?:\.\d*)?(?:[eE][-+]?\d+)?)|"
                    r"(?P<string>'[^']*'|\"[^\"]*\")|(?P<name>[A-Za-z_]\w*)|"
                    r"(?P<op>[.\[\](),=;]))")


class _Syntax(Exception):
    """A statement the TSP subset cannot parse."""


@dataclass
class Transition:
    """One relay change: instrument time (s), channel, closed or opened."""

    time: float
    channel: str
    closed: bool
    drives_before: int  #: how many world drives had happened (``World.drives``)


def _tokens(text: str) -> list[tuple[str, str]]:
    out, pos = [], 0
    while pos < len(text):
        if not text[pos:].strip():
            break
        match = _TOKEN.match(text, pos)
        if match is None:
            raise _Syntax(f"unexpected {text[pos:pos + 10]!r}")
        kind = match.lastgroup or ""
        out.append((kind, match.group(kind)))
        pos = match.end()
    return out


class _Parser:
    """Recursive descent over the TSP subset: calls, paths, literals, assignments."""

    def __init__(self, tokens: list[tuple[str, str]]) -> None:
        self.tokens, self.i = tokens, 0

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def take(self, value: str | None = None) -> tuple[str, str]:
        token = self.peek()
        if token is None or (value is not None and token[1] != value):
            raise _Syntax(f"expected {value or 'more'}")
        self.i += 1
        return token

    def statements(self) -> list[tuple[str, Any]]:
        out = []
        while self.peek() is not None:
            if self.peek() == ("op", ";"):
                self.take()
                continue
            path, args = self.reference()
            if self.peek() == ("op", "="):
                self.take()
                if args is not None:
                    raise _Syntax("cannot assign to a call")
                out.append(("assign", (path, self.expression())))
            elif args is not None:
                out.append(("call", (path, args)))
            else:
                raise _Syntax(f"'{path}' is not a statement")
        return out

    def reference(self) -> tuple[str, list[Any] | None]:
        kind, name = self.take()
        if kind != "name":
            raise _Syntax(f"unexpected {name!r}")
        path = name
        while (token := self.peek()) is not None and token[1] in (".", "["):
            self.take()
            if token[1] == ".":
                kind, name = self.take()
                if kind != "name":
                    raise _Syntax(f"unexpected {name!r}")
                path += f".{name}"
            else:
                kind, index = self.take()
                if kind != "number":
                    raise _Syntax("an index must be a number")
                self.take("]")
                path += f"[{int(float(index))}]"
        if self.peek() == ("op", "("):
            self.take()
            args: list[Any] = []
            while self.peek() != ("op", ")"):
                args.append(self.expression())
                if self.peek() == ("op", ","):
                    self.take()
                elif self.peek() != ("op", ")"):
                    raise _Syntax("expected , or )")
            self.take(")")
            return path, args
        return path, None

    def expression(self) -> Any:
        token = self.peek()
        if token is None:
            raise _Syntax("expected a value")
        kind, text = token
        if kind == "number":
            self.take()
            return float(text)
        if kind == "string":
            self.take()
            return text[1:-1]
        if text in ("true", "false", "nil"):
            self.take()
            return {"true": True, "false": False, "nil": None}[text]
        return ("ref", self.reference())


class Keithley3706A(Emulator):
    """Keithley 3706A system switch, one 3730 6x16 matrix card in slot 1."""

    model: ClassVar[str] = "keithley3706a"
    idn: ClassVar[str] = "Keithley Instruments Inc., Model 3706A, 04089761, 01.56a"
    error_texts: ClassVar[dict[int, str]] = TSP_ERRORS
    interlock: ClassVar[int] = 3  #: both interlocks engaged (a card in its chassis)
    #: the chip whose devices sit on the card's columns (``<chip>.J11`` on column 1, ...)
    ports: ClassVar[dict[str, tuple[str, ...]]] = {"chip": ("chip",)}

    def on_reset(self) -> None:
        self.closed: set[str] = set()
        self.forbidden: set[str] = set()
        self.delays: dict[str, float] = {}
        self.backplanes: dict[str, set[str]] = {}
        self.connect_rule = CONNECT_RULES["BREAK_BEFORE_MAKE"]
        self.settings: dict[str, Any] = {"comm.gpib.enable": True, "comm.lan.enable": True,
                                         "gpib.address": 16}
        if not hasattr(self, "transitions"):
            self.transitions: list[Transition] = []

    # ------------------------------------------------------------------ channels

    @staticmethod
    def channels() -> list[str]:
        return [f"{CARD_SLOT}{r}{c:02d}" for r in range(1, ROWS + 1)
                for c in range(1, COLUMNS + 1)]

    def expand(self, spec: Any) -> list[str]:
        """The channels and backplane relays a specifier names (1115 if it names none)."""
        if not isinstance(spec, str) or not spec.strip():
            raise ScpiError(1115, f"channel list {spec!r}")
        matrix = self.channels()
        out: list[str] = []
        for element in (e.strip() for e in spec.split(",")):
            if element.lower() in ("allslots", f"slot{CARD_SLOT}"):
                out += [*matrix, *BACKPLANE]
            elif re.fullmatch(r"slot\d", element.lower()):
                raise ScpiError(1115, f"{element} is an empty slot")
            elif ":" in element:
                first, _, last = element.partition(":")
                if first not in matrix or last not in matrix:
                    raise ScpiError(1115, f"channel range {element}")
                a, b = sorted((matrix.index(first), matrix.index(last)))
                out += matrix[a:b + 1]
            elif element in matrix or element in BACKPLANE:
                out.append(element)
            else:
                raise ScpiError(1115, f"channel {element}")
        return list(dict.fromkeys(out))

    def _set(self, channel: str, closed: bool) -> None:
        if (channel in self.closed) == closed:
            return
        if closed and channel in BACKPLANE and self.interlock == 0:
            raise ScpiError(-221, f"interlock disengaged: {channel} cannot energize")
        self.spend(RELAY_TIME + self.delays.get(channel, 0.0))
        (self.closed.add if closed else self.closed.discard)(channel)
        self.world.route(self.name, frozenset(self.closed), self.cursor)
        self.transitions.append(Transition(self.cursor, channel, closed,
                                           len(self.world.drives)))

    def _close(self, channels: list[str], exclusive_of: list[str] | None = None) -> None:
        with_planes = list(dict.fromkeys(
            [*channels, *(p for c in channels for p in sorted(self.backplanes.get(c, ())))]))
        blocked = [c for c in with_planes if c in self.forbidden]
        if blocked:
            raise ScpiError(-221, f"forbidden channel(s) {','.join(blocked)}")
        to_open = [] if exclusive_of is None else [
            c for c in sorted(self.closed) if c in exclusive_of and c not in with_planes]
        if self.connect_rule == CONNECT_RULES["MAKE_BEFORE_BREAK"]:
            steps = [(c, True) for c in with_planes] + [(c, False) for c in to_open]
        else:
            steps = [(c, False) for c in to_open] + [(c, True) for c in with_planes]
        for channel, closed in steps:
            self._set(channel, closed)

    # ------------------------------------------------------------------ TSP

    def execute(self, message: str) -> str | bytes | None:
        if message.lstrip().startswith("*"):
            return super().execute(message)
        try:
            statements = _Parser(_tokens(message)).statements()
        except _Syntax as exc:
            self.queue_error(-285, f"{exc} in {message[:40]!r}")
            return None
        replies: list[str] = []
        for kind, body in statements:
            try:
                if kind == "assign":
                    self._assign(*body)
                elif body[0] == "print":
                    replies.append("\t".join(self._format(self._value(a)) for a in body[1]))
                else:
                    self._call(body[0], [self._value(a) for a in body[1]])
            except ScpiError as err:
                self.queue_error(err.code, err.detail)
        return "\n".join(replies) if replies else None

    def _value(self, expr: Any) -> Any:
        if not (isinstance(expr, tuple) and expr and expr[0] == "ref"):
            return expr
        path, args = expr[1]
        if args is not None:
            return self._call(path, [self._value(a) for a in args])
        return self._read(path)

    def _read(self, path: str) -> Any:
        if path.startswith("channel.") and path[8:] in CONNECT_RULES:
            return CONNECT_RULES[path[8:]]
        if path == "channel.connectrule":
            return self.connect_rule
        if path in self.settings:
            return self.settings[path]
        if path == "lan.status.ipaddress":
            return "192.168.0.2"
        if path == "errorqueue.count":
            return len(self.errors)
        slot = re.fullmatch(r"slot\[(\d)\]\.(idn|rows\.matrix|columns\.matrix|"
                            r"interlock\.state)", path)
        if slot is not None:
            n, what = int(slot.group(1)), slot.group(2)
            if not 1 <= n <= SLOTS:
                raise ScpiError(1115, f"slot {n}")
            if n != CARD_SLOT:
                return "Empty Slot" if what == "idn" else None
            return {"idn": CARD_IDN, "rows.matrix": ROWS, "columns.matrix": COLUMNS,
                    "interlock.state": self.interlock}[what]
        raise ScpiError(-285, f"{path} is nil")

    def _assign(self, path: str, expr: Any) -> None:
        value = self._value(expr)
        if path == "channel.connectrule":
            if value not in CONNECT_RULES.values():
                raise ScpiError(1115, f"connect rule {value!r}")
            self.connect_rule = int(value)
        elif path in ("comm.gpib.enable", "comm.lan.enable"):
            if not isinstance(value, bool):
                raise ScpiError(1115, f"{path} takes true or false")
            self.settings[path] = value
        elif path == "gpib.address":
            if not (isinstance(value, float) and value.is_integer() and 1 <= value <= 30):
                raise ScpiError(1115, f"gpib.address {value!r}: 1 to 30")
            self.settings[path] = int(value)
        else:
            raise ScpiError(-285, f"cannot assign {path}")

    def _call(self, path: str, args: list[Any]) -> Any:
        spec = args[0] if args else None
        if path == "channel.close":
            self._close(self.expand(spec))
        elif path == "channel.open":
            for channel in self.expand(spec):
                self._set(channel, False)
        elif path in ("channel.exclusiveclose", "channel.exclusiveslotclose"):
            # the slot-wise form opens only the slots named; with one card, the same
            self._close(self.expand(spec), exclusive_of=[*self.channels(), *BACKPLANE])
        elif path == "channel.reset":
            for channel in self.expand(spec):
                self._set(channel, False)
                self.forbidden.discard(channel)
                self.delays.pop(channel, None)
                self.backplanes.pop(channel, None)
        elif path == "channel.getclose":
            closed = [c for c in self.expand(spec) if c in self.closed]
            return ";".join(closed) if closed else None
        elif path == "channel.setforbidden":
            self.forbidden.update(self.expand(spec))
        elif path == "channel.clearforbidden":
            self.forbidden.difference_update(self.expand(spec))
        elif path == "channel.getforbidden":
            found = [c for c in self.expand(spec) if c in self.forbidden]
            return ",".join(found) if found else None
        elif path == "channel.setdelay":
            if len(args) != 2 or not isinstance(args[1], float) or args[1] < 0:
                raise ScpiError(1115, "channel.setdelay takes a channel list and a delay "
                                      "in s >= 0")
            for channel in self.expand(spec):
                self.delays[channel] = args[1]
        elif path == "channel.getdelay":
            return ",".join(f"{self.delays.get(c, 0.0):g}" for c in self.expand(spec))
        elif path == "channel.setbackplane":
            planes = self.expand(args[1] if len(args) > 1 else None)
            if any(p not in BACKPLANE for p in planes):
                raise ScpiError(1115, "channel.setbackplane takes backplane relays "
                                      f"({','.join(BACKPLANE)})")
            for channel in self.expand(spec):
                self.backplanes[channel] = set(planes)
        elif path == "channel.getbackplane":
            planes = sorted({p for c in self.expand(spec) for p in self.backplanes.get(c, ())})
            return ",".join(planes) if planes else None
        elif path == "reset":
            self.reset()
        elif path == "errorqueue.clear":
            self.errors.clear()
        elif path == "errorqueue.next":
            code, detail = self.errors.popleft() if self.errors else (0, "")
            text = self.error_texts.get(code, "Queue Is Empty" if code == 0 else "Error")
            return f"{code}\t{text}{': ' + detail if detail else ''}\t{0 if code == 0 else 2}\t0"
        elif path == "memory.available":
            return "99.17, 100.00, 99.55, 99.30"
        elif path in ("setup.save", "setup.recall", "lan.reset"):
            return None
        else:
            raise ScpiError(-285, f"{path} is not a function of the 3706A")
        return None

    @staticmethod
    def _format(value: Any) -> str:
        if value is None:
            return "nil"
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, int | float):
            return f"{float(value):.5e}"
        return str(value)
