"""Writing and reading lists of reals as IEEE 488.2 definite-length blocks, through a
PyMeasure adapter's PyVISA connection (little-endian float64: ``FORM REAL,64;:FORM:BORD SWAP``
is sent once by each driver)."""

from __future__ import annotations

from typing import Any

import numpy as np

#: Values per message: 8 bytes each keeps a message under the 64 kB bound of raw sockets.
CHUNK = 4096


def write_block(instrument: Any, header: str, values: np.ndarray, suffix: str = "") -> None:
    """Send ``header <block of values>[,suffix]`` (float64, little-endian)."""
    data = np.ascontiguousarray(values, dtype="<f8").tobytes()
    length = str(len(data))
    message = f"{header} #{len(length)}{length}".encode() + data
    if suffix:
        message += f",{suffix}".encode()
    connection = getattr(instrument.adapter, "connection", None)
    termination = getattr(connection, "write_termination", "") or ""
    instrument.adapter.write_bytes(message + termination.encode())


def read_block(instrument: Any, query: str) -> np.ndarray:
    """The reals of the block replied to ``query`` (float64, little-endian)."""
    values = instrument.adapter.connection.query_binary_values(
        query, datatype="d", is_big_endian=False, container=np.array)
    return np.asarray(values, dtype=float)
