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
                         ("procedures", "labrf.procedures")):
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
