"""What every role shares: a QCoDeS instrument around the driver a station file names.

A role reaches its driver through a :class:`Binding`, a declarative map from the role's
features (``"frequency"``, ``"output"``...) to the driver's attributes, with the model's
``*IDN?`` pattern and the ranges the model accepts. A lab adds a model to a role with
``RoleClass.register(DriverClass, Binding(...))``; the role's limits, ramps, safe state
and snapshot then serve it unchanged.
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import math
import re
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

import pyvisa
from pymeasure.adapters import VISAAdapter
from qcodes.instrument import Instrument
from qcodes.validators import Numbers

from labrf.clock import Clock, WallClock
from labrf.errors import InstrumentError, LabrfError, LimitError
from labrf.roles.limits import HARD_LIMITS, Limits, narrow
from labrf.roles.transport import BoundedVISAAdapter
from labrf.units import format_quantity
from labrf.wire import Link, link_kind, override

log = logging.getLogger(__name__)

#: Errors of the transport or of an instrument's reply, turned into InstrumentError.
QUERY_RETRIES = 2  #: retries of an idempotent query after a timeout or a garbled reply
TRANSPORT_ERRORS = (pyvisa.errors.VisaIOError, pyvisa.errors.InvalidSession, OSError,
                    ValueError, TypeError)  # the last two: replies that do not parse


@dataclass(frozen=True)
class Binding:
    """How a role drives one driver class.

    ``features`` maps each role feature to a driver attribute (a dotted path such as
    ``"ch_1.voltage_range"``; a method for actions). ``ranges`` gives the model's
    settable range of a feature, in the role's units. ``prepare`` puts a freshly opened
    instrument in the mode the role needs (it may only narrow what the instrument does).
    """

    model: str  #: maker and model, for tables and snapshots
    idn: str  #: regular expression an ``*IDN?`` reply of this model matches
    features: Mapping[str, str]
    ranges: Mapping[str, tuple[float, float]] = field(default_factory=dict)
    prepare: Callable[[Any], None] | None = None
    #: the model's factory terminations (and serial format), used on SOCKET and ASRL
    #: addresses only: GPIB, USB-TMC and VXI-11 mark the end of a message themselves
    link: Link = field(default_factory=Link)


def import_object(path: Any, what: str) -> Any:
    """The object at a dotted import path (``"labrf.drivers.keithley.Keithley6221"``)."""
    if not isinstance(path, str) or not re.fullmatch(r"\w+(\.\w+)+", path):
        raise LabrfError(f"{what} must be a dotted import path like "
                         f"'package.module.Class', got {path!r}")
    module_name, _, attr = path.rpartition(".")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise LabrfError(f"{what} '{path}': cannot import module '{module_name}' "
                         f"({exc})") from None
    try:
        return getattr(module, attr)
    except AttributeError:
        public = sorted(n for n in dir(module) if not n.startswith("_") and n[0].isupper())
        raise LabrfError(f"{what} '{path}': module '{module_name}' has no '{attr}'; it "
                         f"has {', '.join(public) or 'no public classes'}") from None


class Within(Numbers):
    """A QCoDeS number validator that raises LimitError naming the range with its unit."""

    def __init__(self, low: float, high: float, unit: str, why: str = "") -> None:
        super().__init__(low, high)
        self.unit, self.why = unit, why

    def validate(self, value: Any, context: str = "") -> None:
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise LimitError(f"{context}: {value!r} is not a number in {self.unit}") from None
        if not (math.isfinite(number) and self.min_value <= number <= self.max_value):
            raise LimitError(
                f"{context}: {format_quantity(number, self.unit)} is outside "
                f"{format_quantity(self.min_value, self.unit)} to "
                f"{format_quantity(self.max_value, self.unit)}"
                + (f" ({self.why})" if self.why else ""))


class Role(Instrument):
    """Base of the roles: opens the driver, checks ``*IDN?``, enforces limits.

    Args:
        name: the instrument's name in the station.
        address: VISA resource name.
        driver: the driver class or its import path.
        visa_library: PyVISA library to open the address with (the simulated bench's, or
            ``None`` for the system's).
        clock: the station's clock; ramps wait on it (default: the wall clock).
        limits: a :class:`Limits` or a mapping narrowing the hard limits.
        timeout: VISA timeout in s.
        connection: terminations and serial format overriding the model's (keys of
            :class:`labrf.wire.Link`); they apply on SOCKET and ASRL addresses.
    """

    role: ClassVar[str] = "role"
    bindings: ClassVar[dict[type, Binding]] = {}

    def __init__(self, name: str, address: str, driver: str | type, *,
                 visa_library: Any = None, clock: Clock | None = None,
                 limits: Limits | Mapping[str, Any] | None = None,
                 timeout: float = 5.0, connection: Mapping[str, Any] | None = None,
                 **kwargs: Any) -> None:
        self.driver_path = driver if isinstance(driver, str) else driver_path(driver)
        driver_class = import_object(driver, "driver") if isinstance(driver, str) else driver
        self.binding = self.binding_for(driver_class)
        self.address = address
        self.clock: Clock = clock if clock is not None else WallClock()
        self.limits = narrow(HARD_LIMITS, limits, key=f"{name}.limits")
        self.retries = 0  #: queries retried after a transient fault
        self.link_kind = link_kind(address)  #: "socket", "serial" or None (a bus)
        self.link = override(self.binding.link, connection, f"{name}.connection", address)
        self.visa_timeout = timeout  #: s
        super().__init__(name, **kwargs)
        try:
            self.driver = driver_class(address, visa_library=visa_library or "",
                                       timeout=int(timeout * 1000))
            if isinstance(self.driver.adapter, VISAAdapter):
                self.driver.adapter = BoundedVISAAdapter(self.driver.adapter)
                if self.link_kind is not None:  # over the driver's own defaults, if any
                    for attribute, value in self.link.visa_options(self.link_kind).items():
                        setattr(self.driver.adapter.connection, attribute, value)
        except TRANSPORT_ERRORS as exc:
            self._close_driver()
            raise InstrumentError(f"{name}: cannot open {address} with "
                                  f"{self.driver_path}: {_reason(exc)}") from None
        try:
            self.idn_reply = self._check_idn()
            if self.binding.prepare is not None:
                self._guard("prepare", lambda: self.binding.prepare(self.driver))
        except BaseException:
            self._close_driver()
            raise

    # ------------------------------------------------------------------ bindings

    @classmethod
    def register(cls, driver_class: type, binding: Binding) -> None:
        """Let this role drive ``driver_class`` (and its subclasses) through ``binding``."""
        cls.bindings = {**cls.bindings, driver_class: binding}

    @classmethod
    def binding_for(cls, driver_class: Any) -> Binding:
        """The binding of ``driver_class`` or of its nearest registered base class."""
        for base in getattr(driver_class, "__mro__", ()):
            if base in cls.bindings:
                return cls.bindings[base]
        valid = ", ".join(driver_path(d) for d in cls.bindings)
        raise LabrfError(f"{cls.__name__} cannot drive {driver_class!r}; drivers it "
                         f"knows: {valid}")

    # ------------------------------------------------------------------ I/O

    def _check_idn(self) -> str:
        try:
            reply = self._guard("*IDN?", lambda: self.driver.ask("*IDN?")).strip()
        except InstrumentError as exc:
            if self.link_kind is None or not _is_timeout(exc.__cause__):
                raise
            raise InstrumentError(
                f"{self.name} ({self.binding.model} at {self.address}): no reply to *IDN? "
                f"within {self.visa_timeout:g} s. Over a {self.link_kind} link the terminations "
                f"are the protocol: labrf used {self.link.describe(self.link_kind)} (the "
                f"{self.binding.model}'s factory settings, or the station file's "
                f"init.connection); check the instrument's own settings and set "
                f"init.connection to match them") from None
        if not re.search(self.binding.idn, reply, re.IGNORECASE):
            raise InstrumentError(
                f"{self.name}: the instrument at {self.address} answers *IDN? with "
                f"'{reply}', which is not a {self.binding.model} (driver "
                f"{self.driver_path} expects a reply matching '{self.binding.idn}')")
        return reply

    def _guard(self, what: str, action: Callable[[], Any]) -> Any:
        """Run ``action``; a transport fault becomes an InstrumentError naming us."""
        try:
            return action()
        except LabrfError:
            raise
        except TRANSPORT_ERRORS as exc:
            raise InstrumentError(f"{self.name} ({self.binding.model} at {self.address}): "
                                  f"{what} failed: {_reason(exc)}") from exc

    def _query(self, what: str, action: Callable[[], Any]) -> Any:
        """Run an idempotent query, retried up to ``QUERY_RETRIES`` times after a timeout
        or an unreadable reply (each retry logged and counted in ``retries``); a lost
        connection or a persistent fault raises InstrumentError."""
        for attempt in range(QUERY_RETRIES + 1):
            try:
                return self._guard(what, action)
            except InstrumentError as exc:
                cause = exc.__cause__
                transient = isinstance(cause, ValueError | TypeError) or _is_timeout(cause)
                if not transient or attempt == QUERY_RETRIES:
                    raise
                self.retries += 1
                log.warning("%s: %s; retrying (%d of %d)", self.name, exc, attempt + 1,
                            QUERY_RETRIES)
                with contextlib.suppress(*TRANSPORT_ERRORS, AttributeError):
                    self.driver.adapter.flush_read_buffer()
        raise AssertionError("unreachable")

    def _target(self, feature: str) -> tuple[Any, str]:
        try:
            path = self.binding.features[feature]
        except KeyError:
            raise LabrfError(f"{self.name}: a {self.binding.model} has no '{feature}' as "
                             f"a {self.role}; it has {', '.join(self.binding.features)}"
                             ) from None
        owner: Any = self.driver
        *parents, attr = path.split(".")
        for parent in parents:
            owner = getattr(owner, parent)
        return owner, attr

    def has(self, feature: str) -> bool:
        """Whether this model offers role feature ``feature``."""
        return feature in self.binding.features

    def read(self, feature: str) -> Any:
        """A fresh value of ``feature`` from the instrument."""
        owner, attr = self._target(feature)
        return self._query(f"reading {feature}", lambda: getattr(owner, attr))

    def number(self, feature: str) -> float:
        """A fresh numeric value of ``feature``; an unreadable reply is an InstrumentError."""
        owner, attr = self._target(feature)
        return self._query(f"reading {feature}", lambda: float(getattr(owner, attr)))

    def send(self, feature: str, value: Any) -> None:
        """Set ``feature`` on the instrument (callers check limits first)."""
        owner, attr = self._target(feature)
        self._guard(f"setting {feature} to {value!r}", lambda: setattr(owner, attr, value))

    def call(self, feature: str, *args: Any) -> Any:
        """Run the driver method serving ``feature``."""
        owner, attr = self._target(feature)
        return self._guard(feature, lambda: getattr(owner, attr)(*args))

    def write_raw(self, cmd: str) -> None:
        self._guard(f"writing {cmd!r}", lambda: self.driver.write(cmd))

    def ask_raw(self, cmd: str) -> str:
        return self._guard(f"asking {cmd!r}", lambda: self.driver.ask(cmd)).strip()

    # ------------------------------------------------------------------ limits, ramps

    def range_of(self, feature: str, default: tuple[float, float]) -> tuple[float, float]:
        """The model's range of ``feature`` (role units), or ``default``."""
        return self.binding.ranges.get(feature, default)

    def check(self, parameter: str, value: float, low: float, high: float, unit: str,
              why: str = "") -> float:
        """``value`` if ``low <= value <= high``, else LimitError naming the range."""
        Within(low, high, unit, why).validate(value, f"{self.name}.{parameter}")
        return float(value)

    def ramp(self, read: Callable[[], float], write: Callable[[float], None],
             target: float, rate: float, step_time: float,
             guard: Callable[[float, float], None] | None = None) -> None:
        """Move from a fresh ``read()`` to ``target`` in steps no larger than
        ``rate * step_time``, one every ``step_time`` s of the station's clock.

        The start is read twice (a third time if they differ), so that one corrupted reply
        cannot make the first step a jump. ``guard(value, start)``, if given, runs after
        every step and stops the ramp by raising.
        """
        start = self.confirmed(read)
        span = target - start
        if span == 0:
            write(target)
            return
        steps = max(1, math.ceil(abs(span) / (rate * step_time) * (1 - 1e-12)))
        for k in range(1, steps + 1):
            value = target if k == steps else start + span * k / steps
            write(value)
            self.clock.sleep(step_time)
            if guard is not None:
                guard(value, start)

    def confirmed(self, read: Callable[[], float]) -> float:
        """A setpoint read until two readings agree (at most three readings)."""
        readings: list[float] = []
        for _ in range(3):
            try:
                value = float(read())
            except InstrumentError as exc:
                log.warning("%s: readback failed, reading again: %s", self.name, exc)
                continue
            if any(math.isclose(value, r, rel_tol=1e-9, abs_tol=1e-15) for r in readings):
                return value
            readings.append(value)
        raise InstrumentError(f"{self.name} ({self.binding.model} at {self.address}): no two "
                              f"of three readbacks agree ({readings}); nothing was changed")

    # ------------------------------------------------------------------ state

    def safe_state(self) -> None:
        """Leave the instrument safe (nothing to do for a passive instrument)."""

    def state_summary(self) -> str:
        """One line on what the instrument is doing (for ``labrf station check``)."""
        return ""

    def snapshot_base(self, update: bool | None = False,
                      params_to_skip_update: Any = None) -> dict[Any, Any]:
        snap = super().snapshot_base(update=update, params_to_skip_update=params_to_skip_update)
        snap.update(role=self.role, model=self.binding.model, driver=self.driver_path,
                    address=self.address, idn_reply=self.idn_reply,
                    limits=self.limits.as_dict())
        return snap

    def _close_driver(self) -> None:
        driver = getattr(self, "driver", None)
        if driver is not None:
            try:
                driver.adapter.close()
            except TRANSPORT_ERRORS as exc:
                log.warning("%s: closing %s failed: %s", self.name, self.address, exc)

    def close(self) -> None:
        """Close the VISA session and drop the instrument from QCoDeS' registry."""
        self._close_driver()
        super().close()


def driver_path(driver_class: type) -> str:
    """The import path a station file would use: ``labrf.drivers.<vendor>.<Class>`` when
    labrf.drivers exports the class (PyMeasure's drivers are re-exported there)."""
    for module_name, module in list(sys.modules.items()):
        if module_name.count(".") == 2 and module_name.startswith("labrf.drivers.") and \
                getattr(module, driver_class.__name__, None) is driver_class:
            return f"{module_name}.{driver_class.__name__}"
    return f"{driver_class.__module__}.{driver_class.__qualname__}"


def _is_timeout(exc: BaseException | None) -> bool:
    return isinstance(exc, pyvisa.errors.VisaIOError) and \
        exc.error_code == pyvisa.constants.StatusCode.error_timeout


def _reason(exc: BaseException) -> str:
    description = getattr(exc, "description", None)
    return f"{type(exc).__name__}: {description or exc}"

