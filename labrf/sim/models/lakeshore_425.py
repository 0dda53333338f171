"""Lake Shore Model 425 gaussmeter with a Hall probe at the field coil.

Follows the Model 425 user's manual, chapter 6 (computer interface operation): flat,
non-SCPI commands (``RDGFIELD?``, ``UNIT``, ``RANGE``, ``AUTO``, ``RDGMODE``,
``ZPROBE``, ``ZCLEAR``, ``TYPE?``, ``RDGMX?``, ``RDGMNMX?``) and the IEEE 488.2 common
commands. There is no error queue: an error only sets its bit in the standard event
status register (command error, bit 5, for an unknown command; execution error, bit 4,
for a value out of range), read with ``*ESR?``.

Readings: the field at the probe (``world.field_at_probe``), plus the probe's zero offset
less the correction ``ZPROBE`` stored, plus noise that grows with the range (offset and
noise only when the world has noise enabled), quantized to the range's resolution (full
scale / 35000) and given in the selected unit as ``+nnn.nnE+nn``. ``RANGE`` 1..4 are
35 G, 350 G, 3.5 kG and 35 kG full scale (the ranges of the high-sensitivity probe, which
PyMeasure assumes). A reading beyond full scale is an overload, shown as "OL" on the
display; over the interface this emulator answers the full-scale value with the field's
sign (the manual does not say), so ``abs(reading) == full scale`` means overload.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

from labrf.sim.emulator import Emulator
from labrf.sim.scpi import Call, Command, CommandTable, Number, Query, Setting
from labrf.wire import Link

MU0 = 4e-7 * math.pi  #: vacuum permeability, T m / A
FULL_SCALE = {1: 35e-4, 2: 35e-3, 3: 0.35, 4: 3.5}  #: T, per RANGE
COUNTS = 35000  #: display counts at full scale (resolution = full scale / COUNTS)
NOISE = {1: 2e-6, 2: 3e-6, 3: 2e-5, 4: 2e-4}  #: T rms per RANGE, filter off
FILTER_NOISE = 0.3  #: noise factor with the DC filter on
PROBE_OFFSET = 50e-6  #: T rms spread of the probe's initial zero offset
UNIT_PER_TESLA = {1: 1e4, 2: 1.0, 3: 1e4, 4: 1.0 / MU0}  #: G, T, Oe (in vacuum), A/m
UPDATE_TIME = 1.0 / 30  #: s between reading updates
REPLY_TIME = 0.003  #: s for the 425 to answer a query
PROBE_TYPE = "40"  #: TYPE? of a high-sensitivity probe


def _integer(lo: int, hi: int) -> Number:
    return Number(lo, hi, integer=True)


class LakeShore425(Emulator):
    """Lake Shore 425 gaussmeter reading the coil's field."""

    model: ClassVar[str] = "lakeshore425"
    #: its USB virtual serial port: 57600 baud, 7 data bits, odd parity, 1 stop bit, LF
    link: ClassVar[Link] = Link("\n", "\n", baud_rate=57600, data_bits=7, parity="odd")
    idn: ClassVar[str] = "LSCI,MODEL425,LSA1234,1.3"
    ports: ClassVar[dict[str, tuple[str, ...]]] = {"probe": ("coil",)}
    self_test_time: ClassVar[float] = 0.1
    commands: ClassVar[CommandTable] = CommandTable(
        Query("RDGFIELD", "query_field"),
        Setting("UNIT", _integer(1, 4), 1),
        # RANGE? answers the range auto-ranging chose; RANGE n turns auto-ranging off.
        Query("RANGE", "query_range"),
        Setting("RANGE", _integer(1, 4), 4, on_change="_range_set"),
        # A bare AUTO (as PyMeasure sends it) turns auto-ranging on.
        Command("AUTO", "set_auto", params=(_integer(0, 1),), optional=1),
        Setting("AUTO", _integer(0, 1), 1),
        Command("RDGMODE", "set_mode", params=(_integer(1, 2), _integer(0, 1), _integer(1, 2))),
        Query("RDGMODE", "query_mode"),
        Command("ZPROBE", "zero_probe"),
        Command("ZCLEAR", "clear_zero"),
        Query("TYPE", "query_type"),
        Query("RDGMX", "query_max"),
        Query("RDGMNMX", "query_min_max"),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        #: the probe's zero offset (T): drawn once, a property of the probe; a world
        #: without noise has an ideal probe
        offset = float(self.noise.normal(0.0, PROBE_OFFSET))
        self.probe_offset = offset if self.world.noise_enabled else 0.0
        #: what ZPROBE measured and now subtracts (T); kept through *RST and power cycles
        self.zero_correction = 0.0

    # ------------------------------------------------------------------ status

    def queue_error(self, code: int, detail: str = "") -> None:
        """No error queue on the 425: an error only sets its ESR bit (CME for -1xx)."""
        super().queue_error(code, detail)
        self.errors.clear()

    def on_reset(self) -> None:
        """Power-on and ``*RST``: DC mode, filter off, wide band; max hold cleared."""
        self.state["RDGMODE"] = (1, 0, 1)
        self.max_reading = 0.0

    def execute(self, message: str) -> str | bytes | None:
        reply = super().execute(message)
        if reply is not None:
            self.spend(REPLY_TIME)
        return reply

    # ---------------------------------------------------------------- settings

    def _range_set(self, key: str, value: float) -> None:
        self.state["AUTO"] = 0

    def set_auto(self, call: Call) -> None:
        self.state["AUTO"] = int(call.args[0]) if call.args else 1

    def query_range(self, call: Call) -> str:
        if self.state["AUTO"]:
            self.state["RANGE"] = self._auto_range(abs(self._field()))
        return str(int(self.state["RANGE"]))

    def set_mode(self, call: Call) -> None:
        self.state["RDGMODE"] = tuple(int(a) for a in call.args)

    def query_mode(self, call: Call) -> str:
        return ",".join(str(v) for v in self.state["RDGMODE"])

    def zero_probe(self, call: Call) -> None:
        """``ZPROBE``: take the present (averaged) reading as zero.

        The meter cannot know whether the probe sits in its zero-gauss chamber: a field
        present at the probe -- the coil's, or its remanence -- is zeroed out as well.
        """
        self.zero_correction += self._field()

    def clear_zero(self, call: Call) -> None:
        """``ZCLEAR``: forget the ZPROBE correction."""
        self.zero_correction = 0.0

    def query_type(self, call: Call) -> str:
        return PROBE_TYPE

    # --------------------------------------------------------------- readings

    def number_format(self, value: float) -> str:
        """``+nnn.nnE+nn``: five significant digits, exponent a multiple of three."""
        if value == 0 or not math.isfinite(value):
            return "+0.0000E+00"
        digits, exponent = f"{abs(value):.4e}".split("e")
        digits = digits.replace(".", "")
        shift = int(exponent) % 3
        sign = "-" if value < 0 else "+"
        return (f"{sign}{digits[:shift + 1]}.{digits[shift + 1:]}"
                f"E{int(exponent) - shift:+03d}")

    def _field(self) -> float:
        """Field (T) the meter sees now, before noise: true field + uncorrected offset."""
        true = (self.world.field_at_probe(self.name, self.cursor)
                if "probe" in self.wiring else 0.0)
        return true + self.probe_offset - self.zero_correction

    @staticmethod
    def _auto_range(magnitude: float) -> int:
        return next((r for r, fs in FULL_SCALE.items() if magnitude <= 0.95 * fs), 4)

    def _reading(self) -> float:
        """One reading in tesla, on the present range, clamped at full scale."""
        self.spend(UPDATE_TIME)
        field = self._field()
        if self.state["AUTO"]:
            self.state["RANGE"] = self._auto_range(abs(field))
        rng = int(self.state["RANGE"])
        mode, filtered, _ = self.state["RDGMODE"]
        sigma = NOISE[rng] * (FILTER_NOISE if filtered else 1.0)
        noise = float(self.noise.normal(0.0, sigma)) if self.world.noise_enabled else 0.0
        # RMS mode reads the AC part only: of a quasi-static coil field, just the noise.
        value = field + noise if mode == 1 else abs(noise)
        full = FULL_SCALE[rng]
        value = math.copysign(min(abs(value), full), value)
        step = full / COUNTS
        return round(value / step) * step

    def _in_unit(self, tesla: float) -> str:
        return self.number_format(tesla * UNIT_PER_TESLA[int(self.state["UNIT"])])

    def query_field(self, call: Call) -> str:
        value = self._reading()
        self.max_reading = max(self.max_reading, abs(value))
        return self._in_unit(value)

    def query_max(self, call: Call) -> str:
        """``RDGMX?``: the largest field magnitude read since power-on or ``*RST``."""
        self.max_reading = max(self.max_reading, abs(self._reading()))
        return self._in_unit(self.max_reading)

    def query_min_max(self, call: Call) -> str:
        """``RDGMNMX?``: the 425 always answers zero for the minimum."""
        return f"{self._in_unit(0.0)},{self.query_max(call)}"
