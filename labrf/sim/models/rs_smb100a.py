"""Rohde & Schwarz SMB100A RF and microwave signal generator.

Follows the R&S SMB100A Operating Manual (1407.0806.32), chapter "Remote Control Commands":
the SOURce subsystem (FREQuency, PHASe, POWer with its level offset and level limit,
MODulation, PULM, ROSCillator, SWEep), OUTPut, TRIGger, UNIT and SYSTem, and chapter
"Error Messages" for the queue format (``-113,"Undefined header;FREQ:XYZ"``).

Installed options, as ``*OPT?`` reports them: SMB-B106 (RF path 9 kHz to 6 GHz; the
data sheet specifies the B101..B106 paths from 9 kHz), SMB-B1 (OCXO reference) and
SMB-K22/K23 (pulse modulator and pulse generator). The level is settable from -145 dBm
to +30 dBm at the RF connector (the data sheet's setting range; the specified maximum is
lower and is not modelled).

Relations the emulator keeps, as the manual states them:
``FREQ = RF output frequency + FREQ:OFFS`` and ``POW = RF output level + POW:OFFS``
(an offset changes what the queries show, never the RF output). The level limit
``POW:LIM`` is a protective setting of the RF output level: it survives ``*RST`` (the
factory value is +30 dBm), a ``POW`` that would exceed it is refused with -221 and the
level stays, and lowering the limit below the present level caps the RF output.

Simplifications: FREQ:MODE SWE/LIST and POW:MODE SWE are stored and queried but not
swept (the output stays at the CW settings); pulse modulation with the internal pulse
generator reaches the world as its average power (duty cycle times the pulse power),
with the external source as RF blanked (nothing is wired to PULSE EXT).
"""

from __future__ import annotations

import math
import re
from typing import ClassVar

from labrf.sim.emulator import SCPI_SYSTEM, Emulator
from labrf.sim.models.rs_common import RohdeSchwarzReplies
from labrf.sim.scpi import (
    Boolean,
    Call,
    Choice,
    Command,
    CommandTable,
    Number,
    Query,
    ScpiError,
    Setting,
    Text,
)
from labrf.units import dbm_to_watt, watt_to_dbm

F_MIN, F_MAX = 9e3, 6e9  #: RF output frequency range of option SMB-B106 (Hz)
L_MIN, L_MAX = -145.0, 30.0  #: RF output level setting range (dBm)
F_RST, L_RST = 1e9, -30.0  #: *RST frequency (Hz) and level (dBm)
SETTLING_TIME = 3e-3  #: frequency/level setting time to *OPC (s), data sheet "< 3 ms"
DBUV_PER_DBM = 10 * math.log10(50e-3) + 120  #: dBuV - dBm at 50 ohm (106.99 dB)
HW = {"hw": (1,)}  #: the SMB100A has one RF path: SOURce1, OUTPut1

_NUMBER = re.compile(r"^([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*([A-Za-z]*)$")
_VOLT_PREFIX = {"V": 1.0, "MV": 1e-3, "UV": 1e-6, "NV": 1e-9}


def dbm_to_unit(dbm: float, unit: str) -> float:
    """A level in dBm expressed in ``unit`` ("DBM", "DBUV" or "V", rms into 50 ohm)."""
    if unit == "DBUV":
        return dbm + DBUV_PER_DBM
    if unit == "V":
        return math.sqrt(50.0 * dbm_to_watt(dbm))
    return dbm


