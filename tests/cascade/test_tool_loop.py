"""The tool loop: steps, each a fresh cascade decision; tool results back to the model;
errors, timeouts, invalid arguments and max_steps; traces of every step."""
from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from cascadectl import CascadeAgent
from cascadectl.errors import UsageError
from cascadectl.streaming.events import ToolStreamEventType as T
from cascadectl.tools import ToolConfig, ToolExecutor
from cascadectl.traces.attempts import read_attempts
from cascadectl.traces.writer import TraceWriter
from tests.support.fakes import Fakes, collect

WEATHER_SCHEMA = {"type": "object", "properties": {"location": {"type": "string"}}, "required": ["location"]}
QUERY = "What's the weather in Paris?"
CALL = {"tool_calls": [{"id": "c1", "name": "get_weather", "arguments": {"location": "Paris"}}], "logprob": -0.01}
UNSURE = {"text": "I think maybe it is sunny perhaps", "logprob": -3.0}  # low confidence: rejected
SURE = {"text": "Paris is sunny and 22C today.", "logprob": -0.01}


class Weather:
    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    def __call__(self, location: str) -> str:
        self.calls.append({"location": location})
        return f"{location}: 22C, sunny"


def executor(function: Any = None, **kwargs: Any) -> ToolExecutor:
    return ToolExecutor([ToolConfig("get_weather", "Get weather", WEATHER_SCHEMA, function or Weather())], **kwargs)


def loop_events(agent: CascadeAgent, tools: ToolExecutor, **kwargs: Any) -> list[Any]:
    return collect(agent, QUERY, tool_executor=tools, **kwargs)


def of(events: list[Any], kind: T) -> list[Any]:
    return [e for e in events if e.type is kind]


def test_drafter_takes_step_one_and_the_verifier_step_two(fakes: Fakes) -> None:
    fakes.script("small", CALL, UNSURE)
    fakes.script("big", SURE)
    weather = Weather()
    events = loop_events(fakes.agent(), executor(weather))

    order = [(e.step, e.type.name, e.phase) for e in events if e.type.name not in ("TEXT_CHUNK", "TOOL_CALL_DELTA")]
    assert order == [
        (0, "ROUTING", None), (0, "TOOL_CALL_START", "draft"), (0, "TOOL_CALL_COMPLETE", "draft"),
        (0, "DRAFT_DECISION", "draft"), (0, "TOOL_EXECUTING", "draft"), (0, "TOOL_RESULT", "draft"),
        (1, "ROUTING", None), (1, "DRAFT_DECISION", "draft"), (1, "SWITCH", "draft"), (1, "COMPLETE", "verify"),
    ]
    assert weather.calls == [{"location": "Paris"}]
    (executing,) = of(events, T.TOOL_EXECUTING)
    assert executing.data["tool_call"] == {"id": "c1", "name": "get_weather", "arguments": {"location": "Paris"}}
    (done,) = of(events, T.TOOL_RESULT)
    assert (done.data["id"], done.data["name"], done.data["result"]) == ("c1", "get_weather", "Paris: 22C, sunny")

    result = events[-1].data["result"]
    assert result["content"] == SURE["text"] and result["stop_reason"] == "answered"
    steps = result["steps"]
    assert [(s["step"], s["tier_used"], s["draft_accepted"]) for s in steps] == [(0, "small", True), (1, "big", False)]
    assert steps[0]["tool_results"][0]["content"] == "Paris: 22C, sunny"
    assert [(t["step"], t["tier"], t["status"]) for t in result["tiers"]] == [
        (0, "small", "accepted"), (1, "small", "rejected"), (1, "big", "answered")]
    assert result["total_cost"] == pytest.approx(sum(t["cost"] for t in result["tiers"]))
    assert result["total_cost"] == pytest.approx(sum(s["total_cost"] for s in steps))
    assert result["input_tokens"] == sum(t["input_tokens"] for t in result["tiers"])
    assert result["cascaded"] is True


def test_the_tool_result_goes_back_as_the_providers_tool_message(fakes: Fakes) -> None:
    fakes.script("small", CALL, SURE)
    loop_events(fakes.agent(), executor())
    second = fakes.requests("small")[1].messages
    assert second[-2] == {"role": "assistant", "content": None,
                          "tool_calls": [{"id": "c1", "name": "get_weather", "arguments": {"location": "Paris"}}]}
    assert second[-1] == {"role": "tool", "tool_call_id": "c1", "name": "get_weather", "content": "Paris: 22C, sunny"}
    assert fakes.requests("big") == []  # both steps were the drafter's


