"""The server's HTTP face (Starlette): the JSON API, the live stream of a run's points
(server-sent events) and the page with its assets, all served by labrf itself.

Routes (``openapi.py`` describes them): ``GET /api/stations``, ``GET /api/procedures``,
``GET|POST /api/runs``, ``GET|PATCH|DELETE /api/runs/{id}``, ``GET /api/runs/{id}/data``
(CSV or JSON), ``GET /api/runs/{id}/stream``, ``GET /api/runs/{id}/plot``,
``GET /api/openapi.json``; ``/`` and ``/static/...``.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import (
    FileResponse,
    JSONResponse,
    Response,
    StreamingResponse,
)
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from labrf.errors import LabrfError
from labrf.runner import json_safe
from labrf.serve.forms import ParameterError, procedure_forms
from labrf.serve.openapi import openapi
from labrf.serve.security import Gate
from labrf.serve.server import Server

STATIC = Path(__file__).parent / "static"
STREAM_POLL_S = 0.2  #: s between two looks at a run's new points, per viewer
STREAM_BATCH = 5000  #: most points in one event


def _json(value: Any, status: int = 200) -> JSONResponse:
    return JSONResponse(json_safe(value), status_code=status)


def _error(status: int, message: str, **extra: Any) -> JSONResponse:
    return JSONResponse({"detail": message, **extra}, status_code=status)


def _run_id(request: Request) -> int:
    return int(request.path_params["run"])


def build_app(server: Server, token: str | None = None, loopback: bool = True) -> Gate:
    """The ASGI application of ``server`` (its stations started by the caller)."""

    async def stations(request: Request) -> Response:
        return _json(server.station_state())

    async def procedures_(request: Request) -> Response:
        return _json(procedure_forms())

    async def runs(request: Request) -> Response:
        station = request.query_params.get("station")
        status = request.query_params.get("status")
        return _json([server.run_state(r) for r in server.queue.runs(station, status)])

    async def submit(request: Request) -> Response:
        try:
            body = json.loads(await request.body() or b"null")
        except (ValueError, UnicodeDecodeError) as exc:
            return _error(400, f"the body is not JSON: {exc}")
        if not isinstance(body, dict):
            return _error(422, 'a run is {"procedure": ..., "station": ..., '
                          '"parameters": {...}}', parameter="body")
        unknown = sorted(set(body) - {"procedure", "station", "parameters", "sample"})
        if unknown:
            return _error(422, f"unknown keys {', '.join(unknown)}; valid: procedure, "
                          "station, parameters, sample", parameter=unknown[0])
        try:
            entry = await asyncio.to_thread(
                server.submit, str(body.get("procedure", "")), str(body.get("station", "")),
                body.get("parameters"), body.get("sample", "sample"))
        except ParameterError as exc:
            return _error(422, str(exc), parameter=exc.parameter)
        return _json({"id": entry.id, **server.run_state(entry.id)}, 201)

    async def one(request: Request) -> Response:
        try:
            return _json(server.run_state(_run_id(request)))
        except LabrfError as exc:
            return _error(404, str(exc))

    async def delete(request: Request) -> Response:
        try:
            entry = server.cancel_or_abort(_run_id(request))
        except LabrfError as exc:
            status = 404 if "no run" in str(exc) else 409
            return _error(status, str(exc))
        return _json(entry.as_json())

    async def patch(request: Request) -> Response:
        try:
            body = json.loads(await request.body() or b"null")
            position = int(body["position"])
        except (ValueError, TypeError, KeyError):
            return _error(422, 'a move is {"position": N} (0: next of its station)',
                          parameter="position")
        try:
            order = server.move(_run_id(request), position)
        except LabrfError as exc:
            return _error(404 if "no run" in str(exc) else 409, str(exc))
        return _json({"queued": [r.id for r in order]})

    def _columns(run: int) -> tuple[int, dict[str, Any]]:
        """The dataset run of queued run ``run`` and its columns (one thread: a QCoDeS
        connection belongs to the thread that opened it)."""
        from labrf.data import load_run, run_columns

        entry = server.queue.get(run)
        if entry.run_id is None:
            raise LabrfError(f"run {run} has no data yet (it is {entry.status})")
        return entry.run_id, run_columns(load_run(server.db, entry.run_id))

    async def data(request: Request) -> Response:
        fmt = request.query_params.get("format", "json")
        if fmt not in ("json", "csv"):
            return _error(422, f"format {fmt!r}: valid: json, csv", parameter="format")
        try:
            run_id, columns = await asyncio.to_thread(_columns, _run_id(request))
        except LabrfError as exc:
            return _error(404, str(exc))
        if fmt == "json":
            return _json({"run_id": run_id, "columns": columns})
        scalars = pd.DataFrame({k: v for k, v in columns.items() if np.ndim(v) == 1})
        return Response(scalars.to_csv(index=False), media_type="text/csv")

    async def plot(request: Request) -> Response:
        try:
            entry = server.queue.get(_run_id(request))
        except LabrfError as exc:
            return _error(404, str(exc))
        path = entry.result.get("plot")
        if not path or not Path(path).is_file():
            return _error(404, f"run {entry.id} has no plot")
        return FileResponse(path, media_type="image/png")

    async def stream(request: Request) -> Response:
        run = _run_id(request)
        try:
            server.queue.get(run)
        except LabrfError as exc:
            return _error(404, str(exc))
        try:
            cursor = int(request.query_params.get("after", "-1"))
        except ValueError:
            return _error(422, "after must be a point index", parameter="after")

        async def events() -> Any:
            nonlocal cursor
            last_status = None
            while True:
                state = server.run_state(run)
                live = server.live.get(run)
                if live is not None:
                    rows = live.since(cursor)[:STREAM_BATCH]
                    if rows:
                        cursor = rows[-1][0]
                        payload = {"points": [[i, r] for i, r in rows], "count": live.count,
                                   "stride": live.stride, "progress": live.progress}
                        yield f"event: points\ndata: {json.dumps(json_safe(payload))}\n\n"
                        if len(rows) == STREAM_BATCH:
                            continue
                if state["status"] != last_status or state["status"] == "running":
                    last_status = state["status"]
                    yield f"event: status\ndata: {json.dumps(json_safe(state))}\n\n"
                if state["status"] not in ("queued", "running") and (
                        live is None or not live.since(cursor)):
                    yield "event: end\ndata: {}\n\n"
                    return
                if await request.is_disconnected():
                    return
                await asyncio.sleep(STREAM_POLL_S)

        return StreamingResponse(events(), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-store"})

    async def schema(request: Request) -> Response:
        return _json(openapi())

    async def page(request: Request) -> Response:
        return FileResponse(STATIC / "index.html", media_type="text/html")

    routes = [
        Route("/", page),
        Route("/api/stations", stations),
        Route("/api/procedures", procedures_),
        Route("/api/runs", runs, methods=["GET"]),
        Route("/api/runs", submit, methods=["POST"]),
        Route("/api/runs/{run:int}", one, methods=["GET"]),
        Route("/api/runs/{run:int}", delete, methods=["DELETE"]),
        Route("/api/runs/{run:int}", patch, methods=["PATCH"]),
        Route("/api/runs/{run:int}/data", data),
        Route("/api/runs/{run:int}/plot", plot),
        Route("/api/runs/{run:int}/stream", stream),
        Route("/api/openapi.json", schema),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ]
    return Gate(Starlette(routes=routes), token, loopback)
