"""Station files: the shipped ones read, malformed ones are refused by key, limits only
narrow, and connect-time failures (a model at the wrong address) are reported by
``load_station`` and ``labrf station check`` without leaving anything open.

Malformed files are sim_bench.yaml with one edit (plus a few raw texts); each must raise a
ConfigError naming the file, the dotted key at fault and, where the code offers it, what
would be valid there.
"""

from __future__ import annotations

import copy
import dataclasses
import gc
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from qcodes.instrument import Instrument

from labrf.cli import main
from labrf.errors import ConfigError, LimitError
from labrf.roles import (
    HARD_LIMITS,
    CurrentSource,
    FieldCoil,
    Gaussmeter,
    Limits,
    RFSource,
    SpectrumAnalyzer,
    Voltmeter,
)
from labrf.sim.bench import Bench
from labrf.sim.models import emulator_class
from labrf.station import check_station, load_station, read_station
from labrf.units import to_si
from tests.helpers import ask

CONFIGS = Path(__file__).resolve().parents[1] / "station_configs"
SIM_BENCH = CONFIGS / "sim_bench.yaml"
LAB_EXAMPLE = CONFIGS / "lab_example.yaml"
#: The SI unit of each limit (the test's own table, to check read_station's conversion).
LIMIT_UNITS = {"junction_current": "A", "junction_voltage": "V", "rf_power_at_device": "W",
               "field": "T", "field_ramp_rate": "T/s", "current_ramp_rate": "A/s"}
SIM_NAMES = ("rf_source", "spectrum_analyzer", "nanovoltmeter", "current_source", "smu",
             "magnet", "gaussmeter")
VALID_ROLES = ("labrf.roles.RFSource", "labrf.roles.SpectrumAnalyzer", "labrf.roles.Voltmeter",
               "labrf.roles.CurrentSource", "labrf.roles.FieldCoil", "labrf.roles.Gaussmeter")
#: Every instrument name a test here may open (QCoDeS instrument names are global).
OPENED_NAMES = (*SIM_NAMES, "rf_source_2", "1st_source")


# ---------------------------------------------------------------------------- helpers


def sim_data() -> dict[str, Any]:
    """sim_bench.yaml as a fresh mapping to edit."""
    return copy.deepcopy(yaml.safe_load(SIM_BENCH.read_text()))


def write(path: Path, data: Any) -> Path:
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def _parent(data: dict[str, Any], dotted: str) -> tuple[dict[str, Any], str]:
    *parents, last = dotted.split(".")
    node = data
    for part in parents:
        node = node[part]
    return node, last


Edit = Callable[[dict[str, Any]], None]


def put(dotted: str, value: Any) -> Edit:
    """An edit setting the value at a dotted key (created if missing)."""
    def edit(data: dict[str, Any]) -> None:
        node, last = _parent(data, dotted)
        node[last] = copy.deepcopy(value)
    return edit


def drop(dotted: str) -> Edit:
    """An edit deleting a dotted key."""
    def edit(data: dict[str, Any]) -> None:
        node, last = _parent(data, dotted)
        del node[last]
    return edit


def move(dotted: str, new_name: Any) -> Edit:
    """An edit renaming the last part of a dotted key, keeping its value."""
    def edit(data: dict[str, Any]) -> None:
        node, last = _parent(data, dotted)
        node[new_name] = node.pop(last)
    return edit


def both(*edits: Edit) -> Edit:
    def edit(data: dict[str, Any]) -> None:
        for one in edits:
            one(data)
    return edit


def edited(tmp_path: Path, *edits: Edit, name: str = "station.yaml") -> Path:
    """sim_bench.yaml with ``edits`` applied, written to ``tmp_path``."""
    data = sim_data()
    both(*edits)(data)
    return write(tmp_path / name, data)


def still_open() -> list[str]:
    return [name for name in OPENED_NAMES if Instrument.exist(name)]


@pytest.fixture(autouse=True)
def _release_instruments() -> Iterator[None]:
    """No test may leave an instrument registered in QCoDeS (the names are global, so a
    leak would break the next load): fail the test that leaks, after closing it."""
    yield
    left = still_open()
    for name in left:
        Instrument.find_instrument(name).close()
    assert left == [], f"instruments left open: {left}"


def mismatched_rf_source(tmp_path: Path) -> Path:
    """sim_bench.yaml, but an Anritsu MG3692C answers where the SMB100A is expected."""
    return edited(tmp_path, put("labrf.simulation.instruments.rf_source.model", "mg3692c"),
                  name="mismatch.yaml")


# ---------------------------------------------------------------------------- shipped files


def test_sim_bench_reads_with_its_limits_in_si() -> None:
    spec = read_station(SIM_BENCH)
    raw = yaml.safe_load(SIM_BENCH.read_text())
    assert spec.file == str(SIM_BENCH)
    assert list(spec.instruments) == list(raw["instruments"])
    assert spec.simulation is not None
    assert set(spec.simulation.instruments) == set(spec.instruments)
    file_limits = raw["labrf"]["limits"]
    assert file_limits, "sim_bench.yaml is expected to narrow some limits"
    for name, unit in LIMIT_UNITS.items():
        expected = (to_si(file_limits[name], unit) if name in file_limits
                    else getattr(HARD_LIMITS, name))
        assert getattr(spec.limits, name) == pytest.approx(expected, rel=1e-9), name
        assert getattr(spec.limits, name) <= getattr(HARD_LIMITS, name) * (1 + 1e-9)
    for inst in spec.instruments.values():  # no init.limits in sim_bench: the station's
        assert inst.options["limits"] == spec.limits


