"""An httpcore network backend on asyncio's own transports and protocols.

httpcore's default backend reads through anyio: every read of a streamed response
enters a cancel scope, arms a timer, asks sniffio which event loop runs and wraps the
socket's readiness in a stream object. On a model's token stream that is one read per
token, and it was the largest single cost of relaying a stream (bench/serve.py: about
40% of the server's CPU per streamed request). Here a read is a look at a buffer the
protocol fills as data arrives, and a future only when the buffer is empty; the read
timeout is one timer on the event loop, armed only while waiting.

Only the network I/O changes: HTTP/1.1 framing, pooling, keep-alive and TLS settings
stay httpcore's and httpx's, and the errors are httpcore's own (ReadTimeout,
ReadError, ...), which httpx maps to its exceptions as it always does. Works on any
asyncio event loop (the standard one or uvloop). Not used behind a proxy: the client
is then httpx's own (see pool.py).
"""
from __future__ import annotations

import asyncio
import socket
import ssl
from typing import Any, Iterable

import httpcore

# A response body buffered past this pauses the socket until the reader catches up.
_HIGH_WATER = 1 << 20
_LOW_WATER = 1 << 18


class _Protocol(asyncio.Protocol):
    """Buffers what arrives and wakes the one reader waiting for it."""

    __slots__ = ("buffer", "transport", "eof", "error", "waiter", "paused", "drain")

    def __init__(self) -> None:
        self.buffer = bytearray()
        self.transport: asyncio.Transport | None = None
        self.eof = False  # the peer ended its side, or the connection is gone
        self.error: BaseException | None = None
        self.waiter: asyncio.Future[None] | None = None
        self.paused = False  # reading paused: the buffer is full
        self.drain: asyncio.Future[None] | None = None  # set while the write buffer is full

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if len(self.buffer) > _HIGH_WATER and not self.paused and self.transport is not None:
            self.paused = True
            self.transport.pause_reading()
        self._wake()

    def eof_received(self) -> bool:
        self.eof = True
        self._wake()
        return False  # let the transport close itself

    def connection_lost(self, exc: Exception | None) -> None:
        self.eof = True
        if exc is not None:
            self.error = exc
        self._wake()
        self.resume_writing()

    def pause_writing(self) -> None:
        if self.drain is None:
            self.drain = asyncio.get_running_loop().create_future()

    def resume_writing(self) -> None:
        drain, self.drain = self.drain, None
        if drain is not None and not drain.done():
            drain.set_result(None)

    def _wake(self) -> None:
        waiter = self.waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def take(self, max_bytes: int) -> bytes:
        buffer = self.buffer
        if len(buffer) <= max_bytes:
            data = bytes(buffer)
            buffer.clear()
        else:
            data = bytes(buffer[:max_bytes])
            del buffer[:max_bytes]
        if self.paused and len(buffer) < _LOW_WATER and self.transport is not None:
            self.paused = False
            self.transport.resume_reading()
        return data


def _expire(future: asyncio.Future[None], error: type[Exception], message: str) -> None:
    if not future.done():
        future.set_exception(error(message))


class AsyncioStream(httpcore.AsyncNetworkStream):
    """One connection: its transport (plain or TLS) and the protocol buffering it."""

    def __init__(self, transport: asyncio.Transport, protocol: _Protocol) -> None:
        self._transport = transport
        self._protocol = protocol
        self._loop = asyncio.get_running_loop()

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        protocol = self._protocol
        while not protocol.buffer:
            if protocol.eof:
                if protocol.error is not None:
                    raise httpcore.ReadError(str(protocol.error) or type(protocol.error).__name__)
                return b""
            await self._wait(timeout)
        return protocol.take(max_bytes)

    async def _wait(self, timeout: float | None) -> None:
        protocol, loop = self._protocol, self._loop
        protocol.waiter = future = loop.create_future()
        timer = None if timeout is None else loop.call_later(timeout, _expire, future, httpcore.ReadTimeout,
                                                              f"no data for {timeout:g} s")
        try:
            await future
        finally:
            protocol.waiter = None
            if timer is not None:
                timer.cancel()

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        if not buffer:
            return
        protocol = self._protocol
        if protocol.eof or self._transport.is_closing():
            raise httpcore.WriteError(str(protocol.error) if protocol.error else "the connection is closed")
        self._transport.write(buffer)
        drain = protocol.drain
        if drain is None:
            return
        try:
            await asyncio.wait_for(asyncio.shield(drain), timeout)
        except asyncio.TimeoutError:
            raise httpcore.WriteTimeout(f"could not write for {timeout:g} s") from None
        if protocol.error is not None:
            raise httpcore.WriteError(str(protocol.error))

    async def aclose(self) -> None:
        self._transport.close()

    async def start_tls(self, ssl_context: ssl.SSLContext, server_hostname: str | None = None,
                        timeout: float | None = None) -> httpcore.AsyncNetworkStream:
        try:
            transport = await asyncio.wait_for(
                self._loop.start_tls(self._transport, self._protocol, ssl_context, server_hostname=server_hostname),
                timeout)
        except asyncio.TimeoutError:
            self._transport.abort()
            raise httpcore.ConnectTimeout(f"TLS handshake took longer than {timeout:g} s") from None
        except (OSError, ssl.SSLError, ConnectionError) as exc:
            self._transport.abort()
            raise httpcore.ConnectError(str(exc) or type(exc).__name__) from exc
        if transport is None:  # the connection closed during the handshake
            raise httpcore.ConnectError("the connection closed during the TLS handshake")
        return AsyncioStream(transport, self._protocol)  # type: ignore[arg-type]

    def get_extra_info(self, info: str) -> Any:
        if info == "is_readable":  # on an idle keep-alive connection: the server sent or closed something
            return bool(self._protocol.buffer) or self._protocol.eof
        key = {"ssl_object": "ssl_object", "client_addr": "sockname", "server_addr": "peername",
               "socket": "socket"}.get(info)
        return None if key is None else self._transport.get_extra_info(key)


class AsyncioBackend(httpcore.AsyncNetworkBackend):
    async def connect_tcp(self, host: str, port: int, timeout: float | None = None, local_address: str | None = None,
                          socket_options: Iterable[Any] | None = None) -> httpcore.AsyncNetworkStream:
        loop = asyncio.get_running_loop()
        local = None if local_address is None else (local_address, 0)
        connect = loop.create_connection(_Protocol, host, port, local_addr=local)
        transport, protocol = await _connected(connect, timeout)
        sock = transport.get_extra_info("socket")
        if sock is not None:
            if sock.family in (socket.AF_INET, socket.AF_INET6):  # asyncio does this too; uvloop may not
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            for option in socket_options or ():
                sock.setsockopt(*option)
        return AsyncioStream(transport, protocol)

    async def connect_unix_socket(self, path: str, timeout: float | None = None,
                                  socket_options: Iterable[Any] | None = None) -> httpcore.AsyncNetworkStream:
        loop = asyncio.get_running_loop()
        transport, protocol = await _connected(loop.create_unix_connection(_Protocol, path), timeout)
        return AsyncioStream(transport, protocol)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


async def _connected(connect: Any, timeout: float | None) -> tuple[asyncio.Transport, _Protocol]:
    try:
        return await asyncio.wait_for(connect, timeout)  # type: ignore[no-any-return]
    except asyncio.TimeoutError:
        raise httpcore.ConnectTimeout(f"could not connect in {timeout:g} s") from None
    except OSError as exc:
        raise httpcore.ConnectError(str(exc) or type(exc).__name__) from exc
