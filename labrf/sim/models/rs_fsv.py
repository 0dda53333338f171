"""Rohde & Schwarz FSV signal and spectrum analyzer (FSV-7, 10 Hz to 7 GHz).

Follows the R&S FSV Operating Manual, chapter "Remote Commands" for the spectrum
analyzer: [SENSe:]FREQuency, [SENSe:]BANDwidth, [SENSe:]SWEep, [SENSe:]DETector,
[SENSe:]AVERage, INITiate and ABORt, DISPlay:TRACe (trace mode, reference level),
INPut (attenuation, preamplifier B22), CALCulate:MARKer and CALCulate:DELTamarker,
FORMat and TRACe[:DATA], TRIGger, UNIT and SYSTem; and chapter "Error Messages" for the
queue format (``-113,"Undefined header;FREQ:STAX"``).

What a sweep sees: the trace points are ``linspace(start, stop, points)``; each point
receives the emission lines of ``world.spectrum`` (sampled across the point's frequency
bin and reduced by the detector) on top of the noise floor: the displayed average
noise level (-150 dBm/Hz, -162 dBm/Hz with the preamplifier on, +1 dB per dB of input
attenuation above 10 dB) plus the amplifier noise the world delivers, in the RBW. With
world noise on, the floor fluctuates as the detector sees Rayleigh noise: exponential
power averaged over ``round(RBW/VBW)`` samples by the video filter, and the peak, minimum
or RMS over the independent samples in one point's dwell time (sweep time * RBW /
points).

Timing: ``INIT`` starts a single sweep (or ``SWE:COUN`` sweeps) as an overlapped
operation of the sweep time (``*WAI``, ``*OPC?`` wait; a second ``INIT`` while it runs
gives -213); reading the trace or a marker waits for it. In continuous mode every trace
or marker reading takes a fresh sweep, which costs the sweep time. A sweep is evaluated
when it starts (the world holds no history), each of ``SWE:COUN`` sweeps at its own
start time. Auto sweep time is ``max(1 ms, 2.5 span / (RBW min(RBW, VBW)))``.

Simplifications: zero span evaluates all points at one instant; SWE:TYPE FFT is
stored but sweeps still take the swept time; trigger and reference settings are stored
only; the FSV's graphical marker zoom (``CALC:MARK:FUNC:ZOOM <factor>``) changes no data.
"""

from __future__ import annotations

import copy
import math
import re
from typing import ClassVar

import numpy as np
from scipy.special import gammainccinv, gammaincinv

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

F_MAX = 7e9  #: FSV-7 upper frequency limit (Hz)
MIN_SPAN = 10.0  #: smallest span other than zero span (Hz)
#: RBW and VBW settings: 1 Hz to 10 MHz in 1-2-3-5 steps
BANDWIDTHS = np.array([m * 10.0**e for e in range(7) for m in (1, 2, 3, 5)] + [10e6])
AUTO_RBW_MAX = 3e6  #: largest RBW the span coupling chooses (Hz)
SPAN_RBW_RATIO = 100.0  #: auto RBW = span / 100
SWEEP_FACTOR = 2.5  #: auto sweep time = k span / (RBW min(RBW, VBW))
MIN_SWEEP_TIME = 1e-3  #: shortest sweep time with span > 0 (s)
MAX_SWEEP_TIME = 16000.0  #: longest sweep time (s)
DANL = -150.0  #: displayed average noise level at 10 dB attenuation (dBm/Hz)
DANL_PREAMP = -162.0  #: the same with preamplifier B22 on (dBm/Hz)
ATT_STEP, ATT_MAX = 5.0, 75.0  #: mechanical RF attenuator (dB)
MAX_SUBSAMPLES = 33  #: frequencies examined per trace point by peak/RMS detectors
TRACES = (1, 2, 3, 4, 5, 6)
MARKERS = tuple(range(1, 17))
T_SUFFIX = {"t": TRACES}
M_SUFFIX = {"m": MARKERS}
#: detector the auto coupling picks for each trace mode
AUTO_DETECTOR = {"WRIT": "APE", "VIEW": "APE", "BLAN": "APE", "MAXH": "POS",
                 "MINH": "NEG", "AVER": "SAMP"}
#: dBm -> other level units at 50 ohm (additive offsets in dB)
_LOG_UNITS = {"DBM": 0.0, "DBPW": 90.0, "DBUV": 10 * math.log10(50) + 90.0,
              "DBMV": 10 * math.log10(50) + 30.0,
              "DBUA": 10 * math.log10(50) + 90.0 - 20 * math.log10(50)}
_TRACE_NAME = re.compile(r"TRACE?([1-6])$")


def nearest_bandwidth(value: float) -> float:
    """The RBW/VBW setting nearest (on a log scale) to ``value`` Hz."""
    index = int(np.argmin(np.abs(np.log(BANDWIDTHS) - math.log(max(value, 1e-3)))))
    return float(BANDWIDTHS[index])


