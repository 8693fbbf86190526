"""The head of an HTTP/1.1 response (for h1conn.py): the status line and headers,
checked strictly, and what they say about the body's framing and the connection's
reuse. Also the failure type every part of the transport raises."""
from __future__ import annotations

import re
from typing import NamedTuple

import httpx

_TOKEN = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")


class Failure(Exception):
    """A connection-level failure, turned into the httpx exception for the request.
    `unsent`: nothing of the request reached the connection (always safe to send again);
    `before_response`: no byte of a response came back (safe for idempotent requests)."""

    def __init__(self, kind: type[httpx.TransportError], message: str, *, unsent: bool = False,
                 before_response: bool = False) -> None:
        super().__init__(message)
        self.kind = kind
        self.unsent = unsent
        self.before_response = before_response or unsent

    def fresh(self) -> Failure:
        """A new instance to raise (re-raising one instance grows its traceback)."""
        return Failure(self.kind, str(self), unsent=self.unsent, before_response=self.before_response)


class Head(NamedTuple):
    version: bytes
    status: int
    reason: bytes
    headers: list[tuple[bytes, bytes]]
    framing: str  # "length", "chunked", "close", or "" with no body
    remaining: int  # the body's length, for "length"
    reusable: bool  # the connection can take another request after this response
    done: bool  # the response has no body (HEAD, 204, 304, Content-Length: 0)


def read_head(head: bytes, head_only: bool) -> Head | None:
    """The head without its blank line; None for an interim (1xx) response. `head_only`:
    the request was HEAD, so no body follows whatever the headers say."""
    lines = [line[:-1] if line.endswith(b"\r") else line for line in head.split(b"\n")]
    parts = lines[0].split(b" ", 2)
    if len(parts) < 2 or parts[0] not in (b"HTTP/1.1", b"HTTP/1.0") or not (len(parts[1]) == 3 and parts[1].isdigit()):
        raise Failure(httpx.RemoteProtocolError, f"not an HTTP/1.1 status line: {lines[0][:80]!r}")
    status = int(parts[1])
    if status < 100 or status == 101:
        raise Failure(httpx.RemoteProtocolError, f"status {status}: not a response this client can take")
    if status < 200:
        return None
    headers = []
    for line in lines[1:]:
        name, colon, value = line.partition(b":")
        if not colon or not _TOKEN.fullmatch(name):
            raise Failure(httpx.RemoteProtocolError, f"malformed response header line: {line[:80]!r}")
        headers.append((name, value.strip(b" \t")))
    version = parts[0]
    framing, remaining, reusable, done = _framing(version, status, headers, head_only)
    return Head(version, status, parts[2] if len(parts) > 2 else b"", headers, framing, remaining, reusable, done)


def _framing(version: bytes, status: int, headers: list[tuple[bytes, bytes]],
             head_only: bool) -> tuple[str, int, bool, bool]:
    connection = b",".join(v for n, v in headers if n.lower() == b"connection").lower()
    tokens = {t.strip() for t in connection.split(b",")}
    reusable = b"close" not in tokens and (version == b"HTTP/1.1" or b"keep-alive" in tokens)
    codings = [v.strip().lower() for n, v in headers if n.lower() == b"transfer-encoding"]
    lengths = {v.strip() for n, v in headers if n.lower() == b"content-length"}
    if head_only or status in (204, 304):
        return "", 0, reusable, True
    if codings:
        if codings != [b"chunked"]:
            raise Failure(httpx.RemoteProtocolError, f"unsupported Transfer-Encoding: {b', '.join(codings)!r}")
        return "chunked", 0, reusable and not lengths, False  # both framings given: trust neither next time
    if lengths:
        if len(lengths) > 1 or not next(iter(lengths)).isdigit():
            raise Failure(httpx.RemoteProtocolError, f"bad Content-Length: {b', '.join(sorted(lengths))!r}")
        length = int(next(iter(lengths)))
        return "length", length, reusable, length == 0
    return "close", 0, False, False


def check_token(value: bytes) -> bool:
    return _TOKEN.fullmatch(value) is not None
