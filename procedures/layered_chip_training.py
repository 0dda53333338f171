"""The ``chip-in-the-loop`` procedure on a station with a network chip of any size
(``labrf.chip``, e.g. ``sim_digits_chip.yaml``), as ``labrf.training.chip_run`` trains it.

Rows: ``row`` 0 one per epoch (epoch 0: the offline start): training loss, the chip's
training and test accuracies, cumulative training and evaluation passes; ``row`` 1 one
per test example, classified by the chip with the final knobs (``label``,
``predicted``). The knobs, Adam's state and the offline start are the run's checkpoint
(an .npz beside the database, referenced from the run's metadata), replaced after every
epoch, so that ``--resume true`` continues an interrupted training exactly.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from labrf.analysis.plots import label, new_figure, save
from labrf.errors import LabrfError
from labrf.procedure import load_checkpoint
from labrf.training.chip_run import LAYERED_ESTIMATORS, LayeredChipRun
from labrf.training.datasets import check_width, load_task
from labrf.training.layered_bench import CHAINS, LayeredBench
from labrf.training.layered_calibration import LayeredCalibration
from labrf.training.twin import AdamState, Epoch

#: Tasks of network chips, and the calibration their training builds on.
LAYERED_TASKS = ("digits", "drone")
LAYERED_REQUIRES = ("chip-calibration",)
EPOCH, TEST = 0, 1  #: values of the ``row`` column
#: Test accuracy the physics-aware estimator is compared at (passes to reach it).
LAYERED_TARGET = 0.95


def _row(proc: Any, **values: float) -> None:
    proc.emit("results", {name: values.get(name, math.nan) for name in proc.COLUMNS})


def layered_check(proc: Any, station: Any) -> None:
    """The task and estimator fit ``station``'s network chip, the task's data are
    readable and as wide as the chip's inputs."""
    design = station.spec.chip
    if proc.task not in LAYERED_TASKS:
        raise LabrfError(f"{proc.name}: station {station.spec.file} holds a "
                         f"{'-'.join(map(str, design.sizes))} network chip; its tasks are "
                         f"{', '.join(LAYERED_TASKS)}, got {proc.task!r}")
    if proc.estimator not in LAYERED_ESTIMATORS:
        raise LabrfError(f"{proc.name}: a network chip trains with "
                         f"{', '.join(LAYERED_ESTIMATORS)}; got estimator {proc.estimator!r}")
    check_width(load_task(proc.task, data=proc.data or None, seed=int(proc.seed)),
                design.sizes)


def layered_startup(proc: Any) -> None:
    """The model from the chip's design and its latest chip-calibration, the task's data,
    the bench found and prepared."""
    from labrf.data import load_run, run_columns

    design = proc.station.spec.chip
    try:
        run_id = proc.prerequisites["chip-calibration"]["run_id"]
    except KeyError:
        raise LabrfError(f"{proc.name} needs a completed chip-calibration run on this "
                         "station; run it with labrf run, which makes it first") from None
    rows = run_columns(load_run(proc.db, run_id))
    calibration = LayeredCalibration.from_rows(design, rows)
    model = calibration.model(design)
    data = load_task(proc.task, data=proc.data or None, seed=int(proc.seed))
    proc.bench = LayeredBench.from_station(
        proc.instrument, proc.station.clock, model, settle_time=proc.settle_time,
        chains=CHAINS in proc.station.spec.instruments)  # measured hidden activations
    proc._run = LayeredChipRun(model, proc.bench, data, proc.estimator, int(proc.epochs),
                               int(proc.offline_epochs), int(proc.batch_size),
                               proc.learning_rate / 1e-3, int(proc.seed),
                               data.power_scale(proc.input_power))
    proc.bench.prepare()


def layered_execute(proc: Any) -> None:
    """The offline start (or the resumed state), the training epoch by epoch (a row and
    a checkpoint each), then the test on the chip."""
    run: LayeredChipRun = proc._run
    train_size = len(run.data.train_y)
    resume = None
    previous = proc.previous_run() if proc.resume else None
    if previous is not None and "start_knobs" in previous[1]:
        run_id, saved, data = previous
        if "last_knobs" in saved:
            resume = AdamState.from_arrays({k[5:]: v for k, v in saved.items()
                                            if k.startswith("last_")})
        rows = proc.replay(data, resume.epoch if resume is not None else 0)
        run.evaluation_passes = int(data["evaluation_passes"][rows[-1]]) if rows.size else 0
        proc.resumed_from = run_id
        start = np.asarray(saved["start_knobs"], dtype=float)
    else:
        start = run.offline_knobs()
        train, _ = run.accuracy(start, train=True)
        test, _ = run.accuracy(start, train=False)
        _row(proc, row=EPOCH, epoch=0, train_accuracy=train, test_accuracy=test, passes=0,
             evaluation_passes=run.evaluation_passes)
    proc.save_checkpoint(start_knobs=start, **{f"last_{k}": v for k, v in (
        resume.arrays().items() if resume is not None else ())})
    epochs = run.epochs if run.estimator != "offline" else 0

    def on_epoch(epoch: Epoch) -> None:
        _row(proc, row=EPOCH, epoch=epoch.epoch, loss=epoch.loss,
             train_accuracy=epoch.train_accuracy, test_accuracy=epoch.test_accuracy,
             passes=round(epoch.passes * train_size),
             evaluation_passes=run.evaluation_passes)
        proc.progress(epoch.epoch, epochs + 1)
        if proc.should_stop():
            raise _Stopped

    def on_state(state: AdamState) -> None:
        proc.save_checkpoint(start_knobs=start,
                             **{f"last_{k}": v for k, v in state.arrays().items()})

    try:
        knobs = run.train(start, resume, on_epoch, on_state)
    except _Stopped:
        return
    _, classes = run.accuracy(knobs, train=False)
    for truth, given in zip(run.data.test_y, classes, strict=True):
        _row(proc, row=TEST, epoch=epochs, label=float(truth), predicted=float(given))
    proc.save_checkpoint(**{**dict(load_checkpoint(proc.checkpoint)), "tested_knobs": knobs})
    proc.progress(1, 1)


