"""Network files: a design, a trained twin and a measured chip as one JSON file each."""

import json

import numpy as np
import pytest

from labrf.errors import NetworkError
from labrf.network import layered_pass as lp
from labrf.network.design import design_network, from_nine_junction, initial_knobs
from labrf.network.files import VERSION, load_network, save_network
from labrf.network.params import nominal_network


def test_round_trip_is_exact(tmp_path):
    net = design_network((16, 6, 3), spread=0.03, path_imbalance_db=0.5, seed=3)
    k = initial_knobs(net, 2)
    path = save_network(tmp_path / "chip.json", net, k, {"run": 7, "task": "x"})
    back = load_network(path)
    assert np.array_equal(back.knobs, k) and back.metadata == {"run": 7, "task": "x"}
    x = np.random.default_rng(0).uniform(0, 1e-6, (20, 16))
    assert np.array_equal(lp.forward(net, k, x)[-1].currents,
                          lp.forward(back.network, back.knobs, x)[-1].currents)


def test_nine_junction_names_survive(tmp_path):
    net = from_nine_junction(nominal_network())
    back = load_network(save_network(tmp_path / "nine.json", net))
    assert back.knobs is None
    assert back.network.knob_labels() == net.knob_labels()


def _doc(tmp_path):
    net = design_network((4, 2, 2))
    path = save_network(tmp_path / "n.json", net, initial_knobs(net))
    return path, json.loads(path.read_text())


@pytest.mark.parametrize("change, message", [
    (lambda d: d.update(version=VERSION + 1), r"key 'version' is 2; this labrf reads version 1"),
    (lambda d: d.update(format="other"), r"key 'format' must be 'labrf-network'"),
    (lambda d: d["network"].pop("layers"), r"network: missing key 'layers'"),
    (lambda d: d["network"]["layers"][1]["synapses"].pop("damping"),
     r"layers\[1\]\.synapses: missing key 'damping'"),
    (lambda d: d["network"]["layers"][0].update(coupling=[[1.0, 2.0]]),
     r"layers\[0\]\.coupling must have shape \(2, 4\)"),
    (lambda d: d.update(knobs=[0.0]), r"key 'knobs'.*has 16 knobs"),
    (lambda d: d["knobs"].__setitem__(-1, 0.02), r"key 'knobs': bias_L1N1 = 0.02 A is outside"),
])
def test_bad_files_name_the_key(tmp_path, change, message):
    path, doc = _doc(tmp_path)
    change(doc)
    path.write_text(json.dumps(doc))
    with pytest.raises(NetworkError, match=message):
        load_network(path)


def test_not_json_nan_and_missing_files(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(NetworkError, match="bad.json is not readable JSON"):
        load_network(bad)
    path, doc = _doc(tmp_path)
    path.write_text(path.read_text().replace("1e-09", "NaN"))
    with pytest.raises(NetworkError, match="NaN is not a valid number"):
        load_network(path)
    with pytest.raises(NetworkError, match="missing.json not found"):
        load_network(tmp_path / "missing.json")
