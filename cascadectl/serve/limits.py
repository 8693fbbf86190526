"""Who may call, how many at once, how big: ASGI middleware and the body reader.

`BearerAuth` guards /v1/* (never /health, so load balancers can probe it) and
compares keys in constant time; `InFlightLimit` answers 429 with Retry-After once
--max-concurrency chat completions are in flight in this worker, counting a
streamed answer until its last byte; `read_body` stops at --max-body-bytes.
"""
from __future__ import annotations

import asyncio
import hmac

from cascadectl.serve.errors import bad_request, too_large, too_many, unauthorized
from cascadectl.serve.relay import ASGIApp, Receive, Scope, Send, send_error

LIMITED_PATHS = frozenset({"/v1/chat/completions"})


class BearerAuth:
    def __init__(self, app: ASGIApp, key: str | None) -> None:
        self.app = app
        self.key = None if key is None else key.encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.key is None or scope["type"] != "http" or not _guarded(scope["path"]):
            await self.app(scope, receive, send)
            return
        given = _bearer(scope)
        if given is None:
            await send_error(scope, receive, send, unauthorized("missing API key: send 'Authorization: Bearer <key>'"))
        elif not hmac.compare_digest(given, self.key):
            await send_error(scope, receive, send, unauthorized("incorrect API key"))
        else:
            await self.app(scope, receive, send)


def _guarded(path: str) -> bool:
    return path == "/v1" or path.startswith("/v1/")


def _header(scope: Scope, wanted: bytes) -> bytes | None:
    """The first value of the request header `wanted` (lower case), or None."""
    for name, value in scope.get("headers") or ():
        if name.lower() == wanted:
            return bytes(value)
    return None


def _bearer(scope: Scope) -> bytes | None:
    header = _header(scope, b"authorization")
    if header is None:
        return None
    scheme, _, token = header.partition(b" ")
    return token.strip() if scheme.lower() == b"bearer" and token.strip() else None


class InFlight:
    """Chat completions in flight in this worker, shared by the limit, /health and shutdown."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.now = 0
        self._idle = asyncio.Event()
        self._idle.set()

    def enter(self) -> None:
        self.now += 1  # one event loop per worker: no lock needed
        self._idle.clear()

    def leave(self) -> None:
        self.now -= 1
        if self.now == 0:
            self._idle.set()

    async def drained(self, timeout: float) -> bool:
        """Wait until none is in flight; False if some still are after `timeout` seconds."""
        try:
            await asyncio.wait_for(self._idle.wait(), timeout)
        except asyncio.TimeoutError:
            return False
        return True


class InFlightLimit:
    def __init__(self, app: ASGIApp, gauge: InFlight) -> None:
        self.app = app
        self.gauge = gauge

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] not in LIMITED_PATHS:
            await self.app(scope, receive, send)
            return
        gauge = self.gauge
        if gauge.now >= gauge.limit:
            await send_error(scope, receive, send, too_many(gauge.limit))
            return
        gauge.enter()
        try:
            await self.app(scope, receive, send)
        finally:
            gauge.leave()


async def read_body(scope: Scope, receive: Receive, limit: int) -> bytes:
    """The whole body, or 413 as soon as it is known to be too large."""
    declared = _header(scope, b"content-length") or b""
    if declared.isdigit() and int(declared) > limit:
        raise too_large(limit)
    parts: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":  # gone before its body arrived: nobody reads this answer
            raise bad_request("the client disconnected while sending the request")
        part = message.get("body", b"")
        size += len(part)
        if size > limit:
            raise too_large(limit)
        parts.append(part)
        if not message.get("more_body", False):
            return b"".join(parts)
