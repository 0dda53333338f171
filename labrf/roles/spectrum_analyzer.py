"""The spectrum analyzer role: a frequency span, its resolution, and traces as arrays."""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
from qcodes.validators import Enum, Ints

from labrf.drivers.rohdeschwarz import FSV
from labrf.drivers.rohdeschwarz.fsv import DETECTORS
from labrf.roles.base import Binding, Role, Within
from labrf.units import dbm_to_watt, format_quantity


class Trace(NamedTuple):
    """One sweep: frequencies in Hz and levels in dBm, as arrays of equal length."""

    frequency: np.ndarray
    power: np.ndarray

    @property
    def power_watt(self) -> np.ndarray:
        """Levels in W."""
        return np.asarray(dbm_to_watt(self.power))

    def peak(self) -> tuple[float, float]:
        """Frequency (Hz) and level (dBm) of the highest point."""
        k = int(np.argmax(self.power))
        return float(self.frequency[k]), float(self.power[k])


class SpectrumAnalyzer(Role):
    """A swept spectrum analyzer watching the RF a junction emits (passive).

    Set the span by ``start``/``stop`` or ``center``/``span``, the resolution by
    ``rbw``/``vbw`` and ``points``, the ``detector`` (``"RMS"`` to integrate a line's
    power over the trace); ``sweep()`` runs one single sweep, waits for its end and
    returns the :class:`Trace`.
    """

    role = "spectrum analyzer"
    bindings = {
        FSV: Binding(
            "Rohde & Schwarz FSV", r"^Rohde&Schwarz,FSV",
            {"start": "freq_start", "stop": "freq_stop", "center": "freq_center",
             "span": "freq_span", "rbw": "res_bandwidth", "vbw": "video_bandwidth",
             "points": "sweep_points", "sweep_time": "sweep_time", "detector": "detector",
             "single_sweep": "single_sweep_and_wait", "trace": "read_trace_binary"},
            {"frequency": (10.0, 7e9), "rbw": (1.0, 10e6), "points": (101, 32001)}),
    }

    def __init__(self, name: str, address: str, driver: str | type, **kwargs: Any) -> None:
        super().__init__(name, address, driver, **kwargs)
        f_lo, f_hi = self.range_of("frequency", (0.0, 1e12))
        r_lo, r_hi = self.range_of("rbw", (1.0, 1e8))
        p_lo, p_hi = self.range_of("points", (2, 100001))
        for feature, label in (("start", "Start frequency"), ("stop", "Stop frequency"),
                               ("center", "Center frequency")):
            self._frequency_parameter(feature, label, Within(f_lo, f_hi, "Hz"))
        self._frequency_parameter("span", "Span", Within(0.0, f_hi - f_lo, "Hz"))
        self._frequency_parameter("rbw", "Resolution bandwidth", Within(r_lo, r_hi, "Hz"))
        self._frequency_parameter("vbw", "Video bandwidth", Within(r_lo, r_hi, "Hz"))
        self.add_parameter("points", label="Sweep points", get_cmd=lambda: int(
                           self.number("points")), set_cmd=lambda n: self.send(
                           "points", int(n)), vals=Ints(int(p_lo), int(p_hi)))
        self.add_parameter("detector", label="Detector",
                           get_cmd=lambda: self.read("detector"),
                           set_cmd=lambda d: self.send("detector", d), vals=Enum(*DETECTORS),
                           docstring="Detector of the trace: APE (auto peak), POS, NEG, "
                                     "RMS, AVER or SAMP.")
        self.add_parameter("sweep_time", unit="s", label="Sweep time",
                           get_cmd=lambda: self.number("sweep_time"))

    def _frequency_parameter(self, feature: str, label: str, vals: Within) -> None:
        self.add_parameter(feature, unit="Hz", label=label,
                           get_cmd=lambda: self.number(feature),
                           set_cmd=lambda f: self.send(feature, float(f)), vals=vals)

    def single_sweep(self) -> None:
        """Run one sweep and wait until it has ended."""
        self.call("single_sweep")

    def trace(self) -> Trace:
        """The last sweep's trace."""
        frequency, power = self.call("trace")
        return Trace(np.asarray(frequency, dtype=float), np.asarray(power, dtype=float))

    def sweep(self) -> Trace:
        """One single sweep, then its trace."""
        self.single_sweep()
        return self.trace()

    def peak(self) -> tuple[float, float]:
        """Frequency (Hz) and level (dBm) of the highest point of a new sweep."""
        return self.sweep().peak()

    def state_summary(self) -> str:
        return (f"{format_quantity(self.start(), 'Hz')} to "
                f"{format_quantity(self.stop(), 'Hz')}, RBW {format_quantity(self.rbw(), 'Hz')}"
                f", {self.points()} points")
