"""The large chip on the simulated bench: the multitone generator and the multichannel
current source emulators (lists and binary blocks, SCPI errors), their drivers and roles
(limits refused before anything is sent), and a layered_network device that the tones
and knobs drive and whose output neurons show as one peak each in the analyzer's trace,
equal to the network model's forward pass of the chip the world holds."""

from __future__ import annotations

import copy
import json
import math
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

from labrf.errors import ConfigError, LimitError
from labrf.network import layered_pass as lp
from labrf.network.design import design_network, initial_knobs, perturbed
from labrf.sim.bench import Bench
from labrf.sim.config import simulation_from_station
from labrf.sim.scpi import block
from labrf.station import Station, load_station
from labrf.wire import Framer
from tests.helpers import ask, errors, make_bench, write

ROOT = Path(__file__).resolve().parents[2]
DIGITS = ROOT / "station_configs" / "sim_digits_chip.yaml"
SMALL = {"chip": {"kind": "layered_network", "layers": [6, 4, 3], "path_imbalance": "0.5 dB"},
         "amp": {"kind": "amplifier", "input": "chip.output", "gain": "30 dB"}}
WIRED = {"tones": {"model": "multitone", "address": "GPIB0::20::INSTR",
                   "output": "chip.input"},
         "knobs": {"model": "multichannel_source", "address": "GPIB0::21::INSTR",
                   "output": "chip.knobs"},
         "analyzer": {"model": "fsv", "address": "GPIB0::22::INSTR", "input": "amp"}}


@pytest.fixture
def small() -> Iterator[Bench]:
    bench = make_bench(WIRED, copy.deepcopy(SMALL), variability="2 %")
    yield bench
    bench.close()


@pytest.fixture
def digits() -> Iterator[Station]:
    with load_station(DIGITS) as station:
        yield station


def _little(values: Any) -> str:
    return block(np.asarray(values, dtype="<f8").tobytes()).decode("latin-1")


# ---------------------------------------------------------------- the emulators


def test_tone_table_as_lists_and_blocks_and_its_errors(small: Bench) -> None:
    gen = small.find("GPIB0::20::INSTR")
    write(gen, "LIST:FREQ 100 MHz,200MHZ,3e8")
    write(gen, "LIST:POW -30,-31.5,-40 DBM")
    assert ask(gen, "LIST:POIN?") == "3"
    assert ask(gen, "LIST:FREQ?") == "100000000,200000000,300000000"
    write(gen, "FORM REAL,64;:FORM:BORD SWAP")
    f = np.array([1e8, 1.5e8, 2e8, 2.5e8])
    write(gen, f"LIST:FREQ {_little(f)}")
    reply = ask(gen, "LIST:FREQ?")
    assert reply.startswith("#232")
    assert np.frombuffer(reply[4:].encode("latin-1"), "<f8").tolist() == f.tolist()
    write(gen, "OUTP ON")  # four frequencies, three powers: silent, -221
    assert small.world.drives[-1].on is False
    assert any(e.startswith("-221") for e in errors(gen))
    write(gen, f"LIST:POW {_little([-30, -30, -30, 11])}")  # +11 dBm: refused whole
    assert any(e.startswith("-222") for e in errors(gen))
    write(gen, f"LIST:POW {_little([-30, -30, -30, -30])}")
    assert small.world.drives[-1].on and small.world.drives[-1].mode == "multitone"
    assert small.world.drives[-1].level == pytest.approx(4e-6)
    write(gen, "LIST:FREQ #216" + "x" * 15)  # the block's length is not what it says
    assert any(e.startswith("-161") for e in errors(gen))
    write(gen, "LIST:FREQ " + ",".join(["1e8"] * 8193))
    assert any(e.startswith("-223") for e in errors(gen))


