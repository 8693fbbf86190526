"""OpenAIProvider: the request it sends, API keys, and how chunks become deltas."""
from __future__ import annotations

import json
from typing import Any

import pytest

from cascadectl.config.model import Timeouts
from cascadectl.errors import ConfigError, MissingAPIKeyError, ProviderError
from cascadectl.streaming.deltas import Delta, ExtraDelta, FinishDelta, TextDelta, TokenLogprob, ToolCallDelta, UsageDelta
from cascadectl.providers.http.transport import APIErrorEvent, CallSite
from cascadectl.providers.http.openai import ChunkParser, build_body, openai_tool_choice
from cascadectl.providers.http.sse import SSEEvent
from cascadectl.tools import ToolChoice
from tests.providers import helpers as h
from tests.support.sse_server import Scripted, SSEServer, openai_events, sse_event

PATH = "/v1/chat/completions"
WEATHER = {"name": "get_weather", "description": "Weather now",
           "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}


def feed(*payloads: Any, end: bool = True) -> list[Delta]:
    parser = ChunkParser(CallSite("t", "openai"))
    deltas = [d for p in payloads for d in parser.feed(SSEEvent("message", p if isinstance(p, str) else json.dumps(p)))]
    return deltas + (parser.end() if end else [])


def test_the_request_on_the_wire(sse_server: SSEServer) -> None:
    sse_server.add(PATH, Scripted(chunks=tuple(openai_events(h.HELLO))))
    config = h.tier(sse_server.url, max_tokens=99, temperature=0.1,
                    options={"extra_body": {"seed": 7}, "headers": {"HTTP-Referer": "https://example.org"}})
    req = h.request(messages=[{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hi"}],
                    tools=[WEATHER], tool_choice={"name": "get_weather"}, logprobs=True, stop=["\n\n"], temperature=0.3)
    outcome = h.run(config, req)
    assert outcome.error is None
    (sent,) = sse_server.requests
    assert sent.json == {
        "model": "m",
        "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hi"}],
        "stream": True,
        "stream_options": {"include_usage": True},
        "max_tokens": 99,
        "temperature": 0.3,
        "stop": ["\n\n"],
        "logprobs": True,
        "top_logprobs": 0,
        "tools": [{"type": "function", "function": {"name": "get_weather", "description": "Weather now",
                                                    "parameters": WEATHER["parameters"]}}],
        "tool_choice": {"type": "function", "function": {"name": "get_weather"}},
        "seed": 7,
    }
    assert sent.headers["authorization"] == f"Bearer {h.KEY}"
    assert sent.headers["accept"] == "text/event-stream"
    assert sent.headers["http-referer"] == "https://example.org"


def test_max_tokens_field_can_be_renamed() -> None:
    config = h.tier("http://127.0.0.1:1", options={"max_tokens_field": "max_completion_tokens"})
    body = build_body(config, h.request(max_tokens=5))
    assert body["max_completion_tokens"] == 5 and "max_tokens" not in body
    assert "logprobs" not in body and "tools" not in body and "tool_choice" not in body


def test_tools_in_any_known_format_are_sent_the_openai_way() -> None:
    openai_shaped = {"type": "function", "function": WEATHER}
    anthropic_shaped = {"name": "get_weather", "description": "Weather now", "input_schema": WEATHER["parameters"]}
    bodies = [build_body(h.tier("http://x"), h.request(tools=[tool]))["tools"] for tool in (WEATHER, openai_shaped, anthropic_shaped)]
    assert bodies[0] == bodies[1] == bodies[2]


def test_a_tool_without_a_name_is_a_clear_error() -> None:
    with pytest.raises(ConfigError, match="tools\\[0\\]: missing 'name'"):
        build_body(h.tier("http://x"), h.request(tools=[{"description": "nameless"}]))


@pytest.mark.parametrize(
    ("choice", "sent"),
    [
        (None, None), ("auto", "auto"), ("required", "required"), ("none", "none"), ("any", "required"),
        ({"name": "f"}, {"type": "function", "function": {"name": "f"}}),
        ({"type": "function", "function": {"name": "f"}}, {"type": "function", "function": {"name": "f"}}),
        (ToolChoice("required"), "required"),
        (ToolChoice("function", "f"), {"type": "function", "function": {"name": "f"}}),
    ],
)
def test_tool_choice_mapping(choice: Any, sent: Any) -> None:
    assert openai_tool_choice(choice, ["f"]) == sent


def test_a_tool_choice_naming_no_offered_tool_is_a_clear_error() -> None:
    with pytest.raises(ConfigError, match="no tool named 'sometimes'"):
        openai_tool_choice("sometimes", ["f"])


def test_missing_key_names_the_variable_and_sends_nothing(sse_server: SSEServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TEST_KEY")
    with pytest.raises(MissingAPIKeyError, match="TEST_KEY is not set") as caught:
        h.make(h.tier(sse_server.url))
    assert caught.value.variable == "TEST_KEY"
    assert sse_server.requests == []


def test_openai_itself_needs_openai_api_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with pytest.raises(MissingAPIKeyError, match="OPENAI_API_KEY"):
        h.make(h.tier("http://unused", base_url=None, api_key_env=None))


def test_a_local_server_needs_no_key_and_gets_no_authorization(sse_server: SSEServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    sse_server.add(PATH, Scripted(chunks=tuple(openai_events(h.HELLO))))
    outcome = h.run(h.tier(sse_server.url, api_key_env=None))
    assert outcome.error is None
    assert "authorization" not in sse_server.requests[0].headers


def test_a_bad_base_url_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="base_url 'localhost:8080/v1' is not an http"):
        h.make(h.tier("http://x", base_url="localhost:8080/v1"))


def test_the_key_is_not_in_the_repr() -> None:
    provider = h.make(h.tier("http://127.0.0.1:9"))
    assert h.KEY not in repr(provider) and h.KEY not in repr(provider._http) and h.KEY not in repr(provider._site)
    assert repr(provider) == "OpenAIProvider(tier='t', model='m', url='http://127.0.0.1:9/v1/chat/completions')"


def test_text_with_logprobs() -> None:
    chunk = {"choices": [{"index": 0, "delta": {"content": "Foo"},
                          "logprobs": {"content": [{"token": "Foo", "logprob": -0.25, "bytes": [70], "top_logprobs": []}]}}]}
    assert feed(chunk, "[DONE]") == [TextDelta("Foo", (TokenLogprob("Foo", -0.25),))]


def test_reasoning_refusal_and_cached_usage() -> None:
    deltas = feed(
        {"choices": [{"index": 0, "delta": {"reasoning_content": "think"}}]},
        {"choices": [{"index": 0, "delta": {"refusal": "No."}, "logprobs": {"refusal": [{"token": "No.", "logprob": -1.0}]}}]},
        {"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}], "usage": None},
        {"choices": [], "usage": {"prompt_tokens": 10, "completion_tokens": 2, "prompt_tokens_details": {"cached_tokens": 8}}},
    )
    assert deltas == [
        ExtraDelta("reasoning", "think"),
        ExtraDelta("refusal", "No.", {"logprobs": [{"token": "No.", "logprob": -1.0}]}),
        FinishDelta("stop"),
        UsageDelta(10, 2, 8),
    ]


@pytest.mark.parametrize(("native", "normal"), [("function_call", "tool_calls"), ("eos", "stop"), ("max_tokens", "length")])
def test_other_servers_finish_reasons_are_normalised(native: str, normal: str) -> None:
    deltas = feed({"choices": [{"index": 0, "delta": {}, "finish_reason": native}]})
    assert deltas == [FinishDelta(normal), ExtraDelta("native_finish_reason", native)]


def _call(index: int | None = None, id: str | None = None, name: str | None = None, args: Any = "") -> dict[str, Any]:
    entry: dict[str, Any] = {"function": {"arguments": args}}
    if index is not None:
        entry["index"] = index
    if id is not None:
        entry.update(id=id, type="function")
    if name is not None:
        entry["function"]["name"] = name
    return entry


def test_tool_call_index_starting_at_1_becomes_slot_0() -> None:
    deltas = feed(h.tool_chunk(_call(1, "a", "f", "")), h.tool_chunk(_call(1, args='{"x"')),
                  h.tool_chunk(_call(1, args=": 1}")), h.finish_chunk("tool_calls"))
    assert h.tool_calls(deltas) == [{"id": "a", "name": "f", "arguments": {"x": 1}}]
    assert {d.index for d in deltas if isinstance(d, ToolCallDelta)} == {0}


def test_parallel_calls_reusing_index_0_are_kept_apart_by_id() -> None:
    deltas = feed(h.tool_chunk(_call(0, "a", "f", "{}")), h.tool_chunk(_call(0, "b", "g", '{"y":')),
                  h.tool_chunk(_call(0, args=" 2}")), h.finish_chunk("tool_calls"))
    assert h.tool_calls(deltas) == [{"id": "a", "name": "f", "arguments": {}}, {"id": "b", "name": "g", "arguments": {"y": 2}}]


def test_calls_without_index_or_id() -> None:
    deltas = feed(h.tool_chunk(_call(None, "", "f", '{"a": 1}'), _call(None, "", "f", '{"a": 2}')), h.finish_chunk("stop"))
    assert h.tool_calls(deltas) == [{"id": "", "name": "f", "arguments": {"a": 1}}, {"id": "", "name": "f", "arguments": {"a": 2}}]


def test_fragments_without_index_continue_the_last_call() -> None:
    deltas = feed(h.tool_chunk(_call(None, "c1", "f", '{"a"')), h.tool_chunk(_call(None, None, None, ": 3}")), h.finish_chunk())
    assert h.tool_calls(deltas) == [{"id": "c1", "name": "f", "arguments": {"a": 3}}]


def test_an_id_repeated_on_every_fragment_and_object_arguments() -> None:
    deltas = feed(h.tool_chunk(_call(0, "c1", "f", '{"a":')), h.tool_chunk(_call(0, "c1", "f", " 1}")),
                  h.tool_chunk(_call(1, "c2", "g", {"b": True})), h.finish_chunk())
    assert h.tool_calls(deltas) == [{"id": "c1", "name": "f", "arguments": {"a": 1}}, {"id": "c2", "name": "g", "arguments": {"b": True}}]


def test_an_error_payload_after_200_is_an_api_error() -> None:
    payload = {"error": {"message": "upstream failed", "code": 502}}
    with pytest.raises(APIErrorEvent) as caught:
        feed(h.text_chunk("partial"), payload)
    assert (caught.value.kind, caught.value.started, caught.value.payload) == ("api_error", True, payload)
    assert "error event after HTTP 200" in str(caught.value) and "upstream failed" in str(caught.value)


def test_an_error_event_whose_data_is_not_json() -> None:
    parser = ChunkParser(CallSite("t", "openai"))
    with pytest.raises(APIErrorEvent, match="model crashed") as caught:
        parser.feed(SSEEvent("error", "model crashed"))
    assert caught.value.payload == {"error": {"message": "model crashed"}}


@pytest.mark.parametrize("data", ['{"choices": 5}', "[1, 2]", '{"choices": [{"index": 0, "delta": "x"}]}'])
def test_unexpected_shapes_are_protocol_errors(data: str) -> None:
    with pytest.raises(ProviderError, match="event 1 has an unexpected shape") as caught:
        feed(data)
    assert caught.value.kind == "protocol"


def test_a_stream_without_done_or_finish_is_truncated() -> None:
    with pytest.raises(ProviderError, match="ended before \\[DONE\\]") as caught:
        feed(h.text_chunk("cut"))
    assert (caught.value.kind, caught.value.started) == ("connection", True)


def test_a_finish_reason_without_done_is_complete() -> None:
    assert feed(h.text_chunk("ok"), h.finish_chunk()) == [TextDelta("ok"), FinishDelta("stop")]


def test_events_after_done_are_ignored() -> None:
    assert feed(h.text_chunk("ok"), "[DONE]", "garbage {") == [TextDelta("ok")]


def test_other_choices_are_reported_once_at_the_end() -> None:
    chunk = {"choices": [{"index": 0, "delta": {"content": "a"}}, {"index": 1, "delta": {"content": "b"}}]}
    deltas = feed(chunk, {"choices": [{"index": 1, "delta": {}, "finish_reason": "length"}]}, h.finish_chunk(), "[DONE]")
    ignored = [d for d in deltas if isinstance(d, ExtraDelta) and d.kind == "ignored_choices"]
    assert h.text(deltas) == "a"
    assert len(ignored) == 1 and deltas[-1] is ignored[0]
    assert ignored[0].data == {"choices": [{"index": 1, "text": "b", "tool_calls": [], "finish_reason": "length"}]}


def test_a_server_holding_the_connection_open_after_done_is_still_a_success(sse_server: SSEServer) -> None:
    events = openai_events(h.HELLO)
    sse_server.add(PATH, Scripted(chunks=tuple(events), stall_after=len(events)))
    timeouts = Timeouts(connect=5.0, read=5.0, stall=0.1, total=20.0)
    outcome = h.run(h.tier(sse_server.url, timeout=timeouts))
    assert outcome.error is None and h.text(outcome.deltas) == "Hello"


def test_an_error_event_on_the_wire(sse_server: SSEServer) -> None:
    body = sse_event(json.dumps(h.text_chunk("x"))) + sse_event('{"error": {"message": "nope", "type": "server_error"}}', "error")
    sse_server.add(PATH, Scripted(chunks=(body,)))
    outcome = h.run(h.tier(sse_server.url), recorder=h.Recorder())
    assert isinstance(outcome.error, APIErrorEvent)
    assert outcome.error.kind == "api_error" and len(sse_server.requests) == 1


def test_an_unknown_option_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="unknown option 'seed' for provider 'openai' .*options.extra_body"):
        h.make(h.tier("http://x", options={"seed": 7}))


def test_an_option_of_the_wrong_type_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="options.extra_body must be a Mapping, got 'seed=7'"):
        h.make(h.tier("http://x", options={"extra_body": "seed=7"}))


@pytest.mark.parametrize("encoding", ["gzip", "identity"])
def test_a_compressed_stream_is_decoded_and_a_plain_one_read_as_is(sse_server: SSEServer, encoding: str) -> None:
    import gzip

    body = b"".join(openai_events(h.HELLO))
    headers = (("Content-Type", "text/event-stream"), ("Content-Encoding", encoding))
    wire = gzip.compress(body) if encoding == "gzip" else body
    sse_server.add(PATH, Scripted(chunks=(wire[:7], wire[7:]), headers=headers))
    outcome = h.run(h.tier(sse_server.url), recorder=h.Recorder())
    assert outcome.error is None
    assert h.text(outcome.deltas) == "Hello"


def test_a_body_from_another_transport_goes_through_httpx() -> None:
    import asyncio

    import httpx

    from cascadectl.providers.http.sse import body_chunks

    class Plain(httpx.AsyncByteStream):  # an __aiter__ that is an iterator, not a generator
        def __init__(self) -> None:
            self.parts = [b"data: 1\n\n"]

        def __aiter__(self) -> Any:
            return self

        async def __anext__(self) -> bytes:
            if not self.parts:
                raise StopAsyncIteration
            return self.parts.pop()

    async def go() -> list[bytes]:
        response = httpx.Response(200, stream=Plain(), request=httpx.Request("GET", "http://x/"))
        chunks = body_chunks(response)
        out = [chunk async for chunk in chunks]
        await chunks.aclose()
        return out

    assert asyncio.run(go()) == [b"data: 1\n\n"]
