"""``labrf twin train`` / ``evaluate``: recorded runs, network files, plots, bad input."""

import json
import sqlite3
import time
from pathlib import Path

import pytest

from labrf.cli import main
from labrf.network.files import load_network
from labrf.training.datasets import DRONE_SHA256

DRONE = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / \
    "RadioSpin_D62_RF_fingerprinting.h5"


def _json(capsys):
    out = capsys.readouterr()
    return json.loads(out.out.strip().splitlines()[-1]), out


def test_train_records_the_run_the_network_and_the_plots(tmp_path, capsys):
    db = tmp_path / "t.db"
    code = main(["twin", "train", "--task", "digits", "--hidden", "12", "--epochs", "3",
                 "--db", str(db), "--json"])
    summary, out = _json(capsys)
    assert code == 0 and summary["status"] == "completed"
    for key in ("task", "layers", "test_accuracy", "train_accuracy", "epochs",
                "seconds_per_epoch", "peak_memory_mb"):
        assert key in summary
    assert summary["layers"] == [64, 12, 10] and summary["epochs"] == 3
    assert summary["test_accuracy"] > 0.5
    assert "epoch   3/3" in out.err
    saved = load_network(summary["network_file"])
    assert saved.network.sizes == (64, 12, 10) and saved.metadata["run"] == summary["run"]
    for plot in ("learning_curve", "confusion_plot"):
        assert Path(summary[plot]).stat().st_size > 1000
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT result_table_name FROM runs WHERE run_id = ?",
                            (summary["run"],)).fetchone()
        epochs = conn.execute(f'SELECT epoch, test_accuracy FROM "{rows[0]}"').fetchall()
    assert [e for e, _ in epochs] == [1, 2, 3]
    assert epochs[-1][1] == pytest.approx(summary["test_accuracy"])
    assert main(["show", str(summary["run"]), "--db", str(db)]) == 0
    assert "twin-train" in capsys.readouterr().out


def test_evaluate_on_a_chip_with_spread(tmp_path, capsys):
    main(["twin", "train", "--task", "xor", "--epochs", "4", "--db", str(tmp_path / "t.db"),
          "--out", str(tmp_path / "xor.json"), "--json"])
    trained, _ = _json(capsys)
    assert main(["twin", "evaluate", str(tmp_path / "xor.json"), "--task", "xor",
                 "--json"]) == 0
    same, _ = _json(capsys)
    assert same["test_accuracy"] == pytest.approx(trained["test_accuracy"])
    assert main(["twin", "evaluate", str(tmp_path / "xor.json"), "--task", "xor",
                 "--spread", "0.05", "--path-imbalance", "0.5", "--seed", "3"]) == 0
    assert "spread 5 %" in capsys.readouterr().out


@pytest.mark.skipif(not DRONE.is_file(), reason="drone data not present")
def test_drone_run_records_the_data_files_sha256(tmp_path, capsys):
    code = main(["twin", "train", "--task", "drone", "--data", str(DRONE), "--hidden", "8",
                 "--epochs", "1", "--db", str(tmp_path / "t.db"), "--json"])
    summary, _ = _json(capsys)
    assert code == 0 and summary["layers"] == [256, 8, 10]
    assert load_network(summary["network_file"]).metadata["data_sha256"] == DRONE_SHA256


def test_missing_and_malformed_data_files(tmp_path, capsys):
    missing = tmp_path / "nowhere.h5"
    assert main(["twin", "train", "--task", "drone", "--data", str(missing), "--db",
                 str(tmp_path / "t.db")]) == 1
    err = capsys.readouterr().err
    assert "nowhere.h5 not found" in err and "Zenodo record 7646236" in err
    assert "Traceback" not in err
    bad = tmp_path / "bad.h5"
    bad.write_text("not hdf5")
    assert main(["twin", "train", "--task", "drone", "--data", str(bad), "--db",
                 str(tmp_path / "t.db")]) == 1
    err = capsys.readouterr().err
    assert "bad.h5 is not the expected HDF5 file" in err
    assert main(["twin", "train", "--task", "drone", "--db", str(tmp_path / "t.db")]) == 1
    assert "needs --data PATH" in capsys.readouterr().err


def test_a_network_of_the_wrong_width_for_the_task(tmp_path, capsys):
    main(["twin", "train", "--task", "xor", "--epochs", "1", "--db", str(tmp_path / "t.db"),
          "--out", str(tmp_path / "xor.json")])
    capsys.readouterr()
    assert main(["twin", "evaluate", str(tmp_path / "xor.json"), "--task", "digits"]) == 1
    assert "task digits has 64 inputs per example, but the network's first layer takes 2" \
        in capsys.readouterr().err


@pytest.mark.parametrize("args, message", [
    (["--hidden", "0"], "every hidden layer needs >= 1 neuron"),
    (["--hidden", "12-x"], "whole numbers joined by '-'"),
    (["--spread", "inf"], "'inf' is not a finite number"),
    (["--path-imbalance", "nan"], "'nan' is not a finite number"),
    (["--epochs", "-3"], "--epochs: '-3': must be 1 or more"),  # was a traceback
    (["--epochs", "0"], "--epochs: '0': must be 1 or more"),  # was accuracy null
    (["--epochs", "2.5"], "'2.5' is not a whole number"),
    (["--batch", "0"], "--batch: '0': must be 1 or more"),
    (["--lr", "-0.1"], "--lr: '-0.1': must be > 0"),
])
def test_bad_options_are_usage_errors(tmp_path, capsys, args, message):
    with pytest.raises(SystemExit) as stop:
        main(["twin", "train", "--task", "digits", "--db", str(tmp_path / "t.db"), *args])
    assert stop.value.code == 2
    assert message in capsys.readouterr().err


def test_out_of_range_spread_is_refused(tmp_path, capsys):
    assert main(["twin", "train", "--task", "xor", "--spread", "0.7", "--db",
                 str(tmp_path / "t.db")]) == 1
    assert "spread must be in [0, 0.5)" in capsys.readouterr().err


def test_a_stop_signal_aborts_training_with_its_exit_code(tmp_path):
    import signal
    import subprocess
    import sys

    from labrf.data import list_runs

    db = tmp_path / "t.db"
    proc = subprocess.Popen([sys.executable, "-m", "labrf.cli", "twin", "train", "--task",
                             "digits", "--epochs", "500", "--db", str(db), "--json"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not (db.exists() and list_runs(db) and list_runs(db)[0].points >= 1):
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
        time.sleep(0.2)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 128 + signal.SIGTERM, out + err
    assert "Traceback" not in err
    summary = json.loads(out.strip().splitlines()[-1])
    assert summary["status"] == "aborted" and "SIGTERM" in summary["error"]
    (info,) = list_runs(db)
    assert info.status == "aborted" and 1 <= info.points < 500


@pytest.mark.parametrize("where", ["folder", "unwritable"])
def test_a_network_file_that_cannot_be_written_is_refused_before_training(tmp_path, capsys,
                                                                          where):
    """The network file was written after the last epoch: a bad --out lost the trained
    knobs (after 40 epochs of the drone twin)."""
    out = tmp_path if where == "folder" else Path("/proc/labrf/twin.json")
    db = tmp_path / "t.db"
    assert main(["twin", "train", "--task", "xor", "--epochs", "1", "--db", str(db),
                 "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert f"--out {out}" in err and ("is a folder" in err or "cannot write there" in err)
    assert not db.exists()  # refused before the database or the training
