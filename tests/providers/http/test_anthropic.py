"""AnthropicProvider: the request it sends and how Messages API events become deltas."""
from __future__ import annotations

import json
from typing import Any

import pytest

from cascadectl.errors import ConfigError, MissingAPIKeyError, ProviderError
from cascadectl.providers.http.anthropic import EventParser, anthropic_messages, anthropic_tool_choice
from cascadectl.streaming.deltas import Delta, ExtraDelta, FinishDelta, TextDelta, ToolCallDelta, UsageDelta
from cascadectl.providers.http.transport import APIErrorEvent, CallSite
from cascadectl.providers.http.sse import SSEEvent
from cascadectl.tools import ToolChoice
from tests.providers import helpers as h
from tests.support.sse_server import Scripted, SSEServer, anthropic_events

PATH = "/v1/messages"
START = {"type": "message_start", "message": {"id": "msg_1", "usage": {"input_tokens": 5, "output_tokens": 1}}}
STOP = {"type": "message_stop"}


def _stop(reason: str = "end_turn", **usage: int) -> dict[str, Any]:
    return {"type": "message_delta", "delta": {"stop_reason": reason, "stop_sequence": None}, "usage": usage or {"output_tokens": 3}}


def _text_block(index: int, *texts: str) -> list[dict[str, Any]]:
    deltas = [{"type": "content_block_delta", "index": index, "delta": {"type": "text_delta", "text": t}} for t in texts]
    return [{"type": "content_block_start", "index": index, "content_block": {"type": "text", "text": ""}},
            *deltas, {"type": "content_block_stop", "index": index}]


def _tool_block(index: int, id: str, name: str, *fragments: str) -> list[dict[str, Any]]:
    start = {"type": "content_block_start", "index": index,
             "content_block": {"type": "tool_use", "id": id, "name": name, "input": {}}}
    deltas = [{"type": "content_block_delta", "index": index, "delta": {"type": "input_json_delta", "partial_json": f}}
              for f in fragments]
    return [start, *deltas, {"type": "content_block_stop", "index": index}]


def feed(*payloads: dict[str, Any], end: bool = True) -> list[Delta]:
    parser = EventParser(CallSite("t", "anthropic"))
    deltas = [d for p in payloads for d in parser.feed(SSEEvent(str(p["type"]), json.dumps(p)))]
    if end:
        parser.end()
    return deltas


def _plain(deltas: list[Delta]) -> list[Delta]:
    return [d for d in deltas if not (isinstance(d, ExtraDelta) and d.kind in ("block", "native_finish_reason"))]


def test_the_request_on_the_wire(sse_server: SSEServer) -> None:
    sse_server.add(PATH, Scripted(chunks=tuple(anthropic_events([START, *_text_block(0, "Hi"), _stop(), STOP]))))
    config = h.tier(sse_server.url, "anthropic", options={"extra_body": {"metadata": {"user_id": "u"}}})
    tool = {"name": "f", "description": "F", "parameters": {"type": "object"}}
    req = h.request(messages=[{"role": "system", "content": "Be brief."}, {"role": "system", "content": "Be kind."},
                              {"role": "user", "content": "hi"}],
                    tools=[tool], tool_choice="required", stop=["END"], temperature=0.2)
    outcome = h.run(config, req)
    assert outcome.error is None and h.text(outcome.deltas) == "Hi"
    (sent,) = sse_server.requests
    assert sent.json == {
        "model": "m", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 1024, "stream": True,
        "system": "Be brief.\n\nBe kind.", "temperature": 0.2, "stop_sequences": ["END"],
        "tools": [{"name": "f", "description": "F", "input_schema": {"type": "object"}}],
        "tool_choice": {"type": "any"}, "metadata": {"user_id": "u"},
    }
    assert sent.headers["x-api-key"] == h.KEY
    assert sent.headers["anthropic-version"] == "2023-06-01"
    assert "authorization" not in sent.headers


def test_a_base_url_ending_in_v1_is_not_doubled(sse_server: SSEServer) -> None:
    sse_server.add(PATH, Scripted(chunks=tuple(anthropic_events([START, _stop(), STOP]))))
    outcome = h.run(h.tier(sse_server.url, "anthropic", base_url=sse_server.url + "/v1", max_tokens=50))
    assert outcome.error is None
    assert sse_server.requests[0].path == PATH and sse_server.requests[0].json["max_tokens"] == 50


