"""Lake Shore 425: PyMeasure's driver, command strings pinned to the manual, then against
the emulator with its probe at a coil that the Kepco supply drives."""

from __future__ import annotations

import pytest
from pymeasure.test import expected_protocol

from labrf.drivers.kepco import KepcoBOP3612
from labrf.drivers.lakeshore import LakeShore425
from tests.helpers import make_bench


def test_is_pymeasures_driver_unchanged() -> None:
    from pymeasure.instruments.lakeshore import lakeshore425

    assert LakeShore425 is lakeshore425.LakeShore425


def test_field() -> None:
    with expected_protocol(LakeShore425, [("RDGFIELD?", "+56.000E-03")]) as gm:
        assert gm.field == 56e-3


@pytest.mark.parametrize("unit, code", [("G", 1), ("T", 2), ("Oe", 3), ("A/m", 4)])
def test_unit(unit: str, code: int) -> None:
    with expected_protocol(LakeShore425, [(f"UNIT {code}", None), ("UNIT?", str(code))]) as gm:
        gm.unit = unit
        assert gm.unit == unit


@pytest.mark.parametrize("gauss, code", [(35, 1), (350, 2), (3500, 3), (35000, 4)])
def test_range(gauss: int, code: int) -> None:
    with expected_protocol(LakeShore425, [(f"RANGE {code}", None),
                                          ("RANGE?", str(code))]) as gm:
        gm.range = gauss
        assert gm.range == gauss


def test_range_between_settings_goes_up_to_the_next_one() -> None:
    """truncated_discrete_set: 100 G is on no range; the 350 G range (2) is chosen."""
    with expected_protocol(LakeShore425, [("RANGE 2", None), ("RANGE 4", None)]) as gm:
        gm.range = 100
        gm.range = 1e6


def test_field_follows_the_coil_the_kepco_drives() -> None:
    bench = make_bench({
        "psu": {"model": "kepco_bop", "address": "GPIB0::6::INSTR", "output": "magnet"},
        "gm": {"model": "lakeshore425", "address": "GPIB0::9::INSTR", "probe": "magnet"},
    }, devices={"magnet": {"kind": "coil"}}, noise=False)
    bop = KepcoBOP3612(bench.address("psu"), visa_library=bench.visa_library)
    gm = LakeShore425(bench.address("gm"), visa_library=bench.visa_library)
    try:
        gm.unit = "T"
        gm.range = 3500  # G: 0.35 T full scale
        assert (gm.unit, gm.range) == ("T", 3500)
        bop.operating_mode = "CURR"
        bop.voltage_setpoint = 5
        bop.current_setpoint = 2.0
        bop.output_enabled = True
        bench.clock.sleep(2.0)  # ten time constants of the coil
        truth = bench.world.field_at_probe("gm", bench.clock.now())
        assert truth == pytest.approx(2.0 * 25e-3, rel=0.01)  # 25 mT/A, plus remanence
        assert gm.field == pytest.approx(truth, abs=0.35 / 35000)  # one count of the range
        gm.unit = "G"
        assert gm.field == pytest.approx(truth * 1e4, abs=3500 / 35000)
        bop.output_enabled = False
    finally:
        bop.adapter.close()
        gm.adapter.close()
        bench.close()
