"""Keithley 2400 SourceMeter.

Follows the Series 2400 SourceMeter User's Manual (2400S-900-01): section 3 (source
and measure ranges, compliance), section 6 (source delay, auto output-off), section 7
(NPLC), section 9 (data store and its statistics), section 11 (trigger model: arm and
trigger layers, counts, delays, arm timer, bus trigger), section 13 (output-off
states), section 15 (status structure), section 16 (common commands), section 17
(signal oriented commands: CONFigure, FETCh?, READ?, MEASure?), section 18 (SCPI
reference: CALCulate3, DISPlay, FORMat with its data elements and status word, OUTPut,
ROUTe, SENSe, SOURce, STATus, SYSTem, TRACe, TRIGger/ARM) and appendix B (error
messages). It serves PyMeasure's ``Keithley2400`` and QCoDeS's ``Keithley2400``
unmodified. Sweeps, source lists, source memory, limit tests and CALC1/CALC2 math are
not emulated.

The output drives the junction wired to ``output``: every change of output state,
source function, level, compliance (and auto-ohms test current) is pushed to the world
at once. A reading takes NPLC / line frequency seconds per conversion (times the
repeating filter's count), plus the trigger delay, plus the source delay after a
source change (every reading with auto output-off), and reads the junction at its
end; measured values get Gaussian noise of 1 ppm of the value plus 5 ppm of the range,
divided by sqrt(NPLC x filter count), when the world's noise is on. As on the real
instrument, ``READ?`` and ``INIT`` with the output off (and auto output-off disabled)
fail with +803, while ``MEASure?`` and ``CONFigure`` turn the output on. An ``INIT``
run is overlapped: the instrument takes no further message until it ends (the real
2400 defers commands while in the trigger model), except ``ABORt``, ``*RST`` and
``SYSTem:PRESet``, which cut it short.
"""

from __future__ import annotations

import math
import re
import struct
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from labrf.sim.emulator import SCPI_SYSTEM, Emulator
from labrf.sim.scpi import (
    Boolean,
    Call,
    Choice,
    Command,
    CommandTable,
    Number,
    ParamType,
    Query,
    QuotedChoice,
    ScpiError,
    Setting,
    Text,
    compile_header,
    split_header,
    split_units,
)
from labrf.sim.status import SCPI_STATUS, ScpiStatusModel
from labrf.wire import Link

NAN = 9.91e37  #: the 2400's "not a number": an element not sourced nor measured
OVERFLOW = 9.9e37  #: the reading of a measurement beyond its fixed range
CURRENT_RANGES = (1.05e-6, 1.05e-5, 1.05e-4, 1.05e-3, 1.05e-2, 1.05e-1, 1.05)  #: A
VOLTAGE_RANGES = (0.21, 2.1, 21.0, 210.0)  #: V
RESISTANCE_RANGES = (21.0, 210.0, 2.1e3, 2.1e4, 2.1e5, 2.1e6, 2.1e7, 2.1e8)  #: ohm
#: auto-ohms test current (A) of each resistance range (specifications, ohms table)
TEST_CURRENTS = (0.1, 1e-2, 1e-3, 1e-4, 1e-5, 1e-6, 1e-6, 1e-7)
AUTO_SOURCE_DELAY = 1e-3  #: s, the auto source delay of the 2400's ranges
RELATIVE_NOISE = 1e-6  #: rms noise of a 1-PLC reading, relative to the value
RANGE_NOISE = 5e-6  #: rms noise of a 1-PLC reading, relative to the range
ELEMENTS = ("VOLT", "CURR", "RES", "TIME", "STAT")
FUNCTIONS = ("VOLT:DC", "CURR:DC", "RES")
MAX_READINGS = 2500  #: the largest arm count x trigger count, and the buffer size

# Measurement event register bits (section 15).
RAV, ROF, BAV, BFL, CMPL = 64, 128, 256, 512, 16384
# Status word bits of the STATus data element (section 18, FORMat:ELEMents).
SW_OFLO, SW_FILTER, SW_FRONT, SW_COMPLIANCE = 1, 2, 4, 8
SW_AUTO_OHMS, SW_VMEAS, SW_IMEAS, SW_RMEAS = 1 << 10, 1 << 11, 1 << 12, 1 << 13
SW_VSOUR, SW_ISOUR, SW_RANGE_COMPLIANCE, SW_REMOTE_SENSE = 1 << 14, 1 << 15, 1 << 16, 1 << 22


class LineFrequency(ParamType):
    """50 or 60 (Hz); anything else is out of range."""

    def parse(self, token: str) -> float:
        value = Number(0, math.inf, unit="HZ").parse(token)
        if value not in (50.0, 60.0):
            raise ScpiError(-222, f"line frequency {value:g} Hz is not 50 or 60")
        return value

    def format(self, value: Any, number_format: Any) -> str:
        return str(int(value))


def _one(pattern: str) -> dict[str, tuple[int, ...]]:
    """Numeric suffixes of a pattern, each allowed only as 1 (SOURce1, SENSe1 ...)."""
    return {name: (1,) for name in re.findall(r"<(\w+)>", pattern)}


def _setting(pattern: str, kind: ParamType, default: Any, key: str, **kw: Any) -> Setting:
    return Setting(pattern, kind, default, key=key, suffixes=_one(pattern), **kw)


def _query(pattern: str, handler: str, **kw: Any) -> Query:
    return Query(pattern, handler, suffixes=_one(pattern), **kw)


def _command(pattern: str, handler: str, **kw: Any) -> Command:
    return Command(pattern, handler, suffixes=_one(pattern), **kw)


def _function_of(header: str) -> str:
    """The sense function a CONFigure/MEASure header names (":MEAS:VOLT:DC" -> VOLT:DC)."""
    nodes = [n for n in header.split(":") if n and n != "DC"]
    return next(f for f in FUNCTIONS if f.startswith(nodes[-1][:3]))


