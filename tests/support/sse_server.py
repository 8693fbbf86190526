"""A real loopback HTTP server that replays scripted responses.

Used by the provider tests (through the `sse_server` fixture) and by benchmark
scripts (as a context manager). Each response body is a list of byte chunks that
are written and flushed one by one, so a test controls how the stream reaches
the client; a response can also drop the connection or stall after chunk k.
Stalls wait on a threading.Event that `release()` or `close()` sets: nothing here
sleeps.
"""
from __future__ import annotations

import json
import socket
import ssl
import sys
import threading
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping, Sequence

import pytest

SSE_HEADERS: tuple[tuple[str, str], ...] = (("Content-Type", "text/event-stream"),)
JSON_HEADERS: tuple[tuple[str, str], ...] = (("Content-Type", "application/json"),)
FRAMINGS = ("chunked", "close", "length")


@dataclass(frozen=True)
class Scripted:
    """One response. framing: chunked (Transfer-Encoding), close (body ends when
    the server closes) or length (Content-Length). drop_after/stall_after: after
    writing that many chunks, close the socket / wait until released (then close).
    hold_headers: wait until released before sending anything."""

    status: int = 200
    chunks: tuple[bytes, ...] = ()
    headers: tuple[tuple[str, str], ...] = SSE_HEADERS
    framing: str = "chunked"
    drop_after: int | None = None
    stall_after: int | None = None
    hold_headers: bool = False


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    headers: Mapping[str, str]  # keys lower-cased
    body: bytes = b""

    @property
    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


@dataclass
class _State:
    queues: dict[str, deque[Scripted]] = field(default_factory=dict)
    requests: list[RecordedRequest] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    release: threading.Event = field(default_factory=threading.Event)
    stalled: threading.Event = field(default_factory=threading.Event)


class _Dropped(Exception):
    """The script asked to drop the connection here."""


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # As production servers do: each flushed chunk leaves at once, and a reused
    # keep-alive connection does not wait on Nagle + delayed ACK.
    disable_nagle_algorithm = True
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass  # keep pytest output clean

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        headers = {key.lower(): value for key, value in self.headers.items()}
        path = self.path.split("?", 1)[0]
        script = self.server.state_record(RecordedRequest(self.command, path, headers, body))
        try:
            self._respond(script)
        except (_Dropped, OSError):
            self.close_connection = True
            _hard_close(self.connection)

    def _respond(self, script: Scripted) -> None:
        if script.hold_headers:
            self._stall()
        self.send_response(script.status)
        for name, value in script.headers:
            self.send_header(name, value)
        self._framing_headers(script)
        self.end_headers()
        for number, chunk in enumerate(script.chunks):
            self._before_chunk(script, number)
            self._write(script, chunk)
        self._before_chunk(script, len(script.chunks))
        if script.framing == "chunked":
            self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def _framing_headers(self, script: Scripted) -> None:
        if script.framing == "chunked":
            self.send_header("Transfer-Encoding", "chunked")
        elif script.framing == "length":
            self.send_header("Content-Length", str(sum(map(len, script.chunks))))
        else:
            self.send_header("Connection", "close")
            self.close_connection = True

    def _before_chunk(self, script: Scripted, number: int) -> None:
        if script.stall_after == number:
            self._stall()
        if script.drop_after == number:
            raise _Dropped

    def _stall(self) -> None:
        self.server.state.stalled.set()
        self.server.state.release.wait()
        raise _Dropped

    def _write(self, script: Scripted, chunk: bytes) -> None:
        if not chunk:
            return  # an empty chunk would end a chunked body
        if script.framing == "chunked":
            chunk = b"%x\r\n%s\r\n" % (len(chunk), chunk)
        self.wfile.write(chunk)
        self.wfile.flush()


def _hard_close(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    state: _State

    def handle_error(self, request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], OSError):  # clients hanging up are expected
            super().handle_error(request, client_address)

    def state_record(self, request: RecordedRequest) -> Scripted:
        with self.state.lock:
            self.state.requests.append(request)
            queue = self.state.queues.get(request.path)
            if queue:
                return queue.popleft()
        message = f"no scripted response for {request.method} {request.path}"
        return Scripted(404, (json.dumps({"error": {"message": message}}).encode(),), JSON_HEADERS)


class SSEServer:
    """Start on a free 127.0.0.1 port; `add()` scripts responses per path. With `tls`
    (a server-side SSLContext, see `tls_context`) it speaks HTTPS."""

    def __init__(self, tls: ssl.SSLContext | None = None) -> None:
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.state = _State()
        self._scheme = "http"
        if tls is not None:
            self._server.socket = tls.wrap_socket(self._server.socket, server_side=True)
            self._scheme = "https"
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.02,), daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"{self._scheme}://{host}:{port}"

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._server.state.lock:
            return list(self._server.state.requests)

    @property
    def stalled(self) -> threading.Event:
        """Set once a response has reached its stall point."""
        return self._server.state.stalled

    def add(self, path: str, *scripts: Scripted) -> None:
        with self._server.state.lock:
            self._server.state.queues.setdefault(path, deque()).extend(scripts)

    def add_body(self, path: str, body: bytes, **options: Any) -> None:
        self.add(path, Scripted(chunks=(body,), **options))

    def release(self) -> None:
        self._server.state.release.set()

    def start(self) -> SSEServer:
        self._thread.start()
        return self

    def close(self) -> None:
        self.release()
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> SSEServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()


@pytest.fixture
def sse_server() -> Iterator[SSEServer]:
    with SSEServer() as server:
        yield server


TLS_DIR = Path(__file__).parent / "tls"  # a self-signed certificate for 127.0.0.1, valid until 2126


def tls_context() -> ssl.SSLContext:
    """The server side of the loopback HTTPS tests."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(TLS_DIR / "cert.pem", TLS_DIR / "key.pem")
    return context


def trusting_context() -> ssl.SSLContext:
    """A client context that trusts the loopback certificate (and nothing else)."""
    return ssl.create_default_context(cafile=str(TLS_DIR / "cert.pem"))


def sse_event(data: str, event: str | None = None) -> bytes:
    head = f"event: {event}\n" if event else ""
    return f"{head}data: {data}\n\n".encode()


def openai_events(payloads: Iterable[Any], *, done: bool = True) -> list[bytes]:
    """One `data:` event per payload (JSON-encoded), then `data: [DONE]`."""
    events = [sse_event(json.dumps(payload)) for payload in payloads]
    return events + [sse_event("[DONE]")] if done else events


def anthropic_events(payloads: Iterable[Mapping[str, Any]]) -> list[bytes]:
    """One event per payload, named by the payload's `type` as Anthropic does."""
    return [sse_event(json.dumps(payload), str(payload["type"])) for payload in payloads]


def json_response(status: int, payload: Any, headers: Sequence[tuple[str, str]] = ()) -> Scripted:
    body = json.dumps(payload).encode()
    return Scripted(status, (body,), JSON_HEADERS + tuple(headers), framing="length")
