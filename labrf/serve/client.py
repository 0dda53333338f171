"""``labrf run ... --server URL`` and ``labrf runs --server URL``: a run submitted to a
server and followed in the terminal, and the server's queue listed; the standard library
only (urllib), so the CLI needs nothing of the web stack."""

from __future__ import annotations

import json
import os
import sys
import urllib.error
import urllib.request
from typing import Any, TextIO

from labrf.clock import Clock, WallClock
from labrf.errors import LabrfError, UsageError
from labrf.serve.security import TOKEN_ENV

FOLLOW_S = 0.5  #: s between two looks at a followed run


class ServerClient:
    """The API of the server at ``url`` (``http://host:port``), with ``token`` if set
    (default: the ``LABRF_SERVE_TOKEN`` environment variable); ``clock`` paces the
    following of a run (the wall clock: the server runs on its own)."""

    def __init__(self, url: str, token: str | None = None, timeout: float = 30.0,
                 clock: Clock | None = None) -> None:
        if not url.startswith(("http://", "https://")):
            raise UsageError(f"--server {url!r}: give the server's address, e.g. "
                             "http://127.0.0.1:8765")
        self.url, self.timeout = url.rstrip("/"), timeout
        self.clock = clock if clock is not None else WallClock()
        self.token = token if token is not None else os.environ.get(TOKEN_ENV)

    def call(self, method: str, path: str, body: Any = None) -> Any:
        """The decoded JSON answer; LabrfError with the server's message otherwise."""
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.url + path, data=data, method=method)
        request.add_header("Content-Type", "application/json")
        if self.token:
            request.add_header("Authorization", f"Bearer {self.token}")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                return json.loads(response.read() or b"null")
        except urllib.error.HTTPError as exc:
            try:
                detail = json.loads(exc.read()).get("detail", exc.reason)
            except (ValueError, AttributeError):
                detail = exc.reason
            cls = UsageError if exc.code in (404, 422) else LabrfError
            raise cls(f"server {self.url}: {detail} (HTTP {exc.code})") from None
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise LabrfError(f"cannot reach the server {self.url}: {reason} (is labrf "
                             "serve running there?)") from None

    def submit(self, procedure: str, station: str, parameters: dict[str, Any],
               sample: str = "sample") -> dict[str, Any]:
        return self.call("POST", "/api/runs", {"procedure": procedure, "station": station,
                                               "parameters": parameters, "sample": sample})

    def run(self, run: int) -> dict[str, Any]:
        return self.call("GET", f"/api/runs/{run}")

    def follow(self, run: int, out: TextIO | None = sys.stderr) -> dict[str, Any]:
        """Wait for ``run`` to end, drawing its progress on ``out``; Ctrl-C aborts it on
        the server (the bench made safe there) and waits for that."""
        shown = None
        aborting = False
        while True:
            try:
                state = self.run(run)
                if out is not None:
                    text = (f"\rrun {run} {state['status']:<9} {state['progress']:5.1f} %  "
                            f"{state['points']} points" + (
                                f"  ETA {state['eta_s']:.0f} s" if state.get("eta_s") else ""))
                    if text != shown:
                        out.write(text.ljust(70))
                        out.flush()
                        shown = text
                if state["status"] not in ("queued", "running"):
                    if out is not None:
                        out.write("\n")
                    return state
                self.clock.sleep(FOLLOW_S)
            except KeyboardInterrupt:
                if aborting:
                    raise
                aborting = True
                if out is not None:
                    out.write(f"\nlabrf: aborting run {run} on the server\n")
                self.call("DELETE", f"/api/runs/{run}")


def print_runs(runs: list[dict[str, Any]]) -> None:
    """The server's runs as ``labrf runs`` prints the database's."""
    print(f"{'id':>4}  {'station':<16}{'procedure':<22}{'status':<12}{'points':>7}"
          f"{'progress':>10}  dataset run")
    for r in runs:
        print(f"{r['id']:>4}  {r['station']:<16}{r['procedure']:<22}{r['status']:<12}"
              f"{r['points']:>7}{r['progress']:>9.1f}%  {r.get('run_id') or ''}")
