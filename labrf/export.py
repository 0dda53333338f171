"""Export of a run as csv, netcdf or parquet, whatever setpoints its columns sit on.

labrf records one row per measured point holding every column, so a run exports as
that table: one row per point, one column per scalar quantity (setpoints and measured
values side by side). Array columns (a spectrum per point) form their own group: in csv
and parquet a second file ``<stem>.<setpoint>.<ext>`` in long form (``point``, the
array setpoint, the arrays on it); in netcdf variables on the dimensions ``point`` and
``<setpoint>_bin``. Every netcdf variable carries its ``unit``, ``label`` and the
``setpoints`` it depends on, so ``ds.set_index(point=[...]).unstack()`` grids a map.
QCoDeS's own export joins every parameter on its setpoints and fails for runs whose
parameters sit on different setpoints; this one never does and never writes an object
column.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from labrf.data import run_columns
from labrf.errors import LabrfError

EXPORT_FORMATS = ("csv", "netcdf", "parquet")
SUFFIX = {"csv": ".csv", "netcdf": ".nc", "parquet": ".parquet"}


@dataclass(frozen=True)
class ColumnInfo:
    """A recorded column: its unit, label and the setpoints it depends on."""

    name: str
    unit: str
    label: str
    setpoints: tuple[str, ...]
    array: bool


def column_info(dataset: Any) -> dict[str, ColumnInfo]:
    """Each column of a run, from its QCoDeS parameter specs."""
    found = {}
    for spec in dataset.get_parameters():
        setpoints = tuple(s for s in (spec.depends_on or "").split(", ") if s)
        found[spec.name] = ColumnInfo(spec.name, spec.unit or "", spec.label or spec.name,
                                      setpoints, spec.type == "array")
    return found


@dataclass
class Tables:
    """A run as tables: the points, and one long table per array setpoint."""

    points: pd.DataFrame
    arrays: dict[str, pd.DataFrame]


def run_tables(dataset: Any) -> Tables:
    """The run's point table and its array groups (see the module's docstring)."""
    info = column_info(dataset)
    data = run_columns(dataset)
    n = max((len(v) for v in data.values()), default=0)
    scalars = {name: np.asarray(data[name], dtype=float) for name in info
               if name in data and not info[name].array}
    points = pd.DataFrame(scalars, index=pd.RangeIndex(n, name="point")).reset_index()
    arrays: dict[str, pd.DataFrame] = {}
    for axis, members in _array_groups(info).items():
        grid = np.asarray(data[axis], dtype=float)
        if grid.ndim != 2:
            continue
        long = {"point": np.repeat(np.arange(grid.shape[0]), grid.shape[1]),
                axis: grid.ravel()}
        for name in members:
            long[name] = np.asarray(data[name], dtype=float).ravel()
        arrays[axis] = pd.DataFrame(long)
    return Tables(points, arrays)


def _array_groups(info: dict[str, ColumnInfo]) -> dict[str, list[str]]:
    """Array setpoint -> the array columns on it (an array column with no array
    setpoint is its own axis)."""
    groups: dict[str, list[str]] = {}
    for column in info.values():
        if not column.array:
            continue
        axis = next((s for s in column.setpoints if info[s].array), None)
        if axis is None:
            groups.setdefault(column.name, [])
        else:
            groups.setdefault(axis, []).append(column.name)
    return groups


def run_xarray(dataset: Any) -> Any:
    """The run as an xarray Dataset on the dimension ``point`` (arrays also on
    ``<setpoint>_bin``), every variable with its unit, label and setpoints."""
    import xarray as xr

    info = column_info(dataset)
    data = run_columns(dataset)
    variables: dict[str, Any] = {}
    axis_of = {name: axis for axis, members in _array_groups(info).items()
               for name in (axis, *members)}
    for name, column in info.items():
        if name not in data:
            continue
        array = np.asarray(data[name], dtype=float)
        dims: tuple[str, ...] = ("point",)
        if column.array and array.ndim == 2:
            dims = ("point", f"{axis_of[name]}_bin")
        attrs = {"unit": column.unit, "units": column.unit, "label": column.label,
                 "setpoints": ", ".join(column.setpoints)}
        variables[name] = (dims, array, attrs)
    ds = xr.Dataset(variables)
    ds.attrs = _attributes(dataset)
    return ds


def _attributes(dataset: Any) -> dict[str, str | int | float]:
    """The run's identity and labrf metadata as netcdf attributes (text or numbers)."""
    attrs: dict[str, Any] = {"run_id": dataset.run_id, "guid": dataset.guid,
                             "exp_name": dataset.exp_name,
                             "sample_name": dataset.sample_name,
                             "ds_name": dataset.name,
                             "run_timestamp": dataset.run_timestamp() or ""}
    attrs.update(dataset.metadata)
    return {k: (v if isinstance(v, str | int | float) and not isinstance(v, bool)
                else json.dumps(v, default=str)) for k, v in attrs.items()}


def default_path(dataset: Any, fmt: str) -> Path:
    """Where a run exports by default: ``run_<id>.<ext>`` beside its database."""
    return Path(dataset.path_to_db).parent / f"run_{dataset.run_id}{SUFFIX[fmt]}"


def export_run(dataset: Any, fmt: str, path: Path | None = None) -> list[Path]:
    """Write a run as csv, netcdf or parquet; the files written (csv and parquet: the
    point table at ``path``, each array group beside it as ``<stem>.<setpoint>.<ext>``).
    A path that cannot be written is a LabrfError naming it."""
    if fmt not in EXPORT_FORMATS:
        raise LabrfError(f"unknown export format '{fmt}'; valid: {', '.join(EXPORT_FORMATS)}")
    path = Path(path) if path is not None else default_path(dataset, fmt)
    if path.is_dir():
        path = path / default_path(dataset, fmt).name
    try:
        if fmt == "netcdf":
            run_xarray(dataset).to_netcdf(path, engine="h5netcdf")
            return [path]
        tables = run_tables(dataset)
        written = [path]
        _write_table(tables.points, fmt, path)
        for axis, table in tables.arrays.items():
            extra = path.with_name(f"{path.stem}.{axis}{path.suffix or SUFFIX[fmt]}")
            _write_table(table, fmt, extra)
            written.append(extra)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise LabrfError(f"cannot write {path}: {reason}; give --output a path in a "
                         f"folder you can write") from None
    return written


def _write_table(table: pd.DataFrame, fmt: str, path: Path) -> None:
    if fmt == "csv":
        table.to_csv(path, index=False)
    else:
        table.to_parquet(path, index=False)
