"""Shared test helpers: small simulated benches and direct emulator I/O."""

from __future__ import annotations

from typing import Any

from labrf.sim.bench import Bench
from labrf.sim.emulator import Emulator


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
