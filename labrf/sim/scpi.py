"""SCPI engine: command tables in the manuals' notation, message parsing, typed parameters.

A command table is written as in an instrument's programming manual::

    Setting("[:SOURce]:FREQuency[:CW]", Number(9e3, 6e9, unit="HZ"), default=1e9)
    Query(":SYSTem:ERRor[:NEXT]", "query_error")
    Command(":INITiate[:IMMediate]", "initiate")

Mnemonics match in their short form (the capitals) or long form, case-insensitively;
``[...]`` marks an optional node, ``<name>`` a numeric suffix (``CHANnel<ch>``). Message
parsing follows IEEE 488.2 / SCPI-1999: units joined by ``;``, a header without a leading
colon is relative to the previous header's path, common commands (``*IDN?``) leave the
path alone, parameters are comma-separated with quoted strings and unit suffixes.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

#: Standard SCPI error messages (SCPI-1999 vol. 2, chapter 21).
STANDARD_ERRORS: dict[int, str] = {
    0: "No error",
    -100: "Command error",
    -101: "Invalid character",
    -102: "Syntax error",
    -103: "Invalid separator",
    -104: "Data type error",
    -108: "Parameter not allowed",
    -109: "Missing parameter",
    -113: "Undefined header",
    -114: "Header suffix out of range",
    -131: "Invalid suffix",
    -141: "Invalid character data",
    -151: "Invalid string data",
    -200: "Execution error",
    -221: "Settings conflict",
    -222: "Data out of range",
    -224: "Illegal parameter value",
    -230: "Data corrupt or stale",
    -300: "Device-specific error",
    -310: "System error",
    -350: "Queue overflow",
    -400: "Query error",
    -410: "Query INTERRUPTED",
    -420: "Query UNTERMINATED",
}


class ScpiError(Exception):
    """Raised by a handler or parameter type; the emulator queues it as an SCPI error."""

    def __init__(self, code: int, detail: str = "") -> None:
        self.code = code
        self.detail = detail
        super().__init__(f"{code},{STANDARD_ERRORS.get(code, 'Error')}"
                         + (f";{detail}" if detail else ""))


# --------------------------------------------------------------------------- units

_PREFIXES = {"": 1.0, "P": 1e-12, "N": 1e-9, "U": 1e-6, "M": 1e-3, "K": 1e3, "G": 1e9,
             "MA": 1e6}
_MEGA_WHEN_M = {"HZ", "OHM"}  # SCPI: MHZ and MOHM are mega, every other M is milli


def _suffixes_for(unit: str) -> dict[str, float]:
    """Accepted suffixes and their multipliers for a base unit ("HZ", "S", "A", ...)."""
    if unit in ("DBM", "DB", "PCT", "VP"):
        return {unit: 1.0}
    table = {}
    for prefix, mult in _PREFIXES.items():
        if prefix == "M" and unit in _MEGA_WHEN_M:
            mult = 1e6
        table[prefix + unit] = mult
    return table


_NUMBER = re.compile(r"^([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*([A-Za-z%]*)$")


# ------------------------------------------------------------------ parameter types


class ParamType:
    """A parameter type: parses one token of a program message and formats replies."""

    def parse(self, token: str) -> Any:
        raise NotImplementedError

    def format(self, value: Any, number_format: Callable[[float], str]) -> str:
        return str(value)


@dataclass(frozen=True)
class Number(ParamType):
    """A decimal numeric parameter in ``[lo, hi]`` with an optional unit suffix.

    ``unit`` is the SCPI base unit ("HZ", "S", "A", "V", "DBM", "OHM", "T", "W");
    ``MIN``, ``MAX`` and ``DEF`` stand for ``lo``, ``hi`` and ``default``; ``specials``
    maps further character data ("INF") to values.
    """

    lo: float = -math.inf
    hi: float = math.inf
    unit: str | None = None
    integer: bool = False
    default: float | None = None
    specials: Mapping[str, float] = field(default_factory=dict)

    def parse(self, token: str) -> float:
        word = token.strip().upper()
        if word in ("MIN", "MINIMUM") and math.isfinite(self.lo):
            return self._cast(self.lo)
        if word in ("MAX", "MAXIMUM") and math.isfinite(self.hi):
            return self._cast(self.hi)
        if word in ("DEF", "DEFAULT") and self.default is not None:
            return self._cast(self.default)
        if word in self.specials:
            return self.specials[word]
        match = _NUMBER.match(token.strip())
        if not match:
            raise ScpiError(-104, f"'{token.strip()}' is not a number")
        value = float(match.group(1))
        suffix = match.group(2).upper()
        if suffix:
            table = _suffixes_for(self.unit) if self.unit else {}
            if suffix not in table:
                raise ScpiError(-131, f"'{suffix}'")
            value *= table[suffix]
        if not self.lo <= value <= self.hi:
            raise ScpiError(-222, f"{value:g} outside [{self.lo:g}, {self.hi:g}]")
        return self._cast(value)

    def _cast(self, value: float) -> float:
        return float(round(value)) if self.integer else float(value)

    def format(self, value: Any, number_format: Callable[[float], str]) -> str:
        if self.integer and math.isfinite(value):
            return str(int(value))
        for name, special in self.specials.items():
            if value == special:
                return name
        return number_format(value)


@dataclass(frozen=True)
class Boolean(ParamType):
    """ON/OFF or a number (non-zero is ON); replies 1 or 0."""

    def parse(self, token: str) -> bool:
        word = token.strip().upper()
        if word == "ON":
            return True
        if word == "OFF":
            return False
        match = _NUMBER.match(word)
        if not match or match.group(2):
            raise ScpiError(-224, f"'{token.strip()}' is not ON, OFF, 1 or 0")
        return round(float(match.group(1))) != 0

    def format(self, value: Any, number_format: Callable[[float], str]) -> str:
        return "1" if value else "0"


def _mnemonic_forms(mnemonic: str) -> tuple[str, str]:
    """Short and long form of a manual mnemonic: 'VOLTage' -> ('VOLT', 'VOLTAGE')."""
    match = re.fullmatch(r"([A-Z*]+)([a-z]*)(\d*)", mnemonic)
    if not match:
        raise ValueError(f"bad mnemonic in command table: {mnemonic!r}")
    upper, lower, digits = match.groups()
    return upper + digits, (upper + lower + digits).upper()


@dataclass(frozen=True)
class Choice(ParamType):
    """Character data from a fixed set, given in manual notation ("IMMediate", "BUS").

    Parses to the short form; ``replies`` maps a short form to the reply a query gives
    (default: the short form).
    """

    options: tuple[str, ...]
    replies: Mapping[str, str] = field(default_factory=dict)

    def __init__(self, *options: str, replies: Mapping[str, str] | None = None) -> None:
        object.__setattr__(self, "options", tuple(options))
        object.__setattr__(self, "replies", dict(replies or {}))
        lookup = {}
        for option in options:
            short, long = _mnemonic_forms(option) if option[0].isalpha() else (option, option)
            lookup[short] = short
            lookup[long] = short
        object.__setattr__(self, "_lookup", lookup)

    def parse(self, token: str) -> str:
        word = token.strip().upper()
        try:
            return self._lookup[word]  # type: ignore[attr-defined]
        except KeyError:
            valid = ", ".join(self.options)
            raise ScpiError(-224, f"'{token.strip()}' is not one of {valid}") from None

    def format(self, value: Any, number_format: Callable[[float], str]) -> str:
        return self.replies.get(value, value)


@dataclass(frozen=True)
class QuotedChoice(ParamType):
    """A quoted string naming one of a set of header-like options ("'VOLTage[:DC]'").

    ``options`` maps a pattern to the canonical value a query returns (unquoted).
    """

    options: Mapping[str, str]

    def parse(self, token: str) -> str:
        text = unquote(token)
        for pattern, canonical in self.options.items():
            if compile_header(pattern).match(":" + text.upper().lstrip(":")):
                return canonical
        raise ScpiError(-224, f"{token.strip()} is not one of {', '.join(self.options)}")

    def format(self, value: Any, number_format: Callable[[float], str]) -> str:
        return f'"{value}"'


@dataclass(frozen=True)
class Text(ParamType):
    """Any single token, returned stripped (quoted strings are unquoted)."""

    def parse(self, token: str) -> str:
        token = token.strip()
        return unquote(token) if token[:1] in "'\"" else token


def unquote(token: str) -> str:
    """Content of a quoted SCPI string ('..' or "..", doubled quotes escaped)."""
    token = token.strip()
    if len(token) < 2 or token[0] not in "'\"" or token[-1] != token[0]:
        raise ScpiError(-151, f"{token} is not a quoted string")
    quote = token[0]
    return token[1:-1].replace(quote * 2, quote)


# ---------------------------------------------------------------- command tables


def compile_header(pattern: str) -> re.Pattern[str]:
    """Regex matching absolute headers (upper case, leading ':') for a manual pattern."""
    if pattern.startswith("*"):
        return re.compile(":" + re.escape(pattern.upper()) + "$")
    regex = ""
    for optional, mnemonic, suffix in re.findall(
            r"(\[?):?([A-Za-z*][A-Za-z0-9]*)(?:<(\w+)>)?\]?", pattern):
        short, long = _mnemonic_forms(mnemonic)
        node = f":(?:{re.escape(long)}|{re.escape(short)})"
        if suffix:
            node += f"(?P<{suffix}>\\d+)?"
        regex += f"(?:{node})?" if optional else node
    return re.compile(regex + "$")


@dataclass(frozen=True)
class Call:
    """One program message unit being executed."""

    header: str  #: absolute header as received (upper case), without '?'
    query: bool
    args: tuple[Any, ...]  #: parameters after parsing by the entry's types
    raw: tuple[str, ...]  #: parameter tokens as received
    suffix: Mapping[str, int]  #: numeric suffixes (1 where omitted)


class Entry:
    """A row of a command table."""

    pattern: str
    accepts_query: bool = False
    accepts_set: bool = False

    def __post_init__(self) -> None:
        self.regex = compile_header(self.pattern)


@dataclass
class Setting(Entry):
    """A stored instrument setting: ``HEADER value`` sets it, ``HEADER?`` reads it.

    ``key`` names it in the emulator's state (``{name}`` fields take numeric suffixes);
    ``rst=False`` keeps it through ``*RST``; ``on_change`` names an emulator method
    called as ``method(key, value)`` after every change; ``suffixes`` lists the valid
    values of each numeric suffix; ``kind`` may be a callable of the suffixes.
    """

    pattern: str
    kind: ParamType | Callable[[Mapping[str, int]], ParamType]
    default: Any
    key: str | None = None
    rst: bool = True
    on_change: str | None = None
    suffixes: Mapping[str, tuple[int, ...]] = field(default_factory=dict)
    accepts_query: bool = True
    accepts_set: bool = True

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.key is None:
            nodes = re.findall(r"\[?:?([A-Za-z*][A-Za-z0-9]*)(?:<(\w+)>)?\]?", self.pattern)
            self.key = ":".join(_mnemonic_forms(m)[0] + (f"{{{s}}}" if s else "")
                                for m, s in nodes)

    def type_for(self, suffix: Mapping[str, int]) -> ParamType:
        return self.kind if isinstance(self.kind, ParamType) else self.kind(suffix)

    def state_key(self, suffix: Mapping[str, int]) -> str:
        return self.key.format(**suffix) if suffix else self.key  # type: ignore[union-attr]

    def all_suffixes(self) -> Iterable[dict[str, int]]:
        names = re.findall(r"<(\w+)>", self.pattern)
        combos: list[dict[str, int]] = [{}]
        for name in names:
            combos = [{**c, name: v} for c in combos for v in self.suffixes.get(name, (1,))]
        return combos


@dataclass
class Query(Entry):
    """A query answered by an emulator method ``handler(call) -> str | bytes``."""

    pattern: str
    handler: str
    params: tuple[ParamType, ...] = ()
    optional: int = 0  #: how many trailing params may be omitted
    suffixes: Mapping[str, tuple[int, ...]] = field(default_factory=dict)
    variadic: bool = False  #: the handler parses ``call.raw`` itself (lists of values)
    accepts_query: bool = True


@dataclass
class Command(Entry):
    """A command (no query form) carried out by an emulator method ``handler(call)``."""

    pattern: str
    handler: str
    params: tuple[ParamType, ...] = ()
    optional: int = 0
    suffixes: Mapping[str, tuple[int, ...]] = field(default_factory=dict)
    variadic: bool = False  #: the handler parses ``call.raw`` itself (lists of values)
    accepts_set: bool = True


class CommandTable:
    """The rows of one instrument model, with a cache of resolved headers."""

    def __init__(self, *entries: Entry) -> None:
        self.entries = list(entries)
        self._cache: dict[tuple[str, bool], tuple[Entry, dict[str, int]] | None] = {}

    def __add__(self, other: CommandTable) -> CommandTable:
        return CommandTable(*self.entries, *other.entries)

    def settings(self) -> list[Setting]:
        return [e for e in self.entries if isinstance(e, Setting)]

    def lookup(self, header: str, query: bool) -> tuple[Entry, dict[str, int]]:
        """Entry for an absolute header; raises ScpiError -113 or -114."""
        cache_key = (header, query)
        if cache_key in self._cache:
            found = self._cache[cache_key]
            if found is None:
                raise ScpiError(-113, header.lstrip(":"))
            return found
        found = None
        known_other_direction = False
        for entry in self.entries:
            match = entry.regex.match(header)
            if not match:
                continue
            if (query and not entry.accepts_query) or (not query and not entry.accepts_set):
                known_other_direction = True
                continue
            suffix = {k: int(v) if v is not None else 1 for k, v in match.groupdict().items()}
            found = (entry, suffix)
            break
        self._cache[cache_key] = found
        if found is None:
            form = "query" if query else "command"
            detail = header.lstrip(":") + (f" (no {form} form)" if known_other_direction else "")
            raise ScpiError(-113, detail)
        entry, suffix = found
        allowed = getattr(entry, "suffixes", {})
        for name, value in suffix.items():
            if name in allowed and value not in allowed[name]:
                raise ScpiError(-114, f"{header.lstrip(':')}: suffix {value} not in "
                                      f"{list(allowed[name])}")
        return found


# ------------------------------------------------------------------ message parsing


def split_units(message: str) -> list[str]:
    """Split a program message at ';' outside quotes and definite-length blocks."""
    units, current, quote, i = [], [], "", 0
    while i < len(message):
        ch = message[i]
        if quote:
            current.append(ch)
            if ch == quote:
                quote = ""
        elif ch in "'\"":
            quote = ch
            current.append(ch)
        elif ch == "#" and i + 1 < len(message) and message[i + 1].isdigit():
            length = block_length(message, i)
            current.append(message[i:length])
            i = length
            continue
        elif ch == ";":
            units.append("".join(current))
            current = []
        else:
            current.append(ch)
        i += 1
    if quote:
        raise ScpiError(-151, "unterminated string")
    units.append("".join(current))
    return units


def block_length(message: str, start: int) -> int:
    """Index just past a definite-length block ``#<n><len><data>`` starting at ``start``."""
    digits = int(message[start + 1])
    if digits == 0:
        return len(message)
    count = message[start + 2:start + 2 + digits]
    if len(count) < digits or not count.isdigit():
        raise ScpiError(-161, "invalid block data")
    return start + 2 + digits + int(count)