LAB_EXPECTED = {
    "rf_source": (RFSource, "labrf.drivers.rohdeschwarz.SMB100A",
                  "TCPIP0::192.168.1.20::inst0::INSTR"),
    "rf_source_2": (RFSource, "labrf.drivers.anritsu.AnritsuMG3692C", "GPIB0::5::INSTR"),
    "spectrum_analyzer": (SpectrumAnalyzer, "labrf.drivers.rohdeschwarz.FSV",
                          "TCPIP0::192.168.1.21::inst0::INSTR"),
    "nanovoltmeter": (Voltmeter, "labrf.drivers.keithley.Keithley2182", "GPIB0::7::INSTR"),
    "current_source": (CurrentSource, "labrf.drivers.keithley.Keithley6221",
                       "GPIB0::12::INSTR"),
    "smu": (CurrentSource, "labrf.drivers.keithley.Keithley2400", "GPIB0::24::INSTR"),
    "magnet": (FieldCoil, "labrf.drivers.kepco.KepcoBOP3612", "GPIB0::6::INSTR"),
    "gaussmeter": (Gaussmeter, "labrf.drivers.lakeshore.LakeShore425",
                   "ASRL/dev/ttyUSB0::INSTR"),
}


def test_lab_example_reads_as_a_real_lab_station() -> None:
    spec = read_station(LAB_EXAMPLE)
    raw = yaml.safe_load(LAB_EXAMPLE.read_text())
    assert spec.simulation is None
    assert "simulation" not in raw["labrf"]
    assert spec.visa_library == ""  # the system's VISA library
    assert {name: (i.role, i.driver, i.address) for name, i in spec.instruments.items()} \
        == LAB_EXPECTED
    magnet = spec.instruments["magnet"]
    assert magnet.gaussmeter == "gaussmeter"
    assert magnet.options["field_per_current"] == pytest.approx(25e-3)
    assert spec.instruments["rf_source"].options["attenuation"] == pytest.approx(6.0)
    assert spec.instruments["rf_source_2"].options["attenuation"] == pytest.approx(9.0)
    narrowed = [f.name for f in dataclasses.fields(Limits)
                if getattr(spec.limits, f.name) < getattr(HARD_LIMITS, f.name) * (1 - 1e-9)]
    assert len(narrowed) >= 2, "the template shows how to narrow limits"
    assert spec.limits.rf_power_at_device == pytest.approx(1e-5)  # -20 dBm
    smu = spec.instruments["smu"].options["limits"]
    assert smu.junction_current == pytest.approx(1e-3)  # narrowed further for the SMU only
    assert smu.junction_voltage == spec.limits.junction_voltage


@pytest.mark.filterwarnings("ignore:It is not known whether this device support SCPI")
def test_lab_example_options_are_accepted_when_connected(tmp_path: Path) -> None:
    """read_station does not connect; the same file behind a simulated bench shows that
    every option of the template is one the roles accept when they open."""
    lab = yaml.safe_load(LAB_EXAMPLE.read_text())
    simulation = sim_data()["labrf"]["simulation"]
    simulation["instruments"]["rf_source_2"] = {"model": "mg3692c", "output": "mtj"}
    lab["labrf"]["simulation"] = simulation
    with load_station(write(tmp_path / "lab_sim.yaml", lab)) as st:
        assert set(st.roles) == set(LAB_EXPECTED)
        for name, (role, _, _) in LAB_EXPECTED.items():
            assert isinstance(st.roles[name], role)
        assert st.roles["rf_source"].max_power == pytest.approx(-20 + 6)
        assert st.roles["rf_source_2"].max_power == pytest.approx(-20 + 9)
        assert st.roles["smu"].limits.junction_current == pytest.approx(1e-3)
        assert st.roles["current_source"].ramp_rate() == pytest.approx(0.5e-3)
        magnet = st.roles["magnet"]
        assert magnet.gaussmeter is st.roles["gaussmeter"]
        assert magnet.ramp_rate() == pytest.approx(5e-3)
        assert magnet.field_offset == pytest.approx(0.2e-3)


# ---------------------------------------------------------------------------- malformed

RAW_TEXTS = [
    pytest.param("instruments:\n  rf_source: {type: labrf.roles.RFSource\n",
                 "not valid YAML", id="not-yaml-unclosed-flow-mapping"),
    pytest.param("instruments:\n\trf_source:\n", "not valid YAML", id="not-yaml-tab-indent"),
    pytest.param("- rf_source\n- smu\n", "must be a mapping", id="top-level-list"),
    pytest.param("just an instrument list\n", "must be a mapping", id="top-level-scalar"),
    pytest.param("", "must be a mapping", id="empty-file"),
]


