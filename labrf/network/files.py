"""Network files: a ``LayeredNetwork`` (architecture, devices, wiring), its knobs and free
metadata (the run that made it, the task, the input power scale) in one JSON file.

Format ``labrf-network`` version 1: ``{"format", "version", "network": {...}, "knobs":
[...] | null, "metadata": {...}}``, every array as nested lists in SI units; floats are
written exactly (a file read back gives the same network, bit for bit).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np

from labrf.errors import NetworkError
from labrf.network.layered import Layer, LayeredNetwork, Neurons, Synapses

FORMAT = "labrf-network"
VERSION = 1
_LAYER_ARRAYS = ("coupling", "saturation_power", "transconductance")
_SCALARS = ("drive_limit", "detection_power", "field")


@dataclass
class NetworkFile:
    """What a network file holds."""

    network: LayeredNetwork
    knobs: np.ndarray | None = None  #: (knob_count,) A, or None for a bare design
    metadata: dict[str, Any] = field(default_factory=dict)


def _layer_dict(layer: Layer) -> dict[str, Any]:
    out: dict[str, Any] = {
        "synapses": {f.name: getattr(layer.synapses, f.name).tolist()
                     for f in fields(Synapses)},
        "neurons": {f.name: getattr(layer.neurons, f.name).tolist() for f in fields(Neurons)},
    }
    out.update({name: getattr(layer, name).tolist() for name in _LAYER_ARRAYS})
    return out


def network_dict(network: LayeredNetwork) -> dict[str, Any]:
    """``network`` as JSON-ready data."""
    return {"input_frequencies": network.input_frequencies.tolist(),
            **{name: float(getattr(network, name)) for name in _SCALARS},
            "control_limits": list(network.control_limits),
            "bias_limits": list(network.bias_limits),
            "neuron_names": list(network.neuron_names),
            "synapse_names": list(network.synapse_names),
            "layers": [_layer_dict(layer) for layer in network.layers]}


def save_network(path: str | Path, network: LayeredNetwork, knobs: np.ndarray | None = None,
                 metadata: dict[str, Any] | None = None) -> Path:
    """Write ``network`` (and ``knobs``, A, and ``metadata``) to ``path``; returns it."""
    path = Path(path)
    if knobs is not None:
        knobs = np.asarray(knobs, dtype=float)
        network.split(knobs)
    doc = {"format": FORMAT, "version": VERSION, "network": network_dict(network),
           "knobs": None if knobs is None else knobs.tolist(), "metadata": metadata or {}}
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(json.dumps(doc, allow_nan=False))
        tmp.replace(path)
    except OSError as exc:
        raise NetworkError(f"cannot write network file {path}: {exc.strerror}") from None
    return path


def _get(doc: dict[str, Any], key: str, where: str) -> Any:
    if not isinstance(doc, dict) or key not in doc:
        raise NetworkError(f"{where}: missing key {key!r}")
    return doc[key]


def _layer(doc: dict[str, Any], where: str) -> Layer:
    syn = _get(doc, "synapses", where)
    neu = _get(doc, "neurons", where)
    return Layer(
        synapses=Synapses(**{f.name: _get(syn, f.name, f"{where}.synapses")
                             for f in fields(Synapses)}),
        neurons=Neurons(**{f.name: _get(neu, f.name, f"{where}.neurons")
                           for f in fields(Neurons)}),
        **{name: _get(doc, name, where) for name in _LAYER_ARRAYS})


def network_from_dict(doc: dict[str, Any], where: str = "network") -> LayeredNetwork:
    """A ``LayeredNetwork`` from ``network_dict``'s data; NetworkError names the key."""
    layers = _get(doc, "layers", where)
    if not isinstance(layers, list):
        raise NetworkError(f"{where}.layers must be a list of layers")
    try:
        return LayeredNetwork(
            input_frequencies=_get(doc, "input_frequencies", where),
            layers=tuple(_layer(layer, f"{where}.layers[{i}]")
                         for i, layer in enumerate(layers)),
            **{name: float(_get(doc, name, where)) for name in _SCALARS},
            control_limits=tuple(_get(doc, "control_limits", where)),
            bias_limits=tuple(_get(doc, "bias_limits", where)),
            neuron_names=tuple(doc.get("neuron_names", ())),
            synapse_names=tuple(doc.get("synapse_names", ())))
    except NetworkError as exc:
        raise NetworkError(f"{where}: {exc}") from None
    except (TypeError, ValueError) as exc:
        raise NetworkError(f"{where}: malformed value ({exc})") from None


