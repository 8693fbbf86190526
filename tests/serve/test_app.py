"""The official OpenAI SDK, sync and async, against `serve` on loopback."""
from __future__ import annotations

import asyncio
import json
from typing import Any

import openai
import pytest

from tests.serve.conftest import Served
from tests.serve.support import WEATHER_TOOL, trace_lines, user

FRANCE = "What is the capital of France?"
GERMANY = "What is the capital of Germany?"


def client(served: Served, **kwargs: Any) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{served.url}/v1", api_key="unused", max_retries=0, **kwargs)


def test_models_lists_one_model_per_cascade(served: Served) -> None:
    models = client(served).models.list()
    assert [m.id for m in models.data] == ["qa"]
    assert client(served).models.retrieve("qa").model_extra["cascade"]["tiers"][0]["model"] == "small"


def test_completion_carries_the_cascade_in_headers_and_an_extra_field(served: Served) -> None:
    raw = client(served).chat.completions.with_raw_response.create(model="qa", messages=user(FRANCE))
    completion = raw.parse()
    assert completion.choices[0].message.content == "The capital of France is Paris."
    assert completion.choices[0].finish_reason == "stop" and completion.model == "qa"
    assert raw.headers["x-cascade-model"] == "small" and raw.headers["x-cascade-tier"] == "drafter"
    assert raw.headers["x-cascade-draft-accepted"] == "true"
    assert float(raw.headers["x-cascade-cost-usd"]) == pytest.approx((10 * 1 + 7 * 2) / 1e6)
    cascade = completion.model_extra["cascade"]
    assert cascade["model"] == "small" and cascade["decision"]["accepted"] is True
    assert set(cascade["decision"]) == {"accepted", "score", "threshold", "reason"}
    assert [(t["name"], t["status"], t["phase"]) for t in cascade["tiers"]] == [("drafter", "accepted", "draft")]
    assert cascade["verifier_only_cost"] > cascade["total_cost"] > 0 and 0 < cascade["savings"] < 1
    assert completion.usage.prompt_tokens == 10 and completion.usage.completion_tokens == 7


def test_usage_sums_every_tier_of_an_escalated_answer(served: Served) -> None:
    raw = client(served).chat.completions.with_raw_response.create(model="qa", messages=user(GERMANY), max_tokens=50)
    completion = raw.parse()
    assert completion.choices[0].message.content == "The capital of Germany is Berlin."
    assert raw.headers["x-cascade-model"] == "big" and raw.headers["x-cascade-draft-accepted"] == "false"
    cascade = completion.model_extra["cascade"]
    assert [(t["name"], t["status"]) for t in cascade["tiers"]] == [("drafter", "rejected"), ("verifier", "answered")]
    assert cascade["decision"]["accepted"] is False and cascade["decision"]["score"] < cascade["decision"]["threshold"]
    assert cascade["total_cost"] == pytest.approx(sum(t["cost"] for t in cascade["tiers"]))
    assert (completion.usage.prompt_tokens, completion.usage.completion_tokens) == (10 + 10, 9 + 6)
    assert completion.usage.total_tokens == 35
    assert served.drafter.requests[-1].max_tokens == 50


def test_streaming_ends_with_usage_and_the_cascade_then_done(served: Served) -> None:
    stream = client(served).chat.completions.create(model="qa", messages=user(GERMANY), stream=True,
                                                    stream_options={"include_usage": True})
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "The capital of Germany is Berlin."
    assert chunks[0].choices[0].delta.role == "assistant"
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    last = chunks[-1]
    assert last.choices == [] and last.usage.total_tokens == 35
    assert last.model_extra["cascade"]["model"] == "big"
    assert all(c.usage is None for c in chunks[:-1])


def test_streaming_without_usage_puts_the_cascade_on_the_finish_chunk(served: Served) -> None:
    chunks = list(client(served).chat.completions.create(model="qa", messages=user(FRANCE), stream=True))
    assert chunks[-1].choices[0].finish_reason == "stop"
    assert chunks[-1].model_extra["cascade"]["draft_accepted"] is True
    assert all(c.usage is None for c in chunks)


