"""Anritsu MG3692C: PyMeasure's driver, command strings pinned to the manual, then against
the emulator."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pymeasure.test import expected_protocol

from labrf.drivers.anritsu import AnritsuMG3692C
from labrf.sim.bench import Bench
from tests.helpers import make_bench

# SCPIUnknownMixin asks, on every instantiation, whether the MG3692C speaks SCPI (it does).
pytestmark = pytest.mark.filterwarnings("ignore:It is not known whether this device:FutureWarning")


def test_is_pymeasures_driver_unchanged() -> None:
    from pymeasure.instruments.anritsu import anritsuMG3692C

    assert AnritsuMG3692C is anritsuMG3692C.AnritsuMG3692C


def test_frequency() -> None:
    with expected_protocol(AnritsuMG3692C, [(":FREQUENCY 2.500000e+08 Hz;", None),
                                            (":FREQUENCY?;", "250000000")]) as rf:
        rf.frequency = 250e6
        assert rf.frequency == 250e6


def test_frequency_is_sent_with_seven_significant_digits() -> None:
    """``%e``: 2.5000123 GHz goes out as 2.500012 GHz (100 Hz lost); a role that needs
    finer steps than 1e-7 of the frequency cannot get them from this driver."""
    with expected_protocol(AnritsuMG3692C, [(":FREQUENCY 2.500012e+09 Hz;", None)]) as rf:
        rf.frequency = 2.5000123e9


def test_power() -> None:
    with expected_protocol(AnritsuMG3692C, [(":POWER -10.5 dBm;", None),
                                            (":POWER?;", "-10.5")]) as rf:
        rf.power = -10.5
        assert rf.power == -10.5


def test_output() -> None:
    with expected_protocol(AnritsuMG3692C, [(":OUTPUT ON;", None), (":OUTPUT?", "1"),
                                            (":OUTPUT OFF;", None), (":OUTPUT?", "0"),
                                            (":OUTPUT ON;", None), (":OUTPUT OFF;", None)]
                           ) as rf:
        rf.output = True
        assert rf.output is True
        rf.output = False
        assert rf.output is False
        rf.enable()
        rf.disable()


def test_no_range_check_in_the_driver() -> None:
    """The driver validates nothing: a level beyond the instrument goes out as is."""
    with expected_protocol(AnritsuMG3692C, [(":POWER 40 dBm;", None)]) as rf:
        rf.power = 40


# ------------------------------------------------------------------ emulator


@pytest.fixture
def bench() -> Iterator[Bench]:
    bench = make_bench({"rf": {"model": "mg3692c", "address": "GPIB0::5::INSTR",
                               "output": "mtj"}})
    yield bench
    bench.close()


def test_out_of_range_settings_are_refused_by_the_instrument(bench: Bench) -> None:
    rf = AnritsuMG3692C(bench.address("rf"), visa_library=bench.visa_library)
    try:
        rf.frequency, rf.power = 2.5000123e9, -20
        rf.output = True
        assert rf.frequency == 2.500012e9  # the seven digits of %e
        rf.power = 40  # above +30 dBm: -222, the level stays
        rf.frequency = 25e9  # above 20 GHz: -222, the frequency stays
        assert [code for code, _ in rf.check_errors()] == [-222, -222]
        assert (rf.frequency, rf.power) == (2.500012e9, -20)
        out = bench.world.rf_output("rf")
        assert (out.frequency, out.power) == (2.500012e9, pytest.approx(1e-5))  # W
        rf.output = False
        assert bench.world.rf_output("rf").power == 0.0
    finally:
        rf.adapter.close()
