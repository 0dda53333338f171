"""What Rohde & Schwarz instruments share: how they write numbers and queue entries."""

from __future__ import annotations

import math


class RohdeSchwarzReplies:
    """R&S reply style, mixed in before ``Emulator``."""

    def number_format(self, value: float) -> str:
        """Integers without a decimal point ("250000000", "-10"), else 12 digits."""
        if math.isfinite(value) and value == round(value) and abs(value) < 1e15:
            return str(int(round(value)))
        return f"{value:.12g}"

    def format_error(self, code: int, detail: str) -> str:
        """Queue entry with the offending header: ``-113,"Undefined header;FREQ:XYZ"``."""
        text = super().format_error(code, detail)  # type: ignore[misc]
        return f'{text[:-1]};{detail}"' if detail else text
