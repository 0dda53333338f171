"""Keithley instruments.

``Keithley2182`` (nanovoltmeter) and ``Keithley6221`` (current source) are PyMeasure's
drivers used unchanged, tested here against the emulator and pinned with
``expected_protocol``. ``Keithley2400`` is PyMeasure's SourceMeter driver with its
voltage, current and resistance measurements made safe (they never turn the output on).
``Keithley3706A`` (system switch) is ours: PyMeasure has none; it speaks TSP.
"""

from pymeasure.instruments.keithley import Keithley2182, Keithley6221

from .keithley2400 import Keithley2400
from .keithley3706a import Keithley3706A

__all__ = ["Keithley2182", "Keithley2400", "Keithley3706A", "Keithley6221"]
