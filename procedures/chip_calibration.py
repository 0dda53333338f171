"""Calibration of a network chip of any size (the station's ``labrf.chip``): every
neuron's emission curve and every synapse's resonance, through the chip's instruments
(``labrf.training.layered_calibration``: the multitone source, the knob bank, the chain
voltmeter, the output analyzer and the monitor analyzer).

One row per device: ``kind`` 0 a synapse (``layer``, ``chain``, ``position`` in the
chain; its resonance at zero control, the design's, its gain and fit residual), 1 a
neuron (``layer``, ``chain`` its index; threshold and frequency at threshold). The
``chip-in-the-loop`` training of such a chip builds its model from the latest completed
run of this procedure on the same station file.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from pymeasure.experiment import FloatParameter

from labrf.analysis.plots import label, new_figure, save
from labrf.errors import LabrfError
from labrf.procedure import Column, LabProcedure
from labrf.roles import ChainVoltmeter, SpectrumAnalyzer
from labrf.training.layered_bench import LayeredBench
from labrf.training.layered_calibration import (
    NEURON,
    SYNAPSE,
    CalibrationStopped,
    ChipCalibrator,
    LayeredCalibration,
    overlapping_outputs,
)

log = logging.getLogger(__name__)

#: Station names of the calibration's own instruments.
CHAINS, MONITOR = "chains", "monitor_analyzer"


def chip_of(procedure: LabProcedure) -> Any:
    """The design of the station's chip (``labrf.chip``); LabrfError if it has none."""
    chip = procedure.station.spec.chip
    if chip is None:
        raise LabrfError(f"{procedure.name}: station {procedure.station.spec.file} has no "
                         "network chip; describe it under labrf.chip (layers: [64, 16, 10]"
                         ", or network: FILE), as station_configs/sim_digits_chip.yaml does")
    return chip


