"""Roles: the uniform, safe face of each instrument kind, as QCoDeS instruments.

Procedures use roles only: an ``RFSource`` is the same whether it is an SMB100A or an
MG3692C, on a real bench or the simulated one. Limits, ramps, safe state and snapshots
live here, once.
"""

from labrf.roles.base import Binding, Role
from labrf.roles.chain_voltmeter import ChainVoltmeter
from labrf.roles.current_source import CurrentSource
from labrf.roles.field_coil import FieldCoil, Gaussmeter
from labrf.roles.knob_bank import KnobBank
from labrf.roles.limits import HARD_LIMITS, Limits
from labrf.roles.multitone_source import MultitoneSource
from labrf.roles.rf_source import RFSource
from labrf.roles.spectrum_analyzer import SpectrumAnalyzer, Trace
from labrf.roles.switch_matrix import SwitchMatrix
from labrf.roles.voltmeter import Voltmeter

#: Role classes by name, as a station file's ``type`` names them (``labrf.roles.<Name>``).
ROLES = {cls.__name__: cls for cls in (RFSource, SpectrumAnalyzer, Voltmeter,
                                       CurrentSource, FieldCoil, Gaussmeter, SwitchMatrix,
                                       MultitoneSource, KnobBank, ChainVoltmeter)}

__all__ = ["HARD_LIMITS", "ROLES", "Binding", "ChainVoltmeter", "CurrentSource", "FieldCoil",
           "Gaussmeter", "KnobBank", "Limits", "MultitoneSource", "RFSource", "Role",
           "SpectrumAnalyzer", "SwitchMatrix", "Trace", "Voltmeter"]