@pytest.mark.parametrize(("text", "fragment"), RAW_TEXTS)
def test_raw_text_that_is_no_station_is_refused(tmp_path: Path, text: str,
                                                fragment: str) -> None:
    path = tmp_path / "station.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as err:
        read_station(path)
    assert err.value.file == str(path)
    assert not err.value.key  # the file as a whole is at fault
    assert fragment in str(err.value)
    assert str(path) in str(err.value)


def test_missing_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "nowhere.yaml"
    with pytest.raises(ConfigError) as err:
        read_station(path)
    assert err.value.file == str(path)
    assert "station file not found" in str(err.value)


def test_an_unreadable_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as err:
        read_station(tmp_path)  # a directory
    assert err.value.file == str(tmp_path) and "cannot read" in str(err.value)


def test_a_binary_file_is_refused_naming_the_byte(tmp_path: Path) -> None:
    """A station path pointing at a binary file (a saved dataset, an image) was a
    UnicodeDecodeError traceback in every command reading station, campaign or study
    files."""
    path = tmp_path / "lab.db.yaml"
    path.write_bytes(b"SQLite format 3\x00\x10\x00\x01\x01\xff\xfe")
    with pytest.raises(ConfigError) as err:
        read_station(path)
    assert err.value.file == str(path)
    assert "not a YAML text file (UTF-8): byte 20 is b'\\xff'" in str(err.value)


def _rf_source_2(**extra: Any) -> dict[str, Any]:
    return {"type": "labrf.roles.RFSource", "address": "GPIB0::5::INSTR",
            "init": {"driver": "labrf.drivers.anritsu.AnritsuMG3692C", **extra}}


RF = "instruments.rf_source"
SIM = "labrf.simulation"
ALLOWED_PARAMETER_KEYS = "allowed: label, monitor, initial_value"

