"""The HTTP/1.1 transport (providers/http/h1.py): against real loopback servers (HTTP
and HTTPS, the shared scripted server and raw sockets for what it cannot do), and its
parser fed bytes split every way (hypothesis) through a fake asyncio transport."""
from __future__ import annotations

import asyncio
import gzip
import socket
import threading
from typing import Any, Callable, Iterator

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cascadectl.providers.http.h1 import H1Transport
from cascadectl.providers.http.h1conn import HIGH_WATER as _HIGH_WATER
from cascadectl.providers.http.h1conn import Connection
from cascadectl.providers.http.h1head import Failure
from cascadectl.providers.http.pool import h1_transport
from tests.support.sse_server import Scripted, SSEServer, tls_context, trusting_context

LIMITS = httpx.Limits(max_connections=4, max_keepalive_connections=2)


def _transport(limits: httpx.Limits = LIMITS, **kwargs: Any) -> H1Transport:
    return H1Transport(trusting_context(), limits, **kwargs)


async def _get(client: httpx.AsyncClient, url: str, method: str = "GET") -> tuple[int, bytes]:
    async with client.stream(method, url) as response:
        return response.status_code, b"".join([chunk async for chunk in response.aiter_bytes()])


# --- against real servers -------------------------------------------------------------

def test_a_chunked_stream_arrives_whole_and_the_connection_is_reused(sse_server: SSEServer) -> None:
    chunks = tuple(b"data: %d\n\n" % i for i in range(50))
    sse_server.add("/s", Scripted(chunks=chunks), Scripted(chunks=chunks))
    transport = _transport()

    async def go() -> tuple[list[bytes], int]:
        async with httpx.AsyncClient(transport=transport) as client:
            bodies = [(await _get(client, sse_server.url + "/s"))[1] for _ in range(2)]
            return bodies, transport._open

    bodies, open_before_close = asyncio.run(go())
    assert bodies == [b"".join(chunks)] * 2
    assert open_before_close == 1  # both requests on one kept connection
    assert transport._open == 0 and transport._idle_count == 0  # closed with the client
    assert len(sse_server.requests) == 2


@pytest.mark.parametrize("framing", ["chunked", "length", "close"])
def test_every_framing_reads_to_the_end(sse_server: SSEServer, framing: str) -> None:
    sse_server.add("/s", Scripted(chunks=(b"one ", b"two ", b"three"), framing=framing))

    async def go() -> tuple[tuple[int, bytes], int]:
        transport = _transport()
        async with httpx.AsyncClient(transport=transport) as client:
            answer = await _get(client, sse_server.url + "/s")
            return answer, transport._idle_count

    (status, body), idle = asyncio.run(go())
    assert (status, body) == (200, b"one two three")
    assert idle == (0 if framing == "close" else 1)  # a close-delimited body ends its connection


@pytest.mark.parametrize("framing", ["chunked", "length"])
def test_a_connection_dropped_mid_body_is_an_error_not_a_short_body(sse_server: SSEServer, framing: str) -> None:
    sse_server.add("/s", Scripted(chunks=(b"one", b"two"), framing=framing, drop_after=1))

    async def go() -> None:
        async with httpx.AsyncClient(transport=_transport()) as client:
            await _get(client, sse_server.url + "/s")

    with pytest.raises(httpx.RemoteProtocolError, match="before the end of the response body"):
        asyncio.run(go())


def test_gzip_is_decoded_by_httpx(sse_server: SSEServer) -> None:
    headers = (("Content-Type", "application/json"), ("Content-Encoding", "gzip"))
    sse_server.add("/s", Scripted(chunks=(gzip.compress(b'{"ok": true}'),), headers=headers, framing="length"))

    async def go() -> Any:
        async with httpx.AsyncClient(transport=_transport()) as client:
            return (await client.get(sse_server.url + "/s")).json()

    assert asyncio.run(go()) == {"ok": True}


