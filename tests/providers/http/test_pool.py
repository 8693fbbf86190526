from __future__ import annotations

import asyncio

import httpx
import pytest

from cascadectl.providers.http.h1 import H1Transport
from cascadectl.providers.http.pool import PooledClient, own_client, pooled_client
from tests.support.sse_server import SSEServer, json_response


def _server(responses: int) -> SSEServer:
    server = SSEServer().start()
    server.add("/x", *[json_response(200, {"ok": i}) for i in range(responses)])
    return server


def test_a_proxy_in_the_environment_gets_httpx_own_client(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:9")
    client = pooled_client()
    assert not isinstance(client, PooledClient) and not isinstance(client._transport, H1Transport)
    asyncio.run(client.aclose())


def test_a_provider_client_behind_a_proxy_is_httpx_own_and_otherwise_ours(monkeypatch: pytest.MonkeyPatch) -> None:
    timeout, limits = httpx.Timeout(5.0), httpx.Limits(max_connections=4)
    direct = own_client(timeout, limits)
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:9")
    proxied = own_client(timeout, limits)
    assert isinstance(direct._transport, H1Transport)
    assert not isinstance(proxied._transport, H1Transport) and proxied._mounts  # the proxy is mounted
    asyncio.run(direct.aclose())
    asyncio.run(proxied.aclose())


def test_the_short_post_path_sends_what_httpx_send_sends() -> None:
    """PooledClient.post_stream against the request httpx's own build_request + send makes."""
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