def test_channels_by_list_and_block_and_their_errors(small: Bench) -> None:
    dac = small.find("GPIB0::21::INSTR")
    write(dac, "CURR 1 mA,(@1:3)")
    write(dac, "CURR -2e-3,(@5)")
    assert ask(dac, "CURR? (@1:5)") == "0.001,0.001,0.001,0,-0.002"
    assert ask(dac, "MEAS:CURR? (@1:2)") == "0,0"  # output off: nothing flows
    write(dac, "OUTP ON")
    assert ask(dac, "MEAS:CURR? (@1:2)") == "0.001,0.001"
    write(dac, "FORM REAL,64;:FORM:BORD SWAP")
    values = np.linspace(-1e-3, 1e-3, 10)
    write(dac, f"CURR {_little(values)},(@11:20)")
    reply = ask(dac, "CURR? (@11:20)")
    assert np.frombuffer(reply[4:].encode("latin-1"), "<f8").tolist() == values.tolist()
    write(dac, f"CURR {_little([0.0, 0.011])},(@1:2)")  # 11 mA: beyond the range
    write(dac, "CURR 1e-3,2e-3,(@1:3)")  # two values for three channels
    write(dac, "CURR 0,(@0:2)")  # no channel 0
    write(dac, "CURR 0,(1:2)")  # not a channel list
    found = errors(dac)
    assert [e[:4] for e in found] == ["-222", "-109", "-222", "-141"]
    write(dac, "FORM ASC")
    assert ask(dac, "CURR? (@1:2)") == "0.001,0.001"  # the refused writes changed nothing


def test_a_block_whose_bytes_hold_the_terminator_arrives_whole() -> None:
    values = np.array([np.frombuffer(b"\n\n\r\n;,#1", "<f8")[0], 1e-3])
    message = f"CURR {_little(values)},(@1:2)\n".encode("latin-1")
    framer = Framer("\n")
    assert framer.feed(message[:9]) == []  # the header has arrived, the data not yet
    (got,) = framer.feed(message[9:])
    assert got == message[:-1]


# ---------------------------------------------------------------- the chip


def test_the_world_chip_is_the_design_with_spread_and_path_imbalance(small: Bench) -> None:
    chip = small.world.layered_chip("chip")
    design = design_network((6, 4, 3))
    assert chip.sizes == (6, 4, 3)
    spread = chip.layers[0].synapses.resonance / design.layers[0].synapses.resonance - 1
    assert 0.003 < np.std(spread) < 0.05
    assert not np.allclose(chip.layers[0].coupling, design.layers[0].coupling)
    again = make_bench(WIRED, copy.deepcopy(SMALL), variability="2 %")
    try:  # the same seed: the same chip
        assert np.array_equal(again.world.layered_chip("chip").layers[1].coupling,
                              chip.layers[1].coupling)
    finally:
        again.close()
    with pytest.raises(Exception, match="no layered_network device named 'nope'"):
        small.world.layered_chip("nope")


def test_digits_chip_through_roles_matches_the_model(digits: Station) -> None:
    tones, knobs = digits.roles["tones"], digits.roles["knobs"]
    analyzer = digits.roles["spectrum_analyzer"]
    world = digits.bench.world
    chip = world.layered_chip("chip")
    assert chip.sizes == (64, 16, 10) and knobs.count == chip.knob_count == 1210
    k = initial_knobs(chip, 3)
    knobs.write(k)
    knobs.output(True)
    np.testing.assert_allclose(knobs.measured(), k, rtol=0, atol=1e-15)
    p = np.random.default_rng(0).uniform(0, 2 * 10e-6 / 64, 64)
    tones.set_tones(chip.input_frequencies, p)
    tones.output(True)
    f, watts = tones.tones()
    np.testing.assert_allclose(f, chip.input_frequencies)
    np.testing.assert_allclose(watts, p, rtol=1e-9)
    expected = lp.forward(chip, k, p[None, :])[-1]
    now = world.layered_pass("chip").activations[-1]
    np.testing.assert_allclose(now.powers, expected.powers, rtol=1e-9)
    assert (expected.powers > 0).sum() >= 3
    analyzer.start(80e6)
    analyzer.stop(600e6)
    analyzer.rbw(1e6)
    analyzer.points(1041)
    trace = analyzer.sweep()
    freq, level = np.asarray(trace.frequency), np.asarray(trace.power_watt)
    for fj, pj in zip(expected.frequencies[0], expected.powers[0], strict=True):
        near = level[np.abs(freq - fj) < 3e6].max()
        if pj > 0:  # the neuron's line, through the 30 dB amplifier, within the RBW loss
            assert 0.5 * 1000 * pj < near < 1.05 * 1000 * pj
        else:
            assert near < 1e-7
    assert digits.energized() == ["tones: RF on", "knobs: output on"]
    digits.safe_state()
    assert digits.energized() == []
    assert not world.layered_pass("chip").knobs.any()


