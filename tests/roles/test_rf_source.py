"""RFSource: the same face on an SMB100A and an MG3692C, and the RF power limit."""

from __future__ import annotations

import numpy as np
import pytest

from labrf.analysis.lineshape import fit_spin_diode
from labrf.errors import LimitError
from labrf.roles import RFSource, Voltmeter
from labrf.station import LabStation
from labrf.units import dbm_to_watt
from tests.helpers import ask, write


def use_anritsu(data: dict) -> None:
    """The sim_bench with an Anritsu MG3692C as its RF source (same address)."""
    data["instruments"]["rf_source"]["init"]["driver"] = "labrf.drivers.anritsu.AnritsuMG3692C"
    data["labrf"]["simulation"]["instruments"]["rf_source"]["model"] = "mg3692c"


def spin_diode_sweep(rf: RFSource, meter: Voltmeter, freqs: np.ndarray) -> np.ndarray:
    """A sweep written against roles only."""
    meter.nplc(1)
    rf.power_at_device(-20)
    rf.output(True)
    volts = np.empty(len(freqs))
    for i, f in enumerate(freqs):
        rf.frequency(float(f))
        volts[i] = meter.voltage()
    rf.output(False)
    return volts


def fitted_resonance(st: LabStation) -> float:
    f_r = st.bench.describe()["devices"]["mtj"]["derived"]["resonance_at_zero_bias"]
    freqs = np.linspace(f_r - 40e6, f_r + 40e6, 81)
    volts = spin_diode_sweep(st.roles["rf_source"], st.roles["nanovoltmeter"], freqs)
    return fit_spin_diode(freqs, volts).resonance


def test_same_sweep_same_resonance_on_either_source_model(make_station) -> None:
    with make_station(name="smb.yaml") as smb:
        assert smb.roles["rf_source"].binding.model == "Rohde & Schwarz SMB100A"
        truth = smb.bench.describe()["devices"]["mtj"]["derived"]["resonance_at_zero_bias"]
        f_smb = fitted_resonance(smb)
    with make_station(use_anritsu, name="anritsu.yaml") as anritsu:
        assert anritsu.roles["rf_source"].binding.model == "Anritsu MG3692C"
        f_anritsu = fitted_resonance(anritsu)
    assert f_smb == pytest.approx(truth, abs=0.3e6)
    assert f_anritsu == pytest.approx(f_smb, abs=0.3e6)


@pytest.mark.parametrize("edit", [None, use_anritsu], ids=["smb100a", "mg3692c"])
def test_power_above_the_device_limit_never_reaches_the_source(make_station, edit) -> None:
    st = make_station(edit)
    rf = st.roles["rf_source"]
    rf.power(-20)
    before = len(st.bench.world.drives)
    with pytest.raises(LimitError, match=r"rf_source.power: -9 dBm is outside .* to -10 dBm"):
        rf.power(-9)
    with pytest.raises(LimitError, match="power"):
        rf.power_at_device(0)
    assert rf.power() == pytest.approx(-20)
    assert len(st.bench.world.drives) == before


def test_attenuation_moves_the_output_limit(make_station) -> None:
    def lossy(data: dict) -> None:
        data["instruments"]["rf_source"]["init"]["attenuation"] = "6 dB"

    rf = make_station(lossy).roles["rf_source"]
    rf.power(-4.5)
    assert rf.power_at_device() == pytest.approx(-10.5)
    with pytest.raises(LimitError, match="6 dB of path loss"):
        rf.power(-3.9)


def test_smb100a_hardware_limit_holds_against_direct_commands(station) -> None:
    emulator = station.bench.emulators["rf_source"]
    assert float(ask(emulator, "SOUR:POW:LIM?")) == pytest.approx(-10)
    write(emulator, "SOUR:POW 10")  # a script behind labrf's back
    assert float(ask(emulator, "SOUR:POW?")) <= -10
    assert ask(emulator, "SYST:ERR?").startswith("-221")


def test_level_above_the_limit_found_at_connection_is_lowered(make_station) -> None:
    def hot(data: dict) -> None:
        data["labrf"]["limits"]["rf_power_at_device"] = "-30 dBm"

    st = make_station(hot)
    assert st.roles["rf_source"].power() == pytest.approx(-30)


def test_safe_state_turns_rf_off(station) -> None:
    rf = station.roles["rf_source"]
    rf.power(-15)
    rf.output(True)
    world = station.bench.world
    assert world.rf_output("rf_source").power == pytest.approx(dbm_to_watt(-15))
    station.safe_state()
    assert rf.output() is False
    assert world.rf_output("rf_source").power == 0


def test_snapshot_records_model_idn_and_settings(station) -> None:
    rf = station.roles["rf_source"]
    rf.frequency(251e6)
    snap = rf.snapshot(update=True)
    assert snap["model"] == "Rohde & Schwarz SMB100A"
    assert snap["idn_reply"].startswith("Rohde&Schwarz,SMB100A,")
    assert snap["parameters"]["IDN"]["value"]["model"] == "SMB100A"
    assert snap["parameters"]["frequency"]["value"] == pytest.approx(251e6)
    assert snap["parameters"]["frequency"]["unit"] == "Hz"
    assert snap["parameters"]["power"]["unit"] == "dBm"
    assert snap["limits"]["rf_power_at_device"] == "-10 dBm"
    assert snap["driver"] == "labrf.drivers.rohdeschwarz.SMB100A"
    station_snap = station.snapshot()
    assert set(station_snap["instruments"]) == set(station.roles)
