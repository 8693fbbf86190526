"""OpenAI wire in, OpenAI wire out: `provider: openai` tiers at the loopback SSE
server, with the client key and the upstream key kept apart and out of every output."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterator, NamedTuple

import openai
import pytest

from cascadectl.serve.app import app_from_settings
from cascadectl.serve.settings import ServeSettings
from tests.serve.support import CLIENT_KEY, WEATHER_TOOL, LiveServer, openai_yaml, user
from tests.support.sse_server import SSEServer, Scripted, json_response, openai_events, sse_server  # noqa: F401
from tests.support.wire import openai_text

CHAT = "/v1/chat/completions"
UPSTREAM_KEY = "sk-upstream-loopback-7777"
BASE = {"id": "chatcmpl-up", "object": "chat.completion.chunk", "created": 1, "model": "small-model"}


class Served(NamedTuple):
    upstream: SSEServer
    url: str
    live: LiveServer
    traces: Path

    def written_traces(self) -> str:
        """Every line the server traced, once it has stopped (it writes lines in batches)."""
        self.live.stop()
        return "".join(p.read_text() for p in self.traces.glob("*.jsonl"))


@pytest.fixture
def server(sse_server: SSEServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Served]:
    monkeypatch.setenv("UPSTREAM_KEY", UPSTREAM_KEY)
    monkeypatch.setenv("SERVE_KEY", CLIENT_KEY)
    cascade = openai_yaml(tmp_path / "loop.yaml", sse_server.url, "UPSTREAM_KEY")
    config = ServeSettings(cascades=(str(cascade),), api_key_env="SERVE_KEY", trace_dir=str(tmp_path / "traces"))
    with LiveServer(app_from_settings(config)) as live:
        yield Served(sse_server, live.url, live, tmp_path / "traces")


def sdk(url: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{url}/v1", api_key=CLIENT_KEY, max_retries=0)


def tool_call_stream() -> Scripted:
    def choice(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        return {**BASE, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}

    start = {"index": 0, "id": "call_up1", "type": "function", "function": {"name": "get_weather", "arguments": ""}}
    payloads = [
        choice({"role": "assistant", "content": None, "tool_calls": [start]}),
        choice({"tool_calls": [{"index": 0, "function": {"arguments": '{"ci'}}]}),
        choice({"tool_calls": [{"index": 0, "function": {"arguments": 'ty": "Paris"}'}}]}),
        choice({}, "tool_calls"),
        {**BASE, "choices": [], "usage": {"prompt_tokens": 40, "completion_tokens": 8, "total_tokens": 48}},
    ]
    return Scripted(200, tuple(openai_events(payloads)))


def test_text_streams_through_with_the_upstream_key_only_upstream(server: Served) -> None:
    upstream, url = server.upstream, server.url
    upstream.add(CHAT, openai_text(["The ", "capital ", "of ", "France ", "is ", "Paris."]))
    chunks = list(sdk(url).chat.completions.create(model="loop", messages=user("What is the capital of France?"),
                                                   stream=True, stream_options={"include_usage": True}))
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "The capital of France is Paris."
    assert chunks[-1].usage.prompt_tokens == 12 and chunks[-1].model_extra["cascade"]["model"] == "small-model"
    (sent,) = upstream.requests
    assert sent.headers["authorization"] == f"Bearer {UPSTREAM_KEY}"  # the client's key never goes upstream
    assert sent.headers["content-type"] == "application/json" and sent.headers["accept"] == "text/event-stream"
    assert sent.json["messages"] == user("What is the capital of France?")
    text = server.written_traces()
    assert '"type": "complete"' in text and UPSTREAM_KEY not in text and CLIENT_KEY not in text


def test_upstream_tool_call_fragments_reach_the_client_in_openai_shape(server: Served) -> None:
    upstream, url = server.upstream, server.url
    upstream.add(CHAT, tool_call_stream(), tool_call_stream())
    ask = dict(model="loop", messages=user("What is the weather in Paris?"), tools=[WEATHER_TOOL])
    chunks = list(sdk(url).chat.completions.create(**ask, stream=True))
    calls = [call for c in chunks if c.choices for call in c.choices[0].delta.tool_calls or ()]
    assert (calls[0].id, calls[0].function.name) == ("call_up1", "get_weather")
    assert json.loads("".join(c.function.arguments or "" for c in calls)) == {"city": "Paris"}
    assert chunks[-1].choices[0].finish_reason == "tool_calls"
    whole = sdk(url).chat.completions.create(**ask)
    assert json.loads(whole.choices[0].message.tool_calls[0].function.arguments) == {"city": "Paris"}
    assert upstream.requests[0].json["tools"][0]["function"]["name"] == "get_weather"


def test_upstream_auth_failures_are_a_502_that_quotes_no_upstream_message(server: Served) -> None:
    upstream, url = server.upstream, server.url
    refusal = json_response(401, {"error": {"message": "Incorrect API key provided: sk-upstr****7777", "type": "invalid_request_error"}})
    upstream.add(CHAT, refusal, refusal)
    with pytest.raises(openai.InternalServerError) as caught:
        sdk(url).chat.completions.create(model="loop", messages=user("hi"))
    message = caught.value.body["message"]  # type: ignore[index]
    assert "drafter: auth, HTTP 401" in message and "verifier: auth, HTTP 401" in message
    assert "sk-upstr" not in caught.value.response.text