def test_a_streamed_tool_call_follows_openai_deltas(served: Served) -> None:
    chunks = list(client(served).chat.completions.create(
        model="qa", messages=user("What is the weather in Paris?"), tools=[WEATHER_TOOL], tool_choice="auto", stream=True))
    deltas = [call for c in chunks if c.choices for call in c.choices[0].delta.tool_calls or ()]
    first, rest = deltas[0], deltas[1:]
    assert (first.index, first.id, first.type, first.function.name, first.function.arguments) == (
        0, "call_w1", "function", "get_weather", "")
    assert all(d.index == 0 and d.id is None and d.function.name is None for d in rest)
    assert json.loads("".join(d.function.arguments for d in rest)) == {"city": "Paris"}
    assert chunks[-1].choices[0].finish_reason == "tool_calls"
    offered = served.drafter.requests[-1]
    assert [t["name"] for t in offered.tools] == ["get_weather"] and offered.tool_choice == "auto"


def test_a_tool_call_and_its_result_round_trip(served: Served) -> None:
    sdk = client(served)
    messages: list[Any] = [{"role": "system", "content": "Be brief."}, *user("What is the weather in Paris?")]
    first = sdk.chat.completions.create(model="qa", messages=messages, tools=[WEATHER_TOOL],
                                        tool_choice={"type": "function", "function": {"name": "get_weather"}})
    call = first.choices[0].message.tool_calls[0]
    assert first.choices[0].finish_reason == "tool_calls" and first.choices[0].message.content is None
    assert (call.id, call.function.name, json.loads(call.function.arguments)) == ("call_w1", "get_weather", {"city": "Paris"})
    messages += [first.choices[0].message.model_dump(exclude_none=True),
                 {"role": "tool", "tool_call_id": call.id, "content": "sunny, 21 C"}]
    sdk.chat.completions.create(model="qa", messages=messages, tools=[WEATHER_TOOL])
    sent = served.drafter.requests[-1].messages
    assert [m["role"] for m in sent] == ["system", "user", "assistant", "tool"]
    assert sent[2]["tool_calls"] == [{"id": "call_w1", "type": "function",
                                      "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'}}]
    assert sent[3] == {"role": "tool", "content": "sunny, 21 C", "tool_call_id": "call_w1"}


def test_length_finish_reason(served: Served) -> None:
    completion = client(served).chat.completions.create(model="qa", messages=user("a long essay please"),
                                                        max_completion_tokens=5)
    assert completion.choices[0].finish_reason == "length"


def test_the_async_client_streams_and_completes(served: Served) -> None:
    async def go() -> tuple[str, str]:
        async with openai.AsyncOpenAI(base_url=f"{served.url}/v1", api_key="unused", max_retries=0) as sdk:
            whole = await sdk.chat.completions.create(model="qa", messages=user(FRANCE))
            stream = await sdk.chat.completions.create(model="qa", messages=user(GERMANY), stream=True)
            parts = [c.choices[0].delta.content or "" async for c in stream if c.choices]
            return str(whole.choices[0].message.content), "".join(parts)

    assert asyncio.run(go()) == ("The capital of France is Paris.", "The capital of Germany is Berlin.")


def test_concurrent_async_requests_are_independent(served: Served) -> None:
    async def go() -> list[str]:
        async with openai.AsyncOpenAI(base_url=f"{served.url}/v1", api_key="unused", max_retries=0) as sdk:
            asks = [sdk.chat.completions.create(model="qa", messages=user(q)) for q in [FRANCE, GERMANY] * 4]
            return [str(c.choices[0].message.content) for c in await asyncio.gather(*asks)]

    assert asyncio.run(go()) == ["The capital of France is Paris.", "The capital of Germany is Berlin."] * 4


def test_a_failure_after_output_arrives_as_an_in_stream_error(served: Served) -> None:
    stream = client(served).chat.completions.create(model="qa", messages=user("stop midway please"), stream=True)
    seen: list[str] = []
    with pytest.raises(openai.APIError, match="every tier of the cascade failed: .*verifier: connection"):
        for chunk in stream:
            seen.append(chunk.choices[0].delta.content or "")
    assert "".join(seen) == "Half an "


def test_every_request_is_one_query_in_the_trace(served: Served) -> None:
    completion = client(served).chat.completions.create(model="qa", messages=user(FRANCE))
    lines = [line for line in trace_lines(served.trace) if line["query_id"] == completion.id]
    assert lines[0]["type"] == "query" and lines[-1]["type"] == "complete"
    assert lines[0]["data"]["cascade"] == "qa" and lines[0]["data"]["draft_mode"] == "buffered"
    assert lines[0]["data"]["messages"] == user(FRANCE)
