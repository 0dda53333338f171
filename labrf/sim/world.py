"""The simulated world: devices, wiring, field, clock and random streams, shared by every
emulated instrument.

Sources push what they output (``drive_rf``, ``drive_dc``, ``drive_coil``) the moment it
changes, so a junction breaks down at the instant a limit is crossed. Meters pull what
they read (``junction_reading``, ``spectrum``, ``coil_reading``, ``field_at_probe``) at
their own instrument time. All quantities are SI; all randomness comes from
``rng(component)``, a stable child stream of the world's seed per component name.

A ``network`` device is the nine-junction chip of ``labrf.network``, evaluated by the
general model as its 2-2-1 instance (``labrf.network.forward``): its
knobs are the currents the DC sources drive through its control lines and neuron bias
inputs, its inputs the RF sources wired to its ``input``, and its meters read chain
voltages and neuron emission.
"""

from __future__ import annotations

import math
import zlib
from collections import deque
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from labrf.clock import Clock, VirtualClock
from labrf.errors import SimulationError
from labrf.network import (
    NEURON_NAMES,
    SYNAPSE_NAMES,
    Activations,
    Knobs,
    Network,
    imbalanced_paths,
    layered_pass,
    predict,
    varied_network,
)
from labrf.network.design import perturbed
from labrf.network.forward import forward as network_forward
from labrf.network.layered import LayeredNetwork
from labrf.physics import coil as coil_model
from labrf.physics import junction as junction_model
from labrf.physics import oscillator as osc_model
from labrf.physics import spin_diode as diode_model
from labrf.physics.hysteresis import play
from labrf.sim.config import (
    LAYERED_TERMINALS,
    NETWORK_INPUTS,
    NETWORK_TERMINALS,
    AmplifierConfig,
    CoilConfig,
    LayeredConfig,
    MtjConfig,
    NetworkConfig,
    SimulationConfig,
    describe_params,
)
from labrf.units import db_to_ratio

BOLTZMANN = 1.380649e-23  #: J/K
T0 = 290.0  #: reference noise temperature, K


@dataclass(frozen=True)
class DcReading:
    """What a DC instrument sees at its junction."""

    voltage: float  #: V across the junction
    current: float  #: A through it
    in_compliance: bool = False  #: the reading instrument's compliance limits the output


@dataclass(frozen=True)
class CoilReading:
    """What a coil supply measures at its output."""

    current: float  #: A in the coil
    voltage: float  #: V across it


@dataclass(frozen=True)
class RfOutput:
    """What an RF source outputs now."""

    frequency: float  #: Hz
    power: float  #: W at the source's output connector, 0 when off
    since: float  #: instrument time (s) of the last change


@dataclass(frozen=True)
class Drive:
    """One change an instrument made to what reaches the devices (see World.drives)."""

    time: float  #: instrument time, s
    instrument: str
    kind: str  #: "rf", "dc" or "coil"
    on: bool
    mode: str  #: "cw" or "multitone" (rf), "current", "voltage" or "multichannel" (dc)
    #: W (rf; multitone: all tones), A or V (dc; multichannel: the largest |I|); the
    #: coil's target current in A
    level: float
    #: the dc source's compliance (V or A), the coil supply's limit; rf: Hz; multitone:
    #: the number of tones; multichannel: the channels driving a current
    limit: float


OPEN_RESISTANCE = 1e12  #: ohm, an open device of a chip (a broken bond or contact)
DRIVE_LOG_LENGTH = 100_000  #: drives kept in World.drives (the oldest are dropped)


@dataclass(frozen=True)
class _DcDrive:
    on: bool = False
    mode: str = "current"
    level: float = 0.0
    compliance: float = math.inf


class _CoilState:
    """An electromagnet: the current relaxes to its target with the L/R constant."""

    def __init__(self, config: CoilConfig, t: float) -> None:
        self.params = config.params
        self.t0 = t
        self.i0 = 0.0
        self.target = 0.0
        self.h0 = 0.0  # remanence play state at t0, A

    def current(self, t: float) -> float:
        return float(coil_model.current_after(self.params, self.i0, self.target, t - self.t0))

    def field(self, t: float) -> float:
        i = self.current(t)
        state = play(self.h0, i, self.params.hysteresis_width)
        return float(coil_model.field(self.params, i, state))

    def voltage(self, t: float) -> float:
        i = self.current(t)
        didt = (self.target - i) / self.params.time_constant
        return float(coil_model.voltage(self.params, i, didt))

    def retarget(self, t: float, target: float) -> None:
        i = self.current(t)
        self.h0 = float(play(self.h0, i, self.params.hysteresis_width))
        self.i0, self.t0, self.target = i, t, target


class _JunctionState:
    """A junction's mutable state: free-layer play state and whether it is broken."""

    def __init__(self, config: MtjConfig) -> None:
        self.config = config
        self.free_layer = config.junction.switching_field  # start saturated parallel
        self.broken = False
        self.broken_at: float | None = None


