"""Raw sockets and serial ports: the terminations (and serial format) are the protocol.

Each binding declares its model's factory link and each emulator its own; they agree. On
SOCKET and ASRL addresses the in-process bench acts only on the model's terminator and
ends a read only at the client's termination, so a wrong termination or serial format
fails here as in a lab, with a message naming the instrument and what labrf used; a
station file's ``init.connection`` fixes it. A reply that never terminates is given up.
"""

from __future__ import annotations

import re
import socket
import threading
from pathlib import Path
from typing import Any

import pytest
import yaml

from labrf.errors import InstrumentError
from labrf.roles import ROLES, Voltmeter
from labrf.roles.transport import REPLY_TIMEOUTS
from labrf.sim.models import MODELS, emulator_class
from labrf.station import check_station, load_station
from labrf.wire import MAX_MESSAGE, Framer, Link, MessageTooLong, link_kind

ROOT = Path(__file__).resolve().parents[2]
SIM_BENCH = ROOT / "station_configs" / "sim_bench.yaml"
SOCKETS = {"rf_source": "TCPIP0::192.168.1.20::5025::SOCKET",
           "spectrum_analyzer": "TCPIP0::192.168.1.21::5025::SOCKET",
           "nanovoltmeter": "TCPIP0::192.168.1.30::4001::SOCKET",  # via a serial server
           "current_source": "TCPIP0::192.168.1.12::1394::SOCKET",
           "smu": "ASRL/dev/ttyUSB1::INSTR", "magnet": "ASRL/dev/ttyUSB2::INSTR",
           "gaussmeter": "ASRL/dev/ttyUSB0::INSTR"}


def _bench_file(tmp_path: Path, *, terminator: dict[str, str] | None = None,
                connection: dict[str, dict[str, Any]] | None = None) -> Path:
    """sim_bench.yaml with every instrument on a raw socket or a serial port."""
    data = yaml.safe_load(SIM_BENCH.read_text())
    for name, address in SOCKETS.items():
        data["instruments"][name]["address"] = address
    for name, term in (terminator or {}).items():
        data["labrf"]["simulation"]["instruments"][name]["terminator"] = term
    for name, options in (connection or {}).items():
        data["instruments"][name]["init"]["connection"] = options
    path = tmp_path / "links.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_every_binding_and_its_emulator_agree_on_the_link() -> None:
    emulators = [emulator_class(model) for model in MODELS]
    checked = 0
    for role in ROLES.values():
        for driver, binding in role.bindings.items():
            twins = [e for e in emulators if re.search(binding.idn, e.idn, re.IGNORECASE)]
            assert twins, f"no emulator answers as a {binding.model} ({driver.__name__})"
            for twin in twins:
                assert twin.link == binding.link, (binding.model, twin.__name__)
                checked += 1
    assert checked >= 8
    assert ROLES["Gaussmeter"].bindings[next(iter(ROLES["Gaussmeter"].bindings))].link == \
        Link("\n", "\n", baud_rate=57600, data_bits=7, parity="odd")
    assert ROLES["Voltmeter"].bindings[next(iter(ROLES["Voltmeter"].bindings))].link \
        .read_termination == "\r"


@pytest.mark.parametrize(("address", "kind"), [
    ("TCPIP0::10.0.0.5::5025::SOCKET", "socket"), ("ASRL/dev/ttyUSB0::INSTR", "serial"),
    ("ASRL3::INSTR", "serial"), ("GPIB0::7::INSTR", None),
    ("TCPIP0::10.0.0.5::inst0::INSTR", None), ("USB0::0x0AAD::0x0054::1234::INSTR", None)])
def test_only_sockets_and_serial_ports_need_terminations(address: str, kind: str | None
                                                         ) -> None:
    assert link_kind(address) == kind


def test_framer_splits_at_the_terminator_and_bounds_a_message() -> None:
    framer = Framer("\r")
    assert framer.feed(b"*IDN?\r\n:READ") == [b"*IDN?"]
    assert framer.feed(b"?\r") == [b":READ?"]
    assert Framer("\n").feed(b"*IDN?\r\n\n") == [b"*IDN?"]
    assert Framer("\n").feed(b"*IDN?\r") == []  # a CR is not an LF instrument's end
    long = Framer("\n", limit=100)
    long.feed(b"x" * 100)
    with pytest.raises(MessageTooLong, match="101 bytes without a LF termination"):
        long.feed(b"y")
    assert long.feed(b"*IDN?\n") == [b"*IDN?"]  # nothing of the runaway message is kept


