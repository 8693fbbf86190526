"""HTTP/1.1 for the providers' calls: an httpx transport on asyncio's own transports.

A model's answer streams one token per chunk, so what a client spends per body chunk
decides what relaying a stream costs. httpx's default transport reads through httpcore,
h11 and anyio: about a dozen Python layers a chunk. Here the connection's protocol
parses the response as bytes arrive (status line, headers, Content-Length, chunked or
close-delimited body) inside asyncio's data callback, and a reader that finds decoded
body bytes waiting takes them without awaiting anything. bench/serve.py measures the
difference (docs/performance.md).

What it keeps from httpx: the Request and Response objects, content decoding (gzip and
the rest, in Response.aiter_bytes), and the exceptions (ConnectError, ReadTimeout,
RemoteProtocolError, PoolTimeout, ...), so the providers see no difference. What it
does not do: HTTP/2, proxies (behind a proxy, pool.py gives httpx's own client), Unix
sockets. Connections are pooled per origin with httpx.Limits' meaning: at most
`max_connections` open, `max_keepalive_connections` idle, each idle for at most
`keepalive_expiry` seconds. A request that fails on a reused keep-alive connection
before any byte of the response came back (the server had closed it) is sent again
once on a fresh one, as browsers and urllib3 do.
"""
from __future__ import annotations

import asyncio
import ssl
import time
from collections import deque
from typing import Any, AsyncIterator, Callable

import httpx

_MAX_HEAD = 64 * 1024  # status line and headers
_MAX_LINE = 4096  # a chunk-size or trailer line
_HIGH_WATER = 1 << 20  # decoded body bytes waiting for the reader: pause the socket past this
_DEFAULT_PORTS = {"http": 80, "https": 443}

Origin = tuple[str, str, int]


class _Failure(Exception):
    """A connection-level failure, turned into the httpx exception for the request."""

    def __init__(self, kind: type[httpx.TransportError], message: str, before_response: bool = False) -> None:
        super().__init__(message)
        self.kind = kind
        self.before_response = before_response  # nothing of a response arrived: safe to send again


