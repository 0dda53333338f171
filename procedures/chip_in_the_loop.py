"""Chip-in-the-loop training of the nine-junction network on a two-input task.

The task's examples are RF input powers (0 to 3 uW at 230 and 270 MHz by default: the
synapses' linear range); the class is whether the output neuron emits. Weights are
resonances: each knob the model trains is written to the chip as the control current
that the stored synapse calibration says gives that resonance (``KnobMap``). The model
is the network's design with every calibrated quantity replaced by the chip's
(``--model calibrated``, the default: synapse resonances, tunings, widths and
sensitivities; neuron thresholds, frequencies and tunabilities), or the bare design
(``--model design``: the device values of physics.md, which the chip differs from by its
spread). What no calibration measures (amplifier gains, emitted power scale, the phi
fit's bias on the thresholds) is where the chip still differs from the model.

Every estimator starts from the offline solution of the model (``--start model``) or of
the bare design carried over to the chip (``--start design``: a start far from the
target, to compare how fast the estimators recover), and all but ``offline`` train for
``epochs`` epochs with projected Adam (``labrf.training.trainer``). Rows of the dataset:

- ``row`` 0, one per epoch (epoch 0: the start): loss and accuracy over the epoch's
  training passes, accuracy on validation examples (from the training split, never
  trained on; classified from the chain voltages),
  cumulative training and evaluation passes;
- ``row`` 1, one per held-out test example, classified on the analyzer with the knobs
  of the epoch of best validation accuracy (the earlier on a tie): the test accuracy;
- ``row`` 2, one per point of a grid over the input plane: the decision map.

The knobs, Adam's state, the best epoch's state and the tested knobs and chip currents are
the run's checkpoint (``labrf_checkpoint`` in its metadata, an .npz beside the database,
replaced after each epoch), so that ``--resume true`` continues an interrupted training
from its last checkpointed epoch; the results table keeps what a person reads.

Needs a completed ``synapse-calibration`` and ``neuron-calibration`` run of the same
station file in the database: the runner makes them first if there are none.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from pymeasure.experiment import (
    BooleanParameter,
    FloatParameter,
    IntegerParameter,
    ListParameter,
    Parameter,
)

from labrf.analysis.plots import label, new_figure, save
from labrf.errors import LabrfError
from labrf.network import TASKS, make_task, nominal_network
from labrf.network.tasks import MAX_POWER
from labrf.procedure import Column, LabProcedure, load_checkpoint
from labrf.training.calibration import (
    KnobMap,
    NeuronCalibration,
    SynapseCalibration,
    calibrated_network,
)
from labrf.training.hardware import NetworkBench
from labrf.training.trainer import (
    ESTIMATORS,
    ChipInTheLoop,
    EpochRecord,
    Settings,
    TrainingState,
)
from labrf.units import db_to_ratio

from .layered_chip_training import (
    LAYERED_REQUIRES,
    LAYERED_TASKS,
    layered_analyse,
    layered_check,
    layered_execute,
    layered_plot,
    layered_startup,
)

#: Test accuracy the lab's network reached (Ross et al. 2023): the target of the training.
TARGET_ACCURACY = 0.977
EPOCH, TEST, MAP = 0, 1, 2  #: values of the ``row`` column


class ChipInTheLoopTraining(LabProcedure):
    """Train the network bench on a task with the chip in the loop; test on held-out
    examples on the analyzer."""

    name: ClassVar[str] = "chip-in-the-loop"
    REQUIRES: ClassVar[tuple[str, ...]] = ("synapse-calibration", "neuron-calibration")
    CHECKPOINT: ClassVar[bool] = True

    task = ListParameter("Task", choices=[*TASKS, *LAYERED_TASKS], default="xor")
    estimator = ListParameter("Gradient estimator", choices=list(ESTIMATORS),
                              default="physics-aware")
    seed = IntegerParameter("Seed of the task's examples and of the training", default=0,
                            minimum=0, maximum=2**31 - 1)
    model = ListParameter("Model (the design, or the design with the calibrated values)",
                          choices=["calibrated", "design"], default="calibrated")
    start = ListParameter("Start from the offline solution of the training's model, or of "
                          "the bare design", choices=["model", "design"], default="model")
    epochs = IntegerParameter("Epochs", default=20, minimum=0, maximum=10000)
    batch_size = IntegerParameter("Examples per step", default=50, minimum=1, maximum=100000)
    train_examples = IntegerParameter("Training examples per epoch", default=200, minimum=1,
                                      maximum=100000)
    validation_examples = IntegerParameter("Validation examples measured after each epoch",
                                        default=200, minimum=0, maximum=100000)
    learning_rate = FloatParameter("Adam step", units="A", default=0.02e-3, minimum=1e-9,
                                   maximum=1e-3)
    perturbation = FloatParameter("SPSA perturbation", units="A", default=0.05e-3,
                                  minimum=1e-9, maximum=1e-3)
    difference_step = FloatParameter("Finite-difference step", units="A", default=0.02e-3,
                                     minimum=1e-9, maximum=1e-3)
    input_1 = FloatParameter("Frequency of input 1", units="Hz", default=230e6,
                             minimum=10e6, maximum=6e9)
    input_2 = FloatParameter("Frequency of input 2", units="Hz", default=270e6,
                             minimum=10e6, maximum=6e9)
    map_points = IntegerParameter("Decision-map grid points per axis", default=15,
                                  minimum=0, maximum=1000)
    nplc = FloatParameter("Voltmeter integration", units="PLC", default=1.0, minimum=0.01,
                          maximum=50.0)
    settle_time = FloatParameter("Wait after the inputs change", units="s", default=0.01,
                                 minimum=0.0, maximum=60.0)
    output_gain = FloatParameter("Gain from the output neuron to the analyzer", units="dB",
                                 default=30.0, minimum=-50.0, maximum=100.0)
    detection_power = FloatParameter("Emitted power that counts as emitting", units="W",
                                     default=1e-9, minimum=1e-15, maximum=1e-3)
    resume = BooleanParameter("Resume the last unfinished training of this task, "
                              "estimator, seed and model", default=False)
    data = Parameter("Data file of the task (drone, RadioSpin_D62_RF_fingerprinting.h5)",
                     default="")
    input_power = FloatParameter("Mean total input power of an example at a network chip",
                                 units="W", default=10e-6, minimum=1e-9, maximum=50e-6)
    offline_epochs = IntegerParameter("Epochs of a network chip's offline twin", default=20,
                                      minimum=0, maximum=10000)

    LIVE_PLOT = {"kind": "line", "x": "epoch", "y": ["loss", "train_accuracy", "test_accuracy",
                                                     "validation_accuracy"],
                 "where": {"row": 0}}
    COLUMNS: ClassVar[Mapping[str, Column]] = {
        "row": Column("", label="Row (0: epoch, 1: test example, 2: decision-map point)"),
        "epoch": Column("", label="Epoch"),
        "loss": Column("", setpoints=("epoch",), label="Training loss"),
        "train_accuracy": Column("", setpoints=("epoch",), label="Training accuracy"),
        "validation_accuracy": Column("", setpoints=("epoch",), label="Validation accuracy"),
        "passes": Column("", setpoints=("epoch",), label="Training forward passes"),
        "evaluation_passes": Column("", setpoints=("epoch",),
                                    label="Evaluation forward passes"),
        "input_1": Column("W", label="Input 1 power"),
        "input_2": Column("W", label="Input 2 power"),
        "label": Column("", label="Class (1: the output neuron should emit)"),
        "emits": Column("", setpoints=("input_1", "input_2"), label="Output neuron emits"),
        "output_power": Column("W", setpoints=("input_1", "input_2"),
                               label="Peak level at the analyzer"),
        "test_accuracy": Column("", setpoints=("epoch",),
                                label="Test accuracy on the chip (network chips)"),
        "predicted": Column("", label="Class the chip gives"),
    }

    resumed_from: int | None = None
    _best: tuple[float, TrainingState] | None = None
    _tested: TrainingState | None = None

    # ------------------------------------------------------------------ set-up

    @classmethod
    def requires(cls, station: Any) -> tuple[str, ...]:
        """A network chip (``labrf.chip``) builds on its chip-calibration; the
        nine-junction bench on its synapse and neuron calibrations."""
        return LAYERED_REQUIRES if station.spec.chip is not None else cls.REQUIRES

    def check(self, station: Any) -> None:
        """A network chip's tasks and estimators on a station with ``labrf.chip``, the
        two-input tasks elsewhere; the task's data readable."""
        chip = station.spec.chip
        if chip is None and self.task in LAYERED_TASKS:
            raise LabrfError(f"{self.name}: task {self.task} trains a network chip; station "
                             f"{station.spec.file} has none (no labrf.chip): use "
                             f"sim_{self.task}_chip.yaml or describe the chip there")
        if chip is not None:
            layered_check(self, station)

    @property
    def layered(self) -> bool:
        """Whether this run trains a network chip of any size (``labrf.chip``)."""
        return self.station is not None and self.station.spec.chip is not None

    def settings(self) -> Settings:
        """The training's settings from the parameters."""
        epochs = int(self.epochs) if self.estimator != "offline" else 0
        return Settings(self.estimator, epochs, int(self.batch_size),
                        int(self.train_examples), int(self.validation_examples),
                        self.learning_rate, self.perturbation, self.difference_step,
                        int(self.seed))

    def calibrations(self) -> tuple[SynapseCalibration, NeuronCalibration]:
        """The stored calibrations this run builds on."""
        try:
            syn = self.prerequisites["synapse-calibration"]["fit"]["synapses"]
            neu = self.prerequisites["neuron-calibration"]["fit"]["neurons"]
        except KeyError as exc:
            raise LabrfError(f"{self.name} needs completed synapse-calibration and "
                             f"neuron-calibration runs on this station (missing {exc}); "
                             f"run it with labrf run, which makes them first") from None
        return SynapseCalibration.from_dict(syn), NeuronCalibration.from_dict(neu)

    def startup(self) -> None:
        """Calibrations loaded, the model made (see the module docstring), bench found and
        prepared (inputs on at the power floor, sources on at 0 A)."""
        if self.layered:
            layered_startup(self)
            return
        syn, neu = self.calibrations()
        self._design = replace(nominal_network(), detection_power=self.detection_power,
                               input_frequencies=(self.input_1, self.input_2))
        self._model = (self._design if self.model == "design"
                       else calibrated_network(self._design, syn, neu))
        self.bench = NetworkBench.from_station(
            self.instrument, self.station.clock, settle_time=self.settle_time,
            detection_power=self.detection_power,
            output_gain=float(db_to_ratio(self.output_gain)))
        control = self.bench.controls[0].current.vals
        self._map = KnobMap(self._model, syn, (control.min_value, control.max_value))
        self._task = make_task(self.task, int(self.seed))
        self._trainer = ChipInTheLoop(self._model, self._map, self.bench, self._task,
                                      self.settings())
        self.bench.prepare((self.input_1, self.input_2), self.nplc)

    # ------------------------------------------------------------------ run

    def _epoch_row(self, record: EpochRecord, evaluation_passes: int) -> dict[str, Any]:
        s = record.state
        self._keep(record.validation_accuracy, s)
        nan = math.nan
        return {"row": EPOCH, "epoch": s.epoch, "loss": record.loss,
                "train_accuracy": record.train_accuracy,
                "validation_accuracy": record.validation_accuracy, "passes": s.passes,
                "evaluation_passes": evaluation_passes, "input_1": nan, "input_2": nan,
                "label": nan, "emits": nan, "output_power": nan, "test_accuracy": nan,
                "predicted": nan}

    def _save(self, state: TrainingState) -> None:
        """The checkpoint: ``state`` (the last epoch), the best epoch's, the tested knobs."""
        arrays: dict[str, Any] = {f"last_{k}": v for k, v in _fields(state).items()}
        if self._best is not None:
            arrays["best_validation"] = self._best[0]
            arrays.update({f"best_{k}": v for k, v in _fields(self._best[1]).items()})
        if self._tested is not None:
            arrays["tested_knobs"] = self._tested.knobs
            arrays["tested_chip_currents"] = self._trainer.chip_currents(self._tested.knobs)
            arrays["tested_epoch"] = self._tested.epoch
        self.save_checkpoint(**arrays)

    def previous_run(self) -> tuple[int, dict[str, Any], dict[str, np.ndarray]] | None:
        """The newest unfinished run like this one (same station file, task, estimator,
        seed, model and start) with a checkpoint: its id, checkpoint arrays and
        columns; None if there is none."""
        from labrf.data import latest_run, run_columns

        if self.db is None:
            raise LabrfError(f"{self.name}: resuming needs the runner's database")
        ds = latest_run(self.db, self.name, station_file=str(self.station.spec.file),
                        statuses=("failed", "aborted", "interrupted"))
        if ds is None:
            return None
        theirs = json.loads(ds.metadata.get("labrf_parameters", "{}"))
        mine = {"task": self.task, "estimator": self.estimator, "seed": self.seed,
                "model": self.model, "start": self.start}
        if any(theirs.get(k) != v for k, v in mine.items()):
            return None
        path = ds.metadata.get("labrf_checkpoint")
        if not path or not Path(path).is_file():
            return None
        return ds.run_id, load_checkpoint(path), run_columns(ds)

    def replay(self, data: Mapping[str, np.ndarray], last_epoch: int) -> np.ndarray:
        """Re-record a previous run's epoch rows up to ``last_epoch`` in this run; their
        indices in ``data``."""
        rows = np.flatnonzero((np.asarray(data.get("row", [])) == EPOCH)
                              & (np.asarray(data.get("epoch", [])) <= last_epoch))
        for i in rows:
            self.emit("results", {name: data[name][i] if name in data else math.nan
                                  for name in self.COLUMNS})
        return rows

    def _resume_state(self) -> tuple[TrainingState, int] | None:
        """The last recorded epoch of the newest unfinished run like this one, re-recorded
        in this run; None if there is none."""
        previous = self.previous_run()
        if previous is None:
            return None
        run_id, saved, data = previous
        state = _state(saved, "last")
        rows = self.replay(data, state.epoch)
        if rows.size == 0:
            return None
        if "best_validation" in saved:
            self._best = (float(saved["best_validation"]), _state(saved, "best"))
        self.resumed_from = run_id
        return state, int(data["evaluation_passes"][rows[-1]])

    def execute(self) -> None:
        """Start (offline solution, or the resumed state), train epoch by epoch, then
        test on the analyzer and map the decision over the input plane."""
        if self.layered:
            layered_execute(self)
            return
        trainer = self._trainer
        resumed = self._resume_state() if self.resume else None
        if resumed is None:
            source = None
            if self.start == "design":
                source = replace(self._map, model=self._design)
            state = TrainingState.start(trainer.offline_knobs(source))
            validation, evaluation = trainer.validate(state.knobs)
            self.emit("results", self._epoch_row(
                EpochRecord(state, math.nan, math.nan, validation, evaluation,
                            trainer.chip_currents(state.knobs)), evaluation))
            self._save(state)
        else:
            state, evaluation = resumed
        epochs = trainer.settings.epochs
        for record in trainer.epochs(state):
            evaluation += record.validation_passes
            self.emit("results", self._epoch_row(record, evaluation))
            state = record.state
            self._save(state)
            self.progress(state.epoch, epochs + 1)
            if self.should_stop():
                return
        kept = self._best[1] if self._best is not None else state
        self._tested = kept
        self._save(state)
        self._evaluate(kept, TEST, self._task.test_inputs, self._task.test_labels)
        if self.map_points:
            axis = np.linspace(0.0, MAX_POWER, int(self.map_points))
            grid = np.stack(np.meshgrid(axis, axis, indexing="xy"), -1).reshape(-1, 2)
            self._evaluate(kept, MAP, grid, np.full(len(grid), math.nan))
        self.progress(1, 1)

    def _keep(self, validation: float, state: TrainingState) -> None:
        """Remember the epoch of best validation accuracy (the earlier one on a tie: a
        later epoch must do better to replace it)."""
        if math.isnan(validation):
            self._best = None
        elif self._best is None or validation > self._best[0]:
            self._best = (validation, state)

    def _evaluate(self, state: TrainingState, kind: int, inputs: np.ndarray,
                  labels: np.ndarray) -> None:
        emits, measured = self._trainer.evaluate(state.knobs, inputs)
        for n in range(len(inputs)):
            self.emit("results", {
                "row": kind, "epoch": state.epoch, "loss": math.nan,
                "train_accuracy": math.nan, "validation_accuracy": math.nan,
                "passes": state.passes, "evaluation_passes": math.nan,
                "input_1": inputs[n, 0], "input_2": inputs[n, 1], "label": labels[n],
                "emits": float(emits[n]), "output_power": measured.output_power[n],
                "test_accuracy": math.nan, "predicted": float(emits[n])})

    def shutdown(self) -> None:
        """Inputs off; every control and bias ramped to 0 A and off (the runner's safe
        state does the same for the whole station after this)."""
        bench = getattr(self, "bench", None)
        if bench is None:
            return
        if self.layered:
            bench.tones.output(False)
            bench.knobs.output(False)
            return
        for source in bench.inputs:
            source.output(False)
        for source in (*bench.controls, *bench.biases):
            source.output(False)

    # ------------------------------------------------------------------ results

    def analyse(self, data: Mapping[str, np.ndarray]) -> dict[str, Any]:
        """Test accuracy (analyzer), training passes, the learning curve, the passes at
        which the validation accuracy first reached TARGET_ACCURACY (None if never), the
        epoch whose knobs were tested."""
        if self.layered:
            return layered_analyse(self, data)
        row = np.asarray(data["row"])
        epochs = row == EPOCH
        test = row == TEST
        if not test.any():
            raise LabrfError("the training stopped before its test: no test accuracy; "
                             "rerun with --resume true to finish it")
        correct = data["emits"][test] == data["label"][test]
        selected = int(data["epoch"][test][0])
        validation = data["validation_accuracy"][epochs]
        passes = data["passes"][epochs]
        reached = np.flatnonzero(validation >= TARGET_ACCURACY)
        return {
            "task": self.task, "estimator": self.estimator, "seed": int(self.seed),
            "model": self.model, "start": self.start,
            "test_accuracy": float(np.mean(correct)),
            "test_examples": int(test.sum()),
            "hardware_forward_passes": int(passes[-1]),
            "evaluation_passes": int(data["evaluation_passes"][epochs][-1] + test.sum()
                                     + (row == MAP).sum()),
            "epochs": int(data["epoch"][epochs][-1]),
            "learning_curve": {"epoch": data["epoch"][epochs].tolist(),
                               "loss": data["loss"][epochs].tolist(),
                               "train_accuracy": data["train_accuracy"][epochs].tolist(),
                               "validation_accuracy": validation.tolist(),
                               "passes": passes.tolist()},
            "passes_to_target": int(passes[reached[0]]) if reached.size else None,
            "target_accuracy": TARGET_ACCURACY,
            "selected_epoch": selected,
            **self._tested_knobs(),
            "resumed_from": self.resumed_from,
        }

    def _tested_knobs(self) -> dict[str, Any]:
        """The tested knobs and chip currents from the checkpoint, and its path."""
        if self.checkpoint is None or not self.checkpoint.is_file():
            return {}
        saved = load_checkpoint(self.checkpoint)
        if "tested_knobs" not in saved:
            return {}
        return {"knobs": saved["tested_knobs"].tolist(),
                "chip_currents": saved["tested_chip_currents"].tolist(),
                "checkpoint": str(self.checkpoint)}

    def summary(self, fit: Mapping[str, Any]) -> Mapping[str, Any]:
        """test_accuracy and hardware_forward_passes at the top of the JSON line."""
        return {k: fit[k] for k in ("test_accuracy", "hardware_forward_passes",
                                    "passes_to_target", "task", "estimator", "seed")}

    def plot(self, data: Mapping[str, np.ndarray], fit: Mapping[str, Any],
             path: Path) -> Path:
        """Decision map over the input plane with the test examples, and the learning
        curve (loss, training and validation accuracy against training passes)."""
        if self.layered:
            return layered_plot(self, data, fit, path)
        fig, (ax_map, ax_loss) = new_figure(1, 2, title=f"Chip in the loop: {self.task}, "
                                                        f"{self.estimator}")
        row = np.asarray(data["row"])
        grid = row == MAP
        if grid.any():
            n = int(round(math.sqrt(grid.sum())))
            emits = data["emits"][grid].reshape(n, n)
            extent = (0.0, float(np.max(data["input_1"][grid])), 0.0,
                      float(np.max(data["input_2"][grid])))
            ax_map.imshow(emits, origin="lower", extent=extent, cmap="coolwarm", alpha=0.35,
                          vmin=0, vmax=1, aspect="auto")
        test = row == TEST
        for cls, marker in ((1.0, "o"), (0.0, "x")):
            sel = test & (data["label"] == cls)
            ok = sel & (data["emits"] == data["label"])
            ax_map.plot(data["input_1"][ok], data["input_2"][ok], marker, ms=3, color="k",
                        label=f"class {int(cls)}")
            bad = sel & (data["emits"] != data["label"])
            ax_map.plot(data["input_1"][bad], data["input_2"][bad], marker, ms=5,
                        color="red", label=f"class {int(cls)}, misclassified")
        title = f"test accuracy {fit['test_accuracy']:.3f}" if fit else "decision map"
        ax_map.set_title(title)
        label(ax_map, "Input 1 power", "W", "Input 2 power", "W")
        ax_map.legend(fontsize="x-small")
        epochs = row == EPOCH
        passes = data["passes"][epochs]
        ax_loss.plot(passes, data["loss"][epochs], "o-", label="training loss")
        ax_acc = ax_loss.twinx()
        ax_acc.plot(passes, data["train_accuracy"][epochs], "s--", color="C1",
                    label="training accuracy")
        ax_acc.plot(passes, data["validation_accuracy"][epochs], "^-", color="C2",
                    label="validation accuracy")
        ax_acc.axhline(TARGET_ACCURACY, color="grey", lw=0.8, ls=":")
        ax_acc.set_ylabel("Accuracy")
        label(ax_loss, "Training forward passes", "", "Loss", "")
        ax_loss.legend(loc="upper left", fontsize="x-small")
        ax_acc.legend(loc="lower right", fontsize="x-small")
        return save(fig, path)


def _fields(state: TrainingState) -> dict[str, Any]:
    return {"knobs": state.knobs, "adam_m": state.adam_m, "adam_v": state.adam_v,
            "step": state.step, "epoch": state.epoch, "passes": state.passes}


def _state(saved: Mapping[str, np.ndarray], prefix: str) -> TrainingState:
    """A TrainingState from checkpoint arrays ``<prefix>_knobs`` ..."""
    return TrainingState(np.asarray(saved[f"{prefix}_knobs"], dtype=float),
                         np.asarray(saved[f"{prefix}_adam_m"], dtype=float),
                         np.asarray(saved[f"{prefix}_adam_v"], dtype=float),
                         int(saved[f"{prefix}_step"]), int(saved[f"{prefix}_epoch"]),
                         int(saved[f"{prefix}_passes"]))
