"""The RF source role: frequency, power and output of any signal generator."""

from __future__ import annotations

from typing import Any

from qcodes.validators import Bool

from labrf.drivers.anritsu import AnritsuMG3692C
from labrf.drivers.rohdeschwarz import SMB100A
from labrf.roles.base import Binding, Role, Within
from labrf.units import format_quantity, to_si, watt_to_dbm


def _prepare_smb100a(driver: SMB100A) -> None:
    """The station's attenuation, not the generator's level offset, relates the set
    level to the level at the device: clear the offset (it never changes the output)."""
    driver.power_offset = 0


class RFSource(Role):
    """An RF signal generator feeding a junction.

    ``power`` is the generator's output level in dBm; ``attenuation`` (dB, from the
    station file) is the loss of the path to the device, so the device sees ``power -
    attenuation``, which may never exceed the ``rf_power_at_device`` limit. On models
    with a hardware level limit (SMB100A ``SOUR:POW:LIM``) that limit is set too, as a
    second barrier that holds whatever a script sends to the instrument directly.
    """

    role = "RF source"
    bindings = {
        SMB100A: Binding(
            "Rohde & Schwarz SMB100A", r"^Rohde&Schwarz,SMB100A,",
            {"frequency": "frequency", "power": "power", "output": "output_enabled",
             "power_limit": "power_limit"},
            {"frequency": (9e3, 6e9), "power": (-145.0, 30.0)}, _prepare_smb100a),
        AnritsuMG3692C: Binding(
            "Anritsu MG3692C", r"^ANRITSU,MG3692C,",
            {"frequency": "frequency", "power": "power", "output": "output"},
            {"frequency": (10e6, 20e9), "power": (-130.0, 30.0)}),
    }

    def __init__(self, name: str, address: str, driver: str | type, *,
                 attenuation: float | str = 0.0, **kwargs: Any) -> None:
        super().__init__(name, address, driver, **kwargs)
        self.attenuation = to_si(attenuation, "dB")
        f_lo, f_hi = self.range_of("frequency", (0.0, 1e12))
        p_lo, p_hi = self.range_of("power", (-150.0, 30.0))
        self.max_power = min(p_hi, float(watt_to_dbm(self.limits.rf_power_at_device))
                             + self.attenuation)
        self._power_range = (p_lo, self.max_power)
        self._power_why = (f"{format_quantity(self.limits.rf_power_at_device, 'W')} at the "
                           f"device with {self.attenuation:g} dB of path loss")
        self.add_parameter("frequency", unit="Hz", label="RF frequency",
                           get_cmd=lambda: self.number("frequency"),
                           set_cmd=self._set_frequency, vals=Within(f_lo, f_hi, "Hz"),
                           docstring="CW frequency in Hz.")
        self.add_parameter("power", unit="dBm", label="RF output level",
                           get_cmd=lambda: self.number("power"),
                           set_cmd=self._set_power,
                           vals=Within(*self._power_range, "dBm", self._power_why),
                           docstring="Output level in dBm, at most the limit at the "
                                     "device plus the path attenuation.")
        self.add_parameter("power_at_device", unit="dBm", label="RF level at the device",
                           get_cmd=lambda: self.power() - self.attenuation,
                           set_cmd=lambda p: self.power(p + self.attenuation),
                           snapshot_exclude=True,
                           docstring="Level reaching the junction, in dBm.")
        self.add_parameter("output", label="RF output", get_cmd=lambda: bool(
                           self.read("output")), set_cmd=lambda on: self.send("output",
                           bool(on)), vals=Bool(), docstring="RF output on (True) or off.")
        self._enforce_limits()

    def _set_frequency(self, frequency: float) -> None:
        self.send("frequency", self.check("frequency", frequency,
                                          *self.range_of("frequency", (0.0, 1e12)), "Hz"))

    def _set_power(self, dbm: float) -> None:
        dbm = self.check("power", dbm, *self._power_range, "dBm", self._power_why)
        self.send("power", dbm)

    def _enforce_limits(self) -> None:
        """Hardware level limit where the model has one; a level above the limit found
        at connection is lowered at once (lowering RF power is always safe)."""
        if self.has("power_limit"):
            self.send("power_limit", self.max_power)
        if self.number("power") > self.max_power:
            self.send("power", self.max_power)

    def safe_state(self) -> None:
        """RF off."""
        self.send("output", False)

    def state_summary(self) -> str:
        on = "on" if self.read("output") else "off"
        return (f"output {on}, {format_quantity(self.frequency(), 'Hz')}, "
                f"{self.power():.2f} dBm")
