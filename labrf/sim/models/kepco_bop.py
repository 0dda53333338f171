"""Kepco BOP 36-12 bipolar supply with the BIT 4886 digital interface (SCPI).

Follows the BIT 4886 operator's manual, appendix A (IEEE 488.2 common commands) and
appendix B (SCPI subsystems): ``OUTPut[:STATe]``, ``FUNCtion:MODE VOLTage|CURRent``
(the query answers 0 for voltage, 1 for current mode), ``[SOURce:]VOLTage`` and
``[SOURce:]CURRent`` with their ``[:LEVel][:IMMediate][:AMPLitude]`` long forms and
MIN/MAX, the software limits ``[SOURce:]VOLTage|CURRent[:LEVel]:LIMit[:HIGH]``,
``MEASure[:SCALar]:VOLTage|CURRent[:DC]?``, ``DIAGnostic:TST?``, ``SYSTem:BEEP`` and the
SCPI error queue. Ranges are those of the 36-12: +-36 V, +-12 A.

The output drives an inductive field coil: every change of output state, mode or
setpoint is pushed to the world (``drive_coil``); in current mode the voltage setpoint is
the compliance (limit), in voltage mode the current setpoint is. ``*RST`` and power-on
leave the output off, in voltage mode, at 0 V and 0 A -- so a current-mode user must also
program a voltage (compliance) before any current can flow, as on the real supply.
"""

from __future__ import annotations

from typing import Any, ClassVar

from labrf.sim.emulator import SCPI_SYSTEM, Emulator
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
)
from labrf.sim.world import CoilReading
from labrf.wire import Link

V_MAX = 36.0  #: rated voltage, V
I_MAX = 12.0  #: rated current, A
MEASURE_TIME = 0.004  #: s for one MEAS:VOLT? or MEAS:CURR? conversion
DIAG_TEST_TIME = 5.0  #: s for DIAG:TST? (the real test swings the output)
CURRENT_NOISE = 1e-3  #: A rms of a current readback
VOLTAGE_NOISE = 5e-3  #: V rms of a voltage readback
_LEVEL_KEY = {"VOLT": "VOLT:LIM", "CURR": "CURR:LIM"}
_LIMIT_KEY = {"VOLT:LIM": "VOLT", "CURR:LIM": "CURR"}