def from_dbm(dbm: np.ndarray, unit: str) -> np.ndarray:
    """Levels in dBm expressed in ``unit`` (UNIT:POW short form), 50 ohm system."""
    if unit in _LOG_UNITS:
        return dbm + _LOG_UNITS[unit]
    watts = dbm_to_watt(dbm)
    if unit == "WATT":
        return watts
    if unit == "VOLT":
        return np.sqrt(watts * 50.0)
    return np.sqrt(watts / 50.0)  # AMP


def find_peak(y: np.ndarray, current: int, direction: str, excursion: float,
              lowest: bool = False) -> int | None:
    """Index a marker search lands on, or None when no peak qualifies.

    ``direction``: "PEAK" (the extreme), "NEXT" (the next lower peak, or next higher
    minimum), "LEFT"/"RIGHT" (the nearest peak on that side). A peak must stand out by
    ``excursion`` dB (its prominence); the extreme always counts.
    """
    values = -y if lowest else y
    top = int(np.argmax(values))
    if direction == "PEAK":
        return top
    from scipy.signal import find_peaks  # imported here: scipy.signal takes ~1.7 s to load

    found, _ = find_peaks(values, prominence=excursion if excursion > 0 else None)
    peaks = np.union1d(found, [top]).astype(int)
    if direction == "NEXT":
        lower = peaks[values[peaks] < values[current]]
        return int(lower[np.argmax(values[lower])]) if lower.size else None
    side = peaks[peaks < current] if direction == "LEFT" else peaks[peaks > current]
    if not side.size:
        return None
    return int(side.max() if direction == "LEFT" else side.min())


class _Trace:
    """One trace memory: levels in dBm and how many sweeps it has accumulated."""

    def __init__(self) -> None:
        self.dbm: np.ndarray | None = None
        self.x: np.ndarray | None = None  #: frequencies (Hz), or times (s) in zero span
        self.axis: tuple[float, ...] | None = None
        self.count = 0

    def add(self, dbm: np.ndarray, x: np.ndarray, axis: tuple[float, ...], mode: str,
            average_count: int, linear: bool) -> None:
        """Fold one sweep into the trace as its mode says."""
        if self.dbm is None or self.count == 0 or axis != self.axis or mode == "WRIT":
            self.dbm, self.count = dbm, 1
        elif mode == "MAXH":
            self.dbm, self.count = np.maximum(self.dbm, dbm), self.count + 1
        elif mode == "MINH":
            self.dbm, self.count = np.minimum(self.dbm, dbm), self.count + 1
        else:  # AVER: running mean over the first N sweeps, then a moving average of N
            self.count += 1
            weight = 1.0 / min(self.count, average_count)
            if linear:
                old, new = dbm_to_watt(self.dbm), dbm_to_watt(dbm)
                self.dbm = watt_to_dbm(old + (new - old) * weight)
            else:
                self.dbm = self.dbm + (dbm - self.dbm) * weight
        self.x, self.axis = x, axis


def _freq(lo: float, hi: float) -> Number:
    return Number(lo, hi, unit="HZ")


