"""Field-coil calibration: the coil's supply current swept down, up and down again
(-I_max, +I_max, -I_max, with ``I_max = max_field / field_per_current`` of the coil's
present calibration), the gaussmeter's field read at each point after the magnet has
settled. The fitted line ``B = c I + B0`` becomes the calibration the FieldCoil uses:
``apply_calibration(station.roles[magnet], fit)`` or ``set_calibration(*proc.calibration(
fit))``.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from pymeasure.experiment import FloatParameter, IntegerParameter, Parameter

from labrf.analysis.field import (
    DOWN,
    UP,
    FieldFit,
    apply_calibration,
    calibration,
    fit_field_calibration,
)
from labrf.analysis.plots import label, new_figure, save
from labrf.errors import LabrfError
from labrf.procedure import Column, LabProcedure
from labrf.roles import FieldCoil, Gaussmeter

#: largest max_field as a fraction of the magnet's field limit: the rest is room for a
#: calibration error and remanence, which the FieldCoil's gaussmeter guard would stop at
FIELD_MARGIN = 0.95


class FieldCalibration(LabProcedure):
    """Gaussmeter field against supply current over an up and a down branch.

    Fields are set by their nominal value (the coil's present calibration) at its ramp
    rate; each point waits ``settle_time`` (default 1 s, 5 L/R of the sim_bench magnet)
    before the supply current and the field are read. The sweep starts by ramping to
    ``-max_field`` (not recorded) and ends with the coil at 0 A.
    """

    name: ClassVar[str] = "field-calibration"

    magnet = Parameter("Field coil", default="magnet")
    gaussmeter = Parameter("Gaussmeter", default="gaussmeter")
    max_field = FloatParameter("Nominal field at the ends of the sweep", units="T",
                               default=0.18, minimum=1e-6, maximum=10.0)
    points = IntegerParameter("Points per branch", default=37, minimum=3, maximum=100001)
    settle_time = FloatParameter("Wait at each point", units="s", default=1.0, minimum=0.0,
                                 maximum=3600.0)

    COLUMNS: ClassVar[Mapping[str, Column]] = {
        "supply_current": Column("A", label="Coil current"),
        "field": Column("T", setpoints=("supply_current",), label="Measured field"),
        "branch": Column("", setpoints=("supply_current",), label="Branch (+1 up, -1 down)"),
    }

    _coil: FieldCoil | None = None

    def fields(self) -> np.ndarray:
        """Nominal fields (T) of one branch, from -max_field to +max_field."""
        return np.linspace(-self.max_field, self.max_field, int(self.points))

    def startup(self) -> None:
        """Find the coil and gaussmeter, check the span, output on, ramp to -max_field."""
        coil = self.instrument(self.magnet, FieldCoil)
        self._gaussmeter = self.instrument(self.gaussmeter, Gaussmeter)
        top = FIELD_MARGIN * coil.limits.field
        if self.max_field > top:
            raise LabrfError(f"{self.name}: max_field {self.max_field:g} T is beyond "
                             f"{FIELD_MARGIN:.0%} of {self.magnet}'s field limit "
                             f"({coil.limits.field:g} T); valid: up to {top:g} T (the rest "
                             f"is room for calibration error and remanence)")
        coil.field.validate(-self.max_field)
        self._coil = coil
        coil.output(True)
        coil.field(-self.max_field)

    def execute(self) -> None:
        """Up branch, down branch; one row per point; ends at 0 A."""
        assert self._coil is not None, "startup() first"
        coil, clock = self._coil, self.station.clock
        for branch, _ in self.field_loop(coil, self.fields(), self.settle_time):
            self.emit("results", {"supply_current": float(coil.supply_current()),
                                  "field": float(self._gaussmeter.field()),
                                  "branch": float(branch)})
        coil.to_zero()
        clock.sleep(self.settle_time)

    def shutdown(self) -> None:
        """Coil output off (ramped to 0 A first)."""
        if self._coil is not None:
            self._coil.output(False)

    def analyse(self, data: Mapping[str, np.ndarray]) -> dict[str, Any]:
        """c (T/A), B0 (T) together and per branch, hysteresis and remanence (T), with
        errors (see labrf.analysis.field.FieldFit)."""
        return fit_field_calibration(data["supply_current"], data["field"],
                                     data["branch"]).as_dict()

    @staticmethod
    def calibration(fit: FieldFit | Mapping[str, Any]) -> tuple[float, float]:
        """``(field_per_current, field_offset)`` for ``FieldCoil.set_calibration``."""
        return calibration(fit)

    def apply(self, fit: Mapping[str, Any]) -> str:
        """The fitted calibration becomes the one the field coil sets its field by; the
        note gives the lines that keep it in the station file."""
        c, b0 = apply_calibration(self.instrument(self.magnet, FieldCoil), fit)
        return (f"{self.magnet} now uses {c * 1e3:.4f} mT/A, offset {b0 * 1e3:.4f} mT; to "
                f"keep it, set in the station file under instruments.{self.magnet}.init: "
                f"field_per_current: {c * 1e3:.4f} mT/A, field_offset: {b0 * 1e3:.4f} mT")

    def plot(self, data: Mapping[str, np.ndarray], fit: Mapping[str, Any],
             path: Path) -> Path:
        """Field against current per branch with the joint line, and the residuals."""
        fig, (ax_b, ax_r) = new_figure(1, 2, title="Field calibration")
        i = np.asarray(data["supply_current"], dtype=float)
        b = np.asarray(data["field"], dtype=float)
        s = np.asarray(data["branch"], dtype=float)
        c, b0 = fit.get("field_per_current"), fit.get("field_offset")
        have_fit = c is not None and b0 is not None and np.isfinite([c, b0]).all()
        for branch, text in ((UP, "up"), (DOWN, "down")):
            sel = s == branch
            ax_b.plot(i[sel], b[sel], "o" if branch == UP else "x", label=text)
            if have_fit:
                ax_r.plot(i[sel], b[sel] - (c * i[sel] + b0), "o" if branch == UP else "x",
                          label=text)
        if have_fit and i.size:
            dense = np.linspace(i.min(), i.max(), 2)
            ax_b.plot(dense, c * dense + b0,
                      label=f"B = {c * 1e3:.4f} mT/A I + {b0 * 1e3:.4f} mT")
        label(ax_b, "Supply current", "A", "Field", "T")
        label(ax_r, "Supply current", "A", "Field - fit", "T")
        ax_b.legend()
        if have_fit:
            ax_r.legend()
        return save(fig, path)
