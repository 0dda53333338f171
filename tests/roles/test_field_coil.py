"""FieldCoil: ramps at the field rate from a fresh readback, the field limit, the
gaussmeter as the truth, and a safe state at zero."""

from __future__ import annotations

import pytest

from labrf.errors import LimitError
from tests.helpers import write


def coil_targets(station, start: int) -> list[float]:
    return [d.level for d in list(station.bench.world.drives)[start:] if d.kind == "coil"]


def test_a_200_mT_change_at_10_mT_per_s_takes_at_least_20_s(station) -> None:
    mag = station.roles["magnet"]
    mag.output(True)
    mag.field(-0.1)
    station.clock.sleep(2.0)  # let the magnet settle (L/R = 200 ms)
    start, t0 = len(station.bench.world.drives), station.clock.now()
    mag.field(0.1)
    assert station.clock.now() - t0 >= 20.0
    targets = coil_targets(station, start)
    steps = [abs(b - a) for a, b in zip(targets, targets[1:], strict=False)]
    assert max(steps) <= 0.01 * 0.1 / 0.025 * (1 + 1e-6)  # 10 mT/s x 0.1 s in A
    station.clock.sleep(2.0)
    assert mag.field_measured() == pytest.approx(0.1, abs=1e-3)  # the gaussmeter agrees


def test_next_ramp_starts_from_the_supply_not_from_a_cached_value(station) -> None:
    mag = station.roles["magnet"]
    mag.output(True)
    mag.field(0.02)
    write(station.bench.emulators["magnet"], "CURR 2.0")  # 50 mT, behind labrf's back
    station.clock.sleep(2.0)
    assert mag.field() == pytest.approx(0.05, abs=1e-3)  # read back, not remembered
    start = len(station.bench.world.drives)
    mag.field(0.04)
    targets = coil_targets(station, start)
    assert targets[0] == pytest.approx(2.0 - 0.04)  # one 1 mT step down from 50 mT
    assert targets[-1] == pytest.approx(0.04 / 0.025)


def test_field_and_rate_limits(station) -> None:
    mag = station.roles["magnet"]
    with pytest.raises(LimitError, match=r"field: 250 mT is outside -200 mT to 200 mT"):
        mag.field(0.25)
    with pytest.raises(LimitError, match="field_ramp_rate"):
        mag.ramp_rate(0.02)
    mag.ramp_rate(0.005)
    mag.output(True)
    t0 = station.clock.now()
    mag.field(0.01)
    assert station.clock.now() - t0 >= 2.0


def test_calibration_maps_field_to_current(station) -> None:
    mag = station.roles["magnet"]
    mag.set_calibration("20 mT/A", "1 mT")
    assert mag.current_for(0.021) == pytest.approx(1.0)
    assert mag.snapshot()["calibration"]["field_per_current_T_per_A"] == pytest.approx(0.02)


def test_safe_state_ramps_the_field_to_zero_and_switches_off(station) -> None:
    mag = station.roles["magnet"]
    mag.output(True)
    mag.field(0.05)
    t0 = station.clock.now()
    station.safe_state()
    assert station.clock.now() - t0 >= 5.0 - 1e-9
    assert mag.output() is False
    station.clock.sleep(2.0)
    assert abs(mag.field_measured()) < 1e-3  # remanence only


def test_a_wrong_calibration_is_stopped_by_the_gaussmeter(station) -> None:
    """Told 10 mT/A where the magnet gives 25 mT/A, a 100 mT request would drive 250 mT:
    the gaussmeter stops the ramp just past the 200 mT limit, and the safe state works."""
    mag = station.roles["magnet"]
    mag.set_calibration("10 mT/A")
    mag.output(True)
    with pytest.raises(LimitError, match="calibration .* must be wrong"):
        mag.field(0.1)
    station.clock.sleep(1.0)
    # past the limit by at most one step (2.5 mT at the true 25 mT/A) and the L/R lag
    # (200 ms x 25 mT/s)
    assert mag.field_measured() < 0.2 + 0.0025 + 0.005 + 1e-3
    station.safe_state()
    station.clock.sleep(2.0)
    assert abs(mag.field_measured()) < 1e-3
