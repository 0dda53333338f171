"""The simulation section of a station file: validated into plain, typed settings.

A station file is a QCoDeS station YAML (``instruments:`` with addresses) plus a
``labrf:`` section; on a simulated bench ``labrf: simulation:`` describes the world::

    labrf:
      simulation:
        seed: 1
        line_frequency: 50 Hz
        noise: true
        variability: 0 %
        devices:
          mtj:    {kind: mtj, field_from: magnet, spin_diode: {resonance: 250 MHz}}
          amp:    {kind: amplifier, input: mtj, gain: 30 dB}
          magnet: {kind: coil, field_per_current: 25 mT/A}
          chip:   {kind: network, synapses: {A1: {resonance: 238 MHz}}}
        instruments:
          nanovoltmeter: {model: keithley2182a, input: mtj, terminator: "\\r"}
          chain_a:       {model: keithley2182a, input: chip.A, terminator: "\\r"}

A ``network`` device (the nine-junction chip of ``labrf.network``) is wired through its
terminals, ``<name>.<terminal>`` (``NETWORK_TERMINALS``): ``chip.input`` takes the two RF
sources (through the splitter), ``chip.A1`` ... ``chip.O2`` the synapses' control field
lines, ``chip.N1``, ``chip.N2``, ``chip.NO`` the neurons' bias sources (and their emission
feeds an amplifier or analyzer), ``chip.A``, ``chip.B``, ``chip.O`` the chains' DC
voltages (for voltmeters), ``chip.probe`` an RF source that calibrates the output
synapses, ``chip.monitor`` an analyzer watching the hidden neurons at the combiner.

Every error names the file, the key and what would be valid.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from labrf.errors import ConfigError, UnitError
from labrf.network import NEURON_NAMES, SYNAPSE_NAMES, Network, nominal_network
from labrf.network.files import CHIP_KEYS, ChipSpecError, chip_design
from labrf.network.layered import LayeredNetwork
from labrf.physics import CoilParams, JunctionParams, OscillatorParams, SpinDiodeParams
from labrf.shipped import station_path
from labrf.units import db_to_ratio, to_si
from labrf.wire import TERMINATIONS

# key: (unit for labrf.units.to_si, lowest, highest) -- the physically sensible range
_SPIN_DIODE = {
    "resonance": ("Hz", 1e6, 100e9),
    "damping": ("ratio", 1e-4, 0.5),
    "antisymmetric": ("V/W", -1e4, 1e4),
    "symmetric": ("V/W", -1e4, 1e4),
    "saturation_power": ("W", 1e-9, 1.0),
    "field_tuning": ("Hz/T", -1e12, 1e12),
    "current_tuning": ("Hz/A", -1e12, 1e12),
}
_OSCILLATOR = {
    "threshold_current": ("A", 1e-5, 0.1),
    "q": ("ratio", 0.0, 100.0),
    "power_at_2ith": ("W", 0.0, 1e-3),
    "frequency": ("Hz", 1e6, 100e9),
    "current_tuning": ("Hz/A", -1e12, 1e12),
    "field_tuning": ("Hz/T", -1e12, 1e12),
    "linewidth_threshold": ("Hz", 1.0, 1e9),
    "linewidth_p0": ("ratio", 1e-6, 10.0),
}
_JUNCTION = {
    "resistance": ("ohm", 1.0, 1e6),
    "tmr": ("ratio", 0.0, 10.0),
    "switching_field": ("T", 0.0, 10.0),
    "switching_width": ("T", 1e-6, 1.0),
    "breakdown_voltage": ("V", 0.01, 10.0),
    "shorted_resistance": ("ohm", 0.01, 1e6),
}
_COIL = {
    "field_per_current": ("T/A", 1e-6, 10.0),
    "time_constant": ("s", 1e-6, 100.0),
    "resistance": ("ohm", 1e-3, 1e4),
    "remanence": ("T", 0.0, 1.0),
    "hysteresis_width": ("A", 1e-6, 100.0),
}
_AMPLIFIER = {
    "gain": ("dB", -100.0, 100.0),
    "noise_figure": ("dB", 0.0, 50.0),
}
_NETWORK = {
    "hidden_transconductance": ("A/V", -1e4, 1e4),
    "output_transconductance": ("A/V", -1e4, 1e4),
    "rf_gain": ("dB", -100.0, 100.0),
    "detection_power": ("W", 1e-15, 1e-3),
    "drive_limit": ("A", 1e-4, 0.1),
    "line_resistance": ("ohm", 1e-3, 1e6),
    "line_rating": ("A", 1e-4, 1.0),
    "bias_resistance": ("ohm", 1e-3, 1e6),
    "monitor_coupling": ("dB", -100.0, 0.0),
    "path_imbalance": ("dB", 0.0, 10.0),
}
DEVICE_KINDS = ("mtj", "amplifier", "coil", "network", "chip", "layered_network")
#: Terminals of a ``layered_network`` device: its RF input (one multitone source), its
#: knobs (one multichannel current source: every control current, then every bias), its
#: output (the last layer's neurons, combined, to an amplifier or analyzer), its chains'
#: DC voltages (one multichannel voltmeter: every chain, layer by layer) and its monitor
#: tap (every neuron of the layers before the last, combined, at ``monitor_coupling``).
LAYERED_TERMINALS: dict[str, str] = {"input": "tone_input", "knobs": "knob_bank",
                                     "output": "chip_output", "chains": "chain_voltages",
                                     "monitor": "chip_monitor"}
#: Models that route a chip's devices to the bench: the switch's rows, columns per card.
SWITCH_MODELS = {"keithley3706a": (6, 16)}
FAULTS = ("shorted", "open")
#: Terminals of a network device and their kinds: ``rf_input`` (RF sources, through the
#: splitter), ``probe`` (an RF source injecting into the output chain through the
#: combiner's coupled port, to calibrate the output synapses), ``monitor`` (the combiner's
#: other coupled port, where an analyzer sees N1 and N2), ``control_line`` (a synapse's
#: field line), ``neuron`` (a neuron's bias input and emission), ``chain`` (a chain's DC
#: voltage).
NETWORK_TERMINALS: dict[str, str] = {
    "input": "rf_input", "probe": "probe", "monitor": "monitor",
    **{name: "control_line" for name in SYNAPSE_NAMES},
    **{name: "neuron" for name in NEURON_NAMES},
    "A": "chain", "B": "chain", "O": "chain",
}
#: RF sources a network's ``input`` takes (f1 and f2).
NETWORK_INPUTS = 2


@dataclass(frozen=True)
class MtjConfig:
    """One magnetic tunnel junction: synapse, oscillator and resistor at once."""

    name: str
    spin_diode: SpinDiodeParams
    oscillator: OscillatorParams
    junction: JunctionParams
    field_from: str | None = None
    kind: str = "mtj"
    fault: str | None = None  #: "shorted" or "open": a bad device of a chip


@dataclass(frozen=True)
class AmplifierConfig:
    """An RF amplifier between a junction's emission and an analyzer."""

    name: str
    input: str
    gain: float = 30.0  #: dB
    noise_figure: float = 3.0  #: dB
    kind: str = "amplifier"


