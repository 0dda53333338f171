"""Calibration fits and the knob map, against the network model's own devices."""

import numpy as np
import pytest

from labrf.errors import LabrfError
from labrf.network import Knobs, nominal_network, varied_network
from labrf.network.params import CONTROL_LIMITS
from labrf.training.calibration import (
    CHAINS,
    KnobMap,
    NeuronCalibration,
    SynapseCalibration,
    calibrated_network,
    chain_model,
    fit_chain,
)

DESIGN = nominal_network()
CHIP = varied_network(DESIGN, np.random.default_rng(3), 0.02)
SETTINGS = np.array([(-4e-3, 4e-3), (0.0, 0.0), (4e-3, -4e-3)])
NOISE = 30e-9  # V, a 2182A at 1 PLC


def sweeps(chain: str, noise: float = NOISE, points: int = 121) -> tuple:
    k1, k2 = CHAINS[chain]
    lo, hi = (190e6, 310e6) if chain != "O" else (250e6, 360e6)
    f = np.tile(np.linspace(lo, hi, points), 3)
    c = np.repeat(SETTINGS, points, axis=0)
    v = chain_model((CHIP.synapses[k1], CHIP.synapses[k2]), f, c, 1e-6)
    return f, c, v + np.random.default_rng(0).normal(0.0, noise, f.size)


def fitted() -> SynapseCalibration:
    fits = {}
    for chain, (k1, k2) in CHAINS.items():
        fits[chain] = fit_chain(*sweeps(chain), 1e-6, (DESIGN.synapses[k1],
                                                       DESIGN.synapses[k2]))
    return SynapseCalibration.from_chains(fits)


def test_chain_fit_finds_each_synapse_of_a_varied_chip():
    cal = fitted()
    truth = np.array([p.resonance for p in CHIP.synapses])
    design = np.array([p.resonance for p in DESIGN.synapses])
    assert np.max(np.abs(design - truth)) > 5e6  # the chip is 2 % off the design
    np.testing.assert_allclose(cal.resonance, truth, atol=20e3)  # 20 kHz of 5 MHz lines
    assert np.all(np.abs(cal.resonance - truth) < 5 * cal.resonance_err + 1e3)
    np.testing.assert_allclose(cal.tuning, 7e9, rtol=2e-3)
    np.testing.assert_allclose(cal.antisymmetric, [p.antisymmetric for p in CHIP.synapses],
                               rtol=0.01)


def test_a_chain_without_signal_is_refused_not_fitted():
    f, c, _ = sweeps("A")
    noise = np.random.default_rng(1).normal(0.0, NOISE, f.size)
    with pytest.raises(LabrfError, match="does not resolve|did not converge"):
        fit_chain(f, c, noise, 1e-6, DESIGN.synapses[:2])
    with pytest.raises(LabrfError, match="N >= 12"):
        fit_chain(f[:5], c[:5], noise[:5], 1e-6, DESIGN.synapses[:2])


def test_knob_map_writes_the_model_resonance_onto_the_chip():
    cal = fitted()
    knob_map = KnobMap(DESIGN, cal)
    lo, hi = knob_map.bounds()
    rng = np.random.default_rng(5)
    model = Knobs(rng.uniform(lo[:6], hi[:6]), rng.uniform(4e-3, 6e-3, 3))
    chip = knob_map.to_chip(model)
    want = [p.resonance + p.current_tuning * c
            for p, c in zip(DESIGN.synapses, model.control_currents, strict=True)]
    got = [p.resonance + p.current_tuning * c
           for p, c in zip(CHIP.synapses, chip.control_currents, strict=True)]
    np.testing.assert_allclose(got, want, atol=30e3)
    np.testing.assert_array_equal(chip.bias_currents, model.bias_currents)
    # anywhere within the bounds, the chip's currents stay within its control limits,
    # exactly: a current source refuses 5.000000000000001 mA
    for x in (lo, hi):
        currents = knob_map.to_chip(Knobs.from_vector(x)).control_currents
        assert np.all(currents >= CONTROL_LIMITS[0]) and np.all(currents <= CONTROL_LIMITS[1])
    # past the bounds, the map does not hide the overshoot
    beyond = knob_map.to_chip(Knobs.from_vector(hi + 1e-4)).control_currents
    assert np.any(np.abs(beyond) > CONTROL_LIMITS[1])


def test_calibrations_round_trip_and_refuse_incomplete_data():
    cal = fitted()
    again = SynapseCalibration.from_dict(cal.as_dict())
    np.testing.assert_array_equal(again.resonance, cal.resonance)
    broken = cal.as_dict()
    del broken["O2"]
    with pytest.raises(LabrfError, match="O2"):
        SynapseCalibration.from_dict(broken)
    neurons = NeuronCalibration(np.array([4e-3, 3.9e-3, 4.1e-3]),
                                np.array([290e6, 300e6, 301e6]), np.full(3, 7e9))
    np.testing.assert_array_equal(NeuronCalibration.from_dict(neurons.as_dict()).frequency,
                                  neurons.frequency)
    with pytest.raises(LabrfError, match="3 finite values of threshold_current"):
        NeuronCalibration(np.array([4e-3, np.nan, 4e-3]), np.ones(3), np.ones(3))
    model = calibrated_network(DESIGN, cal, neurons)
    assert model.output_neuron.threshold_current == 4.1e-3
    assert model.synapses[0].resonance == cal.resonance[0]
