"""Rohde & Schwarz FSV signal and spectrum analyzer, on top of PyMeasure's FS series.

PyMeasure's :class:`~pymeasure.instruments.rohdeschwarz.fsseries.FSL` already drives the
FSV's spectrum analyzer (the FSV shares the FSL's command tree for frequency, bandwidth,
sweep and marker settings), and its properties are kept unchanged here. The subclass
exists for three things the FS series lacks: it reads traces in ASCII only (slow for
32001 points), it has no control of the number of sweep points, and its
``single_sweep`` writes ``INIT;*WAI`` and returns at once, leaving the next query to wait
out the sweep within the ordinary VISA timeout (a sweep of more than 2 s times out).

Commands follow the R&S FSV Operating Manual, chapter "Remote Commands":
[SENSe:]SWEep:POINts and [SENSe:]SWEep:TIME|COUNt, INITiate[:IMMediate] and
INITiate:CONTinuous, FORMat[:DATA] and TRACe[:DATA]; IEEE 488.2 ``*OPC?``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy
from pymeasure.instruments import Instrument
from pymeasure.instruments.rohdeschwarz.fsseries import FSL
from pymeasure.instruments.validators import strict_discrete_set, strict_range

#: Extra VISA timeout for a single sweep, as a fraction of the sweeps' duration; added on
#: top of the duration and of the timeout already in use.
SWEEP_TIMEOUT_MARGIN = 0.1
TRACES = range(1, 7)  #: the FSV's traces TRACE1 to TRACE6
#: Detectors of [SENSe:]DETector[:FUNCtion], by their short forms
DETECTORS = ("APE", "POS", "NEG", "RMS", "AVER", "SAMP")


def strict_integer_range(value: float, values: Sequence[float]) -> int:
    """Validator: ``value`` as an int if it is a whole number within ``values``
    (inclusive), else ValueError."""
    if isinstance(value, bool) or int(value) != value:
        raise ValueError(f"Value of {value!r} is not a whole number")
    return int(strict_range(value, values))


class FSV(FSL):
    """Rohde & Schwarz FSV signal and spectrum analyzer (spectrum mode).

    Inherits PyMeasure's FSL properties unchanged: ``freq_start``, ``freq_stop``,
    ``freq_center``, ``freq_span`` (Hz), ``res_bandwidth``, ``video_bandwidth`` (Hz or
    ``"AUTO"``), ``sweep_time`` (s or ``"AUTO"``), ``continuous_sweep_enabled``,
    ``attenuation`` (dB), ``trace_mode``, markers, and the ASCII ``read_trace``. Adds the
    number of sweep points, the detector, a single sweep that blocks until it is
    complete, and binary (``REAL,32``) trace transfer.

    .. code-block:: python

        fsv = FSV("TCPIP::192.168.1.30::INSTR")
        fsv.freq_center = 250e6          # Hz
        fsv.freq_span = 10e6             # Hz
        fsv.res_bandwidth = 100e3        # Hz
        fsv.sweep_points = 1001
        fsv.single_sweep_and_wait()      # returns once the sweep is complete
        freqs, levels = fsv.read_trace_binary()   # Hz, dBm
    """

    def __init__(self, adapter, name: str = "Rohde & Schwarz FSV", **kwargs) -> None:
        super().__init__(adapter, name, **kwargs)

    sweep_points = Instrument.control(
        "SWE:POIN?", "SWE:POIN %d",
        """Control the number of points of a sweep (int, 101 to 32001; 691 after
        ``*RST``). The trace points sit at ``linspace(freq_start, freq_stop, points)``.""",
        validator=strict_integer_range,
        values=[101, 32001],
        cast=int,
    )

    detector = Instrument.control(
        "DET?", "DET %s",
        """Control the detector of trace 1 (str): ``"APE"`` (auto peak, the default after
        ``*RST``), ``"POS"``, ``"NEG"``, ``"RMS"``, ``"AVER"`` or ``"SAMP"``. Setting one
        turns the detector's coupling to the trace mode off. Channel power (a line's
        power integrated over its trace points) needs ``"RMS"``: a peak detector reads
        each point's highest level and overestimates it.""",
        validator=strict_discrete_set,
        values=DETECTORS,
        get_process=lambda reply: str(reply).strip().upper(),
    )

    def single_sweep_and_wait(self) -> None:
        """Turn continuous sweep off, start one single sweep and block until it is
        complete (``INIT;*OPC?`` in one message).

        With ``SWE:COUN`` n > 0 the single sweep is n sweeps (averaging, max hold), and
        it waits for all of them. The VISA timeout is raised for the wait to the one in
        use plus the duration of the sweeps (``SWE:TIME?`` times the count) plus 10 %,
        then restored.
        """
        self.continuous_sweep_enabled = False
        sweep_time = float(self.sweep_time)
        count = int(self.values("SWE:COUN?", cast=int)[0])
        duration = sweep_time * max(count, 1)
        connection = getattr(self.adapter, "connection", None)
        timeout = getattr(connection, "timeout", None)
        # A timeout that is not a finite number of ms (infinite, or a test adapter's
        # stand-in) is left alone.
        adjust = (isinstance(timeout, int | float) and not isinstance(timeout, bool)
                  and math.isfinite(timeout))
        if adjust:
            connection.timeout = timeout + math.ceil(
                1e3 * duration * (1 + SWEEP_TIMEOUT_MARGIN))
        try:
            reply = self.ask("INIT;*OPC?").strip()
        finally:
            if adjust:
                connection.timeout = timeout
        if reply != "1":
            raise ValueError(f"{self.name}: INIT;*OPC? answered {reply!r}, expected '1'")

    def read_trace_binary(self, n_trace: int = 1) -> tuple[numpy.ndarray, numpy.ndarray]:
        """Read trace ``n_trace`` (1 to 6) as 32-bit floats.

        The levels come as an IEEE 488.2 definite-length block (``FORM REAL,32``,
        ``TRAC:DATA? TRACE<n>``) of little-endian floats, as the FSV sends them; the data
        format is set back to ``FORM ASC`` afterwards (also on error), so that the
        inherited ASCII ``read_trace`` and marker queries keep working.

        :param n_trace: the trace number, 1 to 6.
        :return: ``(frequencies, levels)``: frequencies in Hz (``linspace`` of
            ``freq_start`` and ``freq_stop`` over the number of points; in zero span all
            equal the center frequency) and levels in dBm (in the ``UNIT:POW`` unit if
            that was changed), both float64 arrays.
        """
        if n_trace not in TRACES:
            raise ValueError(f"n_trace {n_trace!r} is not a trace of the FSV: use 1 to 6")
        self.write("FORM REAL,32")
        try:
            self.write(f"TRAC:DATA? TRACE{n_trace}")
            levels = self._read_definite_block().astype(numpy.float64)
        finally:
            self.write("FORM ASC")
        frequencies = numpy.linspace(self.freq_start, self.freq_stop, len(levels))
        return frequencies, levels

    def _read_definite_block(self) -> numpy.ndarray:
        """Read an IEEE 488.2 definite-length block of little-endian float32 values, and
        the response terminator that follows it."""
        head = self.read_bytes(2)
        if len(head) != 2 or head[:1] != b"#" or not head[1:2].isdigit() \
                or head[1:2] == b"0":
            raise ValueError(f"{self.name}: expected an IEEE 488.2 definite-length block, "
                             f"got a reply starting {head!r}")
        digits = int(head[1:2])
        length_text = self.read_bytes(digits)
        if len(length_text) != digits or not length_text.isdigit():
            raise ValueError(f"{self.name}: bad block length field {length_text!r}")
        length = int(length_text)
        if length % 4:
            raise ValueError(f"{self.name}: a block of {length} bytes is not float32 data")
        data = self.read_bytes(length) if length else b""
        if len(data) != length:
            raise ValueError(f"{self.name}: block of {length} bytes ended after {len(data)}")
        self.read_bytes(1)  # the LF that terminates the response message
        return numpy.frombuffer(data, dtype="<f4")
