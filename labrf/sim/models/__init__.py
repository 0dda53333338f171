"""Emulators of real instrument models, one module per model.

``MODELS`` maps the ``model:`` name used in a station file's simulation section to the
emulator class, imported on first use.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from labrf.sim.emulator import Emulator

MODELS: dict[str, str] = {
    "smb100a": "labrf.sim.models.rs_smb100a:SMB100A",
    "mg3692c": "labrf.sim.models.anritsu_mg3692c:MG3692C",
    "fsv": "labrf.sim.models.rs_fsv:FSV",
    "keithley2182a": "labrf.sim.models.keithley_2182a:Keithley2182A",
    "keithley6221": "labrf.sim.models.keithley_6221:Keithley6221",
    "keithley2400": "labrf.sim.models.keithley_2400:Keithley2400",
    "kepco_bop": "labrf.sim.models.kepco_bop:KepcoBOP",
    "lakeshore425": "labrf.sim.models.lakeshore_425:LakeShore425",
    "keithley3706a": "labrf.sim.models.keithley_3706a:Keithley3706A",
    "multitone": "labrf.sim.models.multitone:MultitoneGenerator",
    "multichannel_source": "labrf.sim.models.multichannel_source:MultichannelCurrentSource",
    "multichannel_voltmeter": "labrf.sim.models.multichannel_voltmeter:MultichannelVoltmeter",
}


def emulator_class(model: str) -> type[Emulator]:
    """The emulator class for a model name; KeyError names the valid ones."""
    try:
        module, cls = MODELS[model].split(":")
    except KeyError:
        raise KeyError(f"unknown instrument model '{model}'; valid models: "
                       f"{', '.join(sorted(MODELS))}") from None
    return getattr(import_module(module), cls)