def test_roles_refuse_out_of_limit_knobs_and_tones_before_sending(digits: Station) -> None:
    tones, knobs = digits.roles["tones"], digits.roles["knobs"]
    world = digits.bench.world
    chip = world.layered_chip("chip")
    sent = len(world.drives)
    k = initial_knobs(chip, 0)
    over = k.copy()
    over[1184 + 25] = 6.5e-3
    with pytest.raises(LimitError, match=r"channel 1210 \(biases 26 of 26\) at 0.0065 A "
                                         r"is outside \[0 A, 6 mA\]"):
        knobs.write(over)
    over = k.copy()
    over[7] = -5.5e-3
    with pytest.raises(LimitError, match=r"channel 8 \(controls 8 of 1184\)"):
        knobs.write(over)
    with pytest.raises(LimitError, match="1209 currents for 1210 channels"):
        knobs.write(k[:-1])
    with pytest.raises(LimitError, match=r"6.4e-05 W \(-11.94 dBm\) in all at the chip exceeds the "
                                         r"rf_power_at_device limit of 5e-05 W"):
        tones.set_tones(chip.input_frequencies, np.full(64, 1e-6))
    with pytest.raises(LimitError, match="tone 0 at 0 Hz is outside"):
        tones.set_tones(np.zeros(64), np.zeros(64))
    with pytest.raises(LimitError, match="64 frequencies and 63 powers"):
        tones.set_tones(chip.input_frequencies, np.zeros(63))
    assert len(world.drives) == sent  # nothing reached the chip


def test_knob_bank_ramps_junction_channels(digits: Station) -> None:
    knobs = digits.roles["knobs"]
    world, clock = digits.bench.world, digits.clock
    chip = world.layered_chip("chip")
    k = initial_knobs(chip, 1)
    knobs.write(np.zeros(knobs.count))
    knobs.output(True)
    t0, logged = clock.now(), len(world.drives)
    knobs.write(k)  # the biases from 0 A at 10 mA/s: steps of 0.5 mA, 0.05 s apart
    n = math.ceil(k[1184:].max() / 0.5e-3)
    assert n >= 5
    assert clock.now() - t0 == pytest.approx((n - 1) * 0.05, abs=0.06)
    steps = [d for d in list(world.drives)[logged:] if d.instrument == "knobs"]
    assert len(steps) == 2 * n  # each step writes both groups
    assert np.diff([d.level for d in steps[1::2]]).max() <= 0.5e-3 + 1e-9
    np.testing.assert_allclose(knobs.setpoints(), k)
    digits.safe_state()


# ---------------------------------------------------------------- station files


def _section(**changes: Any) -> dict[str, Any]:
    data = yaml.safe_load(DIGITS.read_text())
    data["labrf"]["simulation"]["devices"]["chip"].update(changes)
    return data


@pytest.mark.parametrize(("changes", "key", "message"), [
    ({"layers": [64, 0, 10]}, "devices.chip.layers", "sizes[1] = 0"),
    ({"layers": "64-16-10"}, "devices.chip.layers", "is not a list of whole numbers"),
    ({"network": "chip.json"}, "devices.chip.layers", "give either layers"),
    ({"synapses_per_input": 0}, "devices.chip.synapses_per_input", "from 1 to 8"),
    ({"path_imbalance": "-1 dB"}, "devices.chip.path_imbalance", ""),
    ({"colour": "red"}, "devices.chip", "colour"),
])
def test_bad_layered_chips_name_the_key(changes: dict[str, Any], key: str,
                                        message: str) -> None:
    with pytest.raises(ConfigError) as info:
        simulation_from_station(_section(**changes), str(DIGITS))
    assert key in str(info.value.key) and message in str(info.value)


