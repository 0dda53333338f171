"""The simulation section of a station file: every mistake named, with what is valid."""

from pathlib import Path

import pytest

from labrf.errors import ConfigError
from labrf.sim.config import load_simulation, parse_simulation

GOOD = {"seed": 1, "devices": {"mtj": {"kind": "mtj"}, "magnet": {"kind": "coil"}},
        "instruments": {"psu": {"model": "kepco_bop", "address": "GPIB0::6::INSTR",
                                "output": "magnet"}}}


def with_change(path: str, value):
    import copy

    data = copy.deepcopy(GOOD)
    *parents, last = path.split(".")
    node = data
    for key in parents:
        node = node[key]
    node[last] = value
    return data


@pytest.mark.parametrize("path, value, key, hint", [
    ("seed", -1, "labrf.simulation.seed", "non-negative integer"),
    ("seed", "abc", "labrf.simulation.seed", "non-negative integer"),
    ("line_frequency", "55 Hz", "labrf.simulation.line_frequency", "50 Hz or 60 Hz"),
    ("noise", "yes", "labrf.simulation.noise", "true or false"),
    ("variability", "50 %", "labrf.simulation.variability", "[0, 0.2]"),
    ("colour", 1, "labrf.simulation.colour", "valid keys: seed"),
    ("devices.mtj.kind", "memristor", "labrf.simulation.devices.mtj.kind", "mtj, amplifier"),
    ("devices.mtj.spin_diode", {"resonanse": "1 GHz"},
     "labrf.simulation.devices.mtj.spin_diode.resonanse", "valid keys: resonance"),
    ("devices.mtj.spin_diode", {"resonance": "250 mT"},
     "labrf.simulation.devices.mtj.spin_diode.resonance", "Hz"),
    ("devices.mtj.spin_diode", {"resonance": "1 THz"},
     "labrf.simulation.devices.mtj.spin_diode.resonance", "outside the valid range"),
    ("devices.mtj.junction", {"breakdown_voltage": "-1 V"},
     "labrf.simulation.devices.mtj.junction.breakdown_voltage", "outside the valid range"),
    ("devices.mtj.field_from", "mtj", "labrf.simulation.devices.mtj.field_from",
     "valid: magnet"),
    ("devices.mtj.oscillator", "fast", "labrf.simulation.devices.mtj.oscillator",
     "must be a mapping"),
    ("devices.amp", {"kind": "amplifier", "input": "magnet"},
     "labrf.simulation.devices.amp.input", "valid: mtj"),
    ("devices.magnet.time_constant", "2 A", "labrf.simulation.devices.magnet.time_constant",
     "in s"),
    ("instruments.psu.model", "kepco_xyz", "labrf.simulation.instruments.psu.model",
     "valid: fsv"),
    ("instruments.psu.output", "mtj", "labrf.simulation.instruments.psu.output",
     "valid: magnet"),
    ("instruments.psu.input", "mtj", "labrf.simulation.instruments.psu.input",
     "valid keys: model, address, terminator, output"),
    ("instruments.psu.terminator", ";", "labrf.simulation.instruments.psu.terminator",
     "is not one of"),
    ("instruments.psu.address", "", "instruments.psu.address", "needs a VISA address"),
    ("devices.chip", {"kind": "network", "line_resistance": "20 V"},
     "labrf.simulation.devices.chip.line_resistance", "ohm"),
    ("devices.chip", {"kind": "network", "drive_limit": "1 A"},
     "labrf.simulation.devices.chip.drive_limit", "outside the valid range"),
    ("devices.chip", {"kind": "network", "neurons": "fast"},
     "labrf.simulation.devices.chip.neurons", "must be a mapping"),
    ("devices.chip", {"kind": "network", "synapses": {"A1": {"resonance": "1 THz"}}},
     "labrf.simulation.devices.chip.synapses.A1.resonance", "outside the valid range"),
    ("devices.amp", {"kind": "amplifier", "input": "chip"},
     "labrf.simulation.devices.amp.input", "valid: mtj"),
])
def test_malformed_simulation_sections_name_the_key(path, value, key, hint):
    with pytest.raises(ConfigError) as info:
        parse_simulation(with_change(path, value), {}, file="bench.yaml")
    message = str(info.value)
    assert info.value.key == key
    assert message.startswith(f"bench.yaml, key '{key}'")
    assert hint in message


def test_network_device_is_the_nominal_network_with_its_changes():
    import dataclasses

    from labrf.network import nominal_network
    from labrf.sim.config import NetworkConfig

    config = parse_simulation(with_change("devices.chip", {
        "kind": "network", "rf_gain": "20 dB", "hidden_transconductance": "50 mA/V",
        "detection_power": "-60 dBm", "bias_resistance": "1 kohm",
        "synapses": {"O2": {"resonance": "320 MHz", "damping": 0.03}},
        "neurons": {"NO": {"threshold_current": "3 mA"}}}), {})
    chip = config.devices["chip"]
    assert isinstance(chip, NetworkConfig)
    nominal = nominal_network()
    net = chip.network
    assert net.rf_gain == pytest.approx(100.0)
    assert net.hidden_transconductance == pytest.approx(0.05)
    assert net.output_transconductance == nominal.output_transconductance
    assert net.detection_power == pytest.approx(1e-9)
    assert net.output_synapses[1] == dataclasses.replace(nominal.output_synapses[1],
                                                         resonance=320e6, damping=0.03)
    assert net.output_neuron.threshold_current == pytest.approx(3e-3)
    assert net.hidden_synapses == nominal.hidden_synapses
    assert (chip.line_resistance, chip.bias_resistance) == (20.0, 1000.0)


def test_a_device_named_like_a_network_terminal_is_refused():
    data = with_change("devices.chip", {"kind": "network"})
    data["devices"]["chip.A"] = {"kind": "coil"}
    with pytest.raises(ConfigError, match="a terminal of network 'chip'") as info:
        parse_simulation(data, {})
    assert info.value.key == "labrf.simulation.devices.chip.A"


def test_duplicate_addresses_are_refused():
    data = with_change("instruments.psu2", {"model": "kepco_bop", "address": "gpib0::6::instr",
                                            "output": "magnet"})
    with pytest.raises(ConfigError, match="already used by 'psu'"):
        parse_simulation(data, {})


def test_unit_strings_convert_to_si():
    config = parse_simulation(with_change("devices.mtj.spin_diode", {
        "resonance": "0.3 GHz", "field_tuning": "0.8 MHz/mT", "antisymmetric": "50 mV/mW",
        "saturation_power": "-15 dBm"}), {})
    p = config.devices["mtj"].spin_diode
    assert p.resonance == pytest.approx(300e6)
    assert p.field_tuning == pytest.approx(0.8e9)
    assert p.antisymmetric == pytest.approx(50.0)
    assert p.saturation_power == pytest.approx(10 ** -4.5 * 1e-3 * 1e3, rel=1e-9)


@pytest.mark.parametrize("text, hint", [
    ("instruments: [1, 2", "not valid YAML"),
    ("- a\n- b\n", "must be a mapping"),
    ("instruments: {}\n", "key 'labrf.simulation': missing"),
])
def test_bad_files_are_named(tmp_path: Path, text, hint):
    path = tmp_path / "station.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=hint) as info:
        load_simulation(path)
    assert str(path) in str(info.value)


def test_missing_file_is_named(tmp_path: Path):
    with pytest.raises(ConfigError, match="station file not found"):
        load_simulation(tmp_path / "nope.yaml")
