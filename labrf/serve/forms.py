"""Procedures as forms: each procedure's parameters with their units, defaults and limits
(``GET /api/procedures``), and submitted parameters checked and brought to SI values the
way ``labrf run`` does, naming the parameter at fault."""

from __future__ import annotations

import math
from typing import Any

from labrf.errors import LabrfError
from labrf.runner import configured, parse_value, procedures, valid_values


class ParameterError(LabrfError):
    """A submitted parameter that is unknown or refused; ``parameter`` names it."""

    def __init__(self, message: str, parameter: str | None = None) -> None:
        super().__init__(message)
        self.parameter = parameter


def _kind(parameter: Any) -> str:
    return type(parameter).__name__.removesuffix("Parameter").lower()


def describe_parameter(key: str, parameter: Any) -> dict[str, Any]:
    """One parameter: its key (as ``labrf run`` names it, ``--f-start``'s ``f_start``),
    label, kind (float, integer, boolean, list, ...), unit, default and limits."""
    return {"name": key, "option": "--" + key.replace("_", "-"), "label": parameter.name,
            "kind": _kind(parameter), "units": getattr(parameter, "units", None) or "",
            "default": parameter.default,
            "minimum": getattr(parameter, "minimum", None),
            "maximum": getattr(parameter, "maximum", None),
            "choices": list(getattr(parameter, "choices", None) or []) or None,
            "valid": valid_values(parameter)}


def procedure_forms() -> list[dict[str, Any]]:
    """Every procedure with its parameters and its live view."""
    out = []
    for name, cls in procedures().items():
        doc = (cls.__doc__ or "").strip().split("\n\n")[0]
        params = cls().parameter_objects()
        out.append({"name": name, "doc": " ".join(doc.split()),
                    "parameters": [describe_parameter(k, p) for k, p in params.items()],
                    "live_plot": cls.live_plot(),
                    "columns": {k: {"unit": c.unit, "label": c.label, "kind": c.paramtype}
                                for k, c in cls.COLUMNS.items()}})
    return out


def checked_parameters(procedure: str, given: Any) -> dict[str, Any]:
    """``given`` ({name: value}, values numbers or text with units: ``"-20 dBm"``) as SI
    values for ``procedure``; ParameterError naming an unknown procedure or parameter, or
    a refused value and what is valid."""
    known_procedures = procedures()
    if procedure not in known_procedures:
        raise ParameterError(f"unknown procedure {procedure!r}; valid: "
                             f"{', '.join(known_procedures)}", "procedure")
    if given is None:
        given = {}
    if not isinstance(given, dict):
        raise ParameterError("parameters must be an object {name: value}", "parameters")
    known = known_procedures[procedure]().parameter_objects()
    values: dict[str, Any] = {}
    for key, raw in given.items():
        if key not in known:
            raise ParameterError(f"{procedure} has no parameter {key!r}; valid: "
                                 f"{', '.join(known)}", key)
        parameter = known[key]
        try:
            if isinstance(raw, bool) or raw is None:
                value = raw if raw is not None else parameter.default
            elif isinstance(raw, int | float):
                value = int(raw) if _kind(parameter) == "integer" else float(raw)
            elif isinstance(raw, str):
                value = parse_value(parameter, raw.strip())
            else:
                raise ValueError(f"a {type(raw).__name__} is not a value")
        except (LabrfError, ValueError, TypeError) as exc:
            raise ParameterError(f"{key} = {raw!r}: {exc}; valid: "
                                 f"{valid_values(parameter)}", key) from None
        if isinstance(value, float) and not math.isfinite(value):
            raise ParameterError(f"{key} = {raw!r}: must be a finite number; valid: "
                                 f"{valid_values(parameter)}", key)
        try:
            configured(procedure, {key: value})
        except LabrfError as exc:
            raise ParameterError(str(exc), key) from None
        values[key] = value
    configured(procedure, values)
    return values