def test_https_verifies_the_certificate_and_streams() -> None:
    with SSEServer(tls=tls_context()) as server:
        server.add("/s", Scripted(chunks=(b"data: secure\n\n",)))

        async def go() -> tuple[int, bytes]:
            async with httpx.AsyncClient(transport=h1_transport(trusting_context(), LIMITS)) as client:
                return await _get(client, server.url + "/s")

        assert asyncio.run(go()) == (200, b"data: secure\n\n")


def test_an_untrusted_certificate_is_a_connect_error() -> None:
    with SSEServer(tls=tls_context()) as server:
        server.add("/s", Scripted(chunks=(b"x",)))

        async def go() -> None:
            async with httpx.AsyncClient(transport=h1_transport(True, LIMITS)) as client:  # the system's CAs only
                await client.get(server.url + "/s")

        with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
            asyncio.run(go())


def test_a_refused_connection_is_a_connect_error_and_gives_its_slot_back() -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    transport = _transport()

    async def go() -> None:
        async with httpx.AsyncClient(transport=transport) as client:
            await client.get(f"http://127.0.0.1:{port}/")

    with pytest.raises(httpx.ConnectError, match=f"127.0.0.1:{port}"):
        asyncio.run(go())
    assert transport._open == 0


class RawServer:
    """Accepts connections one after another; `handle(number, sock)` answers each."""

    def __init__(self, handle: Callable[[int, socket.socket], None]) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._handle = handle
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        number = 0
        while True:
            try:
                sock, _ = self._listener.accept()
            except OSError:
                return
            with sock:
                self._handle(number, sock)
            number += 1

    def close(self) -> None:
        self._listener.close()


def _read_request(sock: socket.socket) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data:
        data += sock.recv(65536)
    head, _, rest = data.partition(b"\r\n\r\n")
    if b"transfer-encoding: chunked" in head.lower():
        while not rest.endswith(b"0\r\n\r\n"):
            rest += sock.recv(65536)
    else:
        length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")), 0)
        while len(rest) < length:
            rest += sock.recv(65536)
    return head + b"\r\n\r\n" + rest


def _ok(body: bytes) -> bytes:
    return b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)


def _recording(received: list[bytes]) -> Callable[[int, socket.socket], None]:
    """A handler that keeps the one request it reads and answers `done`."""
    def handle(number: int, sock: socket.socket) -> None:
        received.append(_read_request(sock))
        sock.sendall(_ok(b"done"))
    return handle


@pytest.fixture
def raw() -> Iterator[Callable[[Callable[[int, socket.socket], None]], RawServer]]:
    servers: list[RawServer] = []

    def start(handle: Callable[[int, socket.socket], None]) -> RawServer:
        servers.append(RawServer(handle))
        return servers[-1]

    yield start
    for server in servers:
        server.close()


def _drops_the_second_request(seen: list[tuple[int, bytes]]) -> Callable[[int, socket.socket], None]:
    """Connection 0 answers one request, reads the next and closes without an answer
    (an idle timeout racing the request); later connections answer."""
    def handle(number: int, sock: socket.socket) -> None:
        seen.append((number, _read_request(sock)))
        sock.sendall(_ok(b"first" if number == 0 else b"fresh"))
        if number == 0:
            seen.append((number, _read_request(sock)))
    return handle


def test_an_idempotent_request_on_a_dropped_keep_alive_connection_is_sent_once_more(raw: Any) -> None:
    seen: list[tuple[int, bytes]] = []
    server = raw(_drops_the_second_request(seen))
    transport = _transport()

    async def go() -> list[bytes]:
        async with httpx.AsyncClient(transport=transport) as client:
            url = f"http://127.0.0.1:{server.port}/"
            return [(await client.get(url)).content for _ in range(2)]

    assert asyncio.run(go()) == [b"first", b"fresh"]
    assert [number for number, _ in seen] == [0, 0, 1]  # sent on the kept connection, then once on a new one
    assert transport._open == 0


