"""The two-layer network bench (station_configs/sim_network.yaml): the simulated chip does
what ``labrf.network.forward`` says, seen through the real stack (station, roles, drivers,
SCPI emulators), with its variability, wiring errors and compliance."""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

from labrf.errors import ConfigError, SafeStateError, SimulationError
from labrf.network import Knobs, Network, forward, nominal_network, predict
from labrf.physics import oscillator as osc_model
from labrf.sim.config import NetworkConfig, load_simulation, simulation_from_station
from labrf.sim.models.keithley_2182a import NOISE_1PLC
from labrf.sim.models.rs_fsv import DANL
from labrf.sim.world import World
from labrf.station import LabStation, load_station
from labrf.units import dbm_to_watt, watt_to_dbm
from tests.helpers import make_bench, write

SIM_NETWORK = Path(__file__).resolve().parents[2] / "station_configs" / "sim_network.yaml"
CONTROLS = ("control_A1", "control_A2", "control_B1", "control_B2", "control_O1",
            "control_O2")
BIASES = ("bias_N1", "bias_N2", "bias_NO")
CHAINS = ("chain_A", "chain_B", "chain_O")
SOURCES = ("rf_input_1", "rf_input_2")


@pytest.fixture(scope="module")
def station() -> Iterator[LabStation]:
    """sim_network.yaml connected on its simulated bench; left safe and closed after (the
    instrument names are global in QCoDeS)."""
    st = load_station(SIM_NETWORK)
    try:
        yield st
        with contextlib.suppress(SafeStateError):
            st.safe_state()
    finally:
        st.close()


def world_of(station: LabStation) -> World:
    assert station.bench is not None
    return station.bench.world


def apply(station: LabStation, controls: list[float], biases: list[float],
          freqs: tuple[float, float], powers_dbm: tuple[float, float]) -> None:
    """Set every knob through the CurrentSource roles (outputs on, ramped) and both RF
    inputs through the RFSource roles."""
    for name, amps in zip((*CONTROLS, *BIASES), (*controls, *biases), strict=True):
        role = station.roles[name]
        role.current(amps)
        role.output(True)
    for name, f, dbm in zip(SOURCES, freqs, powers_dbm, strict=True):
        source = station.roles[name]
        source.frequency(f)
        source.power_at_device(dbm)
        source.output(True)


def model_of(station: LabStation) -> tuple[Network, Knobs, np.ndarray]:
    """The chip, knobs and inputs as the instruments report them (readbacks)."""
    r = station.roles
    knobs = Knobs([r[n].current() for n in CONTROLS], [r[n].current() for n in BIASES])
    freqs = tuple(r[n].frequency() for n in SOURCES)
    powers = np.array([[float(dbm_to_watt(r[n].power_at_device())) for n in SOURCES]])
    chip = dataclasses.replace(world_of(station).network("chip"), input_frequencies=freqs)
    return chip, knobs, powers


SETTINGS = [
    ([1e-3, -1e-3, 0.5e-3, -2e-3, 0.0, 1e-3], [5.5e-3, 5.5e-3, 4.5e-3],
     (230e6, 270e6), (-27.0, -30.0)),
    ([-2e-3, 2e-3, 3e-3, 0.0, -1e-3, 2e-3], [5e-3, 4.8e-3, 3e-3],
     (235e6, 265e6), (-25.5, -33.0)),
    ([0.0, 0.0, -3e-3, 3e-3, 2e-3, -2e-3], [5.8e-3, 5.2e-3, 1e-3],
     (230e6, 270e6), (-30.0, -25.5)),
]


@pytest.mark.parametrize("controls, biases, freqs, powers_dbm", SETTINGS)
def test_chain_voltages_agree_with_the_model_within_the_voltmeters_noise(
        station: LabStation, controls: list[float], biases: list[float],
        freqs: tuple[float, float], powers_dbm: tuple[float, float]) -> None:
    apply(station, controls, biases, freqs, powers_dbm)
    chip, knobs, powers = model_of(station)
    expected = forward(chip, knobs, powers).chain_voltages[0]
    assert np.all(np.abs(expected) > 1e-6)  # every chain carries a signal
    for name, v_model in zip(CHAINS, expected, strict=True):
        meter = station.roles[name]
        sigma = NOISE_1PLC / math.sqrt(meter.nplc())
        assert meter.voltage() == pytest.approx(v_model, abs=5 * sigma, rel=1e-9)


