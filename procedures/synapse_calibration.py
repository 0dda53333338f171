"""Synapse calibration of the network bench: f_r(I_control) of each of the six synapses.

For each chain (A and B probed through ``rf_input_1``, the output chain O through the
combiner's probe port ``rf_probe``), a probe tone is swept in frequency at three settings
of the chain's two control currents, (-s, +s), (0, 0), (+s, -s), and the chain's DC
voltage is read at each frequency. The two synapses' lines (opposite polarity) are
fitted jointly over all three sweeps (``labrf.training.calibration.fit_chain``): per
synapse the resonance at zero control current, its tuning (Hz/A), damping and both
sensitivities. Neuron biases stay at 0 A, so no neuron emits into the output chain.
The fit is the calibration that ``chip-in-the-loop`` writes its weights through.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from pymeasure.experiment import FloatParameter, IntegerParameter

from labrf.analysis.plots import label, new_figure, save
from labrf.network import nominal_network
from labrf.procedure import Column, LabProcedure
from labrf.roles import CurrentSource, RFSource, Voltmeter
from labrf.training.calibration import (
    CHAINS,
    SynapseCalibration,
    calibrated_network,
    chain_model,
    fit_chain,
)
from labrf.training.hardware import BIASES, CONTROLS, INPUTS, at_zero
from labrf.units import dbm_to_watt

#: The source probing each chain, and the chain's voltmeter.
PROBES = {"A": INPUTS[0], "B": INPUTS[0], "O": "rf_probe"}
METERS = {"A": "chain_A", "B": "chain_B", "O": "chain_O"}


class SynapseCalibrationProcedure(LabProcedure):
    """Spin-diode sweeps of each chain at three control settings, fitted per synapse."""

    name: ClassVar[str] = "synapse-calibration"

    power = FloatParameter("Probe level at the chip", units="dBm", default=-30.0,
                           minimum=-80.0, maximum=-10.0)
    control_setting = FloatParameter("Control current s of the settings (-s,+s), (0,0), "
                                     "(+s,-s)", units="A", default=4e-3, minimum=1e-4,
                                     maximum=5e-3)
    hidden_start = FloatParameter("Sweep start, chains A and B", units="Hz", default=190e6,
                                  minimum=10e6, maximum=6e9)
    hidden_stop = FloatParameter("Sweep stop, chains A and B", units="Hz", default=310e6,
                                 minimum=10e6, maximum=6e9)
    output_start = FloatParameter("Sweep start, output chain", units="Hz", default=250e6,
                                  minimum=10e6, maximum=6e9)
    output_stop = FloatParameter("Sweep stop, output chain", units="Hz", default=360e6,
                                 minimum=10e6, maximum=6e9)
    points = IntegerParameter("Frequencies per sweep", default=121, minimum=12,
                              maximum=100001)
    nplc = FloatParameter("Voltmeter integration", units="PLC", default=1.0, minimum=0.01,
                          maximum=50.0)
    settle_time = FloatParameter("Wait after each frequency step", units="s", default=0.01,
                                 minimum=0.0, maximum=60.0)

    COLUMNS: ClassVar[Mapping[str, Column]] = {
        "chain": Column("", label="Chain (0: A, 1: B, 2: O)"),
        "control_1": Column("A", label="Control current, first synapse"),
        "control_2": Column("A", label="Control current, second synapse"),
        "frequency": Column("Hz", label="Probe frequency"),
        "voltage": Column("V", setpoints=("chain", "control_1", "control_2", "frequency"),
                          label="Chain voltage"),
    }

    def settings(self) -> list[tuple[float, float]]:
        """The control-current pairs (A) each chain is swept at."""
        s = float(self.control_setting)
        return [(-s, s), (0.0, 0.0), (s, -s)]

    def startup(self) -> None:
        """Find the instruments, check every setting against the limits, and put the bench
        at rest: probes off, every control and bias at 0 A, sources on."""
        self._controls = [self.instrument(n, CurrentSource) for n in CONTROLS]
        self._biases = [self.instrument(n, CurrentSource) for n in BIASES]
        self._probes = {n: self.instrument(n, RFSource) for n in {*PROBES.values(), INPUTS[1]}}
        self._meters = {c: self.instrument(m, Voltmeter) for c, m in METERS.items()}
        for c1, c2 in self.settings():
            for source in self._controls:
                source.current.validate(c1)
                source.current.validate(c2)
        for probe in self._probes.values():
            probe.power_at_device.validate(self.power)
            probe.output(False)
        at_zero((*self._controls, *self._biases))
        for meter in self._meters.values():
            meter.nplc(self.nplc)

    def execute(self) -> None:
        """Per chain and setting, one sweep; one row per frequency."""
        clock = self.station.clock
        total = 3 * len(self.settings()) * int(self.points)
        done = 0
        for index, (chain, (k1, k2)) in enumerate(CHAINS.items()):
            probe = self._probes[PROBES[chain]]
            lo, hi = ((self.hidden_start, self.hidden_stop) if chain != "O"
                      else (self.output_start, self.output_stop))
            probe.power_at_device(self.power)
            probe.frequency(lo)
            probe.output(True)
            for c1, c2 in self.settings():
                self._controls[k1].current(c1)
                self._controls[k2].current(c2)
                for f in np.linspace(lo, hi, int(self.points)):
                    if self.should_stop():
                        return
                    probe.frequency(float(f))
                    clock.sleep(self.settle_time)
                    self.emit("results", {"chain": index, "control_1": c1, "control_2": c2,
                                          "frequency": float(f),
                                          "voltage": float(self._meters[chain].voltage())})
                    done += 1
                    self.progress(done, total)
            probe.output(False)
            self._controls[k1].current(0.0)
            self._controls[k2].current(0.0)

    def shutdown(self) -> None:
        """Probes off, control currents ramped to 0 A and off."""
        for probe in getattr(self, "_probes", {}).values():
            probe.output(False)
        for source in (*getattr(self, "_controls", ()), *getattr(self, "_biases", ())):
            source.output(False)

    def analyse(self, data: Mapping[str, np.ndarray]) -> dict[str, Any]:
        """Per synapse: resonance at zero control (Hz), tuning (Hz/A), damping,
        sensitivities (V/W), with the resonance's and tuning's one-sigma errors; per chain
        the residual (V)."""
        design = nominal_network().synapses
        fits = {}
        for index, (chain, (k1, k2)) in enumerate(CHAINS.items()):
            rows = np.asarray(data["chain"]) == index
            fits[chain] = fit_chain(
                data["frequency"][rows],
                np.stack([data["control_1"][rows], data["control_2"][rows]], axis=1),
                data["voltage"][rows], float(dbm_to_watt(self.power)),
                (design[k1], design[k2]))
        calibration = SynapseCalibration.from_chains(fits)
        return {"synapses": calibration.as_dict(),
                "residual_rms": {c: f.residual_rms for c, f in fits.items()},
                "offset": {c: f.offset for c, f in fits.items()}}

    def plot(self, data: Mapping[str, np.ndarray], fit: Mapping[str, Any],
             path: Path) -> Path:
        """Each chain's sweeps with the fitted lines."""
        fig, axes = new_figure(1, 3, title="Synapse calibration")
        net = (calibrated_network(nominal_network(),
                                  SynapseCalibration.from_dict(fit["synapses"]))
               if fit else None)
        for index, (ax, (chain, (k1, k2))) in enumerate(zip(axes, CHAINS.items(),
                                                           strict=True)):
            rows = np.asarray(data["chain"]) == index
            for c1, c2 in sorted({(a, b) for a, b in zip(data["control_1"][rows],
                                                           data["control_2"][rows],
                                                           strict=True)}):
                sel = rows & (data["control_1"] == c1) & (data["control_2"] == c2)
                f = data["frequency"][sel]
                ax.plot(f, data["voltage"][sel], ".",
                        label=f"{c1 * 1e3:+.1f}, {c2 * 1e3:+.1f} mA")
                if net is not None:
                    pair = (net.synapses[k1], net.synapses[k2])
                    ax.plot(f, chain_model(pair, f, np.tile([c1, c2], (f.size, 1)),
                                           float(dbm_to_watt(self.power)))
                            + fit["offset"][chain], "-", color="k", lw=0.8)
            label(ax, "Probe frequency", "Hz", f"Chain {chain} voltage", "V")
            ax.legend(fontsize="small")
        return save(fig, path)
