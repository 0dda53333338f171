"""The OpenAPI 3.1 description of the server's API (``GET /api/openapi.json``)."""

from __future__ import annotations

from typing import Any

import labrf

_RUN = {"type": "object", "required": ["id", "status", "points", "progress"],
        "properties": {
            "id": {"type": "integer"}, "station": {"type": "string"},
            "procedure": {"type": "string"},
            "parameters": {"type": "object", "description": "SI values"},
            "status": {"enum": ["queued", "running", "completed", "aborted", "cancelled",
                                "failed", "interrupted"]},
            "points": {"type": "integer"},
            "progress": {"type": "number", "description": "percent"},
            "eta_s": {"type": ["number", "null"], "description": "wall seconds left"},
            "run_id": {"type": ["integer", "null"], "description": "the dataset's run"},
            "fit": {"type": "object"}, "error": {"type": ["string", "null"]}}}
_SUBMIT = {"type": "object", "required": ["procedure", "station"], "properties": {
    "procedure": {"type": "string", "example": "spin-diode"},
    "station": {"type": "string", "example": "sim_bench"},
    "parameters": {"type": "object", "additionalProperties": {"type": ["number", "string",
                                                                       "boolean"]},
                   "example": {"points": 51, "power": "-20 dBm"},
                   "description": "named as labrf run's options (f_start for --f-start); "
                                  "values with or without units"},
    "sample": {"type": "string"}}}
_ERROR = {"type": "object", "properties": {"detail": {"type": "string"},
                                           "parameter": {"type": ["string", "null"]}}}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description,
            "content": {"application/json": {"schema": schema}}}


def _run_path(summary: str, responses: dict[str, Any]) -> dict[str, Any]:
    return {"summary": summary, "parameters": [{"name": "run", "in": "path",
                                                 "required": True,
                                                 "schema": {"type": "integer"}}],
            "responses": responses}


def openapi() -> dict[str, Any]:
    """The description, built on each call (it is small)."""
    not_found = _json(_ERROR, "no such run")
    return {
        "openapi": "3.1.0",
        "info": {"title": "labrf serve", "version": labrf.__version__,
                 "description": "Stations, a run queue per station and live runs. With a "
                                "token set, every /api call needs Authorization: Bearer "
                                "TOKEN (a stream may take ?token=TOKEN)."},
        "components": {"securitySchemes": {"token": {"type": "http", "scheme": "bearer"}}},
        "security": [{"token": []}],
        "paths": {
            "/api/stations": {"get": {"summary": "stations: instruments, roles, state, "
                                                 "what runs",
                                      "responses": {"200": _json({"type": "array"},
                                                                 "stations")}}},
            "/api/procedures": {"get": {
                "summary": "procedures with their parameters (units, defaults, limits)",
                "responses": {"200": _json({"type": "array"}, "procedures")}}},
            "/api/runs": {
                "get": {"summary": "the runs, in queue order",
                        "parameters": [{"name": "station", "in": "query",
                                        "schema": {"type": "string"}},
                                       {"name": "status", "in": "query",
                                        "schema": {"type": "string"}}],
                        "responses": {"200": _json({"type": "array", "items": _RUN},
                                                   "runs")}},
                "post": {"summary": "queue a run (checked first)",
                         "requestBody": {"required": True, "content": {
                             "application/json": {"schema": _SUBMIT}}},
                         "responses": {"201": _json(_RUN, "queued"),
                                       "422": _json(_ERROR, "a bad procedure, station or "
                                                    "parameter, named")}}},
            "/api/runs/{run}": {
                "get": _run_path("status, progress, ETA, fit",
                                 {"200": _json(_RUN, "the run"), "404": not_found}),
                "delete": _run_path("cancel a waiting run or abort a running one",
                                    {"200": _json(_RUN, "cancelled or being aborted"),
                                     "404": not_found,
                                     "409": _json(_ERROR, "the run has ended")}),
                "patch": _run_path("move a waiting run ({\"position\": N}, 0: next)",
                                   {"200": _json({"type": "object"}, "the new order"),
                                    "409": _json(_ERROR, "the run is not waiting")})},
            "/api/runs/{run}/data": {"get": _run_path(
                "the run's points (?format=json|csv)",
                {"200": {"description": "columns",
                         "content": {"application/json": {}, "text/csv": {}}},
                 "404": not_found})},
            "/api/runs/{run}/stream": {"get": _run_path(
                "server-sent events: points (decimated past 20,000), status, end",
                {"200": {"description": "event stream",
                         "content": {"text/event-stream": {}}}, "404": not_found})},
            "/api/runs/{run}/plot": {"get": _run_path(
                "the run's plot", {"200": {"description": "PNG",
                                           "content": {"image/png": {}}},
                                   "404": not_found})},
        },
    }