def test_a_chip_from_a_network_file_and_a_file_of_another_version(tmp_path: Path) -> None:
    from labrf.network.files import save_network

    design = perturbed(design_network((5, 3, 2)), 0.02, 0.0, seed=4)
    save_network(tmp_path / "chip.json", design)
    data = _section()
    chip = data["labrf"]["simulation"]["devices"]["chip"]
    del chip["layers"], chip["synapses_per_input"]
    chip["network"] = "chip.json"
    station = tmp_path / "station.yaml"
    station.write_text(yaml.safe_dump(data))
    config = simulation_from_station(data, str(station))
    assert config.devices["chip"].network.sizes == (5, 3, 2)
    doc = json.loads((tmp_path / "chip.json").read_text())
    doc["version"] = 99
    (tmp_path / "chip.json").write_text(json.dumps(doc))
    with pytest.raises(ConfigError, match="this labrf reads version 1"):
        simulation_from_station(data, str(station))


@pytest.mark.parametrize(("edit", "message"), [
    (lambda ch: ch[1].update(range=["0 A", "7 mA"]),
     r"channels\[1\].range.*inside the junction_current limit"),
    (lambda ch: ch[1].update(channels="1000:1025"), r"channels\[1\].channels.*overlap"),
    (lambda ch: ch[0].update(channels="1184:1"), r"channels\[0\].channels.*increasing"),
    (lambda ch: ch[0].update(channels="one"), r"'one' is not a channel range"),
    (lambda ch: ch[0].update(channels="1:70000"), r"from 1 to 65536"),
    (lambda ch: ch[0].update(count=3), r"unknown key 'count'"),
    (lambda ch: ch[0].pop("group"), r"channels\[0\].group"),
])
def test_a_knob_bank_with_bad_channel_groups_is_refused(tmp_path: Path, edit: Any,
                                                         message: str) -> None:
    data = yaml.safe_load(DIGITS.read_text())
    data["instruments"]["bad_knobs"] = data["instruments"].pop("knobs")
    sim = data["labrf"]["simulation"]["instruments"]
    sim["bad_knobs"] = sim.pop("knobs")
    edit(data["instruments"]["bad_knobs"]["init"]["channels"])
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(data))  # sorted keys: the groups' order is a list's
    with pytest.raises(ConfigError, match=message), load_station(path):
        pass


def test_knob_groups_as_a_mapping_are_refused(tmp_path: Path) -> None:
    data = yaml.safe_load(DIGITS.read_text())
    data["instruments"]["knobs"]["init"]["channels"] = {"controls": {"channels": "1:1184"}}
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(ConfigError, match="as a list in knob order"), load_station(path):
        pass


def test_drone_chip_knobs_go_in_chunks_and_read_back() -> None:
    with load_station(ROOT / "station_configs" / "sim_drone_chip.yaml") as station:
        knobs, world = station.roles["knobs"], station.bench.world
        chip = world.layered_chip("chip")
        assert chip.sizes == (256, 128, 10) and knobs.count == chip.knob_count == 34186
        k = initial_knobs(chip, 2)
        logged = len(world.drives)
        knobs.write(k)  # output off: set at once, per group in messages of <= 4096
        assert len(world.drives) - logged == 9 + 1  # 34048 controls, 138 biases
        np.testing.assert_array_equal(knobs.setpoints(), k)
        knobs.output(True)
        np.testing.assert_array_equal(world.layered_pass("chip").knobs, k)
        station.safe_state()
        assert not world.layered_pass("chip").knobs.any()


