"""Export of every procedure's run in csv, netcdf and parquet, read back with pandas and
xarray with its values intact, and an unwritable destination refused with a message."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from labrf.cli import main
from labrf.data import load_run, run_columns
from labrf.errors import LabrfError
from labrf.export import EXPORT_FORMATS, SUFFIX, column_info, export_run
from labrf.runner import procedures, run
from labrf.station import load_station

ROOT = Path(__file__).resolve().parents[1]
SIM_BENCH = ROOT / "station_configs" / "sim_bench.yaml"
SIM_NETWORK = ROOT / "station_configs" / "sim_network.yaml"
SIM_DIGITS_CHIP = ROOT / "station_configs" / "sim_digits_chip.yaml"

#: quick settings of each procedure; chip-in-the-loop builds on both calibrations
QUICK = {
    "spin-diode": (SIM_BENCH, {"points": 21}),
    "spin-diode-field-map": (SIM_BENCH, {"points": 11, "field_steps": 3}),
    "spin-diode-power-map": (SIM_BENCH, {"points": 11, "power_steps": 3}),
    "emission": (SIM_BENCH, {"bias_points": 11}),
    "field-calibration": (SIM_BENCH, {"points": 6}),
    "resistance": (SIM_BENCH, {"points": 6}),
    "iv-curve": (SIM_BENCH, {"points": 7}),
    "synapse-calibration": (SIM_NETWORK, {"points": 12}),
    "neuron-calibration": (SIM_NETWORK, {"bias_points": 6}),
    "chip-in-the-loop": (SIM_NETWORK, {"epochs": 1, "train_examples": 20,
                                       "validation_examples": 10, "map_points": 3}),
    "chip-calibration": (SIM_DIGITS_CHIP, {"nplc": 0.1}),
}


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, dict[str, int]]]:
    db = tmp_path_factory.mktemp("export") / "lab.db"
    ids: dict[str, int] = {}
    for file in (SIM_BENCH, SIM_NETWORK, SIM_DIGITS_CHIP):
        with load_station(file) as station:
            for name, (station_file, parameters) in QUICK.items():
                if station_file != file:
                    continue
                result = run(name, station, parameters, db=db, progress=None)
                assert result.status == "completed", (name, result.error)
                ids[name] = result.run_id
    yield db, ids


def test_every_procedure_is_covered() -> None:
    assert set(QUICK) == set(procedures())


@pytest.mark.parametrize("fmt", EXPORT_FORMATS)
@pytest.mark.parametrize("name", list(QUICK))
def test_every_run_exports_with_its_values(runs, tmp_path, name, fmt) -> None:
    db, ids = runs
    dataset = load_run(db, ids[name])
    data, info = run_columns(dataset), column_info(dataset)
    written = export_run(dataset, fmt, tmp_path / f"run{SUFFIX[fmt]}")
    assert all(p.exists() for p in written)
    scalars = [n for n in info if not info[n].array]  # in the procedure's order
    arrays = [n for n in info if info[n].array]
    if fmt == "netcdf":
        ds = xr.open_dataset(written[0])
        for column in data:
            np.testing.assert_array_equal(ds[column].values, np.asarray(data[column], float))
            assert ds[column].attrs["unit"] == info[column].unit
        assert ds.attrs["labrf_procedure"] == name and ds.attrs["run_id"] == ids[name]
        assert all(ds[v].dtype != object for v in ds.data_vars)
        return
    read = pd.read_csv if fmt == "csv" else pd.read_parquet
    table = read(written[0])
    assert list(table.columns) == ["point", *scalars]
    assert len(table) == len(data[scalars[0]])
    for column in scalars:
        np.testing.assert_allclose(table[column].to_numpy(), data[column], rtol=1e-15,
                                   equal_nan=True)
    assert all(table[c].dtype != object for c in table.columns)
    assert len(written) == 1 + bool(arrays)
    if arrays:  # the spectra: one long table on their frequency axis
        long = read(written[1])
        assert written[1].name == f"run.spectrum_frequency{written[0].suffix}"
        for column in arrays:
            np.testing.assert_allclose(long[column].to_numpy(),
                                       np.asarray(data[column], float).ravel(), rtol=1e-15)


def test_a_map_grids_back_from_its_setpoints(runs, tmp_path) -> None:
    db, ids = runs
    (path,) = export_run(load_run(db, ids["spin-diode-field-map"]), "netcdf",
                         tmp_path / "map.nc")
    ds = xr.open_dataset(path)
    assert ds["voltage"].attrs["setpoints"] == "field, frequency"
    grid = ds.set_index(point=["field", "frequency"]).unstack("point")["voltage"]
    assert grid.shape == (3, 11)


@pytest.mark.parametrize("destination", ["/proc/labrf-cannot-write.csv",
                                         "missing-folder/run.csv", "a-file/run.csv"])
def test_export_to_an_unwritable_path_is_a_message(runs, tmp_path, capsys,
                                                   destination) -> None:
    db, ids = runs
    (tmp_path / "a-file").write_text("not a folder")
    target = destination if destination.startswith("/") else str(tmp_path / destination)
    code = main(["export", str(ids["spin-diode"]), "--db", str(db), "-o", target])
    err = capsys.readouterr().err
    assert code == 1
    assert f"cannot write {target}" in err and "Traceback" not in err
    with pytest.raises(LabrfError, match="cannot write"):
        export_run(load_run(db, ids["spin-diode"]), "parquet", Path(target))


def test_export_into_a_folder_uses_the_run_name(runs, tmp_path) -> None:
    db, ids = runs
    (path,) = export_run(load_run(db, ids["spin-diode"]), "csv", tmp_path)
    assert path == tmp_path / f"run_{ids['spin-diode']}.csv"
