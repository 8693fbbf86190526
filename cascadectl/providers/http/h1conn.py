"""One HTTP/1.1 client connection (for h1.py's transport): an asyncio protocol that
parses each response as its bytes arrive.

The parse runs inside asyncio's data callback, over the bytes just received (with
offsets, no copying into a buffer first): status line, headers, then the body by its
framing (Content-Length, `Transfer-Encoding: chunked`, or until the server closes;
h1head.py reads the head and decides the framing).
Decoded body bytes wait in a list for the reader, who takes them without awaiting
anything when they are already there. A response that breaks the protocol aborts the
connection and fails the request with RemoteProtocolError.
"""
from __future__ import annotations

import asyncio
import re
from typing import Any, AsyncIterator, Callable

import httpx

from cascadectl.providers.http.h1head import Failure, read_head

MAX_HEAD = 64 * 1024  # status line and headers
_MAX_LINE = 4096  # a chunk-size or trailer line
HIGH_WATER = 1 << 20  # decoded body bytes waiting for the reader: pause the socket past this
_CHUNK_SIZE = re.compile(rb"[0-9A-Fa-f]{1,16}")

Origin = tuple[str, str, int]


class Connection(asyncio.Protocol):
    def __init__(self, origin: Origin) -> None:
        self.origin = origin
        self.transport: asyncio.Transport | None = None
        self.idle_since = 0.0
        self.discarded = False  # the pool has given back this connection's slot
        self.lost = False
        self._pending = b""  # received bytes not parsed yet (a partial line or head)
        self._waiter: asyncio.Future[None] | None = None
        self._drain: asyncio.Future[None] | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._deadline: float | None = None
        self._timeout = 0.0
        # Its transport's loop, once known: asyncio.get_running_loop() makes a getpid()
        # system call each time, and a wait is made for every chunk.
        self._loop: asyncio.AbstractEventLoop | None = None
        self.reset(head_only=False)

    def reset(self, head_only: bool) -> None:
        self.status = 0
        self.version = b"HTTP/1.1"
        self.reason = b""
        self.headers: list[tuple[bytes, bytes]] = []
        self.reusable = True
        self.head_done = False
        self.done = False  # the whole response has arrived
        self.failure: Failure | None = None
        self.received = False  # any byte of this response
        self._head_only = head_only
        self._parts: list[bytes] = []
        self._waiting = 0  # decoded body bytes in _parts
        self._paused = False
        self._framing = ""  # "length", "chunked" or "close"
        self._remaining = 0  # of the body, or of the current chunk
        self._chunk_state = "size"  # size, data, crlf, trailer

    # asyncio's side ----------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.received = True
        if self.done or self.failure is not None:
            self.reusable = False  # bytes past the end of a response: never reuse this connection
            return
        if self._pending:
            data, self._pending = self._pending + data, b""
        try:
            used = self._parse(data)
        except Failure as exc:
            self._fail(exc)
        else:
            if used < len(data):
                if self.done:
                    self.reusable = False  # more than one response's worth of bytes
                else:
                    self._pending = data[used:]
        self._wake()

    def eof_received(self) -> bool:
        self._ended(None)
        return False  # the transport closes itself

    def connection_lost(self, exc: Exception | None) -> None:
        self._ended(exc)
        self.resume_writing()

    def pause_writing(self) -> None:
        if self._drain is None:
            self._drain = asyncio.get_running_loop().create_future()

    def resume_writing(self) -> None:
        drain, self._drain = self._drain, None
        if drain is not None and not drain.done():
            drain.set_result(None)

    def _ended(self, exc: Exception | None) -> None:
        if self.lost:
            return
        self.lost = True
        self.reusable = False
        if self.done or self.failure is not None:
            pass
        elif self.head_done and self._framing == "close" and exc is None:
            self.done = True  # a close-delimited body ends with the connection
        elif not self.received:
            reason = f": {exc}" if exc else ""
            self.failure = Failure(httpx.RemoteProtocolError,
                                   f"the server closed the connection without a response{reason}", before_response=True)
        elif exc is not None:
            self.failure = Failure(httpx.ReadError, f"the connection failed mid-response: {exc}")
        else:
            where = "body" if self.head_done else "headers"
            self.failure = Failure(httpx.RemoteProtocolError,
                                   f"the server closed the connection before the end of the response {where}")
        self._wake()

    def _fail(self, failure: Failure) -> None:
        self.failure = failure
        self.reusable = False
        if self.transport is not None:
            self.transport.abort()

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    # parsing: each step takes bytes from `data` at `pos` and returns the new position --
    def _parse(self, data: bytes) -> int:
        pos = 0
        if not self.head_done:
            pos = self._parse_head(data)
            if not self.head_done:
                return pos
        if self.done:
            return pos
        if self._framing == "chunked":
            return self._parse_chunks(data, pos)
        if self._framing == "length":
            take = min(self._remaining, len(data) - pos)
            if take:
                self._emit(data if take == len(data) else data[pos:pos + take])
                self._remaining -= take
            self.done = self._remaining == 0
            return pos + take
        if pos < len(data):
            self._emit(data[pos:] if pos else data)
        return len(data)

    def _parse_head(self, data: bytes) -> int:
        pos = 0
        while not self.head_done:
            crlf, lf = data.find(b"\r\n\r\n", pos), data.find(b"\n\n", pos)
            if crlf < 0 and lf < 0:
                if len(data) - pos > MAX_HEAD:
                    raise Failure(httpx.RemoteProtocolError, f"response headers longer than {MAX_HEAD} bytes")
                return pos
            end, after = (crlf, crlf + 4) if lf < 0 or 0 <= crlf < lf else (lf, lf + 2)
            if end - pos > MAX_HEAD:
                raise Failure(httpx.RemoteProtocolError, f"response headers longer than {MAX_HEAD} bytes")
            self._read_head(data[pos:end])
            pos = after
        return pos

    def _read_head(self, head: bytes) -> None:
        parsed = read_head(head, self._head_only)
        if parsed is None:
            return  # an interim response (100 Continue): the real one follows
        self.version, self.status, self.reason, self.headers = parsed.version, parsed.status, parsed.reason, parsed.headers
        self.reusable, self.done = parsed.reusable, parsed.done
        self._framing, self._remaining = parsed.framing, parsed.remaining
        self.head_done = True

    def _parse_chunks(self, data: bytes, pos: int) -> int:
        end_of_data = len(data)
        state, remaining = self._chunk_state, self._remaining
        try:
            while pos < end_of_data:
                if state == "data":
                    take = min(remaining, end_of_data - pos)
                    self._emit(data if take == end_of_data else data[pos:pos + take])
                    pos += take
                    remaining -= take
                    if remaining:
                        break
                    state = "crlf"
                elif state == "crlf":
                    if end_of_data - pos < 2:
                        break
                    if data[pos:pos + 2] != b"\r\n":
                        raise Failure(httpx.RemoteProtocolError, "a chunk did not end in CRLF")
                    pos += 2
                    state = "size"
                else:  # a size or trailer line
                    end = data.find(b"\r\n", pos)
                    if end < 0:
                        if end_of_data - pos > _MAX_LINE:
                            raise Failure(httpx.RemoteProtocolError, "a chunk-size or trailer line that does not end")
                        break
                    line = data[pos:end]
                    pos = end + 2
                    if state == "trailer":
                        if not line:
                            self.done = True
                            break
                        continue  # trailers are not kept
                    size = line.split(b";", 1)[0].strip(b" \t")
                    if not _CHUNK_SIZE.fullmatch(size):
                        raise Failure(httpx.RemoteProtocolError, f"bad chunk size: {size[:20]!r}")
                    remaining = int(size, 16)
                    state = "data" if remaining else "trailer"
        finally:
            self._chunk_state, self._remaining = state, remaining
        return pos

    def _emit(self, data: bytes) -> None:
        self._parts.append(data)
        self._waiting += len(data)
        if self._waiting > HIGH_WATER and not self._paused and self.transport is not None:
            self._paused = True
            self.transport.pause_reading()

    # the request's side ------------------------------------------------------------
    def usable(self, now: float, expiry: float | None) -> bool:
        """An idle connection that can take a request: open, silent, not expired."""
        return (not self.lost and self.reusable and not self._pending and self.transport is not None
                and not self.transport.is_closing() and (expiry is None or now - self.idle_since < expiry))

    async def send(self, head: bytes, body: Any, chunked: bool, timeout: float | None) -> None:
        self.reset(head_only=head.startswith(b"HEAD "))
        transport = self.transport
        if self.lost or transport is None or transport.is_closing():
            raise Failure(httpx.WriteError, "the connection is closed", unsent=True)
        if isinstance(body, bytes):
            framed = (b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body) if body else b"0\r\n\r\n") if chunked else body
            transport.write(head + framed)
            await self._drained(timeout)
            return
        transport.write(head)
        async for piece in body:
            if self.lost or self.received:
                break  # the server answered (or went) before the whole body: stop sending it
            if piece:
                transport.write(b"%x\r\n%s\r\n" % (len(piece), piece) if chunked else piece)
                await self._drained(timeout)
        else:
            if chunked:
                transport.write(b"0\r\n\r\n")
            await self._drained(timeout)

    async def _drained(self, timeout: float | None) -> None:
        drain = self._drain
        if drain is not None:
            loop = asyncio.get_running_loop()
            timer = None if timeout is None else loop.call_later(timeout, _expire, drain, httpx.WriteTimeout,
                                                                  f"could not write the request for {timeout:g} s")
            try:
                await asyncio.shield(drain)
            finally:
                if timer is not None:
                    timer.cancel()
        if self.lost and not self.received:
            raise Failure(httpx.WriteError, "the connection closed while sending the request", before_response=True)

    def has_unread(self) -> bool:
        return bool(self._parts)

    async def wait_head(self, timeout: float | None) -> None:
        while not self.head_done and not self.done:
            await self._wait(timeout)

    async def body(self, timeout: float | None, request: httpx.Request,
                   finished: Callable[[Connection, bool], None]) -> AsyncIterator[bytes]:
        """The decoded body as it arrives; `finished(self, complete)` once it ended (read
        whole) or failed. A failure is raised as its httpx exception for `request`."""
        try:
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
                    break
                else:
                    await self._wait(timeout)
        except Failure as exc:
            finished(self, False)
            raise exc.kind(str(exc), request=request) from None
        finished(self, True)

    async def _wait(self, timeout: float | None) -> None:
        """Until the protocol has news. The read timeout is one timer per connection,
        moved on lazily: each wait only notes its deadline, and the timer, when it
        fires early, re-arms itself for the latest one (a timer per wait cost more
        than the rest of a chunk's read)."""
        if self.failure is not None:
            raise self.failure.fresh()
        loop = self._loop
        if loop is None:
            loop = self._loop = asyncio.get_running_loop()
        self._waiter = waiter = loop.create_future()
        if timeout is not None:
            self._deadline, self._timeout = loop.time() + timeout, timeout
            timer = self._timer
            if timer is None or timer.when() > self._deadline:  # none, or one armed for a longer timeout
                if timer is not None:
                    timer.cancel()
                self._timer = loop.call_at(self._deadline, self._check_deadline)
        try:
            await waiter
        finally:
            self._waiter = None
            self._deadline = None
        if self.failure is not None and not self._parts:
            raise self.failure.fresh()

    def _check_deadline(self) -> None:
        self._timer = None
        deadline, waiter = self._deadline, self._waiter
        if deadline is None or waiter is None or waiter.done():
            return  # not waiting: the next wait arms a fresh timer
        loop = self._loop or asyncio.get_running_loop()
        if loop.time() < deadline - 0.001:
            self._timer = loop.call_at(deadline, self._check_deadline)
            return
        waiter.set_exception(Failure(httpx.ReadTimeout, f"no data for {self._timeout:g} s"))

    def close(self) -> None:
        """Close from our side: a response not read to its end fails its reader (it is
        not the server's end of a close-delimited body)."""
        self.reusable = False
        if not self.done and self.failure is None:
            self.failure = Failure(httpx.ReadError, "the response was closed before its end")
            self._wake()
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self.transport is not None and not self.transport.is_closing():
            self.transport.close()


def _expire(future: asyncio.Future[None], kind: type[httpx.TransportError], message: str) -> None:
    if not future.done():
        future.set_exception(Failure(kind, message))
