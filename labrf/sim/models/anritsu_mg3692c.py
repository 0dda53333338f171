"""Anritsu MG3692C synthesized signal generator.

Follows the Anritsu MG369xC SCPI Programming Manual (10370-10375): the SOURce subsystem
(FREQuency, POWer, AM/FM/PM/PULM states), OUTPut (STATe, PROTection, RETRace, IMPedance)
and the SCPI SYSTem:ERRor queue (``-113,"Undefined header"``). It serves PyMeasure's
``AnritsuMG3692C`` unmodified (``:FREQUENCY %e Hz;``, ``:POWER %g dBm;``, ``:OUTPUT ON;``).

The MG3692C covers 2 GHz to 20 GHz; this one has option 4 (RF coverage from 10 MHz) and
option 2A (step attenuator), so frequency is settable from 10 MHz to 20 GHz and the
level from -130 dBm to +30 dBm (above the maximum leveled power the real instrument
reports UNLEVELED, which is not modelled). ``*OPT?`` reports "2A,4".

Simplifications: FREQ:MODE other than CW is stored, not swept; modulation states are
stored without effect on the output (options for them are not installed).
"""

from __future__ import annotations

import math
from typing import ClassVar

from labrf.sim.emulator import SCPI_SYSTEM, Emulator
from labrf.sim.scpi import Boolean, Call, Choice, CommandTable, Number, Query, Setting
from labrf.units import dbm_to_watt

F_MIN, F_MAX = 10e6, 20e9  #: frequency range with option 4 (Hz)
L_MIN, L_MAX = -130.0, 30.0  #: level setting range with option 2A (dBm)
SETTLING_TIME = 5e-3  #: frequency switching time to *OPC (s), a few ms as specified

FREQ = Number(F_MIN, F_MAX, unit="HZ", default=(F_MIN + F_MAX) / 2)
LEVEL = Number(L_MIN, L_MAX, unit="DBM", default=0.0)


class MG3692C(Emulator):
    """Anritsu MG3692C with options 2A and 4: 10 MHz to 20 GHz, -130 dBm to +30 dBm."""

    model: ClassVar[str] = "mg3692c"
    idn: ClassVar[str] = "ANRITSU,MG3692C,123456,2.20"
    options: ClassVar[str] = "2A,4"
    ports: ClassVar[dict[str, tuple[str, ...]]] = {"output": ("mtj", "rf_input", "probe",
                                                                   "route")}
    self_test_time: ClassVar[float] = 20.0
    boot_time: ClassVar[float] = 45.0

    commands = CommandTable(
        # *RST CW frequency: the middle of the range ((MIN + MAX) / 2), as in the manual
        Setting("[:SOURce]:FREQuency[:CW]", FREQ, FREQ.default, key="FREQ:CW",
                on_change="_settle"),
        Setting("[:SOURce]:FREQuency:FIXed", FREQ, FREQ.default, key="FREQ:CW",
                on_change="_settle"),
        Setting("[:SOURce]:FREQuency[:CW]:STEP[:INCRement]",
                Number(0.01, F_MAX - F_MIN, unit="HZ"), 0.1e9, key="FREQ:STEP"),
        Setting("[:SOURce]:FREQuency:MODE",
                Choice("CW", "FIXed", "SWEep", "SWEep1", "SWCW", "ALSW", "LIST", "LIST1",
                       "LIST2", "LIST3", "LIST4",
                       replies={"FIX": "CW", "SWE1": "SWE", "LIST1": "LIST"}),
                "CW", key="FREQ:MODE"),
        Setting("[:SOURce]:FREQuency:STARt", FREQ, F_MIN, key="FREQ:STAR"),
        Setting("[:SOURce]:FREQuency:STOP", FREQ, F_MAX, key="FREQ:STOP"),
        Setting("[:SOURce]:POWer[:LEVel][:IMMediate][:AMPLitude]", LEVEL, 0.0, key="POW",
                on_change="_settle"),
        Setting("[:SOURce]:POWer:MODE", Choice("FIXed", "SWEep"), "FIX", key="POW:MODE"),
        Setting("[:SOURce]:AM:STATe", Boolean(), False, key="AM:STAT"),
        Setting("[:SOURce]:FM:STATe", Boolean(), False, key="FM:STAT"),
        Setting("[:SOURce]:PM:STATe", Boolean(), False, key="PM:STAT"),
        Setting("[:SOURce]:PULM:STATe", Boolean(), False, key="PULM:STAT"),
        Setting(":OUTPut[:STATe]", Boolean(), False, key="OUTP", on_change="_push"),
        Setting(":OUTPut:PROTection", Boolean(), True, key="OUTP:PROT"),
        Setting(":OUTPut:PROTection:RETRace", Boolean(), False, key="OUTP:PROT:RETR"),
        Query(":OUTPut:IMPedance", "query_impedance"),
    ) + SCPI_SYSTEM

    def number_format(self, value: float) -> str:
        """Plain decimal numbers ("250000000", "-10", "2.5")."""
        if math.isfinite(value) and value == round(value) and abs(value) < 1e15:
            return str(int(round(value)))
        return f"{value:.12g}"

    def on_reset(self) -> None:
        """Power-on and *RST: RF off."""
        self._push()

    def rf_output(self) -> tuple[float, float]:
        """Frequency (Hz) and power (W) at the RF output connector now."""
        power = float(dbm_to_watt(self.state["POW"])) if self.state["OUTP"] else 0.0
        return self.state["FREQ:CW"], power

    def _push(self, key: str | None = None, value: object = None) -> None:
        frequency, power = self.rf_output()
        self.world.drive_rf(self.name, self.cursor, frequency, power)

    def _settle(self, key: str, value: object) -> None:
        self.start_operation(SETTLING_TIME)
        self._push()

    def query_impedance(self, call: Call) -> str:
        return "50"
