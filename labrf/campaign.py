"""Campaign files: which devices of a chip to measure, with which procedures, and what
passes. Validated like station files: every mistake names the file, the key and what
would be valid.

.. code-block:: yaml

    campaign: sim-chip              # a name (letters, digits, '-' and '_')
    station: sim_chip.yaml          # relative to this file, or a shipped station's name
    switch: switch                  # the station's SwitchMatrix (default: its only one)
    devices:                        # the channels that reach each device, its map position
      J11: {channels: "1101,1201", position: [1, 1]}
      J12: {channels: "1102,1202", position: [1, 2]}
    procedures:                     # run in this order on every device
      - procedure: spin-diode
        parameters: {points: 101, power: -20 dBm}
        accept: {resonance: [200 MHz, 300 MHz]}     # fit value: [low, high]
      - procedure: emission
        parameters: {f_start: "{spin-diode.resonance} + 20 MHz"}   # an earlier fit
    on_failure: skip                # skip the device, retry it, or stop the campaign
    retries: 1                      # with on_failure: retry

A parameter may be an earlier procedure's fit value on the same device, plus or minus a
quantity: ``"{procedure.key}"``, ``"{procedure.key} - 30 MHz"``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from labrf.errors import ConfigError, LabrfError
from labrf.runner import parse_value, procedure_class, procedures
from labrf.shipped import campaign_path
from labrf.sim.config import read_yaml
from labrf.station import KeyChecker, StationSpec, read_station
from labrf.units import to_base

TOP_KEYS = ("campaign", "station", "switch", "devices", "procedures", "on_failure",
            "retries")
DEVICE_KEYS = ("channels", "position")
STEP_KEYS = ("procedure", "parameters", "accept")
ON_FAILURE = ("skip", "retry", "stop")
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*")
_CHANNEL = re.compile(r"\d{4}")
_REFERENCE = re.compile(r"\{\s*([\w-]+)\.(\w+)\s*\}\s*(?:([+-])\s*(.+))?")


@dataclass(frozen=True)
class Reference:
    """A parameter taken from an earlier procedure's fit on the same device."""

    procedure: str
    key: str
    offset: float = 0.0  #: added to the fit value, in the parameter's unit (SI)


@dataclass(frozen=True)
class Device:
    name: str
    channels: str  #: the channel list the switch closes to reach it
    position: tuple[int, int]  #: (row, column) on the chip map, from 1


@dataclass(frozen=True)
class Step:
    procedure: str
    parameters: dict[str, Any]  #: SI values, or References
    accept: dict[str, tuple[float, float]]  #: fit key -> (low, high), SI
    accept_text: dict[str, str] = field(default_factory=dict)  #: as written: "[a, b]"


@dataclass
class Campaign:
    """A validated campaign file."""

    file: str
    name: str
    station: StationSpec
    switch: str
    devices: dict[str, Device]
    steps: list[Step]
    on_failure: str = "skip"
    retries: int = 0
    raw: dict[str, Any] = field(default_factory=dict)

    @property
    def runs(self) -> int:
        """Runs the campaign makes when every device passes (retries not counted)."""
        return len(self.devices) * len(self.steps)


def _si(r: KeyChecker, value: Any, key: str) -> float:
    """A number, or a quantity string in any unit, in SI base units."""
    try:
        return to_base(value)
    except LabrfError as exc:
        raise r.fail(key, str(exc)) from None


def _station(r: KeyChecker, data: dict[str, Any], file: Path) -> StationSpec:
    name = data.get("station")
    if not isinstance(name, str) or not name.strip():
        raise r.fail("station", "missing: name the station file (e.g. sim_chip.yaml)")
    local = file.parent / name
    here = local.exists() and local.resolve() != file.resolve()  # not the campaign itself
    try:
        return read_station(local if here else name)
    except ConfigError as exc:
        raise r.fail("station", str(exc)) from None