def test_a_bench_on_sockets_and_serial_ports_answers_with_the_factory_links(tmp_path: Path
                                                                            ) -> None:
    rows = check_station(_bench_file(tmp_path))
    assert all(row.ok for row in rows), [row.state for row in rows if not row.ok]
    with load_station(_bench_file(tmp_path)) as station:
        meter = station.roles["nanovoltmeter"]
        assert meter.link_kind == "socket" and meter.link.read_termination == "\r"
        assert station.roles["gaussmeter"].link.baud_rate == 57600
        assert abs(meter.number("voltage")) < 1.0
        source = station.roles["rf_source"]
        assert source.read("frequency") > 0


def test_a_wrong_termination_fails_naming_the_instrument_and_the_link(tmp_path: Path) -> None:
    path = _bench_file(tmp_path, terminator={"nanovoltmeter": "\n"})  # set to LF on its panel
    rows = {row.name: row for row in check_station(path)}
    assert not rows["nanovoltmeter"].ok
    assert all(row.ok for name, row in rows.items() if name != "nanovoltmeter")
    message = rows["nanovoltmeter"].state
    for fragment in ("nanovoltmeter", "Keithley 2182A", "TCPIP0::192.168.1.30::4001::SOCKET",
                     "no reply to *IDN?", "read CR, write CR", "init.connection"):
        assert fragment in message, message
    fixed = _bench_file(tmp_path, terminator={"nanovoltmeter": "\n"}, connection={
        "nanovoltmeter": {"read_termination": "\n", "write_termination": "\n"}})
    assert all(row.ok for row in check_station(fixed))


def test_a_wrong_serial_format_fails_and_the_station_file_fixes_it(tmp_path: Path) -> None:
    path = _bench_file(tmp_path, connection={"gaussmeter": {"baud_rate": 9600}})
    rows = {row.name: row for row in check_station(path)}
    message = rows["gaussmeter"].state
    assert not rows["gaussmeter"].ok
    assert "gaussmeter" in message and "9600 baud 7O1" in message, message
    right = _bench_file(tmp_path, connection={"gaussmeter": {"baud_rate": 57600,
                                                            "parity": "odd"}})
    assert all(row.ok for row in check_station(right))


def test_a_bus_address_ignores_terminations_it_does_not_need() -> None:
    with load_station(SIM_BENCH) as station:
        assert station.roles["nanovoltmeter"].link_kind is None
        assert abs(station.roles["nanovoltmeter"].number("voltage")) < 1.0


class _Streamer:
    """A raw-socket 'instrument' that answers anything with bytes and no terminator."""

    def __init__(self, endless: bool) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.endless = endless
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        conn, _ = self.listener.accept()
        conn.recv(1024)
        try:
            conn.sendall(b"KEITHLEY INSTRUMENTS INC.,MODEL 2182A,1,C")
            while self.endless:
                conn.sendall(b"0" * 65536)
        except OSError:
            pass
        finally:
            conn.close()

    def close(self) -> None:
        self.listener.close()


@pytest.mark.parametrize("endless", [False, True], ids=["silent", "streaming"])
def test_a_reply_that_never_terminates_is_given_up(endless: bool) -> None:
    streamer = _Streamer(endless)
    try:
        with pytest.raises(InstrumentError) as info:
            Voltmeter("stream_meter", f"TCPIP0::127.0.0.1::{streamer.port}::SOCKET",
                      "labrf.drivers.keithley.Keithley2182", visa_library="@py",
                      timeout=0.5)
    finally:
        streamer.close()
    message = str(info.value)
    assert "stream_meter" in message
    if endless:
        assert "no CR termination" in message, message
        assert f"{REPLY_TIMEOUTS} timeouts" in message or "more than" in message
    else:
        assert "no reply to *IDN?" in message and "read CR" in message, message


def test_the_served_bench_drops_a_message_over_the_bound() -> None:
    from labrf.clock import WallClock
    from labrf.sim.bench import Bench
    from labrf.sim.server import BenchServer

    bench = Bench.from_station_file(SIM_BENCH, clock=WallClock(scale=100))
    with BenchServer(bench) as server:
        endpoint = server.endpoints["magnet"]
        raw = socket.create_connection(("127.0.0.1", endpoint.port), timeout=5)
        raw.sendall(b"*IDN?\n")
        assert raw.recv(100).startswith(b"KEPCO")
        with pytest.raises(OSError):  # the server hangs up: a reset or end of stream
            raw.sendall(b"x" * (MAX_MESSAGE + 10))
            assert raw.recv(100) == b""
            raise ConnectionResetError
        raw.close()
        again = socket.create_connection(("127.0.0.1", endpoint.port), timeout=5)
        again.sendall(b"*IDN")  # no terminator: the instrument waits, says nothing
        again.settimeout(0.3)
        with pytest.raises(TimeoutError):
            again.recv(100)
        again.sendall(b"?\n")
        again.settimeout(5)
        assert again.recv(100).startswith(b"KEPCO")
        again.close()
