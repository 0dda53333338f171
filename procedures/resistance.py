"""Resistance loop R(B) of a magnetic tunnel junction: a small DC current through it, its
voltage read at each field of a sweep from -max_field to +max_field and back.

The analysis gives the parallel and antiparallel resistances, the TMR and the switching
field of each branch (labrf.analysis.resistance).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from pymeasure.experiment import FloatParameter, IntegerParameter, Parameter

from labrf.analysis.plots import label, new_figure, save
from labrf.analysis.resistance import DOWN, UP, fit_resistance_loop
from labrf.errors import ConfigError
from labrf.procedure import Column, LabProcedure
from labrf.roles import CurrentSource, FieldCoil, Gaussmeter, Voltmeter


class ResistanceLoop(LabProcedure):
    """R(B) loop: fields swept -max_field to +max_field (branch +1) and back (branch -1),
    with ``current`` A from ``source`` and the junction voltage from ``meter``.

    ``meter`` names a Voltmeter, or the source itself when it measures voltage (a 2400
    SMU); R = V / current. The sweep starts by ramping to -max_field (not recorded), waits
    ``settle_time`` at each field (the magnet's lag), and ends at 0 A in the coil and the
    junction, outputs off. The loop ends on the down branch, so the free layer is left in
    the state of negative fields; ``reset_field`` (T), when not 0, is visited before the
    coil goes to zero to leave it in the other (which sign gives the parallel state
    depends on the chip: on the simulated chips, positive). On a chip in one magnet every
    junction follows the field, not just the one measured.
    """

    name: ClassVar[str] = "resistance"

    source = Parameter("Current source", default="smu")
    meter = Parameter("Voltmeter (or the source, if it measures voltage)",
                      default="nanovoltmeter")
    magnet = Parameter("Field coil", default="magnet")
    gaussmeter = Parameter("Gaussmeter ('' for none)", default="gaussmeter")
    current = FloatParameter("Junction current", units="A", default=1e-4, minimum=-1.0,
                             maximum=1.0)
    max_field = FloatParameter("Largest field", units="T", default=0.05, minimum=1e-6,
                               maximum=10.0)
    points = IntegerParameter("Points per branch", default=51, minimum=3, maximum=100001)
    settle_time = FloatParameter("Wait at each field", units="s", default=1.0, minimum=0.0,
                                 maximum=3600.0)
    nplc = FloatParameter("Voltmeter integration", units="PLC", default=1.0, minimum=0.01,
                          maximum=50.0)
    reset_field = FloatParameter("Field visited after the loop (0 for none)", units="T",
                                 default=0.0, minimum=-10.0, maximum=10.0)

    COLUMNS: ClassVar[Mapping[str, Column]] = {
        "field": Column("T", label="Field (set)"),
        "field_measured": Column("T", setpoints=("field",), label="Field (gaussmeter)"),
        "resistance": Column("ohm", setpoints=("field",), label="Resistance"),
        "branch": Column("", setpoints=("field",), label="Branch (+1 up, -1 down)"),
    }

    _source: CurrentSource | None = None
    _coil: FieldCoil | None = None

    def fields(self) -> np.ndarray:
        """Fields (T) of the up branch, -max_field to +max_field."""
        return np.linspace(-self.max_field, self.max_field, int(self.points))

    def _voltage_reader(self, source: CurrentSource) -> Callable[[], float]:
        if self.meter == self.source:
            if not source.has("voltage"):
                raise ConfigError(f"{type(self).__name__}: meter '{self.meter}' is the "
                                  f"source, but a {source.binding.model} measures no "
                                  f"voltage; name a Voltmeter as meter",
                                  file=self.station.spec.file)
            return lambda: float(source.voltage())
        meter = self.instrument(self.meter, Voltmeter)
        meter.nplc(self.nplc)
        return lambda: float(meter.voltage())

    def startup(self) -> None:
        """Find the instruments, check the limits, source on at ``current``, coil on and
        ramped to -max_field."""
        source = self.instrument(self.source, CurrentSource)
        coil = self.instrument(self.magnet, FieldCoil)
        self._gauss = self.instrument(self.gaussmeter, Gaussmeter) if self.gaussmeter \
            else None
        self._read_voltage = self._voltage_reader(source)
        source.current.validate(self.current)
        coil.field.validate(-self.max_field)
        coil.field.validate(self.max_field)
        coil.field.validate(self.reset_field)
        self._source, self._coil = source, coil
        if not source.output():
            source.current(self.current)
        source.output(True)
        source.current(self.current)
        coil.output(True)
        coil.field(-self.max_field)

    def execute(self) -> None:
        """Up branch, down branch; one row per field; ends at 0 A in coil and junction."""
        assert self._coil is not None and self._source is not None, "startup() first"
        coil, clock = self._coil, self.station.clock
        for branch, b in self.field_loop(coil, self.fields(), self.settle_time):
            measured = float(self._gauss.field()) if self._gauss is not None else math.nan
            resistance = self._read_voltage() / self.current
            self.emit("results", {"field": b, "field_measured": measured,
                                  "resistance": resistance, "branch": float(branch)})
        self._source.current(0.0)
        if self.reset_field and not self.should_stop():
            coil.field(self.reset_field)
            clock.sleep(self.settle_time)
        coil.to_zero()
        clock.sleep(self.settle_time)

    def shutdown(self) -> None:
        """Source and coil outputs off (each ramped to 0 A first)."""
        if self._source is not None:
            self._source.output(False)
        if self._coil is not None:
            self._coil.output(False)

    @staticmethod
    def _field(data: Mapping[str, np.ndarray]) -> np.ndarray:
        """The gaussmeter's fields where they were all read, else the set fields."""
        measured = np.asarray(data.get("field_measured", []), dtype=float)
        if measured.size and np.isfinite(measured).all():
            return measured
        return np.asarray(data["field"], dtype=float)

    def analyse(self, data: Mapping[str, np.ndarray]) -> dict[str, Any]:
        """R_P and R_AP (ohm), TMR, switching fields per branch, coercive field and loop
        shift (T, against the gaussmeter's field when recorded); LabrfError when the
        junction did not switch."""
        return fit_resistance_loop(self._field(data), data["resistance"],
                                   data["branch"]).as_dict()

    def plot(self, data: Mapping[str, np.ndarray], fit: Mapping[str, Any],
             path: Path) -> Path:
        """R against field per branch, with the plateaus and switching fields."""
        fig, ax = new_figure(title="Resistance loop")
        b = self._field(data)
        r = np.asarray(data["resistance"], dtype=float)
        s = np.asarray(data["branch"], dtype=float)
        for branch, text, style in ((UP, "field up", "o-"), (DOWN, "field down", "x-")):
            sel = s == branch
            ax.plot(b[sel], r[sel], style, label=text, markersize=4)
        if fit.get("tmr") is not None and np.isfinite(fit["tmr"]):
            for key, text in (("resistance_parallel", "R_P"),
                              ("resistance_antiparallel", "R_AP")):
                ax.axhline(fit[key], color="grey", linestyle=":",
                           label=f"{text} = {fit[key]:.3f} ohm")
            for key in ("switching_field_up", "switching_field_down"):
                if fit.get(key) is not None and np.isfinite(fit[key]):
                    ax.axvline(fit[key], color="grey", linestyle="--")
            ax.set_title(f"TMR {fit['tmr'] * 100:.2f} %")
        label(ax, "Field", "T", "Resistance", "ohm")
        ax.legend()
        return save(fig, path)