@dataclass(frozen=True)
class CoilConfig:
    """An electromagnet."""

    name: str
    params: CoilParams
    kind: str = "coil"


@dataclass(frozen=True)
class NetworkConfig:
    """The nine-junction two-layer network of ``labrf.network`` (nominal devices as
    configured, before any variability), wired through its terminals."""

    name: str
    network: Network
    line_resistance: float = 20.0  #: ohm, each synapse's control field line
    #: A, a field line's current rating: a line driven beyond it burns open
    line_rating: float = 20e-3
    bias_resistance: float = 100.0  #: ohm, each neuron drive stage's bias input
    monitor_coupling: float = -20.0  #: dB, combiner to its monitor port
    #: dB, spread (one sigma) of the RF paths' transmissions, drawn per path from the
    #: world's seed: splitter arms (f1, f2 to chains A, B), combiner arms (N1, N2 to the
    #: output chain). Neither calibration measures them.
    path_imbalance: float = 0.0
    kind: str = "network"


@dataclass(frozen=True)
class LayeredConfig:
    """A frequency-multiplexed chip of any size (``labrf.network.LayeredNetwork``), as
    designed, before the world's variability and this device's path imbalance."""

    name: str
    network: LayeredNetwork
    #: dB, spread (one sigma) of every RF path's transmission, drawn per path
    path_imbalance: float = 0.0
    #: dB, transmission from the hidden neurons to the monitor tap
    monitor_coupling: float = -20.0
    kind: str = "layered_network"


