"""R&S FSV emulator: settings and couplings, errors, sweep timing, trace physics, markers,
and PyMeasure's FSL driver against it."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pytest
from pymeasure.instruments.rohdeschwarz.fsseries import FSL

from labrf.physics import oscillator as osc_model
from labrf.sim.models.rs_fsv import DANL, FSV
from tests.helpers import ask, errors, make_bench, write

DEVICES = {"mtj": {"kind": "mtj"}, "amp": {"kind": "amplifier", "input": "mtj",
                                          "gain": "30 dB", "noise_figure": "3 dB"}}


def _bench(noise: bool = True, wired: bool = True):
    inst = {"model": "fsv", "address": "GPIB0::20::INSTR"}
    if wired:
        inst["input"] = "amp"
    return make_bench({"sa": inst}, devices=DEVICES, noise=noise)


@pytest.fixture
def sa() -> FSV:
    emulator = _bench().emulators["sa"]
    assert isinstance(emulator, FSV)
    return emulator


def inject(sa: FSV, lines: Sequence[tuple[float, float]], fwhm: float = 1e3) -> None:
    """Replace the world's emission lines by ``(frequency Hz, power W)`` lines."""
    def spectrum(instrument: str, t: float, freqs: np.ndarray, rbw: float) -> np.ndarray:
        assert instrument == "sa"
        total = np.zeros(np.shape(freqs))
        for f, p in lines:
            total += osc_model.line_in_rbw(freqs, p, f, fwhm, rbw)
        return total

    sa.world.spectrum = spectrum  # type: ignore[method-assign]


def ask_bytes(sa: FSV, message: str) -> bytes:
    sa.write(message.encode(), sa.world.clock.now())
    reply = sa.read_reply()
    assert reply is not None
    sa.world.clock.advance_to(reply.ready_at)
    return reply.data[:-1]  # without the LF terminator


def block_values(block: bytes) -> np.ndarray:
    """Little-endian float32 values of an IEEE 488.2 definite-length block."""
    assert block[:1] == b"#"
    digits = int(block[1:2])
    length = int(block[2:2 + digits])
    assert len(block) == 2 + digits + length
    return np.frombuffer(block[2 + digits:], dtype="<f4")


def trace(sa: FSV, name: str = "TRACE1") -> np.ndarray:
    return np.array([float(v) for v in ask(sa, f"TRAC? {name}").split(",")])


def single(sa: FSV) -> None:
    write(sa, "INIT:CONT OFF;:INIT;*WAI")


# ------------------------------------------------------------------ settings


def test_identity_and_preset_state(sa: FSV) -> None:
    assert ask(sa, "*IDN?") == "Rohde&Schwarz,FSV-7,1307.9002K07/101234,3.40"
    assert ask(sa, "FREQ:STAR?;STOP?;CENT?;SPAN?") == "0;7000000000;3500000000;7000000000"
    assert ask(sa, "SWE:POIN?") == "691"
    assert ask(sa, "BAND?;BAND:VID?") == "3000000;3000000"
    assert ask(sa, "INIT:CONT?") == "1"
    assert ask(sa, "FORM?") == "ASC,0"
    assert ask(sa, "DISP:TRAC:MODE?;:DET?") == "WRIT;APE"
    assert ask(sa, "DISP:WIND:TRAC:Y:SCAL:RLEV?;:INP:ATT?") == "0;10"
    assert ask(sa, "INST?") == "SAN"
    assert errors(sa) == []


def test_frequency_settings_with_units_stay_consistent(sa: FSV) -> None:
    write(sa, "FREQ:CENT 250MHZ;SPAN 100MHZ")
    assert ask(sa, "FREQ:STAR?;STOP?") == "200000000;300000000"
    write(sa, "SENS:FREQ:STAR 0.1GHz;:FREQ:STOP 400 MHz")
    assert ask(sa, "FREQ:CENT?;SPAN?") == "250000000;300000000"
    write(sa, "FREQ:STAR 500MHZ")  # above the stop: the stop moves up
    assert float(ask(sa, "FREQ:STOP?")) > 500e6
    write(sa, "FREQ:CENT 10MHZ;SPAN 100MHZ")  # a span that does not fit moves the centre
    assert ask(sa, "FREQ:STAR?;STOP?") == "0;100000000"
    write(sa, "FREQ:SPAN:FULL")
    assert ask(sa, "FREQ:SPAN?") == "7000000000"
    assert errors(sa) == []


