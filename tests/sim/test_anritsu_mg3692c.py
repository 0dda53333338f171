"""Anritsu MG3692C emulator: command tree, ranges, output into the world, PyMeasure client."""

from __future__ import annotations

import warnings
from collections.abc import Iterator

import pytest
from pymeasure.instruments.anritsu import AnritsuMG3692C

from labrf.sim.bench import Bench
from labrf.sim.models.anritsu_mg3692c import MG3692C
from tests.helpers import ask, errors, make_bench, write

ADDRESS = "GPIB0::5::INSTR"


@pytest.fixture
def bench() -> Iterator[Bench]:
    bench = make_bench({"rf": {"model": "mg3692c", "address": ADDRESS, "output": "mtj"}})
    yield bench
    bench.close()


@pytest.fixture
def mg(bench: Bench) -> MG3692C:
    emulator = bench.emulators["rf"]
    assert isinstance(emulator, MG3692C)
    return emulator

def last(emulator: MG3692C) -> tuple[str, float, float, float]:
    """The emulator's RF output as the world has it: (instrument, since, frequency, power)."""
    out = emulator.world.rf_output(emulator.name)
    return emulator.name, out.since, out.frequency, out.power



def test_identity_and_power_on_state(mg: MG3692C) -> None:
    assert ask(mg, "*IDN?") == "ANRITSU,MG3692C,123456,2.20"
    assert ask(mg, "OUTP?") == "0"
    assert ask(mg, "POW?") == "0"
    assert ask(mg, "FREQ?") == "10005000000"
    assert ask(mg, "SYST:ERR?") == '0,"No error"'


@pytest.mark.parametrize("command", ["FREQ 250 MHz", ":SOURce:FREQuency:CW 250MHZ",
                                     ":FREQUENCY 2.500000e+08 Hz;", "SOUR:FREQ:FIX 0.25 GHZ"])
def test_frequency_forms_and_units(mg: MG3692C, command: str) -> None:
    write(mg, command)
    assert ask(mg, ":SOURCE:FREQUENCY:CW?") == "250000000"
    assert errors(mg) == []


def test_min_max(mg: MG3692C) -> None:
    assert ask(mg, "FREQ? MIN;:FREQ? MAX") == "10000000;20000000000"
    write(mg, "POW MAX")
    assert ask(mg, "POW?") == "30"
    write(mg, "POW MIN")
    assert ask(mg, "POW:LEV:IMM:AMPL?") == "-130"


def test_unknown_header_is_113(mg: MG3692C) -> None:
    write(mg, ":FREQ:BOGUS 1")
    assert errors(mg) == ['-113,"Undefined header"']


def test_out_of_range_is_222_and_state_unchanged(mg: MG3692C) -> None:
    write(mg, "FREQ 250 MHz;:POW -10")
    write(mg, "FREQ 21 GHz")
    write(mg, "FREQ 5 MHz")
    write(mg, "POW 31 dBm")
    assert errors(mg) == ['-222,"Data out of range"'] * 3
    assert ask(mg, "FREQ?;:POW?") == "250000000;-10"


def test_output_pushes_to_the_world(mg: MG3692C) -> None:
    write(mg, "FREQ 250 MHz;:POW -10 dBm")
    assert last(mg)[2:] == (250e6, 0.0)
    write(mg, ":OUTPUT ON;")
    name, t, frequency, power = last(mg)
    assert (name, frequency) == ("rf", 250e6)
    assert power == pytest.approx(1e-4)
    assert t == pytest.approx(mg.world.clock.now())
    write(mg, ":POWER -20 dBm;")
    assert last(mg)[3] == pytest.approx(1e-5)
    write(mg, ":OUTP OFF")
    assert last(mg)[3] == 0.0


def test_rst_turns_rf_off(mg: MG3692C) -> None:
    write(mg, "FREQ 250 MHz;:POW -10;:OUTP ON")
    write(mg, "*RST")
    assert last(mg)[3] == 0.0
    assert ask(mg, "OUTP?") == "0"


def test_output_protection_and_impedance(mg: MG3692C) -> None:
    assert ask(mg, ":OUTP:PROT?;:OUTP:PROT:RETR?;:OUTP:IMP?") == "1;0;50"
    write(mg, ":OUTP:PROT OFF")
    assert ask(mg, ":OUTP:PROT?") == "0"


def test_pymeasure_driver_unmodified(bench: Bench, mg: MG3692C) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # SCPIUnknownMixin's notice
        driver = AnritsuMG3692C(ADDRESS, visa_library=bench.visa_library)
    try:
        assert driver.id == "ANRITSU,MG3692C,123456,2.20"
        driver.frequency = 250e6
        driver.power = -10
        driver.enable()
        assert driver.frequency == 250e6
        assert driver.power == -10
        assert driver.output is True
        assert last(mg)[2:] == (250e6, pytest.approx(1e-4))
        driver.shutdown()
        assert driver.output is False
        assert last(mg)[3] == 0.0
        assert driver.complete == "1"
        driver.reset()
        driver.clear()
        assert driver.check_errors() == []
    finally:
        driver.adapter.close()
    assert errors(mg) == []
