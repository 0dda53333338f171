"""The voltmeter role: a DC voltage across a junction, with its integration time."""

from __future__ import annotations

from typing import Any

from qcodes.validators import Bool, Enum

from labrf.drivers.keithley import Keithley2182
from labrf.roles.base import Binding, Role, Within
from labrf.units import format_quantity
from labrf.wire import Link

#: CR-terminated, as PyMeasure's Keithley2182 reads it; RS-232 at 9600 baud 8N1.
KEITHLEY_2182A_LINK = Link("\r", "\r", baud_rate=9600)

RANGES_2182 = (0.01, 0.1, 1.0, 10.0, 100.0)  #: V, channel 1 ranges of the 2182A


def _prepare_2182(driver: Keithley2182) -> None:
    """Learn the line frequency (it sets the NPLC range); volts on channel 1."""
    driver.auto_line_frequency()
    driver.ch_1.setup_voltage(auto_range=bool(driver.ch_1.voltage_range_auto_enabled),
                              nplc=float(driver.voltage_nplc))


class Voltmeter(Role):
    """A DC voltmeter across a junction (passive: it sources nothing).

    ``nplc`` is the integration time in power-line cycles; one reading takes about
    ``nplc / line_frequency`` s.
    """

    role = "voltmeter"
    bindings = {
        Keithley2182: Binding(
            "Keithley 2182A", r"^KEITHLEY INSTRUMENTS INC\.,MODEL 2182A?,",
            {"voltage": "voltage", "nplc": "voltage_nplc", "range": "ch_1.voltage_range",
             "auto_range": "ch_1.voltage_range_auto_enabled",
             "line_frequency": "line_frequency"},
            {"nplc": (0.01, 50.0)}, _prepare_2182, link=KEITHLEY_2182A_LINK),
    }

    def __init__(self, name: str, address: str, driver: str | type, **kwargs: Any) -> None:
        super().__init__(name, address, driver, **kwargs)
        line = self.number("line_frequency") if self.has("line_frequency") else 50.0
        lo, hi = self.range_of("nplc", (0.01, 50.0))
        self.line_frequency = line
        self.add_parameter("voltage", unit="V", label="DC voltage",
                           get_cmd=lambda: self.number("voltage"), snapshot_exclude=True,
                           docstring="One reading in V.")
        self.add_parameter("nplc", label="Integration time", unit="PLC",
                           get_cmd=lambda: self.number("nplc"),
                           set_cmd=lambda n: self.send("nplc", n),
                           vals=Within(lo, min(hi, line), "PLC",
                                       f"at {line:g} Hz line frequency"),
                           docstring="Integration time in power-line cycles.")
        self.add_parameter("range", unit="V", label="Range",
                           get_cmd=lambda: self.number("range"),
                           set_cmd=lambda v: self.send("range", v),
                           vals=Enum(*RANGES_2182), docstring="Measurement range in V.")
        self.add_parameter("auto_range", label="Auto range",
                           get_cmd=lambda: bool(self.read("auto_range")),
                           set_cmd=lambda on: self.send("auto_range", bool(on)), vals=Bool())

    @property
    def reading_time(self) -> float:
        """Seconds one reading integrates."""
        return float(self.nplc()) / self.line_frequency

    def state_summary(self) -> str:
        rng = "auto" if self.auto_range() else format_quantity(self.range(), "V")
        return f"NPLC {self.nplc():g}, range {rng}"