def test_describe_reports_the_knobs_and_activations(station: LabStation) -> None:
    apply(station, *SETTINGS[0])
    chip, knobs, powers = model_of(station)
    act = forward(chip, knobs, powers)
    truth = station.bench.describe()["devices"]["chip"]
    assert truth["kind"] == "network"
    assert truth["rf_sources"] == list(SOURCES)
    assert list(truth["knobs"]["control_currents"].values()) == pytest.approx(
        knobs.control_currents)
    assert list(truth["activations"]["chain_voltages"].values()) == pytest.approx(
        act.chain_voltages[0])
    assert truth["neurons"]["NO"]["frequency"] == chip.output_neuron.frequency
    assert truth["activations"]["output_emits"] == bool(predict(chip, act)[0])


def output_trace(station: LabStation, center: float, rbw: float = 100e3
                 ) -> tuple[np.ndarray, np.ndarray]:
    sa = station.roles["spectrum_analyzer"]
    sa.center(center)
    sa.span(20e6)
    sa.rbw(rbw)
    sa.points(401)
    trace = sa.sweep()
    return trace.frequency, trace.power


def test_analyzer_sees_the_output_neuron_when_the_model_says_it_emits(
        station: LabStation) -> None:
    world = world_of(station)
    rbw = 100e3
    floor_dbm = float(watt_to_dbm((dbm_to_watt(DANL) + world.noise_density(
        "spectrum_analyzer")) * rbw))
    apply(station, *SETTINGS[0])
    chip, knobs, powers = model_of(station)
    act = forward(chip, knobs, powers)
    assert predict(chip, act)[0]
    f_out, p_out = float(act.frequencies[0, 2]), float(act.emitted_powers[0, 2])
    freqs, dbm = output_trace(station, f_out, rbw)
    k = int(np.argmax(dbm))
    assert freqs[k] == pytest.approx(f_out, abs=rbw)
    width = osc_model.linewidth(chip.output_neuron, act.neuron_currents[0, 2])
    peak = osc_model.line_in_rbw([f_out], p_out * 1e3, f_out, width, rbw)[0]  # 30 dB amp
    assert dbm[k] == pytest.approx(float(watt_to_dbm(peak)), abs=1.0)
    assert dbm[k] > floor_dbm + 40

    station.roles["bias_NO"].current(0.0)
    chip, knobs, powers = model_of(station)
    act = forward(chip, knobs, powers)
    assert not predict(chip, act)[0] and act.emitted_powers[0, 2] == 0
    _, quiet = output_trace(station, f_out, rbw)
    assert quiet.max() < floor_dbm + 10


def test_the_probe_port_reaches_the_output_chain_only(station: LabStation) -> None:
    """rf_probe, on the combiner's coupled port, is a tone for the output synapses: with
    the inputs off and the neurons silent, only chain O sees it, as the model says."""
    apply(station, [0.0, 0.0, 0.0, 0.0, 1e-3, -1e-3], [0.0, 0.0, 0.0], (230e6, 270e6),
          (-30.0, -30.0))
    for name in SOURCES:
        station.roles[name].output(False)
    probe = station.roles["rf_probe"]
    probe.power_at_device(-30.0)
    probe.output(True)
    chip, knobs, _ = model_of(station)
    try:
        for f in (295e6, 305e6, 315e6):
            probe.frequency(f)
            want = forward(chip, knobs, np.zeros((1, 2)), probe=(f, 1e-6)).chain_voltages[0]
            got = [station.roles[c].voltage() for c in CHAINS]
            assert abs(want[2]) > 1e-6 and want[0] == want[1] == 0.0
            np.testing.assert_allclose(got, want, atol=5 * NOISE_1PLC)
    finally:
        probe.output(False)


