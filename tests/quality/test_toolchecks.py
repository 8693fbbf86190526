from __future__ import annotations

from typing import Any, Mapping

import pytest

from cascadectl.quality.draft import Draft, DraftToolCall
from cascadectl.quality.toolchecks import schema_problem, tool_calls
from cascadectl.tools import ToolChoice
from tests.quality.builders import TOOLS, WEATHER_SCHEMA, call, context

Tools = Mapping[str, Mapping[str, Any]]


def check(*calls: DraftToolCall, text: str = "", choice: ToolChoice | None = None, tools: Tools = TOOLS) -> tuple[bool, str]:
    result = tool_calls(Draft(text, tool_calls=calls), context(tools=tools, tool_choice=choice), {})
    assert (result.name, result.kind, result.score) == ("tool_calls", "hard", None)
    return result.passed, result.value


def test_valid_calls_pass_and_are_counted() -> None:
    assert check(call()) == (True, "1 valid call(s)")
    assert check(call(), call("get_time", {})) == (True, "2 valid call(s)")


def test_prose_without_calls_passes_when_no_call_is_required() -> None:
    assert check(text="It is sunny.") == (True, "0 valid call(s)")


def test_a_tool_that_was_not_offered_fails_listing_the_offered_ones() -> None:
    assert check(call("lookup", {})) == (False, "lookup: unknown tool (offered: get_time, get_weather)")


def test_a_call_when_no_tools_were_offered_fails() -> None:
    assert check(call("lookup", {}), tools={}) == (False, "lookup: unknown tool (offered: none)")


def test_an_unnamed_call_is_reported_as_unnamed() -> None:
    assert check(call("", {})) == (False, "<unnamed>: unknown tool (offered: get_time, get_weather)")


@pytest.mark.parametrize(
    ("parse_error", "detail"),
    [(None, "stream ended mid-JSON"), ("arguments cut off mid-JSON", "arguments cut off mid-JSON")],
)
def test_incomplete_arguments_fail(parse_error: str | None, detail: str) -> None:
    incomplete = call(arguments={"location": "Par"}, complete=False, parse_error=parse_error)
    assert check(incomplete) == (False, f"get_weather: arguments incomplete ({detail})")


@pytest.mark.parametrize(("arguments", "kind"), [(["Paris"], "list"), ("Paris", "str"), (3, "int")])
def test_arguments_that_are_not_an_object_fail(arguments: Any, kind: str) -> None:
    assert check(call(arguments=arguments)) == (False, f"get_weather: arguments must be a JSON object, got {kind}")


@pytest.mark.parametrize(
    ("arguments", "problem"),
    [
        ({}, "arguments: 'location' is a required property"),
        ({"location": 75}, "location: 75 is not of type 'string'"),
        ({"location": "Paris", "days": [1, "two"]}, "days.1: 'two' is not of type 'integer'"),
    ],
)
def test_arguments_invalid_against_the_schema_fail(arguments: dict[str, Any], problem: str) -> None:
    assert check(call(arguments=arguments)) == (False, f"get_weather: {problem}")


def test_the_first_bad_call_is_reported() -> None:
    passed, value = check(call(), call("get_time", []), call("lookup", {}))
    assert (passed, value) == (False, "get_time: arguments must be a JSON object, got list")


@pytest.mark.parametrize(
    ("choice", "calls", "problem"),
    [
        (ToolChoice("required"), (), "answered in prose but tool_choice requires a tool call"),
        (ToolChoice("function", "get_weather"), (), "answered in prose but tool_choice requires a tool call"),
        (ToolChoice("function", "get_weather"), (call("get_time", {}),), "tool_choice requires 'get_weather'"),
        (ToolChoice("none"), (call(),), "called a tool although tool_choice is 'none'"),
    ],
)
def test_tool_choice_violations_fail(choice: ToolChoice, calls: tuple[DraftToolCall, ...], problem: str) -> None:
    assert check(*calls, text="It is sunny.", choice=choice) == (False, problem)


@pytest.mark.parametrize(
    ("choice", "calls"),
    [
        (ToolChoice("required"), (call(),)),
        (ToolChoice("function", "get_weather"), (call(),)),
        (ToolChoice("none"), ()),
        (ToolChoice("auto"), ()),
        (ToolChoice("auto"), (call(),)),
        (None, ()),
    ],
)
def test_tool_choice_satisfied_passes(choice: ToolChoice | None, calls: tuple[DraftToolCall, ...]) -> None:
    passed, _ = check(*calls, text="It is sunny.", choice=choice)
    assert passed


def test_tool_choice_is_checked_before_the_calls() -> None:
    passed, value = check(call("lookup", {}), choice=ToolChoice("none"))
    assert (passed, value) == (False, "called a tool although tool_choice is 'none'")


def test_schema_problem_is_none_for_a_valid_value() -> None:
    assert schema_problem(WEATHER_SCHEMA, {"location": "Paris", "days": [1, 2]}) is None


def test_schema_problem_reports_the_shallowest_error_first() -> None:
    assert schema_problem(WEATHER_SCHEMA, {"days": ["x"]}) == "arguments: 'location' is a required property"
