from __future__ import annotations

from typing import Any

import pytest

from cascadectl.errors import ConfigError
from cascadectl.tools import ToolChoice, ToolConfig, ToolSpec, normalize_tool_choice, normalize_tools

SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"location": {"type": "string"}},
    "required": ["location"],
}
UNIVERSAL = {"name": "get_weather", "description": "Weather now", "parameters": SCHEMA}


def test_universal_form_passes_without_notice() -> None:
    specs, notices = normalize_tools([UNIVERSAL])
    assert specs == (ToolSpec("get_weather", "Weather now", SCHEMA),)
    assert notices == []
    assert specs[0].to_dict() == UNIVERSAL


def test_openai_wrapped_form_is_normalised_with_a_notice() -> None:
    wrapped = {"type": "function", "function": UNIVERSAL}
    specs, notices = normalize_tools([UNIVERSAL | {"name": "other"}, wrapped])
    assert specs[1] == ToolSpec("get_weather", "Weather now", SCHEMA)
    assert notices == [
        "tools[1] 'get_weather': OpenAI-wrapped form normalised to universal {name, description, parameters}"
    ]


def test_anthropic_input_schema_form_is_normalised_with_a_notice() -> None:
    anthropic = {"name": "get_weather", "description": "Weather now", "input_schema": SCHEMA}
    specs, notices = normalize_tools([anthropic], source="cascade.yaml: tools")
    assert specs[0].parameters == SCHEMA
    assert notices == [
        "cascade.yaml: tools[0] 'get_weather': Anthropic input_schema form normalised to universal "
        "{name, description, parameters}"
    ]


def test_openai_responses_flat_form_is_normalised() -> None:
    specs, notices = normalize_tools([{"type": "function", **UNIVERSAL}])
    assert specs[0].name == "get_weather"
    assert "OpenAI Responses form" in notices[0]


def test_tool_config_objects_and_specs_are_accepted() -> None:
    config = ToolConfig("get_weather", "Weather now", SCHEMA, lambda location: location)
    spec = ToolSpec("other", "", {"type": "object"})
    specs, notices = normalize_tools([config, spec])
    assert specs == (ToolSpec("get_weather", "Weather now", SCHEMA), spec)
    assert notices == []


def test_description_is_optional() -> None:
    specs, _ = normalize_tools([{"name": "ping", "parameters": {"type": "object"}}])
    assert specs[0].description == ""


def test_parameters_are_copied_not_shared() -> None:
    schema = {"type": "object", "properties": {"a": {"type": "string"}}}
    specs, _ = normalize_tools([{"name": "x", "parameters": schema}])
    schema["properties"]["a"]["type"] = "integer"
    assert specs[0].parameters["properties"]["a"]["type"] == "string"


BAD = [
    ([{"description": "x", "parameters": SCHEMA}], "tools[0]: missing 'name'"),
    ([UNIVERSAL, {"name": "x", "parameters": {"type": "string"}}],
     "tools[1] 'x': parameters must be a JSON Schema object with type 'object', got 'string'"),
    ([{"name": "x", "parameters": {"properties": {}}}], "tools[0] 'x': parameters must be a JSON Schema object with type 'object', got no 'type'; did you mean"),
    ([{"name": "x", "parameters": "object"}], "tools[0] 'x': parameters must be a JSON Schema object with type 'object', got str"),
    ([{"name": "x"}], "tools[0] 'x': missing 'parameters'"),
    ([{"name": "get weather", "parameters": SCHEMA}], "tools[0]: 'name' must be 1-64 letters, digits, '_' or '-', got 'get weather'"),
    ([{"name": 3, "parameters": SCHEMA}], "tools[0]: 'name' must be 1-64"),
    ([{"name": "x", "description": 5, "parameters": SCHEMA}], "tools[0] 'x': 'description' must be a string, got int"),
    ([{"name": "x", "parameters": SCHEMA, "strict": True}], "tools[0] 'x': unknown field 'strict' (allowed: name, description, parameters)"),
    ([UNIVERSAL, UNIVERSAL], "tools[1] 'get_weather': duplicate name (also tools[0])"),
    ([{"type": "function", "function": "get_weather"}], "tools[0]: 'function' must be a mapping"),
    ([{"type": "function", "function": UNIVERSAL, "extra": 1}], "tools[0]: unknown field 'extra' beside 'function'"),
    ([{"type": "web_search_20250305", "name": "web_search"}], "tools[0] 'web_search': unsupported tool type 'web_search_20250305'"),
    ([{"name": "x", "parameters": SCHEMA, "input_schema": SCHEMA}], "tools[0] 'x': has both 'parameters' and 'input_schema'"),
    (["get_weather"], "tools[0]: expected a mapping with name, description, parameters, got str"),
    ([{"name": "x", "parameters": {"type": "object", "properties": {"a": {"type": "strng"}}}}],
     "tools[0] 'x': parameters is not a valid JSON Schema at properties/a/type"),
]


