"""I-V curve at small bias: the two-terminal check a characterization campaign starts with.

A few currents from ``-max_current`` to ``+max_current`` through the junction, its voltage
read at each. The analysis fits V = R I + V0 and says whether the contact is sound:
``shorted`` below ``short_below`` (a broken barrier reads a few ohm), ``open`` when the
source sat at its voltage compliance or R is above ``open_above`` (a broken bond).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from pymeasure.experiment import FloatParameter, IntegerParameter, Parameter

from labrf.analysis.plots import label, new_figure, save
from labrf.errors import LabrfError
from labrf.procedure import Column, LabProcedure
from labrf.roles import CurrentSource, Voltmeter

COMPLIANCE_MARGIN = 0.98  #: |V| this close to the compliance: the source was limited


def classify_contact(resistance: float, at_compliance: bool, short_below: float,
                     open_above: float) -> str:
    """``ok``, ``shorted`` or ``open`` for a fitted resistance (ohm)."""
    if at_compliance or not math.isfinite(resistance) or resistance > open_above:
        return "open"
    if abs(resistance) < short_below:
        return "shorted"
    return "ok"


class IVCurve(LabProcedure):
    """V against I at ``points`` currents in [-max_current, max_current] (A), from
    ``source`` and read by ``meter``; ends at 0 A, output off."""

    name: ClassVar[str] = "iv-curve"

    source = Parameter("Current source", default="current_source")
    meter = Parameter("Voltmeter", default="nanovoltmeter")
    max_current = FloatParameter("Largest current", units="A", default=100e-6,
                                 minimum=1e-9, maximum=1.0)
    points = IntegerParameter("Currents", default=11, minimum=3, maximum=10001)
    settle_time = FloatParameter("Wait after each current", units="s", default=0.01,
                                 minimum=0.0, maximum=3600.0)
    nplc = FloatParameter("Voltmeter integration", units="PLC", default=1.0, minimum=0.01,
                          maximum=50.0)
    short_below = FloatParameter("A resistance below this is a short", units="ohm",
                                 default=10.0, minimum=0.0, maximum=1e9)
    open_above = FloatParameter("A resistance above this is open", units="ohm",
                                default=100e3, minimum=1.0, maximum=1e12)

    COLUMNS: ClassVar[Mapping[str, Column]] = {
        "current": Column("A", label="Current"),
        "voltage": Column("V", setpoints=("current",), label="Junction voltage"),
        "compliance": Column("V", setpoints=("current",), label="Source compliance"),
    }

    _source: CurrentSource | None = None
    _compliance: float = math.inf  #: V, the source's compliance (recorded with each row)

    def currents(self) -> np.ndarray:
        """The currents of the sweep in A."""
        return np.linspace(-self.max_current, self.max_current, int(self.points))

    def startup(self) -> None:
        """Find the instruments, check both ends against the limits, source on at the
        first current."""
        source = self.instrument(self.source, CurrentSource)
        self._meter = self.instrument(self.meter, Voltmeter)
        for current in (-self.max_current, self.max_current):
            source.current.validate(current)  # LimitError before anything changes
        self._meter.nplc(self.nplc)
        self._compliance = float(source.compliance())
        self._source = source
        if not source.output():
            source.current(0.0)
        source.output(True)

    def execute(self) -> None:
        """One row per current; ends at 0 A."""
        assert self._source is not None, "startup() first"
        currents = self.currents()
        for i, current in enumerate(currents):
            if self.should_stop():
                break
            self._source.current(float(current))
            self.station.clock.sleep(self.settle_time)
            self.emit("results", {"current": float(current),
                                  "voltage": float(self._meter.voltage()),
                                  "compliance": self._compliance})
            self.progress(i + 1, currents.size)
        self._source.current(0.0)

    def shutdown(self) -> None:
        """Source output off (it ramps to 0 A first)."""
        if self._source is not None:
            self._source.output(False)

    def analyse(self, data: Mapping[str, np.ndarray]) -> dict[str, Any]:
        """``resistance`` (ohm, the slope), ``offset`` (V), ``residual`` (V, rms),
        ``at_compliance`` and ``contact`` (ok, shorted, open); a ``fault`` naming a
        shorted or open contact."""
        i = np.asarray(data["current"], dtype=float)
        v = np.asarray(data["voltage"], dtype=float)
        if i.size < 3 or np.ptp(i) == 0:
            raise LabrfError(f"an I-V fit needs 3 distinct currents, got {i.size}")
        slope, offset = np.polyfit(i, v, 1)
        residual = float(np.sqrt(np.mean((v - (slope * i + offset)) ** 2)))
        compliance = np.asarray(data["compliance"], dtype=float)
        at_compliance = bool(np.any(np.abs(v) >= COMPLIANCE_MARGIN * compliance))
        contact = classify_contact(float(slope), at_compliance, self.short_below,
                                   self.open_above)
        fit: dict[str, Any] = {"resistance": float(slope), "offset": float(offset),
                               "residual": residual, "at_compliance": at_compliance,
                               "contact": contact}
        if contact == "shorted":
            fit["fault"] = (f"shorted: {slope:.3g} ohm, below {self.short_below:g} ohm")
        elif contact == "open":
            fit["fault"] = ("open: the source sat at its compliance" if at_compliance
                            else f"open: {slope:.3g} ohm, above {self.open_above:g} ohm")
        return fit

    def plot(self, data: Mapping[str, np.ndarray], fit: Mapping[str, Any],
             path: Path) -> Path:
        """V against I with the fitted line."""
        fig, ax = new_figure(title="I-V curve")
        i, v = data["current"], data["voltage"]
        ax.plot(i, v, "o", label="measured")
        if fit:
            ax.plot(i, fit["resistance"] * i + fit["offset"],
                    label=f"fit: R = {fit['resistance']:.4g} ohm ({fit['contact']})")
        label(ax, "Current", "A", "Voltage", "V")
        ax.legend()
        return save(fig, path)
