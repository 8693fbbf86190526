"""Auth, body size and concurrency: what the server refuses, and how."""
from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from typing import Any, AsyncIterator

import httpx
import pytest

from cascadectl.providers.fake import FakeScript
from cascadectl.serve.app import create_app
from tests.serve.conftest import settings
from tests.serve.support import CLIENT_KEY, WAIT, Hold, LiveServer, call, held_agent, qa_agent, use_held_provider, user

CHAT = "/v1/chat/completions"
BODY = {"model": "qa", "messages": user("What is the capital of France?")}


def guarded() -> Any:
    return create_app({"qa": qa_agent()}, settings(api_key_env="SERVE_KEY"), api_key=CLIENT_KEY)


@pytest.mark.parametrize("header", [None, "Bearer sk-wrong", f"Basic {CLIENT_KEY}", "Bearer "])
def test_v1_needs_the_bearer_key(header: str | None) -> None:
    headers = {"Authorization": header} if header else {}
    for method, path, body in (("POST", CHAT, BODY), ("GET", "/v1/models", None)):
        response = call(guarded(), method, path, json=body, headers=headers)
        assert response.status_code == 401 and response.headers["www-authenticate"] == "Bearer"
        error = response.json()["error"]
        assert error["code"] == "invalid_api_key" and set(error) == {"message", "type", "param", "code"}
        assert CLIENT_KEY not in response.text and "sk-wrong" not in response.text


def test_the_right_key_passes_and_health_needs_none() -> None:
    ok = call(guarded(), "POST", CHAT, json=BODY, headers={"Authorization": f"Bearer {CLIENT_KEY}"})
    assert ok.status_code == 200 and ok.json()["choices"][0]["message"]["content"].endswith("Paris.")
    assert call(guarded(), "GET", "/health").json()["status"] == "ok"


def test_a_body_over_the_limit_is_413_whether_declared_or_streamed() -> None:
    app = create_app({"qa": qa_agent()}, settings(max_body_bytes=200))
    big = {**BODY, "messages": user("x" * 300)}
    declared = call(app, "POST", CHAT, json=big)
    assert declared.status_code == 413 and declared.json()["error"]["code"] == "request_too_large"

    async def chunked() -> AsyncIterator[bytes]:
        for _ in range(5):
            yield b" " * 60

    streamed = call(app, "POST", CHAT, content=chunked())
    assert streamed.status_code == 413
    assert call(app, "POST", CHAT, json=BODY).status_code == 200  # under the limit


def test_past_max_concurrency_requests_get_429_with_retry_after(monkeypatch: pytest.MonkeyPatch) -> None:
    use_held_provider(monkeypatch)
    hold = Hold(after=0)
    app = create_app({"qa": held_agent(hold)}, settings(max_concurrency=1))
    with LiveServer(app) as live, ThreadPoolExecutor(1) as pool:
        first = pool.submit(httpx.post, f"{live.url}{CHAT}", json=BODY, timeout=WAIT)
        assert hold.reached.wait(WAIT)  # the first request is in flight, its verifier held
        refused = httpx.post(f"{live.url}{CHAT}", json=BODY, timeout=WAIT)
        assert refused.status_code == 429 and refused.headers["retry-after"] == "1"
        assert refused.json()["error"]["code"] == "rate_limit_exceeded"
        health = httpx.get(f"{live.url}/health", timeout=WAIT).json()
        assert (health["in_flight"], health["max_concurrency"]) == (1, 1)  # /health is never limited
        hold.release()
        assert first.result(WAIT).status_code == 200
        assert httpx.post(f"{live.url}{CHAT}", json=BODY, timeout=WAIT).status_code == 200  # the slot is free again


def test_a_client_gone_while_sending_its_body_gets_a_400_and_no_cascade_runs() -> None:
    drafter = FakeScript()
    app = create_app({"qa": qa_agent(drafter)}, settings())
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http",
             "path": CHAT, "raw_path": CHAT.encode(), "query_string": b"", "root_path": "",
             "headers": [(b"content-type", b"application/json"), (b"content-length", b"500")],
             "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 2)}
    messages = [{"type": "http.request", "body": b'{"model": "qa", "mess', "more_body": True},
                {"type": "http.disconnect"}]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    asyncio.run(app(scope, receive, send))
    assert sent[0]["type"] == "http.response.start" and sent[0]["status"] == 400
    assert b"disconnected while sending" in sent[1]["body"] and drafter.requests == []