DeviceConfig = MtjConfig | AmplifierConfig | CoilConfig | NetworkConfig | LayeredConfig


@dataclass(frozen=True)
class InstrumentConfig:
    """An emulated instrument: its model, VISA address, wiring and the terminator it is
    set to (None: its model's factory setting)."""

    name: str
    model: str
    address: str
    wiring: dict[str, str]
    terminator: str | None = None


@dataclass(frozen=True)
class SimulationConfig:
    """The validated simulation section."""

    seed: int = 0
    line_frequency: float = 50.0
    noise: bool = True
    variability: float = 0.0
    devices: dict[str, DeviceConfig] = field(default_factory=dict)
    instruments: dict[str, InstrumentConfig] = field(default_factory=dict)
    file: str | None = None
    #: "<switch>.row<R>" -> the chip's devices on the switch's columns 1, 2, ... in order
    routes: dict[str, tuple[str, ...]] = field(default_factory=dict)


class _Reader:
    """Reads one mapping, naming ``file`` and the dotted key path in every error."""

    def __init__(self, file: str | None) -> None:
        self.file = file

    def fail(self, key: str, message: str) -> ConfigError:
        return ConfigError(message, file=self.file, key=key)

    def mapping(self, value: Any, key: str) -> dict[str, Any]:
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise self.fail(key, f"must be a mapping, got {type(value).__name__} {value!r}")
        return value

    def only(self, data: dict[str, Any], key: str, allowed: list[str]) -> None:
        for name in data:
            if name not in allowed:
                raise self.fail(f"{key}.{name}" if key else str(name),
                                f"unknown key; valid keys: {', '.join(allowed)}")

    def quantity(self, value: Any, key: str, unit: str, lo: float, hi: float) -> float:
        try:
            number = to_si(value, unit)
        except UnitError as exc:
            raise self.fail(key, f"{exc}") from None
        if not (math.isfinite(number) and lo <= number <= hi):
            raise self.fail(key, f"{value!r} is outside the valid range [{lo:g}, {hi:g}] {unit}")
        return number

    def params(self, data: Any, key: str, spec: dict[str, tuple[str, float, float]],
               cls: type, **extra: float) -> Any:
        data = self.mapping(data, key)
        self.only(data, key, list(spec))
        values = {name: self.quantity(v, f"{key}.{name}", *spec[name])
                  for name, v in data.items()}
        return cls(**{**extra, **values})

    def overrides(self, data: Any, key: str, spec: dict[str, tuple[str, float, float]],
                  base: Any) -> Any:
        """``base`` (a physics dataclass) with the quantities of mapping ``data`` replaced."""
        data = self.mapping(data, key)
        self.only(data, key, list(spec))
        return dataclasses.replace(base, **{name: self.quantity(v, f"{key}.{name}", *spec[name])
                                            for name, v in data.items()})

    def name_ref(self, value: Any, key: str, targets: dict[str, Any], kinds: tuple[str, ...]
                 ) -> str:
        valid = [n for n, d in targets.items() if getattr(d, "kind", d) in kinds]
        if value not in valid:
            raise self.fail(key, f"{value!r} is not a device or terminal of kind "
                                 f"{'/'.join(kinds)}; "
                                 f"valid: {', '.join(valid) or 'none defined'}")
        return value


