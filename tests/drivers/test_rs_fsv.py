"""R&S FSV driver: command strings pinned to the manual, then against the emulator."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
import pyvisa
from pymeasure.test import expected_protocol

from labrf.drivers.rohdeschwarz import FSV
from labrf.sim.bench import Bench
from tests.helpers import make_bench

# ------------------------------------------------------------------ protocol


@pytest.mark.parametrize("prop, header", [("freq_start", "FREQ:STAR"),
                                          ("freq_stop", "FREQ:STOP"),
                                          ("freq_center", "FREQ:CENT"),
                                          ("freq_span", "FREQ:SPAN")])
def test_frequency_settings(prop: str, header: str) -> None:
    with expected_protocol(FSV, [(f"{header} 250000000.0", None),
                                 (f"{header}?", "250000000")]) as inst:
        setattr(inst, prop, 250e6)
        assert getattr(inst, prop) == 250e6


@pytest.mark.parametrize("prop, header", [("res_bandwidth", "BAND:RES"),
                                          ("video_bandwidth", "BAND:VID")])
def test_bandwidths_and_their_auto_coupling(prop: str, header: str) -> None:
    with expected_protocol(FSV, [(f"{header} 100000.0", None), (f"{header}?", "100000"),
                                 (f"{header}:AUTO ON", None)]) as inst:
        setattr(inst, prop, 100e3)
        assert getattr(inst, prop) == 100e3
        setattr(inst, prop, "AUTO")


def test_sweep_points() -> None:
    with expected_protocol(FSV, [("SWE:POIN 1001", None), ("SWE:POIN?", "1001"),
                                 ("SWE:POIN 101", None), ("SWE:POIN 32001", None)]) as inst:
        inst.sweep_points = 1001
        points = inst.sweep_points
        assert points == 1001 and isinstance(points, int)
        inst.sweep_points = 101
        inst.sweep_points = 32001.0


@pytest.mark.parametrize("points", [100, 32002, 1000.5, True])
def test_sweep_points_outside_the_manual_range_are_refused_before_sending(points: Any) -> None:
    with expected_protocol(FSV, []) as inst, pytest.raises(ValueError):
        inst.sweep_points = points


def test_detector() -> None:
    with expected_protocol(FSV, [("DET RMS", None), ("DET?", "RMS")]) as inst:
        inst.detector = "RMS"
        assert inst.detector == "RMS"


def test_an_unknown_detector_is_refused_before_sending() -> None:
    with expected_protocol(FSV, []) as inst, pytest.raises(ValueError, match="QPE"):
        inst.detector = "QPE"


SINGLE_SWEEP = [("INIT:CONT 0", None), ("SWE:TIME?", "0.5"), ("SWE:COUN?", "0"),
                ("INIT;*OPC?", "1")]


def _record_timeouts(inst: FSV) -> list[tuple[str, Any]]:
    """(message, VISA timeout) of every message the instrument writes."""
    seen: list[tuple[str, Any]] = []
    write = inst.adapter.write

    def recording_write(command: str, **kwargs: Any) -> None:
        seen.append((command, inst.adapter.connection.timeout))
        write(command, **kwargs)

    inst.adapter.write = recording_write  # type: ignore[method-assign]
    return seen


def test_single_sweep_and_wait_raises_the_timeout_for_the_sweep_and_restores_it() -> None:
    with expected_protocol(FSV, SINGLE_SWEEP, connection_attributes={"timeout": 2000}) as inst:
        seen = _record_timeouts(inst)
        assert inst.single_sweep_and_wait() is None
        # 2 s in use + 0.5 s sweep + 10 % of it
        assert seen == [("INIT:CONT 0", 2000), ("SWE:TIME?", 2000), ("SWE:COUN?", 2000),
                        ("INIT;*OPC?", 2550)]
        assert inst.adapter.connection.timeout == 2000


def test_single_sweep_and_wait_covers_every_sweep_of_the_count() -> None:
    pairs = [("INIT:CONT 0", None), ("SWE:TIME?", "2"), ("SWE:COUN?", "10"),
             ("INIT;*OPC?", "1")]
    with expected_protocol(FSV, pairs, connection_attributes={"timeout": 5000}) as inst:
        seen = _record_timeouts(inst)
        inst.single_sweep_and_wait()
        assert seen[-1] == ("INIT;*OPC?", 5000 + 22000)
        assert inst.adapter.connection.timeout == 5000


@pytest.mark.parametrize("timeout", [float("inf"), None])
def test_single_sweep_and_wait_leaves_an_infinite_timeout_alone(timeout: Any) -> None:
    with expected_protocol(FSV, SINGLE_SWEEP,
                           connection_attributes={"timeout": timeout}) as inst:
        inst.single_sweep_and_wait()
        assert inst.adapter.connection.timeout is timeout


def test_single_sweep_and_wait_tolerates_an_adapter_without_a_timeout() -> None:
    with expected_protocol(FSV, SINGLE_SWEEP) as inst:  # connection: a MagicMock
        inst.single_sweep_and_wait()


def test_single_sweep_and_wait_restores_the_timeout_when_the_wait_fails() -> None:
    pairs = SINGLE_SWEEP[:-1] + [("INIT;*OPC?", "0")]
    with expected_protocol(FSV, pairs, connection_attributes={"timeout": 2000}) as inst, \
            pytest.raises(ValueError, match="expected '1'"):
        inst.single_sweep_and_wait()
    assert inst.adapter.connection.timeout == 2000


def _block(values: np.ndarray) -> bytes:
    data = np.asarray(values, dtype="<f4").tobytes()
    return f"#{len(str(len(data)))}{len(data)}".encode() + data


def test_read_trace_binary() -> None:
    # The last value's bytes hold LFs: the block is read by its length, not to a LF.
    tricky = float(np.frombuffer(b"\n\n\n\xc2", dtype="<f4")[0])
    levels = np.array([-50.5, -60.25, -70.125, tricky], dtype=np.float32)
    assert b"\n" in _block(levels)[2:]
    with expected_protocol(FSV, [("FORM REAL,32", None),
                                 ("TRAC:DATA? TRACE2", _block(levels) + b"\n"),
                                 ("FORM ASC", None),
                                 ("FREQ:STAR?", "1000000000"),
                                 ("FREQ:STOP?", "1300000000")]) as inst:
        freqs, read = inst.read_trace_binary(2)
    assert read.dtype == np.float64 and freqs.dtype == np.float64
    assert read.tolist() == levels.tolist()
    assert freqs.tolist() == [1.0e9, 1.1e9, 1.2e9, 1.3e9]


def test_read_trace_binary_of_a_long_trace() -> None:
    levels = np.linspace(-100, -20, 32001, dtype=np.float32)
    block = _block(levels)
    assert block.startswith(b"#6128004")
    with expected_protocol(FSV, [("FORM REAL,32", None), ("TRAC:DATA? TRACE1", block + b"\n"),
                                 ("FORM ASC", None), ("FREQ:STAR?", "0"),
                                 ("FREQ:STOP?", "7000000000")]) as inst:
        freqs, read = inst.read_trace_binary()
    assert np.array_equal(read, levels)
    assert freqs.size == 32001 and freqs[-1] == 7e9


def test_read_trace_binary_sets_ascii_back_when_the_reply_is_not_a_definite_block() -> None:
    with expected_protocol(FSV, [("FORM REAL,32", None), ("TRAC:DATA? TRACE1", "#0"),
                                 ("FORM ASC", None)]) as inst, \
            pytest.raises(ValueError, match="definite-length block"):
        inst.read_trace_binary()


@pytest.mark.parametrize("n_trace", [0, 7])
def test_read_trace_binary_refuses_a_trace_the_fsv_has_not(n_trace: int) -> None:
    with expected_protocol(FSV, []) as inst, pytest.raises(ValueError, match="1 to 6"):
        inst.read_trace_binary(n_trace)


# ------------------------------------------------------------------ emulator


@pytest.fixture
def bench() -> Iterator[Bench]:
    bench = make_bench({"sa": {"model": "fsv", "address": "GPIB0::20::INSTR", "input": "amp"}},
                       devices={"mtj": {"kind": "mtj"},
                                "amp": {"kind": "amplifier", "input": "mtj"}})
    yield bench
    bench.close()


@pytest.fixture
def fsv(bench: Bench) -> Iterator[FSV]:
    fsv = FSV(bench.address("sa"), visa_library=bench.visa_library)
    yield fsv
    fsv.adapter.close()


def test_inherited_settings_round_trip_through_the_emulator(fsv: FSV) -> None:
    fsv.freq_start, fsv.freq_stop = 200e6, 300e6
    assert (fsv.freq_start, fsv.freq_stop, fsv.freq_center, fsv.freq_span) == (
        200e6, 300e6, 250e6, 100e6)
    fsv.freq_center, fsv.freq_span = 1e9, 2e6
    assert (fsv.freq_start, fsv.freq_stop) == (999e6, 1001e6)
    fsv.res_bandwidth, fsv.video_bandwidth, fsv.sweep_time = 10e3, 3e3, 0.2
    assert (fsv.res_bandwidth, fsv.video_bandwidth, fsv.sweep_time) == (10e3, 3e3, 0.2)
    fsv.continuous_sweep_enabled = False
    assert fsv.continuous_sweep_enabled is False
    assert fsv.check_errors() == []


def test_sweep_points_match_the_emulator_range(fsv: FSV) -> None:
    assert fsv.sweep_points == 691  # *RST
    for points in (101, 32001, 1001):
        fsv.sweep_points = points
        assert fsv.sweep_points == points
    assert fsv.check_errors() == []
    for outside in (100, 32002):  # what the driver refuses, the analyzer refuses too
        fsv.write(f"SWE:POIN {outside}")
        assert fsv.check_errors()[0][0] == -222
    assert fsv.sweep_points == 1001


def test_single_sweep_and_wait_takes_the_sweep_time_beyond_the_visa_timeout(
        bench: Bench, fsv: FSV) -> None:
    fsv.sweep_time = 25  # s, far beyond the 2 s VISA timeout
    timeout = fsv.adapter.connection.timeout
    assert timeout == 2000
    start = bench.clock.now()
    fsv.single_sweep_and_wait()
    assert bench.clock.now() - start == pytest.approx(25, abs=0.05)
    assert fsv.adapter.connection.timeout == timeout
    assert fsv.continuous_sweep_enabled is False
    # The same wait without a longer timeout fails: the raise is what makes it work.
    with pytest.raises(pyvisa.errors.VisaIOError):
        fsv.ask("INIT;*OPC?")
    assert bench.clock.now() - start == pytest.approx(25 + 2, abs=0.05)


def test_single_sweep_and_wait_waits_for_the_sweep_count(bench: Bench, fsv: FSV) -> None:
    fsv.sweep_time = 1.5
    fsv.write("SWE:COUN 3")
    start = bench.clock.now()
    fsv.single_sweep_and_wait()
    assert bench.clock.now() - start == pytest.approx(4.5, abs=0.05)
    assert fsv.check_errors() == []


def test_read_trace_binary_equals_the_ascii_trace(fsv: FSV) -> None:
    fsv.freq_center, fsv.freq_span, fsv.res_bandwidth = 250e6, 10e6, 30e3
    fsv.sweep_points = 1001
    fsv.single_sweep_and_wait()
    freqs, levels = fsv.read_trace_binary()
    assert fsv.ask("FORM?").strip() == "ASC,0"
    ascii_freqs, ascii_levels = fsv.read_trace()  # PyMeasure's ASCII read still works
    assert freqs.size == levels.size == 1001
    assert freqs[0] == 245e6 and freqs[-1] == 255e6
    np.testing.assert_array_equal(freqs, ascii_freqs)
    # ASCII carries 7 significant digits, float32 about 7.2
    np.testing.assert_allclose(levels, ascii_levels, rtol=1e-6, atol=0)
    assert np.all((levels > -150) & (levels < 0))  # dBm: a noise floor, not garbage
    assert fsv.check_errors() == []
