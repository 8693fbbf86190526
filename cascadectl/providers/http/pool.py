"""The HTTP client an agent shares between its tiers: connections split over
several small httpcore pools, because one large pool costs CPU quadratic in its
size on every request start and end."""
from __future__ import annotations

import ssl
import urllib.request
from typing import Any, AsyncIterator

import httpx


def pooled_client(max_connections: int = 256, max_keepalive: int = 64, shards: int = 8) -> httpx.AsyncClient:
    """The client an agent shares between its HTTP tiers. Behind a proxy set in
    the environment it is httpx's own (which honours the proxy); otherwise its
    connections are split over `shards` pools (see PooledTransport)."""
    limits = httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_keepalive)
    if shards <= 1 or any(scheme != "no" for scheme in urllib.request.getproxies()):
        return httpx.AsyncClient(limits=limits)
    context: ssl.SSLContext = httpx.create_ssl_context()  # one for every pool: each costs milliseconds
    return httpx.AsyncClient(limits=limits, verify=context, transport=PooledTransport(shards, limits, context))


class PooledTransport(httpx.AsyncBaseTransport):
    """Several smaller httpcore pools behind one transport. httpcore scans every
    connection of its pool, and each idle one against all the others, whenever a
    request starts or ends: at 64 requests in flight that cost ~4 ms of CPU per
    request. A request goes to the pool with the fewest in flight (the first on a
    tie), so calls one after another still reuse a single connection."""

    def __init__(self, shards: int, limits: httpx.Limits, verify: Any = True) -> None:
        self._limits = httpx.Limits(
            max_connections=_share(limits.max_connections, shards),
            max_keepalive_connections=_share(limits.max_keepalive_connections, shards),
            keepalive_expiry=limits.keepalive_expiry,
        )
        self._verify = verify
        self._pools: list[httpx.AsyncHTTPTransport | None] = [None] * shards
        self._busy = [0] * shards

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        busy = self._busy
        shard = busy.index(min(busy))
        pool = self._pools[shard] or self._open(shard)
        busy[shard] += 1
        try:
            response = await pool.handle_async_request(request)
        except BaseException:
            busy[shard] -= 1
            raise
        response.stream = _Released(response.stream, busy, shard)
        return response

    def _open(self, shard: int) -> httpx.AsyncHTTPTransport:
        pool = self._pools[shard] = httpx.AsyncHTTPTransport(verify=self._verify, limits=self._limits)
        return pool

    async def aclose(self) -> None:
        for pool in self._pools:
            if pool is not None:
                await pool.aclose()


def _share(limit: int | None, shards: int) -> int | None:
    return None if limit is None else max(1, -(-limit // shards))


class _Released(httpx.AsyncByteStream):
    """A response body that gives its pool's in-flight slot back when closed."""

    __slots__ = ("_stream", "_busy", "_shard")

    def __init__(self, stream: Any, busy: list[int], shard: int) -> None:
        self._stream = stream
        self._busy: list[int] | None = busy
        self._shard = shard

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self._stream:
            yield chunk

    async def aclose(self) -> None:
        if self._busy is not None:
            self._busy[self._shard] -= 1
            self._busy = None
        await self._stream.aclose()