def _snap(value: float, ranges: tuple[float, ...]) -> float:
    """The most sensitive range that holds ``|value|`` (the top one if none does)."""
    for full_scale in ranges:
        if abs(value) <= full_scale * (1 + 1e-9):
            return full_scale
    return ranges[-1]


_SOUR = "[:SOURce<src>]"
_SENS = "[:SENSe<sens>]"
_TRIG = ":TRIGger[:SEQuence<seq>]"
_ARM = ":ARM[:SEQuence<seq>][:LAYer<lay>]"
_FUNCTION = QuotedChoice({"VOLTage[:DC]": "VOLT:DC", "CURRent[:DC]": "CURR:DC",
                          "RESistance": "RES"})
_ELEMENT = Choice("VOLTage", "CURRent", "RESistance", "TIME", "STATus")
_COUNT = Number(1, MAX_READINGS, integer=True, default=1)
_DELAY = Number(0, 999.9999, unit="S", default=0)
_LINE = Number(1, 4, integer=True)
_CURRENT = Number(-1.05, 1.05, unit="A", default=0)
_VOLTAGE = Number(-210, 210, unit="V", default=0)


def _trace_rows() -> list[Any]:
    """TRACe subsystem rows; ``:DATA`` is the manual's alias of ``:TRACe``."""
    rows: list[Any] = []
    for root in (":TRACe", ":DATA"):
        rows += [
            Command(f"{root}:CLEar", "clear_buffer"),
            Setting(f"{root}:POINts", Number(1, MAX_READINGS, integer=True, default=100), 100,
                    key="TRAC:POIN", rst=False),
            Query(f"{root}:POINts:ACTual", "query_buffer_count"),
            Query(f"{root}:FREE", "query_buffer_free"),
            Setting(f"{root}:FEED", Choice("SENSe", "SENSe1", "CALCulate", "CALCulate1",
                                           "CALCulate2",
                                           replies={"SENS": "SENS1", "CALC": "CALC1"}),
                    "SENS1", key="TRAC:FEED", rst=False),
            Setting(f"{root}:FEED:CONTrol", Choice("NEXT", "NEVer"), "NEV",
                    key="TRAC:FEED:CONT"),
            Setting(f"{root}:TSTamp:FORMat", Choice("ABSolute", "DELTa"), "ABS",
                    key="TRAC:TST:FORM"),
            Query(f"{root}:DATA", "query_buffer"),
        ]
    return rows