def test_a_post_that_was_sent_is_never_sent_again(raw: Any) -> None:
    seen: list[tuple[int, bytes]] = []
    server = raw(_drops_the_second_request(seen))
    transport = _transport()

    async def go() -> None:
        async with httpx.AsyncClient(transport=transport) as client:
            url = f"http://127.0.0.1:{server.port}/v1/chat/completions"
            assert (await client.post(url, content=b"one")).content == b"first"
            await client.post(url, content=b"two")  # the server may have run it: not ours to repeat

    with pytest.raises(httpx.RemoteProtocolError, match="without a response") as failure:
        asyncio.run(go())
    assert failure.value.request.method == "POST"
    assert [number for number, _ in seen] == [0, 0]  # no second connection, no second send
    assert transport._open == 0


def test_a_fresh_connection_closed_without_an_answer_is_not_retried(raw: Any) -> None:
    accepted: list[int] = []

    def handle(number: int, sock: socket.socket) -> None:
        accepted.append(number)
        _read_request(sock)

    server = raw(handle)

    async def go() -> None:
        async with httpx.AsyncClient(transport=_transport()) as client:
            await client.get(f"http://127.0.0.1:{server.port}/")

    with pytest.raises(httpx.RemoteProtocolError, match="without a response"):
        asyncio.run(go())
    assert accepted == [0]


def test_a_streamed_request_body_is_sent_chunked(raw: Any) -> None:
    received: list[bytes] = []
    server = raw(_recording(received))

    async def parts() -> Any:
        yield b"hello "
        yield b"world"

    async def go() -> bytes:
        async with httpx.AsyncClient(transport=_transport()) as client:
            return (await client.post(f"http://127.0.0.1:{server.port}/up", content=parts())).content

    assert asyncio.run(go()) == b"done"
    head, _, body = received[0].partition(b"\r\n\r\n")
    assert head.startswith(b"POST /up HTTP/1.1\r\n") and b"transfer-encoding: chunked" in head.lower()
    assert body == b"6\r\nhello \r\n5\r\nworld\r\n0\r\n\r\n"


def test_the_connection_limit_queues_requests_and_the_pool_timeout_bounds_the_wait(raw: Any) -> None:
    release = threading.Event()

    def handle(number: int, sock: socket.socket) -> None:
        for _ in range(2):
            _read_request(sock)
            release.wait(5)
            sock.sendall(_ok(b"ok"))

    server = raw(handle)
    transport = _transport(httpx.Limits(max_connections=1, max_keepalive_connections=1))
    url = f"http://127.0.0.1:{server.port}/"

    async def go() -> tuple[list[bytes], str]:
        async with httpx.AsyncClient(transport=transport) as client:
            first = asyncio.ensure_future(client.get(url))
            while transport._open == 0:  # until the first request holds the only connection
                await asyncio.sleep(0)
            with pytest.raises(httpx.PoolTimeout) as refused:
                await client.get(url, timeout=httpx.Timeout(5.0, pool=0.0))
            second = asyncio.ensure_future(client.get(url))  # waits for the connection, then reuses it
            await asyncio.sleep(0)
            release.set()
            return [r.content for r in await asyncio.gather(first, second)], str(refused.value)

    contents, refused = asyncio.run(go())
    assert contents == [b"ok", b"ok"]
    assert "pool timeout" in refused


def test_an_idle_connection_past_the_keepalive_expiry_is_not_reused(sse_server: SSEServer) -> None:
    sse_server.add("/s", Scripted(chunks=(b"a",), framing="length"), Scripted(chunks=(b"b",), framing="length"))
    now = [100.0]
    transport = _transport(httpx.Limits(max_connections=4, max_keepalive_connections=2, keepalive_expiry=5.0),
                           clock=lambda: now[0])

    async def go() -> tuple[Connection, Connection]:
        async with httpx.AsyncClient(transport=transport) as client:
            await _get(client, sse_server.url + "/s")
            first = transport._idle[("http", "127.0.0.1", int(sse_server.url.rsplit(":", 1)[1]))][-1]
            now[0] += 6.0
            await _get(client, sse_server.url + "/s")
            second = next(iter(transport._idle.values()))[-1]
            return first, second

    first, second = asyncio.run(go())
    assert first is not second
    assert first.transport is not None and first.transport.is_closing()


