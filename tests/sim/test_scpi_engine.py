"""The SCPI engine and the emulator base, on a toy instrument defined here."""

from __future__ import annotations

import math

import pytest

from labrf.sim.config import SimulationConfig
from labrf.sim.emulator import SCPI_SYSTEM, Emulator
from labrf.sim.faults import FaultRule
from labrf.sim.scpi import (
    Boolean,
    Choice,
    Command,
    CommandTable,
    Number,
    Query,
    QuotedChoice,
    ScpiError,
    Setting,
    split_units,
)
from labrf.sim.world import World
from tests.helpers import ask, errors, write


class Toy(Emulator):
    """A small SCPI instrument exercising every kind of table entry."""

    model = "toy"
    idn = "LABRF,TOY,0,1.0"
    error_queue_size = 4
    commands = SCPI_SYSTEM + CommandTable(
        Setting("[:SOURce]:FREQuency[:CW]", Number(1e3, 1e9, unit="HZ", default=1e6), 1e6),
        Setting("[:SOURce]:POWer[:LEVel]", Number(-100, 10, unit="DBM"), -10.0,
                on_change="record"),
        Setting(":OUTPut[:STATe]", Boolean(), False),
        Setting(":SENSe:CHANnel<ch>:RANGe", Number(0, 10, unit="V"), 1.0,
                suffixes={"ch": (1, 2)}),
        Setting(":TRIGger:SOURce", Choice("IMMediate", "BUS", "TIMer"), "IMM"),
        Setting(":SENSe:FUNCtion", QuotedChoice({"VOLTage[:DC]": "VOLT:DC",
                                                 "TEMPerature": "TEMP"}), "VOLT:DC"),
        Setting(":SYSTem:NAME", Choice("A", "B"), "A", rst=False),
        Query(":READ", "read"),
        Command(":INITiate[:IMMediate]", "initiate"),
    )

    def on_reset(self) -> None:
        self.changes: list[tuple[str, float]] = []

    def record(self, key: str, value: float) -> None:
        self.changes.append((key, value))

    def read(self, call) -> str:
        self.spend(0.1)
        return self.number_format(1.5)

    def initiate(self, call) -> None:
        self.start_operation(2.0)


@pytest.fixture
def toy() -> Toy:
    return Toy("toy", World(SimulationConfig()))


def test_short_long_and_optional_nodes(toy):
    write(toy, "SOUR:FREQ 2e6")
    assert ask(toy, ":FREQUENCY:CW?") == "2000000"
    write(toy, "frequency 3 MHZ")
    assert ask(toy, "source:freq?") == "3000000"
    write(toy, ":FREQ 250kHz")
    assert ask(toy, "FREQ?") == "250000"


def test_relative_paths_follow_scpi(toy):
    write(toy, ":SENS:CHAN2:RANG 5;:SOUR:FREQ 5e6;POW -20")
    assert ask(toy, ":POW?") == "-20"
    assert ask(toy, ":SENS:CHAN2:RANG?") == "5"
    write(toy, ":SOUR:FREQ 6e6;OUTP ON")  # OUTP is not under SOUR
    assert errors(toy) == ['-113,"Undefined header"']
    assert ask(toy, "OUTP?") == "0"


def test_multiple_queries_join_with_semicolons(toy):
    assert ask(toy, "FREQ?;POW?;*IDN?") == "1000000;-10;LABRF,TOY,0,1.0"


def test_unknown_header_queues_113_and_changes_nothing(toy):
    write(toy, "FREQ:BOGUS 5")
    write(toy, "FREQ 7e6;BOGUS 1")
    assert errors(toy) == ['-113,"Undefined header"', '-113,"Undefined header"']
    assert ask(toy, "FREQ?") == "7000000"


def test_out_of_range_queues_222_and_keeps_value(toy):
    write(toy, "FREQ 2e9")
    assert errors(toy) == ['-222,"Data out of range"']
    assert ask(toy, "FREQ?") == "1000000"


def test_min_max_def_and_query_forms(toy):
    write(toy, "FREQ MAX")
    assert ask(toy, "FREQ?") == "1000000000"
    assert ask(toy, "FREQ? MIN") == "1000"
    write(toy, "FREQ DEF")
    assert ask(toy, "FREQ?") == "1000000"


@pytest.mark.parametrize("message, code", [
    ("FREQ 5 VOLT", -131), ("FREQ abc", -104), ("FREQ", -109), ("FREQ 1,2", -108),
    ("OUTP MAYBE", -224), ("TRIG:SOUR NEVER", -224), ("SENS:CHAN3:RANG 1", -114),
    ("SENS:FUNC 'RES'", -224), ("FR#Q 1", -102), ("READ", -113),
])
def test_error_codes(toy, message, code):
    write(toy, message)
    found = errors(toy)
    assert len(found) == 1 and found[0].startswith(f"{code},")


