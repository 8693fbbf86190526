from __future__ import annotations

import pytest

from cascadectl.errors import ConfigError
from tests.support.fakes import Fakes, collect, kinds

WEATHER = {
    "name": "get_weather",
    "description": "Current weather for a city",
    "parameters": {
        "type": "object",
        "properties": {"city": {"type": "string"}, "units": {"enum": ["c", "f"]}},
        "required": ["city"],
    },
}
GOOD_CALL = {"tool_calls": [{"id": "call_1", "name": "get_weather", "arguments": {"city": "Paris", "units": "c"}}]}
QUERY = "What's the weather in Paris?"


def decision_of(events):
    return next(e.data for e in events if e.type.name == "DRAFT_DECISION")


def tool_check(decision):
    return next(c for c in decision["checks"] if c["name"] == "tool_calls")


def test_valid_call_is_accepted_with_progressive_events(fakes: Fakes) -> None:
    fakes.script("small", GOOD_CALL)
    events = collect(fakes.agent(), QUERY, tools=[WEATHER])
    names = kinds(events)
    assert names[0] == "ROUTING" and names[1] == "TOOL_CALL_START:draft"
    deltas = [e for e in events if e.type.name == "TOOL_CALL_DELTA"]
    assert "".join(e.delta for e in deltas) == '{"city": "Paris", "units": "c"}'
    assert deltas[0].data["partial"] == {} or isinstance(deltas[0].data["partial"], dict)
    assert deltas[-1].data["partial"] == {"city": "Paris", "units": "c"}
    complete = next(e for e in events if e.type.name == "TOOL_CALL_COMPLETE")
    assert complete.tool_call == {"id": "call_1", "name": "get_weather", "arguments": {"city": "Paris", "units": "c"}}
    assert decision_of(events)["accepted"] is True
    result = events[-1].data["result"]
    assert result["tool_calls"] == [complete.tool_call] and result["draft_accepted"] is True


def test_missing_required_argument_is_rejected_and_escalated(fakes: Fakes) -> None:
    fakes.script("small", {"tool_calls": [{"name": "get_weather", "arguments": {"units": "c"}}]})
    fakes.script("big", GOOD_CALL)
    events = collect(fakes.agent(), QUERY, tools=[WEATHER])
    check = tool_check(decision_of(events))
    assert check["passed"] is False and "'city' is a required property" in check["value"]
    assert "SWITCH:draft" in kinds(events)
    assert events[-1].data["result"]["tool_calls"][0]["arguments"]["city"] == "Paris"


def test_wrong_argument_type_is_rejected(fakes: Fakes) -> None:
    fakes.script("small", {"tool_calls": [{"name": "get_weather", "arguments": {"city": 75}}]})
    fakes.script("big", GOOD_CALL)
    check = tool_check(decision_of(collect(fakes.agent(), QUERY, tools=[WEATHER])))
    assert check["passed"] is False and "city" in check["value"]


def test_unknown_tool_is_rejected(fakes: Fakes) -> None:
    fakes.script("small", {"tool_calls": [{"name": "get_forecast", "arguments": {"city": "Paris"}}]})
    fakes.script("big", GOOD_CALL)
    check = tool_check(decision_of(collect(fakes.agent(), QUERY, tools=[WEATHER])))
    assert check["passed"] is False and "unknown tool" in check["value"]


def test_truncated_call_is_incomplete_and_rejected(fakes: Fakes) -> None:
    fakes.script("small", {"tool_calls": [{"name": "get_weather", "arguments": '{"city": "Par'}], "finish_reason": "length"})
    fakes.script("big", GOOD_CALL)
    events = collect(fakes.agent(), QUERY, tools=[WEATHER])
    draft_completes = [e for e in events if e.type.name == "TOOL_CALL_COMPLETE" and e.phase == "draft"]
    assert draft_completes == []  # never announced as complete
    check = tool_check(decision_of(events))
    assert check["passed"] is False and "incomplete" in check["value"]


def test_truncated_call_from_the_last_tier_is_reported_incomplete(fakes: Fakes) -> None:
    fakes.script("big", {"tool_calls": [{"id": "c9", "name": "get_weather", "arguments": '{"city": "Pa'}], "finish_reason": "length"})
    result = collect(fakes.agent(), QUERY, tools=[WEATHER], force_direct=True)[-1].data["result"]
    assert result["tool_calls"] == []
    assert result["incomplete_tool_calls"][0]["raw_arguments"] == '{"city": "Pa'


def test_prose_answer_rejected_when_a_tool_is_required(fakes: Fakes) -> None:
    fakes.script("small", {"text": "It is sunny in Paris today.", "logprob": -0.01})
    fakes.script("big", GOOD_CALL)
    events = collect(fakes.agent(), QUERY, tools=[WEATHER], tool_choice="required")
    check = tool_check(decision_of(events))
    assert check["passed"] is False and "requires a tool call" in check["value"]
    assert fakes.requests("small")[0].tool_choice == "required"


def test_specific_function_choice_reaches_the_provider(fakes: Fakes) -> None:
    fakes.script("small", GOOD_CALL)
    collect(fakes.agent(), QUERY, tools=[WEATHER], tool_choice="get_weather")
    assert fakes.requests("small")[0].tool_choice == {"name": "get_weather"}


def test_openai_wrapped_tools_are_normalised(fakes: Fakes) -> None:
    fakes.script("small", GOOD_CALL)
    wrapped = {"type": "function", "function": WEATHER}
    events = collect(fakes.agent(), QUERY, tools=[wrapped])
    assert decision_of(events)["accepted"] is True
    assert fakes.requests("small")[0].tools[0]["name"] == "get_weather"


def test_choice_naming_an_unknown_tool_is_an_error(fakes: Fakes) -> None:
    with pytest.raises(ConfigError, match="no tool named 'nope'"):
        collect(fakes.agent(), QUERY, tools=[WEATHER], tool_choice="nope")


def test_parallel_calls_are_kept_apart(fakes: Fakes) -> None:
    two = {"tool_calls": [
        {"id": "a", "name": "get_weather", "arguments": {"city": "Paris"}},
        {"id": "b", "name": "get_weather", "arguments": {"city": "Rome"}},
    ]}
    fakes.script("small", two)
    events = collect(fakes.agent(), QUERY, tools=[WEATHER])
    calls = [e.tool_call for e in events if e.type.name == "TOOL_CALL_COMPLETE"]
    assert [(c["id"], c["arguments"]["city"]) for c in calls] == [("a", "Paris"), ("b", "Rome")]


def test_a_configured_tool_check_is_not_run_twice(fakes: Fakes) -> None:
    from cascadectl.config.model import QualityConfig, ValidatorSpec

    quality = QualityConfig(validators=(ValidatorSpec("non_empty"), ValidatorSpec("tool_calls")))
    fakes.script("small", {"tool_calls": [{"name": "get_forecast", "arguments": {"city": "Paris"}}]})
    fakes.script("big", GOOD_CALL)
    decision = decision_of(collect(fakes.agent(quality=quality), QUERY, tools=[WEATHER]))
    assert [c["name"] for c in decision["checks"]].count("tool_calls") == 1
