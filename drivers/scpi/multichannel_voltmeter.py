"""A multichannel DC voltmeter (SCPI-99 channel lists), in PyMeasure's declarative style."""

from __future__ import annotations

import numpy as np
from pymeasure.instruments import Instrument, SCPIMixin
from pymeasure.instruments.validators import strict_range

from .lists import CHUNK, read_block
from .multichannel_source import channel_list


class MultichannelVoltmeter(SCPIMixin, Instrument):
    """Many DC voltage inputs sampled together, read by channel lists.

    .. code-block:: python

        dvm = MultichannelVoltmeter("TCPIP::192.168.1.53::INSTR")
        dvm.nplc = 1
        print(dvm.voltages(26))                 # channels 1..26, V
    """

    def __init__(self, adapter, name: str = "Multichannel voltmeter", **kwargs) -> None:
        super().__init__(adapter, name, **kwargs)
        self.write("FORM REAL,64;:FORM:BORD SWAP")

    nplc = Instrument.control(
        "VOLT:NPLC?", "VOLT:NPLC %g",
        """Control the aperture in power-line cycles, 0.02 to 100 (float).""",
        validator=strict_range, values=[0.02, 100])

    channels = Instrument.measurement(
        "SYST:CHAN?", """Get the number of inputs (int).""", cast=int)

    voltage_range = Instrument.measurement(
        "VOLT:RANG?", """Get every input's full scale, in V (float).""")

    def voltages(self, count: int, first: int = 1) -> np.ndarray:
        """One reading of ``count`` inputs from ``first`` (1-based), V."""
        parts = [read_block(self, f"MEAS:VOLT? {channel_list(first + s, min(CHUNK, count - s))}")
                 for s in range(0, count, CHUNK)]
        return np.concatenate(parts) if parts else np.zeros(0)
