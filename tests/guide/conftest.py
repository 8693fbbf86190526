from __future__ import annotations

import pytest

from tests.support.sse_server import SSEServer, sse_server  # noqa: F401  (the fixture)


@pytest.fixture
def openai(sse_server: SSEServer, monkeypatch: pytest.MonkeyPatch) -> SSEServer:
    """The guide's `provider="openai"` tiers, pointed at the loopback fake the way
    the OpenAI SDK is: OPENAI_BASE_URL, and a fake key."""
    monkeypatch.setenv("OPENAI_BASE_URL", sse_server.url + "/v1")
    monkeypatch.setenv("OPENAI_API_KEY", "test-key")
    return sse_server
