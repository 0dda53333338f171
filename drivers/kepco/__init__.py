"""Kepco instruments: PyMeasure's ``KepcoBOP3612`` (BOP 36-12 with the BIT 4886 interface)
driver, used unchanged, tested here against the emulator and pinned with
``expected_protocol``."""

from pymeasure.instruments.kepco import KepcoBOP3612

__all__ = ["KepcoBOP3612"]