def parse_simulation(section: Any, addresses: dict[str, str], file: str | None = None
                     ) -> SimulationConfig:
    """Validate a ``labrf.simulation`` mapping; ``addresses`` maps instrument names to the
    VISA addresses of the station's ``instruments:`` section."""
    from labrf.sim.models import MODELS, emulator_class

    r = _Reader(file)
    root = "labrf.simulation"
    data = r.mapping(section, root)
    r.only(data, root, ["seed", "line_frequency", "noise", "variability", "devices",
                        "instruments"])
    seed = data.get("seed", 0)
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise r.fail(f"{root}.seed", f"must be a non-negative integer, got {seed!r}")
    line = r.quantity(data.get("line_frequency", 50.0), f"{root}.line_frequency", "Hz", 0, 100)
    if line not in (50.0, 60.0):
        raise r.fail(f"{root}.line_frequency", f"must be 50 Hz or 60 Hz, got {line:g} Hz")
    noise = data.get("noise", True)
    if not isinstance(noise, bool):
        raise r.fail(f"{root}.noise", f"must be true or false, got {noise!r}")
    variability = r.quantity(data.get("variability", 0.0), f"{root}.variability", "ratio",
                             0.0, 0.2)

    raw_devices = r.mapping(data.get("devices"), f"{root}.devices")
    kinds: dict[str, str] = {}
    for name, dev in raw_devices.items():
        dev = r.mapping(dev, f"{root}.devices.{name}")
        kind = dev.get("kind")
        if kind not in DEVICE_KINDS:
            raise r.fail(f"{root}.devices.{name}.kind",
                         f"{kind!r} is not a device kind; valid: {', '.join(DEVICE_KINDS)}")
        kinds[name] = kind
    raw_instruments = r.mapping(data.get("instruments"), f"{root}.instruments")
    for name, inst in raw_instruments.items():
        if isinstance(inst, dict) and inst.get("model") in SWITCH_MODELS and "chip" in inst:
            for row in range(1, SWITCH_MODELS[inst["model"]][0] + 1):
                kinds[f"{name}.row{row}"] = "route"
    for name, kind in list(kinds.items()):
        if kind == "layered_network":
            for terminal, terminal_kind in LAYERED_TERMINALS.items():
                kinds[f"{name}.{terminal}"] = terminal_kind
        if kind == "network":
            for terminal, terminal_kind in NETWORK_TERMINALS.items():
                if f"{name}.{terminal}" in kinds:
                    raise r.fail(f"{root}.devices.{name}.{terminal}",
                                 f"a device is named '{name}.{terminal}', which is a terminal "
                                 f"of network '{name}'; rename it")
                kinds[f"{name}.{terminal}"] = terminal_kind
    devices: dict[str, DeviceConfig] = {}
    for name, dev in raw_devices.items():
        key = f"{root}.devices.{name}"
        if kinds[name] == "mtj":
            r.only(dev, key, ["kind", "field_from", "spin_diode", "oscillator", "junction"])
            osc = r.params(dev.get("oscillator"), f"{key}.oscillator", _OSCILLATOR,
                           OscillatorParams)
            diode = r.params(dev.get("spin_diode"), f"{key}.spin_diode", _SPIN_DIODE,
                             SpinDiodeParams, threshold_current=osc.threshold_current)
            junction = r.params(dev.get("junction"), f"{key}.junction", _JUNCTION,
                                JunctionParams)
            coil = dev.get("field_from")
            if coil is not None:
                coil = r.name_ref(coil, f"{key}.field_from", kinds, ("coil",))
            devices[name] = MtjConfig(name, diode, osc, junction, coil)
        elif kinds[name] == "chip":
            devices.update(_chip(r, name, dev, key, kinds))
        elif kinds[name] == "amplifier":
            r.only(dev, key, ["kind", "input", *_AMPLIFIER])
            source = r.name_ref(dev.get("input"), f"{key}.input", kinds,
                                ("mtj", "neuron", "route", "chip_output",
                                 "chip_monitor"))
            values = {k: r.quantity(dev[k], f"{key}.{k}", *_AMPLIFIER[k])
                      for k in _AMPLIFIER if k in dev}
            devices[name] = AmplifierConfig(name, source, **values)
        elif kinds[name] == "network":
            devices[name] = _network(r, name, dev, key)
        elif kinds[name] == "layered_network":
            devices[name] = _layered(r, name, dev, key)
        else:
            r.only(dev, key, ["kind", *_COIL])
            devices[name] = CoilConfig(name, r.params(
                {k: v for k, v in dev.items() if k != "kind"}, key, _COIL, CoilParams))

    instruments: dict[str, InstrumentConfig] = {}
    for name, inst in raw_instruments.items():
        key = f"{root}.instruments.{name}"
        inst = r.mapping(inst, key)
        model = inst.get("model")
        if model not in MODELS:
            raise r.fail(f"{key}.model", f"{model!r} is not an emulated model; valid: "
                                         f"{', '.join(sorted(MODELS))}")
        ports = emulator_class(model).ports
        r.only(inst, key, ["model", "address", "terminator", *ports])
        address = inst.get("address", addresses.get(name))
        if not isinstance(address, str) or not address.strip():
            raise r.fail(f"instruments.{name}.address",
                         "missing: a simulated instrument needs a VISA address "
                         "(e.g. GPIB0::7::INSTR) in the station's instruments section")
        wiring = {port: r.name_ref(inst[port], f"{key}.{port}", kinds, accepted)
                  for port, accepted in ports.items() if port in inst}
        terminator = inst.get("terminator")
        if terminator is not None and terminator not in TERMINATIONS:
            raise r.fail(f"{key}.terminator", f"{terminator!r} is not one of "
                         + ", ".join(f"{t!r} ({n})" for t, n in TERMINATIONS.items()))
        instruments[name] = InstrumentConfig(name, model, address.strip(), wiring, terminator)
    for name, dev in devices.items():
        if isinstance(dev, NetworkConfig):
            sources = [inst.name for inst in instruments.values()
                       if f"{name}.input" in inst.wiring.values()]
            probes = [inst.name for inst in instruments.values()
                      if f"{name}.probe" in inst.wiring.values()]
            if len(probes) > 1:
                raise r.fail(f"{root}.instruments.{probes[-1]}.output",
                             f"{name}.probe takes one RF source; it already has {probes[0]}")
            if len(sources) > NETWORK_INPUTS:
                port = next(p for p, v in instruments[sources[-1]].wiring.items()
                            if v == f"{name}.input")
                raise r.fail(f"{root}.instruments.{sources[-1]}.{port}",
                             f"a network takes {NETWORK_INPUTS} RF inputs; {name}.input "
                             f"already has {', '.join(sources[:NETWORK_INPUTS])}")
    for name, dev in devices.items():
        if isinstance(dev, LayeredConfig):
            for terminal in ("input", "knobs"):
                wired = [(inst.name, port) for inst in instruments.values()
                         for port, target in inst.wiring.items()
                         if target == f"{name}.{terminal}"]
                if len(wired) > 1:
                    raise r.fail(f"{root}.instruments.{wired[1][0]}.{wired[1][1]}",
                                 f"{name}.{terminal} takes one instrument; it already has "
                                 f"{wired[0][0]}")
    seen: dict[str, str] = {}
    for inst in instruments.values():
        canonical = inst.address.upper()
        if canonical in seen:
            raise r.fail(f"instruments.{inst.name}.address",
                         f"{inst.address} is already used by '{seen[canonical]}'")
        seen[canonical] = inst.name
    routes: dict[str, tuple[str, ...]] = {}
    for inst in instruments.values():
        if inst.model in SWITCH_MODELS and "chip" in inst.wiring:
            rows, columns = SWITCH_MODELS[inst.model]
            chip = inst.wiring["chip"]
            members = tuple(n for n, d in devices.items()
                            if isinstance(d, MtjConfig) and n.startswith(f"{chip}.J"))
            if len(members) > columns:
                raise r.fail(f"{root}.instruments.{inst.name}.chip",
                             f"chip '{chip}' has {len(members)} devices; the "
                             f"{inst.model}'s card has {columns} columns")
            for row in range(1, rows + 1):
                routes[f"{inst.name}.row{row}"] = members
    return SimulationConfig(int(seed), line, noise, variability, devices, instruments, file,
                            routes)