def test_rbw_rounds_to_the_1_2_3_5_steps_and_couples(sa: FSV) -> None:
    write(sa, "FREQ:CENT 250MHZ;SPAN 100MHZ")
    assert ask(sa, "BAND:RES?;RES:AUTO?") == "1000000;1"  # span / 100
    write(sa, "BAND:RES 4000")
    assert ask(sa, "BAND?;BAND:AUTO?") == "5000;0"
    write(sa, "BAND:RES 2.2kHz")
    assert ask(sa, "BAND?") == "2000"
    assert ask(sa, "BAND:VID?") == "2000"  # auto VBW follows the RBW
    write(sa, "BAND:VID 280")
    assert ask(sa, "BAND:VID?;VID:AUTO?") == "300;0"
    write(sa, "BAND:RES:AUTO ON;:BAND:VID:AUTO ON")
    assert ask(sa, "BAND?;BAND:VID?") == "1000000;1000000"
    assert errors(sa) == []


def test_auto_sweep_time_grows_with_span_over_rbw_squared(sa: FSV) -> None:
    write(sa, "FREQ:CENT 250MHZ;SPAN 100MHZ;:BAND 10kHz")
    slow = float(ask(sa, "SWE:TIME?"))
    write(sa, "BAND 100kHz")
    fast = float(ask(sa, "SWE:TIME?"))
    assert slow == pytest.approx(100 * fast)
    write(sa, "BAND 3MHZ")
    assert float(ask(sa, "SWE:TIME?")) == pytest.approx(1e-3)  # the minimum
    write(sa, "SWE:TIME 50ms")
    assert ask(sa, "SWE:TIME?;TIME:AUTO?") == "0.05;0"
    write(sa, "SWE:TIME:AUTO ON")
    assert ask(sa, "SWE:TIME?") == "0.001"


def test_attenuation_detector_format_and_trace_mode_round_trips(sa: FSV) -> None:
    write(sa, "INP:ATT 20dB")
    assert ask(sa, "INP:ATT?;ATT:AUTO?") == "20;0"
    write(sa, "INP:ATT:AUTO ON;:DISP:TRAC:Y:RLEV 10dBm")
    assert ask(sa, "INP:ATT?") == "20"  # auto attenuation follows the reference level
    write(sa, "DET RMS")
    assert ask(sa, "DET?;DET:AUTO?") == "RMS;0"
    write(sa, "FORM REAL,32")
    assert ask(sa, "FORM?") == "REAL,32"
    write(sa, "FORM:DATA ASCii")
    assert ask(sa, "FORM?") == "ASC,0"
    write(sa, "DISP:TRAC:MODE MAXH;:SWE:COUN 5")
    assert ask(sa, "DISP:WIND:TRAC1:MODE?;:SWE:COUN?;:AVER:COUN?") == "MAXH;5;5"
    write(sa, "POW:RLEV -20")
    assert ask(sa, "DISP:TRAC:Y:RLEV?") == "-20"
    assert errors(sa) == []


def test_unknown_header_and_out_of_range_values_are_refused(sa: FSV) -> None:
    write(sa, "FREQ:STAX 1GHZ")
    write(sa, "FREQ:CENT 8GHZ")
    write(sa, "SWE:POIN 50")
    write(sa, "BAND:RES 20MHZ")
    write(sa, "FORM REAL,64")
    write(sa, "DET QPEAK")
    write(sa, "CALC:MARK17 ON")
    assert errors(sa) == [
        '-113,"Undefined header;FREQ:STAX"',
        '-222,"Data out of range;8e+09 outside [0, 7e+09]"',
        '-222,"Data out of range;50 outside [101, 32001]"',
        '-222,"Data out of range;2e+07 outside [1, 1e+07]"',
        '-224,"Illegal parameter value;FORM REAL,64: use ASC or REAL,32"',
        '-224,"Illegal parameter value;\'QPEAK\' is not one of APEak, POSitive, NEGative, '
        'RMS, AVERage, SAMPle"',
        '-114,"Header suffix out of range;CALC:MARK17: suffix 17 not in '
        '[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16]"',
    ]
    assert ask(sa, "FREQ:CENT?;:SWE:POIN?;:FORM?") == "3500000000;691;ASC,0"
    assert ask(sa, "SYST:ERR?") == '0,"No error"'