def _switch(r: KeyChecker, data: dict[str, Any], station: StationSpec) -> str:
    from labrf.roles import SwitchMatrix

    switches = [n for n, s in station.instruments.items() if s.role is SwitchMatrix]
    name = data.get("switch")
    if name is None:
        if len(switches) != 1:
            raise r.fail("switch", f"the station has {len(switches)} switch matrices "
                                   f"({', '.join(switches) or 'none'}); name the one to "
                                   f"route with, or use a station with a SwitchMatrix")
        return switches[0]
    if name not in switches:
        raise r.fail("switch", f"{name!r} is not a SwitchMatrix of the station; its "
                               f"switch matrices: {', '.join(switches) or 'none'}")
    return str(name)


def _devices(r: KeyChecker, data: dict[str, Any]) -> dict[str, Device]:
    raw = data.get("devices")
    if raw is None:
        raise r.fail("devices", "missing: name the devices, e.g. J11: {channels: "
                                "'1101,1201', position: [1, 1]}")
    raw = r.mapping(raw, "devices")
    if not raw:
        raise r.fail("devices", "empty: name at least one device")
    devices: dict[str, Device] = {}
    seen_positions: dict[tuple[int, int], str] = {}
    seen_channels: dict[str, str] = {}
    for name, entry in raw.items():
        key = f"devices.{name}"
        if not isinstance(name, str) or not _NAME.fullmatch(name):
            raise r.fail(key, "a device name is letters, digits, '-' and '_'")
        entry = r.mapping(entry, key)
        r.only(entry, key, DEVICE_KEYS)
        channels = entry.get("channels")
        if not isinstance(channels, str) or not channels.strip() or not all(
                _CHANNEL.fullmatch(c.strip()) for c in channels.split(",")):
            raise r.fail(f"{key}.channels", f"{channels!r} is not a channel list such as "
                                            f"'1101,1201' (four-digit channels: slot, "
                                            f"row, two-digit column)")
        channels = ",".join(c.strip() for c in channels.split(","))
        if channels in seen_channels:
            raise r.fail(f"{key}.channels", f"{channels} already reaches "
                                            f"'{seen_channels[channels]}'")
        position = entry.get("position")
        if not (isinstance(position, list) and len(position) == 2 and all(
                isinstance(p, int) and not isinstance(p, bool) and p >= 1
                for p in position)):
            raise r.fail(f"{key}.position", f"{position!r} is not [row, column] with "
                                            f"integers from 1")
        where = (position[0], position[1])
        if where in seen_positions:
            raise r.fail(f"{key}.position", f"{position} is already '"
                                            f"{seen_positions[where]}''s position")
        seen_positions[where], seen_channels[channels] = name, name
        devices[name] = Device(name, channels, where)
    return devices


def _parameter(r: KeyChecker, parameter: Any, value: Any, key: str, earlier: list[str]
               ) -> Any:
    if isinstance(value, str) and value.strip().startswith("{"):
        match = _REFERENCE.fullmatch(value.strip())
        if match is None:
            raise r.fail(key, f"{value!r}: a reference is '{{procedure.key}}' with an "
                              f"optional '+ quantity' or '- quantity'")
        procedure, fit_key, sign, offset = match.groups()
        if procedure not in earlier:
            raise r.fail(key, f"{value!r} refers to '{procedure}', which does not run "
                              f"before it; earlier procedures: {', '.join(earlier) or 'none'}")
        amount = 0.0
        if offset is not None:
            try:
                amount = float(parse_value(parameter, offset.strip()))
            except (LabrfError, ValueError) as exc:
                raise r.fail(key, f"{value!r}: the offset {offset.strip()!r}: {exc}") from None
        return Reference(procedure, fit_key, -amount if sign == "-" else amount)
    try:
        return parse_value(parameter, str(value))
    except (LabrfError, ValueError) as exc:
        raise r.fail(key, f"{value!r}: {exc}") from None


