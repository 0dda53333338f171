"""PyMeasure's own drivers, unmodified, against the emulators over both transports.

Every property a driver defines (found by introspection, not hand-picked) is read, and
every settable one set within its range; no SCPI error may be left in the queue.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Iterator
from typing import Any

import pytest
import pyvisa
from pymeasure.instruments.anritsu import AnritsuMG3692C
from pymeasure.instruments.keithley import Keithley2182, Keithley2400, Keithley6221
from pymeasure.instruments.kepco import KepcoBOP3612
from pymeasure.instruments.lakeshore import LakeShore425
from pymeasure.instruments.rohdeschwarz.fsseries import FSL

from labrf.clock import WallClock
from labrf.sim.bench import Bench
from labrf.sim.server import BenchServer

#: name: (driver class, emulated model, wiring, reply terminator)
DRIVERS: dict[str, tuple[type, str, dict[str, str], str]] = {
    "nanovoltmeter": (Keithley2182, "keithley2182a", {"input": "mtj"}, "\r"),
    "current_source": (Keithley6221, "keithley6221", {"output": "mtj"}, "\n"),
    "smu": (Keithley2400, "keithley2400", {"output": "mtj"}, "\n"),
    "magnet_supply": (KepcoBOP3612, "kepco_bop", {"output": "magnet"}, "\n"),
    "gaussmeter": (LakeShore425, "lakeshore425", {"probe": "magnet"}, "\n"),
    "rf_source": (AnritsuMG3692C, "mg3692c", {"output": "mtj"}, "\n"),
    "spectrum_analyzer": (FSL, "fsv", {"input": "amp"}, "\n"),
}
SECTION = {
    "seed": 7,
    "devices": {"mtj": {"kind": "mtj", "field_from": "magnet"},
                "amp": {"kind": "amplifier", "input": "mtj"}, "magnet": {"kind": "coil"}},
    "instruments": {name: {"model": model, "address": f"GPIB0::{i + 1}::INSTR",
                           "terminator": term, **wiring}
                    for i, (name, (_, model, wiring, term)) in enumerate(DRIVERS.items())},
}


def _properties(cls: type) -> Iterator[tuple[str, property]]:
    for name in sorted(dir(cls)):
        prop = inspect.getattr_static(cls, name, None)
        if isinstance(prop, property) and prop.fget is not None and \
                "get_command" in inspect.signature(prop.fget).parameters:
            yield name, prop


def _channels(cls: type) -> Iterator[tuple[str, type]]:
    for name in sorted(dir(cls)):
        creator = inspect.getattr_static(cls, name, None)
        if type(creator).__name__ == "ChannelCreator":
            yield name, creator.pairs[0][0]


def _cases() -> Iterator[tuple[str, str, str]]:
    """(instrument, owner path, property): owner '' is the driver, 'ch_1' a channel,
    'marker' a marker of the FS series."""
    for name, (cls, *_ ) in DRIVERS.items():
        for prop, _ in _properties(cls):
            yield name, "", prop
        for channel, channel_cls in _channels(cls):
            for prop, _ in _properties(channel_cls):
                yield name, channel, prop
        if cls is FSL:
            for prop, _ in _properties(FSL.Marker):
                yield name, "marker", prop


#: Cases the Keithley 2400 emulator does not yet satisfy (its statistics, AZER ONCE and
#: SMODE tables are unfinished); issue 2 stays open until this set is empty.
PENDING = {("smu", "", p) for p in ("auto_zero", "maximums", "means", "minimums",
                                   "output_off_state", "standard_devs")}
CASES = [pytest.param(*case, marks=pytest.mark.xfail(reason="2400 emulator unfinished"))
         if case in PENDING else case for case in _cases()]


def _set_values(owner: Any, name: str, prop: property, current: Any) -> list[Any]:
    """Values within the property's declared range or set to try (a dynamic property's
    range as the driver narrowed it for this instrument, e.g. NPLC at 50 Hz)."""
    params = inspect.signature(prop.fset).parameters
    values = vars(owner).get(f"___{name}_values", params["values"].default)
    validator = getattr(params["validator"].default, "__name__", "")
    if validator == "validate" and isinstance(values, tuple) and len(values) == 2:
        (lo, hi), extra = values
        return [(lo + hi) / 2, *extra]
    if isinstance(values, dict):
        return list(values)
    if validator in ("strict_range", "truncated_range") and len(values) == 2:
        lo, hi = values
        return [(lo + hi) / 2] if isinstance(lo, float) or isinstance(hi, float) \
            else [(lo + hi) // 2]
    if isinstance(values, list | tuple) and values:
        return list(values)
    return [current]


def _errors(instrument: Any) -> list[str]:
    if isinstance(instrument, LakeShore425):
        esr = int(instrument.ask("*ESR?"))
        return [f"*ESR? = {esr}"] if esr & 0b111100 else []
    found = []
    for _ in range(20):
        code, *message = instrument.ask("SYST:ERR?").split(",", 1)
        if int(code) == 0:
            return found
        found.append(f"{code},{message[0] if message else ''}")
    return found


def _open(cls: type, address: str, library: Any, **kwargs: Any) -> Any:
    kwargs.setdefault("timeout", 10000)  # a Kepco DIAG:TST? takes 5 s
    try:
        return cls(address, visa_library=library, **kwargs)
    except TypeError:  # the driver fixes its own read termination
        kwargs.pop("read_termination", None)
        return cls(address, visa_library=library, **kwargs)


@pytest.fixture(scope="module", params=["in-process", "tcp"])
def instruments(request: pytest.FixtureRequest) -> Iterator[dict[str, Any]]:
    if request.param == "in-process":
        bench = Bench.from_simulation(SECTION)
        opened = {name: _open(cls, bench.address(name), bench.visa_library)
                  for name, (cls, *_) in DRIVERS.items()}
        opened["nanovoltmeter"].auto_line_frequency()
        yield opened
        bench.close()
        return
    bench = Bench.from_simulation(SECTION, clock=WallClock(scale=1000))
    with BenchServer(bench) as server:
        opened = {name: _open(cls, server.endpoints[name].resource, "@py",
                              read_termination=DRIVERS[name][3])
                  for name, (cls, *_) in DRIVERS.items()}
        opened["nanovoltmeter"].auto_line_frequency()
        yield opened
        for instrument in opened.values():
            instrument.adapter.close()


def _owner(instrument: Any, path: str) -> Any:
    if path == "marker":
        return instrument.create_marker(1)
    return getattr(instrument, path) if path else instrument


def _close_enough(read: Any, wanted: Any) -> bool:
    if isinstance(wanted, bool) or isinstance(read, bool):
        return bool(read) == bool(wanted)
    if isinstance(wanted, int | float) and isinstance(read, int | float):
        return math.isclose(read, wanted, rel_tol=1e-5, abs_tol=1e-12)
    return read == wanted


def _id(case: object) -> str:
    n, p, q = case.values if hasattr(case, "values") else case
    return f"{n}.{p + '.' if p else ''}{q}"


@pytest.mark.parametrize("name, path, prop", CASES, ids=[_id(c) for c in CASES])
def test_property_reads_and_sets_without_scpi_errors(instruments, name, path, prop):
    instrument = instruments[name]
    _errors(instrument)
    owner = _owner(instrument, path)
    descriptor = dict(_properties(type(owner)))[prop]
    current = getattr(owner, prop)
    assert _errors(instrument) == [], f"reading {prop}"
    set_command = inspect.signature(descriptor.fset).parameters["set_command"].default \
        if descriptor.fset else None
    if set_command is None:
        return
    for value in _set_values(owner, prop, descriptor, current):
        setattr(owner, prop, value)
        assert _errors(instrument) == [], f"setting {prop} = {value!r}"
        values = inspect.signature(descriptor.fset).parameters["values"].default
        if isinstance(values, dict) and descriptor.fget is not None:
            read = getattr(owner, prop)  # an enumerated setting reads back what was set
            assert _errors(instrument) == []
            assert _close_enough(read, value), f"{prop}: set {value!r}, read {read!r}"
    if isinstance(instrument, Keithley6221 | Keithley2400 | KepcoBOP3612):
        instrument.write("*RST")  # leave no source on for the next case


def test_every_driver_property_is_covered():
    assert len(CASES) > 150
    assert {(c.values if hasattr(c, "values") else c)[0] for c in CASES} == set(DRIVERS)


def test_unknown_command_gives_the_model_error_over_pyvisa():
    bench = Bench.from_simulation(SECTION)
    rm = pyvisa.ResourceManager(bench.visa_library)
    meter = rm.open_resource(bench.address("nanovoltmeter"), read_termination="\r")
    meter.write(":SENS:VOLT:BOGUS 1")
    assert meter.query("SYST:ERR?") == '-113,"Undefined header"'
    bench.close()
