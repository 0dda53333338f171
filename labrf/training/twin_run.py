"""``labrf twin train`` and ``labrf twin evaluate``: a twin's training recorded as a run of
the dataset (one row per epoch), its network file, its learning-curve and confusion-matrix
plots, and a summary for ``--json``.
"""

from __future__ import annotations

import json
import resource
import sys
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import numpy as np

import labrf
from labrf.analysis.plots import label, new_figure, save
from labrf.data import (
    PointWriter,
    new_measurement,
    running,
    set_metadata,
    start_run_metadata,
    use_database,
)
from labrf.errors import NetworkError
from labrf.network.design import DEFAULT_INPUT_POWER, design_network, initial_knobs, perturbed
from labrf.network.files import load_network, save_network
from labrf.paths import writable_file
from labrf.procedure import Column
from labrf.signals import describe, exit_code, stop_behind
from labrf.training.datasets import DEFAULT_HIDDEN, TwinData, check_width, load_task
from labrf.training.twin import Epoch, evaluate, train_twin

#: Columns of a twin run, one row per epoch.
COLUMNS = {"epoch": Column("", label="Epoch"),
           "loss": Column("", setpoints=("epoch",), label="Training loss"),
           "train_accuracy": Column("", setpoints=("epoch",), label="Train accuracy"),
           "test_accuracy": Column("", setpoints=("epoch",), label="Test accuracy"),
           "seconds": Column("s", setpoints=("epoch",), label="Epoch wall time")}


@dataclass
class TwinSettings:
    """What ``labrf twin train`` was asked for."""

    task: str
    data: str | None = None
    hidden: tuple[int, ...] | None = None  #: None: the task's (``DEFAULT_HIDDEN``)
    epochs: int = 40
    seed: int = 0
    spread: float = 0.0
    path_imbalance_db: float = 0.0
    batch: int = 64
    lr: float = 0.05
    input_power: float = DEFAULT_INPUT_POWER
    encoding: str | None = None  #: None: the task's default
    out: str | None = None

    def sizes(self, data: TwinData) -> tuple[int, ...]:
        outputs = 1 if len(data.classes) == 2 else len(data.classes)
        hidden = self.hidden or DEFAULT_HIDDEN.get(self.task, (2,))
        return (data.inputs, *hidden, outputs)


