"""Vendor-neutral SCPI-99 instruments with lists of values: a multitone RF generator, a
multichannel current source and a multichannel voltmeter (the command sets of labrf's
emulated models; a lab's own instrument of any of these kinds gets its own driver and a
Binding of the same role)."""

from .multichannel_source import MultichannelCurrentSource, channel_list
from .multichannel_voltmeter import MultichannelVoltmeter
from .multitone import MultitoneGenerator

__all__ = ["MultichannelCurrentSource", "MultichannelVoltmeter", "MultitoneGenerator",
           "channel_list"]
