"""HTTP/1.1 for the providers' calls: an httpx transport on asyncio's own transports.

A model's answer streams one token per chunk, so what a client spends per body chunk
decides what relaying a stream costs. httpx's default transport reads through httpcore,
h11 and anyio: about a dozen Python layers a chunk. Here each connection's protocol
parses the response as bytes arrive (h1conn.py), and a reader that finds decoded body
bytes waiting takes them without awaiting anything. bench/transport.py measures the
difference (docs/performance.md).

What it keeps from httpx: the Request and Response objects, content decoding (gzip and
the rest, in Response.aiter_bytes) and the exceptions (ConnectError, ReadTimeout,
RemoteProtocolError, PoolTimeout, ...), so the providers see no difference. What it
does not do: HTTP/2 (ALPN offers only http/1.1), proxies (behind one, pool.py gives
httpx's own client), Unix sockets, upgrades.

Connections are pooled per origin with httpx.Limits' meaning: at most
`max_connections` open, `max_keepalive_connections` idle, each idle for at most
`keepalive_expiry` seconds. A request whose reused keep-alive connection turns out to
be closed is sent again, once, on a fresh connection when that cannot run it twice:
nothing of it had been written, or it is idempotent (GET, HEAD, OPTIONS, TRACE, or an
`Idempotency-Key` header) and no byte of a response came back. A POST that was sent is
never sent again here (a provider call retried blindly could be billed twice); the
providers' own retry policy decides.
"""
from __future__ import annotations

import asyncio
import inspect
import ssl
import time
from collections import deque
from typing import Any, AsyncIterator, Callable

import httpx

from cascadectl.providers.http.h1conn import Connection, Origin
from cascadectl.providers.http.h1head import Failure, check_token

_DEFAULT_PORTS = {"http": 80, "https": 443}
_IDEMPOTENT = frozenset((b"GET", b"HEAD", b"OPTIONS", b"TRACE"))
_EYEBALLS: dict[type, bool] = {}  # per event-loop class: does create_connection take happy_eyeballs_delay