def test_the_monitor_port_shows_both_hidden_neurons(station: LabStation) -> None:
    """monitor_analyzer sees N1 and N2 at the combiner (rf_gain, then -20 dB of coupling),
    each at the frequency the model gives its drive."""
    apply(station, [0.0] * 6, [5.5e-3, 5.0e-3, 0.0], (230e6, 270e6), (-60.0, -60.0))
    chip, knobs, powers = model_of(station)
    act = forward(chip, knobs, powers)
    sa = station.roles["monitor_analyzer"]
    sa.start(270e6)
    sa.stop(320e6)
    sa.rbw(300e3)
    sa.points(1001)
    trace = sa.sweep()
    for j in (0, 1):
        f, p = float(act.frequencies[0, j]), float(act.emitted_powers[0, j])
        assert p > 0
        near = np.abs(trace.frequency - f) < 0.5e6
        width = osc_model.linewidth(chip.neurons[j], act.neuron_currents[0, j])
        peak = osc_model.line_in_rbw([f], p * chip.rf_gain * 0.01, f, width, 300e3)[0]
        assert trace.power[near].max() == pytest.approx(float(watt_to_dbm(peak)), abs=1.0)


def test_a_reading_reuses_the_forward_pass_until_a_drive_changes(
        station: LabStation, monkeypatch: pytest.MonkeyPatch) -> None:
    import labrf.sim.world as world_module

    calls: list[int] = []

    def counting(*args: Any) -> Any:
        calls.append(1)
        return forward(*args)

    monkeypatch.setattr(world_module, "network_forward", counting)
    apply(station, *SETTINGS[1])
    calls.clear()
    for name in CHAINS:
        station.roles[name].voltage()
    assert len(calls) <= 1
    station.roles["rf_input_1"].power_at_device(-28.0)
    station.roles["chain_A"].voltage()
    assert len(calls) == 2


def test_variability_gives_a_seeded_chip_about_two_percent_off_nominal() -> None:
    config = load_simulation(SIM_NETWORK)
    nominal = nominal_network()
    chip = World(config).network("chip")
    resonances = np.array([p.resonance for p in chip.synapses])
    nominal_resonances = np.array([p.resonance for p in nominal.synapses])
    deviation = resonances / nominal_resonances - 1
    assert np.all(deviation != 0)
    assert 0.005 < np.sqrt(np.mean(deviation**2)) < 0.06
    thresholds = np.array([p.threshold_current for p in chip.neurons])
    assert np.all(thresholds != nominal.output_neuron.threshold_current)
    assert World(config).network("chip") == chip
    other = World(dataclasses.replace(config, seed=config.seed + 1)).network("chip")
    assert other != chip
    device = config.devices["chip"]
    assert isinstance(device, NetworkConfig) and device.path_imbalance == 0.5
    flat = World(dataclasses.replace(config, variability=0.0, devices={
        **config.devices, "chip": dataclasses.replace(device, path_imbalance=0.0)}))
    assert flat.network("chip") == device.network


def test_rf_paths_are_imbalanced_independently_of_the_junctions() -> None:
    """The station's 0.5 dB spread of the RF paths: seeded, drawn apart from the
    junctions' spread (so either can change without moving the other)."""
    config = load_simulation(SIM_NETWORK)
    chip = World(config).network("chip")
    paths_db = 10 * np.log10([*np.ravel(chip.input_coupling), *chip.emission_coupling])
    assert np.all(paths_db != 0) and np.all(np.abs(paths_db) < 2.0)
    same_junctions = World(dataclasses.replace(config, variability=0.0)).network("chip")
    assert same_junctions.input_coupling == chip.input_coupling
    assert same_junctions.emission_coupling == chip.emission_coupling
    other = World(dataclasses.replace(config, seed=config.seed + 1)).network("chip")
    assert other.input_coupling != chip.input_coupling
    described = World(config).describe()["devices"]["chip"]
    assert described["emission_coupling"] == list(chip.emission_coupling)


