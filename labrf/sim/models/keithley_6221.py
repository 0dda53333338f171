"""Keithley 6221 AC and DC current source.

Follows the Model 6220/6221 Reference Manual (622x-901-01): section 2 (DC current
source: output, range, compliance, source delay), section 4 (sweeps and buffer),
section 5 (delta mode with a Model 2182A), section 6 (waveforms), section 10 (trigger
model), section 12 (status structure), section 14 (SCPI tables: SOURce, OUTPut, TRACe,
FORMat, ARM, TRIGger, STATus, SYSTem, DISPlay, UNIT). It serves PyMeasure's
``Keithley6221`` unmodified.

The source pushes its DC output to the world (``drive_dc``, current mode, compliance in
V) whenever the level, the compliance or the output state changes, and at power-on and
``*RST`` (output off, 0 A). Delta mode alternates the output between the HIGH and LOW
levels and reads the junction wired to ``output`` through the linked 2182A at 1 PLC
per A/D reading, with the 2182A's noise; delta readings use the three-point algorithm
and fill the trace buffer. A delta run or a finite waveform keeps the instrument busy
to its end (``INIT`` advances the instrument's clock by the run's duration).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

from labrf.sim.emulator import SCPI_SYSTEM, Emulator
from labrf.sim.models.keithley_2182a import NOISE_1PLC, Clamped, InfNumber
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
from labrf.sim.status import SCPI_STATUS, ScpiStatusModel
from labrf.wire import Link

RANGES = (2e-9, 20e-9, 200e-9, 2e-6, 20e-6, 200e-6, 2e-3, 20e-3, 100e-3)  #: A
DELTA_NPLC = 1.0  #: integration of each A/D reading of the linked 2182A
BFL = 512  #: buffer full, measurement event register
ELEMENTS = ("READ", "TST", "RNUM", "SOUR", "COMP", "AVOL")  #: FORM:ELEM reply order


@dataclass(frozen=True)
class DeltaReading:
    """One delta reading as stored in the trace buffer."""

    value: float  #: in the UNIT selected (V, ohm, W or S)
    timestamp: float  #: s since the start of the run
    number: int  #: reading number, from 0
    source: float  #: A, the level of the first of its three A/D readings
    compliance: bool  #: the output was in compliance
    average_voltage: float  #: V, mean of its three A/D readings


_ELEMENT = Choice("READing", "TSTamp", "UNITs", "RNUMber", "SOURce", "COMPliance",
                  "AVOLtage", "ALL", "DEFault")
_CURRENT = Number(-0.105, 0.105, unit="A", default=0)
_WAVE = "[:SOURce]:WAVE"

COMMANDS = CommandTable(
    # OUTPut
    Setting(":OUTPut[:STATe]", Boolean(), False, key="OUTP", on_change="_push"),
    Setting(":OUTPut:LTEarth", Boolean(), False, key="OUTP:LTE"),
    Setting(":OUTPut:ISHield", Choice("OLOW", "GUARd"), "OLOW", key="OUTP:ISH"),
    Setting(":OUTPut:RESPonse", Choice("FAST", "SLOW"), "SLOW", key="OUTP:RESP"),
    # SOURce: DC current
    Setting("[:SOURce]:CURRent[:LEVel][:IMMediate][:AMPLitude]", _CURRENT, 0.0,
            key="SOUR:CURR", on_change="_level_set"),
    Command("[:SOURce]:CURRent:RANGe", "set_range",
            params=(Number(-0.105, 0.105, unit="A", default=2e-3),)),
    Query("[:SOURce]:CURRent:RANGe", "query_range"),
    Setting("[:SOURce]:CURRent:RANGe:AUTO", Boolean(), False, key="SOUR:CURR:RANG:AUTO",
            on_change="_level_set"),
    Setting("[:SOURce]:CURRent:COMPliance", Number(0.1, 105, unit="V", default=10), 10.0,
            key="SOUR:CURR:COMP", on_change="_push"),
    Setting("[:SOURce]:CURRent:FILTer[:STATe]", Boolean(), False, key="SOUR:CURR:FILT"),
    Setting("[:SOURce]:DELay", Clamped(1e-3, 999999.999, unit="S", default=1e-3,
                                       accept_hi=1e6), 1e-3,
            key="SOUR:DEL"),
    Command("[:SOURce]:CLEar[:IMMediate]", "clear_source"),
    # SOURce: delta mode
    Setting("[:SOURce]:DELTa:HIGH", Number(-0.105, 0.105, unit="A", default=1e-3), 1e-3,
            key="DELT:HIGH", on_change="_delta_high_set"),
    Setting("[:SOURce]:DELTa:LOW", Number(-0.105, 0.105, unit="A", default=-1e-3), -1e-3,
            key="DELT:LOW"),
    Setting("[:SOURce]:DELTa:DELay",
            InfNumber(0, 9999.999, unit="S", default=2e-3, specials={"INF": math.inf}), 2e-3,
            key="DELT:DEL"),
    Setting("[:SOURce]:DELTa:COUNt",
            InfNumber(1, 65536, integer=True, default=math.inf, specials={"INF": math.inf}),
            math.inf, key="DELT:COUN"),
    Setting("[:SOURce]:DELTa:CABort", Boolean(), False, key="DELT:CAB"),
    Setting("[:SOURce]:DELTa:CSWitch", Boolean(), False, key="DELT:CSW"),
    Query("[:SOURce]:DELTa:NVPResent", "query_nanovoltmeter"),
    Command("[:SOURce]:DELTa:ARM", "arm_delta"),
    Query("[:SOURce]:DELTa:ARM", "query_delta_armed"),
    Setting("[:SOURce]:SWEep:COUNt",
            InfNumber(1, 65536, integer=True, default=1, specials={"INF": math.inf}), 1.0,
            key="SWE:COUN"),
    Command("[:SOURce]:SWEep:ABORt", "abort_sweep"),
    Setting(":UNIT[:VOLTage][:DC]", Choice("V", "OHMS", "W", "SIEMens"), "V", key="UNIT"),
    Query("[:SENSe]:DATA[:LATest]", "query_latest"),
    # SOURce: waveforms
    Setting(f"{_WAVE}:FUNCtion", Choice("SINe", "SQUare", "RAMP", "ARBitrary0", "ARBitrary1",
                                        "ARBitrary2", "ARBitrary3", "ARBitrary4"),
            "SIN", key="WAVE:FUNC"),
    Setting(f"{_WAVE}:FREQuency", Number(1e-3, 1e5, unit="HZ", default=1e3), 1e3,
            key="WAVE:FREQ", on_change="_wave_frequency_set"),
    Setting(f"{_WAVE}:AMPLitude", Number(2e-12, 0.105, unit="A", default=2e-12), 2e-12,
            key="WAVE:AMPL"),
    Setting(f"{_WAVE}:OFFSet", _CURRENT, 0.0, key="WAVE:OFFS"),
    Setting(f"{_WAVE}:DCYCle", Number(0, 100, default=50), 50.0, key="WAVE:DCYC"),
    Setting(f"{_WAVE}:DURation:TIME",
            Clamped(100e-9, 999999.999, unit="S", specials={"INF": math.inf}, accept_hi=1e6),
            math.inf,
            key="WAVE:DUR:TIME", on_change="_wave_duration_set"),
    Setting(f"{_WAVE}:DURation:CYCLes",
            Clamped(1e-3, 99999999900, specials={"INF": math.inf}, accept_hi=1e11), math.inf,
            key="WAVE:DUR:CYCL", on_change="_wave_duration_set"),
    Setting(f"{_WAVE}:RANGing", Choice("BEST", "FIXed"), "BEST", key="WAVE:RANG"),
    # The manual gives the phase marker as 0 to 360 degrees; PyMeasure's
    # waveform_phasemarker_phase sends -180 to 180, so both are accepted.
    Setting(f"{_WAVE}:PMARker[:LEVel]", Number(-180, 360, default=0), 0.0, key="WAVE:PMAR"),
    Setting(f"{_WAVE}:PMARker:STATe", Boolean(), False, key="WAVE:PMAR:STAT"),
    Setting(f"{_WAVE}:PMARker:OLINe", Number(1, 6, integer=True, default=1), 1.0,
            key="WAVE:PMAR:OLIN"),
    Command(f"{_WAVE}:ARM", "arm_wave"),
    Query(f"{_WAVE}:ARM", "query_wave_armed"),
    Command(f"{_WAVE}:INITiate", "start_wave"),
    Command(f"{_WAVE}:ABORt", "abort_wave"),
    Command(f"{_WAVE}:ARBitrary:DATA", "set_arbitrary", params=(Number(-1, 1),) * 100,
            optional=99),
    Query(f"{_WAVE}:ARBitrary:DATA", "query_arbitrary"),
    Command(f"{_WAVE}:ARBitrary:COPY", "copy_arbitrary",
            params=(Number(1, 4, integer=True),)),
    Query(f"{_WAVE}:ARBitrary:POINts", "query_arbitrary_points"),
    # Trigger model
    Command(":INITiate[:IMMediate]", "initiate"),
    Command(":ABORt", "abort"),
    Setting(":ARM[:SEQuence][:LAYer]:SOURce",
            Choice("IMMediate", "TIMer", "BUS", "TLINk", "BSTest", "PSTest", "NSTest",
                   "MANual"), "IMM", key="ARM:SOUR"),
    Setting(":ARM[:SEQuence][:LAYer]:TIMer", Number(1e-3, 99999.99, unit="S", default=0.1),
            0.1, key="ARM:TIM"),
    Setting(":ARM[:SEQuence][:LAYer]:ILINe", Number(1, 6, integer=True, default=1), 1.0,
            key="ARM:ILIN"),
    Setting(":ARM[:SEQuence][:LAYer]:OLINe", Number(1, 6, integer=True, default=2), 2.0,
            key="ARM:OLIN"),
    Setting(":ARM[:SEQuence][:LAYer]:OUTPut", Choice("TENTer", "TEXit", "NONE"), "NONE",
            key="ARM:OUTP"),
    # The 6221's trigger layer takes IMMediate or TLINk; PyMeasure's trigger_on_bus also
    # sends :TRIG:SOUR BUS, so BUS is accepted (a *TRG then satisfies the layer).
    Setting(":TRIGger[:SEQuence]:SOURce", Choice("IMMediate", "TLINk", "BUS"), "IMM",
            key="TRIG:SOUR"),
    Setting(":TRIGger[:SEQuence]:ILINe", Number(1, 6, integer=True, default=1), 1.0,
            key="TRIG:ILIN"),
    Setting(":TRIGger[:SEQuence]:OLINe", Number(1, 6, integer=True, default=2), 2.0,
            key="TRIG:OLIN"),
    Setting(":TRIGger[:SEQuence]:OUTPut", Choice("SOURce", "DELay", "NONE"), "NONE",
            key="TRIG:OUTP"),
    # Buffer
    # The buffer holds 65536 readings; PyMeasure's delta_buffer_points declares up to 1e6.
    Setting(":TRACe:POINts", Clamped(1, 65536, integer=True, default=100, accept_hi=1e6),
            100.0, key="TRAC:POIN"),
    Query(":TRACe:POINts:ACTual", "query_buffer_count"),
    Setting(":TRACe:FEED", Choice("SENSe", "SENSe1", "NONE", replies={"SENS1": "SENS"}),
            "SENS", key="TRAC:FEED"),
    Setting(":TRACe:FEED:CONTrol", Choice("NEVer", "NEXT"), "NEV", key="TRAC:FEED:CONT"),
    Command(":TRACe:CLEar", "clear_buffer"),
    Query(":TRACe:DATA", "query_buffer"),
    Query(":TRACe:FREE", "query_buffer_free"),
    Setting(":FORMat[:DATA]", Choice("ASCii"), "ASC", key="FORM:DATA"),
    Command(":FORMat:ELEMents", "set_elements", params=(_ELEMENT,) * 9, optional=8),
    Query(":FORMat:ELEMents", "query_elements"),
    # PyMeasure's standard_event_enabled sends "ESE?" / "ESE %d" without the '*' of the
    # IEEE 488.2 common command, declaring 0 to 65535; the driver is our client, so both
    # forms reach *ESE, whose register has 8 bits.
    Query("ESE", "query_ese"),
    Command("ESE", "set_ese", params=(Clamped(0, 255, integer=True, accept_hi=65535),)),
    # SYSTem, DISPlay
    Command(":SYSTem:BEEPer[:IMMediate]", "beep",
            params=(Number(65, 2e6, unit="HZ"), Number(0, 7.9, unit="S"))),
    Setting(":SYSTem:BEEPer:STATe", Boolean(), True, key="SYST:BEEP", rst=False),
    Command(":SYSTem:PRESet", "system_preset"),
    Setting(":DISPlay:ENABle", Boolean(), True, key="DISP:ENAB", rst=False),
    Setting(":DISPlay[:WINDow<w>]:TEXT[:DATA]", Text(), "", key="DISP:TEXT{w}",
            suffixes={"w": (1, 2)}),
    Setting(":DISPlay[:WINDow<w>]:TEXT:STATe", Boolean(), False, key="DISP:TEXT{w}:STAT",
            suffixes={"w": (1, 2)}),
) + SCPI_STATUS + SCPI_SYSTEM


class Keithley6221(ScpiStatusModel, Emulator):
    """Keithley 6221 current source driving one junction, with delta mode."""

    model = "keithley6221"
    link = Link("\n", "\n", baud_rate=9600)  # RS-232: 9600 baud 8N1, LF
    idn = "KEITHLEY INSTRUMENTS INC.,MODEL 6221,1234567,D03  /700x"
    commands = COMMANDS
    error_queue_size = 10
    ports: ClassVar[dict[str, tuple[str, ...]]] = {"output": ("mtj", "control_line",
                                                              "neuron", "route")}
    self_test_time = 2.0
    boot_time = 10.0

    # ------------------------------------------------------------------ life cycle

    def on_reset(self) -> None:
        """Power-on and *RST: output off at 0 A, delta and waveform disarmed."""
        self.delta_armed = False
        self.wave_armed = False
        self.wave_end: float | None = None  #: instrument time a running waveform ends
        self.buffer: list[DeltaReading] = []
        self.latest: DeltaReading | None = None
        self.elements: tuple[str, ...] = ("READ", "TST")
        self.arbitrary: list[float] = [0.0]
        self.arbitrary_stored: dict[int, list[float]] = {}
        self.state["SOUR:CURR:RANG"] = 2e-3
        self._push()

    def system_preset(self, call: Call) -> None:
        self.reset()

    def number_format(self, value: float) -> str:
        return f"{value:+.6E}"

    def execute(self, message: str) -> str | bytes | None:
        self._finish_wave()
        return super().execute(message)

    # ------------------------------------------------------------------ DC output

    def _push(self, key: str | None = None, value: object = None,
              level: float | None = None, on: bool | None = None) -> None:
        """Tell the world what the output now drives (current mode, compliance in V)."""
        self.world.drive_dc(self.name, self.cursor,
                            on=self.state["OUTP"] if on is None else on, mode="current",
                            level=self.state["SOUR:CURR"] if level is None else level,
                            compliance=self.state["SOUR:CURR:COMP"])

    @staticmethod
    def _best_range(level: float) -> float:
        return next((r for r in RANGES if abs(level) <= r * 1.0000001), RANGES[-1])

    def _level_set(self, key: str, value: object) -> None:
        """A new level (or autorange): autorange follows it; a fixed range too small for
        it moves up to the lowest range that holds it."""
        level = self.state["SOUR:CURR"]
        best = self._best_range(level)
        if self.state["SOUR:CURR:RANG:AUTO"] or best > self.state["SOUR:CURR:RANG"]:
            self.state["SOUR:CURR:RANG"] = best
        self._push()

    def set_range(self, call: Call) -> None:
        """``SOUR:CURR:RANG <n>``: the lowest range holding |n|; autorange goes off. A
        range below the present level is refused (-221)."""
        rng = self._best_range(call.args[0])
        if abs(self.state["SOUR:CURR"]) > rng * 1.0000001:
            raise ScpiError(-221, f"range {rng:g} A is below the level "
                                  f"{self.state['SOUR:CURR']:g} A")
        self.state["SOUR:CURR:RANG"] = rng
        self.state["SOUR:CURR:RANG:AUTO"] = False

    def query_range(self, call: Call) -> str:
        return self.number_format(self.state["SOUR:CURR:RANG"])

    def clear_source(self, call: Call) -> None:
        """``SOUR:CLE``: output off."""
        self.state["OUTP"] = False
        self._push()

    # ------------------------------------------------------------------ delta mode

    def _delta_high_set(self, key: str, value: float) -> None:
        """Setting HIGH sets LOW to -HIGH (manual 5-10)."""
        self.state["DELT:LOW"] = -value

    def _linked_nanovoltmeter(self) -> str | None:
        """Name of the 2182A linked for delta mode: ``wiring["voltmeter"]`` if given,
        else a Model 2182A of the bench reading the junction this source drives."""
        if self.wiring.get("voltmeter"):
            return self.wiring["voltmeter"]
        junction = self.wiring.get("output")
        if junction is None:
            return None
        config = getattr(self.world, "config", None)
        for name, inst in getattr(config, "instruments", {}).items():
            if inst.model == "keithley2182a" and inst.wiring.get("input") == junction:
                return name
        return None

    def query_nanovoltmeter(self, call: Call) -> str:
        return "1" if self._linked_nanovoltmeter() else "0"

    def arm_delta(self, call: Call) -> None:
        """``SOUR:DELT:ARM``: needs a linked 2182A; clears the buffer for the run."""
        if not self._linked_nanovoltmeter():
            raise ScpiError(-221, "delta mode needs a Model 2182A on the RS-232 link")
        if self.wave_armed:
            raise ScpiError(-221, "a waveform is armed")
        self.delta_armed = True
        self.clear_buffer()

    def query_delta_armed(self, call: Call) -> str:
        return "1" if self.delta_armed else "0"

    def abort_sweep(self, call: Call) -> None:
        """``SOUR:SWE:ABOR``: disarm delta (the output returns to its DC setting)."""
        self.delta_armed = False
        self._push()

    def _ad_reading(self, level: float) -> tuple[float, bool]:
        """Output ``level``, wait the delta delay, then one 2182A A/D reading (V)."""
        self._push(level=level, on=True)
        self.spend(self.state["DELT:DEL"])
        self.spend(DELTA_NPLC / self.world.line_frequency)
        if "output" not in self.wiring:
            voltage, limited = 0.0, False
        else:
            reading = self.world.junction_reading(self.name, self.cursor)
            voltage, limited = reading.voltage, reading.in_compliance
        if self.world.noise_enabled:
            voltage += float(self.noise.normal(0.0, NOISE_1PLC / math.sqrt(DELTA_NPLC)))
        return voltage, limited

    def _delta_value(self, delta: float) -> float:
        """A delta voltage in the selected UNIT."""
        half_step = (self.state["DELT:HIGH"] - self.state["DELT:LOW"]) / 2
        unit = self.state["UNIT"]
        if unit == "V":
            return delta
        if unit == "W":
            return delta * half_step
        if half_step == 0 or (unit == "SIEM" and delta == 0):
            return 9.9e37
        return delta / half_step if unit == "OHMS" else half_step / delta

    def _run_delta(self) -> None:
        """Delta run: SWE:COUN sets of DELT:COUN three-point delta readings, stored until
        the buffer is full (an INF count or set count runs until then)."""
        if math.isinf(self.state["DELT:DEL"]):
            raise ScpiError(-221, "delta delay INF needs an external trigger")
        size = int(self.state["TRAC:POIN"])
        count, sets = self.state["DELT:COUN"], self.state["SWE:COUN"]
        endless = math.isinf(count) or math.isinf(sets)
        per_set = size if math.isinf(count) else int(count)
        start = self.cursor
        levels = (self.state["DELT:HIGH"], self.state["DELT:LOW"])
        number = 0
        for _ in range(size if endless else int(sets)):
            volts: list[float] = []
            limited = False
            for k in range(per_set + 2):
                v, in_compliance = self._ad_reading(levels[k % 2])
                volts.append(v)
                limited = limited or in_compliance
                if in_compliance and self.state["DELT:CAB"]:
                    self._push()
                    return
                if k < 2:
                    continue
                i = k - 2
                sign = 1.0 if i % 2 == 0 else -1.0
                delta = sign * (volts[i] - 2 * volts[i + 1] + volts[i + 2]) / 4
                self._store(DeltaReading(self._delta_value(delta), self.cursor - start,
                                         number, levels[i % 2], limited,
                                         sum(volts[i:i + 3]) / 3))
                number += 1
                if endless and len(self.buffer) >= size:
                    self._push()
                    return
        self._push()

    def _store(self, reading: DeltaReading) -> None:
        self.latest = reading
        if len(self.buffer) < int(self.state["TRAC:POIN"]):
            self.buffer.append(reading)
            if len(self.buffer) == int(self.state["TRAC:POIN"]):
                self.registers["MEAS"][0] |= BFL

    def query_latest(self, call: Call) -> str:
        """``SENS:DATA?``: the latest delta reading (9.91E37, not a number, before any)."""
        if self.latest is None:
            return self.number_format(9.91e37)
        return self.number_format(self.latest.value)

    # ------------------------------------------------------------------ trigger model

    def initiate(self, call: Call) -> None:
        """``INIT``: start an armed delta run (the instrument is busy to its end)."""
        if self.delta_armed:
            self._run_delta()
        elif self.wave_armed:
            self.start_wave(call)
        else:
            raise ScpiError(-221, "nothing armed: arm delta mode or a waveform first")

    def abort(self, call: Call) -> None:
        if self.wave_end is not None:
            self.abort_wave(call)
        self.delta_armed = False
        self._push()

    # ------------------------------------------------------------------ waveforms

    def _wave_frequency_set(self, key: str, value: float) -> None:
        time = self.state["WAVE:DUR:TIME"]
        if math.isfinite(time):
            self.state["WAVE:DUR:CYCL"] = time * value

    def _wave_duration_set(self, key: str, value: float) -> None:
        """Duration in time and in cycles are one setting seen two ways."""
        frequency = self.state["WAVE:FREQ"]
        if key == "WAVE:DUR:TIME":
            self.state["WAVE:DUR:CYCL"] = value * frequency
        else:
            self.state["WAVE:DUR:TIME"] = value / frequency

    def arm_wave(self, call: Call) -> None:
        if self.delta_armed:
            raise ScpiError(-221, "delta mode is armed")
        function = self.state["WAVE:FUNC"]
        if function.startswith("ARB") and function != "ARB0" \
                and int(function[3]) not in self.arbitrary_stored:
            raise ScpiError(-221, f"{function} holds no waveform")
        if abs(self.state["WAVE:OFFS"]) + self.state["WAVE:AMPL"] > 0.105:
            raise ScpiError(-221, "amplitude plus offset exceed 105 mA")
        self.wave_armed = True

    def query_wave_armed(self, call: Call) -> str:
        return "1" if self.wave_armed else "0"

    def start_wave(self, call: Call) -> None:
        """``SOUR:WAVE:INIT``: the output runs the waveform; the junction sees its DC
        component (the offset) for the duration."""
        if not self.wave_armed:
            raise ScpiError(-221, "waveform not armed")
        duration = self.state["WAVE:DUR:TIME"]
        self._push(level=self.state["WAVE:OFFS"], on=True)
        self.wave_end = self.cursor + duration if math.isfinite(duration) else math.inf
        if math.isfinite(duration):
            self.start_operation(duration)

    def _finish_wave(self) -> None:
        """A finite waveform that has run its course: back to the DC output."""
        if self.wave_end is not None and self.cursor >= self.wave_end:
            now, self.cursor = self.cursor, self.wave_end
            self.wave_end = None
            self._push()
            self.cursor = now

    def abort_wave(self, call: Call) -> None:
        self.wave_armed = False
        self.wave_end = None
        self.operation_end = self.cursor
        self._push()

    def set_arbitrary(self, call: Call) -> None:
        self.arbitrary = list(call.args)

    def query_arbitrary(self, call: Call) -> str:
        return ",".join(self.number_format(v) for v in self.arbitrary)

    def copy_arbitrary(self, call: Call) -> None:
        self.arbitrary_stored[int(call.args[0])] = list(self.arbitrary)

    def query_arbitrary_points(self, call: Call) -> str:
        return str(len(self.arbitrary))

    # ------------------------------------------------------------------ buffer

    def clear_buffer(self, call: Call | None = None) -> None:
        self.buffer = []
        self.registers["MEAS"][0] &= ~BFL

    def query_buffer_count(self, call: Call) -> str:
        return str(len(self.buffer))

    def query_buffer_free(self, call: Call) -> str:
        used = len(self.buffer) * 16
        return f"{int(self.state['TRAC:POIN']) * 16 - used},{used}"

    def _fields(self, reading: DeltaReading) -> list[str]:
        values = {"READ": self.number_format(reading.value),
                  "TST": self.number_format(reading.timestamp),
                  "RNUM": str(reading.number),
                  "SOUR": self.number_format(reading.source),
                  "COMP": "1" if reading.compliance else "0",
                  "AVOL": self.number_format(reading.average_voltage)}
        return [values[e] for e in ELEMENTS if e in self.elements]

    def query_buffer(self, call: Call) -> str:
        """``TRAC:DATA?``: the stored readings (an empty reply for an empty buffer)."""
        return ",".join(f for reading in self.buffer for f in self._fields(reading))

    def set_elements(self, call: Call) -> None:
        """``FORM:ELEM``: the fields of each buffer reading (UNITs is accepted; replies
        carry no unit text)."""
        chosen: set[str] = set()
        for item in call.args:
            if item == "ALL":
                chosen.update(ELEMENTS)
            elif item == "DEF":
                chosen.update(("READ", "TST"))
            elif item in ELEMENTS:
                chosen.add(item)
        if not chosen:
            raise ScpiError(-224, "no reading element selected")
        self.elements = tuple(e for e in ELEMENTS if e in chosen)

    def query_elements(self, call: Call) -> str:
        return ",".join(self.elements)

    # ------------------------------------------------------------------ status

    def condition(self, register: str) -> int:
        """Measurement condition: buffer full (BFL)."""
        full = len(self.buffer) >= int(self.state["TRAC:POIN"])
        return BFL if register == "MEAS" and full else 0

    def beep(self, call: Call) -> None:
        """``SYST:BEEP <Hz>, <s>``: sounds while the instrument goes on (nothing to do)."""
