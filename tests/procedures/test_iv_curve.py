"""The I-V check: the junction's resistance against the simulator's truth, a shorted and an
open device named as such, the limits refused before anything is driven, and the
resistance loop's reset_field leaving the free layer parallel."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from labrf.errors import LimitError
from labrf.procedures.iv_curve import IVCurve, classify_contact
from labrf.procedures.resistance import ResistanceLoop
from labrf.station import LabStation, load_station
from tests.procedures.inline import run_inline

SIM_CHIP = Path(__file__).resolve().parents[2] / "station_configs" / "sim_chip.yaml"


@pytest.fixture(scope="module")
def chip() -> Iterator[LabStation]:
    with load_station(SIM_CHIP) as station:
        yield station


def _iv(chip: LabStation, channels: str) -> dict:
    chip.roles["switch"].route(channels)
    run = run_inline(chip, IVCurve, {"points": 7})
    return run.procedure.analyse(run.data)


def test_a_sound_junction_reads_its_parallel_resistance(chip: LabStation) -> None:
    fit = _iv(chip, "1101,1201")
    assert chip.bench is not None
    truth = chip.bench.describe()["devices"]["chip.J11"]["derived"]["resistance_parallel"]
    assert fit["resistance"] == pytest.approx(truth, rel=0.002)
    assert fit["contact"] == "ok" and "fault" not in fit and not fit["at_compliance"]
    assert abs(fit["offset"]) < 1e-5


def test_a_shorted_and_an_open_device_are_named(chip: LabStation) -> None:
    shorted = _iv(chip, "1107,1207")  # J23
    assert shorted["contact"] == "shorted" and shorted["fault"].startswith("shorted: 5 ohm")
    opened = _iv(chip, "1113,1213")  # J41
    assert opened["contact"] == "open" and opened["at_compliance"]
    assert opened["fault"] == "open: the source sat at its compliance"


def test_the_contact_classes() -> None:
    assert classify_contact(100.0, False, 10.0, 1e5) == "ok"
    assert classify_contact(2.0, False, 10.0, 1e5) == "shorted"
    assert classify_contact(-2.0, False, 10.0, 1e5) == "shorted"
    assert classify_contact(100.0, True, 10.0, 1e5) == "open"
    assert classify_contact(2e5, False, 10.0, 1e5) == "open"
    assert classify_contact(float("nan"), False, 10.0, 1e5) == "open"


def test_a_current_beyond_the_junction_limit_is_refused_before_driving(chip: LabStation
                                                                       ) -> None:
    chip.roles["switch"].route("1101,1201")
    with pytest.raises(LimitError):
        run_inline(chip, IVCurve, {"max_current": 10e-3})
    assert not chip.roles["current_source"].output()


def test_reset_field_leaves_the_free_layer_parallel(chip: LabStation) -> None:
    chip.roles["switch"].route("1101,1201")
    run_inline(chip, ResistanceLoop, {"points": 11, "settle_time": 0.3})
    left = _iv(chip, "1101,1201")["resistance"]
    run_inline(chip, ResistanceLoop, {"points": 11, "settle_time": 0.3,
                                      "reset_field": 0.05})
    reset = _iv(chip, "1101,1201")["resistance"]
    assert chip.bench is not None
    r_p = chip.bench.describe()["devices"]["chip.J11"]["derived"]["resistance_parallel"]
    assert left == pytest.approx(1.5 * r_p, rel=0.01)  # antiparallel after the loop
    assert reset == pytest.approx(r_p, rel=0.01)