def test_blocks_with_terminator_bytes_over_the_served_bench() -> None:
    from labrf.drivers.scpi import MultichannelCurrentSource
    from tests.helpers import labrf_command

    proc = subprocess.Popen(labrf_command("sim", "serve", str(DIGITS)),
                            stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        ends = {}
        for _ in range(3):  # "<name> <resource> termination <LF|CR>" per instrument
            name, resource, *_ = proc.stdout.readline().split()
            ends[name] = resource
        dac = MultichannelCurrentSource(ends["knobs"], visa_library="@py",
                                        read_termination="\n", write_termination="\n")
        tricky = np.frombuffer(b"\n\r\n;,#1\n", "<f8")[0]  # every byte a delimiter
        values = np.concatenate([[tricky, 1e-3, -2e-3], np.linspace(-5e-3, 5e-3, 9000)])
        dac.set_currents(values)  # three messages of at most 4096 channels
        np.testing.assert_array_equal(dac.currents(values.size), values)
        assert dac.ask("SYST:ERR?").startswith("0,")
        dac.adapter.connection.close()
    finally:
        proc.terminate()
        proc.wait(timeout=10)


# ---------------------------------------------------------------- chains and monitor


def test_chain_voltmeter_reads_every_chain_as_the_model_has_it(digits: Station) -> None:
    world = digits.bench.world
    chip = world.layered_chip("chip")
    k = initial_knobs(chip, 3)
    x = np.linspace(0.0, 0.3e-6, 64)
    digits.roles["knobs"].write(k)
    digits.roles["knobs"].output(True)
    digits.roles["tones"].set_tones(chip.input_frequencies, x)
    digits.roles["tones"].output(True)
    chains = digits.roles["chains"]
    assert chains.count == 26 and chains.state_summary().startswith("26 chains")
    acts = lp.forward(chip, k, x[None, :])
    truth = np.concatenate([a.voltages[0] for a in acts])
    t0 = digits.clock.now()
    np.testing.assert_allclose(chains.read(), truth, atol=5 * 50e-9)  # noise: 50 nV at 1 PLC
    assert digits.clock.now() - t0 == pytest.approx(1 / 50, abs=2e-3)  # one aperture for all
    chains.nplc(100)
    np.testing.assert_allclose(chains.read(), truth, atol=5 * 5e-9)
    with pytest.raises(Exception, match="nplc"):
        chains.nplc(200)
    digits.safe_state()


def test_voltmeter_scpi_lists_blocks_and_errors(tmp_path: Path) -> None:
    with load_station(DIGITS) as station:
        dvm = station.bench.find("TCPIP0::192.168.1.53::inst0::INSTR")
        write(dvm, "FORM ASC")
        assert len(ask(dvm, "MEAS:VOLT? (@1:3)").split(",")) == 3
        assert ask(dvm, "SYST:CHAN?") == "4096"
        write(dvm, "FORM REAL,64;:FORM:BORD SWAP")
        reply = ask(dvm, "MEAS:VOLT:DC? (@1:26)")
        assert reply.startswith("#3208")  # 26 float64
        write(dvm, "FORM ASC")
        write(dvm, "MEAS:VOLT?")  # a query without a channel list
        write(dvm, "MEAS:VOLT? (@0:2)")  # no channel 0
        write(dvm, "VOLT:NPLC 500")  # beyond 100 PLC
        write(dvm, "VOLT:APER 1")  # no such command
        assert [e[:4] for e in errors(dvm)] == ["-109", "-222", "-222", "-113"]


def test_monitor_tap_shows_the_hidden_neurons_only(digits: Station) -> None:
    world = digits.bench.world
    chip = world.layered_chip("chip")
    k = np.zeros(chip.knob_count)
    k[1184 + 3] = 5e-3  # hidden neuron 3 above threshold, nothing else
    k[1184 + 16 + 9] = 5e-3  # and output neuron 9 (near 500 MHz)
    digits.roles["knobs"].write(k)
    digits.roles["knobs"].output(True)
    monitor = digits.roles["monitor_analyzer"]
    monitor.start(80e6)
    monitor.stop(560e6)
    monitor.rbw(1e6)
    monitor.points(1001)
    trace = monitor.sweep()
    acts = lp.forward(chip, k, np.zeros((1, 64)))
    f_hidden = acts[0].frequencies[0, 3]
    f_output = acts[1].frequencies[0, 9]
    peak = trace.frequency[int(np.argmax(trace.power_watt))]
    assert abs(peak - f_hidden) < 1e6
    near_output = np.abs(np.asarray(trace.frequency) - f_output) < 2e6
    assert trace.power_watt[near_output].max() < 1e-2 * trace.power_watt.max()  # noise only
    # -20 dB of the neuron's power, read as channel power over the line
    line = np.abs(np.asarray(trace.frequency) - f_hidden) < 5e6
    spacing = float(np.diff(trace.frequency)[0])
    power = trace.power_watt[line].sum() * spacing / (np.pi * 1e6 / 2)
    assert power == pytest.approx(0.01 * acts[0].powers[0, 3], rel=0.15)
    digits.safe_state()
