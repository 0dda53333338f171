"""The README's main job: ``labrf demo`` fits within its targets of the simulator's truth
and writes its plots and data."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from labrf.demo import run_demo

SIM_BENCH = Path(__file__).resolve().parents[1] / "station_configs" / "sim_bench.yaml"
SIM_NETWORK = SIM_BENCH.with_name("sim_network.yaml")
TOLERANCE = {"resonance f_r": 0.3e6, "half-width D": 0.10, "threshold I_th": 0.03,
             "tunability": 0.05}


def test_demo_fits_match_the_truth_and_the_plots_exist(tmp_path) -> None:
    out = io.StringIO()
    result = run_demo(SIM_BENCH, tmp_path / "demo.db", out=out, network=SIM_NETWORK)
    rows = {name: (value, true) for name, value, _, true, _, _ in result["rows"]}
    assert rows["resonance f_r"][0] == pytest.approx(rows["resonance f_r"][1], abs=0.3e6)
    for name in ("half-width D", "threshold I_th", "tunability"):
        assert rows[name][0] == pytest.approx(rows[name][1], rel=TOLERANCE[name]), name
    for run in (result["spin_diode"], result["emission"]):
        assert Path(run.plot).stat().st_size > 10_000
    text = out.getvalue()
    assert "threshold I_th" in text and "plots:" in text and str(tmp_path) in text
    training = result["training"]
    accuracy = {name: r.fit["test_accuracy"] for name, r in training.items()}
    assert accuracy["offline-design"] < 0.8
    # the calibrated model misses the RF paths: the chip in the loop makes up for them
    assert accuracy["offline-calibrated"] < accuracy["physics-aware"] - 0.02
    assert accuracy["physics-aware"] >= 0.977
    assert "chip in the loop (physics-aware, calibrated model)" in text
    assert "2 % device spread, 0.5 dB spread of the RF paths" in text


def test_demo_refuses_a_missing_station(tmp_path) -> None:
    from labrf.errors import ConfigError

    with pytest.raises(ConfigError, match="station file not found"):
        run_demo(tmp_path / "nope.yaml", tmp_path / "demo.db")
