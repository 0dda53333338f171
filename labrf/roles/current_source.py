"""The current source role: a DC bias through a junction, within its current and voltage
limits, ramped, never stepped."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from qcodes.validators import Bool

from labrf.drivers.keithley import Keithley2400, Keithley6221
from labrf.errors import InstrumentError
from labrf.roles.base import Binding, Role, Within
from labrf.units import format_quantity, to_si
from labrf.wire import Link

#: The 6221's and 2400's factory RS-232 settings (and LF over the 6221's raw socket).
KEITHLEY_SERIAL = Link("\n", "\n", baud_rate=9600, data_bits=8, parity="none")

STEP_TIME = 0.05  #: s between the steps of a current ramp


def _prepare_2400(driver: Keithley2400) -> None:
    """Source current; a 2400 found sourcing voltage is switched off first (a voltage
    source cannot be ramped as a current). The role never measures resistance, so the
    2400 never sources its auto-ohms test current."""
    if driver.source_mode != "current":
        driver.source_enabled = False
        driver.source_mode = "current"
        driver.source_current = 0.0


class CurrentSource(Role):
    """A DC current source wired to a junction.

    ``current`` ramps from a fresh readback of the source level at ``ramp_rate`` and may
    never exceed the ``junction_current`` limit; ``compliance`` may never exceed the
    ``junction_voltage`` limit, so the voltage across the junction stays below it
    whatever its resistance. Turning ``output`` on starts from 0 A and ramps to the
    programmed level; turning it off ramps to 0 A first. Models that measure (the 2400)
    also give ``voltage``, read only with the output on.
    """

    role = "current source"
    bindings = {
        Keithley6221: Binding(
            "Keithley 6221", r"^KEITHLEY INSTRUMENTS INC\.,MODEL 6221,",
            {"current": "source_current", "compliance": "source_compliance",
             "output": "source_enabled"},
            {"current": (-0.105, 0.105), "compliance": (0.1, 105.0)},
            link=KEITHLEY_SERIAL),
        Keithley2400: Binding(
            "Keithley 2400", r"^KEITHLEY INSTRUMENTS INC\.,MODEL 2400,",
            {"current": "source_current", "compliance": "compliance_voltage",
             "output": "source_enabled", "voltage": "voltage"},
            {"current": (-1.05, 1.05), "compliance": (0.0, 210.0)}, _prepare_2400,
            link=KEITHLEY_SERIAL),
    }

    def __init__(self, name: str, address: str, driver: str | type, *,
                 ramp_rate: float | str | None = None, **kwargs: Any) -> None:
        super().__init__(name, address, driver, **kwargs)
        lim = self.limits
        c_lo, c_hi = self.range_of("current", (-1.0, 1.0))
        self._current_range = (max(c_lo, -lim.junction_current),
                               min(c_hi, lim.junction_current))
        v_lo, v_hi = self.range_of("compliance", (0.0, 1e3))
        self._compliance_range = (v_lo, min(v_hi, lim.junction_voltage))
        self._ramp_rate = lim.current_ramp_rate if ramp_rate is None else \
            self.check("ramp_rate", to_si(ramp_rate, "A/s"), 1e-6, lim.current_ramp_rate,
                       "A/s", "the current_ramp_rate limit")
        self.add_parameter("current", unit="A", label="Bias current",
                           get_cmd=lambda: self.number("current"),
                           set_cmd=self._set_current,
                           vals=Within(*self._current_range, "A", "the junction_current limit"),
                           docstring="Source level in A; ramped at ramp_rate.")
        self.add_parameter("compliance", unit="V", label="Voltage compliance",
                           get_cmd=lambda: self.number("compliance"),
                           set_cmd=self._set_compliance,
                           vals=Within(*self._compliance_range, "V",
                                       "the junction_voltage limit"),
                           docstring="Largest voltage the source may apply, in V.")
        self.add_parameter("ramp_rate", unit="A/s", label="Current ramp rate",
                           get_cmd=lambda: self._ramp_rate, set_cmd=self._set_ramp_rate,
                           vals=Within(1e-6, lim.current_ramp_rate, "A/s",
                                       "the current_ramp_rate limit"),
                           docstring="Fastest change of the current, in A/s.")
        self.add_parameter("output", label="Output", get_cmd=lambda: bool(self.read("output")),
                           set_cmd=self._set_output, vals=Bool(),
                           docstring="Output on (ramps up from 0 A) or off (ramps to 0 A "
                                     "first).")
        if self.has("voltage"):
            self.add_parameter("voltage", unit="V", label="Junction voltage",
                               get_cmd=self._get_voltage, snapshot_exclude=True,
                               docstring="Voltage measured across the junction, in V "
                                         "(output on only).")
        self._enforce_limits()

    def _ramp_to(self, target: float, read: Callable[[], float] | None = None) -> None:
        """Ramp the level to ``target`` (A) at the ramp rate, from ``read()`` (default: a
        fresh readback of the source)."""
        self.ramp(read or (lambda: self.number("current")), lambda i: self.send("current", i),
                  target, self._ramp_rate, STEP_TIME)

    def _move(self, target: float) -> None:
        """Level to ``target`` (A): ramped with the output on, set at once with it off."""
        if self.read("output"):
            self._ramp_to(target)
        else:
            self.send("current", target)

    def _set_current(self, amps: float) -> None:
        self._move(self.check("current", amps, *self._current_range, "A",
                              "the junction_current limit"))

    def _set_compliance(self, volts: float) -> None:
        self.send("compliance", self.check("compliance", volts, *self._compliance_range,
                                           "V", "the junction_voltage limit"))

    def _set_ramp_rate(self, rate: float) -> None:
        self._ramp_rate = float(rate)

    def _set_output(self, on: bool) -> None:
        if on and self.read("output"):
            return  # already on: re-enabling must not restart from 0 A
        if on:
            target = self.check("current", self.number("current"),
                                *self._current_range, "A",
                                "programmed level found at the source")
            self.send("current", 0.0)
            self.send("output", True)
            self._ramp_to(target, read=lambda: 0.0)
        else:
            self.to_zero()
            self.send("output", False)

    def _get_voltage(self) -> float:
        if not self.read("output"):
            raise InstrumentError(f"{self.name}: the output is off; turn it on to measure "
                                  f"the junction voltage (reading it must not source)")
        return self.number("voltage")

    def to_zero(self) -> None:
        """Ramp the current to 0 A from a fresh readback (output left as it is)."""
        self._move(0.0)

    def _enforce_limits(self) -> None:
        """Compliance into its limit at once (narrowing it is safe); a level found above
        the current limit ramps down to it."""
        if self.number("compliance") > self._compliance_range[1]:
            self.send("compliance", self._compliance_range[1])
        level = self.number("current")
        lo, hi = self._current_range
        if not lo <= level <= hi:
            self._move(min(max(level, lo), hi))

    def safe_state(self) -> None:
        """Current ramped to 0 A, output off."""
        self._set_output(False)

    def state_summary(self) -> str:
        on = "on" if self.read("output") else "off"
        return (f"output {on}, {format_quantity(self.current(), 'A')}, compliance "
                f"{format_quantity(self.compliance(), 'V')}")
