"""Campaigns on the simulated chip (station_configs/sim_chip.yaml): every device measured
through the switch matrix, the two bad ones flagged with the right reason, resumable after
SIGKILL, and never a switch with current or RF on, whatever the order or the faults."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
import yaml

from labrf.campaign import parse_campaign, read_campaign
from labrf.campaign_run import CampaignResult, CampaignRunner
from labrf.data import runs_where, status_of
from labrf.sim.faults import FaultRule
from labrf.station import load_station
from tests.roles.test_switch_matrix import _load_at, _transitions

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = ROOT / "campaigns" / "sim_chip.yaml"
PROCEDURES = ("iv-curve", "spin-diode", "emission", "resistance")


def light(tmp_path: Path, **changes: Any) -> Path:
    """The shipped campaign with shorter sweeps (same devices, procedures, criteria)."""
    data = yaml.safe_load(SHIPPED.read_text())
    steps = {s["procedure"]: s for s in data["procedures"]}
    steps["spin-diode"]["parameters"]["points"] = 41
    steps["emission"]["parameters"].update(bias_points=8, spectrum_points=401, span="40 MHz")
    steps["resistance"]["parameters"].update(points=11, settle_time="0.3 s")
    data.update(changes)
    path = tmp_path / "light.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def completed_pairs(db: Path, campaign: int) -> Counter[tuple[str, str]]:
    """(device, procedure) -> number of completed runs of the campaign."""
    return Counter((str(ds.metadata["labrf_device"]), str(ds.metadata["labrf_procedure"]))
                   for ds in runs_where(db, labrf_campaign=campaign)
                   if status_of(ds.metadata) == "completed")


def expected_pairs() -> set[tuple[str, str]]:
    """Every procedure on the 14 good devices, only the I-V check on J23 and J41."""
    devices = [f"J{r}{c}" for r in range(1, 5) for c in range(1, 5)]
    return {(d, p) for d in devices for p in PROCEDURES
            if d not in ("J23", "J41") or p == "iv-curve"}


@pytest.fixture(scope="module")
def shipped_run(tmp_path_factory: pytest.TempPathFactory
                ) -> Iterator[tuple[CampaignResult, Path, dict[str, Any]]]:
    db = tmp_path_factory.mktemp("campaign") / "chip.db"
    with load_station(ROOT / "station_configs" / "sim_chip.yaml") as station:
        assert station.bench is not None
        truth = station.bench.describe()["devices"]
        result = CampaignRunner(read_campaign(SHIPPED), station, db, progress=None).run()
        switch_log = (_transitions(station), [_load_at(station, t)
                                              for t in _transitions(station)])
    yield result, db, {"truth": truth, "switch_log": switch_log}


def test_the_shipped_campaign_flags_exactly_the_two_bad_devices(shipped_run) -> None:
    result, db, _ = shipped_run
    assert result.status == "completed"
    assert len(result.devices) == 16
    assert result.failed == ["J23", "J41"]
    assert result.verdicts["J23"].reason.startswith("iv-curve: shorted")
    assert result.verdicts["J41"].reason.startswith("iv-curve: open")
    assert all(result.verdicts[d].reason == "" for d in result.passed)
    pairs = completed_pairs(db, result.campaign)
    assert set(pairs) == expected_pairs() and set(pairs.values()) == {1}


def test_each_device_is_really_measured_through_the_switch(shipped_run) -> None:
    result, db, extra = shipped_run
    truth = extra["truth"]
    resonances = {}
    for ds in runs_where(db, labrf_campaign=result.campaign, labrf_procedure="spin-diode"):
        device = ds.metadata["labrf_device"]
        assert ds.sample_name == device
        fit = json.loads(ds.metadata["labrf_fit"])
        true = truth[f"chip.{device}"]["derived"]["resonance_at_zero_bias"]
        assert abs(fit["resonance"] - true) < 0.001 * true, device  # spread: 3 %
        resonances[device] = fit["resonance"]
    assert len(resonances) == 14
    for ds in runs_where(db, labrf_campaign=result.campaign, labrf_procedure="iv-curve"):
        device = ds.metadata["labrf_device"]
        if device not in ("J23", "J41"):
            true = truth[f"chip.{device}"]["derived"]["resistance_parallel"]
            assert json.loads(ds.metadata["labrf_fit"])["resistance"] == pytest.approx(
                true, rel=0.002), device


def test_the_campaign_never_switched_under_load(shipped_run) -> None:
    _, _, extra = shipped_run
    transitions, loads = extra["switch_log"]
    assert len(transitions) >= 2 * 16
    assert all(not load for load in loads)


def test_killed_halfway_and_resumed_makes_each_run_once(tmp_path: Path) -> None:
    campaign, db = light(tmp_path), tmp_path / "chip.db"
    command = [sys.executable, "-m", "labrf.cli", "campaign", "run", str(campaign),
               "--db", str(db)]
    child = subprocess.Popen(command, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL,
                             text=True, cwd=tmp_path)
    assert child.stderr is not None
    for line in child.stderr:
        if line.startswith("  J22 spin-diode"):  # J22's emission run is next
            break
    os.kill(child.pid, signal.SIGKILL)
    child.wait(timeout=30)
    before = completed_pairs(db, 1)
    record = runs_where(db, labrf_procedure="campaign")[0]
    assert status_of(record.metadata) == "interrupted"
    assert 8 <= sum(before.values()) < len(expected_pairs())
    ids_before = {ds.run_id for ds in runs_where(db, labrf_campaign=1)
                  if status_of(ds.metadata) == "completed"}
    resumed = subprocess.run([*command, "--resume", "--json"], capture_output=True, text=True,
                             cwd=tmp_path, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    line = json.loads(resumed.stdout.strip().splitlines()[-1])
    assert line["campaign"] == 1 and len(line["devices"]) == 16
    assert line["failed"] == ["J23", "J41"] and len(line["passed"]) == 14
    after = completed_pairs(db, 1)
    assert set(after) == expected_pairs() and set(after.values()) == {1}
    assert line["runs_made"] == len(expected_pairs()) - sum(before.values())
    ids_after = {ds.run_id for ds in runs_where(db, labrf_campaign=1)
                 if status_of(ds.metadata) == "completed"}
    assert ids_before <= ids_after  # what had completed was kept, not made again
    again = subprocess.run([*command, "--resume", "--json"], capture_output=True, text=True,
                           cwd=tmp_path, timeout=120)
    assert json.loads(again.stdout.strip().splitlines()[-1])["runs_made"] == 0


def test_resume_refuses_a_changed_file_and_a_missing_campaign(tmp_path: Path) -> None:
    db = tmp_path / "chip.db"
    quick = light(tmp_path, devices={"J11": {"channels": "1101,1201", "position": [1, 1]}})
    first = subprocess.run([sys.executable, "-m", "labrf.cli", "campaign", "run", str(quick),
                            "--db", str(db), "--resume"], capture_output=True, text=True)
    assert first.returncode == 1 and "Traceback" not in first.stderr
    assert "no campaign 'sim-chip'" in first.stderr and "without --resume" in first.stderr
    with load_station(ROOT / "station_configs" / "sim_chip.yaml") as station:
        done = CampaignRunner(read_campaign(quick), station, db, progress=None).run()
        assert done.passed == ["J11"]
        changed = light(tmp_path, devices={"J12": {"channels": "1102,1202",
                                                   "position": [1, 2]}})
        with pytest.raises(Exception, match="changed since campaign 1 started"):
            CampaignRunner(read_campaign(changed), station, db, progress=None,
                           resume=True).run()


def _random_campaign(tmp_path: Path, rng: np.random.Generator) -> Path:
    data = yaml.safe_load(light(tmp_path).read_text())
    names = list(data["devices"])
    chosen = list(rng.choice(names, size=5, replace=False)) + ["J23", "J41"]
    order = [str(n) for n in dict.fromkeys(rng.permutation(chosen))]
    data["devices"] = {n: data["devices"][n] for n in order}
    steps = data["procedures"]
    for step in steps:
        if step["procedure"] == "emission":
            step["parameters"]["center"] = "307 MHz"
    data["procedures"] = [steps[i] for i in rng.permutation(len(steps))]
    data["on_failure"] = str(rng.choice(["skip", "retry"]))
    if data["on_failure"] == "retry":
        data["retries"] = 1
    path = tmp_path / "random.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_random_orders_and_faults_never_switch_under_load(tmp_path: Path, seed: int) -> None:
    rng = np.random.default_rng(seed)
    campaign = read_campaign(_random_campaign(tmp_path, rng))
    with load_station(ROOT / "station_configs" / "sim_chip.yaml") as station:
        assert station.bench is not None
        for _ in range(4):
            instrument = str(rng.choice(["nanovoltmeter", "current_source", "rf_source",
                                         "spectrum_analyzer", "switch", "smu"]))
            kind = str(rng.choice(["timeout", "garble", "error", "reboot"]))
            station.bench.inject_fault(instrument, FaultRule(kind, nth=int(rng.integers(
                5, 300))))
        result = CampaignRunner(campaign, station, tmp_path / "chip.db",
                                progress=None).run()
        moves = _transitions(station)
        assert len(moves) >= 2 * len(campaign.devices)
        for move in moves:
            assert not _load_at(station, move), (seed, move)
        print(seed, result.status, result.error, {n: v.reason for n, v in
                                                  result.verdicts.items()})
        assert result.status in ("completed", "failed"), result.error
        assert {"J23", "J41"} <= set(result.failed) or result.status == "failed"
        end = SimpleNamespace(drives_before=len(station.bench.world.drives))
        assert not _load_at(station, end)  # the world: nothing left on


def test_a_stop_signal_aborts_the_campaign_with_the_bench_safe(tmp_path: Path) -> None:
    campaign = parse_campaign(yaml.safe_load(light(tmp_path).read_text()),
                              str(tmp_path / "light.yaml"))
    with load_station(ROOT / "station_configs" / "sim_chip.yaml") as station:
        runner = CampaignRunner(campaign, station, tmp_path / "chip.db", progress=None)
        calls = {"n": 0}
        real = runner._route

        def route_then_stop(device: Any) -> None:
            calls["n"] += 1
            if calls["n"] == 3:
                raise KeyboardInterrupt
            real(device)

        runner._route = route_then_stop  # type: ignore[method-assign]
        result = runner.run()
        assert result.status == "aborted" and result.signal == "SIGINT"
        assert len(result.passed) == 2 and not station.energized()
        record = runs_where(tmp_path / "chip.db", labrf_procedure="campaign")[0]
        assert record.metadata["labrf_status"] == "aborted"


def test_the_report_has_16_rows_the_plots_and_an_offline_page(shipped_run, tmp_path: Path,
                                                              capsys) -> None:
    import pandas as pd

    from labrf.cli import main

    result, db, _ = shipped_run
    out = tmp_path / "report"
    assert main(["campaign", "report", str(result.campaign), "--db", str(db), "--out",
                 str(out), "--quantity", "spin-diode.resonance"]) == 0
    printed = capsys.readouterr().out
    assert "16 devices, 14 passed" in printed and "J23: fail: iv-curve: shorted" in printed
    table = pd.read_csv(out / "devices.csv")
    table["reason"] = table["reason"].fillna("")  # CSV reads a passing "" as missing
    assert len(table) == 16 and list(table.columns[:5]) == ["device", "row", "column",
                                                            "status", "reason"]
    assert sorted(table.loc[table["status"] == "fail", "device"]) == ["J23", "J41"]
    assert table.set_index("device").loc["J41", "reason"].startswith("iv-curve: open")
    assert table["spin-diode.resonance"].notna().sum() == 14
    parquet = pd.read_parquet(out / "devices.parquet")
    pd.testing.assert_frame_equal(parquet.reset_index(drop=True), table,
                                  check_dtype=False)
    for image in ("chip_map.png", "histograms.png"):
        assert (out / image).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    page = (out / "report.html").read_text()
    assert page.count("data:image/png;base64,") == 2
    assert "http://" not in page and "https://" not in page and "<script" not in page
    assert "J44" in page and "shorted" in page


def test_report_refuses_what_is_not_a_campaign(shipped_run, capsys) -> None:
    from labrf.cli import main

    result, db, _ = shipped_run
    spin = runs_where(db, labrf_procedure="spin-diode")[0].run_id
    assert main(["campaign", "report", str(spin), "--db", str(db)]) == 2
    err = capsys.readouterr().err
    assert f"run {spin} of {db} is a spin-diode run, not a campaign" in err
    assert f"campaigns in it: {result.campaign}" in err
    assert main(["campaign", "report", str(result.campaign), "--db", str(db),
                 "--quantity", "resonance"]) == 2
    assert "valid: iv-curve.resistance" in capsys.readouterr().err
    assert main(["campaign", "report", "999", "--db", str(db)]) == 1
    assert "has no run 999" in capsys.readouterr().err