def test_a_tool_that_raises_is_told_to_the_model_and_the_loop_goes_on(fakes: Fakes) -> None:
    def broken(location: str) -> str:
        raise RuntimeError("weather service down")

    fakes.script("small", CALL, SURE)
    events = loop_events(fakes.agent(), executor(broken))
    (error,) = of(events, T.TOOL_ERROR)
    assert error.data["id"] == "c1" and error.data["name"] == "get_weather"
    assert error.data["error"] == "RuntimeError: weather service down"
    told = fakes.requests("small")[1].messages[-1]
    assert told["role"] == "tool" and told["is_error"] is True
    assert told["content"] == "Error: RuntimeError: weather service down"
    assert events[-1].type is T.COMPLETE and events[-1].data["result"]["content"] == SURE["text"]


def test_invalid_arguments_are_a_tool_error_not_a_call(fakes: Fakes) -> None:
    weather = Weather()
    bad = {"tool_calls": [{"id": "c9", "name": "get_weather", "arguments": {"city": "Paris"}}], "logprob": -0.01}
    fakes.script("small", bad, SURE)
    fakes.script("big", bad, SURE)  # in case the draft's invalid call is rejected: the verifier asks the same
    events = loop_events(fakes.agent(), executor(weather))
    (error,) = of(events, T.TOOL_ERROR)
    assert "location" in error.data["error"] and weather.calls == []
    assert events[-1].type is T.COMPLETE


def test_a_tool_that_outlives_its_timeout_is_a_tool_error(fakes: Fakes) -> None:
    never = asyncio.Event

    async def hangs(location: str) -> str:
        await never().wait()
        return "unreachable"

    fakes.script("small", CALL, SURE)
    events = loop_events(fakes.agent(), executor(hangs, timeout_s=0.01))
    (error,) = of(events, T.TOOL_ERROR)
    assert error.data["error"] == "tool 'get_weather' timed out after 0.01 s"
    assert events[-1].data["result"]["stop_reason"] == "answered"


def test_max_steps_stops_the_loop_and_says_so(fakes: Fakes) -> None:
    weather = Weather()
    lyon = {"tool_calls": [{"id": "c2", "name": "get_weather", "arguments": {"location": "Lyon"}}], "logprob": -0.01}
    fakes.script("small", CALL, lyon)
    events = loop_events(fakes.agent(), executor(weather), max_steps=2)
    result = events[-1].data["result"]
    assert result["stop_reason"] == "max_steps" and len(result["steps"]) == 2
    assert weather.calls == [{"location": "Paris"}]  # the second answer's call is reported, not run
    assert result["tool_calls"] == lyon["tool_calls"]
    assert max(e.step for e in events) == 1


def test_max_steps_must_be_positive(fakes: Fakes) -> None:
    with pytest.raises(UsageError, match="max_steps"):
        loop_events(fakes.agent(), executor(), max_steps=0)


def test_an_executor_that_raises_does_not_crash_the_loop(fakes: Fakes) -> None:
    class Flaky:
        tools = executor().tools

        async def execute(self, call: Any) -> Any:
            raise KeyError("lost")

    fakes.script("small", CALL, SURE)
    events = loop_events(fakes.agent(), Flaky())  # type: ignore[arg-type]
    (error,) = of(events, T.TOOL_ERROR)
    assert error.data["error"] == "KeyError: 'lost'"


def test_the_executors_tools_are_offered_when_none_are_given(fakes: Fakes) -> None:
    fakes.script("small", SURE)
    events = loop_events(fakes.agent(), executor())
    assert [t["name"] for t in fakes.requests("small")[0].tools] == ["get_weather"]
    assert events[-1].data["result"]["steps"][0]["tool_calls"] == []


def test_every_step_is_traced_and_the_trace_reads_back_as_one_query(fakes: Fakes, tmp_path: Path) -> None:
    fakes.script("small", CALL, UNSURE)
    fakes.script("big", SURE)
    path = tmp_path / "t.jsonl"
    with TraceWriter(path) as writer:
        loop_events(fakes.agent(trace=writer), executor())
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert [l["type"] for l in lines if l["type"] in ("step", "tool_executing", "tool_result", "complete")] == [
        "tool_executing", "tool_result", "step", "complete"]
    assert all("step" in l for l in lines[1:])  # every line after the query line
    assert {l["step"] for l in lines if l["type"] == "routing"} == {0, 1}
    (attempt,) = read_attempts([path]).chosen.values()
    assert attempt.result["stop_reason"] == "answered" and len(attempt.result["steps"]) == 2
    assert [r.step for r in attempt.tier_records()] == [0, 1, 1]


def test_a_drafter_that_repeats_an_earlier_call_is_escalated(fakes: Fakes) -> None:
    weather = Weather()
    fakes.script("small", CALL, CALL)  # step 1 asks for the very call step 0 made
    fakes.script("big", SURE)
    events = loop_events(fakes.agent(), executor(weather))
    decisions = [e for e in events if e.type is T.DRAFT_DECISION]
    assert [d.data["accepted"] for d in decisions] == [True, False]
    assert 'repeats get_weather({"location": "Paris"}), already called in an earlier step' in decisions[1].data["reason"]
    assert weather.calls == [{"location": "Paris"}]
    assert events[-1].data["result"]["content"] == SURE["text"]
