"""Rohde & Schwarz instruments."""

from .smb100a import SMB100A

__all__ = ["SMB100A"]
