"""Loopback TCP transport: one raw-socket port per instrument, framed as the model is.

External clients (another process, pyvisa-py, a lab's own scripts) reach the simulated
instruments at ``TCPIP0::127.0.0.1::<port>::SOCKET``. Each instrument acts on a message
only when its terminator arrives (LF for most models, CR for the 2182A: see
``Endpoint.termination``) and ends each reply with it; a message longer than
:data:`labrf.wire.MAX_MESSAGE` bytes without one drops the connection. The server runs
the bench on the wall clock (optionally scaled): a reply is sent when the instrument
would have it ready. It binds 127.0.0.1 only.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
from dataclasses import dataclass

from labrf.errors import SimulationError
from labrf.sim.bench import Bench
from labrf.sim.emulator import Emulator
from labrf.wire import TERMINATIONS, Framer, MessageTooLong

log = logging.getLogger(__name__)
HOST = "127.0.0.1"


@dataclass
class Endpoint:
    """One instrument's listening socket."""

    name: str
    port: int
    terminator: str = "\n"  #: ends what the instrument sends and what it accepts

    @property
    def termination(self) -> str:
        """The terminator's name: LF, CR, CRLF or LFCR."""
        return TERMINATIONS[self.terminator]

    @property
    def resource(self) -> str:
        return f"TCPIP0::{HOST}::{self.port}::SOCKET"


class BenchServer:
    """Serves every emulator of ``bench`` on its own loopback port (0: any free port)."""

    def __init__(self, bench: Bench, ports: dict[str, int] | None = None) -> None:
        self.bench = bench
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._listeners: list[socket.socket] = []
        self._connections: set[socket.socket] = set()
        self.endpoints: dict[str, Endpoint] = {}
        for name in bench.emulators:
            listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            port = (ports or {}).get(name, 0)
            try:
                listener.bind((HOST, port))
            except (OSError, OverflowError) as exc:
                listener.close()
                for opened in self._listeners:
                    opened.close()
                raise SimulationError(f"cannot serve instrument {name!r} on {HOST}:{port}: "
                                      f"{exc} (ports 1 to 65535 that are free, or 0 for any "
                                      "free one)") from None
            listener.listen()
            listener.settimeout(0.2)
            self._listeners.append(listener)
            self.endpoints[name] = Endpoint(name, listener.getsockname()[1],
                                            bench.emulators[name].terminator)

    def start(self) -> BenchServer:
        """Start accepting connections in background threads."""
        for listener, (name, _) in zip(self._listeners, self.endpoints.items(), strict=True):
            thread = threading.Thread(target=self._accept, args=(listener, name),
                                      name=f"labrf-sim-{name}", daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def _accept(self, listener: socket.socket, name: str) -> None:
        emulator = self.bench.emulators[name]
        while not self._stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self._connections.add(conn)
            threading.Thread(target=self._serve, args=(conn, emulator), daemon=True).start()

    def _serve(self, conn: socket.socket, emulator: Emulator) -> None:
        framer = Framer(emulator.terminator)
        conn.settimeout(0.2)
        try:
            while not self._stop.is_set():
                try:
                    chunk = conn.recv(65536)
                except TimeoutError:
                    continue
                if not chunk:
                    return
                for message in framer.feed(chunk):
                    if not self._handle(conn, emulator, message):
                        return
        except MessageTooLong as exc:
            log.warning("%s: dropping the connection: %s", emulator.name, exc)
        except OSError:
            return
        finally:
            self._connections.discard(conn)
            conn.close()

    def _handle(self, conn: socket.socket, emulator: Emulator, message: bytes) -> bool:
        """Run one message; False when the connection must close (a dropped link)."""
        clock = self.bench.clock
        with self.bench.lock:
            outcome = emulator.write(message, clock.now())
            reply = emulator.read_reply() if outcome.reply is not None else None
        if outcome.dropped:
            return False
        if reply is not None:
            clock.advance_to(reply.ready_at)
            conn.sendall(reply.data)
        return True

    def stop(self) -> None:
        """Stop serving and close every socket."""
        self._stop.set()
        for sock in [*self._listeners, *self._connections]:
            with contextlib.suppress(OSError):
                sock.close()
        for thread in self._threads:
            thread.join(timeout=2)

    def __enter__(self) -> BenchServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
