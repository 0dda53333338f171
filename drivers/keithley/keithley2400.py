"""Keithley 2400 SourceMeter: PyMeasure's driver with measurements that never source.

Commands follow the Series 2400 SourceMeter User's Manual (2400S-900-01): section 17
(signal oriented commands: ``READ?`` and ``MEASure?``) and section 18 (SENSe:FUNCtion,
SENSe:RESistance:MODE, FORMat:ELEMents).
"""

from __future__ import annotations

import math

from pymeasure.instruments import Instrument
from pymeasure.instruments.keithley import Keithley2400 as _PyMeasureKeithley2400

NOT_A_NUMBER = 9.91e37  #: the 2400's reading of an element neither sourced nor measured


def _element(index: int):
    """get_process_list picking one element of the first reading of ``READ?`` (default
    elements VOLT, CURR, RES, TIME, STAT, always in that order), NaN for 9.91e37."""
    def pick(values: list[float]) -> float:
        value = float(values[index])
        return math.nan if value == NOT_A_NUMBER else value
    return pick


class Keithley2400(_PyMeasureKeithley2400):
    """Keithley 2400 SourceMeter that does not turn its output on to measure.

    The only purpose of this subclass is safety. PyMeasure's ``voltage``, ``current`` and
    ``resistance`` send ``:MEASure:<function>?``, which on the 2400 is ``CONFigure``
    plus ``READ?`` and turns the output ON (manual section 17): reading a voltage with
    the output off would drive the junction with whatever level is programmed. Here the
    three measurements select their sense function (``:SENS:FUNC:ON``, which never
    changes the output) and trigger through ``:READ?`` only. With the output off (and
    auto output-off disabled, as after ``*RST``) the 2400 refuses ``READ?`` with error
    +803 "Not permitted with OUTPUT off" and sends no reply, so the read times out
    (``pyvisa.errors.VisaIOError``) and +803 waits in the error queue: turn the source
    on first (``enable_source()``). With auto output-off enabled
    (``auto_output_off_enabled = True``) the 2400 turns the output on for each reading
    by design. Everything else is PyMeasure's driver unchanged; no ``CONFigure`` or
    ``MEASure`` is sent by these overrides.

    .. code-block:: python

        smu = Keithley2400("GPIB::24")
        smu.source_mode = "current"
        smu.compliance_voltage = 0.5     # V
        smu.source_current = 10e-6       # A
        smu.enable_source()
        print(smu.voltage)               # V across the device, sourcing 10 uA
        smu.disable_source()
    """

    voltage = Instrument.measurement(
        ':SENS:FUNC:ON "VOLT";:READ?',
        """Measure the voltage in V (float; NaN if not measured) through ``:READ?``,
        adding voltage to the sense functions. Never turns the output on: with the
        output off the 2400 answers nothing (error +803).""",
        get_process_list=_element(0),
    )

    current = Instrument.measurement(
        ':SENS:FUNC:ON "CURR";:READ?',
        """Measure the current in A (float; NaN if not measured) through ``:READ?``,
        adding current to the sense functions. Never turns the output on: with the
        output off the 2400 answers nothing (error +803).""",
        get_process_list=_element(1),
    )

    resistance = Instrument.measurement(
        ':SENS:RES:MODE MAN;:SENS:FUNC:ON "RES";:READ?',
        """Measure the resistance in ohm (float; NaN without current) through
        ``:READ?``, in manual ohms mode: measured V / I with the programmed source. The
        mode is set here because auto ohms would source the 2400's own test current (up
        to 0.1 A) through the device instead. Never turns the output on: with the output
        off the 2400 answers nothing (error +803).""",
        get_process_list=_element(2),
    )