def test_booleans_choices_quoted_strings(toy):
    write(toy, "OUTP ON;:TRIG:SOUR timer;:SENS:FUNC 'TEMP'")
    assert ask(toy, "OUTP?;:TRIG:SOUR?;:SENS:FUNC?") == '1;TIM;"TEMP"'
    write(toy, ":SENS:FUNC \"volt:dc\"")
    assert ask(toy, ":SENS:FUNC?") == '"VOLT:DC"'


def test_rst_keeps_non_rst_settings_and_calls_hooks(toy):
    write(toy, "POW -30;:SYST:NAME B")
    assert toy.changes == [("SOUR:POW:LEV", -30.0)]
    write(toy, "*RST")
    assert ask(toy, "POW?;:SYST:NAME?") == "-10;B"
    assert toy.changes == []


def test_error_queue_overflow_replaces_last_with_350(toy):
    for _ in range(6):
        write(toy, "BOGUS")
    found = errors(toy)
    assert len(found) == 4
    assert found[-1].startswith("-350,")


def test_status_registers(toy):
    assert ask(toy, "*ESR?") == "128"  # power-on
    write(toy, "BOGUS")
    assert int(ask(toy, "*STB?")) & 4  # error available
    assert int(ask(toy, "*ESR?")) & 32  # command error
    write(toy, "*CLS")
    assert ask(toy, "*STB?") == "0"
    write(toy, "*ESE 32;*SRE 32")
    write(toy, "BOGUS")
    assert int(ask(toy, "*STB?")) & (32 | 64) == 96


def test_reading_time_and_overlapped_operations(toy):
    clock = toy.world.clock
    ask(toy, "READ?")
    assert clock.now() == pytest.approx(0.1)
    write(toy, "INIT")
    assert ask(toy, "*OPC?") == "1"
    assert clock.now() == pytest.approx(2.1)
    write(toy, "INIT;*WAI")
    ask(toy, "READ?")
    assert clock.now() == pytest.approx(4.2)


def test_unread_reply_is_interrupted_by_the_next_message(toy):
    toy.write(b"FREQ?", 0.0)
    write(toy, "POW -5")
    assert errors(toy) == ['-410,"Query INTERRUPTED"']


def test_split_units_respects_quotes_and_blocks():
    assert split_units("A 'x;y';B #13a;c;C") == ["A 'x;y'", "B #13a;c", "C"]
    with pytest.raises(ScpiError):
        split_units("A 'open")


def test_number_suffixes():
    assert Number(unit="HZ").parse("2.5MHZ") == 2.5e6
    assert Number(unit="A").parse("4 mA") == pytest.approx(4e-3)
    assert Number(unit="S", specials={"INF": math.inf}).parse("inf") == math.inf
    assert Number(0, 10, integer=True).parse("3.6") == 4.0


@pytest.mark.parametrize("kind", ["timeout", "garble", "error", "drop", "reboot"])
def test_fault_rules_fire_on_the_nth_match(toy, kind):
    rule = FaultRule(kind, match=r"FREQ\?", nth=2)
    toy.faults.append(rule)
    assert ask(toy, "FREQ?") == "1000000"
    write(toy, "POW -20")
    outcome = toy.write(b"FREQ?", toy.world.clock.now())
    assert rule.fired == 1
    if kind == "timeout":
        assert outcome.reply is None
    elif kind == "drop":
        assert outcome.dropped
    elif kind == "reboot":
        assert outcome.reply is None and toy.boot_count == 2
        assert ask(toy, "POW?") == "-10"
    elif kind == "error":
        assert outcome.reply.data == b"1000000\n"
        toy.read_reply()
        assert errors(toy) == ['-300,"Device-specific error"']
    else:
        assert outcome.reply.data != b"1000000\n" and outcome.reply.data.endswith(b"\n")
        toy.read_reply()
    assert ask(toy, "FREQ?") == "1000000"


def test_fault_rule_validation():
    with pytest.raises(ValueError, match="not one of"):
        FaultRule("explode")


@pytest.mark.parametrize("message, code", [
    ("*RST 5", -108), ("*ESE", -109), ("*ESE 300", -222), ("*IDN", -113), ("*FOO?", -113),
])
def test_common_commands_check_their_parameters(toy, message, code):
    write(toy, message)
    found = errors(toy)
    assert len(found) == 1 and found[0].startswith(f"{code},")


def test_common_commands_keep_the_scpi_path(toy):
    write(toy, ":SOUR:FREQ 2e6;*CLS;POW -20")
    assert ask(toy, ":POW?") == "-20" and errors(toy) == []
