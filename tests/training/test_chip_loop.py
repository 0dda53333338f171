"""A 64-16-10 digits chip trained with the chip in the loop through its instruments: the
trace-read classes equal the chip's own, offline weights lose accuracy on it, and
physics-aware training from the output trace wins it back."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from labrf.network import layered_pass as lp
from labrf.network.design import calibrated, design_network, initial_knobs, transfer_knobs
from labrf.physics.oscillator import emitted_power
from labrf.station import Station, load_station
from labrf.training.chip_loop import at_measured_output, chip_judge, train_on_chip
from labrf.training.datasets import TwinData, load_task
from labrf.training.layered_bench import LayeredBench
from labrf.training.layered_calibration import ChipCalibrator
from labrf.training.twin import TwinResult, evaluate, train_twin

ROOT = Path(__file__).resolve().parents[2]
DIGITS = ROOT / "station_configs" / "sim_digits_chip.yaml"


@pytest.fixture(scope="module")
def twin() -> tuple[TwinData, float, TwinResult]:
    data = load_task("digits", seed=0)
    design = design_network((64, 16, 10))
    scale = data.power_scale(10e-6)
    return data, scale, train_twin(design, data, initial_knobs(design, 0), epochs=20,
                                   power_scale=scale)


@pytest.fixture
def station() -> Iterator[Station]:
    with load_station(DIGITS) as st:
        yield st


def test_measured_output_inverts_emitted_power_and_caps_silent_neurons() -> None:
    model = design_network((4, 3, 3))
    acts = lp.forward(model, initial_knobs(model, 0), np.full((2, 4), 2e-6))
    neurons = model.layers[-1].neurons.oscillators
    currents = np.array([[4.0e-3, 3.0e-3, 0.0], [5.0e-3, 0.0, 0.0]])
    powers = emitted_power(neurons, currents)
    out = at_measured_output(model, acts[-1], powers)
    emitting = powers > model.detection_power
    np.testing.assert_allclose(out.currents[emitting], currents[emitting], rtol=1e-9)
    onset = lp.onset_current(neurons, model.detection_power)
    assert np.all(out.currents[~emitting] <= np.broadcast_to(onset, powers.shape)[~emitting])
    np.testing.assert_array_equal(out.powers, powers)


def test_the_trace_gives_the_chips_own_classes(station: Station,
                                               twin: tuple[TwinData, float, TwinResult]
                                               ) -> None:
    """Each neuron's line is looked for where the lab's model of the chip (its
    calibration: resonances, thresholds, frequencies) puts it at the knobs and inputs."""
    data, scale, result = twin
    chip = station.bench.world.layered_chip("chip")
    model = calibrated(design_network((64, 16, 10)), chip)
    bench = LayeredBench.from_station(lambda n, _: station.roles[n], station.clock, model)
    bench.prepare()
    x = data.test_x[:120] * scale
    k = transfer_knobs(design_network((64, 16, 10)), chip, result.knobs)
    through_instruments = chip_judge(bench)(k, x)
    assert bench.passes == 120
    assert station.roles["spectrum_analyzer"].detector() == "RMS"  # a line's integral
    np.testing.assert_array_equal(through_instruments,
                                  lp.predict(chip, lp.forward(chip, k, x)))


def test_physics_aware_training_through_the_instruments_wins_back_the_accuracy(
        station: Station, twin: tuple[TwinData, float, TwinResult]) -> None:
    data, scale, result = twin
    design = design_network((64, 16, 10))
    ideal = result.history[-1].test_accuracy
    assert ideal >= 0.95
    chip = station.bench.world.layered_chip("chip")
    bare, _ = evaluate(chip, result.knobs, data.test_x, data.test_y, scale)
    assert bare < 0.5  # 2 % spread: weights written without a calibration are lost
    # The model a lab holds after calibrating every synapse and neuron through the
    # chip's instruments; the design's weights written through it
    bench = LayeredBench.from_station(lambda n, _: station.roles[n], station.clock, design)
    model = ChipCalibrator(bench, station.roles["chains"], station.roles["monitor_analyzer"],
                           design).run().model(design)
    written = transfer_knobs(design, model, result.knobs)
    offline, _ = evaluate(chip, written, data.test_x, data.test_y, scale)
    assert offline < ideal  # path imbalance and sensitivities: not all calibrated
    truth = transfer_knobs(design, calibrated(design, chip), result.knobs)
    assert offline >= evaluate(chip, truth, data.test_x, data.test_y, scale)[0] - 0.01
    bench = LayeredBench.from_station(lambda n, _: station.roles[n], station.clock, model)
    bench.prepare()
    tuned = train_on_chip(model, bench, data, written, epochs=2, lr=0.02,
                          power_scale=scale)
    assert tuned.history[-1].test_accuracy >= ideal - 0.01
    assert tuned.history[-1].test_accuracy > offline
    assert tuned.history[-1].passes == 2  # one pass per training example per epoch
    train, test = len(data.train_y), len(data.test_y)
    assert bench.passes == 2 * (train + train + test)  # training, then both evaluations
    station.safe_state()
    assert station.energized() == []


def test_an_unknown_estimator_is_refused(station: Station) -> None:
    model = design_network((64, 16, 10))
    bench = LayeredBench.from_station(lambda n, _: station.roles[n], station.clock, model)
    data = load_task("digits", seed=0)
    with pytest.raises(ValueError, match="physics-aware, spsa"):
        train_on_chip(model, bench, data, initial_knobs(model, 0), estimator="guess",
                      power_scale=1e-7)


def _bench_without_instruments(model) -> LayeredBench:
    return LayeredBench(None, None, None, None, model)  # band_powers needs none


def _trace(bench: LayeredBench, lines: np.ndarray, powers: np.ndarray
           ) -> tuple[np.ndarray, np.ndarray]:
    """A trace of lines (Hz, W at the chip) as the RMS detector reads them, 2 points/RBW."""
    from labrf.physics.oscillator import line_in_rbw

    f = np.arange(bench.span[0], bench.span[1], bench.rbw / 2)
    return f, line_in_rbw(f, powers * bench.output_gain, lines, 300e3, bench.rbw)


def test_the_readout_finds_lines_where_the_model_is_off_and_shares_a_merged_one() -> None:
    model = design_network((4, 3, 3))
    bench = _bench_without_instruments(model)
    neurons = model.layers[-1].neurons
    lines = neurons.frequency * 1.01
    powers = np.array([20e-9, 5e-9, 12e-9])
    f, w = _trace(bench, lines, powers)
    # every line 1 % (several MHz) from where the model expects it: each still its own
    read = bench.band_powers(f, w, neurons.frequency, powers)
    np.testing.assert_allclose(read, powers, rtol=0.03)
    # neurons 0 and 1 on one frequency: one line of the trace, shared as expected
    lines[1] = lines[0] + 0.2 * bench.rbw
    f, w = _trace(bench, lines, powers)
    read = bench.band_powers(f, w, lines, np.array([3.0, 1.0, 1.0]) * 1e-9)
    assert read[0] + read[1] == pytest.approx(powers[0] + powers[1], rel=0.03)
    assert read[0] == pytest.approx(3 * read[1], rel=1e-9)
    assert read[2] == pytest.approx(powers[2], rel=0.03)
    # nothing on the trace: every neuron silent
    assert np.all(bench.band_powers(f, np.zeros_like(w), lines, powers) == 0)