COMMANDS = SCPI_SYSTEM + SCPI_STATUS + CommandTable(
    # OUTPut (section 18, table 18-4) and output-off states (section 13)
    _setting(":OUTPut<out>[:STATe]", Boolean(), False, "OUTP", on_change="_output_set"),
    _setting(":OUTPut<out>:SMODe", Choice("HIMPedance", "NORMal", "ZERO", "GUARd"), "NORM",
             "OUTP:SMOD"),
    # SOURce: function, levels, ranges, delay, auto output-off
    _setting(f"{_SOUR}:FUNCtion[:MODE]", Choice("VOLTage", "CURRent"), "VOLT", "SOUR:FUNC",
             on_change="_drive_changed"),
    _command(f"{_SOUR}:CURRent[:LEVel][:IMMediate][:AMPLitude]", "set_level", params=(_CURRENT,)),
    _setting(f"{_SOUR}:CURRent[:LEVel][:IMMediate][:AMPLitude]", _CURRENT, 0.0, "SOUR:CURR"),
    _setting(f"{_SOUR}:CURRent[:LEVel]:TRIGgered[:AMPLitude]", _CURRENT, 0.0,
             "SOUR:CURR:TRIG"),
    _setting(f"{_SOUR}:CURRent:RANGe", Number(-1.05, 1.05, unit="A", default=1.05e-4),
             1.05e-4, "SOUR:CURR:RANG", on_change="_range_set"),
    _setting(f"{_SOUR}:CURRent:RANGe:AUTO", Boolean(), True, "SOUR:CURR:RANG:AUTO"),
    _command(f"{_SOUR}:VOLTage[:LEVel][:IMMediate][:AMPLitude]", "set_level", params=(_VOLTAGE,)),
    _setting(f"{_SOUR}:VOLTage[:LEVel][:IMMediate][:AMPLitude]", _VOLTAGE, 0.0, "SOUR:VOLT"),
    _setting(f"{_SOUR}:VOLTage[:LEVel]:TRIGgered[:AMPLitude]", _VOLTAGE, 0.0,
             "SOUR:VOLT:TRIG"),
    _setting(f"{_SOUR}:VOLTage:RANGe", Number(-210, 210, unit="V", default=21), 21.0,
             "SOUR:VOLT:RANG", on_change="_range_set"),
    _setting(f"{_SOUR}:VOLTage:RANGe:AUTO", Boolean(), True, "SOUR:VOLT:RANG:AUTO"),
    _setting(f"{_SOUR}:DELay", _DELAY, 0.0, "SOUR:DEL", on_change="_source_delay_set"),
    _setting(f"{_SOUR}:DELay:AUTO", Boolean(), True, "SOUR:DEL:AUTO"),
    _setting(f"{_SOUR}:CLEar:AUTO", Boolean(), False, "SOUR:CLE:AUTO"),
    _setting(f"{_SOUR}:CLEar:AUTO:MODE", Choice("ALWays", "TCOunt"), "ALW",
             "SOUR:CLE:AUTO:MODE"),
    _command(f"{_SOUR}:CLEar[:IMMediate]", "source_clear"),
    # SENSe: functions
    _command(f"{_SENS}:FUNCtion[:ON]", "functions_on", params=(_FUNCTION,) * 3, optional=2),
    _query(f"{_SENS}:FUNCtion[:ON]", "query_functions"),
    _command(f"{_SENS}:FUNCtion:OFF", "functions_off", params=(_FUNCTION,) * 3, optional=2),
    _query(f"{_SENS}:FUNCtion:OFF", "query_functions_off"),
    # PyMeasure's measure_all sends :SENSE:FUNCTION:ALL; the manual's header is
    # FUNCtion:ON:ALL, so the ON node is taken as optional here.
    _command(f"{_SENS}:FUNCtion[:ON]:ALL", "functions_all_on"),
    _command(f"{_SENS}:FUNCtion:OFF:ALL", "functions_all_off"),
    _query(f"{_SENS}:FUNCtion[:ON]:COUNt", "query_function_count"),
    _query(f"{_SENS}:FUNCtion:STATe", "query_function_state", params=(_FUNCTION,)),
    _setting(f"{_SENS}:FUNCtion:CONCurrent", Boolean(), True, "SENS:FUNC:CONC",
             on_change="_concurrent_set"),
    # SENSe: compliance (protection), ranges, integration, resistance mode
    _setting(f"{_SENS}:CURRent[:DC]:PROTection[:LEVel]", Number(-1.05, 1.05, unit="A",
                                                                 default=1.05e-4),
             1.05e-4, "SENS:CURR:PROT", on_change="_drive_changed"),
    _query(f"{_SENS}:CURRent[:DC]:PROTection:TRIPped", "query_tripped"),
    _setting(f"{_SENS}:CURRent[:DC]:PROTection:RSYNchronize", Boolean(), False,
             "SENS:CURR:PROT:RSYN"),
    _setting(f"{_SENS}:VOLTage[:DC]:PROTection[:LEVel]", Number(-210, 210, unit="V",
                                                                 default=21),
             21.0, "SENS:VOLT:PROT", on_change="_drive_changed"),
    _query(f"{_SENS}:VOLTage[:DC]:PROTection:TRIPped", "query_tripped"),
    _setting(f"{_SENS}:VOLTage[:DC]:PROTection:RSYNchronize", Boolean(), False,
             "SENS:VOLT:PROT:RSYN"),
    _setting(f"{_SENS}:CURRent[:DC]:RANGe[:UPPer]", Number(-1.05, 1.05, unit="A",
                                                            default=1.05e-4),
             1.05e-4, "SENS:CURR:RANG", on_change="_range_set"),
    _setting(f"{_SENS}:CURRent[:DC]:RANGe:AUTO", Boolean(), True, "SENS:CURR:RANG:AUTO",
             on_change="_drive_changed"),
    _setting(f"{_SENS}:VOLTage[:DC]:RANGe[:UPPer]", Number(-210, 210, unit="V", default=21),
             21.0, "SENS:VOLT:RANG", on_change="_range_set"),
    _setting(f"{_SENS}:VOLTage[:DC]:RANGe:AUTO", Boolean(), True, "SENS:VOLT:RANG:AUTO",
             on_change="_drive_changed"),
    _setting(f"{_SENS}:RESistance:RANGe[:UPPer]", Number(0, 2.1e8, unit="OHM", default=2.1e5),
             2.1e5, "SENS:RES:RANG", on_change="_range_set"),
    _setting(f"{_SENS}:RESistance:RANGe:AUTO", Boolean(), True, "SENS:RES:RANG:AUTO",
             on_change="_drive_changed"),
    _setting(f"{_SENS}:RESistance:MODE", Choice("AUTO", "MANual"), "MAN", "SENS:RES:MODE",
             on_change="_drive_changed"),
    _setting(f"{_SENS}:RESistance:OCOMpensated", Boolean(), False, "SENS:RES:OCOM"),
    # NPLC is global: any function's NPLCycles sets the one integration time
    _setting(f"{_SENS}:CURRent[:DC]:NPLCycles", Number(0.01, 10, default=1), 1.0, "SENS:NPLC"),
    _setting(f"{_SENS}:VOLTage[:DC]:NPLCycles", Number(0.01, 10, default=1), 1.0, "SENS:NPLC"),
    _setting(f"{_SENS}:RESistance:NPLCycles", Number(0.01, 10, default=1), 1.0, "SENS:NPLC"),
    _setting(f"{_SENS}:AVERage[:STATe]", Boolean(), False, "SENS:AVER"),
    _setting(f"{_SENS}:AVERage:TCONtrol", Choice("REPeat", "MOVing"), "REP",
             "SENS:AVER:TCON"),
    _setting(f"{_SENS}:AVERage:COUNt", Number(1, 100, integer=True, default=10), 10,
             "SENS:AVER:COUN"),
    # Signal oriented measurement commands (section 17)
    Command(":CONFigure:CURRent[:DC]", "configure"),
    Command(":CONFigure:VOLTage[:DC]", "configure"),
    Command(":CONFigure:RESistance", "configure"),
    Query(":CONFigure", "query_functions"),
    Query(":MEASure:CURRent[:DC]", "query_measure"),
    Query(":MEASure:VOLTage[:DC]", "query_measure"),
    Query(":MEASure:RESistance", "query_measure"),
    Query(":MEASure", "query_measure"),
    Query(":READ", "query_read"),
    Query(":FETCh", "query_fetch"),
    _query(f"{_SENS}:DATA[:LATest]", "query_fetch"),
    # Trigger model (section 11)
    Command(":INITiate[:IMMediate]", "initiate"),
    Command(":ABORt", "abort"),
    _command(f"{_ARM}:COUNt", "set_count", params=(_COUNT,)),
    _setting(f"{_ARM}:COUNt", _COUNT, 1, "ARM:COUN"),
    _setting(f"{_ARM}:SOURce", Choice("IMMediate", "TLINk", "TIMer", "MANual", "BUS",
                                      "NSTest", "PSTest", "BSTest"), "IMM", "ARM:SOUR"),
    _setting(f"{_ARM}:TIMer", Number(0.001, 99999.99, unit="S", default=0.1), 0.1,
             "ARM:TIM"),
    _setting(f"{_ARM}:DIRection", Choice("SOURce", "ACCeptor"), "ACC", "ARM:DIR"),
    _setting(f"{_ARM}[:TCONfigure]:ILINe", _LINE, 1, "ARM:ILIN"),
    _setting(f"{_ARM}[:TCONfigure]:OLINe", _LINE, 2, "ARM:OLIN"),
    _command(f"{_ARM}[:TCONfigure]:OUTPut", "set_output_events",
             params=(Choice("TENTer", "TEXit", "NONE"),) * 2, optional=1),
    _query(f"{_ARM}[:TCONfigure]:OUTPut", "query_output_events"),
    _command(f"{_TRIG}:COUNt", "set_count", params=(_COUNT,)),
    _setting(f"{_TRIG}:COUNt", _COUNT, 1, "TRIG:COUN"),
    _setting(f"{_TRIG}:DELay", _DELAY, 0.0, "TRIG:DEL"),
    _setting(f"{_TRIG}:SOURce", Choice("IMMediate", "TLINk"), "IMM", "TRIG:SOUR"),
    _setting(f"{_TRIG}:DIRection", Choice("SOURce", "ACCeptor"), "ACC", "TRIG:DIR"),
    _setting(f"{_TRIG}[:TCONfigure]:ILINe", _LINE, 1, "TRIG:ILIN"),
    _setting(f"{_TRIG}[:TCONfigure]:OLINe", _LINE, 2, "TRIG:OLIN"),
    _command(f"{_TRIG}[:TCONfigure]:OUTPut", "set_output_events",
             params=(Choice("SOURce", "DELay", "SENSe", "NONE"),) * 3, optional=2),
    _query(f"{_TRIG}[:TCONfigure]:OUTPut", "query_output_events"),
    _command(f"{_TRIG}:CLEar", "trigger_clear"),
    # Data store (section 9) and its statistics
    *_trace_rows(),
    Setting(":CALCulate3:FORMat", Choice("MEAN", "SDEViation", "MAXimum", "MINimum", "PKPK"),
            "MEAN", key="CALC3:FORM"),
    Query(":CALCulate3:DATA", "query_statistics"),
    # FORMat
    Command(":FORMat[:DATA]", "set_data_format",
            params=(Choice("ASCii", "REAL", "SREal"), Number(32, 32, integer=True)),
            optional=1),
    Query(":FORMat[:DATA]", "query_data_format"),
    _command(":FORMat:ELEMents[:SENSe<sens>]", "set_elements", params=(_ELEMENT,) * 5,
             optional=4),
    _query(":FORMat:ELEMents[:SENSe<sens>]", "query_elements"),
    Setting(":FORMat:BORDer", Choice("NORMal", "SWAPped"), "SWAP", key="FORM:BORD"),
    Setting(":FORMat:SREGister", Choice("ASCii", "HEXadecimal", "OCTal", "BINary"), "ASC",
            key="FORM:SREG"),
    # ROUTe, DISPlay, SYSTem
    Setting(":ROUTe:TERMinals", Choice("FRONt", "REAR"), "FRON", key="ROUT:TERM"),
    Setting(":DISPlay:ENABle", Boolean(), True, key="DISP:ENAB"),
    Setting(":SYSTem:RSENse", Boolean(), False, key="SYST:RSEN"),
    Setting(":SYSTem:LFRequency", LineFrequency(), 60.0, key="SYST:LFR", rst=False),
    Setting(":SYSTem:LFRequency:AUTO", Boolean(), True, key="SYST:LFR:AUTO", rst=False),
    Command(":SYSTem:AZERo[:STATe]", "set_autozero", params=(Text(),)),
    Setting(":SYSTem:AZERo[:STATe]", Boolean(), True, key="SYST:AZER"),
    Command(":SYSTem:BEEPer[:IMMediate]", "beep",
            params=(Number(65, 2e6, unit="HZ"), Number(0, 7.9, unit="S"))),
    Setting(":SYSTem:BEEPer:STATe", Boolean(), True, key="SYST:BEEP:STAT", rst=False),
    Command(":SYSTem:PRESet", "system_preset"),
    Query(":SYSTem:TIME", "query_time"),
    Command(":SYSTem:TIME:RESet", "reset_time"),
)

