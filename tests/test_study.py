"""Studies of simulated chips on Dask: the same table serially and on a LocalCluster, row
for row, also when the workers are killed mid-study; a campaign per point; every
malformed study file named by key."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import psutil
import pytest
import yaml

from labrf.cli import main
from labrf.data import load_run
from labrf.errors import ConfigError
from labrf.study import parse_study, read_study, run_study, same_results

ROOT = Path(__file__).resolve().parents[1]
XOR = {"study": "xor", "station": "sim_network.yaml", "procedure": "chip-in-the-loop",
       "parameters": {"epochs": 1, "train_examples": 50, "validation_examples": 20},
       "grid": {"seed": [0, 1], "variability": ["1 %", "4 %"]}, "sample": 3,
       "sample_seed": 1}


class KillWorkersOnce:
    """A progress stream that kills every Dask worker process when the first point
    completes (the nannies restart them): the points then running die with them."""

    def __init__(self) -> None:
        self.killed: list[int] = []

    def write(self, text: str) -> None:
        if not self.killed:
            for child in psutil.Process().children(recursive=True):
                command = " ".join(child.cmdline())
                if "multiprocessing" in command and "resource_tracker" not in command:
                    child.kill()  # a worker process (the nannies live in this one)
                    self.killed.append(child.pid)

    def flush(self) -> None:
        pass


def test_a_study_on_a_local_cluster_matches_the_serial_one_even_when_workers_die(
        tmp_path: Path) -> None:
    study = parse_study(XOR, str(tmp_path / "xor.yaml"))
    assert len(study.points) == 3
    serial = run_study(study, tmp_path / "s.db", serial=True, progress=None)
    assert list(serial.table["status"]) == ["completed"] * 3
    assert serial.table["test_accuracy"].between(0, 1).all()
    killer = KillWorkersOnce()
    parallel = run_study(study, tmp_path / "p.db", workers=2, progress=killer)
    assert killer.killed, "no worker was killed"
    assert parallel.workers == 2
    assert same_results(serial.table, parallel.table)
    seeds = serial.table[["seed", "variability"]].astype(str).agg(" ".join, axis=1)
    assert len(set(seeds)) == 3  # three different chips
    record = load_run(tmp_path / "p.db", parallel.study)
    assert record.metadata["labrf_procedure"] == "study"
    rows = json.loads(record.metadata["labrf_study_table"])
    assert [r["test_accuracy"] for r in rows] == list(serial.table["test_accuracy"])
    assert Path(parallel.files["parquet"]).exists()


def test_a_campaign_per_point(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    campaign = yaml.safe_load((ROOT / "campaigns" / "sim_chip.yaml").read_text())
    campaign["devices"] = {k: campaign["devices"][k] for k in ("J11", "J23")}
    campaign["procedures"] = campaign["procedures"][:2]
    (tmp_path / "two.yaml").write_text(yaml.safe_dump(campaign))
    study = {"study": "chips", "campaign": "two.yaml", "grid": {"seed": [1, 2]}}
    (tmp_path / "study.yaml").write_text(yaml.safe_dump(study))
    assert main(["study", str(tmp_path / "study.yaml"), "--serial", "--db",
                 str(tmp_path / "c.db"), "--json"]) == 0
    line = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert line["points"] == 2 and line["statuses"] == {"completed": 2}
    table = read_study_table(line["csv"])
    assert list(table["passed"]) == [1, 1] and list(table["failed"]) == ["J23", "J23"]


def read_study_table(path: str) -> Any:
    import pandas as pd

    return pd.read_csv(path)


def _bad(tmp_path: Path, **changes: Any) -> str:
    data = {**XOR, **changes}
    for key in [k for k, v in changes.items() if v is None]:
        del data[key]
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(ConfigError) as info:
        read_study(path)
    return f"{info.value.key}: {info.value.reason}"


@pytest.mark.parametrize(("changes", "expected"), [
    ({"studdy": 1}, "studdy: unknown key; valid: study, station"),
    ({"study": "two words"}, "study: 'two words': give the study a name"),
    ({"campaign": "sim_chip.yaml"}, "procedure: name either a procedure"),
    ({"procedure": "spin-dioed"}, "procedure: unknown procedure 'spin-dioed'"),
    ({"station": "lab_example.yaml"}, "station: "),
    ({"parameters": {"epoch": 3}}, "parameters.epoch: chip-in-the-loop has no parameter"),
    ({"grid": {}}, "grid: empty"),
    ({"grid": {"colour": [1]}}, "grid.colour: unknown key; valid: seed, variability"),
    ({"grid": {"seed": 3}}, "grid.seed: 3 is not a non-empty list"),
    ({"grid": {"seed": [-1]}}, "grid.seed: -1 is not a seed"),
    ({"grid": {"estimator": ["guess"]}}, "grid.estimator: 'guess'"),
    ({"grid": {"seed": [0], "epochs": [-2]}, "sample": None},
     "grid.epochs: -2: chip-in-the-loop: epochs = -2 is refused"),
    ({"sample": 9}, "sample: 9: draw 1 to 4 of the grid's 4 points"),
    ({"sample_seed": "x"}, "sample_seed: 'x' is not a seed"),
])
def test_malformed_study_files_name_the_key(tmp_path: Path, changes: dict[str, Any],
                                            expected: str) -> None:
    assert expected in _bad(tmp_path, **changes)


def test_a_study_file_that_is_missing_and_a_scheduler_that_is_not_there(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["study", str(tmp_path / "nope.yaml")]) == 1
    assert "study file not found" in capsys.readouterr().err
    (tmp_path / "s.yaml").write_text(yaml.safe_dump({**XOR, "sample": 1}))
    assert main(["study", str(tmp_path / "s.yaml"), "--dask", "scheduler:8786", "--db",
                 str(tmp_path / "s.db")]) == 2
    assert "give 'local' or a scheduler address" in capsys.readouterr().err


def test_an_out_folder_that_cannot_be_written_is_refused_before_any_point_runs(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The study's CSV and parquet were written after its last point: a bad --out was a
    traceback at the end of the study."""
    (tmp_path / "s.yaml").write_text(yaml.safe_dump({**XOR, "sample": 1}))
    assert main(["study", str(tmp_path / "s.yaml"), "--serial", "--out", "/proc/labrf",
                 "--db", str(tmp_path / "s.db")]) == 1
    err = capsys.readouterr().err
    assert "--out /proc/labrf: cannot write files there" in err
    assert "[1/1]" not in err  # no point ran
