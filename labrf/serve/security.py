"""The server's gatekeeper, an ASGI middleware in front of everything it serves: a token
on every API call and stream when one is set (401 without it), cross-origin requests
refused (403), requests for another host name refused while bound to loopback (so that a
web page elsewhere cannot reach the bench by DNS rebinding), and bodies bounded (413).
"""

from __future__ import annotations

import hmac
import ipaddress
import json
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qs

MAX_BODY = 64 * 1024  #: bytes, the largest request body accepted
LOOPBACK_NAMES = ("localhost", "127.0.0.1", "[::1]", "::1")
TOKEN_ENV = "LABRF_SERVE_TOKEN"  #: the environment variable that may hold the token

ASGIApp = Callable[[dict[str, Any], Callable[..., Awaitable[Any]],
                    Callable[..., Awaitable[Any]]], Awaitable[None]]


def is_loopback(host: str) -> bool:
    """Whether ``host`` (a name or an address) is this machine only."""
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


async def _refuse(send: Callable[..., Awaitable[Any]], status: int, message: str) -> None:
    body = json.dumps({"detail": message}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


class Gate:
    """Wraps ``app``; ``token`` None: no token (loopback only, which ``labrf serve``
    enforces)."""

    def __init__(self, app: ASGIApp, token: str | None, loopback: bool) -> None:
        self.app, self.token, self.loopback = app, token, loopback

    def _authorized(self, headers: dict[bytes, bytes], query: str) -> bool:
        if self.token is None:
            return True
        given = headers.get(b"authorization", b"").decode("latin-1")
        if given.lower().startswith("bearer "):
            given = given[7:].strip()
        else:
            given = parse_qs(query).get("token", [""])[0]  # EventSource sends no headers
        return bool(given) and hmac.compare_digest(given.encode(), self.token.encode())

    async def __call__(self, scope: dict[str, Any], receive: Callable[..., Awaitable[Any]],
                       send: Callable[..., Awaitable[Any]]) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        host = headers.get(b"host", b"").decode("latin-1")
        hostname = host.rsplit(":", 1)[0] if not host.startswith("[") else \
            host.split("]")[0] + "]"
        if self.loopback and self.token is None and not is_loopback(hostname):
            await _refuse(send, 403, f"host {host!r} refused: this server answers only "
                          "to localhost")
            return
        origin = headers.get(b"origin", b"").decode("latin-1")
        if origin and origin not in (f"http://{host}", f"https://{host}"):
            await _refuse(send, 403, f"cross-origin request from {origin} refused")
            return
        if headers.get(b"sec-fetch-site", b"") == b"cross-site":
            await _refuse(send, 403, "cross-site request refused")
            return
        length = headers.get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > MAX_BODY):
            await _refuse(send, 413, f"request body over {MAX_BODY} bytes")
            return
        if scope["path"].startswith("/api/") and not self._authorized(
                headers, scope.get("query_string", b"").decode("latin-1")):
            await _refuse(send, 401, "a token is needed: Authorization: Bearer TOKEN (or "
                          "?token=TOKEN on a stream)")
            return
        received = 0

        async def bounded() -> Any:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > MAX_BODY:
                    raise BodyTooLarge
            return message

        try:
            await self.app(scope, bounded, send)
        except BodyTooLarge:
            await _refuse(send, 413, f"request body over {MAX_BODY} bytes")


class BodyTooLarge(Exception):
    """A chunked body that went past ``MAX_BODY``."""