def peak_memory_mb() -> float:
    """This process's peak resident memory, MB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


class _Progress:
    def __init__(self, out: TextIO | None, epochs: int) -> None:
        self.out, self.epochs = out, epochs

    def __call__(self, e: Epoch) -> None:
        if self.out is not None:
            print(f"epoch {e.epoch:>3}/{self.epochs}  loss {e.loss:8.4f}  train "
                  f"{100 * e.train_accuracy:6.2f} %  test {100 * e.test_accuracy:6.2f} %  "
                  f"{e.seconds:5.2f} s", file=self.out, flush=True)


def confusion(labels: np.ndarray, predicted: np.ndarray, classes: int) -> np.ndarray:
    """(classes, classes + 1) counts: true class by predicted class, last column 'none'."""
    out = np.zeros((classes, classes + 1), dtype=int)
    np.add.at(out, (labels, np.where(predicted < 0, classes, predicted)), 1)
    return out


def plot_learning_curve(history: list[Epoch], path: Path, title: str) -> Path:
    fig, (ax_loss, ax_acc) = new_figure(1, 2, title)
    epochs = [e.epoch for e in history]
    ax_loss.plot(epochs, [e.loss for e in history], "o-", ms=3)
    ax_loss.set_yscale("log")
    label(ax_loss, "epoch", "", "training loss", "")
    ax_acc.plot(epochs, [100 * e.train_accuracy for e in history], "o-", ms=3, label="train")
    ax_acc.plot(epochs, [100 * e.test_accuracy for e in history], "s-", ms=3, label="test")
    label(ax_acc, "epoch", "", "accuracy", "%")
    ax_acc.legend()
    return save(fig, path)


def plot_confusion(matrix: np.ndarray, classes: tuple[str, ...], path: Path, title: str
                   ) -> Path:
    fig, ax = new_figure(1, 1, title)
    ax.imshow(matrix, cmap="Blues")
    n = len(classes)
    ax.set_xticks(range(n + 1), [*classes, "none"], rotation=60, fontsize=7)
    ax.set_yticks(range(n), list(classes), fontsize=7)
    for (i, j), count in np.ndenumerate(matrix):
        if count:
            ax.text(j, i, str(count), ha="center", va="center", fontsize=6,
                    color="white" if count > matrix.max() / 2 else "black")
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    return save(fig, path)


def train_command(settings: TwinSettings, db: str | Path, out: TextIO | None = sys.stdout
                  ) -> dict[str, Any]:
    """Train a twin as ``settings`` say, recorded in ``db``; returns the summary."""
    if settings.out:
        writable_file(settings.out)
    data = load_task(settings.task, settings.data, settings.seed, settings.encoding)
    sizes = settings.sizes(data)
    check_width(data, sizes)
    network = design_network(sizes, spread=settings.spread,
                             path_imbalance_db=settings.path_imbalance_db, seed=settings.seed,
                             input_power=settings.input_power)
    knobs = initial_knobs(network, settings.seed)
    power_scale = data.power_scale(settings.input_power)
    db = use_database(db)
    name = "twin-train"
    parameters = {"task": settings.task, "layers": "-".join(map(str, sizes)),
                  "epochs": settings.epochs, "seed": settings.seed,
                  "spread": settings.spread, "path_imbalance_db": settings.path_imbalance_db,
                  "batch": settings.batch, "lr_mA": settings.lr,
                  "input_power_W": settings.input_power, "power_scale_W": power_scale,
                  "encoding": data.encoding, "data": settings.data or "",
                  "data_sha256": data.sha256}
    meas = new_measurement(name, settings.task, COLUMNS)
    status, error, result = "failed", "", None
    stopped: KeyboardInterrupt | None = None
    with running(meas) as saver:
        dataset = saver.dataset
        writer = PointWriter(dataset, COLUMNS)
        start_run_metadata(dataset, name, parameters)
        set_metadata(dataset, {"labrf_data_sha256": data.sha256})
        progress = _Progress(out, settings.epochs)

        def on_epoch(e: Epoch) -> None:
            writer.write({"epoch": e.epoch, "loss": e.loss, "train_accuracy":
                          e.train_accuracy, "test_accuracy": e.test_accuracy,
                          "seconds": e.seconds})
            progress(e)

        try:
            result = train_twin(network, data, knobs, epochs=settings.epochs,
                                batch=settings.batch, lr=settings.lr, seed=settings.seed,
                                power_scale=power_scale, on_epoch=on_epoch)
            status = "completed"
        except KeyboardInterrupt as exc:  # a StopSignal: SIGINT, SIGTERM or SIGHUP
            status, error = "aborted", describe(exc)
            stopped = exc
        except Exception as exc:  # any failure: keep the epochs recorded, say why
            stopped = stop_behind(exc)
            status, error = ("aborted", describe(stopped)) if stopped else (
                "failed", f"{exc}\n{traceback.format_exc()}")
        finally:
            set_metadata(dataset, {"labrf_status": status, "labrf_error": error})
        run_id = dataset.run_id
        if result is None:
            return {"run": run_id, "status": status, "error": error.splitlines()[0]
                    if error else "", "exit_code": exit_code(stopped) if stopped else 1}
        path = Path(settings.out) if settings.out else \
            db.parent / "networks" / f"run_{run_id}_{settings.task}.json"
        meta = {"run": run_id, "database": str(db), "task": settings.task, "seed": settings.seed,
                "power_scale_W": power_scale, "encoding": data.encoding,
                "data_sha256": data.sha256,
                "labrf_version": labrf.__version__}
        save_network(path, network, result.knobs, meta)
        last = result.history[-1] if result.history else None
        _, predicted = evaluate(network, result.knobs, data.test_x, data.test_y, power_scale)
        summary = {"run": run_id, "status": status, "task": settings.task,
                   "layers": list(sizes), "junctions": network.junction_count,
                   "knobs": network.knob_count,
                   "test_accuracy": last.test_accuracy if last else None,
                   "train_accuracy": last.train_accuracy if last else None,
                   "epochs": len(result.history),
                   "seconds_per_epoch": result.seconds_per_epoch,
                   "peak_memory_mb": peak_memory_mb(), "network_file": str(path)}
        plots = db.parent / "plots"
        title = f"run {run_id}: {settings.task} twin {parameters['layers']}"
        curve = plot_learning_curve(result.history, plots / f"run_{run_id}_twin_curve.png",
                                    title)
        matrix = confusion(data.test_y, predicted, len(data.classes))
        conf = plot_confusion(matrix, data.classes, plots / f"run_{run_id}_twin_confusion.png",
                              title + " (test set)")
        summary.update(learning_curve=str(curve), confusion_plot=str(conf))
        set_metadata(dataset, {"labrf_network_file": str(path), "labrf_plot": str(curve),
                               "labrf_confusion_plot": str(conf),
                               "labrf_fit": json.dumps(summary)})
    return summary


def evaluate_command(network_file: str | Path, task: str, data_path: str | None,
                     spread: float, path_imbalance_db: float, seed: int,
                     out: TextIO | None = sys.stdout) -> dict[str, Any]:
    """Accuracy of a network file's knobs on ``task``: on the file's own network, or with
    ``spread`` / ``path_imbalance_db`` on a chip made to its design (seed ``seed``): the
    accuracy offline weights keep when written to a real chip."""
    saved = load_network(network_file)
    if saved.knobs is None:
        raise NetworkError(f"{network_file} holds a design without knobs: nothing to evaluate")
    data = load_task(task, data_path, int(saved.metadata.get("seed", 0)),
                     saved.metadata.get("encoding"))
    check_width(data, saved.network.sizes)
    power_scale = float(saved.metadata.get("power_scale_W") or
                        data.power_scale(DEFAULT_INPUT_POWER))
    chip = perturbed(saved.network, spread, path_imbalance_db, seed)
    start = time.perf_counter()
    train_acc, _ = evaluate(chip, saved.knobs, data.train_x, data.train_y, power_scale)
    test_acc, _ = evaluate(chip, saved.knobs, data.test_x, data.test_y, power_scale)
    summary = {"task": task, "layers": list(saved.network.sizes),
               "network_file": str(network_file), "spread": spread,
               "path_imbalance_db": path_imbalance_db, "seed": seed,
               "test_accuracy": test_acc, "train_accuracy": train_acc,
               "seconds": time.perf_counter() - start, "peak_memory_mb": peak_memory_mb()}
    if out is not None:
        print(f"{task} on {network_file} (spread {100 * spread:g} %, path imbalance "
              f"{path_imbalance_db:g} dB): test {100 * test_acc:.2f} %, train "
              f"{100 * train_acc:.2f} %", file=out)
    return summary