@pytest.mark.parametrize(("tools", "message"), BAD)
def test_bad_tools_get_a_precise_error(tools: list[Any], message: str) -> None:
    with pytest.raises(ConfigError) as info:
        normalize_tools(tools)
    assert str(info.value).startswith(message)


def test_tools_must_be_a_list() -> None:
    with pytest.raises(ConfigError, match="tools: expected a list of tools, got dict"):
        normalize_tools(UNIVERSAL)  # type: ignore[arg-type]
    assert normalize_tools(None) == ((), [])


TOOLS = [ToolSpec("get_weather", "", SCHEMA), ToolSpec("get_time", "", {"type": "object"})]


@pytest.mark.parametrize(
    ("choice", "expected"),
    [
        (None, None),
        ("auto", ToolChoice("auto")),
        ("required", ToolChoice("required")),
        ("any", ToolChoice("required")),
        ("none", ToolChoice("none")),
        ("get_time", ToolChoice("function", "get_time")),
        ({"name": "get_time"}, ToolChoice("function", "get_time")),
        ({"type": "function", "function": {"name": "get_time"}}, ToolChoice("function", "get_time")),
        ({"type": "tool", "name": "get_time"}, ToolChoice("function", "get_time")),
        ({"type": "auto"}, ToolChoice("auto")),
        ({"type": "any"}, ToolChoice("required")),
        ({"type": "none"}, ToolChoice("none")),
        ({"mode": "function", "name": "get_time"}, ToolChoice("function", "get_time")),
        (ToolChoice("required"), ToolChoice("required")),
    ],
)
def test_tool_choice_forms(choice: Any, expected: ToolChoice | None) -> None:
    assert normalize_tool_choice(choice, TOOLS) == expected


def test_tool_choice_round_trips_through_to_dict() -> None:
    choice = ToolChoice("function", "get_weather")
    assert normalize_tool_choice(choice.to_dict(), TOOLS) == choice


def test_tool_choice_accepts_names_and_raw_tool_dicts() -> None:
    assert normalize_tool_choice("a", ["a"]) == ToolChoice("function", "a")
    raw = [{"type": "function", "function": {"name": "b"}}]
    assert normalize_tool_choice({"name": "b"}, raw) == ToolChoice("function", "b")


@pytest.mark.parametrize(
    ("choice", "tools", "message"),
    [
        ("get_wether", TOOLS, "tool_choice: no tool named 'get_wether' (offered: get_time, get_weather)"),
        ({"type": "tool", "name": "nope"}, TOOLS, "no tool named 'nope'"),
        ("required", [], "tool_choice 'required' needs at least one tool"),
        ("get_time", None, "tool_choice 'get_time' needs at least one tool"),
        (3, TOOLS, "tool_choice: expected a string or a mapping, got int"),
        ({"type": "function"}, TOOLS, "tool_choice: cannot read"),
        ({"type": "sometimes"}, TOOLS, "tool_choice: cannot read"),
    ],
)
def test_bad_tool_choice_is_an_error(choice: Any, tools: Any, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        normalize_tool_choice(choice, tools)
    assert message in str(info.value)


def test_auto_and_none_need_no_tools() -> None:
    assert normalize_tool_choice("auto", []) == ToolChoice("auto")
    assert normalize_tool_choice("none", None) == ToolChoice("none")


def test_a_schema_checked_once_is_not_checked_again(monkeypatch: pytest.MonkeyPatch) -> None:
    from jsonschema import validators

    tool = {"name": "cached", "parameters": {"type": "object", "properties": {"q": {"type": "string", "minLength": 3}}}}
    normalize_tools([tool])

    def fail(schema: Any, *args: Any, **kwargs: Any) -> Any:
        raise AssertionError("metaschema check repeated")

    monkeypatch.setattr(validators, "validator_for", fail)
    specs, _ = normalize_tools([tool])
    assert specs[0].parameters["properties"]["q"]["minLength"] == 3