# ------------------------------------------------------------------ timing


def test_single_sweep_takes_the_sweep_time_and_opc_waits(sa: FSV) -> None:
    write(sa, "INIT:CONT OFF;:SWE:TIME 0.5")
    clock = sa.world.clock
    t0 = clock.now()
    write(sa, "INIT")
    assert clock.now() == t0  # overlapped: INIT returns at once
    write(sa, "INIT")  # a second INIT while the sweep runs is ignored
    assert errors(sa) == ['-213,"Init ignored;a sweep is running"']
    assert ask(sa, "*OPC?") == "1"
    assert clock.now() == pytest.approx(t0 + 0.5)
    t1 = clock.now()
    write(sa, "SWE:COUN 3;:INIT;*WAI")
    assert ask(sa, "*IDN?")
    assert clock.now() == pytest.approx(t1 + 1.5)  # SWE:COUN sweeps
    t2 = clock.now()
    write(sa, "INIT")
    assert len(trace(sa)) == 691  # a trace read waits for the running sweep
    assert clock.now() == pytest.approx(t2 + 1.5)


def test_continuous_mode_reads_take_a_fresh_sweep(sa: FSV) -> None:
    write(sa, "SWE:TIME 0.2")
    t0 = sa.world.clock.now()
    first = trace(sa)
    second = trace(sa)
    assert sa.world.clock.now() == pytest.approx(t0 + 0.4)
    assert not np.array_equal(first, second)  # new noise each sweep


def test_abort_stops_the_sweep_and_keeps_the_previous_trace(sa: FSV) -> None:
    single(sa)
    before = trace(sa)
    write(sa, "SWE:TIME 10;:INIT")
    t0 = sa.world.clock.now()
    write(sa, "ABOR")
    assert ask(sa, "*OPC?") == "1"
    assert sa.world.clock.now() == pytest.approx(t0)
    assert np.array_equal(trace(sa), before)


# ------------------------------------------------------------------ physics


def test_a_line_appears_at_its_frequency_and_power_in_ascii_and_real32(sa: FSV) -> None:
    inject(sa, [(250e6, 1e-6)])  # -30 dBm
    write(sa, "FREQ:CENT 250MHZ;SPAN 10MHZ;:BAND 100kHz")
    single(sa)
    levels = trace(sa)
    freqs = np.array([float(v) for v in ask(sa, "TRAC:DATA:X? TRACE1").split(",")])
    np.testing.assert_allclose(freqs, np.linspace(245e6, 255e6, 691))
    assert abs(freqs[levels.argmax()] - 250e6) <= 10e6 / 690
    assert levels.max() == pytest.approx(-30, abs=0.2)
    assert np.median(levels) < -60
    write(sa, "FORM REAL,32")
    binary = block_values(ask_bytes(sa, "TRAC:DATA? TRACE1"))
    np.testing.assert_allclose(binary, levels, atol=1e-4)  # the same sweep, both formats
    xs = block_values(ask_bytes(sa, "TRAC:DATA:X? TRACE1"))
    np.testing.assert_allclose(xs, freqs, rtol=1e-7)
    assert errors(sa) == []


