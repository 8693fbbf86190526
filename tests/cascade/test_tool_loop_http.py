"""The tool loop over real HTTP on loopback, both protocols: a two-step weather task
whose first step is a recorded provider stream answered by the drafter, and whose
second step escalates; the tool result reaches the verifier in its provider's form."""
from __future__ import annotations

import asyncio
import json
import re
from typing import Any

import pytest

from cascadectl import CascadeAgent, ModelConfig
from cascadectl.tools import ToolConfig, ToolExecutor
from tests.conftest import PROVIDER_STREAMS
from tests.support.sse_server import Scripted, SSEServer, sse_server  # noqa: F401  (the fixture)
from tests.support.wire import anthropic_text, openai_text

SCHEMA = {"type": "object", "properties": {"location": {"type": "string"}}, "required": ["location"]}
FINAL = "It is 22 degrees and sunny there today."
WORDS = re.findall(r"\S+\s*", FINAL)


def recorded(name: str) -> Scripted:
    body = (PROVIDER_STREAMS / name).read_bytes()
    return Scripted(chunks=tuple(part for part in re.split(rb"(?<=\n\n)", body) if part))


def weather_tools(seen: list[str]) -> ToolExecutor:
    def get_weather(location: str) -> str:
        seen.append(location)
        return f"{location}: 22C, sunny"

    return ToolExecutor([ToolConfig("get_weather", "Current weather", SCHEMA, get_weather)])


def run(provider: str, server: SSEServer, tools: ToolExecutor, monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    monkeypatch.setenv("LOOP_KEY", "sk-loop-test-key")
    base = server.url + "/v1" if provider == "openai" else server.url
    models = [ModelConfig(name=name, provider=provider, base_url=base, api_key_env="LOOP_KEY",
                          input_price=price, output_price=2 * price, retries=0)
              for name, price in (("drafter-m", 1.0), ("verifier-m", 10.0))]

    async def go() -> list[Any]:
        async with CascadeAgent(models=models) as agent:
            return [e async for e in agent.stream_events("What's the weather like in my favourite city?",
                                                         tool_executor=tools)]

    return asyncio.run(go())


def sent(server: SSEServer) -> list[dict[str, Any]]:
    return [r.json for r in server.requests]


def check_steps(events: list[Any]) -> dict[str, Any]:
    order = [(e.step, e.type.name) for e in events if e.type.name in
             ("ROUTING", "TOOL_CALL_COMPLETE", "DRAFT_DECISION", "TOOL_EXECUTING", "TOOL_RESULT", "SWITCH", "COMPLETE")]
    assert order == [(0, "ROUTING"), (0, "TOOL_CALL_COMPLETE"), (0, "DRAFT_DECISION"), (0, "TOOL_EXECUTING"),
                     (0, "TOOL_RESULT"), (1, "ROUTING"), (1, "DRAFT_DECISION"), (1, "SWITCH"), (1, "COMPLETE")]
    result = events[-1].data["result"]
    assert result["content"] == FINAL and result["model_used"] == "verifier-m"
    assert [(s["tier_used"], s["draft_accepted"]) for s in result["steps"]] == [("drafter-m", True), ("verifier-m", False)]
    assert result["total_cost"] == pytest.approx(sum(t["cost"] for t in result["tiers"]))
    return result


def test_openai_two_step_task(sse_server: SSEServer, monkeypatch: pytest.MonkeyPatch) -> None:
    path = "/v1/chat/completions"
    sse_server.add(path, recorded("openai-text-then-tool-call.sse"),  # get_weather(location="Paris"), recorded
                   openai_text(["I", " am", " not", " sure"], prob=0.05), openai_text(WORDS, prob=0.99))
    seen: list[str] = []
    result = check_steps(run("openai", sse_server, weather_tools(seen), monkeypatch))
    assert seen == ["Paris"]
    assert [b["model"] for b in sent(sse_server)] == ["drafter-m", "drafter-m", "verifier-m"]
    messages = sent(sse_server)[2]["messages"]
    call_id = "call_QgHUYg30lU8RAkIADo1bLA3P"
    assert messages[1]["role"] == "assistant" and messages[1]["tool_calls"] == [
        {"id": call_id, "type": "function", "function": {"name": "get_weather", "arguments": '{"location": "Paris"}'}}]
    assert messages[1]["content"].startswith("One of my favorite cities is Paris.")
    assert messages[2] == {"role": "tool", "tool_call_id": call_id, "name": "get_weather", "content": "Paris: 22C, sunny"}
    assert result["input_tokens"] == 58 + 12 + 12  # the recorded usage, then the scripted streams'


def test_anthropic_two_step_task(sse_server: SSEServer, monkeypatch: pytest.MonkeyPatch) -> None:
    path = "/v1/messages"
    sse_server.add(path, recorded("anthropic-text-then-tool-use.sse"),  # a tool_use of get_weather, recorded
                   anthropic_text([]),  # an empty answer: the non-empty check rejects it
                   anthropic_text(WORDS))
    seen: list[str] = []
    check_steps(run("anthropic", sse_server, weather_tools(seen), monkeypatch))
    (location,) = seen
    bodies = sent(sse_server)
    assert [b["model"] for b in bodies] == ["drafter-m", "drafter-m", "verifier-m"]
    assistant, results = bodies[2]["messages"][1:3]
    (use,) = [b for b in assistant["content"] if b["type"] == "tool_use"]
    assert use["name"] == "get_weather" and use["input"] == {"location": location}
    assert assistant["content"][0]["type"] == "text"
    assert results == {"role": "user", "content": [
        {"type": "tool_result", "tool_use_id": use["id"], "content": f"{location}: 22C, sunny"}]}
    assert json.dumps(bodies).count("sk-loop-test-key") == 0
