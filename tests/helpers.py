"""Shared test helpers: small simulated benches and direct emulator I/O."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pyvisa
import yaml

from labrf.sim.bench import Bench
from labrf.sim.emulator import Emulator

ROOT = Path(__file__).resolve().parents[1]
SIM_BENCH = ROOT / "station_configs" / "sim_bench.yaml"


def labrf_command(*args: str) -> list[str]:
    """The command line of ``labrf ARGS`` in a child process."""
    return [sys.executable, "-m", "labrf.cli", *args]


def make_bench(instruments: dict[str, dict[str, Any]],
               devices: dict[str, dict[str, Any]] | None = None, seed: int = 1,
               noise: bool = True, **extra: Any) -> Bench:
    """A bench from a bare simulation section (instruments carry their ``address``)."""
    section = {"seed": seed, "noise": noise,
               "devices": devices if devices is not None else {"mtj": {"kind": "mtj"}},
               "instruments": instruments, **extra}
    return Bench.from_simulation(section)


def write(emulator: Emulator, message: str) -> None:
    """Send a program message at the bench clock's time; fail if it produced a reply."""
    outcome = emulator.write(message.encode("latin-1"), emulator.world.clock.now())
    assert outcome.reply is None, f"{message!r} produced a reply {outcome.reply}"


def ask(emulator: Emulator, message: str) -> str:
    """Send a query, advance the clock to when the reply is ready, return it (str)."""
    emulator.write(message.encode("latin-1"), emulator.world.clock.now())
    reply = emulator.read_reply()
    assert reply is not None, f"{message!r} gave no reply"
    emulator.world.clock.advance_to(reply.ready_at)
    return reply.data.decode("latin-1").rstrip(emulator.terminator)


def errors(emulator: Emulator) -> list[str]:
    """Drain the error queue through SYST:ERR? and return the non-zero entries."""
    found = []
    while True:
        entry = ask(emulator, "SYST:ERR?")
        if entry.startswith("0,") or entry.startswith("+0,"):
            return found
        found.append(entry)


class Served:
    """`labrf sim serve` in a child process and a station file pointing at it."""

    def __init__(self, tmp_path: Path, scale: float) -> None:
        self.proc = subprocess.Popen(labrf_command("sim", "serve", str(SIM_BENCH),
                                                   "--scale", str(scale)),
                                     stdout=subprocess.PIPE, text=True)
        data = yaml.safe_load(SIM_BENCH.read_text())
        self.endpoints: dict[str, tuple[str, str]] = {}
        for _ in data["instruments"]:
            name, resource, _, termination = self.proc.stdout.readline().split()
            self.endpoints[name] = (resource, termination)
        for name, (resource, _) in self.endpoints.items():
            data["instruments"][name]["address"] = resource
        del data["labrf"]["simulation"]
        data["labrf"]["visa_library"] = "@py"
        self.station = tmp_path / "served.yaml"
        self.station.write_text(yaml.safe_dump(data))

    def ask(self, name: str, query: str) -> str:
        """A query from a plain PyVISA client, with the served termination."""
        resource, termination = self.endpoints[name]
        term = {"LF": "\n", "CR": "\r"}[termination]
        rm = pyvisa.ResourceManager("@py")
        try:
            inst = rm.open_resource(resource, read_termination=term, write_termination=term,
                                    timeout=5000)
            return inst.query(query).strip()
        finally:
            rm.close()

    def stop(self) -> None:
        self.proc.terminate()
        assert self.proc.wait(timeout=10) == 0
