"""Keithley 2182A nanovoltmeter.

Follows the Model 2182/2182A User's Manual (2182A-900-01): section 3 (range, rate,
digital and analog filters), section 4 (relative), section 6 (buffer and its
statistics), section 7 (trigger model), section 11 (status structure), sections 13 and
14 (signal-oriented commands and SCPI tables: CALCulate2, DISPlay, FORMat, SENSe,
STATus, SYSTem, TRACe, TRIGger). It serves PyMeasure's ``Keithley2182`` unmodified.

A conversion integrates for NPLC / line frequency seconds of instrument time (the
repeating filter takes ``count`` conversions per reading; the moving filter, whose
window resets on a step, one) and reads the junction wired to ``input`` at its end.
Channel 1 reads that junction, channel 2 an open 0 V input; both add Gaussian noise of
50 nV / sqrt(NPLC) (divided by sqrt(count) with the digital filter) when the world's
noise is on. Acquisitions started by ``INIT`` or ``READ?`` run to their end before the
next message is taken (the instrument's clock advances by their duration), so the
buffer-full status bit is set by the time the next ``*STB?`` is answered.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Mapping
from dataclasses import dataclass
from typing import ClassVar

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
)
from labrf.sim.status import SCPI_STATUS, ScpiStatusModel
from labrf.wire import Link

OVERFLOW = 9.9e37  #: the reading a Keithley returns when the input exceeds the range
NAN = 9.91e37  #: what a Keithley returns for a result that is not a number
NOISE_1PLC = 50e-9  #: V rms of one 1-PLC conversion
ROOM_TEMPERATURE = 25.0  #: deg C of the internal sensor and of an unwired thermocouple
TEMPERATURE_NOISE = 0.01  #: deg C rms of a temperature reading
RANGES = {1: (0.01, 0.1, 1.0, 10.0, 100.0), 2: (0.1, 1.0, 10.0)}  #: V per channel
OVERRANGE = 1.2  #: a range reads up to 120 % of its full scale

# Measurement event register bits (manual section 11).
ROF, RAV, BAV, BHF, BFL = 1, 32, 128, 256, 512


class InfNumber(Number):
    """A number that also takes INF (``specials``); queries answer INF as +9.9E37."""

    def format(self, value: object, number_format: object) -> str:
        if value == math.inf:
            return number_format(OVERFLOW)  # type: ignore[operator]
        return super().format(value, number_format)  # type: ignore[arg-type]


@dataclass(frozen=True)
class Clamped(InfNumber):
    """A number the instrument limits to ``[lo, hi]`` that also takes values up to
    ``[accept_lo, accept_hi]``, clamped into its range: values a PyMeasure driver sends
    that the real instrument would refuse (``%g`` turns 999999.999 into 1e+06; a few
    declared ranges are wider than the instrument's)."""

    accept_lo: float = -math.inf
    accept_hi: float = math.inf

    def parse(self, token: str) -> float:
        if token.strip().upper() in ("MIN", "MINIMUM", "MAX", "MAXIMUM", "DEF", "DEFAULT"):
            return super().parse(token)
        wide = Number(self.accept_lo, self.accept_hi, self.unit, self.integer, self.default,
                      self.specials)
        value = wide.parse(token)
        if value in self.specials.values():
            return value
        return min(max(value, self.lo), self.hi)


def _range_type(suffix: Mapping[str, int]) -> ParamType:
    # PyMeasure's channel 2 sends channel 1's limits (its per-channel values do not
    # reach the validator): accepted, as the top range of channel 2.
    if suffix.get("ch", 1) == 1:
        return Number(0, 120, unit="V")
    return Clamped(0, 12, unit="V", accept_hi=120)


def _ref_type(suffix: Mapping[str, int]) -> ParamType:
    if suffix.get("ch", 1) == 1:
        return Number(-120, 120, unit="V", default=0)
    return Clamped(-12, 12, unit="V", default=0, accept_lo=-120, accept_hi=120)


_CH = {"ch": (1, 2)}
_CH1 = {"ch": (1,)}
_FUNCTIONS = QuotedChoice({"VOLTage[:DC]": "VOLT:DC", "TEMPerature": "TEMP"})
_NPLC = Number(0.01, 60, default=5)
_VOLT = "[:SENSe]:VOLTage[:DC]"
_TEMP = "[:SENSe]:TEMPerature"

COMMANDS = CommandTable(
    # SENSe: function, channel, rate
    Setting("[:SENSe]:FUNCtion", _FUNCTIONS, "VOLT:DC", key="FUNC", on_change="_reconfigured"),
    Setting("[:SENSe]:CHANnel", Number(0, 2, integer=True), 1, key="CHAN",
            on_change="_reconfigured"),
    Query(f"{_VOLT}:NPLCycles", "query_nplc", params=(Text(),), optional=1),
    Command(f"{_VOLT}:NPLCycles", "set_nplc", params=(_NPLC,)),
    Query(f"{_VOLT}:APERture", "query_aperture"),
    Command(f"{_VOLT}:APERture", "set_aperture", params=(Number(166e-6, 1.0, unit="S"),)),
    Query(f"{_TEMP}:NPLCycles", "query_nplc", params=(Text(),), optional=1),
    Command(f"{_TEMP}:NPLCycles", "set_nplc", params=(_NPLC,)),
    Query(f"{_TEMP}:APERture", "query_aperture"),
    Command(f"{_TEMP}:APERture", "set_aperture", params=(Number(166e-6, 1.0, unit="S"),)),
    Setting(f"{_VOLT}:DIGits", Number(4, 8, integer=True, default=8), 8, key="VOLT:DIG"),
    Setting(f"{_TEMP}:DIGits", Number(4, 7, integer=True, default=7), 7, key="TEMP:DIG"),
    # SENSe: range per channel ([:CHANnel<ch>] omitted means channel 1; PyMeasure's
    # setup_voltage sends :SENS:VOLT:RANG:AUTO 1 without it)
    Setting(f"{_VOLT}[:CHANnel<ch>]:RANGe[:UPPer]", _range_type, 100.0,
            key="VOLT:CHAN{ch}:RANG", suffixes=_CH, on_change="_range_set"),
    Setting(f"{_VOLT}[:CHANnel<ch>]:RANGe:AUTO", Boolean(), True,
            key="VOLT:CHAN{ch}:RANG:AUTO", suffixes=_CH, on_change="_reconfigured"),
    # SENSe: relative (REL)
    Setting(f"{_VOLT}[:CHANnel<ch>]:REFerence", _ref_type, 0.0, key="VOLT:CHAN{ch}:REF",
            suffixes=_CH),
    Setting(f"{_VOLT}[:CHANnel<ch>]:REFerence:STATe", Boolean(), False,
            key="VOLT:CHAN{ch}:REF:STAT", suffixes=_CH),
    Command(f"{_VOLT}[:CHANnel<ch>]:REFerence:ACQuire", "acquire_reference", suffixes=_CH),
    # PyMeasure addresses the temperature reference per channel (:SENS:TEMP:CHAN1:REF);
    # the channel node is accepted and each channel keeps its own reference.
    Setting(f"{_TEMP}[:CHANnel<ch>]:REFerence", Number(-273, 1800, default=0), 0.0,
            key="TEMP:CHAN{ch}:REF", suffixes=_CH),
    Setting(f"{_TEMP}[:CHANnel<ch>]:REFerence:STATe", Boolean(), False,
            key="TEMP:CHAN{ch}:REF:STAT", suffixes=_CH),
    Command(f"{_TEMP}[:CHANnel<ch>]:REFerence:ACQuire", "acquire_reference", suffixes=_CH),
    # SENSe: filters (digital filter and analog low pass on channel 1)
    Setting(f"{_VOLT}[:CHANnel<ch>]:DFILter[:STATe]", Boolean(), True, key="VOLT:DFIL",
            suffixes=_CH1, on_change="_reconfigured"),
    Setting(f"{_VOLT}[:CHANnel<ch>]:DFILter:COUNt", Number(1, 100, integer=True, default=10),
            10, key="VOLT:DFIL:COUN", suffixes=_CH1, on_change="_reconfigured"),
    Setting(f"{_VOLT}[:CHANnel<ch>]:DFILter:TCONtrol", Choice("MOVing", "REPeat"), "MOV",
            key="VOLT:DFIL:TCON", suffixes=_CH1, on_change="_reconfigured"),
    Setting(f"{_VOLT}[:CHANnel<ch>]:DFILter:WINDow", Number(0, 10, default=0.01), 0.01,
            key="VOLT:DFIL:WIND", suffixes=_CH1),
    Setting(f"{_VOLT}[:CHANnel<ch>]:LPASs[:STATe]", Boolean(), False, key="VOLT:LPAS",
            suffixes=_CH1),
    Setting(f"{_TEMP}:DFILter[:STATe]", Boolean(), True, key="TEMP:DFIL"),
    Setting(f"{_TEMP}:DFILter:COUNt", Number(1, 100, integer=True, default=10), 10,
            key="TEMP:DFIL:COUN"),
    Setting(f"{_TEMP}:DFILter:TCONtrol", Choice("MOVing", "REPeat"), "MOV",
            key="TEMP:DFIL:TCON"),
    Setting(f"{_TEMP}:DFILter:WINDow", Number(0, 10, default=0.01), 0.01,
            key="TEMP:DFIL:WIND"),
    Setting(f"{_TEMP}:LPASs[:STATe]", Boolean(), False, key="TEMP:LPAS"),
    # SENSe: temperature transducer
    Setting(f"{_TEMP}:TRANsducer", Choice("TCouple", "INTernal"), "TC", key="TEMP:TRAN"),
    Setting(f"{_TEMP}:TCouple[:TYPE]", Choice("B", "E", "J", "K", "N", "R", "S", "T"), "J",
            key="TEMP:TC"),
    Setting(f"{_TEMP}:RJUNction:RSELect", Choice("SIMulated", "INTernal"), "INT",
            key="TEMP:RJUN:RSEL"),
    Setting(f"{_TEMP}:RJUNction:SIMulated", Number(0, 60, default=23), 23.0,
            key="TEMP:RJUN:SIM"),
    Query(f"{_TEMP}:RTEMperature", "query_internal_temperature"),
    Setting(":UNIT:TEMPerature", Choice("C", "CEL", "F", "FAR", "K"), "C", key="UNIT:TEMP"),
    # SENSe: ratio and delta of the two channels
    Setting(f"{_VOLT}:DELTa", Boolean(), False, key="VOLT:DELT", on_change="_reconfigured"),
    Setting(f"{_VOLT}:RATio", Boolean(), False, key="VOLT:RAT", on_change="_reconfigured"),
    # Signal oriented commands and readings
    Query("[:SENSe]:DATA[:LATest]", "query_latest"),
    Query("[:SENSe]:DATA:FRESh", "query_fresh"),
    Query(":READ", "query_read"),
    Query(":FETCh", "query_fetch"),
    Query(":MEASure[:VOLTage][:DC]", "query_measure_voltage"),
    Query(":MEASure:TEMPerature", "query_measure_temperature"),
    Command(":CONFigure[:VOLTage][:DC]", "configure_voltage"),
    Command(":CONFigure:TEMPerature", "configure_temperature"),
    Query(":CONFigure", "query_configure"),
    # Trigger model
    Command(":INITiate[:IMMediate]", "initiate"),
    Setting(":INITiate:CONTinuous", Boolean(), False, key="INIT:CONT",
            on_change="_continuous_set"),
    Command(":ABORt", "abort"),
    Setting(":TRIGger[:SEQuence]:SOURce", Choice("IMMediate", "EXTernal", "TIMer", "MANual",
                                                  "BUS"), "IMM", key="TRIG:SOUR"),
    Setting(":TRIGger[:SEQuence]:COUNt",
            InfNumber(1, 9999, integer=True, default=1, specials={"INF": math.inf}), 1.0,
            key="TRIG:COUN"),
    Setting(":TRIGger[:SEQuence]:DELay",
            Clamped(0, 999999.999, unit="S", default=0, accept_hi=1e6), 0.0,
            key="TRIG:DEL", on_change="_delay_set"),
    Setting(":TRIGger[:SEQuence]:DELay:AUTO", Boolean(), False, key="TRIG:DEL:AUTO"),
    Setting(":TRIGger[:SEQuence]:TIMer",
            Clamped(0.001, 999999.999, unit="S", default=0.1, accept_hi=1e6),
            0.1, key="TRIG:TIM"),
    Command(":TRIGger[:SEQuence]:SIGNal", "trigger_signal"),
    Setting(":SAMPle:COUNt", Number(1, 1024, integer=True, default=1), 1.0, key="SAMP:COUN"),
    # Buffer and its statistics
    Setting(":TRACe:POINts", Number(2, 1024, integer=True, default=1024), 1024.0,
            key="TRAC:POIN"),
    Query(":TRACe:POINts:ACTual", "query_buffer_count"),
    Setting(":TRACe:FEED", Choice("SENSe", "SENSe1", "CALCulate", "CALCulate1", "NONE",
                                  replies={"SENS1": "SENS", "CALC1": "CALC"}), "SENS",
            key="TRAC:FEED"),
    Setting(":TRACe:FEED:CONTrol", Choice("NEVer", "NEXT"), "NEV", key="TRAC:FEED:CONT",
            on_change="_feed_control_set"),
    Command(":TRACe:CLEar", "clear_buffer"),
    Query(":TRACe:DATA", "query_buffer"),
    Query(":TRACe:FREE", "query_buffer_free"),
    Setting(":TRACe:TSTamp:FORMat", Choice("ABSolute", "DELTa"), "ABS", key="TRAC:TST:FORM"),
    Setting(":CALCulate2:FORMat", Choice("MEAN", "SDEViation", "MAXimum", "MINimum",
                                         "PKPK", "NONE"), "MEAN", key="CALC2:FORM"),
    Setting(":CALCulate2:STATe", Boolean(), False, key="CALC2:STAT"),
    Query(":CALCulate2:IMMediate", "query_statistic"),
    Command(":CALCulate2:IMMediate", "compute_statistic"),
    Query(":CALCulate2:DATA", "query_statistic_data"),
    # SYSTem, DISPlay, FORMat
    Query(":SYSTem:LFRequency", "query_line_frequency"),
    Setting(":SYSTem:AZERo[:STATe]", Boolean(), True, key="SYST:AZER"),
    Setting(":SYSTem:FAZero[:STATe]", Boolean(), True, key="SYST:FAZ"),
    Setting(":SYSTem:LSYNc[:STATe]", Boolean(), False, key="SYST:LSYN"),
    Setting(":SYSTem:BEEPer[:STATe]", Boolean(), True, key="SYST:BEEP", rst=False),
    Command(":SYSTem:PRESet", "system_preset"),
    Setting(":DISPlay:ENABle", Boolean(), True, key="DISP:ENAB", rst=False),
    Setting(":DISPlay[:WINDow<w>]:TEXT:DATA", Text(), "", key="DISP:TEXT",
            suffixes={"w": (1,)}),
    Setting(":DISPlay[:WINDow<w>]:TEXT:STATe", Boolean(), False, key="DISP:TEXT:STAT",
            suffixes={"w": (1,)}),
    Setting(":FORMat[:DATA]", Choice("ASCii", "SREal"), "ASC", key="FORM:DATA"),
    Setting(":FORMat:BORDer", Choice("NORMal", "SWAPped"), "SWAP", key="FORM:BORD"),
) + SCPI_STATUS + SCPI_SYSTEM


class Keithley2182A(ScpiStatusModel, Emulator):
    """Keithley 2182A two-channel nanovoltmeter reading one junction on channel 1."""

    model = "keithley2182a"
    link = Link("\r", "\r", baud_rate=9600)  # CR-terminated RS-232, 9600 baud 8N1
    idn = "KEITHLEY INSTRUMENTS INC.,MODEL 2182A,1234567,C02 /A02"
    commands = COMMANDS
    error_queue_size = 10
    error_texts: ClassVar[dict[int, str]] = {
        -211: "Trigger ignored", -213: "Init ignored", -214: "Trigger deadlock"}
    ports: ClassVar[dict[str, tuple[str, ...]]] = {"input": ("mtj", "chain", "route")}
    self_test_time = 3.0
    boot_time = 10.0

    # ------------------------------------------------------------------ life cycle

    def on_reset(self) -> None:
        self.state["VOLT:NPLC"] = 5.0
        self.state["TEMP:NPLC"] = 5.0
        self.readings: list[float] = []  #: readings of the last acquisition (FETCh?)
        self.buffer: list[float] = []
        self.statistic: float | None = None
        self.pending_triggers = 0  #: triggers an INIT waits for (BUS source)

    def power_on(self) -> None:
        super().power_on()
        self.state["INIT:CONT"] = True  # front panel default: continuous measuring

    def system_preset(self, call: Call) -> None:
        """``SYST:PRES``: the front-panel defaults, i.e. *RST with continuous measuring."""
        self.reset()
        self.state["INIT:CONT"] = True

    def number_format(self, value: float) -> str:
        return f"{value:+.8E}"

    # ------------------------------------------------------------------ settings hooks

    def _reconfigured(self, key: str, value: object) -> None:
        """A measurement setting changed: the last readings are no longer valid."""
        self.readings = []

    def _range_set(self, key: str, value: float) -> None:
        channel = 1 if key == "VOLT:CHAN1:RANG" else 2
        self.state[key] = next((r for r in RANGES[channel] if r >= value),
                               RANGES[channel][-1])
        self.state[f"VOLT:CHAN{channel}:RANG:AUTO"] = False
        self.readings = []

    def _delay_set(self, key: str, value: float) -> None:
        self.state["TRIG:DEL:AUTO"] = False

    def _continuous_set(self, key: str, value: bool) -> None:
        self.pending_triggers = 0
        self._fill_continuously()

    def _feed_control_set(self, key: str, value: str) -> None:
        """``TRAC:FEED:CONT NEXT`` starts storing into an empty buffer."""
        if value == "NEXT":
            self.clear_buffer()
            self._fill_continuously()

    def _fill_continuously(self) -> None:
        """While measuring continuously, a buffer set to store fills with the readings
        that follow; the instrument is busy until it is full."""
        if not (self.state["INIT:CONT"] and self.state["TRAC:FEED:CONT"] == "NEXT"):
            return
        while self.state["TRAC:FEED:CONT"] == "NEXT" and self.state["TRAC:FEED"] != "NONE":
            self._store(self._convert())

    def _function(self) -> str:
        """'VOLT' or 'TEMP' for the active channel (channel 0 is the internal sensor)."""
        if self.state["CHAN"] == 0 or self.state["FUNC"] == "TEMP":
            return "TEMP"
        return "VOLT"

    # ------------------------------------------------------------------ NPLC

    def query_nplc(self, call: Call) -> str:
        key = "TEMP:NPLC" if ":TEMP" in call.header else "VOLT:NPLC"
        if call.args:
            word = call.args[0].upper()
            limits = {"MIN": 0.01, "MINIMUM": 0.01, "DEF": 5.0, "DEFAULT": 5.0,
                      "MAX": self._max_nplc(), "MAXIMUM": self._max_nplc()}
            if word not in limits:
                raise ScpiError(-224, f"'{call.args[0]}' is not MIN, MAX or DEF")
            return self.number_format(limits[word])
        return self.number_format(self.state[key])

    def set_nplc(self, call: Call) -> None:
        value = call.args[0]
        if call.raw[0].strip().upper() in ("MAX", "MAXIMUM"):
            value = self._max_nplc()
        if value > self._max_nplc():
            raise ScpiError(-222, f"NPLC {value:g} above {self._max_nplc():g} at "
                                  f"{self.world.line_frequency:g} Hz line")
        self.state["TEMP:NPLC" if ":TEMP" in call.header else "VOLT:NPLC"] = value
        self.readings = []

    def query_aperture(self, call: Call) -> str:
        key = "TEMP:NPLC" if ":TEMP" in call.header else "VOLT:NPLC"
        return self.number_format(self.state[key] / self.world.line_frequency)

    def set_aperture(self, call: Call) -> None:
        nplc = call.args[0] * self.world.line_frequency
        if not 0.01 - 1e-9 <= nplc <= self._max_nplc() + 1e-9:
            raise ScpiError(-222, f"aperture {call.args[0]:g} s outside 0.01 to "
                                  f"{self._max_nplc():g} power line cycles")
        self.state["TEMP:NPLC" if ":TEMP" in call.header else "VOLT:NPLC"] = nplc
        self.readings = []

    def _max_nplc(self) -> float:
        return 60.0 if self.world.line_frequency >= 60 else 50.0

    # ------------------------------------------------------------------ one reading

    def _filter(self) -> tuple[int, str]:
        """(count, type) of the active function's digital filter; count 1 when off."""
        prefix = self._function()
        if not self.state[f"{prefix}:DFIL"]:
            return 1, "MOV"
        return int(self.state[f"{prefix}:DFIL:COUN"]), self.state[f"{prefix}:DFIL:TCON"]

    def conversion_time(self) -> float:
        """Seconds one reading integrates: NPLC / line frequency (times the filter count
        of a repeating filter)."""
        nplc = self.state[f"{self._function()}:NPLC"]
        count, kind = self._filter()
        return nplc / self.world.line_frequency * (count if kind == "REP" else 1)

    def _noise(self, sigma: float) -> float:
        if not self.world.noise_enabled:
            return 0.0
        count, _ = self._filter()
        return float(self.noise.normal(0.0, sigma / math.sqrt(count)))

    def _input_voltage(self, channel: int, t: float) -> float:
        """True DC voltage at a channel's input (V)."""
        if channel == 1 and "input" in self.wiring:
            return self.world.junction_reading(self.name, t).voltage
        return 0.0

    def _volt_reading(self, channel: int, t: float) -> float:
        """One voltage reading of ``channel``: noise, range (auto or overflow) and REL."""
        nplc = self.state["VOLT:NPLC"]
        value = self._input_voltage(channel, t) + self._noise(NOISE_1PLC / math.sqrt(nplc))
        ranges = RANGES[channel]
        if self.state[f"VOLT:CHAN{channel}:RANG:AUTO"]:
            chosen = next((r for r in ranges if abs(value) <= OVERRANGE * r), ranges[-1])
            self.state[f"VOLT:CHAN{channel}:RANG"] = chosen
        if abs(value) > OVERRANGE * self.state[f"VOLT:CHAN{channel}:RANG"]:
            self.status_event("MEAS", ROF)
            return OVERFLOW
        if self.state[f"VOLT:CHAN{channel}:REF:STAT"]:
            value -= self.state[f"VOLT:CHAN{channel}:REF"]
        return value

    def _temperature(self) -> float:
        """Internal / thermocouple temperature in the selected unit (room temperature)."""
        celsius = ROOM_TEMPERATURE + self._noise(TEMPERATURE_NOISE)
        unit = self.state["UNIT:TEMP"]
        if unit in ("F", "FAR"):
            return celsius * 9 / 5 + 32
        if unit == "K":
            return celsius + 273.15
        return celsius

    def _convert(self, spend: bool = True) -> float:
        """Take one reading: spend its integration time, then read the world."""
        if spend:
            self.spend(self.conversion_time())
        t = self.cursor
        channel = int(self.state["CHAN"])
        if self._function() == "TEMP":
            value = self._temperature()
            if channel and self.state[f"TEMP:CHAN{channel}:REF:STAT"]:
                value -= self.state[f"TEMP:CHAN{channel}:REF"]
            return value
        if self.state["VOLT:DELT"] or self.state["VOLT:RAT"]:
            v1, v2 = self._volt_reading(1, t), self._volt_reading(2, t)
            if OVERFLOW in (v1, v2):
                return OVERFLOW
            if self.state["VOLT:RAT"]:
                return v1 / v2 if v2 else OVERFLOW
            return v1 - v2
        return self._volt_reading(channel, t)

    def _store(self, value: float) -> None:
        """A completed reading: reading-available bit, and the buffer when it is fed."""
        self.readings.append(value)
        self.status_event("MEAS", RAV)
        if self.state["TRAC:FEED:CONT"] != "NEXT" or self.state["TRAC:FEED"] == "NONE":
            return
        size = int(self.state["TRAC:POIN"])
        self.buffer.append(value)
        self.status_event("MEAS", BAV)
        if len(self.buffer) >= size / 2:
            self.status_event("MEAS", BHF)
        if len(self.buffer) >= size:
            self.state["TRAC:FEED:CONT"] = "NEV"
            self.status_event("MEAS", BFL)

    # ------------------------------------------------------------------ trigger model

    def _trigger_count(self) -> int:
        count = self.state["TRIG:COUN"]
        if math.isinf(count):
            # An endless trigger count runs until the buffer fills (one reading when the
            # buffer is not being filled); later readings would only overwrite FETCh?.
            if self.state["TRAC:FEED:CONT"] == "NEXT":
                return max(int(self.state["TRAC:POIN"]) - len(self.buffer), 1)
            return 1
        return int(count)

    def _triggered(self, first: bool) -> None:
        """One pass of the trigger layer: delay, then SAMPle:COUNt readings."""
        if self.state["TRIG:SOUR"] == "TIM" and not first:
            self.spend(max(self.state["TRIG:TIM"] - self.conversion_time(), 0.0))
        self.spend(self.state["TRIG:DEL"])
        for _ in range(int(self.state["SAMP:COUN"])):
            self._store(self._convert())

    def initiate(self, call: Call | None = None) -> None:
        """``INIT``: immediate and timer sources measure now (the instrument is busy for
        the acquisition); BUS, EXTernal and MANual wait for their triggers."""
        if self.state["INIT:CONT"]:
            raise ScpiError(-213, "continuous initiation is on")
        self.readings = []
        if self.state["TRIG:SOUR"] in ("IMM", "TIM"):
            for i in range(self._trigger_count()):
                self._triggered(first=i == 0)
            self.pending_triggers = 0
        else:
            self.pending_triggers = self._trigger_count()

    def trigger(self) -> None:
        """``*TRG``: a bus trigger for an INIT waiting on the BUS source."""
        if self.state["TRIG:SOUR"] != "BUS" or self.pending_triggers <= 0:
            self.queue_error(-211)
            return
        self._triggered(first=True)
        self.pending_triggers -= 1

    def trigger_signal(self, call: Call) -> None:
        """``TRIG:SIGN``: bypass the control source once."""
        if self.pending_triggers <= 0:
            raise ScpiError(-211)
        self._triggered(first=True)
        self.pending_triggers -= 1

    def abort(self, call: Call) -> None:
        self.pending_triggers = 0

    def _fresh(self, wait: bool = True) -> float:
        """A continuous-mode reading: one taken now (``wait``), or the one that has just
        completed (no wait)."""
        value = self._convert(spend=wait)
        self.readings = [value]
        self.status_event("MEAS", RAV)
        return value

    def _format_readings(self, values: list[float]) -> str | bytes:
        if self.state["FORM:DATA"] == "SRE":
            order = ">" if self.state["FORM:BORD"] == "NORM" else "<"
            return b"#0" + struct.pack(f"{order}{len(values)}f", *values)
        return ",".join(self.number_format(v) for v in values)

    def query_read(self, call: Call) -> str | bytes:
        """``READ?``: INIT then FETCh? (continuous mode: a fresh reading)."""
        if self.state["INIT:CONT"]:
            return self._format_readings([self._fresh()])
        if self.state["TRIG:SOUR"] in ("BUS", "EXT", "MAN"):
            raise ScpiError(-214, f"READ? with trigger source {self.state['TRIG:SOUR']}")
        self.initiate()
        return self._format_readings(self.readings)

    def query_fetch(self, call: Call) -> str | bytes:
        if self.state["INIT:CONT"]:
            return self._format_readings([self._fresh(wait=False)])
        if not self.readings:
            raise ScpiError(-230, "no reading since the last configuration change")
        return self._format_readings(self.readings)

    def query_latest(self, call: Call) -> str:
        if self.state["INIT:CONT"]:
            return self.number_format(self._fresh(wait=False))
        if not self.readings:
            raise ScpiError(-230, "no reading available")
        return self.number_format(self.readings[-1])

    def query_fresh(self, call: Call) -> str:
        if not self.state["INIT:CONT"] and not self.pending_triggers:
            raise ScpiError(-230, "no measurement in progress")
        return self.number_format(self._fresh())

    def _configure(self, function: str) -> None:
        """``CONF``: function, autorange, one immediate reading per INIT."""
        self.state.update({"FUNC": function, "INIT:CONT": False, "TRIG:SOUR": "IMM",
                           "TRIG:COUN": 1.0, "SAMP:COUN": 1.0, "TRIG:DEL:AUTO": True,
                           "TRIG:DEL": 0.0, "VOLT:CHAN1:RANG:AUTO": True,
                           "VOLT:CHAN2:RANG:AUTO": True})
        if self.state["CHAN"] == 0 and function == "VOLT:DC":
            self.state["CHAN"] = 1
        self.readings = []
        self.pending_triggers = 0

    def configure_voltage(self, call: Call) -> None:
        self._configure("VOLT:DC")

    def configure_temperature(self, call: Call) -> None:
        self._configure("TEMP")

    def query_configure(self, call: Call) -> str:
        return f'"{self.state["FUNC"]}"'

    def query_measure_voltage(self, call: Call) -> str | bytes:
        self._configure("VOLT:DC")
        return self.query_read(call)

    def query_measure_temperature(self, call: Call) -> str | bytes:
        self._configure("TEMP")
        return self.query_read(call)

    def query_internal_temperature(self, call: Call) -> str:
        return self.number_format(ROOM_TEMPERATURE + self._noise(TEMPERATURE_NOISE))

    def acquire_reference(self, call: Call) -> None:
        """``REF:ACQ``: the present reading of that channel becomes its reference
        (ignored while the reference is disabled)."""
        channel = call.suffix.get("ch", 1)
        prefix = "TEMP" if ":TEMP" in call.header else "VOLT"
        if not self.state[f"{prefix}:CHAN{channel}:REF:STAT"]:
            return
        self.spend(self.conversion_time())
        if prefix == "TEMP":
            value = self._temperature()
        else:
            self.state[f"VOLT:CHAN{channel}:REF:STAT"] = False
            value = self._volt_reading(channel, self.cursor)
            self.state[f"VOLT:CHAN{channel}:REF:STAT"] = True
        if value != OVERFLOW:
            self.state[f"{prefix}:CHAN{channel}:REF"] = value

    # ------------------------------------------------------------------ buffer

    def clear_buffer(self, call: Call | None = None) -> None:
        self.buffer = []
        self.registers["MEAS"][0] &= ~(BAV | BHF | BFL)

    def query_buffer(self, call: Call) -> str | bytes:
        """``TRAC:DATA?``: the stored readings (an empty reply for an empty buffer)."""
        return self._format_readings(self.buffer)

    def query_buffer_count(self, call: Call) -> str:
        return str(len(self.buffer))

    def query_buffer_free(self, call: Call) -> str:
        used = len(self.buffer) * 8
        return f"{int(self.state['TRAC:POIN']) * 8 - used},{used}"

    def _compute(self) -> float:
        if not self.state["CALC2:STAT"]:
            raise ScpiError(-221, "CALC2:STAT is OFF")
        if not self.buffer:
            self.statistic = NAN
            return NAN
        data = np.asarray(self.buffer, dtype=float)
        form = self.state["CALC2:FORM"]
        if form == "NONE":
            raise ScpiError(-221, "CALC2:FORM is NONE")
        if form == "SDEV":
            value = float(np.std(data, ddof=1)) if data.size > 1 else 0.0
        else:
            value = float({"MEAN": np.mean, "MAX": np.max, "MIN": np.min,
                           "PKPK": np.ptp}[form](data))
        self.statistic = value
        return value

    def compute_statistic(self, call: Call) -> None:
        self._compute()

    def query_statistic(self, call: Call) -> str:
        return self.number_format(self._compute())

    def query_statistic_data(self, call: Call) -> str:
        if self.statistic is None:
            raise ScpiError(-230, "no statistic computed")
        return self.number_format(self.statistic)

    # ------------------------------------------------------------------ status

    def condition(self, register: str) -> int:
        """Measurement condition: buffer available, half full, full."""
        if register != "MEAS" or not self.buffer:
            return 0
        size = int(self.state["TRAC:POIN"])
        return (BAV | (BHF if len(self.buffer) >= size / 2 else 0)
                | (BFL if len(self.buffer) >= size else 0))

    def query_line_frequency(self, call: Call) -> str:
        return str(round(self.world.line_frequency))
