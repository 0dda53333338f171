"""A multichannel current source (a DAC rack with current outputs): 65536 channels of
+-10 mA, written and read back by SCPI-99 channel lists, one setting per channel.

No commercial model is emulated: the command set follows SCPI-99 and the channel-list
style of multichannel sources (``VOLT 5,(@1:4)`` on modular supplies, ``sour1:volt`` on
multichannel DACs). Values come as comma-separated numbers (with units) or as one IEEE
488.2 definite-length block of reals, then the channel list; one value sets every
listed channel::

    FORM REAL,64;BORD SWAP
    CURR #49680<9680 bytes>,(@1:1210)      1210 currents, A
    CURR 0,(@1:65536)                      every channel to 0 A
    CURR? (@1:1210)                        the setpoints, as FORMat says
    MEAS:CURR? (@1:1210)                   the currents flowing (0 A with the output off)
    OUTP ON

A value outside +-10 mA is refused with -222 and nothing is set; a count of values
that is neither 1 nor the channel count is -109 (too few) or -108 (too many). Each
change is pushed to the world (``drive_channels``), every channel at once.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from labrf.sim.emulator import SCPI_SYSTEM, Emulator
from labrf.sim.models.array_data import (
    FORMAT_COMMANDS,
    ArrayFormat,
    parse_channels,
    parse_values,
)
from labrf.sim.scpi import (
    Boolean,
    Call,
    Command,
    CommandTable,
    Number,
    Query,
    ScpiError,
    Setting,
)
from labrf.wire import Link

CHANNELS = 65536
RANGE = 10e-3  #: A, every channel's full scale
UPDATE_TIME = 1e-3  #: s to update the outputs after a write
PER_CHANNEL = 1e-6  #: s of transfer per channel written or read
_CURRENT = Number(-RANGE, RANGE, unit="A")


class MultichannelCurrentSource(ArrayFormat, Emulator):
    """A multichannel current source driving a network chip's knobs."""

    model: ClassVar[str] = "multichannel_source"
    idn: ClassVar[str] = "labrf,MCS-65536 multichannel current source (emulated),000001,1.0"
    ports: ClassVar[dict[str, tuple[str, ...]]] = {"output": ("knob_bank",)}
    link: ClassVar[Link] = Link(read_termination="\n")

    commands = CommandTable(
        Setting(":OUTPut[:STATe]", Boolean(), False, key="OUTP", on_change="_push"),
        Command("[:SOURce]:CURRent[:LEVel][:IMMediate][:AMPLitude]", "set_currents",
                variadic=True),
        Query("[:SOURce]:CURRent[:LEVel][:IMMediate][:AMPLitude]", "query_currents",
              variadic=True),
        Query("[:SOURce]:CURRent:RANGe", "query_range"),
        Query(":MEASure:CURRent[:DC]", "measure_currents", variadic=True),
        Query(":SYSTem:CHANnels", "query_channels"),
    ) + FORMAT_COMMANDS + SCPI_SYSTEM

    def on_reset(self) -> None:
        self.setpoints = np.zeros(CHANNELS)
        self.reset_format()
        self._push()

    # ------------------------------------------------------------ channels

    def _channels(self, call: Call, values: bool) -> tuple[np.ndarray, tuple[str, ...]]:
        """The channel list (last parameter) and the tokens before it."""
        if not call.raw:
            raise ScpiError(-109, "give a channel list such as (@1:8)")
        *rest, last = call.raw
        if values and not rest:
            raise ScpiError(-109, "give the values, then the channel list")
        if not values and rest:
            raise ScpiError(-108, "only a channel list is expected")
        return parse_channels(last, CHANNELS), tuple(rest)

    def set_currents(self, call: Call) -> None:
        channels, tokens = self._channels(call, values=True)
        values = parse_values(tokens, _CURRENT, self.state["FORM:BORD"], CHANNELS)
        if values.size not in (1, channels.size):
            raise ScpiError(-109 if values.size < channels.size else -108,
                            f"{values.size} values for {channels.size} channels")
        self.spend(PER_CHANNEL * channels.size)
        self.setpoints[channels] = values
        self.spend(UPDATE_TIME)
        self._push()

    def query_currents(self, call: Call) -> str | bytes:
        channels, _ = self._channels(call, values=False)
        self.spend(PER_CHANNEL * channels.size)
        return self.values_reply(self.setpoints[channels])

    def measure_currents(self, call: Call) -> str | bytes:
        channels, _ = self._channels(call, values=False)
        self.spend(PER_CHANNEL * channels.size)
        return self.values_reply(self.outputs()[channels])

    def query_range(self, call: Call) -> str:
        return self.number_format(RANGE)

    def query_channels(self, call: Call) -> str:
        return str(CHANNELS)

    # ------------------------------------------------------------ the outputs

    def outputs(self) -> np.ndarray:
        """(CHANNELS,) A flowing out of each channel now."""
        return self.setpoints.copy() if self.state["OUTP"] else np.zeros(CHANNELS)

    def _push(self, key: str | None = None, value: object = None) -> None:
        self.world.drive_channels(self.name, self.cursor, self.outputs())
