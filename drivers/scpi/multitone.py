"""A multitone RF generator (SCPI-99 list subsystem), in PyMeasure's declarative style."""

from __future__ import annotations

import numpy as np
from pymeasure.instruments import Instrument, SCPIMixin
from pymeasure.instruments.validators import strict_discrete_set

from .lists import read_block, write_block


class MultitoneGenerator(SCPIMixin, Instrument):
    """Up to 8192 CW tones from one output, each at its own frequency and power.

    .. code-block:: python

        gen = MultitoneGenerator("GPIB::20")
        gen.tones = (np.geomspace(100e6, 500e6, 64), np.full(64, -30.0))  # Hz, dBm
        gen.output_enabled = True
        frequencies, powers = gen.tones
    """

    def __init__(self, adapter, name: str = "Multitone generator", **kwargs) -> None:
        super().__init__(adapter, name, **kwargs)
        self.write("FORM REAL,64;:FORM:BORD SWAP")

    output_enabled = Instrument.control(
        "OUTP?", "OUTP %d", """Control whether the output plays the tone table (bool).""",
        validator=strict_discrete_set, values={True: 1, False: 0}, map_values=True)

    tone_count = Instrument.measurement(
        "LIST:POIN?", """Get the number of tones in the table (int).""", cast=int)

    max_tones = Instrument.measurement(
        "SYST:TON?", """Get the largest tone table the generator plays (int).""", cast=int)

    @property
    def tones(self) -> tuple[np.ndarray, np.ndarray]:
        """Control the tone table: (frequencies in Hz, powers in dBm), arrays of one
        length, written and read as binary blocks."""
        return read_block(self, "LIST:FREQ?"), read_block(self, "LIST:POW?")

    @tones.setter
    def tones(self, table: tuple[np.ndarray, np.ndarray]) -> None:
        frequencies, powers = (np.asarray(a, dtype=float) for a in table)
        if frequencies.shape != powers.shape or frequencies.ndim != 1:
            raise ValueError(f"frequencies {frequencies.shape} and powers {powers.shape} "
                             f"must be 1-D and of one length")
        write_block(self, "LIST:FREQ", frequencies)
        write_block(self, "LIST:POW", powers)

    @property
    def powers(self) -> np.ndarray:
        """Control the tones' powers in dBm (array; the frequencies stay)."""
        return read_block(self, "LIST:POW?")

    @powers.setter
    def powers(self, dbm: np.ndarray) -> None:
        write_block(self, "LIST:POW", np.asarray(dbm, dtype=float))