def test_the_real_world_emission_of_a_junction_above_threshold() -> None:
    bench = make_bench({"sa": {"model": "fsv", "address": "GPIB0::20::INSTR", "input": "amp"},
                        "bias": {"model": "keithley6221", "address": "GPIB0::12::INSTR",
                                 "output": "mtj"}}, devices=DEVICES, noise=False)
    sa = bench.emulators["sa"]
    world = bench.world
    write(bench.emulators["bias"], "SOUR:CURR:COMP 10;:SOUR:CURR 6e-3;:OUTP ON")
    p = world.junctions["mtj"].config.oscillator
    f0 = float(osc_model.frequency(p, 6e-3))
    expected = float(world.spectrum("sa", 0.0, np.array([f0]), 100e3)[0])
    write(sa, f"FREQ:CENT {f0};SPAN 20MHZ;:BAND 100kHz")
    single(sa)
    levels = trace(sa)
    freqs = np.linspace(f0 - 10e6, f0 + 10e6, 691)
    assert abs(freqs[levels.argmax()] - f0) <= 20e6 / 690
    assert levels.max() == pytest.approx(10 * math.log10(expected / 1e-3), abs=0.2)


def _floor_dbm(sa: FSV, rbw: str) -> float:
    write(sa, f"BAND {rbw};:INIT;*WAI")
    return 10 * math.log10(np.mean(10 ** (trace(sa) / 10)))


def test_noise_floor_rises_10_db_per_decade_of_rbw(sa: FSV) -> None:
    write(sa, "FREQ:CENT 1GHZ;SPAN 100MHZ;:DET RMS;:INIT:CONT OFF")
    floors = [_floor_dbm(sa, rbw) for rbw in ("10kHz", "100kHz", "1MHz")]
    assert np.diff(floors) == pytest.approx([10, 10], abs=0.5)
    density = 1e-3 * 10 ** (DANL / 10) + sa.world.noise_density("sa")  # amplifier's kTFG
    assert floors[1] == pytest.approx(10 * math.log10(density * 1e5 / 1e-3), abs=0.5)


def test_attenuation_raises_the_displayed_noise_level() -> None:
    sa = _bench(noise=False, wired=False).emulators["sa"]
    write(sa, "FREQ:CENT 1GHZ;SPAN 10MHZ;:BAND 1kHz;:INIT:CONT OFF")
    assert _floor_dbm(sa, "1kHz") == pytest.approx(DANL + 30, abs=1e-6)
    write(sa, "INP:ATT 30")
    assert _floor_dbm(sa, "1kHz") == pytest.approx(DANL + 30 + 20, abs=1e-6)
    write(sa, "INP:GAIN:STAT ON")
    assert _floor_dbm(sa, "1kHz") < DANL + 30 + 20 - 10


def test_detectors_read_noise_as_peak_above_rms_above_minimum(sa: FSV) -> None:
    write(sa, "FREQ:CENT 1GHZ;SPAN 100MHZ;:BAND 30kHz;:INIT:CONT OFF")
    medians = {}
    for detector in ("POS", "RMS", "NEG"):
        write(sa, f"DET {detector};:INIT;*WAI")
        medians[detector] = float(np.median(trace(sa)))
    assert medians["POS"] > medians["RMS"] + 3 > medians["NEG"] + 8


def test_max_hold_accumulates_and_view_freezes(sa: FSV) -> None:
    write(sa, "FREQ:CENT 1GHZ;SPAN 10MHZ;:DET SAMP;:INIT:CONT OFF")
    write(sa, "DISP:TRAC:MODE MAXH;:SWE:COUN 10;:INIT;*WAI")
    held = trace(sa)
    write(sa, "DISP:TRAC:MODE WRIT;:SWE:COUN 1;:INIT;*WAI")
    assert np.median(held) > np.median(trace(sa)) + 5
    write(sa, "DISP:TRAC:MODE VIEW")
    frozen = trace(sa)
    write(sa, "INIT;*WAI")
    assert np.array_equal(trace(sa), frozen)


def test_unit_power_converts_the_trace(sa: FSV) -> None:
    inject(sa, [(250e6, 1e-6)])
    write(sa, "FREQ:CENT 250MHZ;SPAN 10MHZ;:BAND 100kHz")
    single(sa)
    dbm = trace(sa)
    write(sa, "UNIT:POW DBUV")
    np.testing.assert_allclose(trace(sa), dbm + 106.9897, atol=1e-3)


# ------------------------------------------------------------------ markers


