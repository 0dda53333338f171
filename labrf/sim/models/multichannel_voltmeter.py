"""A multichannel DC voltmeter (a data-acquisition unit with one sampling ADC per channel):
4096 differential inputs of +-10 V, read all at once by SCPI-99 channel lists.

No commercial model is emulated: the command set follows SCPI-99 and the channel-list
style of scanning DMMs and DAQs (``MEAS:VOLT:DC? (@101:120)``), with every listed
channel sampled in the same aperture (simultaneous ADCs, not a multiplexed scan)::

    FORM REAL,64;BORD SWAP
    VOLT:NPLC 1                      aperture, power-line cycles (0.02 .. 100)
    MEAS:VOLT? (@1:26)               26 voltages, V, as FORMat says

One reading takes NPLC / line frequency plus ``PER_CHANNEL`` per channel. Each reading
adds Gaussian noise of ``NOISE_1PLC`` / sqrt(NPLC) when the world's noise is on; an
input beyond what its wiring carries reads an open input (0 V plus noise).
"""

from __future__ import annotations

import math
from typing import ClassVar

import numpy as np

from labrf.sim.emulator import SCPI_SYSTEM, Emulator
from labrf.sim.models.array_data import FORMAT_COMMANDS, ArrayFormat, parse_channels
from labrf.sim.scpi import Call, CommandTable, Number, Query, ScpiError, Setting
from labrf.wire import Link

CHANNELS = 4096
RANGE = 10.0  #: V, every input's full scale
NOISE_1PLC = 50e-9  #: V, one sigma of a reading at 1 PLC
PER_CHANNEL = 2e-6  #: s of conversion and transfer per channel read


class MultichannelVoltmeter(ArrayFormat, Emulator):
    """A multichannel voltmeter reading a network chip's chain voltages."""

    model: ClassVar[str] = "multichannel_voltmeter"
    idn: ClassVar[str] = "labrf,MCV-4096 multichannel voltmeter (emulated),000001,1.0"
    ports: ClassVar[dict[str, tuple[str, ...]]] = {"input": ("chain_voltages",)}
    link: ClassVar[Link] = Link(read_termination="\n")

    commands = CommandTable(
        Setting("[:SENSe]:VOLTage[:DC]:NPLCycles", Number(0.02, 100.0), 1.0, key="NPLC"),
        Query(":MEASure:VOLTage[:DC]", "measure_voltages", variadic=True),
        Query("[:SENSe]:VOLTage[:DC]:RANGe", "query_range"),
        Query(":SYSTem:CHANnels", "query_channels"),
    ) + FORMAT_COMMANDS + SCPI_SYSTEM

    def on_reset(self) -> None:
        self.reset_format()

    def measure_voltages(self, call: Call) -> str | bytes:
        if len(call.raw) != 1:
            raise ScpiError(-109 if not call.raw else -108,
                            "give one channel list such as (@1:26)")
        channels = parse_channels(call.raw[0], CHANNELS)
        nplc = float(self.state["NPLC"])
        self.spend(nplc / self.world.line_frequency + PER_CHANNEL * channels.size)
        inputs = np.zeros(CHANNELS)
        chains = self.world.chain_voltages(self.name, self.cursor)[:CHANNELS]
        inputs[:chains.size] = chains
        volts = inputs[channels]
        if self.world.noise_enabled:
            volts = volts + self.noise.normal(0.0, NOISE_1PLC / math.sqrt(nplc), volts.size)
        return self.values_reply(np.clip(volts, -RANGE, RANGE))

    def query_range(self, call: Call) -> str:
        return self.number_format(RANGE)

    def query_channels(self, call: Call) -> str:
        return str(CHANNELS)