@dataclass(frozen=True)
class NetworkPass:
    """One evaluation of a network device: what its sources drive and what it does."""

    knobs: Knobs  #: control-line and bias currents, A
    input_frequencies: tuple[float, float]  #: f1, f2 of the RF inputs, Hz
    inputs: np.ndarray  #: (1, 2) RF powers at the chip, W
    activations: Activations  #: the forward pass, one example


class _NetworkState:
    """A network chip (varied if the world has variability), its RF sources and its last
    forward pass, kept until a drive changes.

    Neurons need no breakdown model: each drive stage clamps its output current at
    ``drive_limit`` (inside ``labrf.network.layered_pass``), which keeps them below
    breakdown whatever the knobs and inputs.
    """

    def __init__(self, config: NetworkConfig, network: Network, rf_sources: list[str],
                 probe: str | None = None) -> None:
        self.config = config
        self.network = network
        self.rf_sources = rf_sources
        self.probe = probe  #: the RF source on the combiner's probe port, if any
        self.burned: set[str] = set()  #: field lines driven beyond their rating: open
        self.version = -1
        self.last: NetworkPass | None = None


@dataclass(frozen=True)
class LayeredPass:
    """One evaluation of a layered-network chip: what drives it and what it does."""

    knobs: np.ndarray  #: (knob_count,) A, from the knob bank's channels 1, 2, ...
    frequencies: np.ndarray  #: (N_0,) Hz, the input tones
    powers: np.ndarray  #: (N_0,) W at the chip, 0 where no tone plays
    activations: list[layered_pass.LayerActivations]  #: every layer, one example


class _LayeredState:
    """A layered-network chip (its design made with the world's variability and the
    device's path imbalance, from the world's seed), its last pass kept until a drive
    changes. Its drive stages clamp every neuron current at ``drive_limit``."""

    def __init__(self, config: LayeredConfig, chip: LayeredNetwork) -> None:
        self.config = config
        self.chip = chip
        self.version = -1
        self.last: LayeredPass | None = None
        self.network = chip  #: with the input frequencies last played
        self.plan: layered_pass.Plan | None = None  #: its lines at the knobs last driven
        self.plan_key: tuple[bytes, bytes] | None = None


