"""Station files: QCoDeS station YAML naming roles, drivers, addresses and limits.

A station file is a QCoDeS ``instruments:`` section whose ``type`` names a labrf role
(``labrf.roles.RFSource``...) and whose ``init`` names the driver, plus a ``labrf:``
section with the device limits (which may only narrow the hard limits) and, for a
simulated bench, the simulated world. The same file shape serves a real lab: without a
``simulation`` section the instruments open on the system's VISA library.

``read_station`` validates a file without connecting anything; ``load_station`` connects
every instrument and returns a :class:`LabStation`; ``check_station`` connects each
instrument on its own and reports, for ``labrf station check``.
"""

from __future__ import annotations

import contextlib
import inspect
import io
import json
import logging
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jsonschema
import yaml
from pyvisa import rname
from qcodes.instrument import Instrument
from qcodes.station import SCHEMA_TEMPLATE_PATH, Station

from labrf.clock import Clock, WallClock
from labrf.errors import ConfigError, LabrfError, SafeStateError
from labrf.network.files import CHIP_KEYS, ChipSpecError, chip_design
from labrf.network.layered import LayeredNetwork
from labrf.roles import (
    ROLES,
    CurrentSource,
    FieldCoil,
    Gaussmeter,
    KnobBank,
    MultitoneSource,
    RFSource,
    SwitchMatrix,
)
from labrf.roles.base import Role, driver_path, import_object
from labrf.roles.limits import HARD_LIMITS, Limits, narrow
from labrf.roles.switch_matrix import ON_LOAD
from labrf.shipped import station_path
from labrf.signals import shielded
from labrf.sim.bench import Bench, canonical_address
from labrf.sim.config import SimulationConfig, parse_simulation, read_yaml
from labrf.units import format_quantity, to_si
from labrf.wire import override

log = logging.getLogger(__name__)

TOP_KEYS = ("instruments", "labrf")
LABRF_KEYS = ("limits", "simulation", "visa_library", "chip")
#: Instrument keys of the QCoDeS schema that labrf accepts.
INSTRUMENT_KEYS = ("type", "address", "init", "parameters", "add_parameters",
                   "enable_forced_reconnect")
#: Parameter attributes a station file may set: the others (limits, scale, offset, step,
#: inter_delay, post_delay) would bypass a role's limits, units or clock.
PARAMETER_KEYS = ("label", "monitor", "initial_value")
#: Parameters a station file may not give an initial value: loading a station (or
#: checking it) never switches an output on; procedures do that.
NO_INITIAL_VALUE = ("output",)
#: Init options bounded by a limit: option -> (role, limit field).
RATE_LIMITS = {("CurrentSource", "ramp_rate"): "current_ramp_rate",
               ("FieldCoil", "ramp_rate"): "field_ramp_rate"}
#: Init options in SI units, per role (the role converts them the same way).
OPTION_UNITS: dict[str, dict[str, str]] = {
    "RFSource": {"attenuation": "dB"},
    "CurrentSource": {"ramp_rate": "A/s"},
    "FieldCoil": {"field_per_current": "T/A", "field_offset": "T", "voltage_limit": "V",
                  "ramp_rate": "T/s"},
}
#: Init options the station sets itself.
STATION_SET = ("name", "address", "visa_library", "clock")
#: Safe-state order: RF off first, then currents, then fields.
SAFE_ORDER = (RFSource, MultitoneSource, CurrentSource, KnobBank, FieldCoil)


@dataclass
class InstrumentSpec:
    """One validated ``instruments:`` entry."""

    name: str
    role: type[Role]
    driver: str
    address: str
    options: dict[str, Any]  #: init options in SI units (limits as a Limits)
    gaussmeter: str | None = None  #: FieldCoil: the name of its gaussmeter

    @property
    def key(self) -> str:
        return f"instruments.{self.name}"


@dataclass
class StationSpec:
    """A validated station file: nothing connected yet."""

    file: str
    instruments: dict[str, InstrumentSpec]
    limits: Limits
    simulation: SimulationConfig | None
    visa_library: str = ""
    raw: dict[str, Any] = field(default_factory=dict)
    #: the design of the network chip on the bench (``labrf.chip``), if any
    chip: LayeredNetwork | None = None


