"""The field coil role: a field in tesla from a bipolar supply and a calibration, ramped
at the magnet's rate, with a gaussmeter as the truth; and the gaussmeter role."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from qcodes.validators import Bool, Enum

from labrf.drivers.kepco import KepcoBOP3612
from labrf.drivers.lakeshore import LakeShore425
from labrf.errors import LabrfError, LimitError
from labrf.roles.base import Binding, Role, Within
from labrf.units import format_quantity, to_si
from labrf.wire import Link

#: As PyMeasure's LakeShore425 sets its USB virtual serial port: 57600 baud, 7O1.
LAKESHORE_425_LINK = Link("\n", "\n", baud_rate=57600, data_bits=7, parity="odd")
#: The BIT 4886's factory RS-232 settings: 9600 baud 8N1 with XON/XOFF.
KEPCO_BIT4886_LINK = Link("\n", "\n", baud_rate=9600, flow_control="xon_xoff")

STEP_TIME = 0.1  #: s between the steps of a field ramp
RANGES_425 = (0.0035, 0.035, 0.35, 3.5)  #: T, the Lake Shore 425's field ranges


def _prepare_425(driver: LakeShore425) -> None:
    """Readings in tesla."""
    driver.unit = "T"


def _prepare_bop(driver: KepcoBOP3612) -> None:
    """Current mode, taking over whatever current flows now (no step)."""
    if driver.operating_mode != "CURR":
        driver.current_setpoint = float(driver.current) if driver.output_enabled else 0.0
        driver.operating_mode = "CURR"


class Gaussmeter(Role):
    """A Hall-probe gaussmeter reading the field at the device, in T (passive)."""

    role = "gaussmeter"
    bindings = {
        LakeShore425: Binding("Lake Shore 425", r"^LSCI,MODEL425,",
                              {"field": "field", "range": "range"}, {}, _prepare_425,
                              link=LAKESHORE_425_LINK),
    }

    def __init__(self, name: str, address: str, driver: str | type, **kwargs: Any) -> None:
        super().__init__(name, address, driver, **kwargs)
        self.add_parameter("field", unit="T", label="Measured field",
                           get_cmd=lambda: self.number("field"), snapshot_exclude=True,
                           docstring="Field at the probe in T.")
        self.add_parameter("range", unit="T", label="Range",
                           get_cmd=lambda: self.number("range") * 1e-4,
                           set_cmd=lambda b: self.send("range", round(b * 1e4)),
                           vals=Enum(*RANGES_425), docstring="Full scale in T.")

    def state_summary(self) -> str:
        return f"range {format_quantity(self.range(), 'T')}"


class FieldCoil(Role):
    """An electromagnet on a bipolar supply in current mode.

    ``field`` (T) maps to the supply current through the calibration ``B = field_per_current
    * I + field_offset``; setting it ramps the current from a fresh readback of the
    supply's setpoint at ``ramp_rate`` (T/s), never beyond the ``field`` and
    ``field_ramp_rate`` limits. ``field_measured`` is the gaussmeter's reading, the truth
    when the calibration is in doubt.

    Args:
        field_per_current: calibration slope (T/A, or a string such as "25 mT/A").
        field_offset: field at zero current (T).
        gaussmeter: the station's :class:`Gaussmeter` at the device, if any.
        voltage_limit: the supply's voltage compliance in current mode (V).
    """

    role = "field coil"
    bindings = {
        KepcoBOP3612: Binding(
            "Kepco BOP 36-12", r"^KEPCO,BOP\s*36-12",
            {"current": "current_setpoint", "measured_current": "current",
             "voltage_limit": "voltage_setpoint", "output": "output_enabled"},
            {"current": (-12.0, 12.0), "voltage_limit": (0.0, 36.0)}, _prepare_bop,
            link=KEPCO_BIT4886_LINK),
    }

    def __init__(self, name: str, address: str, driver: str | type, *,
                 field_per_current: float | str, field_offset: float | str = 0.0,
                 gaussmeter: Gaussmeter | None = None, voltage_limit: float | str = 10.0,
                 ramp_rate: float | str | None = None, **kwargs: Any) -> None:
        super().__init__(name, address, driver, **kwargs)
        self.gaussmeter = gaussmeter
        self._rate = self.limits.field_ramp_rate
        self.set_calibration(field_per_current, field_offset)
        self._current_range = self.range_of("current", (-1.0, 1.0))
        v_max = self.range_of("voltage_limit", (0.0, 1e3))[1]
        self.send("voltage_limit", self.check("voltage_limit", to_si(voltage_limit, "V"), 0.0,
                                              v_max, "V"))
        self.add_parameter("field", unit="T", label="Field",
                           get_cmd=lambda: self.field_of(self.number("measured_current")),
                           set_cmd=self._set_field,
                           vals=Within(-self.limits.field, self.limits.field, "T",
                                       "the field limit"),
                           docstring="Field from the supply's measured current and the "
                                     "calibration, in T; set: ramped.")
        self.add_parameter("field_measured", unit="T", label="Measured field",
                           get_cmd=self._field_measured, snapshot_exclude=True,
                           docstring="The gaussmeter's reading in T.")
        self.add_parameter("supply_current", unit="A", label="Coil current",
                           get_cmd=lambda: self.number("measured_current"),
                           docstring="Measured supply current in A.")
        self.add_parameter("ramp_rate", unit="T/s", label="Field ramp rate",
                           get_cmd=lambda: self._rate, set_cmd=self._set_rate,
                           vals=Within(1e-5, self.limits.field_ramp_rate, "T/s",
                                       "the field_ramp_rate limit"))
        self.add_parameter("output", label="Output", get_cmd=lambda: bool(self.read("output")),
                           set_cmd=self._set_output, vals=Bool(),
                           docstring="Output on (from 0 A, ramped to the programmed "
                                     "current) or off (ramped to 0 A first).")
        if ramp_rate is not None:
            self.ramp_rate(to_si(ramp_rate, "T/s"))
        self._enforce_limits()

    # ------------------------------------------------------------------ calibration

    def set_calibration(self, field_per_current: float | str,
                        field_offset: float | str = 0.0) -> None:
        """Use ``B = field_per_current * I + field_offset`` (T/A, T) from now on."""
        slope = to_si(field_per_current, "T/A")
        if slope == 0:
            raise LabrfError(f"{self.name}: field_per_current must not be zero")
        self.field_per_current, self.field_offset = slope, to_si(field_offset, "T")

    def field_of(self, current: float) -> float:
        """Field (T) of a coil current (A) by the calibration."""
        return self.field_per_current * current + self.field_offset

    def current_for(self, field: float) -> float:
        """Coil current (A) that gives ``field`` (T) by the calibration."""
        return (field - self.field_offset) / self.field_per_current

    # ------------------------------------------------------------------ setting

    def _current_rate(self) -> float:
        return self._rate / abs(self.field_per_current)

    def _set_rate(self, rate: float) -> None:
        self._rate = float(rate)

    def _check_current(self, current: float, why: str) -> float:
        return self.check("supply_current", current, *self._current_range, "A", why)

    def _ramp_current(self, target: float, read: Callable[[], float] | None = None
                      ) -> None:
        """Ramp the setpoint from ``read()`` (default: its fresh readback): every command
        then differs from the supply's present setpoint by at most the rate times the step
        time. With a gaussmeter, its reading is checked against the field limit at every
        step (a wrong calibration must not carry the field past it by more than a step and
        the magnet's lag)."""
        guard = self._check_measured_field if self.gaussmeter is not None else None
        self.ramp(read or (lambda: self.number("current")), lambda i: self.send("current", i),
                  target, self._current_rate(), STEP_TIME, guard)

    def _move(self, target: float) -> None:
        """Setpoint to ``target`` (A): ramped with the output on, set at once with it off."""
        if self.read("output"):
            self._ramp_current(target)
        else:
            self.send("current", target)

    def _check_measured_field(self, current: float, start: float) -> None:
        """Stop a ramp that has taken the current beyond where it started (so a ramp
        down is never stopped) while the gaussmeter reads beyond the field limit."""
        if abs(current) <= abs(start):
            return
        measured = self._field_measured()
        if abs(measured) > self.limits.field:
            raise LimitError(
                f"{self.name}: the gaussmeter reads {format_quantity(measured, 'T')}, beyond "
                f"the field limit of {format_quantity(self.limits.field, 'T')}, at "
                f"{format_quantity(current, 'A')}; the calibration "
                f"({format_quantity(self.field_per_current, 'T/A')}) must be wrong. The "
                f"ramp stopped there; ramp down with to_zero() or safe_state()")

    def _set_field(self, field: float) -> None:
        field = self.check("field", field, -self.limits.field, self.limits.field, "T",
                           "the field limit")
        self._move(self._check_current(self.current_for(field), "the supply's range"))

    def _set_output(self, on: bool) -> None:
        if on and self.read("output"):
            return  # already on: re-enabling must not restart from 0 A
        if on:
            target = self.number("current")
            self.check("field", self.field_of(target), -self.limits.field, self.limits.field,
                       "T", "programmed current found at the supply")
            self.send("current", 0.0)
            self.send("output", True)
            self._ramp_current(target, read=lambda: 0.0)
        else:
            self.to_zero()
            self.send("output", False)

    def to_zero(self) -> None:
        """Ramp the coil current to 0 A from a fresh readback (output left as is)."""
        self._move(0.0)

    def _field_measured(self) -> float:
        if self.gaussmeter is None:
            raise LabrfError(f"{self.name}: no gaussmeter is attached (set 'gaussmeter' "
                             f"in the station file to the gaussmeter's instrument name)")
        return float(self.gaussmeter.field())

    def _enforce_limits(self) -> None:
        """A setpoint found beyond the field limit ramps back within it."""
        setpoint = self.number("current")
        b_max = self.limits.field
        if abs(self.field_of(setpoint)) > b_max:
            self._move(self.current_for(min(max(self.field_of(setpoint), -b_max), b_max)))

    def safe_state(self) -> None:
        """Field ramped to zero current at the ramp rate, output off."""
        self._set_output(False)

    def state_summary(self) -> str:
        on = "on" if self.read("output") else "off"
        return (f"output {on}, {format_quantity(self.field(), 'T')} "
                f"({format_quantity(self.supply_current(), 'A')})")

    def snapshot_base(self, update: bool | None = False,
                      params_to_skip_update: Any = None) -> dict[Any, Any]:
        snap = super().snapshot_base(update, params_to_skip_update)
        snap["calibration"] = {"field_per_current_T_per_A": self.field_per_current,
                               "field_offset_T": self.field_offset}
        snap["gaussmeter"] = self.gaussmeter.name if self.gaussmeter is not None else None
        return snap
