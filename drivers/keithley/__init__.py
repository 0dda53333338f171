"""Keithley instruments.

``Keithley2182`` (nanovoltmeter) and ``Keithley6221`` (current source) are PyMeasure's
drivers used unchanged, tested here against the emulator and pinned with
``expected_protocol``. ``Keithley2400`` is PyMeasure's SourceMeter driver with its
voltage, current and resistance measurements made safe (they never turn the output on).
"""

from pymeasure.instruments.keithley import Keithley2182, Keithley6221

from .keithley2400 import Keithley2400

__all__ = ["Keithley2182", "Keithley2400", "Keithley6221"]
