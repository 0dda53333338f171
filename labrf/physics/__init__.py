"""Device physics of an RF-spintronic bench: vectorized numpy, no I/O.

Modules: ``spin_diode`` (synapse rectification), ``oscillator`` (neuron emission),
``coil`` (electromagnet), ``junction`` (resistance, TMR, breakdown), ``hysteresis``
(the play operator both magnetic hystereses use). Units are SI throughout.
"""

from labrf.physics.coil import CoilParams
from labrf.physics.junction import JunctionParams
from labrf.physics.oscillator import OscillatorParams
from labrf.physics.spin_diode import SpinDiodeParams

__all__ = ["CoilParams", "JunctionParams", "OscillatorParams", "SpinDiodeParams"]