# (edit of sim_bench.yaml, the key at fault, fragments the message must contain)
MALFORMED = [
    # --- the top level
    pytest.param(put("station", {"name": "bench 1"}), "station",
                 ["unknown key", "instruments", "labrf"], id="unknown-top-level-key"),
    pytest.param(drop("instruments"), "instruments", ["missing", "instruments:"],
                 id="no-instruments"),
    pytest.param(put("instruments", {}), "instruments", ["at least one instrument"],
                 id="empty-instruments"),
    pytest.param(put("instruments", ["rf_source", "smu"]), "instruments",
                 ["must be a mapping", "list"], id="instruments-a-list"),
    # --- QCoDeS's station schema
    pytest.param(put(RF, "SMB100A at 192.168.1.20"), RF,
                 ["QCoDeS station schema", "is not of type 'object'"],
                 id="instrument-entry-not-a-mapping"),
    pytest.param(put(f"{RF}.type", 5), f"{RF}.type",
                 ["QCoDeS station schema", "is not of type 'string'"], id="schema-type-int"),
    pytest.param(put("instruments.nanovoltmeter.address", 7), "instruments.nanovoltmeter.address",
                 ["QCoDeS station schema", "is not of type 'string'"],
                 id="schema-address-int"),
    pytest.param(put(f"{RF}.port", "x"), f"{RF}.port",
                 ["QCoDeS station schema", "is not of type 'integer'"], id="schema-port-str"),
    pytest.param(drop(f"{RF}.type"), RF, ["'type' is a required property"],
                 id="schema-no-type"),
    pytest.param(move(RF, "rf-source"), "instruments.rf-source", ["Python identifier"],
                 id="name-with-hyphen"),
    pytest.param(put(f"{RF}.parameters", {"power": {"label": 5}}),
                 f"{RF}.parameters.power.label",
                 ["QCoDeS station schema", "is not of type 'string'"],
                 id="schema-parameter-label-int"),
    # --- instrument keys labrf does not accept
    pytest.param(both(put(f"{RF}.driver", "labrf.drivers.rohdeschwarz.SMB100A"),
                      drop(f"{RF}.init.driver")),
                 f"{RF}.driver", ["unknown key", "type", "address", "init"],
                 id="driver-at-top-of-entry"),
    pytest.param(put(f"{RF}.port", 5025), f"{RF}.port", ["unknown key", "type, address"],
                 id="port-key"),
    # --- type: the role
    pytest.param(put(f"{RF}.type", "labrf.roles.RFSauce"), f"{RF}.type",
                 ["has no 'RFSauce'", *VALID_ROLES], id="type-no-such-class"),
    pytest.param(put(f"{RF}.type", "labrf.rolez.RFSource"), f"{RF}.type",
                 ["cannot import module 'labrf.rolez'", *VALID_ROLES],
                 id="type-no-such-module"),
    pytest.param(put(f"{RF}.type", "RFSource"), f"{RF}.type",
                 ["dotted import path", *VALID_ROLES], id="type-not-dotted"),
    pytest.param(put(f"{RF}.type", "labrf.units.to_si"), f"{RF}.type",
                 ["not a labrf role", *VALID_ROLES], id="type-a-function"),
    pytest.param(put("instruments.smu.type", "pymeasure.instruments.keithley.Keithley2400"),
                 "instruments.smu.type", ["not a labrf role", *VALID_ROLES],
                 id="type-a-pymeasure-driver"),
    pytest.param(put(f"{RF}.type", "labrf.roles.Role"), f"{RF}.type",
                 ["not a labrf role", *VALID_ROLES], id="type-the-role-base-class"),
    # --- address
    pytest.param(drop(f"{RF}.address"), f"{RF}.address",
                 ["missing", "VISA address", "GPIB0::7::INSTR"], id="no-address"),
    pytest.param(put(f"{RF}.address", "   "), f"{RF}.address", ["missing", "VISA address"],
                 id="blank-address"),
    # --- init.driver
    pytest.param(drop(f"{RF}.init.driver"), f"{RF}.init.driver",
                 ["missing", "drivers it knows", "SMB100A", "AnritsuMG3692C"],
                 id="no-init-driver"),
    pytest.param(drop("instruments.nanovoltmeter.init"), "instruments.nanovoltmeter.init.driver",
                 ["missing", "drivers it knows", "Keithley2182"], id="no-init-at-all"),
    pytest.param(put(f"{RF}.init.driver", "labrf.drivers.rohdeschwarz.SMB100B"),
                 f"{RF}.init.driver", ["has no 'SMB100B'", "SMB100A"],
                 id="driver-no-such-class"),
    pytest.param(put(f"{RF}.init.driver", "labrf.drivers.agilent.Agilent8257D"),
                 f"{RF}.init.driver", ["cannot import module 'labrf.drivers.agilent'"],
                 id="driver-no-such-module"),
    pytest.param(put(f"{RF}.init.driver", 5), f"{RF}.init.driver", ["dotted import path"],
                 id="driver-not-a-path"),
    pytest.param(put(f"{RF}.init.driver", "labrf.drivers.keithley.Keithley6221"),
                 f"{RF}.init.driver",
                 ["RFSource cannot drive", "Keithley6221", "drivers it knows", "SMB100A",
                  "AnritsuMG3692C"], id="driver-of-another-role"),
    pytest.param(put("instruments.smu.init.driver",
                     "pymeasure.instruments.keithley.Keithley2400"),
                 "instruments.smu.init.driver",
                 ["CurrentSource cannot drive", "drivers it knows", "Keithley6221",
                  "Keithley2400"], id="driver-pymeasure-2400-not-the-safe-one"),
    # --- init options
    pytest.param(put(f"{RF}.init.power", "-20 dBm"), f"{RF}.init.power",
                 ["unknown option of RFSource", "attenuation", "limits", "timeout"],
                 id="unknown-init-option"),
    pytest.param(put(f"{RF}.init.visa_library", "@py"), f"{RF}.init.visa_library",
                 ["unknown option of RFSource", "attenuation"],
                 id="init-option-the-station-sets"),
    pytest.param(put("instruments.current_source.init.gaussmeter", "gaussmeter"),
                 "instruments.current_source.init.gaussmeter",
                 ["unknown option of CurrentSource", "ramp_rate"],
                 id="init-option-of-another-role"),
    pytest.param(put(f"{RF}.init.attenuation", "3 mT"), f"{RF}.init.attenuation",
                 ["3 mT", "dB"], id="attenuation-in-tesla"),
    pytest.param(put(f"{RF}.init.attenuation", "3 dBm"), f"{RF}.init.attenuation",
                 ["dBm", "dB"], id="attenuation-in-dbm"),
    pytest.param(put(f"{RF}.init.timeout", "5 V"), f"{RF}.init.timeout", ["5 V", "in s"],
                 id="timeout-in-volt"),
    pytest.param(put("instruments.magnet.init.field_per_current", "25 mT"),
                 "instruments.magnet.init.field_per_current", ["25 mT", "T/A"],
                 id="field-per-current-in-tesla"),
    pytest.param(put("instruments.current_source.init.ramp_rate", "1 mA"),
                 "instruments.current_source.init.ramp_rate", ["1 mA", "A/s"],
                 id="ramp-rate-in-ampere"),
    # --- field coil and its gaussmeter
    pytest.param(drop("instruments.magnet.init.field_per_current"),
                 "instruments.magnet.init.field_per_current", ["missing", "mT/A"],
                 id="coil-without-calibration"),
    pytest.param(put("instruments.magnet.init.gaussmeter", "smu"),
                 "instruments.magnet.init.gaussmeter",
                 ["'smu' is not a Gaussmeter", "gaussmeters: gaussmeter"],
                 id="coil-gaussmeter-not-a-gaussmeter"),
    pytest.param(put("instruments.magnet.init.gaussmeter", "hall_probe"),
                 "instruments.magnet.init.gaussmeter",
                 ["'hall_probe' is not a Gaussmeter", "gaussmeters: gaussmeter"],
                 id="coil-gaussmeter-missing"),
    pytest.param(both(drop("instruments.gaussmeter"), drop(f"{SIM}.instruments.gaussmeter")),
                 "instruments.magnet.init.gaussmeter", ["gaussmeters: none"],
                 id="coil-gaussmeter-none-in-station"),
    # --- addresses
    pytest.param(put("instruments.smu.address", "GPIB0::7::INSTR"), "instruments.smu.address",
                 ["GPIB0::7::INSTR", "already the address of 'nanovoltmeter'"],
                 id="duplicate-address"),
    pytest.param(put("instruments.smu.address", "GPIB::7"), "instruments.smu.address",
                 ["already the address of 'nanovoltmeter'"],
                 id="duplicate-address-short-form"),
    pytest.param(put("instruments.spectrum_analyzer.address", "TCPIP::192.168.1.20::INSTR"),
                 "instruments.spectrum_analyzer.address",
                 ["already the address of 'rf_source'"], id="duplicate-address-tcpip-forms"),
    # --- parameters: what would bypass a role's limits, units or clock
    pytest.param(put(f"{RF}.parameters", {"power": {"limits": [-30, 20]}}),
                 f"{RF}.parameters.power.limits", ["not allowed", ALLOWED_PARAMETER_KEYS],
                 id="parameter-limits"),
    pytest.param(put("instruments.current_source.parameters", {"current": {"scale": 1000}}),
                 "instruments.current_source.parameters.current.scale",
                 ["not allowed", ALLOWED_PARAMETER_KEYS], id="parameter-scale"),
    pytest.param(put("instruments.magnet.parameters", {"field": {"inter_delay": 0.01}}),
                 "instruments.magnet.parameters.field.inter_delay",
                 ["not allowed", ALLOWED_PARAMETER_KEYS], id="parameter-inter-delay"),
    pytest.param(put("instruments.magnet.parameters", {"field": {"step": 0.1}}),
                 "instruments.magnet.parameters.field.step",
                 ["not allowed", ALLOWED_PARAMETER_KEYS], id="parameter-step"),
    pytest.param(put(f"{RF}.add_parameters", {"level": {"source": "power", "offset": 10}}),
                 f"{RF}.add_parameters.level.source", ["not allowed", ALLOWED_PARAMETER_KEYS],
                 id="add-parameter-delegating-to-a-role-parameter"),
    # --- the labrf section
    pytest.param(move("labrf.limits", "limit"), "labrf.limit",
                 ["unknown key", "limits", "simulation", "visa_library"],
                 id="unknown-labrf-key"),
    pytest.param(put("labrf", "limits"), "labrf", ["must be a mapping"],
                 id="labrf-not-a-mapping"),
    pytest.param(put("labrf.visa_library", 5), "labrf.visa_library", ["'@py'"],
                 id="visa-library-not-a-string"),
    # --- limits
    pytest.param(put("labrf.limits", "6 mA"), "labrf.limits",
                 ["mapping of limits", *LIMIT_UNITS], id="limits-not-a-mapping"),
    pytest.param(move("labrf.limits.junction_current", "junction_curent"),
                 "labrf.limits.junction_curent", ["unknown limit", *LIMIT_UNITS],
                 id="unknown-limit-name"),
    pytest.param(put("labrf.limits.junction_current", "6 mV"),
                 "labrf.limits.junction_current", ["6 mV", "in A"], id="limit-wrong-unit"),
    pytest.param(put("labrf.limits.rf_power_at_device", "-20 dB"),
                 "labrf.limits.rf_power_at_device", ["-20 dB", "W"],
                 id="limit-rf-power-in-db-not-dbm"),
    pytest.param(put("labrf.limits.field", "0 mT"), "labrf.limits.field", ["must be positive"],
                 id="limit-zero"),
    pytest.param(put("labrf.limits.junction_current", "-1 mA"), "labrf.limits.junction_current",
                 ["must be positive"], id="limit-negative"),
    pytest.param(put("labrf.limits.junction_current", "50 mA"), "labrf.limits.junction_current",
                 ["would widen", "only narrow", "up to 6 mA"], id="widen-junction-current"),
    pytest.param(put("labrf.limits.junction_voltage", "1 V"), "labrf.limits.junction_voltage",
                 ["would widen", "up to 600 mV"], id="widen-junction-voltage"),
    pytest.param(put("labrf.limits.rf_power_at_device", "+10 dBm"),
                 "labrf.limits.rf_power_at_device", ["would widen", "up to -10 dBm"],
                 id="widen-rf-power"),
    pytest.param(put("labrf.limits.field", "2 T"), "labrf.limits.field",
                 ["would widen", "up to 300 mT"], id="widen-field"),
    pytest.param(put("labrf.limits.field_ramp_rate", "1 T/s"), "labrf.limits.field_ramp_rate",
                 ["would widen", "up to 20 mT/s"], id="widen-field-ramp-rate"),
    pytest.param(put("labrf.limits.current_ramp_rate", "100 mA/s"),
                 "labrf.limits.current_ramp_rate", ["would widen", "up to 10 mA/s"],
                 id="widen-current-ramp-rate"),
    pytest.param(put("labrf.limits.field", float("inf")), "labrf.limits.field",
                 ["inf is not a finite number"], id="limit-infinite"),
    pytest.param(put("labrf.limits.junction_current", float("nan")),
                 "labrf.limits.junction_current", ["nan is not a finite number"],
                 id="limit-nan"),
    pytest.param(put("instruments.rf_source.init.attenuation", float("nan")),
                 "instruments.rf_source.init.attenuation", ["nan is not a finite number"],
                 id="attenuation-nan"),
    pytest.param(put("labrf.simulation.devices.mtj.spin_diode.damping", float("inf")),
                 "labrf.simulation.devices.mtj.spin_diode.damping",
                 ["inf is not a finite number"], id="simulation-inf"),
    pytest.param(put("instruments.rf_source.init.attenuation", "1e999 dB"),
                 "instruments.rf_source.init.attenuation", ["not a finite quantity"],
                 id="attenuation-overflow"),
    pytest.param(put("instruments.nanovoltmeter.address", "garbage"),
                 "instruments.nanovoltmeter.address",
                 ["'garbage' is not a VISA resource string", "GPIB0::7::INSTR"],
                 id="address-garbage"),
    # per-instrument limits may narrow the station's further, never widen them
    pytest.param(both(put("labrf.limits.field", "200 mT"),
                      put("instruments.magnet.init.limits", {"field": "250 mT"})),
                 "instruments.magnet.init.limits.field",
                 ["would widen", "up to 200 mT"], id="init-limits-widen-station-limit"),
    pytest.param(both(put("labrf.limits.rf_power_at_device", "-10 dBm"),
                      put(f"{RF}.init.limits", {"rf_power_at_device": "-5 dBm"})),
                 f"{RF}.init.limits.rf_power_at_device", ["would widen", "up to -10 dBm"],
                 id="init-limits-widen-rf-power"),
    pytest.param(put(f"{RF}.init.limits", {"power": "-20 dBm"}), f"{RF}.init.limits.power",
                 ["unknown limit", *LIMIT_UNITS], id="init-limits-unknown-name"),
    pytest.param(put(f"{RF}.init.limits", ["-20 dBm"]), f"{RF}.init.limits",
                 ["mapping of limits"], id="init-limits-not-a-mapping"),
    # --- the simulation section (its own validation, reported by key)
    pytest.param(put(f"{SIM}.devices.amp.kind", "attenuator"), f"{SIM}.devices.amp.kind",
                 ["'attenuator'", "mtj, amplifier, coil"], id="sim-unknown-device-kind"),
    pytest.param(put(f"{SIM}.instruments.rf_source.model", "smb100b"),
                 f"{SIM}.instruments.rf_source.model", ["'smb100b'", "smb100a", "mg3692c"],
                 id="sim-unknown-model"),
    pytest.param(move(f"{SIM}.seed", "seeds"), f"{SIM}.seeds", ["unknown key", "seed"],
                 id="sim-unknown-key"),
    pytest.param(put(f"{SIM}.line_frequency", "55 Hz"), f"{SIM}.line_frequency",
                 ["50 Hz or 60 Hz"], id="sim-line-frequency"),
    # --- an address no simulated instrument serves
    pytest.param(put("instruments.rf_source_2", _rf_source_2()),
                 "instruments.rf_source_2.address",
                 ["no simulated instrument answers at GPIB0::5::INSTR", "GPIB0::7::INSTR"],
                 id="address-not-simulated"),
    pytest.param(put(f"{SIM}.instruments.rf_source.address",
                     "TCPIP0::192.168.1.99::inst0::INSTR"),
                 f"{RF}.address", ["no simulated instrument answers at TCPIP0::192.168.1.20",
                                   "192.168.1.99"], id="address-simulated-elsewhere"),
    # --- init.connection: terminations and serial format
    pytest.param(put(f"{RF}.init.connection", "LF"), f"{RF}.init.connection",
                 ["must be a mapping", "read_termination"], id="connection-not-a-mapping"),
    pytest.param(put(f"{RF}.init.connection", {"eol": "\n"}), f"{RF}.init.connection.eol",
                 ["unknown key", "read_termination, write_termination, baud_rate"],
                 id="connection-unknown-key"),
    pytest.param(put(f"{RF}.init.connection", {"read_termination": ";"}),
                 f"{RF}.init.connection.read_termination",
                 ["';' is not a termination", "'\\n' (LF)", "'\\r' (CR)"],
                 id="connection-bad-termination"),
    pytest.param(put(f"{RF}.init.connection", {"baud_rate": 9600}),
                 f"{RF}.init.connection.baud_rate",
                 ["a serial setting", "TCPIP0::192.168.1.20::inst0::INSTR", "ASRL"],
                 id="connection-serial-key-on-lan"),
    pytest.param(put("instruments.gaussmeter.init.connection", {"baud_rate": "fast"}),
                 "instruments.gaussmeter.init.connection.baud_rate",
                 ["'fast' is not a baud rate", "9600"], id="connection-baud-a-word"),
    pytest.param(put("instruments.gaussmeter.init.connection", {"parity": "uneven"}),
                 "instruments.gaussmeter.init.connection.parity",
                 ["'uneven' is not a parity", "none, odd, even"], id="connection-parity"),
    pytest.param(put("instruments.gaussmeter.init.connection", {"stop_bits": 3}),
                 "instruments.gaussmeter.init.connection.stop_bits",
                 ["1, 1.5, 2"], id="connection-stop-bits"),
    pytest.param(put("instruments.gaussmeter.init.connection", {"data_bits": 9}),
                 "instruments.gaussmeter.init.connection.data_bits",
                 ["5, 6, 7, 8"], id="connection-data-bits"),
    pytest.param(put("instruments.gaussmeter.init.connection", {"flow_control": "rts"}),
                 "instruments.gaussmeter.init.connection.flow_control",
                 ["xon_xoff, rts_cts, dtr_dsr"], id="connection-flow-control"),
]