class KeyChecker:
    """Builds ConfigErrors naming a file and a dotted key (station and campaign files)."""

    def __init__(self, file: str) -> None:
        self.file = file

    def fail(self, key: str, message: str) -> ConfigError:
        return ConfigError(message, file=self.file, key=key)

    def mapping(self, value: Any, key: str, optional: bool = False) -> dict[str, Any]:
        if value is None and optional:
            return {}
        if not isinstance(value, dict):
            raise self.fail(key, f"must be a mapping, got {type(value).__name__}")
        return value

    def only(self, data: dict[str, Any], key: str, allowed: tuple[str, ...]) -> None:
        for name in data:
            if name not in allowed:
                raise self.fail(f"{key}.{name}" if key else str(name),
                                f"unknown key; valid: {', '.join(allowed)}")


def _schema_check(c: KeyChecker, instruments: dict[str, Any]) -> None:
    """QCoDeS's own station schema, its first violation reported by key."""
    schema = json.loads(Path(SCHEMA_TEMPLATE_PATH).read_text())
    errors = sorted(jsonschema.Draft7Validator(schema).iter_errors(
        {"instruments": instruments}), key=lambda e: list(e.absolute_path))
    if errors:
        error = errors[0]
        path = ".".join(str(p) for p in error.absolute_path) or "instruments"
        raise c.fail(path, f"QCoDeS station schema: {error.message}")


def _role_options(role: type[Role]) -> list[str]:
    names: list[str] = []
    for cls in (role, Role):
        for p in inspect.signature(cls.__init__).parameters.values():
            if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD) and p.name not in (
                    "self", *STATION_SET) and p.name not in names:
                names.append(p.name)
    return names


def _instrument(c: KeyChecker, name: str, entry: dict[str, Any], limits: Limits
                ) -> InstrumentSpec:
    key = f"instruments.{name}"
    c.only(entry, key, INSTRUMENT_KEYS)
    valid_roles = ", ".join(f"labrf.roles.{r}" for r in ROLES)
    try:
        role = import_object(entry["type"], "role")
    except LabrfError as exc:
        raise c.fail(f"{key}.type", f"{exc}; valid roles: {valid_roles}") from None
    if not (isinstance(role, type) and issubclass(role, Role) and role is not Role):
        raise c.fail(f"{key}.type", f"'{entry['type']}' is not a labrf role; valid roles: "
                                    f"{valid_roles}")
    address = entry.get("address")
    if not isinstance(address, str) or not address.strip():
        raise c.fail(f"{key}.address", "missing: every instrument needs a VISA address such "
                                       "as 'GPIB0::7::INSTR' or 'TCPIP0::10.0.0.5::inst0::INSTR'")
    _check_address(c, f"{key}.address", address.strip())
    init = dict(c.mapping(entry.get("init"), f"{key}.init", optional=True))
    drivers = ", ".join(driver_path(d) for d in role.bindings)
    if "driver" not in init:
        raise c.fail(f"{key}.init.driver", f"missing: name the driver of this "
                                           f"{role.role}; drivers it knows: {drivers}")
    driver = init.pop("driver")
    try:
        role.binding_for(import_object(driver, "driver"))
    except LabrfError as exc:
        raise c.fail(f"{key}.init.driver", str(exc)) from None
    allowed = _role_options(role)
    for option in init:
        if option not in allowed:
            raise c.fail(f"{key}.init.{option}", f"unknown option of {role.__name__}; valid: "
                                                 f"driver, {', '.join(allowed)}")
    units = {"timeout": "s", **OPTION_UNITS.get(role.__name__, {})}
    options: dict[str, Any] = {}
    for option, value in init.items():
        if option in units:
            try:
                options[option] = to_si(value, units[option])
            except LabrfError as exc:
                raise c.fail(f"{key}.init.{option}", str(exc)) from None
        elif option not in ("limits", "gaussmeter"):
            options[option] = value
    options["limits"] = narrow(limits, init.get("limits"), file=c.file,
                               key=f"{key}.init.limits")
    for (role_name, option), limit_name in RATE_LIMITS.items():
        ceiling = getattr(options["limits"], limit_name)
        if role.__name__ == role_name and option in options and not (
                0 < options[option] <= ceiling):
            top = format_quantity(ceiling, units[option])
            raise c.fail(f"{key}.init.{option}",
                         f"{init[option]!r} is outside (0, {top}] (the {limit_name} limit)")
    if "connection" in init:
        try:
            override(role.binding_for(import_object(driver, "driver")).link,
                     init["connection"], f"{key}.init.connection", address.strip())
        except ConfigError as exc:
            raise c.fail(exc.key or f"{key}.init.connection", exc.reason) from None
    if role is SwitchMatrix and init.get("on_load", "raise") not in ON_LOAD:
        raise c.fail(f"{key}.init.on_load", f"{init['on_load']!r}; valid: "
                                            f"{', '.join(ON_LOAD)}")
    if role is FieldCoil and options.get("field_per_current") == 0:
        raise c.fail(f"{key}.init.field_per_current", "must not be zero")
    for section in ("parameters", "add_parameters"):
        for pname, attrs in c.mapping(entry.get(section), f"{key}.{section}",
                                      optional=True).items():
            for attr in c.mapping(attrs, f"{key}.{section}.{pname}"):
                if attr == "initial_value" and pname in NO_INITIAL_VALUE:
                    raise c.fail(f"{key}.{section}.{pname}.{attr}",
                                 "a station file may not switch an output on (loading or "
                                 "checking a station must leave outputs as they are)")
                if attr not in PARAMETER_KEYS:
                    raise c.fail(f"{key}.{section}.{pname}.{attr}",
                                 f"not allowed on a labrf role (it would bypass the role's "
                                 f"limits, units or clock; set limits under labrf.limits); "
                                 f"allowed: {', '.join(PARAMETER_KEYS)}")
    return InstrumentSpec(name, role, driver, address.strip(), options,
                          init.get("gaussmeter"))