class Connection(asyncio.Protocol):
    """One HTTP/1.1 connection: parses each response as its bytes arrive."""

    def __init__(self, origin: Origin) -> None:
        self.origin = origin
        self.transport: asyncio.Transport | None = None
        self.idle_since = 0.0
        self._buffer = bytearray()
        self._waiter: asyncio.Future[None] | None = None
        self._drain: asyncio.Future[None] | None = None
        self._lost = False
        self._reset(head_only=False)

    def _reset(self, head_only: bool) -> None:
        self.status = 0
        self.version = b"HTTP/1.1"
        self.reason = b""
        self.headers: list[tuple[bytes, bytes]] = []
        self.reusable = True
        self.head_done = False
        self.done = False  # the whole response has arrived
        self.failure: _Failure | None = None
        self.received = False  # any byte of this response
        self._head_only = head_only
        self._parts: list[bytes] = []
        self._waiting = 0  # decoded body bytes in _parts
        self._paused = False
        self._framing = ""  # "length", "chunked" or "close"
        self._remaining = 0  # of the body, or of the current chunk
        self._chunk_state = "size"  # size, data, crlf, trailer

    # asyncio's side
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.received = True
        if self.done or self.failure is not None:
            self.reusable = False  # bytes past the end of a response: never reuse this connection
            return
        self._buffer += data
        try:
            self._parse()
        except _Failure as exc:
            self._fail(exc)
        self._wake()

    def eof_received(self) -> bool:
        self._ended(None)
        return False  # the transport closes itself

    def connection_lost(self, exc: Exception | None) -> None:
        self._ended(exc)
        drain, self._drain = self._drain, None
        if drain is not None and not drain.done():
            drain.set_result(None)

    def pause_writing(self) -> None:
        if self._drain is None:
            self._drain = asyncio.get_running_loop().create_future()

    def resume_writing(self) -> None:
        drain, self._drain = self._drain, None
        if drain is not None and not drain.done():
            drain.set_result(None)

    def _ended(self, exc: Exception | None) -> None:
        if self._lost:
            return
        self._lost = True
        self.reusable = False
        if self.done or self.failure is not None:
            pass
        elif self.head_done and self._framing == "close" and exc is None:
            self.done = True  # a close-delimited body ends with the connection
        elif not self.received:
            reason = f": {exc}" if exc else ""
            self.failure = _Failure(httpx.RemoteProtocolError, f"the server closed the connection without a response{reason}",
                                    before_response=True)
        elif exc is not None:
            self.failure = _Failure(httpx.ReadError, f"the connection failed mid-response: {exc}")
        else:
            where = "body" if self.head_done else "headers"
            self.failure = _Failure(httpx.RemoteProtocolError,
                                    f"the server closed the connection before the end of the response {where}")
        self._wake()

    def _fail(self, failure: _Failure) -> None:
        self.failure = failure
        self.reusable = False
        if self.transport is not None:
            self.transport.abort()

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    # parsing
    def _parse(self) -> None:
        if not self.head_done and not self._parse_head():
            return
        if not self.done:
            self._parse_body()
        if self.done and self._buffer:
            self.reusable = False  # more than one response's worth of bytes

    def _parse_head(self) -> bool:
        while True:
            end = self._buffer.find(b"\r\n\r\n")
            if end < 0:
                if len(self._buffer) > _MAX_HEAD:
                    raise _Failure(httpx.RemoteProtocolError, f"response headers longer than {_MAX_HEAD} bytes")
                return False
            head = bytes(self._buffer[:end])
            del self._buffer[:end + 4]
            self._read_head(head)
            if not 100 <= self.status < 200:
                return True
            self.headers = []  # an interim response (100 Continue): the real one follows

    def _read_head(self, head: bytes) -> None:
        lines = head.split(b"\r\n")
        parts = lines[0].split(b" ", 2)
        if len(parts) < 2 or parts[0] not in (b"HTTP/1.1", b"HTTP/1.0") or not (len(parts[1]) == 3 and parts[1].isdigit()):
            raise _Failure(httpx.RemoteProtocolError, f"not an HTTP/1.1 status line: {lines[0][:80]!r}")
        self.version, self.status = parts[0], int(parts[1])
        self.reason = parts[2] if len(parts) > 2 else b""
        headers = []
        for line in lines[1:]:
            name, colon, value = line.partition(b":")
            if not colon or not name or name != name.strip():
                raise _Failure(httpx.RemoteProtocolError, f"malformed response header line: {line[:80]!r}")
            headers.append((name, value.strip(b" \t")))
        self.headers = headers
        if 100 <= self.status < 200:
            return
        self.head_done = True
        self._frame(headers)

    def _frame(self, headers: list[tuple[bytes, bytes]]) -> None:
        connection = b",".join(v for n, v in headers if n.lower() == b"connection").lower()
        tokens = {t.strip() for t in connection.split(b",")}
        self.reusable = b"close" not in tokens and (self.version == b"HTTP/1.1" or b"keep-alive" in tokens)
        codings = b",".join(v for n, v in headers if n.lower() == b"transfer-encoding").lower()
        lengths = {v.strip() for n, v in headers if n.lower() == b"content-length"}
        if self._head_only or self.status in (204, 304):
            self.done = True
        elif codings:
            if codings.split(b",")[-1].strip() == b"chunked":
                self._framing = "chunked"
            else:
                self._framing, self.reusable = "close", False
        elif lengths:
            if len(lengths) > 1 or not next(iter(lengths)).isdigit():
                raise _Failure(httpx.RemoteProtocolError, f"bad Content-Length: {b', '.join(sorted(lengths))!r}")
            self._framing, self._remaining = "length", int(next(iter(lengths)))
            self.done = self._remaining == 0
        else:
            self._framing, self.reusable = "close", False

    def _parse_body(self) -> None:
        buffer = self._buffer
        if self._framing == "chunked":
            self._parse_chunks()
        elif self._framing == "length":
            take = min(self._remaining, len(buffer))
            if take:
                self._emit(bytes(buffer[:take]))
                del buffer[:take]
                self._remaining -= take
            self.done = self._remaining == 0
        elif buffer:
            self._emit(bytes(buffer))
            buffer.clear()

    def _parse_chunks(self) -> None:
        buffer = self._buffer
        while buffer:
            state = self._chunk_state
            if state == "data":
                take = min(self._remaining, len(buffer))
                self._emit(bytes(buffer[:take]))
                del buffer[:take]
                self._remaining -= take
                if self._remaining:
                    return
                self._chunk_state = "crlf"
                continue
            if state == "crlf":
                if len(buffer) < 2:
                    return
                if buffer[:2] != b"\r\n":
                    raise _Failure(httpx.RemoteProtocolError, "a chunk did not end in CRLF")
                del buffer[:2]
                self._chunk_state = "size"
                continue
            end = buffer.find(b"\r\n")
            if end < 0:
                if len(buffer) > _MAX_LINE:
                    raise _Failure(httpx.RemoteProtocolError, "a chunk-size line that does not end")
                return
            line = bytes(buffer[:end])
            del buffer[:end + 2]
            if state == "trailer":
                if not line:
                    self.done = True
                    return
                continue  # trailers are not kept
            size = line.split(b";", 1)[0].strip()
            try:
                self._remaining = int(size, 16)
            except ValueError:
                raise _Failure(httpx.RemoteProtocolError, f"bad chunk size: {size[:20]!r}") from None
            if self._remaining < 0 or len(size) > 16:
                raise _Failure(httpx.RemoteProtocolError, f"bad chunk size: {size[:20]!r}")
            self._chunk_state = "data" if self._remaining else "trailer"

    def _emit(self, data: bytes) -> None:
        self._parts.append(data)
        self._waiting += len(data)
        if self._waiting > _HIGH_WATER and not self._paused and self.transport is not None:
            self._paused = True
            self.transport.pause_reading()

    # the request's side
    def usable(self, now: float, expiry: float | None) -> bool:
        """An idle connection that can take a request: open, silent, not expired."""
        return (not self._lost and self.reusable and not self._buffer and self.transport is not None
                and not self.transport.is_closing() and (expiry is None or now - self.idle_since < expiry))

    async def send(self, head: bytes, body: Any, chunked: bool, timeout: float | None) -> None:
        self._reset(head_only=head.startswith(b"HEAD "))
        if self._lost or self.transport is None or self.transport.is_closing():
            raise _Failure(httpx.WriteError, "the connection is closed", before_response=True)
        if isinstance(body, bytes):
            self.transport.write(head + body)
            await self._drained(timeout)
            return
        self.transport.write(head)
        async for piece in body:
            if piece:
                self.transport.write(b"%x\r\n%s\r\n" % (len(piece), piece) if chunked else piece)
                await self._drained(timeout)
        if chunked:
            self.transport.write(b"0\r\n\r\n")
        await self._drained(timeout)

    async def _drained(self, timeout: float | None) -> None:
        drain = self._drain
        if drain is not None:
            try:
                await asyncio.wait_for(asyncio.shield(drain), timeout)
            except asyncio.TimeoutError:
                raise _Failure(httpx.WriteTimeout, f"could not write the request for {timeout:g} s") from None
        if self._lost and not self.received:
            raise _Failure(httpx.WriteError, "the connection closed while sending the request", before_response=True)

    async def wait_head(self, timeout: float | None) -> None:
        while not self.head_done and not self.done:
            await self._wait(timeout)

    async def body(self, timeout: float | None) -> AsyncIterator[bytes]:
        while True:
            parts = self._parts
            if parts:
                data = parts[0] if len(parts) == 1 else b"".join(parts)
                parts.clear()
                self._waiting = 0
                if self._paused and self.transport is not None:
                    self._paused = False
                    self.transport.resume_reading()
                yield data
            elif self.done:
                return
            else:
                await self._wait(timeout)

    async def _wait(self, timeout: float | None) -> None:
        if self.failure is not None:
            raise self.failure
        loop = asyncio.get_running_loop()
        self._waiter = waiter = loop.create_future()
        timer = None if timeout is None else loop.call_later(timeout, _expire, waiter, timeout)
        try:
            await waiter
        finally:
            self._waiter = None
            if timer is not None:
                timer.cancel()
        if self.failure is not None and not self._parts:
            raise self.failure

    def close(self) -> None:
        self.reusable = False
        if self.transport is not None and not self.transport.is_closing():
            self.transport.close()