def rstrip_outside_blocks(text: str, chars: str | None = None) -> str:
    """``text`` with trailing ``chars`` (whitespace by default) removed, but never from
    inside a definite-length block (its data may end in any byte)."""
    end, quote, i = 0, "", 0
    while i < len(text):
        ch = text[i]
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch == "#" and i + 1 < len(text) and text[i + 1].isdigit():
            i = end = block_length(text, i)
            continue
        i += 1
    return text[:end] + text[end:].rstrip(chars)


def split_params(text: str) -> list[str]:
    """Split a parameter list at ',' outside quotes, parentheses and definite-length
    blocks (a block stays one token, byte for byte)."""
    if not text.strip():
        return []
    params: list[str] = []
    start, quote, depth, i = 0, "", 0, 0
    while i < len(text):
        ch = text[i]
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch == "#" and i + 1 < len(text) and text[i + 1].isdigit() and \
                not text[start:i].strip():
            i = block_length(text, i)
            continue
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch == "," and depth == 0:
            params.append(text[start:i])
            start = i + 1
        i += 1
    params.append(text[start:])
    out = []
    for token in params:
        token = token.lstrip()
        out.append(token if is_block(token) else token.strip())
    if any(p == "" for p in out):
        raise ScpiError(-103, "empty parameter")
    return out