@pytest.mark.parametrize(("edit", "key", "fragments"), MALFORMED)
def test_malformed_station_is_refused_by_key(tmp_path: Path, edit: Edit, key: str,
                                             fragments: list[str]) -> None:
    path = edited(tmp_path, edit)
    with pytest.raises(ConfigError) as err:
        read_station(path)
    message = str(err.value)
    assert err.value.key == key, message
    assert err.value.file == str(path)
    assert message.startswith(f"{path}, key '{key}': "), message
    for fragment in fragments:
        assert fragment in message, f"{fragment!r} not in {message!r}"


def test_there_are_many_malformed_cases() -> None:
    ids = [case.id for case in MALFORMED]
    assert len(set(ids)) == len(ids) >= 20


# ---------------------------------------------------------------------------- narrowing


def test_narrowed_limits_are_what_read_station_returns(tmp_path: Path) -> None:
    path = edited(
        tmp_path,
        put("labrf.limits", {"junction_current": "2 mA", "rf_power_at_device": "-20 dBm",
                             "field": 0.05, "current_ramp_rate": "1 mA/s"}),
        put("instruments.smu.init.limits", {"junction_current": "500 uA",
                                            "junction_voltage": "0.2 V"}))
    spec = read_station(path)
    station = Limits(junction_current=2e-3, junction_voltage=HARD_LIMITS.junction_voltage,
                     rf_power_at_device=1e-5, field=0.05,
                     field_ramp_rate=HARD_LIMITS.field_ramp_rate, current_ramp_rate=1e-3)
    smu = dataclasses.replace(station, junction_current=5e-4, junction_voltage=0.2)

    def as_dict(limits: Limits) -> dict[str, float]:
        return {k: float(v) for k, v in dataclasses.asdict(limits).items()}

    assert as_dict(spec.limits) == pytest.approx(as_dict(station), rel=1e-9)
    for name, inst in spec.instruments.items():
        expected = smu if name == "smu" else station
        assert as_dict(inst.options["limits"]) == pytest.approx(as_dict(expected), rel=1e-9)

    # and the roles enforce them once connected
    with load_station(path) as st:
        assert as_dict(st.roles["smu"].limits) == pytest.approx(as_dict(smu), rel=1e-9)
        assert st.roles["rf_source"].max_power == pytest.approx(-20.0)
        with pytest.raises(LimitError):
            st.roles["rf_source"].power(-15.0)
        with pytest.raises(LimitError):
            st.roles["current_source"].current(3e-3)
        st.roles["current_source"].current(1.5e-3)
        with pytest.raises(LimitError):
            st.roles["smu"].current(1e-3)
        with pytest.raises(LimitError):
            st.roles["smu"].compliance(0.3)
        with pytest.raises(LimitError):
            st.roles["magnet"].field(0.1)


