"""Lists of values in SCPI messages, shared by the multichannel models: comma-separated
numbers or one IEEE 488.2 definite-length block of IEEE 754 reals, as ``FORMat[:DATA]``
(``ASCii``, ``REAL,32``, ``REAL,64``) and ``FORMat:BORDer`` (``NORMal``: big-endian, the
SCPI default; ``SWAPped``: little-endian) say; and SCPI-99 channel lists ``(@1,3:5)``.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from labrf.sim.scpi import (
    Call,
    Choice,
    Command,
    CommandTable,
    Number,
    Query,
    ScpiError,
    Setting,
    block,
    block_data,
    is_block,
)

FORMATS = ("ASC", "REAL")
FORMAT_DATA = Choice("ASCii", "REAL")
BYTE_ORDER = Choice("NORMal", "SWAPped")
REAL_LENGTH = Number(32, 64, integer=True, default=64)


def dtype(length: int, order: str) -> np.dtype:
    """numpy dtype of ``REAL,<length>`` in byte order ``order`` (NORM or SWAP)."""
    if length not in (32, 64):
        raise ScpiError(-224, f"REAL,{length}: the length is 32 or 64")
    return np.dtype(f"{'>' if order == 'NORM' else '<'}f{length // 8}")


def parse_values(tokens: tuple[str, ...] | list[str], number: Number, order: str,
                 limit: int) -> np.ndarray:
    """The values of ``tokens``: one block of reals (in byte order ``order``; its length
    from its size: 4 or 8 bytes each) or numbers as ``number`` parses them; at most
    ``limit`` (-223 beyond); each inside ``number``'s range (-222)."""
    if not tokens:
        raise ScpiError(-109, "no values")
    if len(tokens) == 1 and is_block(tokens[0]):
        data = block_data(tokens[0])
        width = 8 if len(data) % 8 == 0 else 4
        if len(data) % width:
            raise ScpiError(-161, f"{len(data)} bytes are not a whole number of reals")
        values = np.frombuffer(data, dtype=dtype(8 * width, order)).astype(float)
        if values.size > limit:
            raise ScpiError(-223, f"{values.size} values; at most {limit}")
        if not np.all(np.isfinite(values)):
            raise ScpiError(-224, "values must be finite")
        outside = (values < number.lo) | (values > number.hi)
        if np.any(outside):
            bad = float(values[np.argmax(outside)])
            raise ScpiError(-222, f"{bad:g} outside [{number.lo:g}, {number.hi:g}]")
        return values
    if any(is_block(t) for t in tokens):
        raise ScpiError(-161, "a block must be the only list of values")
    if len(tokens) > limit:
        raise ScpiError(-223, f"{len(tokens)} values; at most {limit}")
    return np.array([number.parse(t) for t in tokens], dtype=float)


def format_values(values: np.ndarray, data_format: str, length: int, order: str,
                  number_format: Callable[[float], str]) -> str | bytes:
    """``values`` as a reply: comma-separated (ASCii) or one block of reals."""
    if data_format == "REAL":
        return block(np.asarray(values, dtype=dtype(length, order)).tobytes())
    return ",".join(number_format(float(v)) for v in values)


def parse_channels(token: str, channels: int) -> np.ndarray:
    """A SCPI-99 channel list ``(@1,3:5)`` as 0-based indices, in the order written;
    -141 if malformed, -222 for a channel outside 1..``channels``."""
    text = token.strip()
    if not (text.startswith("(@") and text.endswith(")")):
        raise ScpiError(-141, f"'{text}' is not a channel list such as (@1:8)")
    out: list[int] = []
    for part in text[2:-1].split(","):
        lo, _, hi = part.strip().partition(":")
        try:
            first, last = int(lo), int(hi or lo)
        except ValueError:
            raise ScpiError(-141, f"'{part.strip()}' in {text}") from None
        step = 1 if last >= first else -1
        for channel in (first, last):
            if not 1 <= channel <= channels:
                raise ScpiError(-222, f"channel {channel}; this instrument has 1 to "
                                      f"{channels}")
        out.extend(range(first, last + step, step))
    return np.array(out, dtype=int) - 1


#: ``FORMat[:DATA]`` and ``FORMat:BORDer``, for a model's command table.
FORMAT_COMMANDS = CommandTable(
    Command(":FORMat[:DATA]", "set_format", params=(FORMAT_DATA, REAL_LENGTH), optional=1),
    Query(":FORMat[:DATA]", "query_format"),
    Setting(":FORMat:BORDer", BYTE_ORDER, "NORM", key="FORM:BORD"),
)


class ArrayFormat:
    """The data format of a model's list replies (with ``FORMAT_COMMANDS``)."""

    state: dict
    number_format: Callable[[float], str]  #: the model's (annotation only)
    data_format: str = "ASC"
    real_length: int = 64

    def reset_format(self) -> None:
        self.data_format, self.real_length = "ASC", 64

    def set_format(self, call: Call) -> None:
        self.data_format = call.args[0]
        if len(call.args) > 1:
            self.real_length = int(call.args[1])

    def query_format(self, call: Call) -> str:
        return "ASC" if self.data_format == "ASC" else f"REAL,{self.real_length}"

    def values_reply(self, values: np.ndarray) -> str | bytes:
        """``values`` as FORMat says."""
        return format_values(values, self.data_format, self.real_length,
                             self.state["FORM:BORD"], self.number_format)