class ChipCalibrationProcedure(LabProcedure):
    """Emission curves of every neuron and resonances of every synapse of the chip."""

    name: ClassVar[str] = "chip-calibration"

    settle_time = FloatParameter("Wait after each setting", units="s", default=1e-3,
                                 minimum=0.0, maximum=60.0)
    nplc = FloatParameter("Chain-voltmeter aperture", units="PLC", default=1.0,
                          minimum=0.02, maximum=100.0)

    COLUMNS: ClassVar[Mapping[str, Column]] = {
        "kind": Column("", label="Device (0: synapse, 1: neuron)"),
        "layer": Column("", label="Layer"),
        "chain": Column("", label="Chain (a neuron: its index)"),
        "position": Column("", label="Synapse in its chain"),
        "resonance": Column("Hz", setpoints=("kind", "layer", "chain", "position"),
                            label="Resonance at zero control"),
        "design_resonance": Column("Hz", setpoints=("kind", "layer", "chain", "position"),
                                   label="Design resonance"),
        "gain": Column("", setpoints=("kind", "layer", "chain", "position"),
                       label="Path x sensitivity / design"),
        "residual": Column("V", setpoints=("kind", "layer", "chain", "position"),
                           label="Fit residual (rms)"),
        "threshold": Column("A", setpoints=("kind", "layer", "chain"),
                            label="Threshold current"),
        "frequency": Column("Hz", setpoints=("kind", "layer", "chain"),
                            label="Frequency at threshold"),
    }

    def startup(self) -> None:
        """The chip's design, its instruments found, the voltmeter's aperture set."""
        self._design = chip_of(self)
        self.bench = LayeredBench.from_station(self.instrument, self.station.clock,
                                               self._design, settle_time=self.settle_time)
        self._chains = self.instrument(CHAINS, ChainVoltmeter)
        monitor = None
        if len(self._design.layers) > 1:
            monitor = self.instrument(MONITOR, SpectrumAnalyzer)
        self._monitor = monitor
        self._chains.nplc(self.nplc)
        sizes = self._design.sizes
        if self._chains.count != sum(sizes[1:]):
            raise LabrfError(f"{self.name}: {CHAINS} reads {self._chains.count} inputs; the "
                             f"{'-'.join(map(str, sizes))} chip has {sum(sizes[1:])} chains")

    def execute(self) -> None:
        """Both calibrations, then one row per device."""
        calibrator = ChipCalibrator(self.bench, self._chains, self._monitor, self._design,
                                    should_stop=self.should_stop)
        try:
            cal = calibrator.run()
        except CalibrationStopped:
            return
        nan = math.nan
        for index, layer in enumerate(self._design.layers):
            m, k, _ = layer.shape
            for j in range(m):
                self.emit("results", {"kind": NEURON, "layer": index, "chain": j,
                                      "position": nan, "resonance": nan,
                                      "design_resonance": nan, "gain": nan,
                                      "residual": nan, "threshold": cal.threshold[index][j],
                                      "frequency": cal.frequency[index][j]})
            design = layer.synapses.resonance
            for j in range(m):
                for s in range(k):
                    self.emit("results", {
                        "kind": SYNAPSE, "layer": index, "chain": j, "position": s,
                        "resonance": cal.resonance[index][j, s],
                        "design_resonance": design[j, s], "gain": cal.gain[index][j, s],
                        "residual": cal.residual[index][j, s], "threshold": nan,
                        "frequency": nan})
            self.progress(index + 1, len(self._design.layers))
        self._passes = cal.passes

    def shutdown(self) -> None:
        """Tones off, knobs ramped to 0 A and off."""
        bench = getattr(self, "bench", None)
        if bench is not None:
            bench.tones.output(False)
            bench.knobs.output(False)

    def analyse(self, data: Mapping[str, np.ndarray]) -> dict[str, Any]:
        """Devices calibrated; per layer the rms offset of the resonances from the design
        (relative), the spread of the thresholds and the largest fit residual."""
        design = chip_of(self)
        cal = LayeredCalibration.from_rows(design, data)
        layers = []
        for index, layer in enumerate(design.layers):
            d_res = layer.synapses.resonance
            th = cal.threshold[index]
            layers.append({
                "synapses": int(d_res.size), "neurons": int(th.size),
                "resonance_offset_rms": float(np.sqrt(np.mean(
                    (cal.resonance[index] / d_res - 1) ** 2))),
                "threshold_spread": float(np.std(th) / np.mean(th)),
                "gain_mean": float(np.mean(cal.gain[index])),
                "residual_max": float(np.max(cal.residual[index]))})
        warnings = [f"output neurons {i} and {j} emit over overlapping bands ({a / 1e6:.1f} "
                    f"to {b / 1e6:.1f} MHz): where their lines meet, one analyzer trace "
                    f"sees one line, shared between classes {i} and {j} in the ratio the "
                    f"model expects"
                    for i, j, a, b in overlapping_outputs(cal.model(design))]
        for warning in warnings:
            log.warning("chip-calibration: %s", warning)
        return {"sizes": list(design.sizes), "layers": layers, "warnings": warnings,
                "synapses": int(sum(x["synapses"] for x in layers)),
                "neurons": int(sum(x["neurons"] for x in layers)),
                "readings": int(getattr(self, "_passes", 0))}

    def summary(self, fit: Mapping[str, Any]) -> Mapping[str, Any]:
        return {k: fit[k] for k in ("sizes", "synapses", "neurons", "readings")}

    def plot(self, data: Mapping[str, np.ndarray], fit: Mapping[str, Any],
             path: Path) -> Path:
        """Each synapse's resonance offset from the design against its design resonance,
        and each neuron's threshold, per layer."""
        fig, (ax_syn, ax_neu) = new_figure(1, 2, title="Chip calibration")
        kind, layer = np.asarray(data["kind"]), np.asarray(data["layer"])
        for index in np.unique(layer).astype(int):
            syn = (kind == SYNAPSE) & (layer == index)
            d = np.asarray(data["design_resonance"])[syn]
            ax_syn.plot(d, np.asarray(data["resonance"])[syn] / d - 1, ".", ms=2,
                        label=f"layer {index}")
            neu = (kind == NEURON) & (layer == index)
            ax_neu.plot(np.asarray(data["frequency"])[neu], np.asarray(data["threshold"])[neu],
                        "o", ms=3, label=f"layer {index}")
        label(ax_syn, "Design resonance", "Hz", "Measured / design - 1", "")
        label(ax_neu, "Frequency at threshold", "Hz", "Threshold", "A")
        ax_syn.legend(fontsize="x-small")
        ax_neu.legend(fontsize="x-small")
        return save(fig, path)
