"""The general network model: validation, the nine-junction instance, gradients against
central differences, the interpolated chain response against the exact sum, memory."""

import numpy as np
import pytest

from labrf.errors import NetworkError
from labrf.network import Knobs, forward, imbalanced_paths, nominal_network, varied_network
from labrf.network import layered_pass as lp
from labrf.network.design import (
    check_sizes,
    design_network,
    from_nine_junction,
    initial_knobs,
    perturbed,
)
from labrf.network.lines import ExactResponse, GridResponse


def _nine():
    rng = np.random.default_rng(3)
    net = imbalanced_paths(varied_network(nominal_network(), rng, 0.03),
                           np.random.default_rng(4), 0.5)
    return net, from_nine_junction(net)


def _knobs9(rng):
    return np.concatenate([rng.uniform(-3e-3, 3e-3, 6), rng.uniform(3e-3, 5.5e-3, 3)])


def test_nine_junction_instance_matches_the_two_layer_forward_pass():
    net, layered = _nine()
    rng = np.random.default_rng(1)
    x = rng.uniform(0, 3e-6, (64, 2))
    k = _knobs9(rng)
    old = forward(net, Knobs.from_vector(k), x)
    new = lp.forward(layered, k, x)
    np.testing.assert_allclose(np.concatenate([a.voltages for a in new], 1),
                               old.chain_voltages, rtol=1e-12, atol=1e-18)
    np.testing.assert_allclose(np.concatenate([a.powers for a in new], 1),
                               old.emitted_powers, rtol=1e-12, atol=1e-21)
    assert layered.knob_labels()[:2] == ["control_A1", "control_A2"]
    assert layered.knob_labels()[-1] == "bias_NO"
    assert np.array_equal(lp.predict(layered, new), old.output_power > net.detection_power)


def _central(network, k, x, y, h):
    out = np.empty_like(k)
    for i in range(k.size):
        e = np.zeros_like(k)
        e[i] = h
        out[i] = (lp.loss_and_gradient(network, k + e, x, y)[0]
                  - lp.loss_and_gradient(network, k - e, x, y)[0]) / (2 * h)
    return out


def test_nine_junction_gradient_matches_central_differences():
    _, layered = _nine()
    rng = np.random.default_rng(2)
    k = _knobs9(rng)
    x, y = rng.uniform(0, 3e-6, (40, 2)), rng.integers(0, 2, 40)
    _, g = lp.loss_and_gradient(layered, k, x, y)
    num = _central(layered, k, x, y, 1e-7)
    assert np.max(np.abs(g - num)) < 1e-5 * np.max(np.abs(num))


@pytest.mark.parametrize("exact_limit", [10**9, 10])
def test_multiclass_gradient_matches_central_differences(monkeypatch, exact_limit):
    """Three layers, ten classes, spread and imbalance; exact and gridded responses."""
    monkeypatch.setattr(lp, "EXACT_LIMIT", exact_limit)
    net = design_network((12, 9, 6, 4), spread=0.03, path_imbalance_db=0.5, seed=2)
    rng = np.random.default_rng(5)
    k = initial_knobs(net, 1)
    x, y = rng.uniform(0, 1.5e-6, (30, 12)), rng.integers(0, 4, 30)
    _, g = lp.loss_and_gradient(net, k, x, y)
    num = _central(net, k, x, y, 2e-8)
    assert g.shape == (net.knob_count,)
    assert np.max(np.abs(g - num)) < 2e-4 * np.max(np.abs(num))


def test_grid_response_is_the_exact_sum_within_1e_5():
    net = design_network((40, 30, 10), spread=0.02, seed=1)
    lines = lp.tuned_lines(net, 1, np.random.default_rng(0).uniform(-2e-3, 2e-3, (10, 30)))
    lo, hi = lp.frequency_span(net, 1)
    f = np.random.default_rng(1).uniform(lo, hi, (20, 30))
    h_exact, hf_exact = ExactResponse(lines).at(f)
    h_grid, hf_grid = GridResponse(lines, lo - 20e6, hi + 20e6).at(f)
    peak = np.max(np.abs(h_exact))
    assert np.max(np.abs(h_grid - h_exact)) < 1e-5 * peak
    assert np.max(np.abs(hf_grid - hf_exact)) < 1e-3 * np.max(np.abs(hf_exact))


def test_forward_is_blocked_over_examples_without_changing_results(monkeypatch):
    net = design_network((20, 8, 3), seed=4)
    k = initial_knobs(net, 0)
    x = np.random.default_rng(0).uniform(0, 1e-6, (50, 20))
    whole = lp.forward(net, k, x)
    monkeypatch.setattr(lp, "BLOCK", 7)
    blocked = lp.forward(net, k, x)
    np.testing.assert_allclose(blocked[-1].currents, whole[-1].currents, rtol=1e-13)