class FSV(RohdeSchwarzReplies, Emulator):
    """R&S FSV-7 with preamplifier B22; one spectrum-analyzer channel."""

    model: ClassVar[str] = "fsv"
    idn: ClassVar[str] = "Rohde&Schwarz,FSV-7,1307.9002K07/101234,3.40"
    options: ClassVar[str] = "B22"
    ports: ClassVar[dict[str, tuple[str, ...]]] = {"input": ("amplifier", "mtj",
                                                             "neuron", "monitor", "route",
                                                             "chip_output", "chip_monitor")}
    error_texts: ClassVar[dict[int, str]] = {-213: "Init ignored"}
    self_test_time: ClassVar[float] = 20.0
    boot_time: ClassVar[float] = 60.0

    commands = CommandTable(
        # [SENSe:]FREQuency
        Setting("[SENSe]:FREQuency:CENTer", _freq(0, F_MAX), F_MAX / 2, key="FREQ:CENT",
                on_change="_frequency_changed"),
        Setting("[SENSe]:FREQuency:SPAN", _freq(0, F_MAX), F_MAX, key="FREQ:SPAN",
                on_change="_frequency_changed"),
        Setting("[SENSe]:FREQuency:STARt", _freq(0, F_MAX - MIN_SPAN), 0.0, key="FREQ:STAR",
                on_change="_frequency_changed"),
        Setting("[SENSe]:FREQuency:STOP", _freq(MIN_SPAN, F_MAX), F_MAX, key="FREQ:STOP",
                on_change="_frequency_changed"),
        Command("[SENSe]:FREQuency:SPAN:FULL", "full_span"),
        # [SENSe:]BANDwidth (BWIDth is the manual's alias)
        *(Setting(f"[SENSe]:{node}[:RESolution]", _freq(1, 10e6), AUTO_RBW_MAX,
                  key="BAND:RES", on_change="_rbw_changed") for node in ("BANDwidth", "BWIDth")),
        *(Setting(f"[SENSe]:{node}[:RESolution]:AUTO", Boolean(), True, key="BAND:RES:AUTO",
                  on_change="_couple_hook") for node in ("BANDwidth", "BWIDth")),
        *(Setting(f"[SENSe]:{node}:VIDeo", _freq(1, 10e6), AUTO_RBW_MAX, key="BAND:VID",
                  on_change="_vbw_changed") for node in ("BANDwidth", "BWIDth")),
        *(Setting(f"[SENSe]:{node}:VIDeo:AUTO", Boolean(), True, key="BAND:VID:AUTO",
                  on_change="_couple_hook") for node in ("BANDwidth", "BWIDth")),
        # [SENSe:]SWEep and [SENSe:]AVERage
        Setting("[SENSe]:SWEep:POINts", Number(101, 32001, integer=True), 691,
                key="SWE:POIN"),
        Setting("[SENSe]:SWEep:TIME", Number(1e-6, MAX_SWEEP_TIME, unit="S"), MIN_SWEEP_TIME,
                key="SWE:TIME", on_change="_sweep_time_changed"),
        Setting("[SENSe]:SWEep:TIME:AUTO", Boolean(), True, key="SWE:TIME:AUTO",
                on_change="_couple_hook"),
        Setting("[SENSe]:SWEep:COUNt", Number(0, 32767, integer=True), 0, key="SWE:COUN"),
        Setting("[SENSe]:AVERage:COUNt", Number(0, 32767, integer=True), 0, key="SWE:COUN"),
        Setting("[SENSe]:SWEep:TYPE", Choice("AUTO", "SWEep", "FFT"), "AUTO",
                key="SWE:TYPE"),
        Setting("[SENSe]:AVERage:TYPE", Choice("VIDeo", "LINear", "POWer"), "VID",
                key="AVER:TYPE"),
        Query("[SENSe]:AVERage[:STATe<t>]", "query_average", suffixes=T_SUFFIX),
        Command("[SENSe]:AVERage[:STATe<t>]", "set_average", (Boolean(),), suffixes=T_SUFFIX),
        # [SENSe:]DETector
        Setting("[SENSe]:DETector<t>[:FUNCtion]",
                Choice("APEak", "POSitive", "NEGative", "RMS", "AVERage", "SAMPle"), "APE",
                key="DET{t}", on_change="_detector_changed", suffixes=T_SUFFIX),
        Setting("[SENSe]:DETector<t>[:FUNCtion]:AUTO", Boolean(), True, key="DET{t}:AUTO",
                on_change="_couple_hook", suffixes=T_SUFFIX),
        Setting("[SENSe]:ROSCillator:SOURce", Choice("INTernal", "EXTernal", "EAUTo"), "INT",
                key="ROSC:SOUR"),
        Setting("[SENSe]:ROSCillator:EXTernal:FREQuency", _freq(1e6, 20e6), 10e6,
                key="ROSC:EXT:FREQ"),
        # INITiate, ABORt
        Setting("INITiate:CONTinuous", Boolean(), True, key="INIT:CONT"),
        Command("INITiate[:IMMediate]", "initiate"),
        Command("INITiate:CONMeas", "continue_measurement"),
        Command("ABORt", "abort"),
        # DISPlay
        Setting("DISPlay[:WINDow<n>]:TRACe<t>:MODE",
                Choice("WRITe", "MAXHold", "MINHold", "AVERage", "VIEW", "BLANk"), "WRIT",
                key="TRAC{t}:MODE", on_change="_trace_mode_changed", suffixes=T_SUFFIX),
        Query("DISPlay[:WINDow<n>]:TRACe<t>[:STATe]", "query_trace_state", suffixes=T_SUFFIX),
        Command("DISPlay[:WINDow<n>]:TRACe<t>[:STATe]", "set_trace_state", (Boolean(),),
                suffixes=T_SUFFIX),
        Setting("DISPlay[:WINDow<n>]:TRACe<t>:Y[:SCALe]:RLEVel", Number(-130, 30, unit="DBM"),
                0.0, key="RLEV", on_change="_couple_hook"),
        # POW:RLEV is the FSW's name (PyMeasure FSW.nominal_level); accepted as RLEV.
        Setting("[SENSe]:POWer:RLEVel", Number(-130, 30, unit="DBM"), 0.0, key="RLEV",
                on_change="_couple_hook"),
        Setting("DISPlay[:WINDow<n>]:TRACe<t>:Y[:SCALe]:RLEVel:OFFSet",
                Number(-200, 200, unit="DB"), 0.0, key="RLEV:OFFS"),
        Setting("DISPlay[:WINDow<n>]:TRACe<t>:Y[:SCALe]", Number(1, 200, unit="DB"), 100.0,
                key="DISP:TRAC:Y"),
        Setting("DISPlay:FORMat", Choice("SINGle", "SPLit"), "SING", key="DISP:FORM"),
        # INPut
        Setting("INPut:ATTenuation", Number(0, 79, unit="DB"), 10.0, key="INP:ATT",
                on_change="_attenuation_changed"),
        Setting("INPut:ATTenuation:AUTO", Boolean(), True, key="INP:ATT:AUTO",
                on_change="_couple_hook"),
        Setting("INPut:GAIN:STATe", Boolean(), False, key="INP:GAIN"),
        Setting("INPut:COUPling", Choice("AC", "DC"), "AC", key="INP:COUP"),
        Setting("INPut:IMPedance", Choice("50", "75"), "50", key="INP:IMP"),
        # TRIGger
        Setting("TRIGger[:SEQuence]:SOURce",
                Choice("IMMediate", "EXTernal", "VIDeo", "IFPower", "TIME"), "IMM",
                key="TRIG:SOUR"),
        Setting("TRIGger[:SEQuence]:LEVel[:EXTernal]", Number(0.5, 3.5, unit="V"), 1.4,
                key="TRIG:LEV"),
        # FORMat, TRACe
        Query("FORMat[:DATA]", "query_format"),
        Command("FORMat[:DATA]", "set_format", (Choice("ASCii", "REAL"),
                                                Number(0, 64, integer=True)), 1),
        Setting("FORMat:BORDer", Choice("NORMal", "SWAPped"), "SWAP", key="FORM:BORD"),
        Query("TRACe<n>[:DATA]", "query_trace", (Text(),)),
        Query("TRACe<n>[:DATA]:X", "query_trace_x", (Text(),)),
        Setting("UNIT<n>:POWer", Choice("DBM", "DBPW", "WATT", "DBUV", "DBMV", "VOLT",
                                        "DBUA", "AMPere"), "DBM", key="UNIT:POW"),
        # CALCulate:MARKer and CALCulate:DELTamarker
        *(row for kind in ("MARKer", "DELTamarker") for row in (
            Query(f"CALCulate<n>:{kind}<m>[:STATe]", "query_marker_state", suffixes=M_SUFFIX),
            Command(f"CALCulate<n>:{kind}<m>[:STATe]", "set_marker_state", (Boolean(),),
                    suffixes=M_SUFFIX),
            Setting(f"CALCulate<n>:{kind}<m>:X", _freq(0, F_MAX), 0.0,
                    key=f"{kind[:4].upper()}{{m}}:X", on_change="_marker_moved",
                    suffixes=M_SUFFIX),
            Query(f"CALCulate<n>:{kind}<m>:Y", "query_marker_y", suffixes=M_SUFFIX),
            # The FSV has no marker Y setting; PyMeasure's Marker.y is a control, so a
            # set is accepted and ignored.
            Command(f"CALCulate<n>:{kind}<m>:Y", "ignore", (Text(),), suffixes=M_SUFFIX),
            Setting(f"CALCulate<n>:{kind}<m>:TRACe", Number(1, 6, integer=True), 1,
                    key=f"{kind[:4].upper()}{{m}}:TRAC", suffixes=M_SUFFIX),
            Setting(f"CALCulate<n>:{kind}<m>:PEXCursion", Number(0, 80, unit="DB"), 6.0,
                    key="MARK:PEXC", suffixes=M_SUFFIX),
            *(Command(f"CALCulate<n>:{kind}<m>:{extreme}{where}", "marker_search",
                      suffixes=M_SUFFIX)
              for extreme in ("MAXimum", "MINimum")
              for where in ("[:PEAK]", ":NEXT", ":LEFT", ":RIGHt")),
            Command(f"CALCulate<n>:{kind}<m>:AOFF", "markers_off", suffixes=M_SUFFIX),
        )),
        Query("CALCulate<n>:DELTamarker<m>:X:RELative", "query_delta_x", suffixes=M_SUFFIX),
        Command("CALCulate<n>:MARKer<m>:FUNCtion:ZOOM", "marker_zoom", (Text(),),
                suffixes=M_SUFFIX),
        Command("CALCulate<n>:MARKer<m>:FUNCtion:CENTer", "marker_to_center",
                suffixes=M_SUFFIX),
        Command("CALCulate<n>:MARKer<m>:FUNCtion:REFerence", "marker_to_reference",
                suffixes=M_SUFFIX),
        # INSTrument, SYSTem
        Setting("INSTrument[:SELect]", Choice("SANalyzer"), "SAN", key="INST"),
        Query("INSTrument:NSELect", "query_instrument_number"),
        Query("INSTrument:LIST", "query_instrument_list"),
        Command("SYSTem:PRESet", "system_preset"),
        Setting("SYSTem:DISPlay:UPDate", Boolean(), False, key="SYST:DISP:UPD"),
    ) + SCPI_SYSTEM

    # ------------------------------------------------------------------ formats

    # ------------------------------------------------------------------ life cycle

    def on_reset(self) -> None:
        """Power-on and *RST: full span, trace 1 in clear/write, markers off, ASCII."""
        for t in TRACES[1:]:
            self.state[f"TRAC{t}:MODE"] = "BLAN"
        for m in MARKERS:
            self.state[f"MARK{m}"] = False
            self.state[f"DELT{m}"] = False
        self.state["FORM"] = "ASC"
        self.traces = {t: _Trace() for t in TRACES}
        self._before_sweep: dict[int, _Trace] | None = None
        self._couple()

    def system_preset(self, call: Call) -> None:
        self.reset()

    def ignore(self, call: Call) -> None:
        """Accept a command that has no effect here."""

    # ------------------------------------------------------------------ couplings

    def _couple(self) -> None:
        """Recompute the automatic settings: RBW, VBW, sweep time, attenuation, detectors."""
        s = self.state
        span = s["FREQ:SPAN"]
        if s["BAND:RES:AUTO"] and span > 0:
            s["BAND:RES"] = min(nearest_bandwidth(span / SPAN_RBW_RATIO), AUTO_RBW_MAX)
        if s["BAND:VID:AUTO"]:
            s["BAND:VID"] = s["BAND:RES"]
        if s["SWE:TIME:AUTO"]:
            s["SWE:TIME"] = self.auto_sweep_time()
        elif span > 0:
            s["SWE:TIME"] = max(s["SWE:TIME"], MIN_SWEEP_TIME)
        if s["INP:ATT:AUTO"]:
            s["INP:ATT"] = float(np.clip(ATT_STEP * math.ceil((s["RLEV"] + 10) / ATT_STEP),
                                         0.0, ATT_MAX))
        for t in TRACES:
            if s[f"DET{t}:AUTO"]:
                s[f"DET{t}"] = AUTO_DETECTOR[s[f"TRAC{t}:MODE"]]

    def auto_sweep_time(self) -> float:
        """Sweep time (s) the coupling chooses for the present span, RBW and VBW."""
        s = self.state
        rbw = s["BAND:RES"]
        settle = SWEEP_FACTOR * s["FREQ:SPAN"] / (rbw * min(rbw, s["BAND:VID"]))
        return float(min(max(settle, MIN_SWEEP_TIME), MAX_SWEEP_TIME))

    def _couple_hook(self, key: str, value: object) -> None:
        self._couple()

    def _frequency_changed(self, key: str, value: float) -> None:
        s = self.state
        if key == "FREQ:CENT":
            half = min(s["FREQ:SPAN"] / 2, value, F_MAX - value)
            start, stop = value - half, value + half
        elif key == "FREQ:SPAN":
            span = MIN_SPAN if 0 < value < MIN_SPAN else value
            center = min(max(s["FREQ:CENT"], span / 2), F_MAX - span / 2)
            start, stop = center - span / 2, center + span / 2
        elif key == "FREQ:STAR":
            start, stop = value, max(s["FREQ:STOP"], value + MIN_SPAN)
        else:
            start, stop = min(s["FREQ:STAR"], value - MIN_SPAN), value
        self._set_axis(start, stop)

    def _set_axis(self, start: float, stop: float) -> None:
        s = self.state
        s["FREQ:STAR"], s["FREQ:STOP"] = start, stop
        s["FREQ:CENT"], s["FREQ:SPAN"] = (start + stop) / 2, stop - start
        self._couple()

    def full_span(self, call: Call) -> None:
        self._set_axis(0.0, F_MAX)

    def _rbw_changed(self, key: str, value: float) -> None:
        self.state["BAND:RES"] = nearest_bandwidth(value)
        self.state["BAND:RES:AUTO"] = False
        self._couple()

    def _vbw_changed(self, key: str, value: float) -> None:
        self.state["BAND:VID"] = nearest_bandwidth(value)
        self.state["BAND:VID:AUTO"] = False
        self._couple()

    def _sweep_time_changed(self, key: str, value: float) -> None:
        self.state["SWE:TIME:AUTO"] = False
        self._couple()

    def _attenuation_changed(self, key: str, value: float) -> None:
        self.state["INP:ATT"] = min(ATT_STEP * round(value / ATT_STEP), ATT_MAX)
        self.state["INP:ATT:AUTO"] = False
        self._couple()

    def _detector_changed(self, key: str, value: str) -> None:
        self.state[f"{key}:AUTO"] = False

    def _trace_mode_changed(self, key: str, value: str) -> None:
        self.traces[int(key[4])].count = 0
        self._couple()

    # ------------------------------------------------------------------ traces

    def query_trace_state(self, call: Call) -> str:
        return "0" if self.state[f"TRAC{call.suffix['t']}:MODE"] == "BLAN" else "1"

    def set_trace_state(self, call: Call) -> None:
        key = f"TRAC{call.suffix['t']}:MODE"
        if not call.args[0]:
            self.state[key] = "BLAN"
        elif self.state[key] == "BLAN":
            self.state[key] = "WRIT"
        self._couple()

    def query_average(self, call: Call) -> str:
        return "1" if self.state[f"TRAC{call.suffix['t']}:MODE"] == "AVER" else "0"

    def set_average(self, call: Call) -> None:
        key = f"TRAC{call.suffix['t']}:MODE"
        if call.args[0] or self.state[key] == "AVER":
            self._trace_mode_changed(key, "")
            self.state[key] = "AVER" if call.args[0] else "WRIT"
        self._couple()

    def _axis(self) -> np.ndarray:
        """Frequencies (Hz) of the trace points."""
        s = self.state
        return np.linspace(s["FREQ:STAR"], s["FREQ:STOP"], int(s["SWE:POIN"]))

    def _x_axis(self) -> np.ndarray:
        """The trace's x values: frequencies (Hz), or times (s) in zero span."""
        s = self.state
        if s["FREQ:SPAN"] > 0:
            return self._axis()
        return np.linspace(0.0, s["SWE:TIME"], int(s["SWE:POIN"]))

    def _floor_density(self) -> float:
        """Noise power density (W/Hz) referred to the input: DANL plus the amplifier's."""
        s = self.state
        danl = DANL_PREAMP if s["INP:GAIN"] else DANL
        density = float(dbm_to_watt(danl + max(s["INP:ATT"] - 10.0, 0.0)))
        if "input" in self.wiring:
            density += self.world.noise_density(self.name)
        return density

    def _noise(self, detector: str, video: int, samples: int, size: int) -> np.ndarray:
        """Noise power per point relative to its mean, as the detector reports it."""
        if not self.world.noise_enabled:
            return np.ones(size)
        if detector == "SAMP":
            return self.noise.gamma(video, 1.0 / video, size)
        if detector in ("RMS", "AVER"):
            return self.noise.gamma(video * samples, 1.0 / (video * samples), size)
        u = 1.0 - self.noise.random(size)  # in (0, 1]
        tail = -np.expm1(np.log(u) / samples)  # 1 - u**(1/samples)
        if detector == "NEG":
            return gammaincinv(video, tail) / video
        return gammainccinv(video, tail) / video

    def _sweep(self, t: float, fill: int | None = None) -> None:
        """One sweep at instrument time ``t``, folded into every trace that is written;
        with ``fill``, into that trace only, whatever its mode (it holds no data yet)."""
        s = self.state
        freqs = self._axis()
        points, span = freqs.size, s["FREQ:SPAN"]
        rbw, vbw, sweep_time = s["BAND:RES"], s["BAND:VID"], s["SWE:TIME"]
        width = span / (points - 1)
        sub = 1 if span == 0 else min(MAX_SUBSAMPLES, math.ceil(width / (rbw / 4)) | 1)
        offsets = (np.arange(sub) - (sub - 1) / 2) * (width / sub)
        dense = freqs[:, None] + offsets[None, :]
        if "input" in self.wiring:
            lines = np.asarray(self.world.spectrum(self.name, t, dense.ravel(), rbw),
                               dtype=float).reshape(dense.shape)
        else:
            lines = np.zeros(dense.shape)
        floor = self._floor_density() * rbw
        video = max(1, round(rbw / vbw))
        samples = max(1, min(10**6, round(sweep_time * rbw / points / video)))
        x = self._x_axis()
        axis = (s["FREQ:STAR"], s["FREQ:STOP"], float(points), rbw)
        average_count = s["SWE:COUN"] or 10
        linear = s["AVER:TYPE"] != "VID"
        for number, trace in self.traces.items():
            mode = "WRIT" if number == fill else s[f"TRAC{number}:MODE"]
            if mode in ("VIEW", "BLAN") or fill not in (None, number):
                continue
            detector = s[f"DET{number}"]
            if detector in ("APE", "POS"):
                signal = lines.max(axis=1)
            elif detector == "NEG":
                signal = lines.min(axis=1)
            elif detector == "SAMP":
                signal = lines[:, sub // 2]
            else:
                signal = lines.mean(axis=1)
            power = signal + floor * self._noise(detector, video, samples, points)
            dbm = watt_to_dbm(power)
            trace.add(dbm, x, axis, mode, average_count, linear)

    def _start_sweeps(self, restart: bool) -> None:
        if not self.state["INIT:CONT"] and self.cursor < self.operation_end:
            raise ScpiError(-213, "a sweep is running")
        self.wait_operation()
        self._before_sweep = copy.deepcopy(self.traces)
        if restart:
            for trace in self.traces.values():
                trace.count = 0
        sweep_time = self.state["SWE:TIME"]
        count = 1 if self.state["INIT:CONT"] else max(1, int(self.state["SWE:COUN"]))
        for k in range(count):
            self._sweep(self.cursor + k * sweep_time)
        self.start_operation(count * sweep_time)

    def initiate(self, call: Call) -> None:
        """INIT: a new single sweep (SWE:COUN sweeps), restarting trace statistics."""
        self._start_sweeps(restart=True)

    def continue_measurement(self, call: Call) -> None:
        """INIT:CONM: further sweeps, continuing max hold and averaging."""
        self._start_sweeps(restart=False)

    def abort(self, call: Call) -> None:
        """ABOR: stop a running sweep; the traces keep what they held before it."""
        if self.cursor < self.operation_end and self._before_sweep is not None:
            self.traces = self._before_sweep
        self._before_sweep = None
        self.operation_end = self.cursor

    def _trace(self, number: int) -> _Trace:
        """Trace memory ready to read: after the running sweep, or a fresh sweep in
        continuous mode."""
        self.wait_operation()
        trace = self.traces[number]
        if self.state["INIT:CONT"]:
            self._sweep(self.cursor)
            self.spend(self.state["SWE:TIME"])
        if trace.dbm is None:  # what the sweeps before INIT:CONT OFF or VIEW left in it
            self._sweep(self.cursor, fill=number)
        return trace

    def _levels(self, trace: _Trace) -> np.ndarray:
        """Trace levels with the reference level offset, in the UNIT:POW unit."""
        assert trace.dbm is not None
        return from_dbm(trace.dbm + self.state["RLEV:OFFS"], self.state["UNIT:POW"])

    def query_format(self, call: Call) -> str:
        return "REAL,32" if self.state["FORM"] == "REAL" else "ASC,0"

    def set_format(self, call: Call) -> None:
        kind = call.args[0]
        bits = int(call.args[1]) if len(call.args) > 1 else (32 if kind == "REAL" else 0)
        if (kind, bits) not in (("ASC", 0), ("REAL", 32)):
            raise ScpiError(-224, f"FORM {kind},{bits}: use ASC or REAL,32")
        self.state["FORM"] = kind

    def _trace_number(self, token: str) -> int:
        match = _TRACE_NAME.match(token.strip().upper())
        if not match:
            raise ScpiError(-224, f"'{token.strip()}' is not TRACE1 to TRACE6")
        return int(match.group(1))

    def _encode(self, values: np.ndarray, ascii_format: str) -> str | bytes:
        if self.state["FORM"] == "ASC":
            return ",".join(format(float(v), ascii_format) for v in values)
        order = "<" if self.state["FORM:BORD"] == "SWAP" else ">"
        data = np.asarray(values, dtype=f"{order}f4").tobytes()
        length = str(len(data))
        return f"#{len(length)}{length}".encode() + data

    def query_trace(self, call: Call) -> str | bytes:
        """TRAC? TRACE<t>: the trace levels (dBm unless UNIT:POW says otherwise)."""
        trace = self._trace(self._trace_number(call.args[0]))
        return self._encode(self._levels(trace), ".7g")

    def query_trace_x(self, call: Call) -> str | bytes:
        """TRAC:DATA:X? TRACE<t>: the frequencies (Hz) of the points (s in zero span)."""
        self._trace_number(call.args[0])
        return self._encode(self._x_axis(), ".12g")

    # ------------------------------------------------------------------ markers

    @staticmethod
    def _kind(call: Call) -> str:
        return "DELT" if ":DELT" in call.header else "MARK"

    def query_marker_state(self, call: Call) -> str:
        return "1" if self.state[f"{self._kind(call)}{call.suffix['m']}"] else "0"

    def set_marker_state(self, call: Call) -> None:
        self._activate(self._kind(call), call.suffix["m"], call.args[0])

    def _activate(self, kind: str, m: int, on: bool) -> None:
        """Turn marker ``m`` on as a normal or delta marker (placing it on a peak of its
        trace if it was off), or off."""
        other = "MARK" if kind == "DELT" else "DELT"
        was_on = self.state[f"{kind}{m}"]
        self.state[f"{kind}{m}"] = on
        if not on or was_on:
            return
        self.state[f"{other}{m}"] = False
        if kind == "DELT" and not self.state["MARK1"] and m != 1:
            self._activate("MARK", 1, True)
        trace = self.traces[self.state[f"{kind}{m}:TRAC"]]
        x = self.state["FREQ:CENT"]
        if trace.dbm is not None and trace.x is not None and trace.x.size:
            index = int(np.argmax(trace.dbm))
            if kind == "DELT" and self.state["MARK1"]:
                ref = int(np.argmin(np.abs(trace.x - self.state["MARK1:X"])))
                found = find_peak(trace.dbm, ref, "NEXT", self.state["MARK:PEXC"])
                index = index if found is None else found
            x = float(trace.x[index])
        self.state[f"{kind}{m}:X"] = x

    def _marker_moved(self, key: str, value: float) -> None:
        kind, m = key[:4], int(key[4:].split(":")[0])
        self._activate(kind, m, True)
        self.state[key] = float(np.clip(value, self.state["FREQ:STAR"], self.state["FREQ:STOP"]))

    def _marker_level(self, kind: str, m: int, trace: _Trace) -> float:
        """Level (dBm) of the trace point nearest the marker."""
        assert trace.dbm is not None and trace.x is not None
        index = int(np.argmin(np.abs(trace.x - self.state[f"{kind}{m}:X"])))
        return float(trace.dbm[index])

    def _require_on(self, kind: str, m: int) -> None:
        if not self.state[f"{kind}{m}"]:
            name = "delta marker" if kind == "DELT" else "marker"
            raise ScpiError(-221, f"{name} {m} is off")

    def query_marker_y(self, call: Call) -> str:
        """Marker level in the UNIT:POW unit; a delta marker's level in dB relative to
        marker 1."""
        kind, m = self._kind(call), call.suffix["m"]
        self._require_on(kind, m)
        trace = self._trace(self.state[f"{kind}{m}:TRAC"])
        level = self._marker_level(kind, m, trace)
        if kind == "DELT":
            if self.state["MARK1"] and m != 1:
                ref = self.traces[self.state["MARK1:TRAC"]]
                if ref.dbm is not None:
                    level -= self._marker_level("MARK", 1, ref)
            return self.number_format(round(level, 9))
        level += self.state["RLEV:OFFS"]
        return self.number_format(float(from_dbm(np.array(level), self.state["UNIT:POW"])))

    def query_delta_x(self, call: Call) -> str:
        m = call.suffix["m"]
        self._require_on("DELT", m)
        return self.number_format(self.state[f"DELT{m}:X"] - self.state["MARK1:X"])

    def marker_search(self, call: Call) -> None:
        """MAX[:PEAK], MAX:NEXT, MAX:LEFT, MAX:RIGHt and the MIN forms."""
        kind, m = self._kind(call), call.suffix["m"]
        nodes = call.header.split(":")
        at = next(i for i, node in enumerate(nodes) if node in ("MAX", "MAXIMUM", "MIN",
                                                                "MINIMUM"))
        where = nodes[at + 1] if at + 1 < len(nodes) else "PEAK"
        direction = {"RIGH": "RIGHT"}.get(where, where)
        self._activate(kind, m, True)
        trace = self._trace(self.state[f"{kind}{m}:TRAC"])
        assert trace.dbm is not None and trace.x is not None
        current = int(np.argmin(np.abs(trace.x - self.state[f"{kind}{m}:X"])))
        index = find_peak(trace.dbm, current, direction, self.state["MARK:PEXC"],
                          lowest=nodes[at].startswith("MIN"))
        if index is not None:
            self.state[f"{kind}{m}:X"] = float(trace.x[index])

    def markers_off(self, call: Call) -> None:
        """AOFF: every marker (MARK) or every delta marker (DELT) off."""
        for m in MARKERS:
            self.state[f"{self._kind(call)}{m}"] = False

    def marker_to_center(self, call: Call) -> None:
        m = call.suffix["m"]
        self._require_on("MARK", m)
        self._frequency_changed("FREQ:CENT", self.state[f"MARK{m}:X"])

    def marker_to_reference(self, call: Call) -> None:
        m = call.suffix["m"]
        self._require_on("MARK", m)
        level = self._marker_level("MARK", m, self._trace(self.state[f"MARK{m}:TRAC"]))
        self.state["RLEV"] = float(np.clip(round(level, 2), -130.0, 30.0))
        self._couple()

    def marker_zoom(self, call: Call) -> None:
        """FUNC:ZOOM: with a frequency unit, the FSP-style zoom the PyMeasure driver
        documents (centre on the marker, span to the value, a new sweep); a bare number
        is the FSV's graphical zoom factor, which changes no trace data."""
        token = call.raw[0].strip()
        if not re.search(r"HZ$", token.upper()):
            factor = Number(1, 1e6).parse(token)
            self.state["MARK:ZOOM"] = factor
            return
        span = Number(MIN_SPAN, F_MAX, unit="HZ").parse(token)
        m = call.suffix["m"]
        self._require_on("MARK", m)
        center = self.state[f"MARK{m}:X"]
        self._frequency_changed("FREQ:SPAN", span)
        self._frequency_changed("FREQ:CENT", center)
        if not self.state["INIT:CONT"]:
            self._start_sweeps(restart=True)

    # ------------------------------------------------------------------ instrument

    def query_instrument_number(self, call: Call) -> str:
        return "1"

    def query_instrument_list(self, call: Call) -> str:
        return "'SANALYZER','Spectrum'"