@pytest.mark.parametrize(
    ("choice", "sent"),
    [(None, None), ("auto", {"type": "auto"}), ("required", {"type": "any"}), ("none", {"type": "none"}),
     ({"name": "f"}, {"type": "tool", "name": "f"}), ({"type": "any"}, {"type": "any"}),
     (ToolChoice("none"), {"type": "none"}), (ToolChoice("function", "f"), {"type": "tool", "name": "f"})],
)
def test_tool_choice_mapping(choice: Any, sent: Any) -> None:
    assert anthropic_tool_choice(choice, ["f"]) == sent


def test_a_bad_tool_choice_is_a_clear_error() -> None:
    with pytest.raises(ConfigError, match="tool_choice: expected a string or a mapping, got int"):
        anthropic_tool_choice(7, ["f"])


def test_tool_turns_become_tool_use_and_tool_result_blocks() -> None:
    messages = [
        {"role": "user", "content": "weather?"},
        {"role": "assistant", "content": "Checking.", "tool_calls": [
            {"id": "c1", "name": "w", "arguments": {"city": "Oslo"}},
            {"id": "c2", "type": "function", "function": {"name": "w", "arguments": '{"city": "Rome"}'}}]},
        {"role": "tool", "tool_call_id": "c1", "content": "cold"},
        {"role": "tool", "tool_call_id": "c2", "content": "warm"},
    ]
    assert anthropic_messages(messages) == [
        {"role": "user", "content": "weather?"},
        {"role": "assistant", "content": [
            {"type": "text", "text": "Checking."},
            {"type": "tool_use", "id": "c1", "name": "w", "input": {"city": "Oslo"}},
            {"type": "tool_use", "id": "c2", "name": "w", "input": {"city": "Rome"}}]},
        {"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": "c1", "content": "cold"},
            {"type": "tool_result", "tool_use_id": "c2", "content": "warm"}]},
    ]


def test_missing_key_names_anthropic_api_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    with pytest.raises(MissingAPIKeyError, match="ANTHROPIC_API_KEY is not set"):
        h.make(h.tier("http://127.0.0.1:9", "anthropic", api_key_env=None))


def test_usage_counts_cache_and_message_delta_replaces_it() -> None:
    start = {"type": "message_start", "message": {"usage": {
        "input_tokens": 10, "cache_read_input_tokens": 100, "cache_creation_input_tokens": 5, "output_tokens": 1}}}
    deltas = feed(start, {"type": "ping"}, _stop("end_turn", output_tokens=7), STOP)
    assert _plain(deltas) == [UsageDelta(115, 1, 100), FinishDelta("stop"), UsageDelta(None, 7, None)]
    assert h.usage(deltas) == {"input_tokens": 115, "output_tokens": 7, "cached_input_tokens": 100}


@pytest.mark.parametrize(
    ("native", "normal"),
    [("end_turn", "stop"), ("stop_sequence", "stop"), ("max_tokens", "length"), ("tool_use", "tool_calls"),
     ("refusal", "refusal"), ("pause_turn", "pause_turn")],
)
def test_stop_reasons_are_normalised_and_the_native_one_kept(native: str, normal: str) -> None:
    deltas = feed(START, _stop(native), STOP)
    assert h.finish_reasons(deltas) == [normal]
    assert [d.text for d in h.extras(deltas, "native_finish_reason")] == [native]


def test_tool_use_fragments_and_an_empty_input() -> None:
    deltas = feed(START, *_text_block(0, "Let me check."), *_tool_block(1, "t1", "plus", "", '{"a": ', "1}"),
                  *_tool_block(2, "t2", "now", ""), _stop("tool_use"), STOP)
    assert h.tool_calls(deltas) == [{"id": "t1", "name": "plus", "arguments": {"a": 1}},
                                    {"id": "t2", "name": "now", "arguments": {}}]
    assert [d.index for d in deltas if isinstance(d, ToolCallDelta)] == [0, 0, 0, 1, 1]
    assert h.text(deltas) == "Let me check."


