"""Results and events -> OpenAI dicts, on hand-made results."""
from __future__ import annotations

from typing import Any

import pytest

from cascadectl.serve.responses import Chunks, Ids, completion, finish_reason, headers, sse
from cascadectl.streaming.events import StreamEvent, StreamEventType as S, ToolStreamEvent, ToolStreamEventType as T
from cascadectl.traces.records import CascadeResult

IDS = Ids("chatcmpl-x", 1, "qa")


def result(**changes: Any) -> CascadeResult:
    base: dict[str, Any] = dict(content="Paris.", model_used="small", tier_used="drafter", draft_accepted=True,
                                routing_strategy="cascade", complexity="trivial", total_cost=0.0000123,
                                latency_ms=5.0, ttft_ms=1.0, finish_reason="stop", input_tokens=3, output_tokens=2)
    return CascadeResult(**{**base, **changes})


@pytest.mark.parametrize(("changes", "expected"), [
    ({}, "stop"),
    ({"finish_reason": None}, "stop"),
    ({"finish_reason": "length"}, "length"),
    ({"finish_reason": "content_filter"}, "content_filter"),
    ({"finish_reason": "stop", "tool_calls": [{"id": "c", "name": "f", "arguments": {}}]}, "tool_calls"),
    ({"finish_reason": "tool_calls"}, "stop"),  # no call survived: nothing for the client to run
    ({"finish_reason": "length", "incomplete_tool_calls": [{"id": "c", "name": "f", "raw_arguments": '{"a'}]}, "length"),
])
def test_finish_reason(changes: dict[str, Any], expected: str) -> None:
    assert finish_reason(result(**changes)) == expected


def test_cut_off_tool_calls_go_out_truncated_as_openai_sends_them() -> None:
    out = completion(IDS, result(content="", finish_reason="length",
                                 incomplete_tool_calls=[{"id": "c1", "name": "f", "raw_arguments": '{"a": 1', "error": "x"}]))
    message = out["choices"][0]["message"]
    assert message["content"] is None and message["tool_calls"][0]["function"] == {"name": "f", "arguments": '{"a": 1'}


def test_headers_say_unknown_when_a_price_is() -> None:
    assert headers(result())["x-cascade-cost-usd"] == "0.0000123"
    assert headers(result(total_cost=None))["x-cascade-cost-usd"] == "unknown"
    assert headers(result(total_cost=0.0))["x-cascade-cost-usd"] == "0"
    assert headers(result(model_used="modèle"))["x-cascade-model"] == "mod?le"


def test_a_call_that_streamed_no_argument_text_still_gets_its_arguments() -> None:
    chunks = Chunks(IDS, include_usage=False)
    start = ToolStreamEvent(T.TOOL_CALL_START, data={"id": "c1", "name": "ping", "index": 0})
    done = ToolStreamEvent(T.TOOL_CALL_COMPLETE, data={"tool_call": {"id": "c1", "name": "ping", "arguments": {}}})
    deltas = [c["choices"][0]["delta"]["tool_calls"][0] for e in (start, done) for c in chunks.for_event(e)]
    assert deltas == [{"index": 0, "id": "c1", "type": "function", "function": {"name": "ping", "arguments": ""}},
                      {"index": 0, "function": {"arguments": "{}"}}]


TEXTS = ["Paris.", 'a "quoted" \\ back\nslash', "modèle 東京 😀", "\x00cascadectl-content\x00", "", "</script>\u2028"]


@pytest.mark.parametrize("include_usage", [False, True])
@pytest.mark.parametrize("ids", [IDS, Ids("chatcmpl-y", 2, "\x00cascadectl-content\x00")])  # a name that is the marker
def test_text_chunks_on_the_wire_are_their_dicts_encoded(include_usage: bool, ids: Ids) -> None:
    chunks = Chunks(ids, include_usage)
    for text in TEXTS:
        for event in (StreamEvent(S.CHUNK, text), ToolStreamEvent(T.TEXT_CHUNK, text)):
            assert chunks.wire(event) == b"".join(sse(c) for c in chunks.for_event(event))


def test_other_events_on_the_wire_are_their_dicts_encoded() -> None:
    chunks = Chunks(IDS, include_usage=True)
    complete = StreamEvent(S.COMPLETE, data={"result": result().to_dict()})
    assert chunks.wire(complete) == b"".join(sse(c) for c in Chunks(IDS, include_usage=True).for_event(complete))
    assert chunks.wire(StreamEvent(S.ROUTING, data={"tiers": ["a"]})) == b""


def test_a_released_run_of_text_goes_out_as_one_delta_between_the_other_events() -> None:
    chunks = Chunks(IDS, include_usage=False)
    start = ToolStreamEvent(T.TOOL_CALL_START, data={"id": "c1", "name": "ping", "index": 0})
    events = [StreamEvent(S.CHUNK, "The "), StreamEvent(S.CHUNK, ""), StreamEvent(S.CHUNK, "capital "), start,
              ToolStreamEvent(T.TEXT_CHUNK, "is "), ToolStreamEvent(T.TEXT_CHUNK, "Paris.")]
    expected = (chunks.wire(StreamEvent(S.CHUNK, "The capital ")) + Chunks(IDS, False).wire(start)
                + chunks.wire(StreamEvent(S.CHUNK, "is Paris.")))
    assert Chunks(IDS, include_usage=False).wire_all(events) == expected
    assert Chunks(IDS, include_usage=False).wire_all([StreamEvent(S.CHUNK, "")]) == b""