class World:
    """Devices, wiring and time of one simulated bench."""

    def __init__(self, config: SimulationConfig, clock: Clock | None = None) -> None:
        self.config = config
        self.clock: Any = clock if clock is not None else VirtualClock()
        self.seed = config.seed
        self.noise_enabled = config.noise
        self.line_frequency = config.line_frequency
        self.events: list[tuple[float, str]] = []
        t = self.clock.now()
        self.junctions: dict[str, _JunctionState] = {}
        self.coils: dict[str, _CoilState] = {}
        self.amplifiers: dict[str, AmplifierConfig] = {}
        self.networks: dict[str, _NetworkState] = {}
        self.layered: dict[str, _LayeredState] = {}
        self.wiring = {name: inst.wiring for name, inst in config.instruments.items()}
        for name, dev in config.devices.items():
            if isinstance(dev, MtjConfig):
                self.junctions[name] = _JunctionState(self._vary(dev))
            elif isinstance(dev, CoilConfig):
                self.coils[name] = _CoilState(dev, t)
            elif isinstance(dev, NetworkConfig):
                self.networks[name] = self._network_state(dev)
            elif isinstance(dev, LayeredConfig):
                self.layered[name] = self._layered_state(dev)
            else:
                self.amplifiers[name] = dev
        #: wiring target -> (network, terminal) for every network terminal
        self._terminals = {f"{name}.{terminal}": (name, terminal)
                           for name in self.networks for terminal in NETWORK_TERMINALS}
        self.routes = config.routes
        self._closed: dict[str, frozenset[str]] = {}  #: a switch's closed channels
        self._version = 0  #: bumped by every drive; a network's last pass is kept till then
        self._rf: dict[str, RfOutput] = {}
        self._dc: dict[str, _DcDrive] = {}
        self._coil_drive: dict[str, float] = {}
        self._tones: dict[str, tuple[np.ndarray, np.ndarray]] = {}  #: (Hz, W) per source
        self._channels: dict[str, np.ndarray] = {}  #: A per channel of a knob bank
        #: Every drive an emulator pushed, in order: what the devices were subjected to.
        self.drives: deque[Drive] = deque(maxlen=DRIVE_LOG_LENGTH)

    # ------------------------------------------------------------------ set-up

    def rng(self, component: str) -> np.random.Generator:
        """The seeded random stream of ``component``: the same name and seed always give
        the same stream, whatever other components exist."""
        return np.random.default_rng([self.seed, zlib.crc32(component.encode())])

    def _vary(self, dev: MtjConfig) -> MtjConfig:
        """Device-to-device variability: relative Gaussian spread of the resonance,
        sensitivities, emission frequency and power, threshold and resistance."""
        sigma = self.config.variability
        if sigma == 0:
            return dev
        g = self.rng(f"{dev.name}/variability")

        def f() -> float:
            return float(1.0 + sigma * g.standard_normal())

        osc = replace(dev.oscillator, frequency=dev.oscillator.frequency * f(),
                      threshold_current=dev.oscillator.threshold_current * f(),
                      power_at_2ith=dev.oscillator.power_at_2ith * f())
        diode = replace(dev.spin_diode, resonance=dev.spin_diode.resonance * f(),
                        antisymmetric=dev.spin_diode.antisymmetric * f(),
                        symmetric=dev.spin_diode.symmetric * f(),
                        threshold_current=osc.threshold_current)
        junction = replace(dev.junction, resistance=dev.junction.resistance * f())
        return replace(dev, spin_diode=diode, oscillator=osc, junction=junction)

    def _network_state(self, dev: NetworkConfig) -> _NetworkState:
        """A network's state: its chip varied with the world's variability and its RF paths
        with the device's ``path_imbalance`` (the same seed gives the same chip), the RF
        sources on its input in instrument order."""
        sources = [inst for inst, ports in self.wiring.items()
                   if f"{dev.name}.input" in ports.values()]
        if len(sources) > NETWORK_INPUTS:
            raise SimulationError(f"a network takes {NETWORK_INPUTS} RF inputs; "
                                  f"{dev.name}.input has {', '.join(sources)}")
        sigma = self.config.variability
        network = dev.network if sigma == 0 else varied_network(
            dev.network, self.rng(f"{dev.name}/variability"), sigma)
        if dev.path_imbalance > 0:
            network = imbalanced_paths(network, self.rng(f"{dev.name}/paths"),
                                       dev.path_imbalance)
        probes = [inst for inst, ports in self.wiring.items()
                  if f"{dev.name}.probe" in ports.values()]
        for k, syn in zip(SYNAPSE_NAMES, network.synapses, strict=True):
            lowest = syn.resonance - abs(syn.current_tuning) * dev.line_rating
            if lowest <= 0:
                raise SimulationError(
                    f"labrf.simulation.devices.{dev.name}.line_rating: "
                    f"{dev.line_rating * 1e3:g} mA through {k}'s field line would move "
                    f"its resonance to {lowest / 1e6:.1f} MHz; "
                    f"a rating below {syn.resonance / abs(syn.current_tuning) * 1e3:.1f} mA "
                    "keeps it above 0 Hz")
        return _NetworkState(dev, replace(network, field=0.0), sources,
                             probes[0] if probes else None)

    def _layered_state(self, dev: LayeredConfig) -> _LayeredState:
        """A layered chip: its design with the world's variability (every junction) and
        the device's path imbalance (every RF path), drawn from the world's seed."""
        seed = int(self.rng(f"{dev.name}/chip").integers(2**31))
        return _LayeredState(dev, perturbed(dev.network, self.config.variability,
                                            dev.path_imbalance, seed))

    def _port(self, instrument: str, port: str) -> str:
        try:
            return self.wiring[instrument][port]
        except KeyError:
            raise SimulationError(
                f"instrument '{instrument}' has no '{port}' connection in the simulation "
                f"section; its wiring: {self.wiring.get(instrument, {})}") from None

    # ------------------------------------------------------------------ routing

    def route(self, switch: str, closed: frozenset[str], t: float) -> None:
        """Switch ``switch`` now has ``closed`` channels (``SRCC``); the devices its rows
        reach change at once (what flows through them is checked at ``t``)."""
        self._closed[switch] = closed
        self._version += 1
        if any(route.startswith(f"{switch}.row") for route in self.routes):
            self._settle_magnetics(t)
            self._check_breakdown(t)

    def _resolve(self, target: str | None) -> str | None:
        """The device a wiring target reaches: itself, or through a switch row the
        device of the first closed column on that row (None when none is closed)."""
        if target not in self.routes:
            return target
        switch, _, row = target.rpartition(".row")
        closed = self._closed.get(switch, frozenset())
        for column, device in enumerate(self.routes[target], start=1):
            if f"1{row}{column:02d}" in closed:
                return device
        return None

    def _floating(self, instrument: str) -> bool:
        """Whether ``instrument`` is wired through a switch row that reaches nothing."""
        ports = self.wiring.get(instrument, {})
        return any(ports.get(p) in self.routes and self._resolve(ports[p]) is None
                   for p in ("input", "output"))

    def _junction_of(self, instrument: str) -> _JunctionState:
        ports = self.wiring.get(instrument, {})
        for port in ("input", "output"):
            target = self._resolve(ports.get(port))
            if target in self.junctions:
                return self.junctions[target]
        raise SimulationError(f"instrument '{instrument}' is not wired to a junction; "
                              f"its wiring: {ports}")

    # ------------------------------------------------------------------ sources

    def drive_rf(self, instrument: str, t: float, frequency: float, power: float) -> None:
        """An RF source now outputs ``power`` W at ``frequency`` Hz (0 W when off)."""
        self._rf[instrument] = RfOutput(float(frequency), max(float(power), 0.0), t)
        self._version += 1
        self.drives.append(Drive(t, instrument, "rf", power > 0, "cw", max(float(power), 0.0),
                                 float(frequency)))
        self._check_breakdown(t)

    def rf_output(self, instrument: str) -> RfOutput:
        """What RF source ``instrument`` last pushed (sources push at power-on)."""
        try:
            return self._rf[instrument]
        except KeyError:
            raise SimulationError(f"'{instrument}' has pushed no RF output; RF sources: "
                                  f"{', '.join(self._rf) or 'none'}") from None

    def drive_dc(self, instrument: str, t: float, *, on: bool, mode: str = "current",
                 level: float = 0.0, compliance: float = math.inf) -> None:
        """A DC source now drives its junction: ``mode`` "current" (``level`` A,
        ``compliance`` V) or "voltage" (``level`` V, ``compliance`` A)."""
        if mode not in ("current", "voltage"):
            raise SimulationError(f"drive mode '{mode}' is not 'current' or 'voltage'")
        self._dc[instrument] = _DcDrive(bool(on), mode, float(level), abs(float(compliance)))
        self._version += 1
        self.drives.append(Drive(t, instrument, "dc", bool(on), mode, float(level),
                                 abs(float(compliance))))
        self._check_field_line(instrument, t)
        self._check_breakdown(t)

    def drive_tones(self, instrument: str, t: float, frequencies: np.ndarray,
                    powers: np.ndarray) -> None:
        """A multitone source now outputs ``powers`` W at ``frequencies`` Hz (none: off)."""
        f = np.asarray(frequencies, dtype=float).copy()
        p = np.maximum(np.asarray(powers, dtype=float), 0.0)
        self._tones[instrument] = (f, p)
        self._version += 1
        self.drives.append(Drive(t, instrument, "rf", bool(p.size and p.sum() > 0),
                                 "multitone", float(p.sum()), float(f.size)))

    def drive_channels(self, instrument: str, t: float, currents: np.ndarray) -> None:
        """A multichannel current source now drives ``currents`` A out of its channels."""
        amps = np.asarray(currents, dtype=float).copy()
        self._channels[instrument] = amps
        self._version += 1
        peak = float(np.max(np.abs(amps))) if amps.size else 0.0
        self.drives.append(Drive(t, instrument, "dc", peak > 0, "multichannel", peak,
                                 float(np.count_nonzero(amps))))

    def drive_coil(self, instrument: str, t: float, *, on: bool, mode: str = "current",
                   level: float = 0.0, limit: float = math.inf) -> None:
        """A bipolar supply now drives its coil: ``mode`` "current" (``level`` A, voltage
        ``limit`` V) or "voltage" (``level`` V, current ``limit`` A)."""
        coil = self.coils[self._port(instrument, "output")]
        self._settle_magnetics(t)
        r = coil.params.resistance
        if not on:
            target = 0.0
        elif mode == "current":
            target = float(np.clip(level, -abs(limit) / r, abs(limit) / r))
        else:
            target = float(np.clip(level / r, -abs(limit), abs(limit)))
        coil.retarget(t, target)
        self.drives.append(Drive(t, instrument, "coil", bool(on), mode, target, abs(limit)))
        self._check_breakdown(t)

    # ------------------------------------------------------------------ state

    def _field_at(self, junction: _JunctionState, t: float) -> float:
        name = junction.config.field_from
        return self.coils[name].field(t) if name else 0.0

    def _settle_magnetics(self, t: float) -> None:
        """Carry each free layer's hysteresis state forward to time ``t``."""
        for j in self.junctions.values():
            j.free_layer = float(play(j.free_layer, self._field_at(j, t),
                                      j.config.junction.switching_field))

    def _resistance(self, j: _JunctionState, t: float) -> float:
        p = j.config.junction
        if j.broken or j.config.fault == "shorted":
            return p.shorted_resistance
        if j.config.fault == "open":
            return OPEN_RESISTANCE
        h = play(j.free_layer, self._field_at(j, t), p.switching_field)
        return float(junction_model.resistance(p, junction_model.free_layer(p, h)))

    def _rf_power_at(self, j: _JunctionState) -> list[tuple[float, float]]:
        return [(self._rf[inst].frequency, self._rf[inst].power)
                for inst, ports in self.wiring.items()
                if self._resolve(ports.get("output")) == j.config.name and inst in self._rf]

    def _dc_state(self, j: _JunctionState, r: float) -> tuple[float, float, set[str]]:
        """Current (A), ohmic voltage (V) and the instruments in compliance."""
        return self._dc_through(j.config.name, r)

    def _dc_through(self, target: str, r: float) -> tuple[float, float, set[str]]:
        """Current (A) the DC sources wired to ``target`` drive through its ``r`` ohm, the
        voltage across it (V) and the instruments in compliance."""
        drives = {inst: self._dc[inst] for inst, ports in self.wiring.items()
                  if self._resolve(ports.get("output")) == target and inst in self._dc
                  and self._dc[inst].on}
        limited: set[str] = set()
        voltage_sources = {k: d for k, d in drives.items() if d.mode == "voltage"}
        if voltage_sources:
            inst, d = next(iter(voltage_sources.items()))
            current = d.level / r
            if abs(current) > d.compliance:
                current = math.copysign(d.compliance, current)
                limited.add(inst)
            return current, current * r, limited
        current = sum(d.level for d in drives.values())
        for inst, d in drives.items():
            if abs(current * r) > d.compliance:
                current = math.copysign(d.compliance / r, current)
                limited.add(inst)
        return current, current * r, limited

    def _check_breakdown(self, t: float) -> None:
        for j in self.junctions.values():
            if j.broken or j.config.fault is not None:  # a short or an open bond: no
                continue  # barrier sees the drive
            r = self._resistance(j, t)
            current, _, _ = self._dc_state(j, r)
            rf = sum(p for _, p in self._rf_power_at(j))
            v_peak = float(junction_model.peak_voltage(r, current, rf))
            if v_peak > j.config.junction.breakdown_voltage:
                j.broken, j.broken_at = True, t
                self.events.append((t, f"junction '{j.config.name}' broke down: "
                                       f"{v_peak:.3f} V across it exceeds its breakdown "
                                       f"voltage {j.config.junction.breakdown_voltage:g} V"))

    def _check_field_line(self, instrument: str, t: float) -> None:
        """The network field line DC source ``instrument`` drives, if any, burns open when
        driven beyond ``line_rating`` (switches do not route network terminals)."""
        wired = self._terminal_of(instrument)
        if wired is None or NETWORK_TERMINALS[wired[1]] != "control_line":
            return
        name, terminal = wired
        state = self.networks[name]
        if terminal in state.burned:
            return
        rating = state.config.line_rating
        current = self._dc_through(f"{name}.{terminal}", state.config.line_resistance)[0]
        if abs(current) > rating:  # drive_dc has bumped the version: no pass is kept
            state.burned.add(terminal)
            self.events.append((t, f"field line {terminal} of network '{name}' burned open: "
                                   f"{current * 1e3:.3g} mA through it exceeds its rating "
                                   f"{rating * 1e3:g} mA"))

    # ------------------------------------------------------------------ meters

    def junction_reading(self, instrument: str, t: float) -> DcReading:
        """DC voltage across, and current through, the junction wired to ``instrument``:
        I R plus the rectified spin-diode voltage of every RF tone reaching it.

        On a network terminal: a chain's DC voltage (no current: read at high impedance);
        the current through a control line or into a neuron's bias input, and the voltage
        across its resistance."""
        self._check_breakdown(t)
        terminal = self._terminal_of(instrument)
        if terminal is not None:
            return self._terminal_reading(instrument, *terminal)
        if self._floating(instrument):  # an open circuit: a driving source in compliance
            drive = self._dc.get(instrument)
            return DcReading(0.0, 0.0, drive is not None and drive.on and drive.level != 0)
        j = self._junction_of(instrument)
        r = self._resistance(j, t)
        current, voltage, limited = self._dc_state(j, r)
        tones = self._rf_power_at(j)
        if tones and not j.broken and j.config.fault is None:
            p = j.config.spin_diode
            field = self._field_at(j, t)
            freqs, powers = np.array(tones).T
            voltage += float(np.sum(diode_model.rectified_voltage(
                p, freqs, powers, field, current, total_power=powers.sum())))
        return DcReading(voltage, current, instrument in limited)

    def _terminal_of(self, instrument: str) -> tuple[str, str] | None:
        """(network, terminal) an instrument is wired to, or None."""
        ports = self.wiring.get(instrument, {})
        for port in ("input", "output"):
            if ports.get(port) in self._terminals:
                return self._terminals[ports[port]]
        return None

    def _terminal_reading(self, instrument: str, name: str, terminal: str) -> DcReading:
        """What ``instrument`` reads at ``terminal`` of network ``name`` (V, A)."""
        state = self.networks[name]
        kind = NETWORK_TERMINALS[terminal]
        if kind == "chain":
            voltages = self._evaluate(state).activations.chain_voltages
            return DcReading(float(voltages[0, "ABO".index(terminal)]), 0.0)
        if kind == "rf_input":
            raise SimulationError(f"instrument '{instrument}' is wired to the RF input of "
                                  f"network '{name}', which has no DC reading")
        r = self._terminal_resistance(state, terminal)
        current, voltage, limited = self._dc_through(f"{name}.{terminal}", r)
        return DcReading(voltage, current, instrument in limited)

    @staticmethod
    def _terminal_resistance(state: _NetworkState, terminal: str) -> float:
        """Resistance (ohm) a DC source sees at a control line or neuron bias input."""
        if NETWORK_TERMINALS[terminal] == "control_line":
            return OPEN_RESISTANCE if terminal in state.burned else state.config.line_resistance
        return state.config.bias_resistance

    def _evaluate(self, state: _NetworkState) -> NetworkPass:
        """The network's forward pass for what the sources drive now (one example); kept
        until a source changes what it drives."""
        if state.last is not None and state.version == self._version:
            return state.last
        name, network = state.config.name, state.network
        controls = [self._dc_through(f"{name}.{k}", self._terminal_resistance(state, k))[0]
                    for k in SYNAPSE_NAMES]
        biases = [self._dc_through(f"{name}.{j}", state.config.bias_resistance)[0]
                  for j in NEURON_NAMES]
        freqs, powers = list(network.input_frequencies), [0.0] * NETWORK_INPUTS
        for k, inst in enumerate(state.rf_sources):
            if inst in self._rf:
                freqs[k], powers[k] = self._rf[inst].frequency, self._rf[inst].power
        knobs = Knobs(np.array(controls), np.array(biases))
        inputs = np.array([powers])
        f_in = (float(freqs[0]), float(freqs[1]))
        probe = None
        if state.probe is not None and state.probe in self._rf:
            tone = self._rf[state.probe]
            probe = (tone.frequency, tone.power)
        activations = network_forward(replace(network, input_frequencies=f_in), knobs,
                                      inputs, probe)
        state.last, state.version = NetworkPass(knobs, f_in, inputs, activations), self._version
        return state.last

    def network(self, name: str) -> Network:
        """The chip of network device ``name`` as the world evaluates it (varied when the
        world has variability), with its default input frequencies."""
        try:
            return self.networks[name].network
        except KeyError:
            raise SimulationError(f"no network device named '{name}'; networks: "
                                  f"{', '.join(self.networks) or 'none'}") from None

    def network_pass(self, name: str) -> NetworkPass:
        """What network ``name`` is driven with now and what it does (its forward pass)."""
        self.network(name)
        return self._evaluate(self.networks[name])

    def _neuron_of(self, instrument: str
                   ) -> tuple[tuple[str, tuple[int, ...]] | None, float]:
        """(network, neuron indices) whose emission reaches an analyzer, directly or
        through an amplifier (one neuron), or at the combiner's monitor port (N1 and N2);
        None if none; and the power gain on the way (W/W)."""
        source = self._port(instrument, "input")
        gain = 1.0
        if source in self.amplifiers:
            amp = self.amplifiers[source]
            source, gain = amp.input, float(db_to_ratio(amp.gain))
        if source in self._terminals:
            name, terminal = self._terminals[source]
            if NETWORK_TERMINALS[terminal] == "neuron":
                return (name, (NEURON_NAMES.index(terminal),)), gain
            if NETWORK_TERMINALS[terminal] == "monitor":
                state = self.networks[name]
                return (name, (0, 1)), gain * state.network.rf_gain * float(
                    db_to_ratio(state.config.monitor_coupling))
        return None, gain

    def _neuron_spectrum(self, name: str, neurons: tuple[int, ...], gain: float,
                         freqs: np.ndarray, rbw: float) -> np.ndarray:
        """Power in W at ``freqs`` (Hz) from ``neurons`` of network ``name``."""
        state = self.networks[name]
        act = self._evaluate(state).activations
        total = np.zeros(np.shape(freqs))
        for j in neurons:
            power = float(act.emitted_powers[0, j])
            if power <= 0:
                continue
            current = float(act.neuron_currents[0, j])
            width = osc_model.linewidth(state.network.neurons[j], current)
            total += osc_model.line_in_rbw(freqs, power * gain, float(act.frequencies[0, j]),
                                           width, rbw)
        return total

    # ------------------------------------------------------------------ layered chips

    def _wired_to(self, target: str) -> str | None:
        return next((inst for inst, ports in self.wiring.items()
                     if target in ports.values()), None)

    def _evaluate_layered(self, state: _LayeredState) -> LayeredPass:
        """The chip's forward pass for what drives it now (one example): knobs from
        channels 1, 2, ... of its knob bank (0 A where it drives none), input tone k the
        k-th tone of its multitone source (a tone beyond the chip's inputs reaches no
        synapse in this model; an input without a tone sits at its design frequency at
        0 W). Kept until a drive changes."""
        if state.last is not None and state.version == self._version:
            return state.last
        name, chip = state.config.name, state.chip
        knobs = np.zeros(chip.knob_count)
        bank = self._wired_to(f"{name}.knobs")
        if bank in self._channels:
            driven = self._channels[bank][:chip.knob_count]
            knobs[:driven.size] = driven
        freqs = np.array(chip.input_frequencies, dtype=float)
        powers = np.zeros(freqs.size)
        source = self._wired_to(f"{name}.input")
        if source in self._tones:
            f, p = self._tones[source]
            n = min(f.size, freqs.size)
            freqs[:n], powers[:n] = f[:n], p[:n]
        key = (knobs.tobytes(), freqs.tobytes())
        if state.plan_key != key:  # the chip's lines for these knobs, kept while they stay
            same_tones = state.plan_key is not None and state.plan_key[1] == key[1]
            if not same_tones:
                state.network = replace(chip, input_frequencies=freqs)
            state.plan = layered_pass.Plan(state.network, knobs,
                                           state.plan if same_tones else None)
            state.plan_key = key
        acts = layered_pass.forward(state.network, knobs, powers[None, :], state.plan)
        state.last = LayeredPass(knobs, freqs, powers, acts)
        state.version = self._version
        return state.last

    def layered_chip(self, name: str) -> LayeredNetwork:
        """The chip of layered-network device ``name`` as the world evaluates it."""
        try:
            return self.layered[name].chip
        except KeyError:
            raise SimulationError(f"no layered_network device named '{name}'; layered "
                                  f"networks: {', '.join(self.layered) or 'none'}") from None

    def layered_pass(self, name: str) -> LayeredPass:
        """What layered chip ``name`` is driven with now and what it does."""
        self.layered_chip(name)
        return self._evaluate_layered(self.layered[name])

    def _layered_output_of(self, instrument: str
                           ) -> tuple[str | None, float, tuple[int, ...]]:
        """The layered chip whose output or monitor tap reaches an analyzer (directly or
        through an amplifier), the power gain on the way (W/W), and the layers whose
        neurons it carries (the last; or, at the monitor, every other)."""
        source = self._port(instrument, "input")
        gain = 1.0
        if source in self.amplifiers:
            amp = self.amplifiers[source]
            source, gain = amp.input, float(db_to_ratio(amp.gain))
        name, _, terminal = source.rpartition(".")
        kind = LAYERED_TERMINALS.get(terminal) if name in self.layered else None
        if kind == "chip_output":
            return name, gain, (len(self.layered[name].chip.layers) - 1,)
        if kind == "chip_monitor":
            state = self.layered[name]
            return name, gain * float(db_to_ratio(state.config.monitor_coupling)), tuple(
                range(len(state.chip.layers) - 1))
        return None, gain, ()

    def _layered_spectrum(self, name: str, gain: float, layers: tuple[int, ...],
                          freqs: np.ndarray, rbw: float) -> np.ndarray:
        """Power in W at ``freqs`` (Hz) from the neurons of ``layers`` of layered chip
        ``name``: one line per emitting neuron at its own frequency."""
        state = self.layered[name]
        acts = self._evaluate_layered(state).activations
        total = np.zeros(np.shape(freqs))
        for index in layers:
            act = acts[index]
            widths = np.broadcast_to(osc_model.linewidth(
                state.chip.layers[index].neurons.oscillators, act.currents[0]),
                act.powers[0].shape)
            for j in np.flatnonzero(act.powers[0] > 0):
                total += osc_model.line_in_rbw(freqs, float(act.powers[0, j]) * gain,
                                               float(act.frequencies[0, j]),
                                               float(widths[j]), rbw)
        return total

    def chain_voltages(self, instrument: str, t: float) -> np.ndarray:
        """DC voltages (V, no noise) at a multichannel voltmeter's inputs: every chain of
        the layered chip it is wired to, layer by layer (none if unwired)."""
        self._check_breakdown(t)
        name, _, terminal = self._port(instrument, "input").rpartition(".")
        if name not in self.layered or LAYERED_TERMINALS.get(terminal) != "chain_voltages":
            return np.zeros(0)
        acts = self._evaluate_layered(self.layered[name]).activations
        return np.concatenate([a.voltages[0] for a in acts])

    def _emitters(self, instrument: str) -> tuple[list[_JunctionState], float]:
        source = self._port(instrument, "input")
        gain = 1.0
        if source in self.amplifiers:
            amp = self.amplifiers[source]
            source, gain = amp.input, float(db_to_ratio(amp.gain))
        device = self._resolve(source)
        return ([self.junctions[device]] if device is not None else []), gain

    def spectrum(self, instrument: str, t: float, freqs: np.ndarray, rbw: float) -> np.ndarray:
        """Power in W that each point of an analyzer's trace receives from emission lines
        (no noise), at RBW ``rbw`` Hz."""
        self._check_breakdown(t)
        chip, gain, layers = self._layered_output_of(instrument)
        if chip is not None:
            return self._layered_spectrum(chip, gain, layers, freqs, rbw)
        neuron, gain = self._neuron_of(instrument)
        if neuron is not None:
            return self._neuron_spectrum(*neuron, gain, freqs, rbw)
        junctions, gain = self._emitters(instrument)
        total = np.zeros(np.shape(freqs))
        for j in junctions:
            if j.broken or j.config.fault is not None:
                continue
            current, _, _ = self._dc_state(j, self._resistance(j, t))
            p = j.config.oscillator
            power = float(osc_model.emitted_power(p, current))
            if power <= 0:
                continue
            center = osc_model.frequency(p, current, self._field_at(j, t))
            total += osc_model.line_in_rbw(freqs, power * gain, center,
                                           osc_model.linewidth(p, current), rbw)
        return total

    def noise_density(self, instrument: str) -> float:
        """Noise power density in W/Hz reaching an analyzer from its amplifier (k T0 F G)."""
        source = self._port(instrument, "input")
        if source not in self.amplifiers:
            return 0.0
        amp = self.amplifiers[source]
        return float(BOLTZMANN * T0 * db_to_ratio(amp.noise_figure + amp.gain))

    def coil_reading(self, instrument: str, t: float) -> CoilReading:
        """Current in, and voltage across, the coil a supply drives."""
        coil = self.coils[self._port(instrument, "output")]
        return CoilReading(coil.current(t), coil.voltage(t))

    def field_at_probe(self, instrument: str, t: float) -> float:
        """Field in T at a gaussmeter's probe."""
        return self.coils[self._port(instrument, "probe")].field(t)

    # ------------------------------------------------------------------ truth

    def describe(self) -> dict[str, Any]:
        """The simulated devices' true parameters (SI units), as plain data."""
        devices: dict[str, Any] = {}
        for name, j in self.junctions.items():
            c = j.config
            devices[name] = {
                "kind": "mtj",
                "field_from": c.field_from,
                "spin_diode": describe_params(c.spin_diode),
                "oscillator": describe_params(c.oscillator),
                "junction": describe_params(c.junction),
                "derived": {
                    "resonance_at_zero_bias": float(diode_model.resonance_frequency(
                        c.spin_diode)),
                    "half_width_at_zero_bias": float(diode_model.half_width(c.spin_diode)),
                    "resistance_parallel": c.junction.resistance,
                    "resistance_antiparallel": c.junction.resistance * (1 + c.junction.tmr),
                },
                "broken": j.broken,
                "broken_at": j.broken_at,
                "fault": c.fault,
            }
        for name, coil in self.coils.items():
            devices[name] = {"kind": "coil", **describe_params(coil.params)}
        for name, amp in self.amplifiers.items():
            devices[name] = {"kind": "amplifier", "input": amp.input, "gain_db": amp.gain,
                             "noise_figure_db": amp.noise_figure}
        for name, state in self.networks.items():
            devices[name] = self._describe_network(state)
        for name, layered in self.layered.items():
            devices[name] = self._describe_layered(layered)
        return {
            "units": "SI (Hz, A, V, T, W, s, ohm; V/W for sensitivities)",
            "seed": self.seed,
            "line_frequency": self.line_frequency,
            "noise": self.noise_enabled,
            "variability": self.config.variability,
            "devices": devices,
            "instruments": {
                name: {"model": inst.model, "address": inst.address, "wiring": inst.wiring}
                for name, inst in self.config.instruments.items()},
            "events": [{"time": t, "event": text} for t, text in self.events],
        }

    def _describe_network(self, state: _NetworkState) -> dict[str, Any]:
        """A network's true devices, wiring, knobs and activations, as plain SI floats."""
        net, now = state.network, self._evaluate(state)
        act = now.activations

        def row(values: np.ndarray, names: tuple[str, ...] | str) -> dict[str, float]:
            return {k: float(v) for k, v in zip(names, np.ravel(values), strict=True)}

        return {
            "kind": "network",
            "synapses": {k: describe_params(p)
                         for k, p in zip(SYNAPSE_NAMES, net.synapses, strict=True)},
            "neurons": {k: describe_params(p)
                        for k, p in zip(NEURON_NAMES, net.neurons, strict=True)},
            "input_frequencies": [float(f) for f in net.input_frequencies],
            "hidden_transconductance": float(net.hidden_transconductance),
            "output_transconductance": float(net.output_transconductance),
            "rf_gain": float(net.rf_gain),
            "input_coupling": [[float(g) for g in row] for row in net.input_coupling],
            "emission_coupling": [float(g) for g in net.emission_coupling],
            "path_imbalance_db": float(state.config.path_imbalance),
            "detection_power": float(net.detection_power),
            "drive_limit": float(net.drive_limit),
            "line_resistance": float(state.config.line_resistance),
            "line_rating": float(state.config.line_rating),
            "burned_lines": sorted(state.burned),
            "bias_resistance": float(state.config.bias_resistance),
            "rf_sources": list(state.rf_sources),
            "knobs": {"control_currents": row(now.knobs.control_currents, SYNAPSE_NAMES),
                      "bias_currents": row(now.knobs.bias_currents, NEURON_NAMES)},
            "inputs": {"frequencies": [float(f) for f in now.input_frequencies],
                       "powers": [float(p) for p in now.inputs[0]]},
            "activations": {
                "chain_voltages": row(act.chain_voltages, "ABO"),
                "neuron_currents": row(act.neuron_currents, NEURON_NAMES),
                "neuron_drives": row(act.drives, NEURON_NAMES),
                "emitted_powers": row(act.emitted_powers, NEURON_NAMES),
                "frequencies": row(act.frequencies, NEURON_NAMES),
                "output_emits": bool(predict(net, act)[0]),
            },
        }

    def _describe_layered(self, state: _LayeredState) -> dict[str, Any]:
        """A layered chip's sizes, spread and what it does now (its devices are many: the
        whole chip is ``layered_chip(name)``, or a network file written from it)."""
        now = self._evaluate_layered(state)
        last = now.activations[-1]
        return {
            "kind": "layered_network",
            "sizes": list(state.chip.sizes),
            "junctions": state.chip.junction_count,
            "knobs": state.chip.knob_count,
            "variability": self.config.variability,
            "path_imbalance_db": float(state.config.path_imbalance),
            "knob_bank": self._wired_to(f"{state.config.name}.knobs"),
            "tone_source": self._wired_to(f"{state.config.name}.input"),
            "input_power_w": float(now.powers.sum()),
            "output": {"powers": [float(p) for p in last.powers[0]],
                       "frequencies": [float(f) for f in last.frequencies[0]],
                       "class": int(layered_pass.predict(state.chip, now.activations)[0])},
        }
