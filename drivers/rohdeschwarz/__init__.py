"""Rohde & Schwarz instruments: the SMB100A signal generator (PyMeasure has none) and the
FSV spectrum analyzer (PyMeasure's FS series, extended)."""

from .fsv import FSV
from .smb100a import SMB100A

__all__ = ["FSV", "SMB100A"]