# ---------------------------------------------------------------------------- config errors


def station_data() -> dict[str, Any]:
    return copy.deepcopy(yaml.safe_load(SIM_NETWORK.read_text()))


def sim(data: dict[str, Any]) -> dict[str, Any]:
    return data["labrf"]["simulation"]


def unknown_key(data: dict[str, Any]) -> None:
    sim(data)["devices"]["chip"]["colour"] = "blue"


def unknown_synapse(data: dict[str, Any]) -> None:
    sim(data)["devices"]["chip"]["synapses"] = {"C1": {"resonance": "250 MHz"}}


def neuron_with_a_synapse_key(data: dict[str, Any]) -> None:
    sim(data)["devices"]["chip"]["neurons"] = {"N2": {"resonance": "250 MHz"}}


def unknown_terminal(data: dict[str, Any]) -> None:
    sim(data)["instruments"]["control_A1"]["output"] = "chip.X9"


def voltmeter_on_a_control_line(data: dict[str, Any]) -> None:
    sim(data)["instruments"]["chain_A"]["input"] = "chip.A1"


def amplifier_on_a_chain(data: dict[str, Any]) -> None:
    sim(data)["devices"]["amp_NO"]["input"] = "chip.O"


def three_rf_inputs(data: dict[str, Any]) -> None:
    data["instruments"]["rf_input_3"] = {**data["instruments"]["rf_input_2"],
                                         "address": "TCPIP0::192.168.1.33::inst0::INSTR"}
    sim(data)["instruments"]["rf_input_3"] = {"model": "smb100a", "output": "chip.input"}


def gain_in_watts(data: dict[str, Any]) -> None:
    sim(data)["devices"]["chip"]["rf_gain"] = "30 W"


def negative_imbalance(data: dict[str, Any]) -> None:
    sim(data)["devices"]["chip"]["path_imbalance"] = "-1 dB"


ROOT = "labrf.simulation"


@pytest.mark.parametrize("edit, key, hint", [
    (unknown_key, f"{ROOT}.devices.chip.colour",
     "valid keys: kind, hidden_transconductance, output_transconductance, rf_gain"),
    (unknown_synapse, f"{ROOT}.devices.chip.synapses.C1",
     "valid keys: A1, A2, B1, B2, O1, O2"),
    (neuron_with_a_synapse_key, f"{ROOT}.devices.chip.neurons.N2.resonance",
     "valid keys: threshold_current"),
    (unknown_terminal, f"{ROOT}.instruments.control_A1.output",
     "valid: chip.A1, chip.A2, chip.B1, chip.B2, chip.O1, chip.O2, chip.N1, chip.N2, "
     "chip.NO"),
    (voltmeter_on_a_control_line, f"{ROOT}.instruments.chain_A.input",
     "valid: chip.A, chip.B, chip.O"),
    (amplifier_on_a_chain, f"{ROOT}.devices.amp_NO.input", "valid: chip.N1, chip.N2, chip.NO"),
    (three_rf_inputs, f"{ROOT}.instruments.rf_input_3.output",
     "a network takes 2 RF inputs; chip.input already has rf_input_1, rf_input_2"),
    (gain_in_watts, f"{ROOT}.devices.chip.rf_gain", "dB"),
    (negative_imbalance, f"{ROOT}.devices.chip.path_imbalance", "0"),
])
def test_network_wiring_mistakes_are_named(edit: Any, key: str, hint: str) -> None:
    data = station_data()
    edit(data)
    with pytest.raises(ConfigError) as info:
        simulation_from_station(data, file="net.yaml")
    assert info.value.key == key
    assert str(info.value).startswith(f"net.yaml, key '{key}'")
    assert hint in str(info.value)


# ---------------------------------------------------------------------------- compliance