def test_limits_equal_to_the_hard_limits_are_accepted(tmp_path: Path) -> None:
    path = edited(tmp_path, put("labrf.limits", {
        "junction_current": "6 mA", "junction_voltage": "600 mV", "rf_power_at_device": 1e-4,
        "field": "0.3 T", "field_ramp_rate": "20 mT/s", "current_ramp_rate": "10 mA/s"}))
    limits = {k: float(v) for k, v in dataclasses.asdict(read_station(path).limits).items()}
    assert limits == pytest.approx(dataclasses.asdict(HARD_LIMITS), rel=1e-9)


# ---------------------------------------------------------------------------- connecting


def test_model_mismatch_at_connect_names_instrument_address_and_reply(tmp_path: Path) -> None:
    path = mismatched_rf_source(tmp_path)
    read_station(path)  # valid as a file: only connecting finds the wrong model
    with pytest.raises(ConfigError) as err:
        load_station(path)
    message = str(err.value)
    assert err.value.key == "instruments.rf_source"
    assert err.value.file == str(path)
    assert "TCPIP0::192.168.1.20::inst0::INSTR" in message
    assert emulator_class("mg3692c").idn in message  # what answered
    assert "SMB100A" in message  # what was expected
    assert "Rohde&Schwarz,SMB100A" in message  # the *IDN? pattern expected
    assert still_open() == []
    with load_station(SIM_BENCH) as st:  # nothing of the failed station is left behind
        assert set(st.roles) == set(SIM_NAMES)
    assert still_open() == []


