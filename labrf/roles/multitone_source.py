"""The multitone source role: a network chip's inputs, many RF tones from one output.

``set_tones(frequencies, powers)`` takes the tones' frequencies (Hz) and the powers they
deliver at the chip (W): each tone is sent at its power plus the path ``attenuation``.
Every junction of the chip's first layer receives every tone, so it is the *sum* of the
powers at the chip that may never exceed the ``rf_power_at_device`` limit; that, each
tone's range and the model's tone count are checked before anything is sent.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike
from qcodes.validators import Bool

from labrf.drivers.scpi import MultitoneGenerator
from labrf.errors import LimitError
from labrf.roles.base import Binding, Role
from labrf.units import dbm_to_watt, format_quantity, to_si, watt_to_dbm

#: The emulated generator: 1 MHz to 6 GHz, -130 dBm to +10 dBm per tone, 8192 tones.
MTG_RANGES = {"frequency": (1e6, 6e9), "power": (-130.0, 10.0), "tones": (1, 8192)}


class MultitoneSource(Role):
    """A multitone RF generator feeding a chip's RF input.

    A tone of 0 W is sent at the model's lowest power (-130 dBm, 1e-16 W: nothing a
    synapse detects)."""

    role = "multitone source"
    bindings = {
        MultitoneGenerator: Binding(
            "labrf MTG-8192 (emulated multitone generator)", r"^labrf,MTG-",
            {"tones": "tones", "powers": "powers", "output": "output_enabled",
             "count": "tone_count"}, MTG_RANGES),
    }

    def __init__(self, name: str, address: str, driver: str | type, *,
                 attenuation: float | str = 0.0, **kwargs: Any) -> None:
        super().__init__(name, address, driver, **kwargs)
        self.attenuation = to_si(attenuation, "dB")
        self._frequencies = np.zeros(0)
        self.add_parameter("output", label="Output", get_cmd=lambda: bool(self.read("output")),
                           set_cmd=lambda on: self.send("output", bool(on)), vals=Bool(),
                           docstring="Whether the tone table plays.")

    # ------------------------------------------------------------ checks

    def checked(self, frequencies: ArrayLike, powers: ArrayLike
                ) -> tuple[np.ndarray, np.ndarray]:
        """(frequencies Hz, output powers dBm) to send for ``powers`` W at the chip;
        LimitError naming the tone and the range for anything out of bounds."""
        f = np.asarray(frequencies, dtype=float).ravel()
        p = np.asarray(powers, dtype=float).ravel()
        lo_n, hi_n = self.range_of("tones", (1, 8192))
        if f.shape != p.shape or not lo_n <= f.size <= hi_n:
            raise LimitError(f"{self.name}: {f.size} frequencies and {p.size} powers; give "
                             f"one power per tone, {lo_n:g} to {hi_n:g} tones")
        f_lo, f_hi = self.range_of("frequency", (0.0, np.inf))
        bad = np.flatnonzero(~np.isfinite(f) | (f < f_lo) | (f > f_hi))
        if bad.size:
            raise LimitError(f"{self.name}: tone {bad[0]} at {f[bad[0]]:g} Hz is outside "
                             f"{format_quantity(f_lo, 'Hz')} to {format_quantity(f_hi, 'Hz')}")
        bad = np.flatnonzero(~np.isfinite(p) | (p < 0))
        if bad.size:
            raise LimitError(f"{self.name}: tone {bad[0]} power {float(p[bad[0]])!r} W; powers are "
                             f"finite and >= 0 W")
        limit = self.limits.rf_power_at_device
        if p.sum() > limit * (1 + 1e-9):
            raise LimitError(f"{self.name}: {p.sum():.4g} W ("
                             f"{format_quantity(float(p.sum()), 'W')}) in all at the chip "
                             f"exceeds the rf_power_at_device limit of {limit:.4g} W ("
                             f"{format_quantity(limit, 'W')}; every junction receives every "
                             f"tone); nothing was sent")
        p_lo, p_hi = self.range_of("power", (-130.0, 10.0))
        # 0 W (1e-30 W: -270 dBm) goes out at the model's lowest power
        dbm = np.maximum(watt_to_dbm(np.maximum(p, 1e-30)) + self.attenuation, p_lo)
        if np.any(dbm > p_hi):
            k = int(np.argmax(dbm))
            raise LimitError(f"{self.name}: tone {k} needs {dbm[k]:.2f} dBm at the output "
                             f"({self.attenuation:g} dB of path loss); the model gives at "
                             f"most {p_hi:g} dBm")
        return f, dbm

    # ------------------------------------------------------------ tones

    def set_tones(self, frequencies: ArrayLike, powers: ArrayLike) -> None:
        """Play ``powers`` W at the chip at ``frequencies`` Hz (checked first)."""
        f, dbm = self.checked(frequencies, powers)
        self.send("tones", (f, dbm))
        self._frequencies = f

    def set_powers(self, powers: ArrayLike) -> None:
        """New powers (W at the chip) for the tones last set by ``set_tones``."""
        if not self._frequencies.size:
            raise LimitError(f"{self.name}: set the tones' frequencies first (set_tones)")
        _, dbm = self.checked(self._frequencies, powers)
        self.send("powers", dbm)

    def tones(self) -> tuple[np.ndarray, np.ndarray]:
        """(frequencies Hz, powers W at the chip), read back from the generator."""
        f, dbm = self.read("tones")
        return np.asarray(f, float), np.asarray(dbm_to_watt(np.asarray(dbm) -
                                                            self.attenuation), float)

    def safe_state(self) -> None:
        """RF off."""
        self.send("output", False)

    def state_summary(self) -> str:
        on = "on" if self.read("output") else "off"
        return f"output {on}, {int(self.read('count'))} tones"
