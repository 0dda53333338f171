"""In-process PyVISA backend: ``pyvisa.ResourceManager(bench.visa_library)``.

Sessions talk to the bench's emulators directly, on the bench's clock. With a virtual
clock a read advances instrument time to the moment the reply is ready; a reply not ready
within the session's timeout raises ``VI_ERROR_TMO`` at once (after advancing the clock
by the timeout), as a real read would after waiting.

A session behaves like the resource class its address names. On a bus (GPIB, USB-TMC,
VXI-11) each write is one message and a reply ends with END. On a raw socket
(``...::SOCKET``) or a serial port (``ASRL...``) there is no END: the instrument acts on
a message only when its terminator arrives (bytes without it wait, up to
:data:`labrf.wire.MAX_MESSAGE`, beyond which the link drops), and a read ends only at the
client's termination character, so a wrong termination times out as it does in a lab. A
serial session whose baud rate, data bits, parity, stop bits or flow control differ from
the instrument's delivers nothing it can parse.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pyvisa import constants, errors, rname
from pyvisa.highlevel import VisaLibraryBase
from pyvisa.typing import VISARMSession, VISASession
from pyvisa.util import LibraryPath

from labrf.errors import ResourceNotFound
from labrf.wire import Framer, MessageTooLong, link_kind

if TYPE_CHECKING:
    from labrf.sim.bench import Bench
    from labrf.sim.emulator import Emulator

StatusCode = constants.StatusCode
_counter = itertools.count(1)

_DEFAULT_ATTRIBUTES: dict[int, Any] = {
    constants.VI_ATTR_TMO_VALUE: 2000,
    constants.VI_ATTR_TERMCHAR: ord("\n"),
    constants.VI_ATTR_TERMCHAR_EN: constants.VI_FALSE,
    constants.VI_ATTR_SEND_END_EN: constants.VI_TRUE,
    constants.VI_ATTR_SUPPRESS_END_EN: constants.VI_FALSE,
    constants.VI_ATTR_IO_PROT: constants.IOProtocol.normal,
    constants.VI_ATTR_RD_BUF_SIZE: 4096,
    constants.VI_ATTR_WR_BUF_SIZE: 4096,
}
#: The VISA attribute behind each serial option of ``labrf.wire.Link.visa_options``.
_SERIAL_OPTIONS = {"baud_rate": constants.VI_ATTR_ASRL_BAUD,
                   "data_bits": constants.VI_ATTR_ASRL_DATA_BITS,
                   "parity": constants.VI_ATTR_ASRL_PARITY,
                   "stop_bits": constants.VI_ATTR_ASRL_STOP_BITS,
                   "flow_control": constants.VI_ATTR_ASRL_FLOW_CNTRL}
#: A serial port's attributes before the client sets them (VISA's defaults).
_SERIAL_ATTRIBUTES: dict[int, Any] = {
    constants.VI_ATTR_ASRL_BAUD: 9600,
    constants.VI_ATTR_ASRL_DATA_BITS: 8,
    constants.VI_ATTR_ASRL_PARITY: constants.Parity.none,
    constants.VI_ATTR_ASRL_STOP_BITS: constants.StopBits.one,
    constants.VI_ATTR_ASRL_FLOW_CNTRL: constants.ControlFlow.none,
    constants.VI_ATTR_ASRL_END_IN: constants.SerialTermination.termination_char,
    constants.VI_ATTR_ASRL_END_OUT: constants.SerialTermination.none,
}


@dataclass
class _Session:
    emulator: Emulator
    resource_name: str
    attributes: dict[int, Any] = field(default_factory=lambda: dict(_DEFAULT_ATTRIBUTES))
    pending: bytes = b""
    dropped: bool = False
    kind: str | None = None  #: "socket", "serial" or None (a bus with END)
    framer: Framer | None = None  #: the instrument's input side on a socket or serial port


class BenchVisaLibrary(VisaLibraryBase):
    """A PyVISA library whose resources are the emulated instruments of one bench."""

    bench: Bench
    sessions: dict[int, Any]

    @staticmethod
    def get_library_paths() -> tuple[LibraryPath, ...]:
        return (LibraryPath("labrf-bench"),)

    @staticmethod
    def get_debug_info() -> dict[str, str]:
        return {"backend": "labrf simulated bench (in-process)"}

    @classmethod
    def for_bench(cls, bench: Bench) -> BenchVisaLibrary:
        """A new library bound to ``bench`` (PyVISA caches libraries by path)."""
        library = cls(f"labrf-bench-{next(_counter)}")
        library.bench = bench
        return library

    def release(self) -> None:
        """Drop this library from PyVISA's registry."""
        VisaLibraryBase._registry.pop((type(self), self.library_path), None)

    def _init(self) -> None:
        self.sessions = {}
        self._handles = itertools.count(1000)

    # ------------------------------------------------------------ resource manager

    def open_default_resource_manager(self) -> tuple[VISARMSession, StatusCode]:
        session = VISARMSession(next(self._handles))
        self.sessions[session] = None
        return session, self.handle_return_value(session, StatusCode.success)

    def list_resources(self, session: VISARMSession, query: str = "?*::INSTR"
                       ) -> tuple[str, ...]:
        return tuple(rname.filter(list(self.bench.addresses.values()), query))

    def open(self, session: VISARMSession, resource_name: str,
             access_mode: constants.AccessModes = constants.AccessModes.no_lock,
             open_timeout: int = constants.VI_TMO_IMMEDIATE
             ) -> tuple[VISASession, StatusCode]:
        try:
            emulator = self.bench.find(resource_name)
        except ResourceNotFound:  # as a VISA library does: the open raises
            raise errors.VisaIOError(StatusCode.error_resource_not_found) from None
        handle = VISASession(next(self._handles))
        kind = link_kind(resource_name)
        sess = _Session(emulator, resource_name, kind=kind,
                        framer=Framer(emulator.terminator) if kind else None)
        if kind == "serial":
            sess.attributes.update(_SERIAL_ATTRIBUTES)
        self.sessions[handle] = sess
        return handle, StatusCode.success

    def close(self, session: Any) -> StatusCode:
        if self.sessions.pop(session, "missing") == "missing":
            return StatusCode.error_invalid_object
        return StatusCode.success

    # ------------------------------------------------------------------ I/O

    def _session(self, session: Any) -> _Session:
        try:
            sess = self.sessions[session]
        except KeyError:
            raise errors.VisaIOError(StatusCode.error_invalid_object) from None
        if sess.dropped:
            raise errors.VisaIOError(StatusCode.error_connection_lost)
        return sess

    def write(self, session: VISASession, data: bytes) -> tuple[int, StatusCode]:
        sess = self._session(session)
        messages = [bytes(data)]
        if sess.framer is not None:
            if sess.kind == "serial" and not _same_format(sess):
                return len(data), self.handle_return_value(session, StatusCode.success)
            try:
                messages = sess.framer.feed(bytes(data))
            except MessageTooLong:
                sess.dropped = True
                raise errors.VisaIOError(StatusCode.error_connection_lost) from None
        for message in messages:
            with self.bench.lock:
                sess.pending = b""
                outcome = sess.emulator.write(message, self.bench.clock.now())
            if outcome.dropped:
                sess.dropped = True
                raise errors.VisaIOError(StatusCode.error_connection_lost)
        return len(data), self.handle_return_value(session, StatusCode.success)

    def read(self, session: VISASession, count: int) -> tuple[bytes, StatusCode]:
        sess = self._session(session)
        clock = self.bench.clock
        if not sess.pending:
            timeout = sess.attributes[constants.VI_ATTR_TMO_VALUE]
            timeout_s = float("inf") if timeout == constants.VI_TMO_INFINITE else timeout / 1e3
            with self.bench.lock:
                reply = sess.emulator.read_reply()
                if reply is None:
                    if sess.kind is None:  # IEEE 488.2: a read with no query pending
                        sess.emulator.query_unterminated()
                elif reply.ready_at - clock.now() > timeout_s:
                    sess.emulator.output.appendleft(reply)
                    reply = None
            if reply is None:
                clock.sleep(timeout_s if timeout_s != float("inf") else 0.0)
                raise errors.VisaIOError(StatusCode.error_timeout)
            clock.advance_to(reply.ready_at)
            sess.pending = reply.data
        data = sess.pending[:count]
        status = StatusCode.success_max_count_read
        found = False
        if sess.attributes[constants.VI_ATTR_TERMCHAR_EN]:
            term = sess.attributes[constants.VI_ATTR_TERMCHAR]
            index = data.find(bytes([term]))
            if index >= 0:
                data = data[:index + 1]
                status = StatusCode.success_termination_character_read
                found = True
        if sess.kind is not None and not found and len(data) < count:
            timeout = sess.attributes[constants.VI_ATTR_TMO_VALUE]
            clock.sleep(0.0 if timeout == constants.VI_TMO_INFINITE else timeout / 1e3)
            raise errors.VisaIOError(StatusCode.error_timeout)  # no END on this link
        sess.pending = sess.pending[len(data):]
        if not sess.pending and sess.kind is None:
            status = StatusCode.success
        return data, self.handle_return_value(session, status)

    def clear(self, session: VISASession) -> StatusCode:
        sess = self._session(session)
        with self.bench.lock:
            sess.pending = b""
            sess.emulator.output.clear()
        return self.handle_return_value(session, StatusCode.success)

    def flush(self, session: VISASession, mask: constants.BufferOperation) -> StatusCode:
        return self.handle_return_value(session, StatusCode.success)

    def read_stb(self, session: VISASession) -> tuple[int, StatusCode]:
        sess = self._session(session)
        with self.bench.lock:
            stb = sess.emulator.status_byte()
        return stb, self.handle_return_value(session, StatusCode.success)

    def assert_trigger(self, session: VISASession, protocol: constants.TriggerProtocol
                       ) -> StatusCode:
        sess = self._session(session)
        with self.bench.lock:
            sess.emulator.trigger()
        return self.handle_return_value(session, StatusCode.success)

    def get_attribute(self, session: Any, attribute: Any) -> tuple[Any, StatusCode]:
        sess = self.sessions.get(session)
        if sess is None:
            return 0, StatusCode.error_invalid_object
        if attribute == constants.VI_ATTR_RSRC_NAME:
            return sess.resource_name, StatusCode.success
        if attribute not in sess.attributes:
            return 0, StatusCode.error_nonsupported_attribute
        return sess.attributes[attribute], StatusCode.success

    def set_attribute(self, session: Any, attribute: Any, attribute_state: Any) -> StatusCode:
        sess = self.sessions.get(session)
        if sess is None:
            return StatusCode.error_invalid_object
        sess.attributes[attribute] = attribute_state
        return StatusCode.success

    def disable_event(self, session: Any, event_type: Any, mechanism: Any) -> StatusCode:
        return StatusCode.success

    def discard_events(self, session: Any, event_type: Any, mechanism: Any) -> StatusCode:
        return StatusCode.success


def _same_format(sess: _Session) -> bool:
    """Whether a serial session's line format is the instrument's."""
    wanted = sess.emulator.link.visa_options("serial")
    return all(int(sess.attributes[attribute]) == int(wanted[option])
               for option, attribute in _SERIAL_OPTIONS.items())
