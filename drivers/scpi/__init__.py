"""Vendor-neutral SCPI-99 instruments with lists of values: a multitone RF generator and
a multichannel current source (the command sets of labrf's emulated models; a lab's own
instrument of either kind gets its own driver and a Binding of the same role)."""

from .multichannel_source import MultichannelCurrentSource
from .multitone import MultitoneGenerator

__all__ = ["MultichannelCurrentSource", "MultitoneGenerator"]
