"""drivers/ and procedures/ install as labrf.drivers and labrf.procedures, editable or built."""

from __future__ import annotations

import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import labrf.drivers
import labrf.procedures

ROOT = Path(__file__).resolve().parents[1]


def test_editable_install_maps_the_top_level_folders():
    assert Path(labrf.drivers.__file__).resolve() == ROOT / "drivers" / "__init__.py"
    assert Path(labrf.procedures.__file__).resolve() == ROOT / "procedures" / "__init__.py"


def test_every_package_folder_is_listed_in_pyproject():
    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"][
        "packages"])
    found = set()
    for top, package in (("labrf", "labrf"), ("drivers", "labrf.drivers"),
                         ("procedures", "labrf.procedures"),
                         ("station_configs", "labrf.station_configs"),
                         ("campaigns", "labrf.campaigns")):
        for init in (ROOT / top).rglob("__init__.py"):
            parts = init.parent.relative_to(ROOT / top).parts
            found.add(".".join((package, *parts)))
    assert found == listed


def test_built_wheel_holds_and_imports_drivers_and_procedures(tmp_path: Path):
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                    "-q", "-w", str(tmp_path), str(ROOT)], check=True)
    wheel = next(tmp_path.glob("labrf-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    assert "labrf/drivers/__init__.py" in names
    assert "labrf/procedures/__init__.py" in names
    assert not any(n.startswith(("drivers/", "procedures/", "tests/")) for n in names)
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    code = ("import sys; sys.path.insert(0, sys.argv[1]); import labrf.drivers, "
            "labrf.procedures; print(labrf.drivers.__file__)")
    out = subprocess.run([sys.executable, "-S", "-c", code, str(site)], check=True,
                         capture_output=True, text=True).stdout
    assert out.strip().startswith(str(site))


def test_built_wheel_ships_the_station_files(tmp_path: Path):
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                    "-q", "-w", str(tmp_path), str(ROOT)], check=True)
    names = zipfile.ZipFile(next(tmp_path.glob("labrf-*.whl"))).namelist()
    shipped = sorted(p.name for p in (ROOT / "station_configs").glob("*.yaml"))
    assert {"sim_bench.yaml", "sim_network.yaml", "lab_example.yaml"} <= set(shipped)
    for name in shipped:
        assert f"labrf/station_configs/{name}" in names
    assert not any(n.startswith("station_configs/") for n in names)
    assert "labrf/campaigns/sim_chip.yaml" in names
    site = tmp_path / "site"
    zipfile.ZipFile(next(tmp_path.glob("labrf-*.whl"))).extractall(site)
    deps = next(p for p in sys.path if p.endswith("site-packages"))
    code = ("import sys; sys.path[:0] = sys.argv[1:]; from labrf.shipped import "
            "station_path; from labrf.station import read_station; "
            "print(read_station('sim_bench.yaml').file); from labrf.campaign import "
            "read_campaign; print(read_campaign('campaigns/sim_chip.yaml').station.file)")
    out = subprocess.run([sys.executable, "-S", "-c", code, str(site), deps], check=True,
                         capture_output=True, text=True, cwd=tmp_path).stdout
    assert out.split() == [str(site / "labrf" / "station_configs" / "sim_bench.yaml"),
                           str(site / "labrf" / "station_configs" / "sim_chip.yaml")]


def test_a_shipped_station_is_found_by_bare_name_from_any_directory(tmp_path: Path):
    check = subprocess.run([sys.executable, "-m", "labrf.cli", "station", "check",
                            "sim_bench.yaml"], cwd=tmp_path, capture_output=True, text=True)
    assert check.returncode == 0, check.stderr
    assert "all 7 instruments answered" in check.stdout
    described = subprocess.run([sys.executable, "-m", "labrf.cli", "sim", "describe",
                                "station_configs/sim_network.yaml"], cwd=tmp_path,
                               capture_output=True, text=True)
    assert described.returncode == 0, described.stderr
    missing = subprocess.run([sys.executable, "-m", "labrf.cli", "station", "check",
                              "sim_bnech.yaml"], cwd=tmp_path, capture_output=True, text=True)
    assert missing.returncode == 1 and "Traceback" not in missing.stderr
    assert "station file not found" in missing.stderr and "sim_bench.yaml" in missing.stderr