def test_failure_after_some_instruments_opened_closes_them(tmp_path: Path) -> None:
    """smu is opened after rf_source, spectrum_analyzer, nanovoltmeter and current_source;
    its mismatch must close those."""
    path = edited(tmp_path, put("labrf.simulation.instruments.smu.model", "keithley6221"))
    with pytest.raises(ConfigError) as err:
        load_station(path)
    assert err.value.key == "instruments.smu"
    assert "GPIB0::24::INSTR" in str(err.value)
    assert "MODEL 6221" in str(err.value)
    assert still_open() == []
    with load_station(SIM_BENCH) as st:
        assert set(st.roles) == set(SIM_NAMES)


def test_station_check_cli_lists_every_instrument(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["station", "check", str(SIM_BENCH)]) == 0
    out, err = capsys.readouterr()
    spec = read_station(SIM_BENCH)
    assert spec.simulation is not None
    lines = out.splitlines()
    for name, inst in spec.instruments.items():
        idn = emulator_class(spec.simulation.instruments[name].model).idn
        rows = [line for line in lines if line.split()[0] == name]
        assert len(rows) == 1, (name, out)
        assert idn in rows[0]
        assert inst.address in rows[0]
    assert f"all {len(spec.instruments)} instruments answered" in out
    assert err == ""
    assert still_open() == []


