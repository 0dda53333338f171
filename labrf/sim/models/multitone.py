"""A multitone RF generator: up to 8192 CW tones at once from one output, each at its
own frequency and power (an arbitrary-waveform generator playing a multitone, seen
through its tone table).

No commercial model is emulated: the command set is SCPI-99 style, after the list
subsystems of signal generators (``[:SOURce]:LIST:FREQuency``, ``[:SOURce]:LIST:POWer``)
and the multicarrier CW tables of vector generators. Lists are written as
comma-separated values (with units) or as one IEEE 488.2 definite-length block of
reals, read back as ``FORMat[:DATA] ASCii | REAL,32 | REAL,64`` and ``FORMat:BORDer``
say::

    FORM REAL,64;BORD SWAP
    LIST:FREQ #42048<2048 bytes>      frequencies, Hz
    LIST:POW -30,-32.5,...            powers, dBm at the output connector
    OUTP ON

Out-of-range values (1 MHz to 6 GHz, -130 dBm to +10 dBm per tone) are refused with
-222 and change nothing; more than 8192 tones, -223. The output plays the tone table
only when the frequency and power lists have the same length: a mismatch while the
output is on is error -221 and the output carries nothing until it is resolved. Each
change of the table or of the output is pushed to the world (``drive_tones``).
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from labrf.sim.emulator import SCPI_SYSTEM, Emulator
from labrf.sim.models.array_data import (
    FORMAT_COMMANDS,
    ArrayFormat,
    parse_values,
)
from labrf.sim.scpi import Boolean, Call, Command, CommandTable, Number, Query, Setting
from labrf.units import dbm_to_watt
from labrf.wire import Link

MAX_TONES = 8192
F_MIN, F_MAX = 1e6, 6e9  #: Hz, per tone
P_MIN, P_MAX = -130.0, 10.0  #: dBm, per tone
SETTLING_TIME = 2e-3  #: s after a change of the tone table (the waveform is recomputed)
_FREQUENCY = Number(F_MIN, F_MAX, unit="HZ")
_POWER = Number(P_MIN, P_MAX, unit="DBM")


class MultitoneGenerator(ArrayFormat, Emulator):
    """A multitone RF generator driving a network chip's RF input."""

    model: ClassVar[str] = "multitone"
    idn: ClassVar[str] = "labrf,MTG-8192 multitone generator (emulated),000001,1.0"
    ports: ClassVar[dict[str, tuple[str, ...]]] = {"output": ("tone_input",)}
    link: ClassVar[Link] = Link(read_termination="\n")

    commands = CommandTable(
        Setting(":OUTPut[:STATe]", Boolean(), False, key="OUTP", on_change="_push"),
        Command("[:SOURce]:LIST:FREQuency", "set_frequencies", variadic=True),
        Query("[:SOURce]:LIST:FREQuency", "query_frequencies"),
        Command("[:SOURce]:LIST:POWer", "set_powers", variadic=True),
        Query("[:SOURce]:LIST:POWer", "query_powers"),
        Query("[:SOURce]:LIST:POINts", "query_points"),
        Command("[:SOURce]:LIST:CLEar", "clear_list"),
        Query(":SYSTem:TONes", "query_max_tones"),
    ) + FORMAT_COMMANDS + SCPI_SYSTEM

    def on_reset(self) -> None:
        self.frequencies = np.zeros(0)
        self.powers_dbm = np.zeros(0)
        self.reset_format()
        self._push()

    # ------------------------------------------------------------ the tone table

    def set_frequencies(self, call: Call) -> None:
        self.frequencies = parse_values(call.raw, _FREQUENCY, self.state["FORM:BORD"],
                                        MAX_TONES)
        self._settle()

    def set_powers(self, call: Call) -> None:
        self.powers_dbm = parse_values(call.raw, _POWER, self.state["FORM:BORD"], MAX_TONES)
        self._settle()

    def clear_list(self, call: Call) -> None:
        self.frequencies, self.powers_dbm = np.zeros(0), np.zeros(0)
        self._settle()

    def query_frequencies(self, call: Call) -> str | bytes:
        return self.values_reply(self.frequencies)

    def query_powers(self, call: Call) -> str | bytes:
        return self.values_reply(self.powers_dbm)

    def query_points(self, call: Call) -> str:
        return str(self.frequencies.size)

    def query_max_tones(self, call: Call) -> str:
        return str(MAX_TONES)

    # ------------------------------------------------------------ the output

    def _settle(self) -> None:
        self.spend(SETTLING_TIME)
        self._push()

    def playing(self) -> tuple[np.ndarray, np.ndarray]:
        """(frequencies Hz, powers W) the output carries now; empty when off or when the
        lists disagree in length."""
        if not self.state["OUTP"] or self.frequencies.size != self.powers_dbm.size:
            return np.zeros(0), np.zeros(0)
        return self.frequencies.copy(), np.asarray(dbm_to_watt(self.powers_dbm), float)

    def _push(self, key: str | None = None, value: object = None) -> None:
        if self.state["OUTP"] and self.frequencies.size != self.powers_dbm.size:
            self.queue_error(-221, f"{self.frequencies.size} frequencies and "
                                   f"{self.powers_dbm.size} powers: the output is silent")
        self.world.drive_tones(self.name, self.cursor, *self.playing())