def _finite_everywhere(c: KeyChecker, value: Any, key: str) -> None:
    """ConfigError naming the first key whose value is NaN or infinite (YAML's .nan and
    .inf), anywhere in the file."""
    if isinstance(value, float) and not math.isfinite(value):
        raise c.fail(key, f"{value} is not a finite number; give a value such as 3 or "
                          f"'3 dB'")
    if isinstance(value, dict):
        for name, item in value.items():
            _finite_everywhere(c, item, f"{key}.{name}" if key else str(name))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _finite_everywhere(c, item, f"{key}[{index}]")


def _check_address(c: KeyChecker, key: str, address: str) -> None:
    """ConfigError unless ``address`` is a VISA resource string."""
    try:
        rname.parse_resource_name(address)
    except ValueError as exc:  # rname.InvalidResourceName is one
        raise c.fail(key, f"{address!r} is not a VISA resource string ({exc}); e.g. "
                          f"'GPIB0::7::INSTR', 'TCPIP0::10.0.0.5::inst0::INSTR', "
                          f"'TCPIP0::10.0.0.5::5025::SOCKET', 'ASRL/dev/ttyUSB0::INSTR'"
                     ) from None


def parse_station(data: Any, file: str) -> StationSpec:
    """Validate a station mapping read from ``file``."""
    c = KeyChecker(file)
    data = c.mapping(data, "")
    c.only(data, "", TOP_KEYS)
    _finite_everywhere(c, data, "")
    if data.get("instruments") is None:
        raise c.fail("instruments", "missing: a station file names its instruments under "
                                    "'instruments:' (QCoDeS station format)")
    instruments = c.mapping(data.get("instruments"), "instruments")
    if not instruments:
        raise c.fail("instruments", "empty: name at least one instrument")
    for name in instruments:
        if not isinstance(name, str) or not name.isidentifier():
            raise c.fail(f"instruments.{name}", "an instrument name must be a Python "
                                                "identifier (letters, digits and _, not "
                                                "starting with a digit)")
    _schema_check(c, instruments)
    section = c.mapping(data.get("labrf"), "labrf", optional=True)
    c.only(section, "labrf", LABRF_KEYS)
    limits = narrow(HARD_LIMITS, section.get("limits"), file=file, key="labrf.limits")
    specs = {name: _instrument(c, name, entry, limits) for name, entry in instruments.items()}
    seen: dict[str, str] = {}
    for spec in specs.values():
        canonical = canonical_address(spec.address)
        if canonical in seen:
            raise c.fail(f"{spec.key}.address", f"{spec.address} is already the address of "
                                                f"'{seen[canonical]}'")
        seen[canonical] = spec.name
        if spec.role is FieldCoil:
            gauss = spec.gaussmeter
            meters = [s.name for s in specs.values() if s.role is Gaussmeter]
            if gauss is not None and gauss not in meters:
                raise c.fail(f"{spec.key}.init.gaussmeter",
                             f"'{gauss}' is not a Gaussmeter of this station; its "
                             f"gaussmeters: {', '.join(meters) or 'none'}")
            if "field_per_current" not in spec.options:
                raise c.fail(f"{spec.key}.init.field_per_current",
                             "missing: the coil's calibration, e.g. '25 mT/A'")
    simulation = None
    if "simulation" in section:
        addresses = {name: spec.address for name, spec in specs.items()}
        simulation = parse_simulation(section["simulation"], addresses, file)
        served = {canonical_address(i.address): n for n, i in simulation.instruments.items()}
        for spec in specs.values():
            if canonical_address(spec.address) not in served:
                raise c.fail(f"{spec.key}.address",
                             f"no simulated instrument answers at {spec.address}; the "
                             f"simulation serves {', '.join(served) or 'nothing'}")
    visa_library = section.get("visa_library") or ""
    if not isinstance(visa_library, str):
        raise c.fail("labrf.visa_library", "must be a PyVISA library string such as '@py'")
    return StationSpec(file, specs, limits, simulation, visa_library, data,
                       _chip(c, section.get("chip"), file))


