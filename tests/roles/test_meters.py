"""Voltmeter, SpectrumAnalyzer and Gaussmeter: passive roles with units and validators."""

from __future__ import annotations

import numpy as np
import pytest

from labrf.errors import LimitError


def test_voltmeter_reads_i_r_and_integrates_for_nplc(station) -> None:
    meter, cs = station.roles["nanovoltmeter"], station.roles["current_source"]
    cs.output(True)
    cs.current(1e-3)
    meter.nplc(5)
    t0 = station.clock.now()
    volts = meter.voltage()
    assert station.clock.now() - t0 >= 5 / 50
    resistance = station.bench.describe()["devices"]["mtj"]["junction"]["resistance"]
    assert volts == pytest.approx(1e-3 * resistance, rel=1e-3)
    with pytest.raises(LimitError, match="at 50 Hz line frequency"):
        meter.nplc(60)
    meter.range(0.1)
    assert meter.range() == pytest.approx(0.1)
    assert meter.auto_range() is False


def test_spectrum_analyzer_sees_the_oscillator_above_threshold(station) -> None:
    sa, cs = station.roles["spectrum_analyzer"], station.roles["current_source"]
    sa.center(300e6)
    sa.span(100e6)
    sa.rbw(1e6)
    sa.points(1001)
    assert (sa.start(), sa.stop()) == pytest.approx((250e6, 350e6))
    quiet = sa.sweep()
    assert quiet.frequency.shape == quiet.power.shape == (1001,)
    cs.output(True)
    cs.current(5.5e-3)
    f_peak, p_peak = sa.peak()
    truth = station.bench.describe()["devices"]["mtj"]["oscillator"]
    expected = truth["frequency"] + truth["current_tuning"] * (5.5e-3 - truth[
        "threshold_current"])
    assert f_peak == pytest.approx(expected, abs=1.5e6)
    assert p_peak > np.median(quiet.power) + 20
    with pytest.raises(LimitError, match="Hz"):
        sa.rbw(0)


def test_gaussmeter_reads_tesla(station) -> None:
    mag, gauss = station.roles["magnet"], station.roles["gaussmeter"]
    mag.output(True)
    mag.field(0.02)
    station.clock.sleep(1.0)
    assert gauss.field() == pytest.approx(0.02, abs=5e-4)
    gauss.range(0.35)
    assert gauss.range() == pytest.approx(0.35)