def _steps(r: KeyChecker, data: dict[str, Any]) -> list[Step]:
    raw = data.get("procedures")
    if not isinstance(raw, list) or not raw:
        raise r.fail("procedures", "must be a non-empty list of {procedure, parameters, "
                                   "accept}")
    known = procedures()
    steps: list[Step] = []
    for index, entry in enumerate(raw):
        key = f"procedures[{index}]"
        entry = r.mapping(entry, key)
        r.only(entry, key, STEP_KEYS)
        name = entry.get("procedure")
        if name not in known:
            raise r.fail(f"{key}.procedure", f"{name!r} is not a procedure; valid: "
                                             f"{', '.join(sorted(known))}")
        if name in [s.procedure for s in steps]:
            raise r.fail(f"{key}.procedure", f"{name} runs twice; a campaign runs each "
                                             f"procedure once per device")
        options = procedure_class(name)().parameter_objects()
        parameters = {}
        for pname, value in r.mapping(entry.get("parameters") or {},
                                      f"{key}.parameters").items():
            if pname not in options:
                raise r.fail(f"{key}.parameters.{pname}", f"{name} has no parameter "
                                                          f"{pname}; valid: "
                                                          f"{', '.join(options)}")
            parameters[pname] = _parameter(r, options[pname], value,
                                           f"{key}.parameters.{pname}",
                                           [s.procedure for s in steps])
        accept, accept_text = {}, {}
        for fit_key, bounds in r.mapping(entry.get("accept") or {}, f"{key}.accept").items():
            where = f"{key}.accept.{fit_key}"
            if not (isinstance(bounds, list) and len(bounds) == 2):
                raise r.fail(where, f"{bounds!r} is not [low, high] (e.g. [200 MHz, "
                                    f"300 MHz])")
            low, high = (_si(r, b, where) for b in bounds)
            if not low <= high:
                raise r.fail(where, f"low {bounds[0]!r} is above high {bounds[1]!r}")
            accept[fit_key] = (low, high)
            accept_text[fit_key] = f"[{bounds[0]}, {bounds[1]}]"
        steps.append(Step(name, parameters, accept, accept_text))
    return steps


def parse_campaign(data: Any, file: str) -> Campaign:
    """Validate a campaign mapping read from ``file`` (its station is read too)."""
    r = KeyChecker(file)
    data = r.mapping(data, "")
    r.only(data, "", TOP_KEYS)
    name = data.get("campaign")
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise r.fail("campaign", f"{name!r}: give the campaign a name of letters, digits, "
                                 f"'-' and '_'")
    station = _station(r, data, Path(file))
    switch = _switch(r, data, station)
    devices = _devices(r, data)
    steps = _steps(r, data)
    on_failure = data.get("on_failure", "skip")
    if on_failure not in ON_FAILURE:
        raise r.fail("on_failure", f"{on_failure!r}; valid: {', '.join(ON_FAILURE)}")
    retries = data.get("retries", 1 if on_failure == "retry" else 0)
    if isinstance(retries, bool) or not isinstance(retries, int) or not 0 <= retries <= 10:
        raise r.fail("retries", f"{retries!r} is not an integer from 0 to 10")
    if retries and on_failure != "retry":
        raise r.fail("retries", f"retries apply with on_failure: retry, not {on_failure}")
    return Campaign(file, name, station, switch, devices, steps, on_failure, retries, data)


def read_campaign(path: str | Path) -> Campaign:
    """Read and validate a campaign file (nothing is connected)."""
    path = campaign_path(path)
    if not path.is_file():
        raise ConfigError("campaign file not found", file=str(path))
    try:
        data = read_yaml(path)
    except ConfigError as exc:
        if "must be a mapping" not in exc.reason:
            raise
        raise ConfigError("must be a mapping with a 'campaign' name, a 'station', "
                          "'devices' and 'procedures'", file=str(path)) from None
    return parse_campaign(data, str(path))