def _chip(r: _Reader, name: str, dev: dict[str, Any], key: str, kinds: dict[str, str]
          ) -> dict[str, MtjConfig]:
    """A chip: ``rows`` x ``columns`` junctions from one template, named ``<chip>.J<r><c>``
    in row-major order (the switch's columns 1, 2, ...), some of them ``shorted`` or
    ``open``."""
    r.only(dev, key, ["kind", "rows", "columns", "field_from", "spin_diode", "oscillator",
                      "junction", *FAULTS])
    size = {}
    for axis in ("rows", "columns"):
        value = dev.get(axis)
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 9:
            raise r.fail(f"{key}.{axis}", f"must be an integer from 1 to 9, got {value!r}")
        size[axis] = value
    labels = [f"J{i}{j}" for i in range(1, size["rows"] + 1)
              for j in range(1, size["columns"] + 1)]
    faults: dict[str, str] = {}
    for fault in FAULTS:
        listed = dev.get(fault) or []
        if not isinstance(listed, list):
            raise r.fail(f"{key}.{fault}", "must be a list of device labels, e.g. [J23]")
        for label in listed:
            if label not in labels:
                raise r.fail(f"{key}.{fault}", f"{label!r} is not a device of this chip; "
                                               f"its devices: {labels[0]} to {labels[-1]}")
            if label in faults:
                raise r.fail(f"{key}.{fault}", f"{label} is already {faults[label]}")
            faults[label] = fault
    osc = r.params(dev.get("oscillator") or {}, f"{key}.oscillator", _OSCILLATOR,
                   OscillatorParams)
    diode = r.params(dev.get("spin_diode") or {}, f"{key}.spin_diode", _SPIN_DIODE,
                     SpinDiodeParams, threshold_current=osc.threshold_current)
    junction = r.params(dev.get("junction") or {}, f"{key}.junction", _JUNCTION,
                        JunctionParams)
    coil = dev.get("field_from")
    if coil is not None:
        coil = r.name_ref(coil, f"{key}.field_from", kinds, ("coil",))
    return {f"{name}.{label}": MtjConfig(f"{name}.{label}", diode, osc, junction, coil,
                                         fault=faults.get(label)) for label in labels}