def test_head_and_no_content_responses_have_no_body(raw: Any) -> None:
    def handle(number: int, sock: socket.socket) -> None:
        _read_request(sock)
        sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\n")  # HEAD: the length of a body not sent
        _read_request(sock)
        sock.sendall(b"HTTP/1.1 204 No Content\r\n\r\n")

    server = raw(handle)

    async def go() -> list[tuple[int, bytes]]:
        async with httpx.AsyncClient(transport=_transport()) as client:
            url = f"http://127.0.0.1:{server.port}/"
            return [await _get(client, url, "HEAD"), await _get(client, url, "DELETE")]

    assert asyncio.run(go()) == [(200, b""), (204, b"")]


def test_a_header_with_a_line_break_is_refused_before_anything_is_sent() -> None:
    transport = _transport()
    request = httpx.Request("GET", "http://127.0.0.1:9/", headers={"x-a": "ok"})
    request.headers._list[-1] = (b"x-a", b"x-a", b"ok\r\nInjected: 1")  # past httpx's own validation

    with pytest.raises(httpx.LocalProtocolError):
        asyncio.run(transport.handle_async_request(request))
    assert transport._open == 0


# --- the parser, through a fake transport -----------------------------------------------

class FakeTransport(asyncio.Transport):
    def __init__(self) -> None:
        super().__init__()
        self.calls: list[str] = []
        self.closing = False

    def pause_reading(self) -> None:
        self.calls.append("pause")

    def resume_reading(self) -> None:
        self.calls.append("resume")

    def write(self, data: Any) -> None:
        self.calls.append("write")

    def is_closing(self) -> bool:
        return self.closing

    def close(self) -> None:
        self.closing = True

    def abort(self) -> None:
        self.closing = True
        self.calls.append("abort")


def _connection() -> tuple[Connection, FakeTransport]:
    connection, transport = Connection(("http", "test", 80)), FakeTransport()
    connection.connection_made(transport)
    return connection, transport


async def _read_all(connection: Connection, timeout: float | None = 5.0) -> bytes:
    """The body, failures raised as the httpx exceptions the transport raises."""
    try:
        await connection.wait_head(timeout)
    except Failure as exc:
        raise exc.kind(str(exc), request=httpx.Request("GET", "http://test/")) from None
    return b"".join([piece async for piece in connection.body(timeout, httpx.Request("GET", "http://test/"), lambda c, ok: None)])


def _chunked(pieces: list[bytes]) -> bytes:
    body = b"".join(b"%x;ext=1\r\n%s\r\n" % (len(p), p) for p in pieces if p)
    return b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX-A:  padded \r\n\r\n" + body + b"0\r\nX-Trailer: t\r\n\r\n"


@settings(max_examples=150, deadline=None)
@given(pieces=st.lists(st.binary(min_size=0, max_size=40), max_size=8), cuts=st.lists(st.integers(0, 400), max_size=12))
def test_a_chunked_response_split_anywhere_parses_the_same(pieces: list[bytes], cuts: list[int]) -> None:
    wire = _chunked(pieces)
    bounds = sorted({0, len(wire), *(c for c in cuts if c < len(wire))})

    async def go() -> tuple[bytes, Connection]:
        connection, _ = _connection()
        for start, end in zip(bounds, bounds[1:]):
            asyncio.get_running_loop().call_soon(connection.data_received, wire[start:end])
        return await _read_all(connection), connection

    body, connection = asyncio.run(go())
    assert body == b"".join(pieces)
    assert connection.status == 200 and connection.done and connection.reusable
    assert (b"X-A", b"padded") in connection.headers