def load_network(path: str | Path) -> NetworkFile:
    """Read a network file; NetworkError naming the file and key if it is not a
    version-1 ``labrf-network`` file or does not describe a valid network."""
    path = Path(path)
    try:
        doc = json.loads(path.read_text(), parse_constant=_no_constant)
    except FileNotFoundError:
        raise NetworkError(f"network file {path} not found") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, ValueError) as exc:
        raise NetworkError(f"network file {path} is not readable JSON: {exc}") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise NetworkError(f"{path}: key 'format' must be {FORMAT!r}, got "
                           f"{doc.get('format') if isinstance(doc, dict) else doc!r}")
    if doc.get("version") != VERSION:
        raise NetworkError(f"{path}: key 'version' is {doc.get('version')!r}; this labrf "
                           f"reads version {VERSION} network files")
    network = network_from_dict(_get(doc, "network", str(path)), f"{path}: network")
    knobs = doc.get("knobs")
    if knobs is not None:
        try:
            knobs = np.asarray(knobs, dtype=float)
            network.split(knobs)
        except (NetworkError, TypeError, ValueError) as exc:
            raise NetworkError(f"{path}: key 'knobs': {exc}") from None
        lower, upper = network.knob_bounds()
        bad = np.flatnonzero((knobs < lower) | (knobs > upper) | ~np.isfinite(knobs))
        if bad.size:
            label = network.knob_labels()[bad[0]]
            raise NetworkError(f"{path}: key 'knobs': {label} = {knobs[bad[0]]} A is outside "
                               f"[{lower[bad[0]]}, {upper[bad[0]]}] A")
    metadata = doc.get("metadata") or {}
    if not isinstance(metadata, dict):
        raise NetworkError(f"{path}: key 'metadata' must be a mapping")
    return NetworkFile(network, knobs, metadata)


def _no_constant(name: str) -> float:
    raise ValueError(f"{name} is not a valid number in a network file")



#: Keys of a chip's description in a station file: its sizes, or a network file.
CHIP_KEYS = ("layers", "synapses_per_input", "network")


def chip_design(spec: dict[str, Any], base: Path | None = None) -> tuple[LayeredNetwork, str]:
    """A chip described by ``spec``: ``layers`` (inputs, then neurons per layer, laid out
    by ``design_network`` with ``synapses_per_input``) or ``network`` (a network file,
    relative to ``base``). NetworkError otherwise; with it, the key at fault."""
    from labrf.network.design import design_network

    if ("layers" in spec) == ("network" in spec):
        return _fail("layers", "give either layers (e.g. [64, 16, 10]: inputs, then "
                               "neurons per layer) or network (a network file)")
    if "network" in spec:
        path = Path(str(spec["network"]))
        if not path.is_absolute() and base is not None:
            path = base / path
        try:
            return load_network(path).network, "network"
        except NetworkError as exc:
            return _fail("network", str(exc))
    layers = spec["layers"]
    if not isinstance(layers, list) or any(isinstance(n, bool) or not isinstance(n, int)
                                           for n in layers):
        return _fail("layers", f"{layers!r} is not a list of whole numbers, e.g. "
                               "[64, 16, 10]")
    per_input = spec.get("synapses_per_input", 1)
    if isinstance(per_input, bool) or not isinstance(per_input, int) or \
            not 1 <= per_input <= 8:
        return _fail("synapses_per_input", f"must be an integer from 1 to 8, got "
                                           f"{per_input!r}")
    try:
        return design_network(layers, synapses_per_input=per_input), "layers"
    except NetworkError as exc:
        return _fail("layers", str(exc))


class ChipSpecError(NetworkError):
    """A chip description at fault; ``key`` names the key."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(message)
        self.key = key


def _fail(key: str, message: str) -> Any:
    raise ChipSpecError(key, message)