class H1Transport(httpx.AsyncBaseTransport):
    """An httpx transport speaking HTTP/1.1 over pooled asyncio connections."""

    def __init__(self, ssl_context: ssl.SSLContext, limits: httpx.Limits,
                 clock: Callable[[], float] = time.monotonic) -> None:
        ssl_context.set_alpn_protocols(["http/1.1"])
        self._ssl = ssl_context
        self._max_open = limits.max_connections
        self._max_idle = limits.max_keepalive_connections
        self._expiry = limits.keepalive_expiry
        self._clock = clock
        self._idle: dict[Origin, deque[Connection]] = {}
        self._idle_count = 0
        self._open = 0  # connections open or opening, idle or in use
        self._slot_waiters: deque[asyncio.Future[None]] = deque()
        self._closed = False

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        if url.scheme not in _DEFAULT_PORTS:
            raise httpx.UnsupportedProtocol(f"h1 speaks http and https, not {url.scheme!r}", request=request)
        origin = (url.scheme, url.raw_host.decode("ascii"), url.port or _DEFAULT_PORTS[url.scheme])
        timeout = request.extensions.get("timeout", {})
        head, body, chunked = _serialize(request)
        for attempt in (0, 1):
            connection, reused = await self._acquire(origin, timeout, request, fresh=attempt > 0)
            try:
                await connection.send(head, body, chunked, timeout.get("write"))
                await connection.wait_head(timeout.get("read"))
            except Failure as exc:
                self.discard(connection)
                if attempt == 0 and reused and isinstance(body, bytes) and (
                        exc.unsent or (exc.before_response and _idempotent(request))):
                    continue  # the server had closed the kept connection: once more, on a fresh one
                raise exc.kind(str(exc), request=request) from None
            except BaseException:
                self.discard(connection)
                raise
            break
        if _closes(request):
            connection.reusable = False
        stream = ResponseBody(self, connection, timeout.get("read"), request)
        return httpx.Response(connection.status, headers=connection.headers, stream=stream,
                              extensions={"http_version": connection.version, "reason_phrase": connection.reason})

    # the pool ------------------------------------------------------------------------
    async def _acquire(self, origin: Origin, timeout: dict[str, Any], request: httpx.Request,
                       fresh: bool = False) -> tuple[Connection, bool]:
        deadline = None if timeout.get("pool") is None else self._clock() + timeout["pool"]
        while True:
            if self._closed:
                raise httpx.PoolTimeout("the transport is closed", request=request)
            idle = None if fresh else self._idle.get(origin)
            now = self._clock()
            while idle:
                connection = idle.pop()  # the most recently used: the likeliest still open
                self._idle_count -= 1
                if connection.usable(now, self._expiry):
                    return connection, True
                self.discard(connection)
            if self._max_open is None or self._open < self._max_open or self._evict_one():
                break
            await self._wait_for_slot(deadline, request)
        self._open += 1
        try:
            return await self._connect(origin, timeout.get("connect"), request), False
        except BaseException:
            self._open -= 1
            self._wake_one()
            raise

    def _evict_one(self) -> bool:
        """Close an idle connection (to another origin), to make room."""
        for origin, idle in list(self._idle.items()):
            if idle:
                self._idle_count -= 1
                self.discard(idle.popleft())
                return True
            del self._idle[origin]
        return False

    async def _wait_for_slot(self, deadline: float | None, request: httpx.Request) -> None:
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[None] = loop.create_future()
        self._slot_waiters.append(waiter)
        timer = None
        if deadline is not None:
            timer = loop.call_later(max(0.0, deadline - self._clock()), _time_out, waiter, request)
        try:
            await waiter
        except BaseException:
            if waiter.done() and not waiter.cancelled() and waiter.exception() is None:
                self._wake_one()  # handed a slot this request will not use: pass it on
            raise
        finally:
            if timer is not None:
                timer.cancel()
            if waiter in self._slot_waiters:
                self._slot_waiters.remove(waiter)

    def _wake_one(self) -> None:
        while self._slot_waiters:
            waiter = self._slot_waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return

    async def _connect(self, origin: Origin, timeout: float | None, request: httpx.Request) -> Connection:
        scheme, host, port = origin
        loop = asyncio.get_running_loop()
        options: dict[str, Any] = {"ssl": self._ssl, "server_hostname": host} if scheme == "https" else {}
        if _happy_eyeballs(loop):
            options.update(happy_eyeballs_delay=0.25, interleave=1)
        try:
            _, connection = await asyncio.wait_for(
                loop.create_connection(lambda: Connection(origin), host, port, **options), timeout)
        except (OSError, ssl.SSLError) as exc:  # on 3.11+ a TimeoutError is an OSError too
            if isinstance(exc, asyncio.TimeoutError) and getattr(exc, "errno", None) is None:
                raise httpx.ConnectTimeout(f"could not connect to {host}:{port} within {timeout} s",
                                           request=request) from None
            raise httpx.ConnectError(f"could not connect to {host}:{port}: {exc}", request=request) from exc
        except asyncio.TimeoutError:  # Python 3.10: not an OSError
            raise httpx.ConnectTimeout(f"could not connect to {host}:{port} within {timeout} s",
                                       request=request) from None
        ssl_object = connection.transport.get_extra_info("ssl_object") if connection.transport else None
        if ssl_object is not None and ssl_object.selected_alpn_protocol() not in (None, "http/1.1"):
            connection.close()
            raise httpx.ConnectError(f"{host}:{port} chose {ssl_object.selected_alpn_protocol()}, not HTTP/1.1",
                                     request=request)
        return connection

    def release(self, connection: Connection) -> None:
        """A response read to its end: keep its connection for the next request, or close it."""
        if self._closed or not connection.done or not connection.reusable:
            self.discard(connection)
            return
        if self._max_idle is not None and self._idle_count >= self._max_idle:
            self._purge()
            if self._idle_count >= self._max_idle:
                self.discard(connection)
                return
        connection.idle_since = self._clock()
        self._idle.setdefault(connection.origin, deque()).append(connection)
        self._idle_count += 1
        self._wake_one()

    def _purge(self) -> None:
        """Close idle connections the server has closed, or that expired."""
        now = self._clock()
        for origin, idle in list(self._idle.items()):
            alive = deque(c for c in idle if c.usable(now, self._expiry))
            for connection in idle:
                if connection not in alive:
                    self._idle_count -= 1
                    self.discard(connection)
            if alive:
                self._idle[origin] = alive
            else:
                del self._idle[origin]

    def discard(self, connection: Connection) -> None:
        """Close a connection and free its slot."""
        connection.close()
        if not connection.discarded:  # a slot is given back once, whoever closes first
            connection.discarded = True
            self._open -= 1
            self._wake_one()

    async def aclose(self) -> None:
        self._closed = True
        for idle in self._idle.values():
            while idle:
                self.discard(idle.popleft())
        self._idle.clear()
        self._idle_count = 0
        while self._slot_waiters:
            waiter = self._slot_waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)  # its request wakes, sees the transport closed, and fails


