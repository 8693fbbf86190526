from __future__ import annotations

from typing import Any, Dict, List, Literal, Mapping, Optional, Sequence, Tuple, Union

import pytest

from cascadectl.errors import ConfigError
from cascadectl.tools import ToolConfig, ToolSpec, tool

WEATHER_SCHEMA = {"type": "object", "properties": {"location": {"type": "string"}}, "required": ["location"]}


def get_weather(location: str, unit: Literal["celsius", "fahrenheit"] = "celsius") -> dict:
    """Get current weather for a location.

    Longer notes that are not part of the summary.

    Args:
        location: City name, for example
            Paris or Tokyo.
        unit (str): Temperature unit.

    Returns:
        A dict.
    """
    return {"location": location, "unit": unit}


def test_manual_config_as_in_the_guide() -> None:
    config = ToolConfig(name="get_weather", description="Weather", parameters=WEATHER_SCHEMA, function=get_weather)
    assert config.to_spec() == ToolSpec("get_weather", "Weather", WEATHER_SCHEMA)
    assert config.to_dict() == {"name": "get_weather", "description": "Weather", "parameters": WEATHER_SCHEMA}


def test_from_function_builds_schema_from_hints_defaults_and_docstring() -> None:
    config = ToolConfig.from_function(get_weather)
    assert config.name == "get_weather"
    assert config.description == "Get current weather for a location."
    assert config.function is get_weather
    assert config.parameters == {
        "type": "object",
        "properties": {
            "location": {"type": "string", "description": "City name, for example Paris or Tokyo."},
            "unit": {
                "type": "string",
                "enum": ["celsius", "fahrenheit"],
                "description": "Temperature unit.",
                "default": "celsius",
            },
        },
        "required": ["location"],
        "additionalProperties": False,
    }


def _kinds(
    s: str,
    i: int,
    f: float,
    b: bool,
    words: list[str],
    nums: List[float],
    seq: Sequence[int],
    pair: tuple[int, ...],
    meta: dict[str, int],
    blob: Dict[str, Any],
    raw: Mapping[str, Any],
    maybe: Optional[str] = None,
    either: Union[int, str] = 1,
    new_union: int | None = None,
    levels: Literal[1, 2, 3] = 1,
    mixed: Literal["a", 1] = "a",
    anything: Any = None,
    untyped=None,  # noqa: ANN001 - unannotated on purpose
) -> None:
    """:param s: a string
    :param i: an int
    """


def test_type_mapping_covers_the_supported_hints() -> None:
    props = ToolConfig.from_function(_kinds).parameters["properties"]
    assert props["s"] == {"type": "string", "description": "a string"}
    assert props["i"] == {"type": "integer", "description": "an int"}
    assert props["f"] == {"type": "number"}
    assert props["b"] == {"type": "boolean"}
    assert props["words"] == {"type": "array", "items": {"type": "string"}}
    assert props["nums"] == {"type": "array", "items": {"type": "number"}}
    assert props["seq"] == {"type": "array", "items": {"type": "integer"}}
    assert props["pair"] == {"type": "array", "items": {"type": "integer"}}
    assert props["meta"] == {"type": "object", "additionalProperties": {"type": "integer"}}
    assert props["blob"] == {"type": "object"}
    assert props["raw"] == {"type": "object"}
    assert props["maybe"] == {"type": ["string", "null"], "default": None}
    assert props["either"] == {"anyOf": [{"type": "integer"}, {"type": "string"}], "default": 1}
    assert props["new_union"] == {"type": ["integer", "null"], "default": None}
    assert props["levels"] == {"type": "integer", "enum": [1, 2, 3], "default": 1}
    assert props["mixed"] == {"enum": ["a", 1], "default": "a"}
    assert props["anything"] == {"default": None}
    assert props["untyped"] == {"default": None}
    assert ToolConfig.from_function(_kinds).description == ""


def test_non_json_defaults_are_left_out() -> None:
    marker = object()

    def f(x: Any = marker) -> None:
        """Does f."""

    assert ToolConfig.from_function(f).parameters["properties"]["x"] == {}


def test_name_and_description_can_be_overridden() -> None:
    config = ToolConfig.from_function(get_weather, name="weather", description="Custom")
    assert (config.name, config.description) == ("weather", "Custom")


def test_tool_decorator_with_and_without_arguments() -> None:
    @tool
    def search(query: str, limit: int = 10) -> list:
        """Search documents."""
        return []

    @tool(name="find")
    async def lookup(query: str) -> list:
        return []

    assert isinstance(search, ToolConfig) and search.description == "Search documents."
    assert search.parameters["required"] == ["query"]
    assert lookup.name == "find" and lookup.description == ""


class Custom:
    pass


def _star(*args: int) -> None: ...


def _kw(**kwargs: int) -> None: ...


def _pos(x: int, /) -> None: ...


def _custom(x: Custom) -> None: ...


def _tuple(x: Tuple[int, str]) -> None: ...


def _keys(x: dict[int, str]) -> None: ...


def _unresolvable(x: "NoSuchType") -> None: ...  # type: ignore[name-defined]  # noqa: F821


@pytest.mark.parametrize(
    ("fn", "message"),
    [
        (_star, "function '_star', parameter 'args': *args/**kwargs cannot be described"),
        (_kw, "parameter 'kwargs': *args/**kwargs"),
        (_pos, "parameter 'x': positional-only parameters"),
        (_custom, "parameter 'x': cannot express"),
        (_tuple, "fixed-length tuples are not supported"),
        (_keys, "JSON object keys are strings"),
        (_unresolvable, "function '_unresolvable': cannot resolve type hints"),
    ],
)
def test_unsupported_signatures_are_config_errors(fn: Any, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        ToolConfig.from_function(fn)
    assert message in str(info.value)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"name": "bad name"}, "ToolConfig: 'name' must be 1-64 letters"),
        ({"parameters": {"location": {"type": "string"}}}, "ToolConfig 'get_weather': parameters must be a JSON Schema object with type 'object', got no 'type'; did you mean"),
        ({"parameters": {"type": "object", "required": "location"}}, "parameters is not a valid JSON Schema at required"),
        ({"function": "get_weather"}, "function must be callable, got str"),
        ({"description": None}, "description must be a string, got NoneType"),
    ],
)
def test_invalid_tool_config_is_refused(kwargs: dict[str, Any], message: str) -> None:
    fields: dict[str, Any] = {"name": "get_weather", "description": "", "parameters": WEATHER_SCHEMA, "function": get_weather}
    with pytest.raises(ConfigError) as info:
        ToolConfig(**(fields | kwargs))
    assert message in str(info.value)


def test_config_keeps_its_own_copy_of_parameters() -> None:
    schema = {"type": "object", "properties": {"a": {"type": "string"}}}
    config = ToolConfig("t", "", schema, get_weather)
    schema["properties"]["a"]["type"] = "integer"
    assert config.parameters["properties"]["a"]["type"] == "string"
