"""Campaign files: a valid one reads (its station too) and `labrf campaign check` prints
the plan; every malformed one is refused naming the file and the key."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from labrf.campaign import Reference, read_campaign
from labrf.cli import main
from labrf.errors import ConfigError
from tests.roles.test_switch_matrix import STATION

CAMPAIGN: dict[str, Any] = {
    "campaign": "two-junctions",
    "station": "switched.yaml",
    "devices": {"J11": {"channels": "1101,1201", "position": [1, 1]},
                "J12": {"channels": "1102,1202", "position": [1, 2]}},
    "procedures": [
        {"procedure": "spin-diode", "parameters": {"points": 51, "power": "-20 dBm",
                                                   "f_start": "200 MHz"},
         "accept": {"resonance": ["200 MHz", "300 MHz"]}},
        {"procedure": "emission", "parameters": {"center": "{spin-diode.resonance} + 50 MHz"},
         "accept": {"threshold_current": ["1 mA", "5 mA"]}},
    ],
    "on_failure": "retry",
    "retries": 2,
}


def _write(tmp_path: Path, data: Any) -> Path:
    (tmp_path / "switched.yaml").write_text(yaml.safe_dump(STATION))
    path = tmp_path / "campaign.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_a_valid_campaign_reads_with_its_station(tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    campaign = read_campaign(_write(tmp_path, CAMPAIGN))
    assert campaign.switch == "switch" and campaign.runs == 4
    assert campaign.devices["J12"].position == (1, 2)
    spin, emission = campaign.steps
    assert spin.parameters == {"points": 51, "power": -20.0, "f_start": 200e6}
    assert spin.accept == {"resonance": (200e6, 300e6)}
    assert emission.parameters["center"] == Reference("spin-diode", "resonance", 50e6)
    assert emission.accept["threshold_current"] == pytest.approx((1e-3, 5e-3))
    assert main(["campaign", "check", str(tmp_path / "campaign.yaml")]) == 0
    out = capsys.readouterr().out
    assert "2 devices x 2 procedures = 4 runs; on failure: retry (2 retries)" in out
    assert "center={spin-diode.resonance}+5e+07" in out
    assert "J12: channels 1102,1202, position 1,2" in out


def _edit(path: str, value: Any) -> dict[str, Any]:
    data = copy.deepcopy(CAMPAIGN)
    *parents, last = path.split("/")
    node: Any = data
    for part in parents:
        node = node[int(part)] if isinstance(node, list) else node[part]
    if value is DROP:
        del node[last]
    elif isinstance(node, list):
        node[int(last)] = value
    else:
        node[last] = value
    return data


DROP = object()
MALFORMED = [
    pytest.param("team", "x", "team", "unknown key", id="unknown-top-key"),
    pytest.param("campaign", "two junctions", "campaign", "letters, digits", id="bad-name"),
    pytest.param("station", DROP, "station", "missing", id="no-station"),
    pytest.param("station", "nowhere.yaml", "station", "station file not found",
                 id="station-not-found"),
    pytest.param("switch", "rf_source", "switch", "not a SwitchMatrix", id="not-a-switch"),
    pytest.param("devices", {}, "devices", "at least one device", id="no-devices"),
    pytest.param("devices/J11/channels", "row 1", "devices.J11.channels",
                 "four-digit channels", id="bad-channels"),
    pytest.param("devices/J12/channels", "1101,1201", "devices.J12.channels",
                 "already reaches 'J11'", id="shared-channels"),
    pytest.param("devices/J12/position", [1, 1], "devices.J12.position", "already",
                 id="same-position"),
    pytest.param("devices/J12/position", [0, 2], "devices.J12.position", "integers from 1",
                 id="position-zero"),
    pytest.param("devices/J12/wire", 3, "devices.J12.wire", "valid: channels, position",
                 id="device-unknown-key"),
    pytest.param("procedures", [], "procedures", "non-empty list", id="no-procedures"),
    pytest.param("procedures/0/procedure", "spin-dido", "procedures[0].procedure",
                 "valid:", id="unknown-procedure"),
    pytest.param("procedures/1/procedure", "spin-diode", "procedures[1].procedure",
                 "runs twice", id="procedure-twice"),
    pytest.param("procedures/0/parameters/pionts", 3, "procedures[0].parameters.pionts",
                 "no parameter pionts", id="unknown-parameter"),
    pytest.param("procedures/0/parameters/f_start", "200 mT", "procedures[0].parameters.f_start",
                 "200 mT", id="wrong-unit"),
    pytest.param("procedures/1/parameters/center", "{emission.resonance}",
                 "procedures[1].parameters.center", "does not run before it",
                 id="reference-to-a-later-step"),
    pytest.param("procedures/1/parameters/center", "{spin-diode.resonance} * 2",
                 "procedures[1].parameters.center", "'+ quantity'", id="bad-reference"),
    pytest.param("procedures/0/accept/resonance", ["300 MHz", "200 MHz"],
                 "procedures[0].accept.resonance", "above high", id="accept-reversed"),
    pytest.param("procedures/0/accept/resonance", "200 MHz",
                 "procedures[0].accept.resonance", "[low, high]", id="accept-not-a-range"),
    pytest.param("procedures/0/accept/resonance", ["low", "300 MHz"],
                 "procedures[0].accept.resonance", "not a number or a quantity",
                 id="accept-not-a-quantity"),
    pytest.param("on_failure", "panic", "on_failure", "skip, retry, stop",
                 id="bad-on-failure"),
    pytest.param("retries", 11, "retries", "0 to 10", id="too-many-retries"),
]


@pytest.mark.parametrize(("path", "value", "key", "fragment"), MALFORMED)
def test_a_malformed_campaign_is_refused_by_key(tmp_path: Path, path: str, value: Any,
                                                key: str, fragment: str) -> None:
    file = _write(tmp_path, _edit(path, value))
    with pytest.raises(ConfigError) as info:
        read_campaign(file)
    assert info.value.key == key and info.value.file == str(file), str(info.value)
    assert fragment in str(info.value), str(info.value)


def test_retries_need_on_failure_retry(tmp_path: Path) -> None:
    data = _edit("on_failure", "skip")
    with pytest.raises(ConfigError, match="retries apply with on_failure: retry"):
        read_campaign(_write(tmp_path, data))


def test_campaign_check_cli_on_a_bad_file(tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["campaign", "check", str(tmp_path / "none.yaml")]) == 1
    assert "campaign file not found" in capsys.readouterr().err
    text = tmp_path / "list.yaml"
    text.write_text("- a\n- b\n")
    assert main(["campaign", "check", str(text)]) == 1
    assert "'campaign' name" in capsys.readouterr().err
