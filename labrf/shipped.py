"""Station files shipped with labrf: found by bare name from any directory.

``labrf demo``, ``labrf run --station sim_bench.yaml`` or ``labrf station check
station_configs/sim_network.yaml`` work outside the repository (from an installed wheel):
a relative path that does not exist, given bare or under ``station_configs/``, is looked
up among the shipped files.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from labrf.errors import ConfigError


def shipped_stations() -> dict[str, Path]:
    """The shipped station files by name."""
    folder = resources.files("labrf.station_configs")
    return {entry.name: Path(str(entry)) for entry in folder.iterdir()
            if entry.name.endswith((".yaml", ".yml"))}


def station_path(path: str | Path) -> Path:
    """``path`` if it exists, else the shipped station file it names; ConfigError naming
    the file and the shipped ones when neither exists."""
    path = Path(path)
    if path.exists():
        return path
    if path.is_absolute() or not (len(path.parts) == 1 or (
            len(path.parts) == 2 and path.parts[0] == "station_configs")):
        raise ConfigError("station file not found", file=str(path))
    found = shipped_stations().get(path.name)
    if found is not None:
        return found
    names = ", ".join(sorted(shipped_stations()))
    raise ConfigError(f"station file not found (in {Path.cwd()}, nor among the shipped "
                      f"station files: {names})", file=str(path))
