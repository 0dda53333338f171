"""The characterization bench of sim_bench.yaml, through real drivers: coupled physics,
the virtual clock, reproducibility, and faults as PyVISA reports them."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from pymeasure.instruments.keithley import Keithley2182, Keithley6221
from pymeasure.instruments.kepco import KepcoBOP3612
from pymeasure.instruments.lakeshore import LakeShore425
from pymeasure.instruments.rohdeschwarz.fsseries import FSL
from pyvisa import constants, errors

from labrf.analysis.lineshape import fit_spin_diode
from labrf.drivers.rohdeschwarz import SMB100A
from labrf.sim.bench import Bench
from labrf.sim.faults import FaultRule

STATION = Path(__file__).resolve().parents[2] / "station_configs" / "sim_bench.yaml"


class Rig:
    """The sim_bench instruments opened through their drivers."""

    def __init__(self, bench: Bench) -> None:
        lib = bench.visa_library
        self.bench = bench
        self.source = SMB100A(bench.address("rf_source"), visa_library=lib)
        self.meter = Keithley2182(bench.address("nanovoltmeter"), visa_library=lib)
        self.bias = Keithley6221(bench.address("current_source"), visa_library=lib)
        self.supply = KepcoBOP3612(bench.address("magnet"), visa_library=lib)
        self.gauss = LakeShore425(bench.address("gaussmeter"), visa_library=lib)
        self.analyzer = FSL(bench.address("spectrum_analyzer"), visa_library=lib)
        self.meter.ch_1.setup_voltage(auto_range=True, nplc=1)

    def sweep(self, freqs: np.ndarray, power_dbm: float = -20.0) -> np.ndarray:
        self.source.power = power_dbm
        self.source.output_enabled = True
        volts = np.empty(len(freqs))
        for i, f in enumerate(freqs):
            self.source.frequency = float(f)
            volts[i] = self.meter.voltage
        self.source.output_enabled = False
        return volts


@pytest.fixture
def rig() -> Rig:
    bench = Bench.from_station_file(STATION)
    yield Rig(bench)
    bench.close()


def truth(bench: Bench) -> dict:
    return bench.describe()["devices"]["mtj"]


def test_sweep_across_resonance_fits_the_true_resonance(rig):
    t = truth(rig.bench)
    f_r, width = t["derived"]["resonance_at_zero_bias"], t["derived"]["half_width_at_zero_bias"]
    freqs = np.linspace(f_r - 8 * width, f_r + 8 * width, 121)
    fit = fit_spin_diode(freqs, rig.sweep(freqs))
    assert abs(fit.resonance - f_r) < 0.5e6
    assert fit.half_width == pytest.approx(width, rel=0.1)


def test_coil_current_moves_the_resonance_by_the_configured_tuning(rig):
    t = truth(rig.bench)
    tuning = t["spin_diode"]["field_tuning"]
    freqs = np.linspace(225e6, 300e6, 151)
    f0 = fit_spin_diode(freqs, rig.sweep(freqs)).resonance
    rig.supply.operating_mode = "CURR"
    rig.supply.current_setpoint = 0.8
    rig.supply.voltage_setpoint = 10
    rig.supply.output_enabled = True
    rig.bench.clock.sleep(2.0)  # ten L/R time constants
    rig.gauss.unit = "T"
    field = np.mean([rig.gauss.field for _ in range(10)])
    f1 = fit_spin_diode(freqs, rig.sweep(freqs)).resonance
    assert field == pytest.approx(0.8 * 25e-3, rel=0.02)
    assert (f1 - f0) / field == pytest.approx(tuning, rel=0.03)


def test_analyzer_shows_a_line_only_above_threshold_following_the_bias(rig):
    osc = truth(rig.bench)["oscillator"]
    rig.analyzer.freq_start, rig.analyzer.freq_stop = 280e6, 360e6
    rig.analyzer.continuous_sweep_enabled = False
    rig.bias.source_compliance = 2
    rig.bias.source_enabled = True
    peaks = {}
    for current in (2e-3, 3.5e-3, 5e-3, 6e-3, 7e-3):
        rig.bias.source_current = current
        rig.analyzer.single_sweep()
        freqs, dbm = rig.analyzer.read_trace()
        floor = np.median(dbm)
        peaks[current] = (freqs[np.argmax(dbm)], dbm.max() - floor)
    rig.bias.source_enabled = False
    assert peaks[2e-3][1] < 15 and peaks[3.5e-3][1] < 15
    for current in (5e-3, 6e-3, 7e-3):
        assert peaks[current][1] > 30
        expected = osc["frequency"] + osc["current_tuning"] * (current - osc["threshold_current"])
        assert peaks[current][0] == pytest.approx(expected, abs=1.5e6)
    assert peaks[7e-3][0] - peaks[5e-3][0] == pytest.approx(2e-3 * osc["current_tuning"],
                                                            abs=1.5e6)


def test_thousand_points_at_nplc5_take_100s_instrument_time_in_under_2s(rig):
    rig.meter.voltage_nplc = 5
    rig.source.power = -20
    rig.source.output_enabled = True
    t0, wall = rig.bench.clock.now(), time.perf_counter()
    for f in np.linspace(240e6, 260e6, 1000):
        rig.source.frequency = float(f)
        _ = rig.meter.voltage
    wall = time.perf_counter() - wall
    instrument = rig.bench.clock.now() - t0
    assert instrument == pytest.approx(100.0, rel=0.05)
    assert wall < 2.0


def readings(seed: int) -> list[float]:
    bench = Bench.from_station(_with_seed(seed))
    rig = Rig(bench)
    values = [rig.meter.voltage for _ in range(5)]
    bench.close()
    return values


def _with_seed(seed: int) -> dict:
    import yaml

    station = yaml.safe_load(STATION.read_text())
    station["labrf"]["simulation"]["seed"] = seed
    return station


def test_same_seed_same_readings_other_seed_other_noise():
    assert readings(11) == readings(11)
    assert readings(11) != readings(12)


def test_timeout_fault_surfaces_as_visa_timeout(rig):
    rig.bench.inject_fault("nanovoltmeter", FaultRule("timeout", match=r"READ\?"))
    rig.meter.adapter.connection.timeout = 500
    before = rig.bench.clock.now()
    with pytest.raises(errors.VisaIOError) as info:
        _ = rig.meter.voltage
    assert info.value.error_code == constants.StatusCode.error_timeout
    assert rig.bench.clock.now() - before == pytest.approx(0.5)
    assert isinstance(rig.meter.voltage, float)  # the next reading works


def test_dropped_connection_surfaces_as_connection_lost(rig):
    rig.bench.inject_fault("nanovoltmeter", FaultRule("drop", match=r"READ\?", nth=2))
    _ = rig.meter.voltage
    with pytest.raises(errors.VisaIOError) as info:
        _ = rig.meter.voltage
    assert info.value.error_code == constants.StatusCode.error_connection_lost
    with pytest.raises(errors.VisaIOError):
        _ = rig.meter.id


def test_garbled_reply_and_reboot(rig):
    rig.bench.inject_fault("nanovoltmeter", FaultRule("garble", match=r"READ\?"))
    garbled = rig.meter.ask(":READ?")
    assert garbled.strip() and not garbled.strip().startswith(("+", "-"))
    rig.source.power = -15
    rig.bench.inject_fault("rf_source", FaultRule("reboot", match=r"OUTP"))
    rig.source.write(":OUTP ON")
    with pytest.raises(errors.VisaIOError):  # still booting: no answer within the timeout
        _ = rig.source.power
    rig.bench.clock.sleep(rig.bench.emulators["rf_source"].boot_time)
    rig.source.adapter.connection.clear()
    assert rig.source.power == pytest.approx(-30.0)  # the SMB100A's power-on level
    assert rig.source.output_enabled is False


def test_sim_describe_and_serve_commands(tmp_path):
    out = subprocess.run([sys.executable, "-m", "labrf.cli", "sim", "describe", str(STATION)],
                         capture_output=True, text=True, check=True).stdout
    described = json.loads(out)
    assert described["devices"]["mtj"]["spin_diode"]["resonance"] == 250e6
    assert described["instruments"]["nanovoltmeter"]["address"] == "GPIB0::7::INSTR"
    proc = subprocess.Popen([sys.executable, "-m", "labrf.cli", "sim", "serve", str(STATION)],
                            stdout=subprocess.PIPE, text=True)
    try:
        lines = [proc.stdout.readline().split() for _ in range(len(described["instruments"]))]
        assert {name for name, *_ in lines} == set(described["instruments"])
        served = {name: (resource, term) for name, resource, _, term in lines}
        assert served["nanovoltmeter"][1] == "CR" and served["magnet"][1] == "LF"
        import pyvisa

        rm = pyvisa.ResourceManager("@py")
        resource = served["magnet"][0]
        assert resource.startswith("TCPIP0::127.0.0.1::")
        supply = rm.open_resource(resource, read_termination="\n", write_termination="\n")
        assert supply.query("*IDN?").startswith("KEPCO")
        rm.close()
    finally:
        proc.terminate()
        assert proc.wait(timeout=10) == 0


def test_bad_station_file_exits_non_zero_naming_the_key(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("instruments: {}\nlabrf: {simulation: {seed: -3}}\n")
    done = subprocess.run([sys.executable, "-m", "labrf.cli", "sim", "describe", str(path)],
                          capture_output=True, text=True)
    assert done.returncode == 1
    assert "labrf.simulation.seed" in done.stderr and str(path) in done.stderr


def test_dropped_connection_over_tcp_closes_the_socket():
    """The server really closes the link. pyvisa-py cannot tell a closed peer from a
    silent one, so its client sees what it would see from a real LAN instrument: the
    pending read times out and the next writes fail with a broken connection."""
    import socket

    import pyvisa

    from labrf.clock import WallClock
    from labrf.sim.server import BenchServer

    bench = Bench.from_station_file(STATION, clock=WallClock(scale=100))
    bench.inject_fault("magnet", FaultRule("drop", match=r"MEAS", times=2))
    with BenchServer(bench) as server:
        endpoint = server.endpoints["magnet"]
        raw = socket.create_connection(("127.0.0.1", endpoint.port), timeout=5)
        raw.sendall(b"MEAS:CURR?\n")
        assert raw.recv(100) == b""  # end of stream: the instrument hung up
        raw.close()
        rm = pyvisa.ResourceManager("@py")
        supply = rm.open_resource(endpoint.resource, read_termination="\n",
                                  write_termination="\n", timeout=500)
        assert supply.query("*IDN?").startswith("KEPCO")
        with pytest.raises(errors.VisaIOError) as info:
            supply.query("MEAS:CURR?")
        assert info.value.error_code == constants.StatusCode.error_timeout
        with pytest.raises(ConnectionError):
            for _ in range(5):
                supply.write("*IDN?")
        rm.close()
