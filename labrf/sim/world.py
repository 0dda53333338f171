"""The simulated world: devices, wiring, field, clock and random streams, shared by every
emulated instrument.

Sources push what they output (``drive_rf``, ``drive_dc``, ``drive_coil``) the moment it
changes, so a junction breaks down at the instant a limit is crossed. Meters pull what
they read (``junction_reading``, ``spectrum``, ``coil_reading``, ``field_at_probe``) at
their own instrument time. All quantities are SI; all randomness comes from
``rng(component)``, a stable child stream of the world's seed per component name.
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
from labrf.physics import coil as coil_model
from labrf.physics import junction as junction_model
from labrf.physics import oscillator as osc_model
from labrf.physics import spin_diode as diode_model
from labrf.physics.hysteresis import play
from labrf.sim.config import (
    AmplifierConfig,
    CoilConfig,
    MtjConfig,
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
    mode: str  #: "cw" (rf), "current" or "voltage"
    level: float  #: W (rf), A or V (dc, coil); the coil's target current in A
    limit: float  #: the dc source's compliance (V or A), the coil supply's limit; rf: Hz


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
        for name, dev in config.devices.items():
            if isinstance(dev, MtjConfig):
                self.junctions[name] = _JunctionState(self._vary(dev))
            elif isinstance(dev, CoilConfig):
                self.coils[name] = _CoilState(dev, t)
            else:
                self.amplifiers[name] = dev
        self.wiring = {name: inst.wiring for name, inst in config.instruments.items()}
        self._rf: dict[str, RfOutput] = {}
        self._dc: dict[str, _DcDrive] = {}
        self._coil_drive: dict[str, float] = {}
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

    def _port(self, instrument: str, port: str) -> str:
        try:
            return self.wiring[instrument][port]
        except KeyError:
            raise SimulationError(
                f"instrument '{instrument}' has no '{port}' connection in the simulation "
                f"section; its wiring: {self.wiring.get(instrument, {})}") from None

    def _junction_of(self, instrument: str) -> _JunctionState:
        ports = self.wiring.get(instrument, {})
        for port in ("input", "output"):
            if port in ports and ports[port] in self.junctions:
                return self.junctions[ports[port]]
        raise SimulationError(f"instrument '{instrument}' is not wired to a junction; "
                              f"its wiring: {ports}")

    # ------------------------------------------------------------------ sources

    def drive_rf(self, instrument: str, t: float, frequency: float, power: float) -> None:
        """An RF source now outputs ``power`` W at ``frequency`` Hz (0 W when off)."""
        self._rf[instrument] = RfOutput(float(frequency), max(float(power), 0.0), t)
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
        self.drives.append(Drive(t, instrument, "dc", bool(on), mode, float(level),
                                 abs(float(compliance))))
        self._check_breakdown(t)

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
        if j.broken:
            return p.shorted_resistance
        h = play(j.free_layer, self._field_at(j, t), p.switching_field)
        return float(junction_model.resistance(p, junction_model.free_layer(p, h)))

    def _rf_power_at(self, j: _JunctionState) -> list[tuple[float, float]]:
        return [(self._rf[inst].frequency, self._rf[inst].power)
                for inst, ports in self.wiring.items()
                if ports.get("output") == j.config.name and inst in self._rf]

    def _dc_state(self, j: _JunctionState, r: float) -> tuple[float, float, set[str]]:
        """Current (A), ohmic voltage (V) and the instruments in compliance."""
        drives = {inst: self._dc[inst] for inst, ports in self.wiring.items()
                  if ports.get("output") == j.config.name and inst in self._dc
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
            if j.broken:
                continue
            r = self._resistance(j, t)
            current, _, _ = self._dc_state(j, r)
            rf = sum(p for _, p in self._rf_power_at(j))
            v_peak = float(junction_model.peak_voltage(r, current, rf))
            if v_peak > j.config.junction.breakdown_voltage:
                j.broken, j.broken_at = True, t
                self.events.append((t, f"junction '{j.config.name}' broke down: "
                                       f"{v_peak:.3f} V across it exceeds its breakdown "
                                       f"voltage {j.config.junction.breakdown_voltage:g} V"))

    # ------------------------------------------------------------------ meters

    def junction_reading(self, instrument: str, t: float) -> DcReading:
        """DC voltage across, and current through, the junction wired to ``instrument``:
        I R plus the rectified spin-diode voltage of every RF tone reaching it."""
        self._check_breakdown(t)
        j = self._junction_of(instrument)
        r = self._resistance(j, t)
        current, voltage, limited = self._dc_state(j, r)
        tones = self._rf_power_at(j)
        if tones and not j.broken:
            p = j.config.spin_diode
            field = self._field_at(j, t)
            freqs, powers = np.array(tones).T
            voltage += float(np.sum(diode_model.rectified_voltage(
                p, freqs, powers, field, current, total_power=powers.sum())))
        return DcReading(voltage, current, instrument in limited)

    def _emitters(self, instrument: str) -> tuple[list[_JunctionState], float]:
        source = self._port(instrument, "input")
        if source in self.amplifiers:
            amp = self.amplifiers[source]
            return [self.junctions[amp.input]], float(db_to_ratio(amp.gain))
        return [self.junctions[source]], 1.0

    def spectrum(self, instrument: str, t: float, freqs: np.ndarray, rbw: float) -> np.ndarray:
        """Power in W that each point of an analyzer's trace receives from emission lines
        (no noise), at RBW ``rbw`` Hz."""
        self._check_breakdown(t)
        junctions, gain = self._emitters(instrument)
        total = np.zeros(np.shape(freqs))
        for j in junctions:
            if j.broken:
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
            }
        for name, coil in self.coils.items():
            devices[name] = {"kind": "coil", **describe_params(coil.params)}
        for name, amp in self.amplifiers.items():
            devices[name] = {"kind": "amplifier", "input": amp.input, "gain_db": amp.gain,
                             "noise_figure_db": amp.noise_figure}
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