def _chip(c: KeyChecker, value: Any, file: str) -> LayeredNetwork | None:
    """The design of the network chip on the bench (``labrf.chip``), if the station has
    one: its ``layers`` or a ``network`` file (relative to the station file)."""
    if value is None:
        return None
    spec = c.mapping(value, "labrf.chip")
    c.only(spec, "labrf.chip", list(CHIP_KEYS))
    try:
        return chip_design(spec, Path(file).parent)[0]
    except ChipSpecError as exc:
        raise c.fail(f"labrf.chip.{exc.key}", str(exc)) from None


def read_station(path: str | Path) -> StationSpec:
    """Read and validate a station file without connecting any instrument."""
    path = station_path(path)
    return parse_station(read_yaml(path), str(path))


class LabStation(Station):
    """A QCoDeS station of labrf roles, with its clock, limits and (if simulated) bench.

    Used as a context manager it leaves every instrument in its safe state and closes it.
    """

    def __init__(self, spec: StationSpec, bench: Bench | None, clock: Clock) -> None:
        super().__init__()
        self.spec, self.bench, self.clock = spec, bench, clock
        self.roles: dict[str, Role] = {}
        instruments = {name: spec.raw["instruments"][name] for name in spec.instruments}
        buffer = io.StringIO()
        yaml.safe_dump({"instruments": instruments}, buffer)
        self.load_config(buffer.getvalue())

    @property
    def visa_library(self) -> Any:
        return self.bench.visa_library if self.bench is not None else self.spec.visa_library

    def open(self, name: str, *, with_gaussmeter: bool = True) -> Role:
        """Connect instrument ``name`` (a ConfigError names the file, key and address);
        a field coil without its gaussmeter when ``with_gaussmeter`` is false."""
        spec = self.spec.instruments[name]
        if Instrument.exist(name):
            raise ConfigError(f"an instrument named '{name}' is already open in this process "
                              f"(QCoDeS instrument names are global); close the station "
                              f"that holds it first", file=self.spec.file, key=spec.key)
        extra: dict[str, Any] = {}
        if spec.gaussmeter is not None and with_gaussmeter:
            extra["gaussmeter"] = self.roles.get(spec.gaussmeter) or self.open(spec.gaussmeter)
        try:
            role = self.load_instrument(name, visa_library=self.visa_library, clock=self.clock,
                                        **spec.options, **extra)
        except (LabrfError, AttributeError, RuntimeError, TypeError, ValueError) as exc:
            if Instrument.exist(name):  # made, then its `parameters:` setup failed
                Instrument.find_instrument(name).close()
            raise ConfigError(f"instrument '{name}' ({spec.role.__name__}, {spec.driver}) "
                              f"at {spec.address}: {exc}", file=self.spec.file,
                              key=spec.key) from exc
        assert isinstance(role, Role)
        if isinstance(role, SwitchMatrix):
            role.energized, role.make_safe = self.energized, self.safe_state
        self.roles[name] = role
        return role

    def energized(self) -> list[str]:
        """What is on that a switch matrix would route: RF and multitone sources with their
        output on, current sources and knob banks with their output on (read fresh from
        each instrument)."""
        on = [f"{r.name}: RF on" for r in (*self.by_role(RFSource),
                                            *self.by_role(MultitoneSource))
              if r.read("output")]
        on += [f"{r.name}: output on" for r in self.by_role(KnobBank) if r.read("output")]
        return on + [f"{r.name}: output on at {format_quantity(r.number('current'), 'A')}"
                     for r in self.by_role(CurrentSource) if r.read("output")]

    def by_role(self, role: type[Role]) -> list[Role]:
        """The connected instruments of one role."""
        return [r for r in self.roles.values() if isinstance(r, role)]

    def safe_order(self) -> list[Role]:
        """The connected instruments in the order they are made safe: RF and multitone
        sources, current sources and knob banks, field coils, then the rest."""
        ordered = [r for kind in SAFE_ORDER for r in self.by_role(kind)]
        return ordered + [r for r in self.roles.values() if r not in ordered]

    def safe_state(self) -> None:
        """RF off, then every current and field ramped to zero at its rate.

        Every instrument is tried even if one fails; SafeStateError lists the failures.
        """
        failures = []
        for role in self.safe_order():
            try:
                role.safe_state()
            except LabrfError as exc:
                failures.append(f"{role.name}: {exc}")
        if failures:
            raise SafeStateError("could not make safe: " + "; ".join(failures))

    def close(self) -> None:
        """Close every instrument and release the simulated bench."""
        for name in list(self.roles):
            role = self.roles.pop(name)
            with contextlib.suppress(KeyError):
                self.remove_component(name)
            role.close()
        if self.bench is not None:
            self.bench.close()

    def __enter__(self) -> LabStation:
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            with shielded():  # a stop signal now must not cut a ramp-down short
                self.safe_state()
        finally:
            self.close()