class SMB100A(RohdeSchwarzReplies, Emulator):
    """R&S SMB100A with option B106: 9 kHz to 6 GHz, -145 dBm to +30 dBm."""

    model: ClassVar[str] = "smb100a"
    idn: ClassVar[str] = "Rohde&Schwarz,SMB100A,1406.6000k03/101234,3.1.19.15-3.50.124.73"
    options: ClassVar[str] = "SMB-B1,SMB-B106,SMB-K22,SMB-K23"
    ports: ClassVar[dict[str, tuple[str, ...]]] = {"output": ("mtj", "rf_input", "probe",
                                                                   "route")}
    self_test_time: ClassVar[float] = 10.0
    boot_time: ClassVar[float] = 60.0

    commands = CommandTable(
        # FREQuency (manual: SOURce:FREQuency subsystem)
        Query("[:SOURce<hw>]:FREQuency[:CW]", "query_frequency", (Text(),), 1, HW),
        Command("[:SOURce<hw>]:FREQuency[:CW]", "set_frequency", (Text(),), 0, HW),
        Query("[:SOURce<hw>]:FREQuency:FIXed", "query_frequency", (Text(),), 1, HW),
        Command("[:SOURce<hw>]:FREQuency:FIXed", "set_frequency", (Text(),), 0, HW),
        Setting("[:SOURce<hw>]:FREQuency:MODE", Choice("CW", "FIXed", "SWEep", "LIST",
                                                       replies={"FIX": "CW"}),
                "CW", key="FREQ:MODE", suffixes=HW),
        Setting("[:SOURce<hw>]:FREQuency:OFFSet", Number(-50e9, 50e9, unit="HZ"), 0.0,
                key="FREQ:OFFS", on_change="_push", suffixes=HW),
        Setting("[:SOURce<hw>]:FREQuency:STEP[:INCRement]", Number(0.01, F_MAX, unit="HZ"),
                1e6, key="FREQ:STEP", suffixes=HW),
        Setting("[:SOURce<hw>]:FREQuency:STARt", Number(F_MIN, F_MAX, unit="HZ"), 100e6,
                key="FREQ:STAR", on_change="_couple_sweep", suffixes=HW),
        Setting("[:SOURce<hw>]:FREQuency:STOP", Number(F_MIN, F_MAX, unit="HZ"), 500e6,
                key="FREQ:STOP", on_change="_couple_sweep", suffixes=HW),
        Query("[:SOURce<hw>]:FREQuency:CENTer", "query_center", suffixes=HW),
        Command("[:SOURce<hw>]:FREQuency:CENTer", "set_center",
                (Number(F_MIN, F_MAX, unit="HZ"),), suffixes=HW),
        Query("[:SOURce<hw>]:FREQuency:SPAN", "query_span", suffixes=HW),
        Command("[:SOURce<hw>]:FREQuency:SPAN", "set_span",
                (Number(0.0, F_MAX - F_MIN, unit="HZ"),), suffixes=HW),
        # SWEep (frequency sweep settings; step and points are coupled through the span)
        Setting("[:SOURce<hw>]:SWEep[:FREQuency]:STEP[:LINear]",
                Number(0.01, F_MAX - F_MIN, unit="HZ"), 1e6, key="SWE:STEP",
                on_change="_couple_sweep", suffixes=HW),
        Setting("[:SOURce<hw>]:SWEep[:FREQuency]:POINts", Number(2, 10_000_001, integer=True),
                401, key="SWE:POIN", on_change="_couple_sweep", suffixes=HW),
        Setting("[:SOURce<hw>]:SWEep[:FREQuency]:DWELl", Number(1e-3, 1000.0, unit="S"),
                10e-3, key="SWE:DWEL", suffixes=HW),
        Setting("[:SOURce<hw>]:SWEep[:FREQuency]:MODE", Choice("AUTO", "MANual", "STEP"),
                "AUTO", key="SWE:MODE", suffixes=HW),
        Setting("[:SOURce<hw>]:SWEep[:FREQuency]:SPACing", Choice("LINear", "LOGarithmic"),
                "LIN", key="SWE:SPAC", suffixes=HW),
        Setting(":TRIGger<hw>:FSWeep:SOURce", Choice("AUTO", "SINGle", "EXTernal", "EAUTo"),
                "AUTO", key="TRIG:FSW:SOUR", suffixes=HW),
        # PHASe
        Setting("[:SOURce<hw>]:PHASe", Number(-720.0, 720.0, unit="DEG"), 0.0, key="PHAS",
                suffixes=HW),
        Command("[:SOURce<hw>]:PHASe:REFerence", "no_operation", suffixes=HW),
        # POWer (level, offset, limit)
        Query("[:SOURce<hw>]:POWer[:LEVel][:IMMediate][:AMPLitude]", "query_level",
              (Text(),), 1, HW),
        Command("[:SOURce<hw>]:POWer[:LEVel][:IMMediate][:AMPLitude]", "set_level",
                (Text(),), 0, HW),
        Setting("[:SOURce<hw>]:POWer[:LEVel][:IMMediate]:OFFSet",
                Number(-100.0, 100.0, unit="DB"), 0.0, key="POW:OFFS", on_change="_push",
                suffixes=HW),
        Query("[:SOURce<hw>]:POWer:LIMit[:AMPLitude]", "query_limit", (Text(),), 1, HW),
        Command("[:SOURce<hw>]:POWer:LIMit[:AMPLitude]", "set_limit", (Text(),), 0, HW),
        Setting("[:SOURce<hw>]:POWer:STEP[:INCRement]", Number(0.0, 200.0, unit="DB"), 1.0,
                key="POW:STEP", suffixes=HW),
        Setting("[:SOURce<hw>]:POWer:MODE", Choice("CW", "FIXed", "SWEep",
                                                   replies={"FIX": "CW"}),
                "CW", key="POW:MODE", suffixes=HW),
        Setting(":UNIT:POWer", Choice("V", "DBUV", "DBM"), "DBM", key="UNIT:POW"),
        # MODulation and pulse modulation (options K22/K23)
        Setting("[:SOURce<hw>]:MODulation[:ALL][:STATe]", Boolean(), True, key="MOD:STAT",
                on_change="_push", suffixes=HW),
        Setting("[:SOURce<hw>]:PULM:STATe", Boolean(), False, key="PULM:STAT",
                on_change="_push", suffixes=HW),
        Setting("[:SOURce<hw>]:PULM:SOURce", Choice("INTernal", "EXTernal"), "INT",
                key="PULM:SOUR", on_change="_push", suffixes=HW),
        Setting("[:SOURce<hw>]:PULM:POLarity", Choice("NORMal", "INVerted"), "NORM",
                key="PULM:POL", on_change="_push", suffixes=HW),
        Setting("[:SOURce<hw>]:PULM:MODE", Choice("SINGle", "DOUBle"), "SING",
                key="PULM:MODE", on_change="_push", suffixes=HW),
        Setting("[:SOURce<hw>]:PULM:PERiod", Number(20e-9, 100.0, unit="S"), 10e-6,
                key="PULM:PER", on_change="_push", suffixes=HW),
        Setting("[:SOURce<hw>]:PULM:WIDTh", Number(20e-9, 100.0, unit="S"), 1e-6,
                key="PULM:WIDT", on_change="_push", suffixes=HW),
        Setting("[:SOURce<hw>]:PULM:DELay", Number(0.0, 100.0, unit="S"), 0.0,
                key="PULM:DEL", suffixes=HW),
        Setting("[:SOURce<hw>]:PULM:DOUBle:WIDTh", Number(20e-9, 100.0, unit="S"), 1e-6,
                key="PULM:DOUB:WIDT", on_change="_push", suffixes=HW),
        Setting("[:SOURce<hw>]:PULM:DOUBle:DELay", Number(40e-9, 100.0, unit="S"), 2e-6,
                key="PULM:DOUB:DEL", suffixes=HW),
        Setting("[:SOURce<hw>]:PULM:TRIGger:MODE", Choice("AUTO", "EXTernal", "EGATe"),
                "AUTO", key="PULM:TRIG:MODE", suffixes=HW),
        # reference oscillator
        Setting("[:SOURce]:ROSCillator:SOURce", Choice("INTernal", "EXTernal"), "INT",
                key="ROSC:SOUR"),
        # OUTPut
        Setting(":OUTPut<hw>[:STATe]", Boolean(), False, key="OUTP", on_change="_push",
                suffixes=HW),
        Setting(":OUTPut<hw>:AMODe", Choice("AUTO", "FIXed"), "AUTO", key="OUTP:AMOD",
                suffixes=HW),
        Command(":OUTPut<hw>:PROTection:CLEar", "no_operation", suffixes=HW),
        Query(":OUTPut<hw>:PROTection:TRIPped", "query_tripped", suffixes=HW),
        Query(":OUTPut<hw>:IMPedance", "query_impedance", suffixes=HW),
        # SYSTem
        Command(":SYSTem:PRESet", "preset"),
        Query(":SYSTem:ERRor:CODE[:NEXT]", "query_error_code"),
        Query(":SYSTem:ERRor:CODE:ALL", "query_error_codes"),
        Setting(":SYSTem:DISPlay:UPDate", Boolean(), True, key="SYST:DISP:UPD", rst=False),
    ) + SCPI_SYSTEM

    # ---------------------------------------------------------------- replies

    # ------------------------------------------------------------ life cycle

    def on_reset(self) -> None:
        """Power-on and *RST: 1 GHz, -30 dBm, RF off; the level limit keeps its value."""
        self.state["FREQ"] = F_RST
        self.state["POW"] = L_RST
        self.state.setdefault("POW:LIM", L_MAX)
        self._push()

    def preset(self, call: Call) -> None:
        """``SYST:PRES``: the same as ``*RST``."""
        self.reset()

    # ----------------------------------------------------------- the output

    def rf_output(self) -> tuple[float, float]:
        """Frequency (Hz) and average power (W) at the RF connector now."""
        if not self.state["OUTP"]:
            return self.state["FREQ"], 0.0
        level = min(self.state["POW"], self.state["POW:LIM"])
        return self.state["FREQ"], float(dbm_to_watt(level)) * self._pulse_factor()

    def _pulse_factor(self) -> float:
        """Fraction of the CW power the pulse modulator lets through, on average."""
        if not (self.state["MOD:STAT"] and self.state["PULM:STAT"]):
            return 1.0
        if self.state["PULM:SOUR"] == "EXT":
            return 1.0 if self.state["PULM:POL"] == "INV" else 0.0
        width = self.state["PULM:WIDT"]
        if self.state["PULM:MODE"] == "DOUB":
            width += self.state["PULM:DOUB:WIDT"]
        duty = min(width / self.state["PULM:PER"], 1.0)
        return 1.0 - duty if self.state["PULM:POL"] == "INV" else duty

    def _push(self, key: str | None = None, value: object = None) -> None:
        """Tell the world what the RF connector outputs now."""
        frequency, power = self.rf_output()
        self.world.drive_rf(self.name, self.cursor, frequency, power)

    def _settle(self) -> None:
        self.start_operation(SETTLING_TIME)
        self._push()

    # ------------------------------------------------------------ frequency

    def _frequency_type(self) -> Number:
        offset = self.state["FREQ:OFFS"]
        return Number(F_MIN + offset, F_MAX + offset, unit="HZ")

    def query_frequency(self, call: Call) -> str:
        kind = self._frequency_type()
        if call.raw:
            return self.number_format(self._limit_word(call.raw[0], kind.lo, kind.hi))
        return self.number_format(self.state["FREQ"] + self.state["FREQ:OFFS"])

    def set_frequency(self, call: Call) -> None:
        kind = self._frequency_type()
        word = call.raw[0].strip().upper()
        shown = self.state["FREQ"] + self.state["FREQ:OFFS"]
        if word in ("UP", "DOWN"):
            value = shown + (self.state["FREQ:STEP"] if word == "UP"
                             else -self.state["FREQ:STEP"])
            if not kind.lo <= value <= kind.hi:
                raise ScpiError(-222, f"{value:g} outside [{kind.lo:g}, {kind.hi:g}]")
        else:
            value = kind.parse(call.raw[0])
        self.state["FREQ"] = round(value - self.state["FREQ:OFFS"], 2)
        self._settle()

    def query_center(self, call: Call) -> str:
        return self.number_format((self.state["FREQ:STAR"] + self.state["FREQ:STOP"]) / 2)

    def set_center(self, call: Call) -> None:
        half = (self.state["FREQ:STOP"] - self.state["FREQ:STAR"]) / 2
        self._set_sweep_range(call.args[0] - half, call.args[0] + half)

    def query_span(self, call: Call) -> str:
        return self.number_format(self.state["FREQ:STOP"] - self.state["FREQ:STAR"])

    def set_span(self, call: Call) -> None:
        center = (self.state["FREQ:STAR"] + self.state["FREQ:STOP"]) / 2
        self._set_sweep_range(center - call.args[0] / 2, center + call.args[0] / 2)

    def _set_sweep_range(self, start: float, stop: float) -> None:
        if start < F_MIN or stop > F_MAX:
            raise ScpiError(-222, f"sweep range {start:g} to {stop:g} Hz outside "
                                  f"[{F_MIN:g}, {F_MAX:g}]")
        self.state["FREQ:STAR"], self.state["FREQ:STOP"] = start, stop
        self._couple_sweep("FREQ:STAR", start)

    def _couple_sweep(self, key: str, value: float) -> None:
        """Keep step and points consistent with the span (linear sweep)."""
        span = abs(self.state["FREQ:STOP"] - self.state["FREQ:STAR"])
        if key == "SWE:POIN":
            self.state["SWE:STEP"] = max(span / (value - 1), 0.01)
        else:
            self.state["SWE:POIN"] = float(int(span / self.state["SWE:STEP"] + 1e-9) + 1)

    # ---------------------------------------------------------------- level

    def _parse_level(self, token: str, lo: float, hi: float, current: float | None) -> float:
        """A level token in dBm: MIN/MAX, UP/DOWN, or a number in the unit given or in
        UNIT:POW's unit; -222 outside ``[lo, hi]`` dBm."""
        word = token.strip().upper()
        if word in ("MIN", "MINIMUM"):
            return lo
        if word in ("MAX", "MAXIMUM"):
            return hi
        if word in ("UP", "DOWN") and current is not None:
            value = current + (self.state["POW:STEP"] if word == "UP"
                               else -self.state["POW:STEP"])
        else:
            match = _NUMBER.match(token.strip())
            if not match:
                raise ScpiError(-104, f"'{token.strip()}' is not a number")
            number, unit = float(match.group(1)), match.group(2).upper()
            unit = unit or self.state["UNIT:POW"]
            if unit == "DBM":
                value = number
            elif unit == "DBUV":
                value = number - DBUV_PER_DBM
            elif unit in _VOLT_PREFIX:
                volts = number * _VOLT_PREFIX[unit]
                if volts <= 0:
                    raise ScpiError(-222, f"{token.strip()} is not a positive voltage")
                value = float(watt_to_dbm(volts ** 2 / 50.0))
            else:
                raise ScpiError(-131, f"'{unit}'")
        if not lo - 1e-9 <= value <= hi + 1e-9:
            raise ScpiError(-222, f"{value:g} dBm outside [{lo:g}, {hi:g}]")
        return min(max(value, lo), hi)

    def _format_level(self, dbm: float) -> str:
        return self.number_format(round(dbm_to_unit(dbm, self.state["UNIT:POW"]), 12))

    def _limit_word(self, token: str, lo: float, hi: float) -> float:
        word = token.strip().upper()
        if word in ("MIN", "MINIMUM"):
            return lo
        if word in ("MAX", "MAXIMUM"):
            return hi
        raise ScpiError(-224, f"'{token.strip()}' is not MIN or MAX")

    def query_level(self, call: Call) -> str:
        offset = self.state["POW:OFFS"]
        if call.raw:
            return self._format_level(self._limit_word(call.raw[0], L_MIN + offset,
                                                       L_MAX + offset))
        return self._format_level(self.state["POW"] + offset)

    def set_level(self, call: Call) -> None:
        offset = self.state["POW:OFFS"]
        shown = self._parse_level(call.raw[0], L_MIN + offset, L_MAX + offset,
                                  self.state["POW"] + offset)
        level = round(shown - offset, 2)
        if level > self.state["POW:LIM"] + 1e-9:
            raise ScpiError(-221, f"RF level {level:g} dBm exceeds the level limit "
                                  f"{self.state['POW:LIM']:g} dBm (POW:LIM)")
        self.state["POW"] = level
        self._settle()

    def query_limit(self, call: Call) -> str:
        if call.raw:
            return self._format_level(self._limit_word(call.raw[0], L_MIN, L_MAX))
        return self._format_level(self.state["POW:LIM"])

    def set_limit(self, call: Call) -> None:
        self.state["POW:LIM"] = round(self._parse_level(call.raw[0], L_MIN, L_MAX, None), 2)
        self._settle()

    # ----------------------------------------------------------------- misc

    def no_operation(self, call: Call) -> None:
        """Commands accepted with nothing to simulate (PROT:CLE, PHAS:REF)."""

    def query_tripped(self, call: Call) -> str:
        return "0"

    def query_impedance(self, call: Call) -> str:
        return "G50"

    def query_error_code(self, call: Call) -> str:
        return str(self.errors.popleft()[0]) if self.errors else "0"

    def query_error_codes(self, call: Call) -> str:
        codes = [str(code) for code, _ in self.errors] or ["0"]
        self.errors.clear()
        return ",".join(codes)