def test_an_interim_100_continue_is_skipped() -> None:
    async def go() -> tuple[int, bytes]:
        connection, _ = _connection()
        connection.data_received(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok")
        return connection.status, await _read_all(connection)

    assert asyncio.run(go()) == (201, b"ok")


@pytest.mark.parametrize("wire, message", [
    (b"SPDY/3 200 OK\r\n\r\n", "not an HTTP/1.1 status line"),
    (b"HTTP/1.1 2000 OK\r\n\r\n", "not an HTTP/1.1 status line"),
    (b"HTTP/1.1 200 OK\r\nno colon here\r\n\r\n", "malformed response header"),
    (b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabc", "bad Content-Length"),
    (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", "bad chunk size"),
    (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcXY", "did not end in CRLF"),
    (b"HTTP/1.1 200 OK\r\nX: " + b"a" * 70000, "headers longer than"),
])
def test_a_malformed_response_is_a_protocol_error_and_aborts_the_connection(wire: bytes, message: str) -> None:
    async def go() -> FakeTransport:
        connection, transport = _connection()
        connection.data_received(wire)
        with pytest.raises(httpx.RemoteProtocolError, match=message):
            await _read_all(connection)
        assert not connection.reusable
        return transport

    assert "abort" in asyncio.run(go()).calls


@pytest.mark.parametrize("wire, reusable", [
    (b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", True),
    (b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok", False),
    (b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok", False),
    (b"HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 2\r\n\r\nok", True),
    (b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokEXTRA", False),  # bytes past the response
])
def test_keep_alive_follows_the_version_the_connection_header_and_clean_ends(wire: bytes, reusable: bool) -> None:
    async def go() -> tuple[bytes, bool]:
        connection, _ = _connection()
        connection.data_received(wire)
        return await _read_all(connection), connection.reusable

    assert asyncio.run(go()) == (b"ok", reusable)


def test_a_full_buffer_pauses_reading_until_the_reader_takes_it() -> None:
    async def go() -> tuple[list[str], list[str], int]:
        connection, transport = _connection()
        size = _HIGH_WATER + 10
        connection.data_received(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % size)
        connection.data_received(b"x" * size)
        after_fill = list(transport.calls)
        return after_fill, transport.calls, len(await _read_all(connection))

    after_fill, calls, total = asyncio.run(go())
    assert after_fill == ["pause"] and calls == ["pause", "resume"]
    assert total == _HIGH_WATER + 10


def test_no_data_within_the_read_timeout_is_a_read_timeout() -> None:
    async def go() -> None:
        connection, _ = _connection()
        await connection.wait_head(0)  # the timer fires on the loop's next turn

    with pytest.raises(Exception, match="no data for 0 s") as failure:
        asyncio.run(go())
    assert failure.value.kind is httpx.ReadTimeout  # type: ignore[attr-defined]


def test_a_reset_mid_body_is_a_read_error_and_a_close_ends_a_close_delimited_body() -> None:
    async def reset() -> None:
        connection, _ = _connection()
        connection.data_received(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc")
        connection.connection_lost(ConnectionResetError("reset by peer"))
        await _read_all(connection)

    with pytest.raises(httpx.ReadError, match="reset by peer"):
        asyncio.run(reset())

    async def closed() -> bytes:
        connection, _ = _connection()
        connection.data_received(b"HTTP/1.1 200 OK\r\n\r\nuntil the end")
        connection.eof_received()
        return await _read_all(connection)

    assert asyncio.run(closed()) == b"until the end"


def test_a_cancelled_read_leaves_no_waiter_behind() -> None:
    async def go() -> tuple[bool, bytes]:
        connection, _ = _connection()
        task = asyncio.ensure_future(connection.wait_head(60))
        await asyncio.sleep(0)  # one loop turn: the read is waiting
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        connection.data_received(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nlater")
        return connection._waiter is None, await _read_all(connection)

    assert asyncio.run(go()) == (True, b"later")


# --- the pool's accounting under failure, and errors through the transport --------------

def _settled(transport: H1Transport) -> bool:
    """Nothing in use: every open connection is an idle one (none counted twice, none lost)."""
    return transport._open == transport._idle_count == sum(len(q) for q in transport._idle.values()) >= 0


def _answers(count: int, body: bytes = b"ok") -> Callable[[int, socket.socket], None]:
    def handle(number: int, sock: socket.socket) -> None:
        for _ in range(count):
            _read_request(sock)
            sock.sendall(_ok(body))
    return handle


def test_closing_a_response_then_reading_on_frees_its_slot_once(raw: Any) -> None:
    server = raw(_answers(1))
    transport = _transport()

    async def go() -> None:
        async with httpx.AsyncClient(transport=transport) as client:
            async with client.stream("GET", f"http://127.0.0.1:{server.port}/") as response:
                chunks = response.stream.__aiter__()
                await response.aclose()
                with pytest.raises(StopAsyncIteration):
                    await chunks.__anext__()
            assert _settled(transport)

    asyncio.run(go())
    assert transport._open == 0


def test_a_close_delimited_body_closed_by_us_is_an_error_for_its_reader_not_a_short_body(raw: Any) -> None:
    def handle(number: int, sock: socket.socket) -> None:
        _read_request(sock)
        sock.sendall(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\npart1")
        sock.recv(10)  # until the client goes

    server = raw(handle)
    transport = _transport()

    async def go() -> None:
        async with httpx.AsyncClient(transport=transport) as client:
            async with client.stream("GET", f"http://127.0.0.1:{server.port}/") as response:
                chunks = response.stream.__aiter__()
                assert await chunks.__anext__() == b"part1"
                reading = asyncio.ensure_future(chunks.__anext__())
                await asyncio.sleep(0)  # one loop turn: the reader waits for more
                await response.aclose()  # another task closes the response meanwhile
                with pytest.raises(httpx.ReadError, match="closed before its end"):
                    await reading

    asyncio.run(go())
    assert transport._open == 0


def test_a_slot_handed_to_a_cancelled_waiter_passes_to_the_next(raw: Any) -> None:
    server = raw(_answers(3))
    transport = _transport(httpx.Limits(max_connections=1, max_keepalive_connections=1))
    url = f"http://127.0.0.1:{server.port}/"

    async def go() -> int:
        async with httpx.AsyncClient(transport=transport, timeout=httpx.Timeout(5.0, pool=None)) as client:
            async with client.stream("GET", url) as holder:
                first, second = asyncio.ensure_future(client.get(url)), asyncio.ensure_future(client.get(url))
                while len(transport._slot_waiters) < 2:
                    await asyncio.sleep(0)
                await holder.aread()  # the connection goes idle: the first waiter is woken...
                first.cancel()  # ...and cancelled before it runs (a deadline firing in the same turn)
            with pytest.raises(asyncio.CancelledError):
                await first
            status = (await asyncio.wait_for(second, 5)).status_code
            assert _settled(transport)
            return status

    assert asyncio.run(go()) == 200


def test_a_connect_that_does_not_finish_in_time_is_a_connect_timeout() -> None:
    transport = _transport()
    request = httpx.Request("GET", "http://127.0.0.1:9/", extensions={"timeout": {"connect": 0.0}})

    with pytest.raises(httpx.ConnectTimeout) as failure:
        asyncio.run(transport.handle_async_request(request))
    assert failure.value.request is request
    assert transport._open == 0


def test_a_malformed_response_fails_its_request_and_frees_the_connection(raw: Any) -> None:
    def handle(number: int, sock: socket.socket) -> None:
        _read_request(sock)
        sock.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0x5\r\nhello\r\n0\r\n\r\n")

    server = raw(handle)
    transport = _transport()

    async def go() -> None:
        async with httpx.AsyncClient(transport=transport) as client:
            await client.get(f"http://127.0.0.1:{server.port}/")

    with pytest.raises(httpx.RemoteProtocolError, match="bad chunk size") as failure:
        asyncio.run(go())
    assert failure.value.request.url.port == server.port
    assert transport._open == 0


@pytest.mark.parametrize("method, headers", [
    ("GET / HTTP/1.1\r\nHost: evil\r\n\r\nGET", {}),
    ("G\u00c9T", {}),
    ("GET", {"x:y": "1"}),
])
def test_a_request_that_would_smuggle_bytes_is_refused(method: str, headers: dict[str, str]) -> None:
    transport = _transport()
    request = httpx.Request("GET", "http://127.0.0.1:9/")
    request.method = method
    for name, value in headers.items():
        request.headers._list.append((name.encode(), name.encode(), value.encode()))

    with pytest.raises(httpx.LocalProtocolError):
        asyncio.run(transport.handle_async_request(request))
    assert transport._open == 0


def test_a_chunked_header_with_a_bytes_body_frames_the_body(raw: Any) -> None:
    received: list[bytes] = []
    server = raw(_recording(received))

    async def go() -> bytes:
        async with httpx.AsyncClient(transport=_transport()) as client:
            url = f"http://127.0.0.1:{server.port}/"
            return (await client.post(url, content=b"abc", headers={"Transfer-Encoding": "chunked"})).content

    assert asyncio.run(go()) == b"done"
    assert received[0].endswith(b"\r\n\r\n3\r\nabc\r\n0\r\n\r\n")


@pytest.mark.parametrize("size", [b"0x5", b"+5", b"0_5", b"-0", b"5 5"])
def test_chunk_sizes_are_plain_hex(size: bytes) -> None:
    async def go() -> None:
        connection, _ = _connection()
        connection.data_received(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + size + b"\r\nhello\r\n0\r\n\r\n")
        await _read_all(connection)

    with pytest.raises(Exception, match="bad chunk size"):
        asyncio.run(go())


@pytest.mark.parametrize("wire, message", [
    (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", "unsupported Transfer-Encoding"),
    (b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\n\r\n", "status 101"),
    (b"HTTP/1.1 099 Odd\r\n\r\n", "status 99"),
    (b"HTTP/1.1 200 OK\r\nContent Length: 2\r\n\r\nok", "malformed response header"),
    (b"HTTP/1.1 200 OK\r\nX: " + b"a" * 70000 + b"\r\n\r\n", "headers longer than"),
])
def test_responses_this_client_cannot_take_are_protocol_errors(wire: bytes, message: str) -> None:
    async def go() -> None:
        connection, _ = _connection()
        connection.data_received(wire)
        await _read_all(connection)

    with pytest.raises(Exception, match=message):
        asyncio.run(go())


def test_a_head_with_bare_line_feeds_and_a_304_without_a_body() -> None:
    async def go() -> list[tuple[int, bytes, bool]]:
        out = []
        for wire in (b"HTTP/1.1 200 OK\nContent-Length: 2\n\nok", b"HTTP/1.1 304 Not Modified\r\nETag: x\r\n\r\n"):
            connection, _ = _connection()
            connection.data_received(wire)
            out.append((connection.status, await _read_all(connection), connection.reusable))
        return out

    assert asyncio.run(go()) == [(200, b"ok", True), (304, b"", True)]


def test_the_read_timer_moves_on_with_each_wait_and_fires_once_a_deadline_passes() -> None:
    async def go() -> tuple[bool, bool, bool]:
        connection, _ = _connection()
        waiting = asyncio.ensure_future(connection.wait_head(60))
        await asyncio.sleep(0)  # one loop turn: the wait has noted its deadline
        connection._check_deadline()  # the timer firing before the deadline (it had moved on)
        rearmed, still_waiting = connection._timer is not None, not waiting.done()
        connection._deadline = asyncio.get_running_loop().time() - 1  # now past it
        connection._check_deadline()
        with pytest.raises(Exception, match="no data for 60 s") as failure:
            await waiting
        return rearmed, still_waiting, failure.value.kind is httpx.ReadTimeout  # type: ignore[attr-defined]

    assert asyncio.run(go()) == (True, True, True)


def test_a_shorter_read_timeout_on_a_kept_connection_is_not_held_to_the_last_ones_timer() -> None:
    async def go() -> tuple[float, float]:
        connection, _ = _connection()
        connection.data_received(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        await _read_all(connection, timeout=60)  # the first request leaves a 60 s timer armed
        connection.reset(head_only=False)
        waiting = asyncio.ensure_future(connection.wait_head(0.5))
        await asyncio.sleep(0)
        loop = asyncio.get_running_loop()
        assert connection._timer is not None
        waiting.cancel()
        return connection._timer.when() - loop.time(), 0.5

    remaining, wanted = asyncio.run(go())
    assert remaining <= wanted  # re-armed for the shorter deadline
