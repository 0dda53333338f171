"""Keithley 3706A system switch, in PyMeasure's declarative style.

The 3706A runs TSP (Lua) commands: a query is an expression wrapped in ``print()``.
Commands follow the Series 3700A Reference Manual (3700AS-901-01), section "TSP command
reference" (``channel.*``, ``slot[X].*``, ``errorqueue.*``), the subset QCoDeS's
``Keithley3706A`` driver also sends. Channels are named ``SRCC`` (slot, row, two-digit
column: ``1101``); a channel list is comma-separated (ranges ``1101:1116``, ``slot1``,
``allslots``).
"""

from __future__ import annotations

from pymeasure.instruments import Instrument
from pymeasure.instruments.validators import strict_discrete_set

CONNECT_RULES = {"off": 0, "break_before_make": 1, "make_before_break": 2}


def _channel_list(text: str) -> list[str]:
    """Channels of a ``channel.getclose`` reply (``;``-separated, ``nil`` for none)."""
    text = text.strip()
    return [] if text in ("", "nil") else text.split(";")


class Keithley3706A(Instrument):
    """Keithley 3706A system switch with matrix cards.

    .. code-block:: python

        switch = Keithley3706A("GPIB::16")
        switch.connect_rule = "break_before_make"
        switch.exclusive_close("1101,1202")    # everything else opens first
        print(switch.closed_channels)          # ['1101', '1202']
        switch.open_all()
    """

    def __init__(self, adapter, name: str = "Keithley 3706A", **kwargs) -> None:
        super().__init__(adapter, name, includeSCPI=False, **kwargs)

    id = Instrument.measurement("*IDN?", """Get the identification (str).""",
                                cast=str, separator="\n")

    connect_rule = Instrument.control(
        "print(channel.connectrule)", "channel.connectrule = %d",
        """Control the connection rule of exclusive closes (str: ``break_before_make``,
        the default, opens channels before any closes; ``make_before_break``; ``off``).""",
        validator=strict_discrete_set,
        values=CONNECT_RULES,
        map_values=True,
        get_process=lambda v: int(float(v)),
    )

    @property
    def closed_channels(self) -> list[str]:
        """Get the closed channels and backplane relays of every slot (list of str)."""
        return _channel_list(self.ask("print(channel.getclose('allslots'))"))

    def closed_in(self, channels: str) -> list[str]:
        """The closed channels among the channel list ``channels`` (list of str)."""
        return _channel_list(self.ask(f"print(channel.getclose('{channels}'))"))

    def close_channels(self, channels: str) -> None:
        """Close the channels of the list ``channels`` (others stay as they are)."""
        self.write(f"channel.close('{channels}')")

    def open_channels(self, channels: str) -> None:
        """Open the channels of the list ``channels``."""
        self.write(f"channel.open('{channels}')")

    def open_all(self) -> None:
        """Open every channel and backplane relay of every slot."""
        self.write("channel.open('allslots')")

    def exclusive_close(self, channels: str) -> None:
        """Close the channels of ``channels`` and open every other, in the order of
        ``connect_rule``."""
        self.write(f"channel.exclusiveclose('{channels}')")

    def slot_idn(self, slot: int) -> str:
        """The card in ``slot`` (1 to 6): ``model,type,firmware,serial`` or ``Empty Slot``."""
        return self.ask(f"print(slot[{int(slot)}].idn)").strip()

    def matrix_size(self, slot: int) -> tuple[int, int]:
        """Rows and columns of the matrix card in ``slot``."""
        rows = self.ask(f"print(slot[{int(slot)}].rows.matrix)")
        columns = self.ask(f"print(slot[{int(slot)}].columns.matrix)")
        return int(float(rows)), int(float(columns))

    def interlock_state(self, slot: int) -> int:
        """The interlocks of ``slot``: 0 both disengaged, 1 or 2 one engaged, 3 both."""
        return int(float(self.ask(f"print(slot[{int(slot)}].interlock.state)")))

    @property
    def error_count(self) -> int:
        """Get the number of errors in the queue (int)."""
        return int(float(self.ask("print(errorqueue.count)")))

    def next_error(self) -> tuple[int, str]:
        """The oldest error of the queue (code, message), removing it; (0, ...) if none."""
        code, message, *_ = self.ask("print(errorqueue.next())").split("\t")
        return int(float(code)), message.strip()

    def check_errors(self) -> list[tuple[int, str]]:
        """Every error in the queue, oldest first, emptying it."""
        return [self.next_error() for _ in range(self.error_count)]