class _Stopped(Exception):
    """A stop request seen after an epoch (its row and checkpoint are written)."""


def layered_analyse(proc: Any, data: Mapping[str, np.ndarray]) -> dict[str, Any]:
    """Test accuracy on the chip (final knobs), the offline start's, training passes, the
    learning curve, the passes at which the test accuracy first reached LAYERED_TARGET."""
    row = np.asarray(data["row"])
    epochs, test = row == EPOCH, row == TEST
    if not test.any():
        raise LabrfError("the training stopped before its test: no test accuracy; "
                         "rerun with --resume true to finish it")
    curve = np.asarray(data["test_accuracy"])[epochs]
    passes = np.asarray(data["passes"])[epochs]
    reached = np.flatnonzero(curve >= LAYERED_TARGET)
    fit = {
        "task": proc.task, "estimator": proc.estimator, "seed": int(proc.seed),
        "layers": list(proc.station.spec.chip.sizes),
        "test_accuracy": float(np.mean(data["predicted"][test] == data["label"][test])),
        "offline_test_accuracy": float(curve[0]),
        "test_examples": int(test.sum()),
        "hardware_forward_passes": int(passes[-1]),
        "evaluation_passes": int(np.asarray(data["evaluation_passes"])[epochs][-1]
                                 + test.sum()),
        "epochs": int(np.asarray(data["epoch"])[epochs][-1]),
        "learning_curve": {k: np.asarray(data[k])[epochs].tolist() for k in (
            "epoch", "loss", "train_accuracy", "test_accuracy", "passes")},
        "passes_to_target": int(passes[reached[0]]) if reached.size else None,
        "target_accuracy": LAYERED_TARGET,
        "resumed_from": proc.resumed_from,
    }
    if proc.checkpoint is not None and proc.checkpoint.is_file():
        fit["checkpoint"] = str(proc.checkpoint)
    return fit


def layered_plot(proc: Any, data: Mapping[str, np.ndarray], fit: Mapping[str, Any],
                 path: Path) -> Path:
    """The learning curve (loss; the chip's training and test accuracy against training
    passes) and the test set's confusion matrix."""
    fig, (ax_loss, ax_conf) = new_figure(1, 2, title=f"Chip in the loop: {proc.task}, "
                                                     f"{proc.estimator}")
    row = np.asarray(data["row"])
    epochs = row == EPOCH
    passes = np.asarray(data["passes"])[epochs]
    ax_loss.plot(passes, np.asarray(data["loss"])[epochs], "o-", label="training loss")
    ax_acc = ax_loss.twinx()
    ax_acc.plot(passes, np.asarray(data["train_accuracy"])[epochs], "s--", color="C1",
                label="training accuracy (chip)")
    ax_acc.plot(passes, np.asarray(data["test_accuracy"])[epochs], "^-", color="C2",
                label="test accuracy (chip)")
    ax_acc.axhline(LAYERED_TARGET, color="grey", lw=0.8, ls=":")
    ax_acc.set_ylabel("Accuracy")
    label(ax_loss, "Training forward passes", "", "Loss", "")
    ax_loss.legend(loc="upper left", fontsize="x-small")
    ax_acc.legend(loc="lower right", fontsize="x-small")
    test = row == TEST
    truth = np.asarray(data["label"])[test].astype(int)
    given = np.asarray(data["predicted"])[test].astype(int)
    classes = int(max(truth.max(initial=0), given.max(initial=0)) + 1)
    matrix = np.zeros((classes, classes + 1))  # the last column: no output neuron emits
    np.add.at(matrix, (truth, np.where(given < 0, classes, given)), 1)
    ax_conf.imshow(matrix, cmap="Blues")
    ax_conf.set_xticks(range(classes + 1), [*map(str, range(classes)), "none"],
                       fontsize="x-small")
    accuracy = fit.get("test_accuracy") if fit else None
    ax_conf.set_title("test set" + (f": accuracy {accuracy:.3f}" if accuracy else ""))
    ax_conf.set_xlabel("Class the chip gives")
    ax_conf.set_ylabel("True class")
    return save(fig, path)
