from __future__ import annotations

import asyncio

import httpx
import pytest

from cascadectl.providers.http.pool import PooledTransport, pooled_client
from tests.support.sse_server import SSEServer, json_response


def _server(responses: int) -> SSEServer:
    server = SSEServer().start()
    server.add("/x", *[json_response(200, {"ok": i}) for i in range(responses)])
    return server


def test_calls_one_after_another_reuse_one_connection() -> None:
    server = _server(5)
    transport = PooledTransport(8, httpx.Limits(max_connections=64, max_keepalive_connections=16))

    async def go() -> list[int]:
        async with httpx.AsyncClient(transport=transport) as client:
            return [(await client.get(server.url + "/x")).json()["ok"] for _ in range(5)]

    try:
        assert asyncio.run(go()) == [0, 1, 2, 3, 4]
        assert sum(pool is not None for pool in transport._pools) == 1
        assert transport._busy == [0] * 8
    finally:
        server.close()


def test_concurrent_requests_spread_over_pools_and_slots_come_back() -> None:
    transport = PooledTransport(4, httpx.Limits(max_connections=16, max_keepalive_connections=8))
    seen: list[list[int]] = []

    async def handler(request: httpx.Request) -> httpx.Response:
        seen.append(list(transport._busy))
        await asyncio.sleep(0)
        return httpx.Response(200, stream=httpx.ByteStream(b"{}"))  # a body still to read, as from a socket

    for shard in range(4):  # pools that answer in-process, so no sockets are needed
        transport._pools[shard] = httpx.MockTransport(handler)  # type: ignore[assignment]

    async def go() -> None:
        async with httpx.AsyncClient(transport=transport) as client:
            await asyncio.gather(*(client.get("http://test/") for _ in range(8)))

    asyncio.run(go())
    assert max(max(b) for b in seen) <= 2  # 8 requests over 4 pools: never more than 2 on one
    assert transport._busy == [0, 0, 0, 0]


def test_a_failing_request_gives_its_slot_back() -> None:
    transport = PooledTransport(2, httpx.Limits(max_connections=4))

    async def boom(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    transport._pools = [httpx.MockTransport(boom), httpx.MockTransport(boom)]  # type: ignore[list-item]

    async def go() -> None:
        async with httpx.AsyncClient(transport=transport) as client:
            await client.get("http://test/")

    with pytest.raises(httpx.ConnectError):
        asyncio.run(go())
    assert transport._busy == [0, 0]


def test_a_proxy_in_the_environment_gets_httpx_own_client(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:9")
    client = pooled_client()
    assert not isinstance(client._transport, PooledTransport)
    asyncio.run(client.aclose())


def test_the_short_post_path_sends_what_httpx_send_sends() -> None:
    """PooledClient.post_stream against the request httpx's own build_request + send makes."""
    from cascadectl.providers.http.pool import PooledClient

    server = _server(2)
    body = {"model": "m", "messages": [{"role": "user", "content": "héllo"}], "stream": True}
    headers = {"Authorization": "Bearer sk-x", "Accept": "text/event-stream"}
    timeout = httpx.Timeout(5.0)

    async def go() -> list[int]:
        client = pooled_client()
        assert isinstance(client, PooledClient)
        async with client:
            short = await client.post_stream(server.url + "/x", headers, body, timeout)
            await short.aread()
            request = client.build_request("POST", server.url + "/x", headers=headers, json=body, timeout=timeout)
            full = await client.send(request, stream=True)
            await full.aread()
            assert short.request.extensions["timeout"] == full.request.extensions["timeout"]
            return [short.json()["ok"], full.json()["ok"]]

    try:
        assert asyncio.run(go()) == [0, 1]
        short, full = server.requests
        assert short.body == full.body
        assert {k: v for k, v in short.headers.items()} == {k: v for k, v in full.headers.items()}
    finally:
        server.close()