def test_spread_and_imbalance_come_from_the_seed():
    base = design_network((16, 8, 3))
    a, b = perturbed(base, 0.05, 0.5, seed=7), perturbed(base, 0.05, 0.5, seed=7)
    c = perturbed(base, 0.05, 0.5, seed=8)
    res = [n.layers[0].synapses.resonance for n in (base, a, b, c)]
    assert np.array_equal(res[1], res[2]) and not np.array_equal(res[1], res[3])
    rel = res[1] / res[0] - 1
    assert 0.03 < np.std(rel) < 0.07
    db = 10 * np.log10(a.layers[0].coupling / base.layers[0].coupling)
    assert 0.3 < np.std(db) < 0.7
    assert perturbed(base, 0.0, 0.0) is base


@pytest.mark.parametrize("sizes, key", [((64, 0, 10), "sizes[1] = 0"), ((0, 4), "sizes[0]"),
                                        ((10,), "at least one layer")])
def test_bad_layer_sizes_name_the_layer(sizes, key):
    with pytest.raises(NetworkError, match=key.replace("[", r"\[").replace("]", r"\]")):
        check_sizes(sizes)


def test_wrong_input_width_names_the_network():
    net = design_network((64, 16, 10))
    with pytest.raises(NetworkError, match=r"\(examples, 64\).*64-16-10.*\(5, 256\)"):
        lp.forward(net, initial_knobs(net), np.zeros((5, 256)))


def test_bad_knob_vector_and_labels_are_refused():
    net = design_network((8, 4, 3))
    with pytest.raises(NetworkError, match=f"{net.knob_count} knobs"):
        net.split(np.zeros(5))
    with pytest.raises(NetworkError, match="classes 0..2"):
        lp.loss_and_gradient(net, initial_knobs(net), np.zeros((2, 8)), [0, 3])


def test_inconsistent_layer_is_refused_naming_it():
    net = design_network((8, 4, 3))
    with pytest.raises(NetworkError, match=r"layers\[1\]\.coupling must have shape \(3, 4\)"):
        net.with_layer(1, coupling=np.ones((3, 5)))
    with pytest.raises(NetworkError, match=r"layers\[0\]\.saturation_power must be finite"):
        net.with_layer(0, saturation_power=np.full(4, np.nan))


def test_memory_of_a_pass_grows_linearly_with_junctions():
    """Peak memory of a forward and backward pass, traced, at two widths of the hidden
    layer: per junction it stays within 1.5 x (blocked evaluation, no junction x tone x
    example arrays)."""
    import tracemalloc

    def peak(hidden):
        net = design_network((64, hidden, 10), seed=0)
        k = initial_knobs(net, 0)
        x = np.random.default_rng(0).uniform(0, 3e-7, (256, 64))
        y = np.random.default_rng(1).integers(0, 10, 256)
        tracemalloc.start()
        lp.loss_and_gradient(net, k, x, y)
        _, top = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        return top / net.junction_count

    small, large = peak(32), peak(128)
    assert large < 1.5 * small


def test_a_plan_lent_by_the_previous_one_is_the_plan_made_afresh() -> None:
    net = design_network((5, 4, 3), spread=0.02, seed=1)
    k = initial_knobs(net, 0)
    first = lp.Plan(net, k)
    moved = k.copy()
    moved[net.layers[0].shape[0] * net.layers[0].shape[1] + 2] += 1e-3  # a layer-1 control
    lent = lp.Plan(net, moved, first)
    assert lent.responses[0] is first.responses[0]  # layer 0 kept
    assert lent.responses[1] is not first.responses[1]
    x = np.random.default_rng(2).uniform(0, 1e-6, (7, 5))
    for a, b in zip(lp.forward(net, moved, x, lent), lp.forward(net, moved, x), strict=True):
        np.testing.assert_array_equal(a.powers, b.powers)
    k[0] = 0.0  # the caller's array changes: the plan holds its own copy
    assert lp.Plan(net, k, first).responses[0] is not first.responses[0]


def test_a_probe_tone_needs_a_layer_before_the_last_and_the_exact_response():
    one = design_network((4, 3))
    with pytest.raises(NetworkError, match="probe tone needs two layers"):
        lp.forward(one, initial_knobs(one), np.zeros((1, 4)), probe=(300e6, 1e-6))
    big = design_network((8, 64, 80))  # 80 x 64 x 64 tones: the interpolated grid
    with pytest.raises(NetworkError, match="exact chain response"):
        lp.forward(big, initial_knobs(big), np.zeros((1, 8)), probe=(300e6, 1e-6))
