"""The asyncio network backend (providers/http/aionet.py): against real loopback
servers (HTTP and HTTPS), and its protocol's buffering and flow control against a
fake transport."""
from __future__ import annotations

import asyncio
import socket
from typing import Any

import httpcore
import httpx
import pytest

from cascadectl.providers.http.aionet import _HIGH_WATER, AsyncioBackend, AsyncioStream, _Protocol
from cascadectl.providers.http.pool import asyncio_transport, pooled_client
from tests.support.sse_server import Scripted, SSEServer, tls_context, trusting_context

LIMITS = httpx.Limits(max_connections=4, max_keepalive_connections=2)


def test_httpx_transports_get_the_asyncio_backend() -> None:
    # httpx takes no network backend: if a release moves its pool, this says so.
    pool = asyncio_transport(True, LIMITS)._pool  # type: ignore[attr-defined]
    assert isinstance(pool, httpcore.AsyncConnectionPool)
    assert isinstance(pool._network_backend, AsyncioBackend)


async def _get(client: httpx.AsyncClient, url: str) -> tuple[bytes, Any]:
    async with client.stream("GET", url) as response:
        body = b"".join([chunk async for chunk in response.aiter_raw()])
        return body, response.extensions["network_stream"]


def test_a_streamed_body_arrives_chunk_by_chunk_and_the_connection_is_reused(sse_server: SSEServer) -> None:
    chunks = tuple(b"data: %d\n\n" % i for i in range(50))
    sse_server.add("/s", Scripted(chunks=chunks), Scripted(chunks=chunks))

    async def go() -> list[tuple[bytes, Any]]:
        async with httpx.AsyncClient(transport=asyncio_transport(True, LIMITS)) as client:
            return [await _get(client, sse_server.url + "/s") for _ in range(2)]

    (first, stream1), (second, stream2) = asyncio.run(go())
    assert first == second == b"".join(chunks)
    assert isinstance(stream1, AsyncioStream) and stream1 is stream2  # keep-alive: one connection


def test_https_verifies_the_certificate_and_streams() -> None:
    with SSEServer(tls=tls_context()) as server:
        server.add("/s", Scripted(chunks=(b"data: secure\n\n",)))

        async def go() -> tuple[bytes, Any]:
            async with httpx.AsyncClient(transport=asyncio_transport(trusting_context(), LIMITS)) as client:
                return await _get(client, server.url + "/s")

        body, stream = asyncio.run(go())
    assert body == b"data: secure\n\n"
    assert stream.get_extra_info("ssl_object") is not None


def test_an_untrusted_certificate_is_a_connect_error() -> None:
    with SSEServer(tls=tls_context()) as server:
        server.add("/s", Scripted(chunks=(b"x",)))

        async def go() -> None:
            async with httpx.AsyncClient(transport=asyncio_transport(True, LIMITS)) as client:  # system CAs only
                await client.get(server.url + "/s")

        with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
            asyncio.run(go())


def test_a_refused_connection_is_a_connect_error() -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]

    async def go() -> None:
        async with httpx.AsyncClient(transport=asyncio_transport(True, LIMITS)) as client:
            await client.get(f"http://127.0.0.1:{port}/")

    with pytest.raises(httpx.ConnectError):
        asyncio.run(go())


def test_a_connection_dropped_mid_body_is_an_error_not_a_short_body(sse_server: SSEServer) -> None:
    sse_server.add("/s", Scripted(chunks=(b"one", b"two"), framing="length", drop_after=1))

    async def go() -> None:
        async with httpx.AsyncClient(transport=asyncio_transport(True, LIMITS)) as client:
            await _get(client, sse_server.url + "/s")

    with pytest.raises(httpx.RemoteProtocolError):
        asyncio.run(go())


def test_the_pooled_client_posts_over_the_asyncio_backend(sse_server: SSEServer) -> None:
    sse_server.add("/v1/chat/completions", Scripted(chunks=(b"data: [DONE]\n\n",)))

    async def go() -> tuple[bytes, Any]:
        client = pooled_client()
        try:
            response = await client.post_stream(sse_server.url + "/v1/chat/completions", {}, {"a": 1}, httpx.Timeout(5.0))
            body = b"".join([chunk async for chunk in response.aiter_bytes()])
            await response.aclose()
            return body, response.extensions["network_stream"]
        finally:
            await client.aclose()

    body, stream = asyncio.run(go())
    assert body == b"data: [DONE]\n\n" and isinstance(stream, AsyncioStream)
    assert sse_server.requests[0].json == {"a": 1}


