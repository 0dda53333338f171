"""Base of every emulated instrument: IEEE 488.2 common commands, status registers, the
error queue, instrument time, replies and fault injection.

A model subclasses ``Emulator`` with its ``idn``, its ``commands`` (a ``CommandTable``,
kept apart from the state) and the handlers its table names. Sources push what they
output into the world (``self.world``); meters pull what they read from it at the
instrument's own time ``self.cursor``.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from labrf.sim.faults import FaultRule
from labrf.sim.scpi import (
    STANDARD_ERRORS,
    Call,
    Command,
    CommandTable,
    Number,
    Query,
    ScpiError,
    Setting,
    rstrip_outside_blocks,
    split_header,
    split_params,
    split_units,
)
from labrf.wire import Link

if TYPE_CHECKING:
    import numpy as np

    from labrf.sim.world import World

# Standard event status register bits (IEEE 488.2).
ESR_OPC, ESR_QYE, ESR_DDE, ESR_EXE, ESR_CME, ESR_PON = 1, 4, 8, 16, 32, 128


@dataclass
class Reply:
    """A response message waiting in the output queue."""

    data: bytes
    ready_at: float  #: instrument time (s) at which it can be read


@dataclass
class Outcome:
    """What a written message did, for the transport: a reply, a dropped link, or none."""

    reply: Reply | None = None
    dropped: bool = False


#: The SCPI system and status subsystem most SCPI instruments share.
SCPI_SYSTEM = CommandTable(
    Query(":SYSTem:ERRor[:NEXT]", "query_next_error"),
    Query(":SYSTem:ERRor:ALL", "query_all_errors"),
    Query(":SYSTem:ERRor:COUNt", "query_error_count"),
    Query(":SYSTem:VERSion", "query_scpi_version"),
    Command(":STATus:PRESet", "status_preset"),
    Query(":STATus:QUEue[:NEXT]", "query_next_error"),
    Command(":STATus:QUEue:CLEar", "clear_errors"),
)

_BYTE = (Number(0, 255, integer=True),)

#: IEEE 488.2 common commands, shared by every model.
COMMON = CommandTable(
    Query("*IDN", "query_idn"), Command("*RST", "common_rst"), Command("*CLS", "common_cls"),
    Query("*ESE", "query_ese"), Command("*ESE", "set_ese", params=_BYTE),
    Query("*ESR", "query_esr"), Query("*SRE", "query_sre"),
    Command("*SRE", "set_sre", params=_BYTE), Query("*STB", "query_stb"),
    Query("*OPC", "query_opc"), Command("*OPC", "common_opc"), Command("*WAI", "common_wai"),
    Query("*TST", "query_tst"), Query("*OPT", "query_opt"), Command("*TRG", "common_trg"),
)


class Emulator:
    """An emulated instrument attached to a simulated world."""

    model: ClassVar[str] = ""
    idn: ClassVar[str] = ""
    options: ClassVar[str] = "0"
    commands: ClassVar[CommandTable] = CommandTable()
    #: how many errors the queue holds before the last becomes -350
    error_queue_size: ClassVar[int] = 10
    #: model-specific error texts, overriding the standard ones
    error_texts: ClassVar[dict[int, str]] = {}
    #: ports the station's wiring may connect, and the device kinds each accepts
    ports: ClassVar[dict[str, tuple[str, ...]]] = {}
    #: the model's factory terminations and serial format on a raw socket or serial port
    link: ClassVar[Link] = Link()

    def __init__(self, name: str, world: World, wiring: dict[str, str] | None = None,
                 terminator: str | None = None) -> None:
        self.name = name
        self.world = world
        self.wiring = dict(wiring or {})
        #: ends each reply; on a socket or serial port, also ends each message it accepts
        self.terminator = terminator or self.link.read_termination
        self.noise: np.random.Generator = world.rng(f"{name}/noise")
        self._fault_rng: np.random.Generator = world.rng(f"{name}/faults")
        self.faults: list[FaultRule] = []
        self.boot_count = 0
        self.cursor = world.clock.now()
        self.power_on()

    # ------------------------------------------------------------------ life cycle

    def power_on(self) -> None:
        """State at power-on: every setting at its default, queues empty, PON set."""
        self.state: dict[str, Any] = {}
        for setting in self.commands.settings():
            for suffix in setting.all_suffixes():
                self.state[setting.state_key(suffix)] = setting.default
        self.errors: deque[tuple[int, str]] = deque()
        self.esr = ESR_PON
        self.ese = 0
        self.sre = 0
        self.output: deque[Reply] = deque()
        self.operation_end = self.cursor
        self._opc_pending = False
        self.boot_count += 1
        self.on_reset()

    def reset(self) -> None:
        """``*RST``: settings back to their defaults (those marked ``rst``)."""
        for setting in self.commands.settings():
            if setting.rst:
                for suffix in setting.all_suffixes():
                    self.state[setting.state_key(suffix)] = setting.default
        self.operation_end = self.cursor
        self.on_reset()

    def on_reset(self) -> None:
        """Hook after power-on and ``*RST``: a source pushes its (off) output to the world."""

    # --------------------------------------------------------------------- timing

    def spend(self, seconds: float) -> None:
        """Account ``seconds`` of instrument time for the message being executed."""
        self.cursor += max(seconds, 0.0)

    def start_operation(self, seconds: float) -> None:
        """Start an overlapped operation (a sweep) ending ``seconds`` from now."""
        self.operation_end = max(self.operation_end, self.cursor) + max(seconds, 0.0)

    def wait_operation(self) -> None:
        """``*WAI``: hold further execution until the pending operation ends."""
        self.cursor = max(self.cursor, self.operation_end)

    # --------------------------------------------------------------------- errors

    def queue_error(self, code: int, detail: str = "") -> None:
        """Put an error in the queue and set its ESR bit; -350 replaces the last entry
        when the queue is full."""
        if code <= -100 and code > -200:
            self.esr |= ESR_CME
        elif code <= -200 and code > -300:
            self.esr |= ESR_EXE
        elif code <= -300 and code > -400 or code > 0:
            self.esr |= ESR_DDE
        elif code <= -400:
            self.esr |= ESR_QYE
        if len(self.errors) >= self.error_queue_size:
            self.errors[-1] = (-350, "")
            return
        self.errors.append((code, detail))

    def format_error(self, code: int, detail: str) -> str:
        """The reply of ``SYST:ERR?`` for one error (Keithley style by default)."""
        text = self.error_texts.get(code, STANDARD_ERRORS.get(code, "Error"))
        return f'{code},"{text}"'

    def query_next_error(self, call: Call) -> str:
        code, detail = self.errors.popleft() if self.errors else (0, "")
        return self.format_error(code, detail)

    def query_all_errors(self, call: Call) -> str:
        items = [self.format_error(c, d) for c, d in self.errors] or [self.format_error(0, "")]
        self.errors.clear()
        return ",".join(items)

    def query_error_count(self, call: Call) -> str:
        return str(len(self.errors))

    def query_scpi_version(self, call: Call) -> str:
        return "1999.0"

    def clear_errors(self, call: Call | None = None) -> None:
        self.errors.clear()

    def status_preset(self, call: Call) -> None:
        """``STAT:PRES``: enable registers of the SCPI status model to their preset."""

    # --------------------------------------------------------- common commands

    def query_idn(self, call: Call) -> str:
        return self.idn

    def common_rst(self, call: Call) -> None:
        self.reset()

    def common_cls(self, call: Call) -> None:
        self.errors.clear()
        self.esr = 0
        self._opc_pending = False
        self.clear_status()

    def query_ese(self, call: Call) -> str:
        return str(self.ese)

    def set_ese(self, call: Call) -> None:
        self.ese = int(call.args[0])

    def query_esr(self, call: Call) -> str:
        self._update_opc()
        value, self.esr = self.esr, 0
        return str(value)

    def query_sre(self, call: Call) -> str:
        return str(self.sre)

    def set_sre(self, call: Call) -> None:
        self.sre = int(call.args[0])

    def query_stb(self, call: Call) -> str:
        return str(self.status_byte())

    def query_opc(self, call: Call) -> str:
        self.wait_operation()
        return "1"

    def common_opc(self, call: Call) -> None:
        self._opc_pending = True

    def common_wai(self, call: Call) -> None:
        self.wait_operation()

    def query_tst(self, call: Call) -> str:
        self.spend(self.self_test_time)
        return "0"

    def query_opt(self, call: Call) -> str:
        return self.options

    def common_trg(self, call: Call) -> None:
        self.trigger()

    self_test_time: ClassVar[float] = 1.0

    def _update_opc(self) -> None:
        if self._opc_pending and self.cursor >= self.operation_end:
            self.esr |= ESR_OPC
            self._opc_pending = False

    def status_byte(self) -> int:
        """IEEE 488.2 status byte: EAV (4), MAV (16), ESB (32), MSS (64) plus the model's
        summary bits from ``summary_bits``."""
        self._update_opc()
        stb = self.summary_bits()
        if self.errors:
            stb |= 4
        if self.output:
            stb |= 16
        if self.esr & self.ese:
            stb |= 32
        if stb & self.sre & ~64:
            stb |= 64
        return stb

    def summary_bits(self) -> int:
        """Model-specific bits of the status byte (QSB 8, MSB 1, OSB 128)."""
        return 0

    def clear_status(self) -> None:
        """``*CLS`` hook for the model's own event registers."""

    def trigger(self) -> None:
        """``*TRG`` hook."""

    # ------------------------------------------------------------------ execution

    def number_format(self, value: float) -> str:
        """How this model writes a number in a reply."""
        return f"{value:.10G}"

    def write(self, raw: bytes, now: float) -> Outcome:
        """Receive one program message at instrument time ``now``."""
        message = rstrip_outside_blocks(raw.decode("latin-1"), "\r\n")
        self.cursor = max(self.cursor, now)
        if self.output:
            self.output.clear()
            self.queue_error(-410)
        for rule in self.faults:
            if rule.check(message):
                return self._apply_fault(rule, message)
        reply = self.execute(message)
        return Outcome(reply=self._reply(reply) if reply is not None else None)

    def _reply(self, reply: str | bytes) -> Reply:
        data = reply if isinstance(reply, bytes) else reply.encode("latin-1")
        out = Reply(data + self.terminator.encode("latin-1"), self.cursor)
        self.output.append(out)
        return out

    def _apply_fault(self, rule: FaultRule, message: str) -> Outcome:
        if rule.kind == "timeout":
            return Outcome()
        if rule.kind == "drop":
            return Outcome(dropped=True)
        if rule.kind == "reboot":
            self.cursor += self.boot_time
            self.power_on()
            return Outcome()
        reply = self.execute(message)
        if rule.kind == "error":
            self.queue_error(*rule.error)
            return Outcome(reply=self._reply(reply) if reply is not None else None)
        if reply is None:
            return Outcome()
        data = reply if isinstance(reply, bytes) else reply.encode("latin-1")
        garbage = self._fault_rng.integers(33, 127, size=max(len(data), 4), dtype="uint8")
        return Outcome(reply=self._reply(bytes(garbage)))

    boot_time: ClassVar[float] = 5.0

    def execute(self, message: str) -> str | bytes | None:
        """Run a program message; the joined replies of its queries, or None."""
        replies: list[str | bytes] = []
        path = ""
        try:
            units = split_units(message)
        except ScpiError as err:
            self.queue_error(err.code, err.detail)
            return None
        for unit in units:
            if not unit.strip():
                continue
            try:
                header, param_text = split_header(unit)
                query = header.endswith("?")
                header = header.rstrip("?")
                params = split_params(param_text)
                if header.lstrip(":").startswith("*"):  # common: the path stays
                    result = self._dispatch(COMMON, ":" + header.lstrip(":").upper(), query,
                                            params)
                else:
                    absolute = (header if header.startswith(":") else f"{path}:{header}").upper()
                    path = absolute.rsplit(":", 1)[0]
                    result = self._dispatch(self.commands, absolute, query, params)
                if query:
                    replies.append(result if result is not None else "")
            except ScpiError as err:
                self.queue_error(err.code, err.detail)
                if -200 < err.code <= -100:
                    break
        if not replies:
            return None
        if any(isinstance(r, bytes) for r in replies):
            return b";".join(r if isinstance(r, bytes) else r.encode("latin-1") for r in replies)
        return ";".join(replies)  # type: ignore[arg-type]

    def _dispatch(self, table: CommandTable, header: str, query: bool, params: list[str]
                  ) -> str | bytes | None:
        entry, suffix = table.lookup(header, query)
        if isinstance(entry, Setting):
            return self._setting(entry, header, query, params, suffix)
        assert isinstance(entry, Query | Command)
        types = entry.params
        if entry.variadic:  # the handler parses its own list of values
            handler = getattr(self, entry.handler)
            return handler(Call(header, query, (), tuple(params), suffix))
        if len(params) > len(types):
            raise ScpiError(-108, header.lstrip(":"))
        if len(params) < len(types) - entry.optional:
            raise ScpiError(-109, header.lstrip(":"))
        args = tuple(t.parse(p) for t, p in zip(types, params, strict=False))
        handler: Callable[[Call], Any] = getattr(self, entry.handler)
        return handler(Call(header, query, args, tuple(params), suffix))

    def _setting(self, entry: Setting, header: str, query: bool, params: list[str],
                 suffix: dict[str, int]) -> str | None:
        kind = entry.type_for(suffix)
        key = entry.state_key(suffix)
        if query:
            if params:
                if len(params) > 1 or not isinstance(kind, Number):
                    raise ScpiError(-108, header.lstrip(":"))
                return kind.format(kind.parse(params[0]), self.number_format)
            return kind.format(self.state[key], self.number_format)
        if len(params) != 1:
            raise ScpiError(-109 if not params else -108, header.lstrip(":"))
        value = kind.parse(params[0])
        self.state[key] = value
        if entry.on_change:
            getattr(self, entry.on_change)(key, value)
        return None

    # ----------------------------------------------------------------- transport

    def read_reply(self) -> Reply | None:
        """Pop the next response message, if any."""
        return self.output.popleft() if self.output else None

    def query_unterminated(self) -> None:
        """A read with nothing to answer: -420, as a real instrument queues."""
        self.queue_error(-420)