def test_station_check_cli_reports_a_mismatch(tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    path = mismatched_rf_source(tmp_path)
    assert main(["station", "check", str(path)]) == 1
    out, err = capsys.readouterr()
    spec = read_station(path)
    assert spec.simulation is not None
    lines = out.splitlines()
    for name in spec.instruments:
        rows = [line for line in lines if line.split()[0] == name]
        assert len(rows) == 1, (name, out)
        if name == "rf_source":
            assert "FAILED" in rows[0]
            assert emulator_class("mg3692c").idn in rows[0]
        else:
            assert emulator_class(spec.simulation.instruments[name].model).idn in rows[0]
            assert "FAILED" not in rows[0]
    assert "rf_source" in err
    assert "1 of 7" in err
    assert still_open() == []
    rows = check_station(SIM_BENCH)  # and the good file checks again
    assert all(row.ok for row in rows)


# ---------------------------------------------------------------------------- fixed bugs
# Bugs found while writing these tests, fixed: each test keeps the fix in place.


def test_parameter_alias_cannot_replace_safe_state(tmp_path: Path) -> None:
    path = edited(tmp_path, put(f"{RF}.parameters", {"power": {"alias": "safe_state"}}))
    try:
        read_station(path)
    except ConfigError as err:  # refusing the alias is a fix too
        assert err.key is not None and err.key.startswith(f"{RF}.parameters")
        return
    with load_station(path) as st:
        st.roles["rf_source"].output(True)
        source = st.bench.emulators["rf_source"]
    assert ask(source, "OUTP?") == "0"


def test_station_check_leaves_outputs_off(tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    path = edited(tmp_path, put(f"{RF}.parameters", {"output": {"initial_value": True}}))
    benches: list[Bench] = []
    close = Bench.close

    def recording_close(self: Bench) -> None:
        benches.append(self)
        close(self)

    monkeypatch.setattr(Bench, "close", recording_close)
    try:
        check_station(path)
    except ConfigError as err:  # refusing initial_value is a fix too
        assert err.key is not None and err.key.startswith(f"{RF}.parameters")
        return
    assert ask(benches[-1].emulators["rf_source"], "OUTP?") == "0"


def test_failed_parameter_setup_leaves_nothing_registered(tmp_path: Path) -> None:
    path = edited(tmp_path, put(f"{RF}.parameters", {"power": {"initial_value": 20}}))
    gc.disable()
    try:
        with pytest.raises(ConfigError) as err:
            load_station(path)
        assert err.value.key is not None and err.value.key.startswith(RF)
        left = still_open()
    finally:
        gc.enable()
    assert left == []


def test_unknown_parameter_name_is_a_config_error(tmp_path: Path) -> None:
    path = edited(tmp_path, put(f"{RF}.parameters", {"powr": {"label": "level"}}))
    with pytest.raises(ConfigError) as err, load_station(path):
        pass
    assert err.value.key is not None and err.value.key.startswith(f"{RF}")


def test_integer_instrument_name_is_a_config_error(tmp_path: Path) -> None:
    path = edited(tmp_path, move(RF, 7))
    with pytest.raises(ConfigError) as err:
        read_station(path)
    assert err.value.key in ("instruments", "instruments.7")


def test_instrument_name_must_be_an_identifier(tmp_path: Path) -> None:
    path = edited(tmp_path, move(RF, "1st_source"),
                  move(f"{SIM}.instruments.rf_source", "1st_source"))
    with pytest.raises(ConfigError) as err:
        read_station(path)
    assert err.value.key == "instruments.1st_source"


@pytest.mark.parametrize(("name", "rate"), [("current_source", "1 A/s"), ("magnet", "1 T/s")],
                         ids=["current-source", "field-coil"])
def test_ramp_rate_above_its_limit_is_refused_by_read_station(tmp_path: Path, name: str,
                                                              rate: str) -> None:
    path = edited(tmp_path, put(f"instruments.{name}.init.ramp_rate", rate))
    with pytest.raises(ConfigError) as err:
        read_station(path)
    assert err.value.key == f"instruments.{name}.init.ramp_rate"


def test_duplicate_address_in_lower_case_is_refused(tmp_path: Path) -> None:
    lab = yaml.safe_load(LAB_EXAMPLE.read_text())
    lab["instruments"]["smu"]["address"] = "gpib0::7::instr"
    path = write(tmp_path / "lab.yaml", lab)
    with pytest.raises(ConfigError) as err:
        read_station(path)
    assert err.value.key == "instruments.smu.address"