def _network(r: _Reader, name: str, dev: dict[str, Any], key: str) -> NetworkConfig:
    """A network device: ``nominal_network`` with the configured devices and wiring."""
    r.only(dev, key, ["kind", *_NETWORK, "synapses", "neurons"])
    base = nominal_network()
    synapses = dict(zip(SYNAPSE_NAMES, base.synapses, strict=True))
    neurons = dict(zip(NEURON_NAMES, base.neurons, strict=True))
    for group, params, spec in (("synapses", synapses, _SPIN_DIODE),
                                ("neurons", neurons, _OSCILLATOR)):
        given = r.mapping(dev.get(group), f"{key}.{group}")
        r.only(given, f"{key}.{group}", list(params))
        for junction, values in given.items():
            params[junction] = r.overrides(values, f"{key}.{group}.{junction}", spec,
                                           params[junction])
    values = {k: r.quantity(dev[k], f"{key}.{k}", *_NETWORK[k]) for k in _NETWORK if k in dev}
    wiring = {k: values.pop(k) for k in ("line_resistance", "line_rating", "bias_resistance",
                                         "monitor_coupling", "path_imbalance") if k in values}
    if "rf_gain" in values:
        values["rf_gain"] = float(db_to_ratio(values["rf_gain"]))
    syn = tuple(synapses.values())
    network = dataclasses.replace(base, hidden_synapses=syn[:4], output_synapses=syn[4:],
                                  hidden_neurons=(neurons["N1"], neurons["N2"]),
                                  output_neuron=neurons["NO"], **values)
    return NetworkConfig(name, network, **wiring)