class KepcoBOP(Emulator):
    """Kepco BOP 36-12 with a BIT 4886 card, driving a field coil."""

    model: ClassVar[str] = "kepco_bop"
    #: the BIT 4886's RS-232: 9600 baud 8N1, XON/XOFF, LF
    link: ClassVar[Link] = Link("\n", "\n", baud_rate=9600, flow_control="xon_xoff")
    idn: ClassVar[str] = "KEPCO,BOP 36-12 4886,E1234,1.52"
    ports: ClassVar[dict[str, tuple[str, ...]]] = {"output": ("coil",)}
    self_test_time: ClassVar[float] = 0.5
    commands: ClassVar[CommandTable] = CommandTable(
        Setting("OUTPut[:STATe]", Boolean(), False, key="OUTP", on_change="_output_changed"),
        Setting("FUNCtion:MODE", Choice("VOLTage", "CURRent", replies={"VOLT": "0", "CURR": "1"}),
                "VOLT", key="FUNC:MODE", on_change="_output_changed"),
        Setting("[:SOURce]:VOLTage[:LEVel][:IMMediate][:AMPLitude]",
                Number(-V_MAX, V_MAX, unit="V", default=0.0), 0.0, key="VOLT",
                on_change="_level_changed"),
        Setting("[:SOURce]:CURRent[:LEVel][:IMMediate][:AMPLitude]",
                Number(-I_MAX, I_MAX, unit="A", default=0.0), 0.0, key="CURR",
                on_change="_level_changed"),
        # Software limits on the setpoints' magnitude, kept in non-volatile memory.
        Setting("[:SOURce]:VOLTage[:LEVel]:LIMit[:HIGH]", Number(0.0, V_MAX, unit="V"), V_MAX,
                key="VOLT:LIM", rst=False, on_change="_limit_changed"),
        Setting("[:SOURce]:CURRent[:LEVel]:LIMit[:HIGH]", Number(0.0, I_MAX, unit="A"), I_MAX,
                key="CURR:LIM", rst=False, on_change="_limit_changed"),
        Query("MEASure[:SCALar]:VOLTage[:DC]", "query_voltage"),
        Query("MEASure[:SCALar]:CURRent[:DC]", "query_current"),
        Query("DIAGnostic:TST", "query_diag_test"),
        Command("SYSTem:BEEP", "beep"),
        Query("SYSTem:ERRor:CODE[:NEXT]", "query_error_code"),
    ) + SCPI_SYSTEM

    # ------------------------------------------------------------------ output

    def on_reset(self) -> None:
        """Power-on and ``*RST``: output off; the coil current decays to zero."""
        self._push()

    def _push(self) -> None:
        """Tell the world what the output now drives (and remember the accepted state)."""
        self._accepted: dict[str, Any] = dict(self.state)
        if "output" not in self.wiring:
            return
        current_mode = self.state["FUNC:MODE"] == "CURR"
        level, limit = ("CURR", "VOLT") if current_mode else ("VOLT", "CURR")
        self.world.drive_coil(self.name, self.cursor, on=bool(self.state["OUTP"]),
                              mode="current" if current_mode else "voltage",
                              level=self.state[level], limit=abs(self.state[limit]))

    def _output_changed(self, key: str, value: Any) -> None:
        self._push()

    def _level_changed(self, key: str, value: float) -> None:
        limit = self.state[_LEVEL_KEY[key]]
        if abs(value) > limit:
            self.state[key] = self._accepted[key]
            raise ScpiError(-222, f"{value:g} beyond the {key}:LIM of {limit:g}")
        self._push()

    def _limit_changed(self, key: str, value: float) -> None:
        level = self._accepted[_LIMIT_KEY[key]]
        if abs(level) > value:
            self.state[key] = self._accepted[key]
            raise ScpiError(-221, f"{key} {value:g} below the present setpoint {level:g}")
        self._accepted = dict(self.state)

    # ------------------------------------------------------------- measurement

    def number_format(self, value: float) -> str:
        return f"{value:.5E}"

    def _reading(self) -> CoilReading:
        self.spend(MEASURE_TIME)
        if "output" in self.wiring:
            return self.world.coil_reading(self.name, self.cursor)
        # Open output: no current; the voltage goes to the setpoint or the compliance.
        if not self.state["OUTP"]:
            return CoilReading(0.0, 0.0)
        return CoilReading(0.0, self.state["VOLT"])

    def _noise(self, rms: float) -> float:
        return float(self.noise.normal(0.0, rms)) if self.world.noise_enabled else 0.0

    def query_voltage(self, call: Call) -> str:
        return self.number_format(self._reading().voltage + self._noise(VOLTAGE_NOISE))

    def query_current(self, call: Call) -> str:
        return self.number_format(self._reading().current + self._noise(CURRENT_NOISE))

    # ------------------------------------------------------------------ system

    def query_diag_test(self, call: Call) -> str:
        """``DIAG:TST?``: full power-supply self-test, reported as passed.

        On a real BOP this switches the output on and swings it to full scale -- into
        the magnet, if one is connected. The emulator does not drive the coil: the output
        stays as it was, and only the test time passes.
        """
        self.spend(DIAG_TEST_TIME)
        return "0"

    def beep(self, call: Call) -> None:
        """``SYST:BEEP``: a short tone; nothing observable remotely."""

    def query_error_code(self, call: Call) -> str:
        """``SYST:ERR:CODE?``: the next error's number only."""
        code, _ = self.errors.popleft() if self.errors else (0, "")
        return str(code)

