"""Real argument fragments from the recorded provider streams, fed as they came."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterator

import pytest

from cascadectl.tools.jsonstream import IncompleteJSONError, IncrementalJSONParser
from tests.conftest import PROVIDER_STREAMS

MANIFEST = json.loads((PROVIDER_STREAMS / "manifest.json").read_text(encoding="utf-8"))
WITH_TOOLS = [entry for entry in MANIFEST if entry["expected"].get("tool_calls")]


def data_lines(path: Path) -> Iterator[dict[str, Any]]:
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("data:") and line[5:].strip() not in ("", "[DONE]"):
            yield json.loads(line[5:])


def argument_fragments(path: Path, provider: str) -> list[list[str]]:
    """Argument fragments per tool call, in call order."""
    calls: dict[Any, list[str]] = {}
    for event in data_lines(path):
        if provider == "anthropic":
            _anthropic_fragments(event, calls)
        else:
            _openai_fragments(event, calls)
    return list(calls.values())


def _anthropic_fragments(event: dict[str, Any], calls: dict[Any, list[str]]) -> None:
    if event.get("type") == "content_block_start" and event["content_block"]["type"] == "tool_use":
        calls[event["index"]] = []
    delta = event.get("delta") or {}
    is_json = event.get("type") == "content_block_delta" and delta.get("type") == "input_json_delta"
    if is_json and event["index"] in calls:  # server_tool_use blocks stream JSON too
        calls[event["index"]].append(delta["partial_json"])


def _openai_fragments(event: dict[str, Any], calls: dict[Any, list[str]]) -> None:
    for choice in event.get("choices") or []:
        for position, call in enumerate((choice.get("delta") or {}).get("tool_calls") or []):
            key = call.get("index", f"{call.get('id')}-{position}")
            calls.setdefault(key, []).append((call.get("function") or {}).get("arguments") or "")


@pytest.mark.parametrize("entry", WITH_TOOLS, ids=[e["file"] for e in WITH_TOOLS])
def test_recorded_argument_fragments_parse_to_the_expected_arguments(entry: dict[str, Any]) -> None:
    fragments = argument_fragments(PROVIDER_STREAMS / entry["file"], entry["provider"])
    expected = [call["arguments"] for call in entry["expected"]["tool_calls"]]
    assert len(fragments) == len(expected)
    for parts, arguments in zip(fragments, expected):
        parser = IncrementalJSONParser()
        for part in parts:
            parser.feed(part)
            assert parser.value is None or isinstance(parser.value, dict)
        if not "".join(parts).strip():
            # Anthropic sends no argument text for an empty input; the call's
            # content_block_start carries `input: {}` instead. The parser must
            # not invent that value itself.
            assert arguments == {}
            with pytest.raises(IncompleteJSONError):
                parser.finish()
            continue
        assert parser.finish() == arguments


def test_cut_off_fragments_are_incomplete_at_every_point() -> None:
    entry = next(e for e in WITH_TOOLS if e["file"] == "openai-tool-long-arguments.sse")
    parts = argument_fragments(PROVIDER_STREAMS / entry["file"], entry["provider"])[0]
    for stop in range(len(parts) - 1):
        parser = IncrementalJSONParser()
        for part in parts[: stop + 1]:
            parser.feed(part)
        if "".join(parts[stop + 1 :]).strip():
            assert not parser.complete
            with pytest.raises(IncompleteJSONError):
                parser.finish()
