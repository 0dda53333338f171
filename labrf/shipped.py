"""Station and campaign files shipped with labrf: found by bare name from any directory.

``labrf demo``, ``labrf run --station sim_bench.yaml``, ``labrf station check
station_configs/sim_network.yaml`` or ``labrf campaign run campaigns/sim_chip.yaml`` work
outside the repository (from an installed wheel): a relative path that does not exist,
given bare or under ``station_configs/`` (``campaigns/``), is looked up among the shipped
files.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from labrf.errors import ConfigError


def _shipped(package: str) -> dict[str, Path]:
    folder = resources.files(package)
    return {entry.name: Path(str(entry)) for entry in folder.iterdir()
            if entry.name.endswith((".yaml", ".yml"))}


def shipped_stations() -> dict[str, Path]:
    """The shipped station files by name."""
    return _shipped("labrf.station_configs")


def shipped_campaigns() -> dict[str, Path]:
    """The shipped campaign files by name."""
    return _shipped("labrf.campaigns")


def _lookup(path: str | Path, folder: str, shipped: dict[str, Path], what: str) -> Path:
    path = Path(path)
    if path.exists():
        return path
    if path.is_absolute() or not (len(path.parts) == 1 or (
            len(path.parts) == 2 and path.parts[0] == folder)):
        raise ConfigError(f"{what} file not found", file=str(path))
    found = shipped.get(path.name)
    if found is not None:
        return found
    names = ", ".join(sorted(shipped))
    raise ConfigError(f"{what} file not found (in {Path.cwd()}, nor among the shipped "
                      f"{what} files: {names})", file=str(path))


def station_path(path: str | Path) -> Path:
    """``path`` if it exists, else the shipped station file it names; ConfigError naming
    the file and the shipped ones when neither exists."""
    return _lookup(path, "station_configs", shipped_stations(), "station")


def campaign_path(path: str | Path) -> Path:
    """``path`` if it exists, else the shipped campaign file it names; ConfigError naming
    the file and the shipped ones when neither exists."""
    return _lookup(path, "campaigns", shipped_campaigns(), "campaign")
