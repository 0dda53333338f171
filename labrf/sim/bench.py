"""A simulated bench: one world and the emulated instruments at their VISA addresses."""

from __future__ import annotations

import re
import threading
from pathlib import Path
from typing import Any

from pyvisa import rname

from labrf.clock import Clock
from labrf.errors import ConfigError, ResourceNotFound
from labrf.sim.config import (
    SimulationConfig,
    load_simulation,
    parse_simulation,
    simulation_from_station,
)
from labrf.sim.emulator import Emulator
from labrf.sim.faults import FaultRule
from labrf.sim.models import emulator_class
from labrf.sim.world import World

_RESOURCE_CLASS = re.compile(r"::(instr|socket|intfc|backplane|servant|raw)$", re.IGNORECASE)


def canonical_address(address: str) -> str:
    """VISA's canonical form of a resource name, upper case, for comparing addresses
    (``gpib::7::instr`` -> ``GPIB0::7::INSTR``); VISA resource names ignore case."""
    text = _RESOURCE_CLASS.sub(lambda m: m.group(0).upper(), address.strip())
    try:
        return rname.to_canonical_name(text).upper()
    except (rname.InvalidResourceName, ValueError):
        return text.upper()


class Bench:
    """Emulators of a station's instruments, sharing one simulated world.

    ``visa_library`` is a PyVISA library: ``pyvisa.ResourceManager(bench.visa_library)``
    opens the simulated instruments at the addresses of the station file.
    """

    def __init__(self, config: SimulationConfig, clock: Clock | None = None) -> None:
        self.config = config
        self.world = World(config, clock)
        self.lock = threading.RLock()
        self.emulators: dict[str, Emulator] = {}
        self._by_address: dict[str, Emulator] = {}
        for name, inst in config.instruments.items():
            emulator = emulator_class(inst.model)(name, self.world, inst.wiring,
                                                  inst.terminator)
            self.emulators[name] = emulator
            self._by_address[canonical_address(inst.address)] = emulator
        self._library: Any = None

    @classmethod
    def from_station_file(cls, path: str | Path, clock: Clock | None = None) -> Bench:
        """The simulated bench of a station file's ``labrf.simulation`` section."""
        return cls(load_simulation(path), clock)

    @classmethod
    def from_station(cls, data: dict[str, Any], clock: Clock | None = None,
                     file: str | None = None) -> Bench:
        """The simulated bench of a station mapping (already read from YAML)."""
        return cls(simulation_from_station(data, file), clock)

    @classmethod
    def from_simulation(cls, section: dict[str, Any], clock: Clock | None = None) -> Bench:
        """A bench from a bare simulation section whose instruments carry ``address``."""
        return cls(parse_simulation(section, {}), clock)

    @property
    def clock(self) -> Any:
        return self.world.clock

    @property
    def addresses(self) -> dict[str, str]:
        """Instrument name -> VISA address."""
        return {name: inst.address for name, inst in self.config.instruments.items()}

    def address(self, name: str) -> str:
        """The VISA address of instrument ``name``."""
        try:
            return self.config.instruments[name].address
        except KeyError:
            raise ConfigError(f"no simulated instrument named '{name}'; valid: "
                              f"{', '.join(self.emulators)}") from None

    def find(self, address: str) -> Emulator:
        """The emulator answering at a VISA address."""
        try:
            return self._by_address[canonical_address(address)]
        except KeyError:
            raise ResourceNotFound(
                f"no simulated instrument at {address}; the bench has "
                + ", ".join(f"{n} at {a}" for n, a in self.addresses.items())) from None

    def inject_fault(self, instrument: str, rule: FaultRule) -> FaultRule:
        """Add a fault rule to an instrument; returns it (its counters show what fired)."""
        if instrument not in self.emulators:
            raise ConfigError(f"no simulated instrument named '{instrument}'; valid: "
                              f"{', '.join(self.emulators)}")
        self.emulators[instrument].faults.append(rule)
        return rule

    @property
    def visa_library(self) -> Any:
        """The in-process PyVISA library of this bench (made on first use)."""
        if self._library is None:
            from labrf.sim.visa_backend import BenchVisaLibrary

            self._library = BenchVisaLibrary.for_bench(self)
        return self._library

    def describe(self) -> dict[str, Any]:
        """Ground truth: the world's true device parameters, wiring and events."""
        return self.world.describe()

    def close(self) -> None:
        """Release the VISA library (PyVISA keeps a registry of libraries)."""
        if self._library is not None:
            self._library.release()
            self._library = None
