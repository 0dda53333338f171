"""The chain-voltmeter role: the DC voltages of a network chip's chains, every chain in
one reading, as the inputs of one multichannel voltmeter.

The station file names the inputs that carry the chains, in chain order (layer by
layer, chain by chain)::

    init:
      driver: labrf.drivers.scpi.MultichannelVoltmeter
      channels: "1:26"
      nplc: 1
"""

from __future__ import annotations

from typing import Any

import numpy as np
from qcodes.validators import Numbers

from labrf.drivers.scpi import MultichannelVoltmeter
from labrf.errors import ConfigError
from labrf.roles.base import Binding, Role
from labrf.roles.knob_bank import _channel_range


class ChainVoltmeter(Role):
    """A multichannel voltmeter across a chip's chains (passive: it sources nothing)."""

    role = "chain voltmeter"
    bindings = {
        MultichannelVoltmeter: Binding(
            "labrf MCV-4096 (emulated multichannel voltmeter)", r"^labrf,MCV-",
            {"voltages": "voltages", "nplc": "nplc", "channels": "channels"},
            {"nplc": (0.02, 100.0), "channels": (1, 4096)}),
    }

    def __init__(self, name: str, address: str, driver: str | type, *,
                 channels: Any = None, nplc: float | None = None, **kwargs: Any) -> None:
        super().__init__(name, address, driver, **kwargs)
        try:
            if channels is None:
                raise ConfigError("give the inputs that carry the chains, e.g. '1:26'",
                                  key=f"{name}.init.channels")
            _, n_max = self.range_of("channels", (1, 4096))
            self.first, last = _channel_range(channels, int(n_max), f"{name}.init.channels")
            self.count = last - self.first + 1
            lo, hi = self.range_of("nplc", (0.02, 100.0))
            self.add_parameter("nplc", label="Aperture", unit="PLC",
                               get_cmd=lambda: self.number("nplc"),
                               set_cmd=lambda n: self.send("nplc", n),
                               vals=Numbers(lo, hi),
                               docstring="Aperture of every reading, power-line cycles.")
            if nplc is not None:
                self.nplc(float(nplc))
        except BaseException:
            self._close_driver()
            raise

    def read(self) -> np.ndarray:
        """(count,) DC voltage of every chain, V, in chain order (one reading)."""
        owner, attr = self._target("voltages")
        return np.asarray(self._query("reading the chain voltages", lambda: getattr(
            owner, attr)(self.count, self.first)), dtype=float)

    def state_summary(self) -> str:
        return f"{self.count} chains from input {self.first}, NPLC {self.nplc():g}"
