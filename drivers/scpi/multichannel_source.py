"""A multichannel current source (SCPI-99 channel lists), in PyMeasure's declarative
style."""

from __future__ import annotations

import numpy as np
from pymeasure.instruments import Instrument, SCPIMixin
from pymeasure.instruments.validators import strict_discrete_set

from .lists import CHUNK, read_block, write_block


def channel_list(first: int, count: int) -> str:
    """The SCPI-99 list of ``count`` channels from ``first`` (1-based): ``(@1:8)``."""
    return f"(@{first})" if count == 1 else f"(@{first}:{first + count - 1})"


class MultichannelCurrentSource(SCPIMixin, Instrument):
    """Many current outputs (a DAC rack), set and read by channel lists.

    .. code-block:: python

        dac = MultichannelCurrentSource("GPIB::21")
        dac.set_currents(np.zeros(1210))        # channels 1..1210, A
        dac.output_enabled = True
        print(dac.currents(1210), dac.measured_currents(1210))
    """

    def __init__(self, adapter, name: str = "Multichannel current source", **kwargs) -> None:
        super().__init__(adapter, name, **kwargs)
        self.write("FORM REAL,64;:FORM:BORD SWAP")

    output_enabled = Instrument.control(
        "OUTP?", "OUTP %d", """Control whether every channel drives its current (bool).""",
        validator=strict_discrete_set, values={True: 1, False: 0}, map_values=True)

    channels = Instrument.measurement(
        "SYST:CHAN?", """Get the number of channels (int).""", cast=int)

    current_range = Instrument.measurement(
        "CURR:RANG?", """Get every channel's full scale, in A (float).""")

    def set_currents(self, amps: np.ndarray, first: int = 1) -> None:
        """Set channels ``first``, ``first`` + 1, ... to ``amps`` (A), in messages of at
        most ``CHUNK`` channels."""
        amps = np.asarray(amps, dtype=float).ravel()
        for start in range(0, amps.size, CHUNK):
            part = amps[start:start + CHUNK]
            write_block(self, "CURR", part, channel_list(first + start, part.size))

    def set_all(self, amps: float, count: int, first: int = 1) -> None:
        """Set ``count`` channels from ``first`` to one current ``amps`` (A)."""
        self.write(f"CURR {float(amps):.9g},{channel_list(first, count)}")

    def currents(self, count: int, first: int = 1) -> np.ndarray:
        """The setpoints of ``count`` channels from ``first``, A."""
        return self._read("CURR?", count, first)

    def measured_currents(self, count: int, first: int = 1) -> np.ndarray:
        """The currents flowing out of ``count`` channels from ``first``, A."""
        return self._read("MEAS:CURR?", count, first)

    def _read(self, query: str, count: int, first: int) -> np.ndarray:
        parts = [read_block(self, f"{query} {channel_list(first + s, min(CHUNK, count - s))}")
                 for s in range(0, count, CHUNK)]
        return np.concatenate(parts) if parts else np.zeros(0)
