"""The load generator's HTTP client for bench/serve.py: a minimal HTTP/1.1 client on
asyncio streams that POSTs JSON and reads an SSE response to its end. It costs the
CPU a fraction of what httpx does per streamed event, so that on a small machine the
clients crowd out neither side of a comparison; both sides use it.

Keep-alive connections are reused per origin. Not a general client: it assumes the
servers it talks to (ours and the loopback upstream) speak plain HTTP/1.1 correctly.
"""
from __future__ import annotations

import asyncio
import json
import time
from collections import defaultdict
from typing import Any, NamedTuple
from urllib.parse import urlsplit


class Answer(NamedTuple):
    seconds: float
    status: int  # 0: no response (refused, reset)
    response_id: str | None  # the completion id: the trace's query id
    whole: bool  # the stream reached [DONE]


_Conn = tuple[asyncio.StreamReader, asyncio.StreamWriter]


class RawClient:
    def __init__(self) -> None:
        self._idle: dict[tuple[str, int], list[_Conn]] = defaultdict(list)

    async def post(self, url: str, body: dict[str, Any]) -> Answer:
        start = time.perf_counter()
        parts = urlsplit(url)
        origin = (parts.hostname or "127.0.0.1", parts.port or 80)
        payload = json.dumps(body).encode()
        request = (f"POST {parts.path} HTTP/1.1\r\nHost: {parts.netloc}\r\nContent-Type: application/json\r\n"
                   f"Content-Length: {len(payload)}\r\n\r\n").encode() + payload
        idle = self._idle[origin]
        conn = idle.pop() if idle else None
        try:
            if conn is None:
                conn = await asyncio.open_connection(*origin)
            conn[1].write(request)
            status, text, reusable = await _response(conn[0])
        except (OSError, asyncio.IncompleteReadError, ValueError):
            if conn is not None:
                conn[1].close()
            return Answer(time.perf_counter() - start, 0, None, False)
        if reusable:
            idle.append(conn)
        else:
            conn[1].close()
        return Answer(time.perf_counter() - start, status, _first_id(text), "data: [DONE]" in text)

    def close(self) -> None:
        for conns in self._idle.values():
            for _, writer in conns:
                writer.close()
        self._idle.clear()


async def _response(reader: asyncio.StreamReader) -> tuple[int, str, bool]:
    head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
    status = int(head[0].split(" ", 2)[1])
    headers = {name.strip().lower(): value.strip() for name, _, value in (line.partition(":") for line in head[1:] if line)}
    if headers.get("transfer-encoding", "").lower() == "chunked":
        pieces = []
        while True:
            size = int((await reader.readline()).split(b";", 1)[0], 16)
            if size == 0:
                while (await reader.readline()) not in (b"\r\n", b""):  # trailers, then the blank line
                    pass
                break
            pieces.append((await reader.readexactly(size + 2))[:-2])
        body = b"".join(pieces)
    elif "content-length" in headers:
        body = await reader.readexactly(int(headers["content-length"]))
    else:
        body = await reader.read()
        return status, body.decode(), False
    return status, body.decode(), headers.get("connection", "").lower() != "close"


def _first_id(text: str) -> str | None:
    for line in text.split("\n"):
        if line.startswith("data: {"):
            return json.loads(line[6:]).get("id")  # type: ignore[no-any-return]
    return None
