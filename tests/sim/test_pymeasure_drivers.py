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


#: Statistics over the buffer need a filled buffer: an empty one gives -230, no reply.
NEEDS_BUFFER = {("smu", p) for p in ("means", "maximums", "minimums", "standard_devs")}
#: A setting value that is a one-shot action, not a state a query can return.
ONE_SHOT = {("smu", "auto_zero", "ONCE")}
CASES = list(_cases())


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


def _fill_buffer(smu: Keithley2400) -> None:
    smu.apply_current(compliance_voltage=1)
    smu.source_current = 1e-4
    smu.enable_source()
    smu.config_buffer(points=4)
    smu.start_buffer()
    smu.wait_for_buffer(should_stop=lambda: False, timeout=60, interval=0)


@pytest.mark.parametrize("name, path, prop", CASES,
                         ids=[f"{n}.{p + '.' if p else ''}{q}" for n, p, q in CASES])
def test_property_reads_and_sets_without_scpi_errors(instruments, name, path, prop):
    instrument = instruments[name]
    _errors(instrument)
    if (name, prop) in NEEDS_BUFFER:
        _fill_buffer(instrument)
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
        if isinstance(values, dict) and (name, prop, value) not in ONE_SHOT:
            read = getattr(owner, prop)  # an enumerated setting reads back what was set,
            assert _errors(instrument) == []  # possibly under another key of the same value
            assert values.get(read, read) == values[value], f"{prop}: set {value!r}, " \
                                                           f"read {read!r}"
    if isinstance(instrument, Keithley6221 | Keithley2400 | KepcoBOP3612):
        instrument.write("*RST")  # leave no source on for the next case


def test_every_driver_property_is_covered():
    assert len(CASES) > 150
    assert {name for name, *_ in CASES} == set(DRIVERS)


def test_unknown_command_gives_the_model_error_over_pyvisa():
    bench = Bench.from_simulation(SECTION)
    rm = pyvisa.ResourceManager(bench.visa_library)
    meter = rm.open_resource(bench.address("nanovoltmeter"), read_termination="\r")
    meter.write(":SENS:VOLT:BOGUS 1")
    assert meter.query("SYST:ERR?") == '-113,"Undefined header"'
    bench.close()