def _expire(waiter: asyncio.Future[None], timeout: float) -> None:
    if not waiter.done():
        waiter.set_exception(_Failure(httpx.ReadTimeout, f"no data for {timeout:g} s"))


class H1Transport(httpx.AsyncBaseTransport):
    """An httpx transport speaking HTTP/1.1 over pooled asyncio connections."""

    def __init__(self, ssl_context: ssl.SSLContext, limits: httpx.Limits,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._ssl = ssl_context
        self._max_open = limits.max_connections
        self._max_idle = limits.max_keepalive_connections
        self._expiry = limits.keepalive_expiry
        self._clock = clock
        self._idle: dict[Origin, deque[Connection]] = {}
        self._idle_count = 0
        self._open = 0  # connections open or opening
        self._slot_waiters: deque[asyncio.Future[None]] = deque()
        self._closed = False

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        if url.scheme not in _DEFAULT_PORTS:
            raise httpx.UnsupportedProtocol(f"h1 speaks http and https, not {url.scheme!r}", request=request)
        origin = (url.scheme, url.host, url.port or _DEFAULT_PORTS[url.scheme])
        timeout = request.extensions.get("timeout", {})
        head, body, chunked = _serialize(request)
        for attempt in (0, 1):
            connection, reused = await self._acquire(origin, timeout, request, fresh=attempt > 0)
            try:
                await connection.send(head, body, chunked, timeout.get("write"))
                await connection.wait_head(timeout.get("read"))
            except _Failure as exc:
                self._discard(connection)
                if reused and exc.before_response and attempt == 0 and isinstance(body, bytes):
                    continue  # the server had closed the idle connection: once more, on a fresh one
                raise exc.kind(str(exc), request=request) from None
            except BaseException:
                self._discard(connection)
                raise
            break
        stream = _Body(self, connection, timeout.get("read"), request)
        return httpx.Response(connection.status, headers=connection.headers, stream=stream,
                              extensions={"http_version": connection.version, "reason_phrase": connection.reason})

    async def _acquire(self, origin: Origin, timeout: dict[str, Any], request: httpx.Request,
                       fresh: bool = False) -> tuple[Connection, bool]:
        if self._closed:
            raise RuntimeError("the transport is closed")
        deadline = None if timeout.get("pool") is None else self._clock() + timeout["pool"]
        while True:
            idle = None if fresh else self._idle.get(origin)
            now = self._clock()
            while idle:
                connection = idle.pop()  # the most recently used: the likeliest still open
                self._idle_count -= 1
                if connection.usable(now, self._expiry):
                    return connection, True
                self._discard(connection)
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
        """Close an idle connection to another origin, to make room."""
        for idle in self._idle.values():
            if idle:
                self._idle_count -= 1
                self._discard(idle.popleft())
                return True
        return False

    async def _wait_for_slot(self, deadline: float | None, request: httpx.Request) -> None:
        waiter = asyncio.get_running_loop().create_future()
        self._slot_waiters.append(waiter)
        try:
            await asyncio.wait_for(waiter, None if deadline is None else max(0.0, deadline - self._clock()))
        except asyncio.TimeoutError:
            raise httpx.PoolTimeout("no connection became free within the pool timeout", request=request) from None
        finally:
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
        tls = {"ssl": self._ssl, "server_hostname": host} if scheme == "https" else {}
        try:
            _, connection = await asyncio.wait_for(
                loop.create_connection(lambda: Connection(origin), host, port, **tls), timeout)
        except asyncio.TimeoutError:
            raise httpx.ConnectTimeout(f"could not connect to {host}:{port} in {timeout:g} s", request=request) from None
        except (OSError, ssl.SSLError) as exc:
            raise httpx.ConnectError(f"could not connect to {host}:{port}: {exc}", request=request) from exc
        return connection

    def release(self, connection: Connection) -> None:
        """A response read to its end: keep its connection for the next request, or close it."""
        if self._closed or not connection.done or not connection.reusable or (
                self._max_idle is not None and self._idle_count >= self._max_idle):
            self._discard(connection)
            return
        connection.idle_since = self._clock()
        self._idle.setdefault(connection.origin, deque()).append(connection)
        self._idle_count += 1
        self._wake_one()

    def _discard(self, connection: Connection) -> None:
        connection.close()
        self._open -= 1
        self._wake_one()

    async def aclose(self) -> None:
        self._closed = True
        for idle in self._idle.values():
            while idle:
                self._discard(idle.popleft())
        self._idle_count = 0


class _Body(httpx.AsyncByteStream):
    """A response body: its connection goes back to the pool once read to the end,
    and is closed if the reader stops early."""

    def __init__(self, transport: H1Transport, connection: Connection, timeout: float | None, request: httpx.Request) -> None:
        self._transport = transport
        self._connection: Connection | None = connection
        self._timeout = timeout
        self._request = request

    async def __aiter__(self) -> AsyncIterator[bytes]:
        connection = self._connection
        if connection is None:
            return
        try:
            async for data in connection.body(self._timeout):
                yield data
        except _Failure as exc:
            raise exc.kind(str(exc), request=self._request) from None
        if connection.done:
            self._connection = None
            self._transport.release(connection)

    async def aclose(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            self._transport._discard(connection)


def _serialize(request: httpx.Request) -> tuple[bytes, Any, bool]:
    """The request line and headers, and the body: bytes, or the request's stream
    (chunked when the headers say so)."""
    target = request.url.raw_path or b"/"
    lines = [b"%s %s HTTP/1.1" % (request.method.encode("ascii"), target)]
    chunked = False
    for name, value in request.headers.raw:
        if b"\r" in name or b"\n" in name or b"\r" in value or b"\n" in value or b"\r" in target or b"\n" in target:
            raise httpx.LocalProtocolError("a request header or target contains CR or LF", request=request)
        if name.lower() == b"transfer-encoding" and value.lower() == b"chunked":
            chunked = True
        lines.append(name + b": " + value)
    head = b"\r\n".join(lines) + b"\r\n\r\n"
    try:
        body: Any = request.content
    except httpx.RequestNotRead:
        body = request.stream
    return head, body, chunked