def test_markers_find_peaks_and_report_levels(sa: FSV) -> None:
    inject(sa, [(250e6, 1e-6), (253e6, 1e-8), (247e6, 1e-7)])  # -30, -50, -40 dBm
    write(sa, "FREQ:CENT 250MHZ;SPAN 10MHZ;:BAND 100kHz")
    single(sa)
    levels = trace(sa)
    write(sa, "CALC:MARK:MAX")
    assert float(ask(sa, "CALC:MARK:X?")) == pytest.approx(250e6, abs=20e3)
    assert float(ask(sa, "CALC:MARK:Y?")) == pytest.approx(levels.max(), abs=1e-4)
    write(sa, "CALC:MARK:MAX:NEXT")
    assert float(ask(sa, "CALC:MARK:X?")) == pytest.approx(247e6, abs=20e3)
    write(sa, "CALC:MARK:MAX:RIGHT")
    assert float(ask(sa, "CALC:MARK:X?")) == pytest.approx(250e6, abs=20e3)
    write(sa, "CALC:MARK:MAX:RIGH")
    assert float(ask(sa, "CALC:MARK:X?")) == pytest.approx(253e6, abs=20e3)
    write(sa, "CALC:MARK1:MAX:LEFT;:CALC:MARK:MAX:LEFT")
    assert float(ask(sa, "CALC:MARK:X?")) == pytest.approx(247e6, abs=20e3)
    write(sa, "CALC:MARK:MAX;:CALC:DELT2 ON;:CALC:DELT2:X 253MHZ")
    assert float(ask(sa, "CALC:DELT2:Y?")) == pytest.approx(-20, abs=0.3)
    assert float(ask(sa, "CALC:DELT2:X:REL?")) == pytest.approx(3e6, abs=20e3)
    write(sa, "CALC:MARK:X 251MHZ")
    assert ask(sa, "CALC:MARK:X?") == "251000000"
    write(sa, "CALC:MARK:PEXC 30")
    write(sa, "CALC:MARK:MAX;MAX:NEXT")  # no other peak stands out by 30 dB
    assert float(ask(sa, "CALC:MARK:X?")) == pytest.approx(250e6, abs=20e3)
    write(sa, "CALC:MARK:FUNC:CENT")
    assert float(ask(sa, "FREQ:CENT?")) == pytest.approx(250e6, abs=20e3)
    write(sa, "CALC:MARK:AOFF")
    assert ask(sa, "CALC:MARK?") == "0"
    sa.write(b"CALC:MARK:Y?", sa.world.clock.now())
    assert sa.read_reply() is None
    assert errors(sa) == ['-221,"Settings conflict;marker 1 is off"']


def test_pymeasure_fsl_driver_sweeps_reads_and_uses_markers() -> None:
    bench = _bench()
    sa = bench.emulators["sa"]
    inject(sa, [(250e6, 1e-6)])
    fsl = FSL(bench.address("sa"), visa_library=bench.visa_library)
    try:
        fsl.freq_center = 250e6
        fsl.freq_span = "10 MHz"
        fsl.res_bandwidth = 100e3
        fsl.video_bandwidth = "AUTO"
        fsl.sweep_time = "AUTO"
        fsl.attenuation = 10
        fsl.continuous_sweep_enabled = False
        fsl.trace_mode = "WRIT"
        assert fsl.freq_start == 245e6 and fsl.freq_stop == 255e6
        assert fsl.res_bandwidth == 100e3 and fsl.video_bandwidth == 100e3
        assert fsl.continuous_sweep_enabled is False
        fsl.single_sweep()
        x, y = fsl.read_trace()
        assert len(x) == 691 and abs(x[y.argmax()] - 250e6) < 20e3
        marker = fsl.create_marker()
        marker.to_trace(1)
        marker.to_peak()
        assert marker.x == pytest.approx(250e6, abs=20e3)
        assert marker.y == pytest.approx(-30, abs=0.2)
        marker.peak_excursion = 10
        assert marker.peak_excursion == 10
        marker.to_next_peak("left")
        delta = fsl.create_marker(2, is_delta_marker=True)
        delta.to_peak()
        marker.zoom("1 MHz")
        assert fsl.freq_span == 1e6
        fsl.continue_single_sweep()
        marker.disable()
        assert fsl.values("SYST:ERR?")[0] == 0
    finally:
        fsl.adapter.close()
        bench.close()