def _station_for(spec: StationSpec, clock: Clock | None) -> LabStation:
    bench = Bench(spec.simulation, clock) if spec.simulation is not None else None
    chosen = bench.clock if bench is not None else (clock or WallClock())
    return LabStation(spec, bench, chosen)


def load_station(path: str | Path, *, clock: Clock | None = None) -> LabStation:
    """Validate a station file and connect every instrument (on the simulated bench when
    the file has a simulation section). On any failure, what was opened is closed."""
    station = _station_for(read_station(path), clock)
    try:
        for name in _gaussmeters_first(station.spec):
            if name not in station.roles:
                station.open(name)
    except BaseException:
        station.close()
        raise
    return station


def _gaussmeters_first(spec: StationSpec) -> list[str]:
    names = list(spec.instruments)
    return sorted(names, key=lambda n: spec.instruments[n].role is not Gaussmeter)


@dataclass
class CheckRow:
    """One line of ``labrf station check``."""

    name: str
    role: str
    model: str
    idn: str
    address: str
    state: str
    ok: bool


def check_station(path: str | Path, *, clock: Clock | None = None) -> list[CheckRow]:
    """Connect each instrument of a station file on its own and report what it is and
    does; the instruments are left as they were found (a connection only narrows)."""
    spec = read_station(path)
    station = _station_for(spec, clock)
    rows = []
    try:
        for name in _gaussmeters_first(spec):
            s = spec.instruments[name]
            try:
                role = station.roles.get(name) or station.open(name)
                rows.append(CheckRow(name, s.role.__name__, role.binding.model,
                                     role.idn_reply, s.address, role.state_summary(), True))
            except LabrfError as exc:
                rows.append(CheckRow(name, s.role.__name__, "?", "", s.address,
                                     f"FAILED: {exc}", False))
    finally:
        station.close()
    return sorted(rows, key=lambda r: list(spec.instruments).index(r.name))


@dataclass
class SafeRow:
    """One line of ``labrf station safe``: an instrument's state before and after."""

    name: str
    role: str
    before: str
    after: str
    ok: bool


def make_safe(path: str | Path, *, clock: Clock | None = None) -> list[SafeRow]:
    """Connect every instrument of a station file and put it in its safe state (RF off
    first, then currents and fields ramped to zero at their rates), for after a crash or
    a power cut. An instrument that cannot be reached or made safe is reported and the
    others are still made safe; stop signals wait until every ramp has ended."""
    spec = read_station(path)
    station = _station_for(spec, clock)
    rows: dict[str, SafeRow] = {}
    try:
        for name in _gaussmeters_first(spec):
            gauss = spec.instruments[name].gaussmeter
            try:
                role = station.roles.get(name) or station.open(
                    name, with_gaussmeter=gauss is None or rows[gauss].ok)
                rows[name] = SafeRow(name, spec.instruments[name].role.__name__,
                                     role.state_summary(), "", True)
            except LabrfError as exc:
                rows[name] = SafeRow(name, spec.instruments[name].role.__name__, "",
                                     f"FAILED: not reached: {exc}", False)
        with shielded():
            for role in station.safe_order():
                row = rows[role.name]
                try:
                    role.safe_state()
                    row.after = role.state_summary()
                except LabrfError as exc:
                    row.after, row.ok = f"FAILED: {exc}", False
    finally:
        station.close()
    return [rows[name] for name in spec.instruments]
