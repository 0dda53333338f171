"""Training a network chip of any size with the chip in the loop, through its
instruments (``LayeredBench``), by the twins' minibatch Adam (``labrf.training.twin``).

``physics-aware``: each minibatch is presented to the chip (one pass per example: the
output neurons' powers from the analyzer trace and, on a bench with a chain voltmeter,
every chain's voltage read in the same pass). Every layer's activations are the chip's:
drives from its measured chain voltages (without a voltmeter, the model's forward pass at
the same knobs and inputs), and the output layer's emission what the analyzer saw (an
emitting neuron's current from its measured power through the oscillator model; a
silent one's, the drive's, but never above its onset); the loss of those outputs is
back-propagated through the model at these activations (Wright et al., Nature 601, 549
(2022)), so that what the model gets wrong about the chip's forward pass (spread it did
not calibrate: sensitivities, emitted powers) does not enter the gradient's operating
point.
``spsa``: the loss of the chip's outputs (read the same way) at x +- c Delta, two passes
per example per step. Accuracies are the chip's, classified from the trace.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import numpy as np

from labrf.network import layered_pass as lp
from labrf.network.layered import LayeredNetwork
from labrf.physics.oscillator import onset_current
from labrf.training.datasets import TwinData
from labrf.training.layered_bench import LayeredBench
from labrf.training.twin import (
    BATCH,
    TWIN_LEARNING_RATE,
    AdamState,
    Epoch,
    TwinResult,
    adam_epochs,
    loop_estimator,
    loop_estimators,
    single_threaded_blas,
)


def at_measured_output(model: LayeredNetwork, output: lp.LayerActivations,
                       powers: np.ndarray) -> lp.LayerActivations:
    """The model's output-layer activations with the chip's emitted ``powers`` (B, C) W
    in place of its own: currents inverted from the powers where the chip emitted, the
    model's (capped at the onset of emission) where it did not."""
    neurons = model.layers[-1].neurons.oscillators
    onset = np.broadcast_to(onset_current(neurons, model.detection_power), powers.shape)
    emitting = powers > model.detection_power
    scale = np.broadcast_to(np.asarray(neurons.power_scale, float), powers.shape)
    heard = np.minimum(powers, 0.999 * scale)  # a power the model cannot make: its top
    inverted = np.minimum(onset_current(neurons, heard), model.drive_limit)
    currents = np.where(emitting, inverted, np.minimum(output.currents, onset))
    drives = np.where(np.abs(output.drives) >= model.drive_limit, output.drives, currents)
    return replace(output, currents=currents, drives=drives, powers=powers)


def chip_judge(bench: LayeredBench) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    """Classes the chip gives inputs (B, N_0) W with knobs (A) written to it."""

    def judge(knobs: np.ndarray, inputs: np.ndarray) -> np.ndarray:
        bench.write(knobs)
        return bench.classify(bench.forward(inputs))

    return judge


@single_threaded_blas
def train_on_chip(model: LayeredNetwork, bench: LayeredBench, data: TwinData,
                  knobs: np.ndarray, *, estimator: str = "physics-aware", epochs: int = 5,
                  batch: int = BATCH, lr: float = TWIN_LEARNING_RATE, seed: int = 0,
                  power_scale: float, spsa_step: float = 0.05,
                  objective: lp.LayeredObjective = lp.DEFAULT_LAYERED_OBJECTIVE,
                  on_epoch: Callable[[Epoch], None] | None = None,
                  resume: AdamState | None = None,
                  on_state: Callable[[AdamState], None] | None = None) -> TwinResult:
    """Train ``knobs`` (A) with ``bench``'s chip doing every forward pass (see the
    module); ``spsa_step`` in KNOB_SCALE units. Each epoch's accuracies are measured on
    the chip; ``Epoch.passes`` counts training passes (in training sets). ``resume`` and
    ``on_state`` as for ``adam_epochs``."""

    def chip_pass(k: np.ndarray, inputs: np.ndarray, gradient: bool
                  ) -> tuple[list[lp.LayerActivations], lp.Plan]:
        """Every layer's activations at knobs ``k``; the chains read too for a gradient's
        operating point, on a bench with a chain voltmeter."""
        bench.write(k)
        plan = lp.Plan(model, k)
        if gradient and bench.chains is not None:
            powers, volts = bench.forward(inputs, voltages=True)
            acts = lp.activations_from_voltages(model, k, volts)
        else:
            powers = bench.forward(inputs)
            acts = lp.forward(model, k, inputs, plan)
        return [*acts[:-1], at_measured_output(model, acts[-1], powers)], plan

    step = loop_estimator(loop_estimators(model, chip_pass, spsa_step=spsa_step,
                                          objective=objective), estimator)
    return adam_epochs(model, chip_judge(bench), data, knobs, step,
                       epochs=epochs, batch=batch, lr=lr, seed=seed,
                       power_scale=power_scale, on_epoch=on_epoch, resume=resume,
                       on_state=on_state)