def test_server_tools_are_extras_not_tool_calls() -> None:
    start = {"type": "content_block_start", "index": 0,
             "content_block": {"type": "server_tool_use", "id": "s1", "name": "web_search", "input": {}}}
    piece = {"type": "content_block_delta", "index": 0, "delta": {"type": "input_json_delta", "partial_json": '{"q": "x"}'}}
    result = {"type": "content_block_start", "index": 1,
              "content_block": {"type": "web_search_tool_result", "tool_use_id": "s1", "content": []}}
    deltas = feed(START, start, piece, {"type": "content_block_stop", "index": 0}, result,
                  {"type": "content_block_stop", "index": 1}, _stop(), STOP)
    assert h.tool_calls(deltas) == []
    assert [d.data for d in h.extras(deltas, "server_tool")] == [
        {"type": "server_tool_use", "id": "s1", "name": "web_search", "input": {"q": "x"}},
        {"type": "web_search_tool_result", "tool_use_id": "s1", "content": []},
    ]


def test_thinking_is_reasoning_with_its_signature() -> None:
    block = [{"type": "content_block_start", "index": 0, "content_block": {"type": "thinking", "thinking": ""}},
             {"type": "content_block_delta", "index": 0, "delta": {"type": "thinking_delta", "thinking": "hmm"}},
             {"type": "content_block_delta", "index": 0, "delta": {"type": "thinking_delta", "thinking": ""}},
             {"type": "content_block_delta", "index": 0, "delta": {"type": "signature_delta", "signature": "sig"}},
             {"type": "content_block_stop", "index": 0}]
    deltas = _plain(feed(START, *block, _stop(), STOP))
    assert deltas[1:3] == [ExtraDelta("reasoning", "hmm"), ExtraDelta("reasoning_signature", "sig")]
    assert h.text(deltas) == ""


def test_unknown_events_are_skipped() -> None:
    deltas = feed(START, {"type": "some_future_event", "x": 1}, *_text_block(0, "ok"), _stop(), STOP)
    assert h.text(deltas) == "ok"


@pytest.mark.parametrize(("error_type", "kind"), [("overloaded_error", "overloaded"), ("api_error", "api_error")])
def test_an_error_event_after_200(error_type: str, kind: str) -> None:
    error = {"type": "error", "error": {"type": error_type, "message": "Overloaded"}}
    with pytest.raises(APIErrorEvent) as caught:
        feed(START, *_text_block(0, "partial"), error)
    assert (caught.value.kind, caught.value.started, caught.value.payload) == (kind, True, error)
    assert f"({error_type}): Overloaded" in str(caught.value)


def test_an_error_event_on_the_wire_is_not_retried(sse_server: SSEServer) -> None:
    error = {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
    sse_server.add(PATH, Scripted(chunks=tuple(anthropic_events([START, error]))))
    outcome = h.run(h.tier(sse_server.url, "anthropic"), recorder=h.Recorder())
    assert outcome.error is not None and (outcome.error.kind, outcome.error.started) == ("overloaded", True)
    assert len(sse_server.requests) == 1


def test_a_stream_without_message_stop_or_stop_reason_is_truncated() -> None:
    with pytest.raises(ProviderError, match="ended before message_stop") as caught:
        feed(START, *_text_block(0, "cut"))
    assert (caught.value.kind, caught.value.started) == ("connection", True)


def test_input_for_a_block_that_never_started_is_a_protocol_error() -> None:
    piece = {"type": "content_block_delta", "index": 3, "delta": {"type": "input_json_delta", "partial_json": "{}"}}
    with pytest.raises(ProviderError, match="block 3, which never started") as caught:
        feed(START, piece)
    assert caught.value.kind == "protocol"


def test_malformed_json_is_a_protocol_error() -> None:
    parser = EventParser(CallSite("t", "anthropic"))
    with pytest.raises(ProviderError, match="event 1 is not valid JSON") as caught:
        parser.feed(SSEEvent("content_block_delta", '{"type": "content_block_delta", "index": 0, "delta": {'))
    assert caught.value.kind == "protocol"


def test_text_deltas_stream_in_order() -> None:
    assert _plain(feed(*_text_block(0, "a", "", "b"), _stop(), end=False))[:2] == [TextDelta("a"), TextDelta("b")]
