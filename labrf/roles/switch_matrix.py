"""The switch-matrix role: routes the bench's instruments to one device at a time.

A route is a channel list (``"1101,1202"``). Switching is always break-before-make: every
channel opens (read back: all open) before the new route closes (read back: exactly the
route). It never switches with power on through the matrix: before any relay moves it
asks the station what is energized (an RF source with its output on, a current source
with its output on). With ``on_load="raise"`` (the default) that refuses the switch,
naming what is on; with ``on_load="safe"`` the station is first put in its safe state
(RF off, currents ramped to zero). Its own safe state moves no relay: the device stays
on instruments at zero output rather than floating.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from labrf.drivers.keithley import Keithley3706A
from labrf.errors import InstrumentError, LabrfError, LimitError
from labrf.roles.base import Binding, Role

ON_LOAD = ("raise", "safe")


def _prepare_3706a(driver: Keithley3706A) -> None:
    """Exclusive closes open before they close, whatever the last user left."""
    driver.connect_rule = "break_before_make"


class SwitchMatrix(Role):
    """A relay matrix between the bench's instruments (rows) and a chip's devices
    (columns).

    ``energized`` (set by the station) lists what is on through the matrix;
    ``make_safe`` (set by the station) puts the station in its safe state.
    """

    role = "switch matrix"
    bindings = {
        Keithley3706A: Binding(
            "Keithley 3706A", r"^Keithley Instruments Inc\., Model 3706A,",
            {"closed": "closed_channels", "close": "close_channels",
             "open_all": "open_all", "connect_rule": "connect_rule",
             "errors": "check_errors"}, {}, _prepare_3706a),
    }

    def __init__(self, name: str, address: str, driver: str | type, *,
                 on_load: str = "raise", **kwargs: Any) -> None:
        if on_load not in ON_LOAD:
            raise LabrfError(f"{name}.on_load: {on_load!r}; valid: {', '.join(ON_LOAD)}")
        super().__init__(name, address, driver, **kwargs)
        self.on_load = on_load
        self.energized: Callable[[], list[str]] = list
        self.make_safe: Callable[[], None] | None = None
        self.add_parameter("route", label="Closed channels",
                           get_cmd=lambda: ",".join(self.closed()),
                           set_cmd=self.switch,
                           docstring="The closed channels, comma-separated; setting it "
                                     "switches break-before-make, never under load.")

    def closed(self) -> list[str]:
        """The closed channels, read from the matrix."""
        return list(self.read("closed"))

    def _unloaded(self, action: str) -> None:
        on = self.energized()
        if not on:
            return
        if self.on_load == "raise" or self.make_safe is None:
            raise LimitError(f"{self.name}: refusing to {action} with power through the "
                             f"matrix ({'; '.join(on)}); turn it off first, or set "
                             f"on_load: safe to ramp the station to safe first")
        self.make_safe()
        still = self.energized()
        if still:
            raise LimitError(f"{self.name}: still energized after the safe state "
                             f"({'; '.join(still)}); not switching")

    def _errors(self, action: str) -> None:
        errors = self.call("errors")
        if errors:
            listed = "; ".join(f"{code} {text}" for code, text in errors)
            raise InstrumentError(f"{self.name} ({self.binding.model} at {self.address}): "
                                  f"{action} failed: {listed}")

    def switch(self, route: str | list[str]) -> None:
        """Connect ``route`` (a channel list) and nothing else: all open, then close."""
        channels = route if isinstance(route, list) else [
            c.strip() for c in str(route).split(",") if c.strip()]
        self._unloaded(f"switch to {','.join(channels) or 'nothing'}")
        self.call("open_all")
        if self.closed():
            self._errors("opening every channel")
            raise InstrumentError(f"{self.name}: channels {self.closed()} stayed closed "
                                  f"after opening all; not switching")
        if not channels:
            return
        self.call("close", ",".join(channels))
        self._errors(f"closing {','.join(channels)}")
        closed = self.closed()
        if sorted(closed) != sorted(channels):
            self.call("open_all")
            raise InstrumentError(f"{self.name}: asked for {','.join(channels)}, the matrix "
                                  f"closed {','.join(closed) or 'nothing'}; all opened again")

    def safe_state(self) -> None:
        """Nothing moves: the route stays closed, so the device stays on the bench's
        instruments, which the station has just set to zero output. Opening it would
        leave the junction floating (an electrostatic risk) and cut the next run on the
        same device off its instruments; ``switch("")`` opens every relay."""

    def state_summary(self) -> str:
        closed = self.closed()
        return f"closed {','.join(closed)}" if closed else "all open"