class FakeTransport(asyncio.Transport):
    def __init__(self) -> None:
        super().__init__()
        self.calls: list[str] = []
        self.written: list[bytes] = []
        self.closing = False

    def pause_reading(self) -> None:
        self.calls.append("pause")

    def resume_reading(self) -> None:
        self.calls.append("resume")

    def write(self, data: Any) -> None:
        self.written.append(bytes(data))

    def is_closing(self) -> bool:
        return self.closing

    def close(self) -> None:
        self.closing = True


def _stream() -> tuple[AsyncioStream, _Protocol, FakeTransport]:
    protocol, transport = _Protocol(), FakeTransport()
    protocol.connection_made(transport)
    return AsyncioStream(transport, protocol), protocol, transport


def test_a_full_buffer_pauses_reading_until_the_reader_drains_it() -> None:
    async def go() -> tuple[list[str], list[str], int]:
        stream, protocol, transport = _stream()
        protocol.data_received(b"x" * (_HIGH_WATER + 1))
        after_fill = list(transport.calls)
        total = 0
        while protocol.buffer:
            total += len(await stream.read(65536))
        return after_fill, transport.calls, total

    after_fill, calls, total = asyncio.run(go())
    assert after_fill == ["pause"]
    assert calls == ["pause", "resume"]
    assert total == _HIGH_WATER + 1


def test_a_read_waits_for_data_then_returns_at_most_max_bytes() -> None:
    async def go() -> list[bytes]:
        stream, protocol, _ = _stream()
        loop = asyncio.get_running_loop()
        loop.call_soon(protocol.data_received, b"hello world")
        return [await stream.read(5), await stream.read(100)]

    assert asyncio.run(go()) == [b"hello", b" world"]


def test_no_data_within_the_timeout_is_a_read_timeout() -> None:
    async def go() -> None:
        stream, _, _ = _stream()
        await stream.read(100, timeout=0)  # the timer fires on the loop's next turn

    with pytest.raises(httpcore.ReadTimeout):
        asyncio.run(go())


def test_end_of_stream_and_a_lost_connection() -> None:
    async def go() -> tuple[bytes, bytes, bool]:
        stream, protocol, _ = _stream()
        protocol.data_received(b"tail")
        protocol.eof_received()
        return await stream.read(100), await stream.read(100), stream.get_extra_info("is_readable")

    assert asyncio.run(go()) == (b"tail", b"", True)

    async def lost() -> None:
        stream, protocol, _ = _stream()
        protocol.connection_lost(ConnectionResetError("reset by peer"))
        await stream.read(100)

    with pytest.raises(httpcore.ReadError, match="reset by peer"):
        asyncio.run(lost())


def test_a_cancelled_read_leaves_no_waiter_behind() -> None:
    async def go() -> tuple[bool, bytes]:
        stream, protocol, _ = _stream()
        task = asyncio.ensure_future(stream.read(100, timeout=60))
        await asyncio.sleep(0)  # let the read start waiting (a loop turn, not wall-clock time)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        protocol.data_received(b"later")
        return protocol.waiter is None, await stream.read(100)

    assert asyncio.run(go()) == (True, b"later")


def test_writing_waits_while_the_transport_buffer_is_full_and_fails_once_closed() -> None:
    async def go() -> tuple[list[bytes], bool]:
        stream, protocol, transport = _stream()
        protocol.pause_writing()
        write = asyncio.ensure_future(stream.write(b"GET / HTTP/1.1\r\n\r\n", timeout=60))
        await asyncio.sleep(0)
        waiting = not write.done()
        protocol.resume_writing()
        await write
        transport.closing = True
        with pytest.raises(httpcore.WriteError):
            await stream.write(b"more")
        return transport.written, waiting

    written, waiting = asyncio.run(go())
    assert written == [b"GET / HTTP/1.1\r\n\r\n"] and waiting
