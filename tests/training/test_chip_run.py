"""``labrf run chip-in-the-loop`` on the digits chip (``sim_digits_chip.yaml``): the chip's
calibration is made first and kept as rows; the offline start and the training are
recorded as a person reads them (a row per epoch and per test example), knobs and
Adam's state as a checkpoint beside the run; a run lost mid-epoch resumes from its last
epoch; tasks, stations and estimators that do not fit are refused by name."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from labrf.data import latest_run, list_runs, load_run, run_columns
from labrf.errors import LabrfError
from labrf.procedure import load_checkpoint
from labrf.runner import run
from labrf.sim.faults import FaultRule
from labrf.station import LabStation, load_station

ROOT = Path(__file__).resolve().parents[2]
DIGITS = ROOT / "station_configs" / "sim_digits_chip.yaml"
NETWORK = ROOT / "station_configs" / "sim_network.yaml"


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("chip_run") / "lab.db"


@pytest.fixture(scope="module")
def station() -> Iterator[LabStation]:
    with load_station(DIGITS) as st:
        yield st


@pytest.fixture(scope="module")
def offline(station: LabStation, db: Path) -> dict:
    result = run("chip-in-the-loop", station, {"task": "digits", "estimator": "offline"},
                 db=db, progress=None)
    assert result.status == "completed", result.error
    return {**result.fit, "run_id": result.run_id, "extra": result.extra}


def test_the_chip_is_calibrated_first_and_kept_as_rows(station: LabStation, db: Path,
                                                       offline: dict) -> None:
    cal = latest_run(db, "chip-calibration", station_file=str(DIGITS))
    assert cal is not None and offline["extra"]["prerequisites"] == {
        "chip-calibration": cal.run_id}
    rows = run_columns(cal)
    assert len(rows["kind"]) == 1184 + 26  # a row per synapse and per neuron
    chip = station.bench.world.layered_chip("chip")
    synapses = rows["kind"] == 0
    truth = chip.layers[0].synapses.resonance.ravel()
    first = synapses & (rows["layer"] == 0)
    measured = rows["resonance"][first]
    design = rows["design_resonance"][first]
    assert np.sqrt(np.mean((measured - truth) ** 2)) < 0.01 * np.sqrt(
        np.mean((design - truth) ** 2))  # a hundred times closer than the design


def test_offline_weights_on_the_calibrated_chip(station: LabStation, db: Path,
                                                offline: dict) -> None:
    assert offline["estimator"] == "offline" and offline["layers"] == [64, 16, 10]
    assert offline["test_accuracy"] >= 0.93
    assert offline["hardware_forward_passes"] == 0
    assert offline["learning_curve"]["epoch"] == [0]
    data = run_columns(load_run(db, offline["run_id"]))
    assert int(np.sum(data["row"] == 1)) == offline["test_examples"] == 539
    assert set(data) >= {"loss", "train_accuracy", "test_accuracy", "passes"}
    assert not any(name.startswith(("knob", "adam")) for name in data)  # no row per knob
    saved = load_checkpoint(load_run(db, offline["run_id"]).metadata["labrf_checkpoint"])
    assert saved["start_knobs"].shape == saved["tested_knobs"].shape == (1210,)
    assert station.energized() == []


def test_a_training_lost_mid_epoch_resumes_from_its_checkpoint(station: LabStation,
                                                               db: Path, offline: dict
                                                               ) -> None:
    params = {"task": "digits", "estimator": "physics-aware", "epochs": 1}
    # epoch 0 measures 1797 examples; the 2000th sweep falls in epoch 1's training
    station.bench.inject_fault("spectrum_analyzer",
                               FaultRule("drop", match=r"TRAC:DATA\?", nth=2000))
    failed = run("chip-in-the-loop", station, params, db=db, progress=None)
    assert failed.status == "failed" and "spectrum_analyzer" in failed.error
    saved = load_checkpoint(load_run(db, failed.run_id).metadata["labrf_checkpoint"])
    assert "start_knobs" in saved and "last_knobs" not in saved  # no epoch finished
    assert station.energized() == []
    station.close()
    with load_station(DIGITS) as again:
        resumed = run("chip-in-the-loop", again, {**params, "resume": True}, db=db,
                      progress=None)
        assert resumed.status == "completed", resumed.error
        fit = resumed.fit
        assert fit["resumed_from"] == failed.run_id
        assert fit["learning_curve"]["epoch"] == [0, 1]
        assert fit["hardware_forward_passes"] == 1797 - 539  # a pass per training example
        assert fit["offline_test_accuracy"] == pytest.approx(offline["test_accuracy"],
                                                             abs=0.02)
        assert fit["test_accuracy"] >= offline["test_accuracy"] - 0.02
        saved = load_checkpoint(fit["checkpoint"])
        assert int(saved["last_epoch"]) == 1 and saved["last_adam_m"].shape == (1210,)
        assert again.energized() == []


@pytest.mark.parametrize(("station_file", "params", "message"), [
    (DIGITS, {"task": "xor"}, "its tasks are digits, drone, got 'xor'"),
    (DIGITS, {"task": "digits", "estimator": "finite-difference"},
     "a network chip trains with offline, physics-aware, spsa"),
    (DIGITS, {"task": "drone", "data": "/nowhere/drone.h5"}, "/nowhere/drone.h5"),
    (NETWORK, {"task": "digits"}, "sim_digits_chip.yaml"),
])
def test_what_does_not_fit_the_chip_is_refused_before_anything_runs(
        tmp_path: Path, station_file: Path, params: dict, message: str) -> None:
    db = tmp_path / "lab.db"
    with load_station(station_file) as st:
        with pytest.raises(LabrfError, match=re.escape(message)):
            run("chip-in-the-loop", st, params, db=db, progress=None)
        assert not db.exists() or list_runs(db) == []  # not even a calibration
