"""Anritsu instruments: PyMeasure's ``AnritsuMG3692C`` signal generator driver, used
unchanged, tested here against the emulator and pinned with ``expected_protocol``."""

from pymeasure.instruments.anritsu import AnritsuMG3692C

__all__ = ["AnritsuMG3692C"]