def _layered(r: _Reader, name: str, dev: dict[str, Any], key: str) -> LayeredConfig:
    """A chip of any size: designed from ``layers`` (``design_network``) or read from a
    ``network`` file (relative to the station file)."""
    r.only(dev, key, ["kind", "layers", "synapses_per_input", "network", "path_imbalance",
                      "monitor_coupling"])
    try:
        network, _ = chip_design({k: v for k, v in dev.items() if k in CHIP_KEYS},
                                 Path(r.file).parent if r.file else None)
    except ChipSpecError as exc:
        raise r.fail(f"{key}.{exc.key}", str(exc)) from None
    imbalance = r.quantity(dev.get("path_imbalance", 0.0), f"{key}.path_imbalance", "dB",
                           0.0, 10.0)
    monitor = r.quantity(dev.get("monitor_coupling", -20.0), f"{key}.monitor_coupling",
                         "dB", -100.0, 0.0)
    return LayeredConfig(name, network, imbalance, monitor)


class _UniqueKeyLoader(yaml.SafeLoader):
    """A safe YAML loader that refuses a key given twice in one mapping (plain YAML keeps
    the last one silently, which would drop an instrument or a setting)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"key '{key}' appears twice in one mapping", key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def read_yaml(path: str | Path) -> dict[str, Any]:
    """A station file (a path, or a shipped file's name) as a mapping; ConfigError names
    the file on any YAML problem."""
    path = station_path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read the station file: {exc.strerror}", file=str(path)) \
            from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"not a YAML text file (UTF-8): byte {exc.start} is "
                          f"{exc.object[exc.start:exc.start + 1]!r}", file=str(path)) from None
    try:
        data = yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 (a SafeLoader)
    except yaml.YAMLError as exc:
        raise ConfigError(f"not valid YAML: {exc}", file=str(path)) from None
    if not isinstance(data, dict):
        raise ConfigError("must be a mapping with an 'instruments' section", file=str(path))
    return data


def simulation_from_station(data: dict[str, Any], file: str | None = None) -> SimulationConfig:
    """The simulation section of a station mapping; ConfigError if it has none."""
    r = _Reader(file)
    instruments = r.mapping(data.get("instruments"), "instruments")
    addresses = {}
    for name, entry in instruments.items():
        entry = r.mapping(entry, f"instruments.{name}")
        if "address" in entry:
            addresses[name] = entry["address"]
    labrf = r.mapping(data.get("labrf"), "labrf")
    if "simulation" not in labrf:
        raise r.fail("labrf.simulation", "missing: this station file describes no simulated "
                                         "bench")
    return parse_simulation(labrf["simulation"], addresses, file)


def load_simulation(path: str | Path) -> SimulationConfig:
    """Read and validate the simulation section of a station file."""
    path = station_path(path)
    return simulation_from_station(read_yaml(path), str(path))


def describe_params(params: Any) -> dict[str, float]:
    """A physics dataclass as a plain dict of SI floats."""
    return {f.name: float(getattr(params, f.name)) for f in dataclasses.fields(params)}
