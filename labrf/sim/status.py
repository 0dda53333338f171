"""The SCPI status model (SCPI-1999 vol. 1, ch. 9): the MEASurement, OPERation and
QUEStionable registers with their event, condition and enable parts, summarised in the
status byte (MSB 1, QSB 8, OSB 128).

A model mixes ``ScpiStatusModel`` in before ``Emulator`` and adds ``SCPI_STATUS`` to its
command table; it raises events with ``status_event`` and may override ``condition``.
"""

from __future__ import annotations

from labrf.sim.scpi import Call, Command, CommandTable, Number, Query

REGISTERS = ("MEAS", "OPER", "QUES")
_SUMMARY_BITS = {"MEAS": 1, "QUES": 8, "OPER": 128}


def _rows() -> list:
    enable = (Number(0, 65535, integer=True),)
    rows = []
    for node in ("MEASurement", "OPERation", "QUEStionable"):
        rows += [Query(f":STATus:{node}[:EVENt]", "query_event"),
                 Query(f":STATus:{node}:CONDition", "query_condition"),
                 Query(f":STATus:{node}:ENABle", "query_enable"),
                 Command(f":STATus:{node}:ENABle", "set_enable", params=enable)]
    return rows


#: STATus:<register>[:EVENt]?, :CONDition?, :ENABle (STATus:PRESet is in SCPI_SYSTEM).
SCPI_STATUS = CommandTable(*_rows())


class ScpiStatusModel:
    """Event and enable registers; *RST leaves them alone, power-on clears them."""

    registers: dict[str, list[int]]

    def power_on(self) -> None:
        #: [event, enable] of each register
        self.registers = {name: [0, 0] for name in REGISTERS}
        super().power_on()  # type: ignore[misc]

    def status_event(self, register: str, bits: int) -> None:
        """Latch ``bits`` in a register's event part."""
        self.registers[register][0] |= bits

    def condition(self, register: str) -> int:
        """The register's condition part now (override per model)."""
        return 0

    @staticmethod
    def _register_of(header: str) -> str:
        return next(name for name in REGISTERS if f":{name}" in header)

    def format_register(self, value: int) -> str:
        """How a register value is written in a reply (decimal; override per model)."""
        return str(value)

    def query_event(self, call: Call) -> str:
        register = self.registers[self._register_of(call.header)]
        value, register[0] = register[0], 0
        return self.format_register(value)

    def query_condition(self, call: Call) -> str:
        return self.format_register(self.condition(self._register_of(call.header)))

    def query_enable(self, call: Call) -> str:
        return self.format_register(self.registers[self._register_of(call.header)][1])

    def set_enable(self, call: Call) -> None:
        self.registers[self._register_of(call.header)][1] = int(call.args[0])

    def status_preset(self, call: Call) -> None:
        """STAT:PRES: enable parts to zero."""
        for register in self.registers.values():
            register[1] = 0

    def clear_status(self) -> None:
        """*CLS: event parts to zero."""
        for register in self.registers.values():
            register[0] = 0

    def summary_bits(self) -> int:
        return sum(bit for name, bit in _SUMMARY_BITS.items()
                   if self.registers[name][0] & self.registers[name][1])
