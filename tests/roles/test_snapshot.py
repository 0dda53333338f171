"""Snapshots: every role records its model, *IDN? reply, driver, address, limits and
every setting with its unit; the README's station example runs as written."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[2] / "README.md"


def test_every_role_snapshot_has_model_idn_and_every_setting(station) -> None:
    snap = station.snapshot(update=True)["instruments"]
    assert set(snap) == set(station.roles)
    for name, role in station.roles.items():
        entry = snap[name]
        assert entry["model"] == role.binding.model
        assert entry["idn_reply"] == role.idn_reply and entry["idn_reply"]
        assert entry["address"] == station.spec.instruments[name].address
        assert entry["driver"].startswith("labrf.drivers.")
        assert set(entry["limits"]) >= {"junction_current", "rf_power_at_device", "field"}
        for pname, parameter in role.parameters.items():
            if parameter.snapshot_exclude:
                assert pname not in entry["parameters"]
                continue
            assert entry["parameters"][pname]["value"] is not None, (name, pname)
            if pname != "IDN":
                assert "unit" in entry["parameters"][pname]


def test_readme_station_example_runs() -> None:
    text = README.read_text()
    block = re.search(r"```python\n(from labrf.station import load_station.*?)```", text,
                      re.DOTALL)
    assert block, "the README's station example is missing"
    namespace: dict = {}
    exec(compile(block.group(1), str(README), "exec"), namespace)  # noqa: S102
    assert namespace["snapshot"]["instruments"]["rf_source"]["model"].endswith("SMB100A")
    assert namespace["station"].clock.now() > 2.5  # 50 mT at 20 mT/s, ramped


@pytest.mark.parametrize("name", ["rf_source", "current_source", "smu", "magnet"])
def test_state_summary_names_the_output_state(station, name) -> None:
    assert station.roles[name].state_summary().startswith("output off")
