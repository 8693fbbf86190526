"""Small builders for drafts and contexts shared by the quality tests."""
from __future__ import annotations

from typing import Any, Mapping

from cascadectl.quality.draft import DecisionContext, DraftToolCall
from cascadectl.tools import ToolChoice

WEATHER_SCHEMA: Mapping[str, Any] = {
    "type": "object",
    "properties": {
        "location": {"type": "string"},
        "days": {"type": "array", "items": {"type": "integer"}},
    },
    "required": ["location"],
}
TOOLS: Mapping[str, Mapping[str, Any]] = {
    "get_weather": WEATHER_SCHEMA,
    "get_time": {"type": "object", "properties": {}},
}


def context(
    query: str = "What is the capital of France?",
    complexity: str = "simple",
    threshold: float = 0.6,
    tools: Mapping[str, Mapping[str, Any]] | None = None,
    tool_choice: ToolChoice | None = None,
) -> DecisionContext:
    return DecisionContext(query, complexity, threshold, dict(tools or {}), tool_choice)


def call(
    name: str = "get_weather",
    arguments: Any = None,
    complete: bool = True,
    parse_error: str | None = None,
) -> DraftToolCall:
    args = {"location": "Paris"} if arguments is None else arguments
    return DraftToolCall(f"call_{name}", name, args, repr(args), complete, parse_error)
