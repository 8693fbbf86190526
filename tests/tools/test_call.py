from __future__ import annotations

import json
from typing import Any

import pytest

from cascadectl.tools import ToolCall, ToolCallError, ToolCallFormat
from tests.conftest import PROVIDER_STREAMS

OPENAI_RAW = {
    "id": "call_1",
    "type": "function",
    "function": {"name": "get_weather", "arguments": '{"location": "Paris", "days": [1, 2]}'},
}
ANTHROPIC_RAW = {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"location": "Paris"}}


def test_from_openai_parses_the_argument_string() -> None:
    call = ToolCall.from_openai(OPENAI_RAW)
    assert call == ToolCall("call_1", "get_weather", {"location": "Paris", "days": [1, 2]}, ToolCallFormat.OPENAI)


def test_from_anthropic_takes_the_input_object() -> None:
    call = ToolCall.from_anthropic(ANTHROPIC_RAW)
    assert (call.id, call.name, call.arguments) == ("toolu_1", "get_weather", {"location": "Paris"})
    assert call.provider_format is ToolCallFormat.ANTHROPIC


def test_from_ollama_accepts_object_arguments_and_no_id() -> None:
    call = ToolCall.from_ollama({"function": {"name": "return_bool", "arguments": {"value": True}}})
    assert call.arguments == {"value": True}
    assert call.id.startswith("call_") and len(call.id) > 10
    assert call.provider_format is ToolCallFormat.OLLAMA


@pytest.mark.parametrize(
    ("provider", "raw", "fmt"),
    [
        ("openai", OPENAI_RAW, ToolCallFormat.OPENAI),
        ("groq", OPENAI_RAW, ToolCallFormat.OPENAI),
        (ToolCallFormat.VLLM, OPENAI_RAW, ToolCallFormat.VLLM),
        ("HuggingFace", OPENAI_RAW, ToolCallFormat.HUGGINGFACE),
        ("anthropic", ANTHROPIC_RAW, ToolCallFormat.ANTHROPIC),
        ("universal", {"id": "c", "name": "get_weather", "arguments": {"location": "Paris"}}, ToolCallFormat.UNIVERSAL),
    ],
)
def test_from_provider_dispatches_on_format(provider: Any, raw: dict[str, Any], fmt: ToolCallFormat) -> None:
    call = ToolCall.from_provider(provider, raw)
    assert call.provider_format is fmt
    assert call.name == "get_weather"
    assert call.arguments["location"] == "Paris"


def test_unknown_format_is_an_error_listing_known_ones() -> None:
    with pytest.raises(ToolCallError, match=r"unknown tool-call format 'cohere' \(known: .*anthropic.*openai"):
        ToolCall.from_provider("cohere", OPENAI_RAW)


def test_dict_round_trip() -> None:
    call = ToolCall("c1", "f", {"a": [1, {"b": None}]})
    data = call.to_dict()
    assert data == {"id": "c1", "name": "f", "arguments": {"a": [1, {"b": None}]}}
    assert ToolCall.from_dict(data) == call
    data["arguments"]["a"].append(2)
    assert call.arguments == {"a": [1, {"b": None}]}  # to_dict hands out a copy


def test_from_dict_accepts_a_json_argument_string() -> None:
    call = ToolCall.from_dict({"id": "c1", "name": "f", "arguments": '{"x": 1}'})
    assert call.arguments == {"x": 1}


def test_empty_argument_string_means_no_arguments() -> None:
    raw = {"id": "c", "function": {"name": "ping", "arguments": ""}}
    assert ToolCall.from_openai(raw).arguments == {}


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"id": "c1", "function": {"name": "f", "arguments": '{"a": 1'}},
         "tool call 'f' (id c1): arguments are incomplete JSON (cut off?): input ended inside a number; still open: object (at offset 7)"),
        ({"id": "c1", "function": {"name": "f", "arguments": '{"a": 1,,}'}},
         "tool call 'f' (id c1): arguments are not valid JSON: expected a string object key, got ',' (at offset 8)"),
        ({"id": "c1", "function": {"name": "f", "arguments": "[1, 2]"}},
         "tool call 'f' (id c1): arguments must be a JSON object, got list"),
        ({"id": "c1", "function": {"arguments": "{}"}}, "tool call (id c1): missing or empty 'name'"),
        ({"id": "c1"}, "tool call (id c1): missing 'function' object"),
        ({"id": 5, "function": {"name": "f", "arguments": "{}"}}, "'id' must be a string, got int"),
    ],
)
def test_bad_openai_calls_raise_precise_errors(raw: dict[str, Any], message: str) -> None:
    with pytest.raises(ToolCallError) as info:
        ToolCall.from_openai(raw)
    assert message in str(info.value)


def test_bad_anthropic_blocks_raise() -> None:
    with pytest.raises(ToolCallError, match="expected a 'tool_use' block, got type 'text'"):
        ToolCall.from_anthropic({"type": "text", "text": "hi"})
    with pytest.raises(ToolCallError, match="missing or empty 'id'"):
        ToolCall.from_anthropic({"type": "tool_use", "name": "f", "input": {}})
    with pytest.raises(ToolCallError, match="arguments must be a JSON object, got int"):
        ToolCall.from_anthropic({"type": "tool_use", "id": "t", "name": "f", "input": 5})


def test_from_provider_refuses_non_mappings() -> None:
    with pytest.raises(ToolCallError, match="expected a mapping, got list"):
        ToolCall.from_provider("openai", [OPENAI_RAW])  # type: ignore[arg-type]


def test_manifest_expectations_read_as_universal_calls() -> None:
    manifest = json.loads((PROVIDER_STREAMS / "manifest.json").read_text(encoding="utf-8"))
    calls = [ToolCall.from_dict(c) for entry in manifest for c in entry["expected"].get("tool_calls", [])]
    assert len(calls) >= 10
    assert all(isinstance(c.arguments, dict) and c.name for c in calls)