def is_block(token: str) -> bool:
    """Whether a parameter token is a definite-length block ``#<n><len><data>``."""
    return len(token) > 1 and token[0] == "#" and token[1].isdigit()


def block_data(token: str) -> bytes:
    """The data bytes of a definite-length block token; -161 if it is malformed or its
    length is not what its header says."""
    digits = int(token[1])
    if digits == 0:
        raise ScpiError(-161, "indefinite-length blocks are not accepted")
    count = token[2:2 + digits]
    if len(count) < digits or not count.isdigit() or len(token) != 2 + digits + int(count):
        raise ScpiError(-161, "invalid block data")
    return token[2 + digits:].encode("latin-1")


def block(data: bytes) -> bytes:
    """``data`` as a definite-length block (IEEE 488.2 ``#<n><len><data>``)."""
    length = str(len(data))
    return f"#{len(length)}{length}".encode() + data


_HEADER = re.compile(r"^:?(?:\*[A-Za-z]+|[A-Za-z][A-Za-z0-9]*(?::[A-Za-z][A-Za-z0-9]*)*)\??$")


def split_header(unit: str) -> tuple[str, str]:
    """Header and parameter text of one message unit; raises -102 on a bad header."""
    unit = rstrip_outside_blocks(unit.lstrip())
    match = re.match(r"^(\S+?)(\s+(.*))?$", unit, re.S)
    if not match:
        raise ScpiError(-102, unit)
    header, params = match.group(1), match.group(3) or ""
    if not _HEADER.match(header):
        raise ScpiError(-102, f"bad header '{header}'")
    return header, params