def _time_out(waiter: asyncio.Future[None], request: httpx.Request) -> None:
    if not waiter.done():
        waiter.set_exception(httpx.PoolTimeout("no connection became free within the pool timeout", request=request))


def _happy_eyeballs(loop: asyncio.AbstractEventLoop) -> bool:
    """Whether this loop's create_connection races IPv6 and IPv4 addresses (asyncio's
    does; uvloop's takes no such argument and tries them in turn)."""
    kind = type(loop)
    if kind not in _EYEBALLS:
        _EYEBALLS[kind] = "happy_eyeballs_delay" in inspect.signature(loop.create_connection).parameters
    return _EYEBALLS[kind]


class ResponseBody(httpx.AsyncByteStream):
    """A response body: its connection goes back to the pool once read to the end,
    and is closed if the reader stops early."""

    def __init__(self, transport: H1Transport, connection: Connection, timeout: float | None, request: httpx.Request) -> None:
        self._transport = transport
        self._connection: Connection | None = connection
        self._timeout = timeout
        self._request = request

    def __aiter__(self) -> AsyncIterator[bytes]:
        connection = self._connection
        if connection is None:
            return _nothing()
        return connection.body(self._timeout, self._request, self._finished)  # the connection's own: no layer here

    def _finished(self, connection: Connection, complete: bool) -> None:
        if self._connection is connection:  # not closed meanwhile
            self._connection = None
            if complete:
                self._transport.release(connection)
            else:
                self._transport.discard(connection)

    async def aclose(self) -> None:
        connection, self._connection = self._connection, None
        if connection is None:
            return
        if connection.done and not connection.has_unread():
            self._transport.release(connection)  # complete already (HEAD, 204, read whole)
        else:
            self._transport.discard(connection)


async def _nothing() -> AsyncIterator[bytes]:
    return
    yield  # an async generator with nothing to give


def _serialize(request: httpx.Request) -> tuple[bytes, Any, bool]:
    """The request line and headers, and the body: bytes, or the request's stream
    (chunked when the headers say so)."""
    method, target = request.method.encode("ascii", "replace"), request.url.raw_path or b"/"
    if not check_token(method) or b"\r" in target or b"\n" in target or b" " in target:
        raise httpx.LocalProtocolError(f"not a valid request line: {method[:20]!r} {target[:80]!r}", request=request)
    lines = [b"%s %s HTTP/1.1" % (method, target)]
    chunked = False
    for name, value in request.headers.raw:
        if not check_token(name) or b"\r" in value or b"\n" in value or b"\0" in value:
            raise httpx.LocalProtocolError(f"not a valid request header: {name[:40]!r}", request=request)
        if name.lower() == b"transfer-encoding":
            chunked = value.strip().lower().endswith(b"chunked")
        lines.append(name + b": " + value)
    head = b"\r\n".join(lines) + b"\r\n\r\n"
    try:
        body: Any = request.content
    except httpx.RequestNotRead:
        body = request.stream
    return head, body, chunked


def _idempotent(request: httpx.Request) -> bool:
    return request.method.encode("ascii", "replace") in _IDEMPOTENT or "idempotency-key" in request.headers


def _closes(request: httpx.Request) -> bool:
    return "close" in request.headers.get("connection", "").lower()
