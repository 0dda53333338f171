"""Lake Shore instruments: PyMeasure's ``LakeShore425`` gaussmeter driver, used unchanged,
tested here against the emulator and pinned with ``expected_protocol``."""

from pymeasure.instruments.lakeshore import LakeShore425

__all__ = ["LakeShore425"]