def test_a_control_line_in_compliance_limits_its_current() -> None:
    bench = make_bench(
        {"cs": {"model": "keithley6221", "address": "GPIB0::12::INSTR", "output": "chip.A1"},
         "bias": {"model": "keithley6221", "address": "GPIB0::13::INSTR",
                  "output": "chip.N1"}},
        devices={"chip": {"kind": "network", "line_resistance": "50 ohm"}}, noise=False)
    world, cs = bench.world, bench.emulators["cs"]
    write(cs, "SOUR:CURR:COMP 0.1;:SOUR:CURR 4e-3;:OUTP ON")
    reading = world.junction_reading("cs", world.clock.now())
    assert reading.in_compliance  # 4 mA through 50 ohm would need 0.2 V
    assert reading.current == pytest.approx(2e-3) and reading.voltage == pytest.approx(0.1)
    assert world.network_pass("chip").knobs.control_currents[0] == pytest.approx(2e-3)
    write(cs, "SOUR:CURR 1e-3")
    reading = world.junction_reading("cs", world.clock.now())
    assert not reading.in_compliance and reading.current == pytest.approx(1e-3)
    write(bench.emulators["bias"], "SOUR:CURR 5e-3;:OUTP ON")
    reading = world.junction_reading("bias", world.clock.now())
    assert reading.voltage == pytest.approx(0.5)  # into the 100 ohm bias input
    assert world.network_pass("chip").knobs.bias_currents[0] == pytest.approx(5e-3)
    bench.close()


def _line_bench(rating: str | None = None) -> Any:
    chip: dict[str, Any] = {"kind": "network"}
    if rating is not None:
        chip["line_rating"] = rating
    return make_bench(
        {"cs": {"model": "keithley6221", "address": "GPIB0::12::INSTR", "output": "chip.A1"},
         "cs2": {"model": "keithley6221", "address": "GPIB0::14::INSTR",
                 "output": "chip.A2"},
         "volt": {"model": "keithley2182a", "address": "GPIB0::7::INSTR",
                  "input": "chip.A"}},
        devices={"chip": chip}, noise=False)


def test_a_field_line_driven_past_its_rating_burns_open_and_the_chip_still_reads() -> None:
    """Past the roles (a driver used directly), 30 mA through a 20 mA field line burns it
    open, as the simulated devices break: the event is logged, the line carries no current
    after, the other lines still tune, and the chip still evaluates (before the rating, the
    linear tuning would have moved A1's resonance below 0 Hz)."""
    bench = _line_bench()
    world, cs = bench.world, bench.emulators["cs"]
    write(cs, "SOUR:CURR:COMP 100;:SOUR:CURR 19e-3;:OUTP ON")
    assert world.network_pass("chip").knobs.control_currents[0] == pytest.approx(19e-3)
    assert world.describe()["devices"]["chip"]["burned_lines"] == []
    write(cs, "SOUR:CURR -30e-3")
    assert world.describe()["devices"]["chip"]["burned_lines"] == ["A1"]
    assert any("field line A1 of network 'chip' burned open: -30 mA" in e
               for _, e in world.events)
    reading = world.junction_reading("cs", world.clock.now())
    assert reading.in_compliance and abs(reading.current) < 1e-9  # an open line
    write(bench.emulators["cs2"], "SOUR:CURR:COMP 100;:SOUR:CURR 2e-3;:OUTP ON")
    now = world.network_pass("chip")
    assert abs(now.knobs.control_currents[0]) < 1e-9
    assert now.knobs.control_currents[1] == pytest.approx(2e-3)
    assert np.isfinite(world.junction_reading("volt", world.clock.now()).voltage)
    write(cs, "SOUR:CURR 0")
    assert world.describe()["devices"]["chip"]["burned_lines"] == ["A1"]  # stays open
    bench.close()


def test_a_line_rating_that_would_tune_a_resonance_to_zero_is_refused() -> None:
    with pytest.raises(SimulationError, match=r"simulation\.devices\.chip\.line_rating: "
                                              r"100 mA through "
                                              r"A1's field line .* a rating below "
                                              r"\d+\.\d mA"):
        _line_bench("100 mA")