#: headers that the 2400 executes while it runs its trigger model; they cut a run short
_ABORTING = tuple(compile_header(p) for p in (":ABORt", ":SYSTem:PRESet", "*RST"))


@dataclass(frozen=True)
class Sample:
    """One source-measure reading: its data elements."""

    voltage: float  #: V (or NAN / OVERFLOW)
    current: float  #: A
    resistance: float  #: ohm
    time: float  #: s since the timestamp origin
    status: int  #: status word

    def element(self, name: str) -> float:
        return {"VOLT": self.voltage, "CURR": self.current, "RES": self.resistance,
                "TIME": self.time, "STAT": float(self.status)}[name]


@dataclass
class Run:
    """A trigger model run under way (started by INIT): when it samples and ends."""

    times: list[float]  #: s, instrument time of each reading
    end: float  #: s
    auto_off: bool  #: the output turns off when it ends (auto output-off)


class Keithley2400(ScpiStatusModel, Emulator):
    """Keithley 2400 SourceMeter wired to a junction on its ``output``."""

    model = "keithley2400"
    link = Link("\n", "\n", baud_rate=9600)  # RS-232: 9600 baud 8N1, LF
    idn = "KEITHLEY INSTRUMENTS INC.,MODEL 2400,1234567,C30   Mar 17 2006 09:29:29/A02  /K/J"
    commands = COMMANDS
    error_texts: ClassVar[dict[int, str]] = {
        -213: "Init ignored",
        -214: "Trigger deadlock",
        800: "Illegal with storage active",
        803: "Not permitted with OUTPUT off",
    }
    ports: ClassVar[dict[str, tuple[str, ...]]] = {"output": ("mtj", "control_line",
                                                              "neuron", "route")}

    # ------------------------------------------------------------------ life cycle

    def power_on(self) -> None:
        self.buffer: list[Sample] = []
        self.samples: list[Sample] = []
        self.time_zero = self.cursor
        self._run: Run | None = None
        self._armed = False  #: INIT done, waiting for an arm or trigger event
        self._pushed: tuple[Any, ...] | None = None
        self._settling = True  #: the next reading waits for the source delay
        super().power_on()
        if self.state["SYST:LFR:AUTO"]:
            self.state["SYST:LFR"] = float(self.world.line_frequency)

    def on_reset(self) -> None:
        """*RST, SYSTem:PRESet and power-on: idle, output off (pushed), defaults of the
        settings that are not table rows."""
        self._run = None
        self._armed = False
        self.functions: set[str] = {"CURR:DC"}
        self.elements: tuple[str, ...] = ELEMENTS
        self.data_format = "ASC"
        self.output_events = {"TRIG": ("NONE",), "ARM": ("NONE",)}
        self.compliance_tripped = False
        self._push()

    def system_preset(self, call: Call) -> None:
        self.reset()

    def number_format(self, value: float) -> str:
        return f"{value:+.6E}"

    def execute(self, message: str) -> str | bytes | None:
        """Take a message; one arriving while an INIT run is under way waits for its end,
        unless it aborts the run (then the run stops now)."""
        if self._run is not None:
            if self._aborts(message):
                self._finish_run(min(self.cursor, self._run.end))
            else:
                self.wait_operation()
                self._finish_run(self._run.end)
        return super().execute(message)

    @staticmethod
    def _aborts(message: str) -> bool:
        try:
            header = split_header(split_units(message)[0])[0].rstrip("?").upper()
        except ScpiError:
            return False
        header = header if header.startswith(":") else ":" + header
        return any(regex.match(header) for regex in _ABORTING)

    # ------------------------------------------------------------------ source

    def _source_mode(self) -> str:
        return "current" if self.state["SOUR:FUNC"] == "CURR" else "voltage"

    def _auto_ohms(self) -> bool:
        return self.state["SENS:RES:MODE"] == "AUTO" and "RES" in self.functions

    def _drive(self) -> tuple[str, float, float]:
        """What the output sources: mode, level (A or V) and compliance (V or A)."""
        if self._auto_ohms():
            index = RESISTANCE_RANGES.index(_snap(self.state["SENS:RES:RANG"],
                                                  RESISTANCE_RANGES))
            return "current", TEST_CURRENTS[index], self._compliance("VOLT")
        if self._source_mode() == "current":
            return "current", self.state["SOUR:CURR"], self._compliance("VOLT")
        return "voltage", self.state["SOUR:VOLT"], self._compliance("CURR")

    def _compliance(self, quantity: str) -> float:
        """Effective compliance on ``quantity`` (VOLT in V, CURR in A): the protection
        level, or a lower fixed measurement range (range compliance, section 6)."""
        limit = abs(self.state[f"SENS:{quantity}:PROT"])
        if not self.state[f"SENS:{quantity}:RANG:AUTO"]:
            limit = min(limit, self.state[f"SENS:{quantity}:RANG"])
        return limit

    def _push(self, t: float | None = None, force: bool = True) -> None:
        """Tell the world what the output now drives (at time ``t``, default now)."""
        mode, level, compliance = self._drive()
        drive = (bool(self.state["OUTP"]), mode, level, compliance)
        if not force and drive == self._pushed:
            return
        self._pushed = drive
        self._settling = True
        self.world.drive_dc(self.name, self.cursor if t is None else t, on=drive[0],
                            mode=mode, level=level, compliance=compliance)

    def _output_set(self, key: str, value: bool) -> None:
        if not value:
            self._armed = False
        self._push()

    def _drive_changed(self, key: str, value: Any) -> None:
        self._push()

    def set_level(self, call: Call) -> None:
        """Source amplitude: on a fixed source range it cannot exceed that range, and
        MINimum/MAXimum are only valid on the highest range (section 18, SOURce)."""
        quantity = "CURR" if ":CURR" in call.header else "VOLT"
        ranges = CURRENT_RANGES if quantity == "CURR" else VOLTAGE_RANGES
        value = call.args[0]
        if self.state[f"SOUR:{quantity}:RANG:AUTO"]:
            self.state[f"SOUR:{quantity}:RANG"] = _snap(value, ranges)
        else:
            full_scale = self.state[f"SOUR:{quantity}:RANG"]
            if call.raw[0].strip().upper()[:3] in ("MIN", "MAX") and full_scale != ranges[-1]:
                raise ScpiError(-221, "MINimum/MAXimum need the highest source range")
            if abs(value) > full_scale * (1 + 1e-9):
                raise ScpiError(-222, f"{value:g} exceeds the fixed source range "
                                      f"{full_scale:g}")
        self.state[f"SOUR:{quantity}"] = value
        self._push()

    def _range_set(self, key: str, value: float) -> None:
        """A range is the most sensitive one holding the value; setting it ends auto."""
        ranges = {"CURR": CURRENT_RANGES, "VOLT": VOLTAGE_RANGES, "RES": RESISTANCE_RANGES}
        self.state[key] = _snap(value, ranges[key.split(":")[1]])
        self.state[f"{key}:AUTO"] = False
        if key.startswith("SENS"):
            self._push(force=False)

    def _source_delay_set(self, key: str, value: float) -> None:
        self.state["SOUR:DEL:AUTO"] = False

    def source_clear(self, call: Call) -> None:
        self.state["OUTP"] = False
        self._output_set("OUTP", False)

    # ------------------------------------------------------------------ functions

    def functions_on(self, call: Call) -> None:
        if self.state["SENS:FUNC:CONC"]:
            self.functions |= set(call.args)
        else:
            self.functions = {call.args[-1]}
        self._push(force=False)

    def functions_off(self, call: Call) -> None:
        self.functions -= set(call.args)
        self._push(force=False)

    def functions_all_on(self, call: Call) -> None:
        self.functions = set(FUNCTIONS) if self.state["SENS:FUNC:CONC"] else {"CURR:DC"}
        self._push(force=False)

    def functions_all_off(self, call: Call) -> None:
        self.functions = set()
        self._push(force=False)

    def _concurrent_set(self, key: str, value: bool) -> None:
        if not value and len(self.functions) > 1:
            self.functions = {next(f for f in FUNCTIONS if f in self.functions)}
            self._push(force=False)

    def query_functions(self, call: Call) -> str:
        return ",".join(f'"{f}"' for f in FUNCTIONS if f in self.functions)

    def query_functions_off(self, call: Call) -> str:
        return ",".join(f'"{f}"' for f in FUNCTIONS if f not in self.functions)

    def query_function_count(self, call: Call) -> str:
        return str(len(self.functions))

    def query_function_state(self, call: Call) -> str:
        return "1" if call.args[0] in self.functions else "0"

    def query_tripped(self, call: Call) -> str:
        """1 when the last reading was in compliance on the queried protection."""
        limits_current = ":CURR" in call.header
        sourcing = self._drive()[0]
        relevant = (sourcing == "voltage") == limits_current
        return "1" if self.compliance_tripped and relevant else "0"

    # ------------------------------------------------------------------ readings

    def _line_frequency(self) -> float:
        return float(self.state["SYST:LFR"])

    def _filter_count(self) -> int:
        return int(self.state["SENS:AVER:COUN"]) if self.state["SENS:AVER"] else 1

    def conversion_time(self) -> float:
        """Seconds of one reading's integration: NPLC / line frequency, times the
        repeating filter's count."""
        repeat = self.state["SENS:AVER:TCON"] == "REP"
        count = self._filter_count() if repeat else 1
        return self.state["SENS:NPLC"] / self._line_frequency() * count

    def _source_delay(self) -> float:
        return AUTO_SOURCE_DELAY if self.state["SOUR:DEL:AUTO"] else self.state["SOUR:DEL"]

    def _triggers_immediately(self) -> bool:
        return self.state["ARM:SOUR"] in ("IMM", "TIM") and self.state["TRIG:SOUR"] == "IMM"

    def _check_output(self) -> None:
        if not self.state["OUTP"] and not self.state["SOUR:CLE:AUTO"]:
            raise ScpiError(803, "output is off")

    def _plan(self, start: float) -> tuple[list[float], float]:
        """Instrument times of the readings of one pass through the trigger model."""
        auto_off = self.state["SOUR:CLE:AUTO"]
        times: list[float] = []
        t = start
        settling = self._settling or auto_off
        for arm in range(int(self.state["ARM:COUN"])):
            if self.state["ARM:SOUR"] == "TIM":
                t = max(t, start + arm * self.state["ARM:TIM"])
            for _ in range(int(self.state["TRIG:COUN"])):
                t += self.state["TRIG:DEL"]
                if settling:
                    t += self._source_delay()
                    settling = auto_off
                t += self.conversion_time()
                times.append(t)
        return times, t

    def _junction(self, t: float) -> tuple[float, float, bool]:
        """Voltage (V), current (A) and compliance at the (on) output at ``t``; an
        unwired output is an open circuit."""
        if "output" in self.wiring:
            r = self.world.junction_reading(self.name, t)
            return r.voltage, r.current, r.in_compliance
        mode, level, compliance = self._drive()
        if mode == "voltage":
            return level, 0.0, False
        if level == 0:
            return 0.0, 0.0, False
        return math.copysign(compliance, level), 0.0, True

    def _measure_range(self, value: float, quantity: str) -> float:
        """Full scale (V or A) ``value`` is measured on: the source range for the sourced
        quantity, else the fixed or auto range, never above the compliance range
        (section 18, SENSe range notes)."""
        ranges = CURRENT_RANGES if quantity == "CURR" else VOLTAGE_RANGES
        mode, level, _ = self._drive()
        if (mode == "current") == (quantity == "CURR"):
            if self._auto_ohms():
                return _snap(level, ranges)
            return float(self.state[f"SOUR:{quantity}:RANG"])
        cap = _snap(self.state[f"SENS:{quantity}:PROT"], ranges)
        key = f"SENS:{quantity}:RANG"
        if self.state[f"{key}:AUTO"]:
            self.state[key] = min(_snap(value, ranges), cap)
        return float(min(self.state[key], cap))

    def _measure(self, value: float, quantity: str) -> tuple[float, bool]:
        """A measured value with noise, and whether it overflows its range."""
        full_scale = self._measure_range(value, quantity)
        if abs(value) > full_scale * (1 + 1e-9):
            return OVERFLOW, True
        if self.world.noise_enabled:
            sigma = (RELATIVE_NOISE * abs(value) + RANGE_NOISE * full_scale) \
                / math.sqrt(self.state["SENS:NPLC"] * self._filter_count())
            value += sigma * float(self.noise.standard_normal())
        return value, False

    def _resistance_overflows(self, resistance: float) -> bool:
        """Auto ohms measures on a resistance range (auto or fixed); manual ohms is
        V / I and has none."""
        if not self._auto_ohms():
            return False
        if self.state["SENS:RES:RANG:AUTO"]:
            self.state["SENS:RES:RANG"] = _snap(resistance, RESISTANCE_RANGES)
        return abs(resistance) > self.state["SENS:RES:RANG"] * (1 + 1e-9)

    def _status_word(self, mode: str, in_compliance: bool) -> int:
        status = 0
        if in_compliance:
            quantity = "VOLT" if mode == "current" else "CURR"
            ranged = self._compliance(quantity) < abs(self.state[f"SENS:{quantity}:PROT"])
            status |= SW_RANGE_COMPLIANCE if ranged else SW_COMPLIANCE
        status |= SW_ISOUR if mode == "current" else SW_VSOUR
        if self.state["SENS:AVER"]:
            status |= SW_FILTER
        if self.state["ROUT:TERM"] == "FRON":
            status |= SW_FRONT
        if self.state["SYST:RSEN"]:
            status |= SW_REMOTE_SENSE
        if "VOLT:DC" in self.functions:
            status |= SW_VMEAS
        if "CURR:DC" in self.functions:
            status |= SW_IMEAS
        if "RES" in self.functions:
            status |= SW_RMEAS | (SW_AUTO_OHMS if self._auto_ohms() else 0)
        return status

    def _sample(self, t: float) -> Sample:
        """One source-measure reading at instrument time ``t``: measured functions take
        priority, the sourced quantity reads its level, the rest NAN (section 17)."""
        v, i, in_compliance = self._junction(t)
        mode, level, _ = self._drive()
        status = self._status_word(mode, in_compliance)
        voltage = level if mode == "voltage" else NAN
        current = level if mode == "current" else NAN
        resistance = NAN
        overflow = False
        measure_r = "RES" in self.functions
        if "VOLT:DC" in self.functions or measure_r:
            v_meas, v_over = self._measure(v, "VOLT")
            if "VOLT:DC" in self.functions:
                voltage, overflow = v_meas, v_over
        if "CURR:DC" in self.functions or measure_r:
            i_meas, i_over = self._measure(i, "CURR")
            if "CURR:DC" in self.functions:
                current, overflow = i_meas, overflow or i_over
        if measure_r:
            if v_over or i_over:
                resistance, overflow = OVERFLOW, True
            elif i != 0 and i_meas != 0:
                r_over = self._resistance_overflows(v / i)
                resistance = OVERFLOW if r_over else v_meas / i_meas
                overflow = overflow or r_over
        if overflow:
            status |= SW_OFLO
        self.compliance_tripped = in_compliance
        self.status_event("MEAS", RAV | (CMPL if in_compliance else 0) | (ROF if overflow else 0))
        return Sample(voltage, current, resistance, t - self.time_zero, status)

    def _acquire(self, times: list[float]) -> list[Sample]:
        """Take the readings at ``times``, keep them as the latest and feed the buffer."""
        self._settling = False
        samples = [self._sample(t) for t in times]
        self.samples = samples
        for sample in samples:
            if self.state["TRAC:FEED:CONT"] != "NEXT":
                break
            self.buffer.append(sample)
            if len(self.buffer) >= 2:
                self.status_event("MEAS", BAV)
            if len(self.buffer) >= self.state["TRAC:POIN"]:
                self.state["TRAC:FEED:CONT"] = "NEV"
                self.status_event("MEAS", BFL)
        if self._auto_ohms():
            self._push(force=False)
        return samples

    def _format(self, values: list[float]) -> str | bytes:
        if self.data_format == "ASC":
            return ",".join(self.number_format(v) for v in values)
        order = "<" if self.data_format == "SRE" or self.state["FORM:BORD"] == "SWAP" else ">"
        return b"#0" + struct.pack(f"{order}{len(values)}f", *values)

    def _format_samples(self, samples: list[Sample]) -> str | bytes:
        return self._format([s.element(e) for s in samples for e in self.elements])

    def query_read(self, call: Call) -> str | bytes:
        """READ?: an ABORt, an INITiate, and the readings (FETCh?) once it completes."""
        self._armed = False
        self._check_output()
        if not self._triggers_immediately():
            raise ScpiError(-214, "READ? waits for an arm or trigger event")
        auto_off = self.state["SOUR:CLE:AUTO"] and not self.state["OUTP"]
        if auto_off:
            self.state["OUTP"] = True
            self._push()
        times, end = self._plan(self.cursor)
        self.cursor = end
        samples = self._acquire(times)
        if auto_off:
            self.state["OUTP"] = False
            self._push()
        return self._format_samples(samples)

    def query_fetch(self, call: Call) -> str | bytes:
        if not self.samples:
            raise ScpiError(-230, "no readings yet")
        return self._format_samples(self.samples)

    def configure(self, call: Call) -> None:
        """CONFigure:<function>: one-shot mode on that function, output on (section 17)."""
        self._configure(_function_of(call.header))

    def _configure(self, function: str) -> None:
        """Select ``function`` alone, immediate one-count triggering, no buffer feed,
        auto zero, output on. The function's own settings (range, NPLC) are kept, so
        that a driver's settings made before a MEASure? hold."""
        self.functions = {function}
        for key, value in (("ARM:SOUR", "IMM"), ("TRIG:SOUR", "IMM"), ("ARM:COUN", 1),
                           ("TRIG:COUN", 1), ("TRIG:DEL", 0.0), ("TRAC:FEED:CONT", "NEV"),
                           ("SYST:AZER", True)):
            self.state[key] = value
        self._armed = False
        if not self.state["SOUR:CLE:AUTO"]:
            self.state["OUTP"] = True
        self._push(force=False)

    def query_measure(self, call: Call) -> str | bytes:
        """MEASure[:<function>]?: CONFigure then READ?; bare MEASure? measures the
        presently selected function."""
        if call.header.endswith(("MEAS", "MEASURE")):
            self._configure(next((f for f in FUNCTIONS if f in self.functions), "CURR:DC"))
        else:
            self._configure(_function_of(call.header))
        return self.query_read(call)

    # ------------------------------------------------------------------ trigger model

    def initiate(self, call: Call) -> None:
        """INITiate: run the trigger model; with a bus, link or manual event source it
        waits (a bus trigger starts it; the others never come on this bench)."""
        if self._armed:
            raise ScpiError(-213, "already waiting for a trigger")
        self._check_output()
        if self._triggers_immediately():
            self._start_run()
        else:
            self._armed = True

    def _start_run(self) -> None:
        auto_off = bool(self.state["SOUR:CLE:AUTO"] and not self.state["OUTP"])
        if auto_off:
            self.state["OUTP"] = True
            self._push()
        times, end = self._plan(self.cursor)
        self._run = Run(times, end, auto_off)
        self.start_operation(end - self.cursor)

    def _finish_run(self, t: float) -> None:
        """Take the readings of the run up to ``t`` (its end, or an abort)."""
        run, self._run = self._run, None
        assert run is not None
        self._acquire([time for time in run.times if time <= t])
        self.operation_end = min(self.operation_end, max(t, self.cursor))
        if run.auto_off and self.state["OUTP"]:
            self.state["OUTP"] = False
            self._push(t)

    def trigger(self) -> None:
        """*TRG or GET: starts a run waiting on the bus arm event."""
        if self._armed and self.state["ARM:SOUR"] == "BUS" and self.state["TRIG:SOUR"] == "IMM":
            self._armed = False
            self._start_run()

    def abort(self, call: Call) -> None:
        self._armed = False

    def trigger_clear(self, call: Call) -> None:
        """TRIGger:CLEar: drop a latched input trigger (none are latched here)."""

    def set_count(self, call: Call) -> None:
        layer = "ARM" if call.header.startswith(":ARM") else "TRIG"
        other = self.state["TRIG:COUN" if layer == "ARM" else "ARM:COUN"]
        if call.args[0] * other > MAX_READINGS:
            raise ScpiError(-222, f"arm count x trigger count exceeds {MAX_READINGS}")
        self.state[f"{layer}:COUN"] = call.args[0]

    def set_output_events(self, call: Call) -> None:
        layer = "ARM" if call.header.startswith(":ARM") else "TRIG"
        events = tuple(dict.fromkeys(call.args))
        if "NONE" in events and len(events) > 1:
            raise ScpiError(-224, "NONE with other events")
        self.output_events[layer] = events

    def query_output_events(self, call: Call) -> str:
        layer = "ARM" if call.header.startswith(":ARM") else "TRIG"
        return ",".join(self.output_events[layer])

    # ------------------------------------------------------------------ data store

    def clear_buffer(self, call: Call) -> None:
        """TRACe:CLEar; refused while storage is active (feed control NEXT, buffer not
        yet full), as PyMeasure users meet on the real instrument (error +800)."""
        if self.state["TRAC:FEED:CONT"] == "NEXT":
            raise ScpiError(800, "storage is active; send TRACe:FEED:CONTrol NEVer first")
        self.buffer = []

    def query_buffer_count(self, call: Call) -> str:
        return str(len(self.buffer))

    def query_buffer_free(self, call: Call) -> str:
        used = len(self.buffer) * 4 * len(ELEMENTS)
        return f"{MAX_READINGS * 4 * len(ELEMENTS) - used},{used}"

    def query_buffer(self, call: Call) -> str | bytes:
        if not self.buffer:
            raise ScpiError(-230, "the buffer is empty")
        first = self.buffer[0].time
        previous = first
        samples = []
        for s in self.buffer:
            stamp = s.time - first if self.state["TRAC:TST:FORM"] == "ABS" else s.time - previous
            previous = s.time
            samples.append(Sample(s.voltage, s.current, s.resistance, stamp, s.status))
        return self._format_samples(samples)

    def query_statistics(self, call: Call) -> str | bytes:
        """CALCulate3:DATA?: the statistic of each of V, I, R over the buffer."""
        if not self.buffer:
            raise ScpiError(-230, "the buffer is empty")
        results = []
        for element in ("VOLT", "CURR", "RES"):
            if element not in self.elements:
                continue
            values = np.array([s.element(element) for s in self.buffer])
            results.append(self._statistic(values))
        return self._format(results)

    def _statistic(self, values: np.ndarray) -> float:
        kind = self.state["CALC3:FORM"]
        if kind == "MEAN":
            return float(values.mean())
        if kind == "SDEV":
            return float(values.std(ddof=1)) if len(values) > 1 else 0.0
        if kind == "MAX":
            return float(values.max())
        if kind == "MIN":
            return float(values.min())
        return float(values.max() - values.min())

    # ------------------------------------------------------------------ FORMat

    def set_data_format(self, call: Call) -> None:
        self.data_format = call.args[0]

    def query_data_format(self, call: Call) -> str:
        return {"ASC": "ASC", "REAL": "REAL,32", "SRE": "SRE"}[self.data_format]

    def set_elements(self, call: Call) -> None:
        chosen = set(call.args)
        self.elements = tuple(e for e in ELEMENTS if e in chosen)

    def query_elements(self, call: Call) -> str:
        return ",".join(self.elements)

    # ------------------------------------------------------------------ SYSTem

    def set_autozero(self, call: Call) -> None:
        """SYSTem:AZERo ON|OFF|ONCE; ONCE refreshes the references (one conversion)."""
        if call.args[0].upper() == "ONCE":
            self.spend(self.conversion_time())
            return
        self.state["SYST:AZER"] = Boolean().parse(call.args[0])

    def beep(self, call: Call) -> None:
        """SYSTem:BEEPer: the beep plays while the next commands run."""

    def query_time(self, call: Call) -> str:
        return self.number_format(self.cursor - self.time_zero)

    def reset_time(self, call: Call) -> None:
        self.time_zero = self.cursor

    # ------------------------------------------------------------------ STATus

    def format_register(self, value: int) -> str:
        """Register replies in the FORM:SREG format (ASCii, HEXadecimal, OCTal, BINary)."""
        kind = self.state["FORM:SREG"]
        if kind == "HEX":
            return f"#H{value:X}"
        if kind == "OCT":
            return f"#Q{value:o}"
        if kind == "BIN":
            return f"#B{value:b}"
        return str(value)

    def condition(self, register: str) -> int:
        """Measurement condition: compliance, buffer full, buffer available."""
        if register != "MEAS":
            return 0
        return ((CMPL if self.compliance_tripped else 0)
                | (BFL if len(self.buffer) >= self.state["TRAC:POIN"] else 0)
                | (BAV if len(self.buffer) >= 2 else 0))

    def summary_bits(self) -> int:
        """MSB (1), QSB (8) and OSB (128) of the status byte. A serial poll during a
        run sees its end once the bench clock has passed it."""
        if self._run is not None and self.world.clock.now() >= self._run.end:
            self.cursor = max(self.cursor, self._run.end)
            self._finish_run(self._run.end)
        return super().summary_bits()
