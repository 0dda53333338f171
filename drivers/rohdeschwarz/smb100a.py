"""Rohde & Schwarz SMB100A signal generator, in PyMeasure's declarative style.

Commands follow the R&S SMB100A Operating Manual (1407.0806.32), chapter "Remote Control
Commands" (SOURce:FREQuency, SOURce:POWer, OUTPut subsystems).
"""

from __future__ import annotations

from pymeasure.instruments import Instrument, SCPIMixin
from pymeasure.instruments.validators import strict_discrete_set, strict_range


class SMB100A(SCPIMixin, Instrument):
    """Rohde & Schwarz SMB100A RF signal generator (one RF path).

    The ranges are those of option SMB-B106 (9 kHz to 6 GHz) with levels from -145 dBm
    to +30 dBm; for another frequency option or with a level offset set, change
    ``frequency_values`` and ``power_values`` (both are dynamic). Levels are sent in dBm
    and read back in the unit of ``UNIT:POW``, which is dBm after ``*RST``.

    .. code-block:: python

        smb = SMB100A("TCPIP::192.168.1.20::INSTR")
        smb.power_limit = 0          # dBm: the generator refuses any higher level
        smb.frequency = 250e6        # Hz
        smb.power = -10              # dBm
        smb.output_enabled = True
        smb.shutdown()               # RF off
    """

    def __init__(self, adapter, name: str = "Rohde & Schwarz SMB100A", **kwargs) -> None:
        super().__init__(adapter, name, **kwargs)

    frequency = Instrument.control(
        "SOUR:FREQ:CW?", "SOUR:FREQ:CW %.2f",
        """Control the RF frequency in Hz (float, 9 kHz to 6 GHz, resolution 0.01 Hz).
        With a frequency offset set, this is the RF output frequency plus the offset.""",
        validator=strict_range,
        values=[9e3, 6e9],
        dynamic=True,
    )

    power = Instrument.control(
        "SOUR:POW?", "SOUR:POW %.2f dBm",
        """Control the RF level in dBm (float, -145 dBm to +30 dBm, resolution 0.01 dB).
        With a level offset set, this is the RF output level plus the offset. The
        generator refuses a level above ``power_limit`` (error -221) and keeps the old
        one.""",
        validator=strict_range,
        values=[-145, 30],
        dynamic=True,
    )

    power_limit = Instrument.control(
        "SOUR:POW:LIM?", "SOUR:POW:LIM %.2f dBm",
        """Control the level limit in dBm (float, -145 dBm to +30 dBm): the highest RF
        output level the generator will produce. It survives ``*RST``.""",
        validator=strict_range,
        values=[-145, 30],
    )

    power_offset = Instrument.control(
        "SOUR:POW:OFFS?", "SOUR:POW:OFFS %.2f",
        """Control the level offset in dB (float, -100 dB to +100 dB) of an attenuator
        (negative) or amplifier (positive) after the RF output: ``power`` then reads the
        level at its output. Changing it never changes the RF output level.""",
        validator=strict_range,
        values=[-100, 100],
    )

    output_enabled = Instrument.control(
        "OUTP:STAT?", "OUTP:STAT %d",
        """Control whether the RF output is on (bool).""",
        validator=strict_discrete_set,
        values={True: 1, False: 0},
        map_values=True,
    )

    def shutdown(self) -> None:
        """Turn the RF output off and mark the instrument as shut down."""
        self.output_enabled = False
        super().shutdown()
