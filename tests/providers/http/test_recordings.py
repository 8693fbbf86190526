"""Every recorded provider stream, served from a loopback server, must come out
exactly as its manifest's `expected` says."""
from __future__ import annotations

import json
import re
from typing import Any, Sequence

import pytest

from cascadectl.streaming.deltas import Delta, ExtraDelta, TextDelta
from cascadectl.providers.http.transport import APIErrorEvent
from tests.conftest import PROVIDER_STREAMS
from tests.providers import helpers as h
from tests.support.sse_server import Scripted, SSEServer

MANIFEST: list[dict[str, Any]] = json.loads((PROVIDER_STREAMS / "manifest.json").read_text())
CHECKED_KEYS = {
    "text", "tool_calls", "finish_reason", "usage", "done_marker", "logprobs_content_tokens", "refusal",
    "logprobs_refusal_tokens", "choices", "reasoning", "thinking", "error", "error_sse_event",
    "block_types", "text_blocks", "server_tool_calls",
}


def _events(body: bytes) -> list[bytes]:
    """The body cut after each blank line, so each event is written separately."""
    return [part for part in re.split(rb"(?<=\n\n)", body) if part]


def _serve(server: SSEServer, entry: dict[str, Any], split: bool) -> str:
    body = (PROVIDER_STREAMS / entry["file"]).read_bytes()
    provider = "anthropic" if entry["provider"] == "anthropic" else "openai"
    path = "/v1/messages" if provider == "anthropic" else "/v1/chat/completions"
    server.add(path, Scripted(chunks=tuple(_events(body)) if split else (body,)))
    return provider


def _finish(deltas: Sequence[Delta]) -> str | None:
    native = h.extras(deltas, "native_finish_reason")
    reasons = h.finish_reasons(deltas)
    return native[-1].text if native else (reasons[-1] if reasons else None)


def _usage(deltas: Sequence[Delta], provider: str) -> dict[str, int] | None:
    found = h.usage(deltas)
    if found is None:
        return None
    if provider == "anthropic":
        return {"input_tokens": found["input_tokens"], "output_tokens": found["output_tokens"]}
    return {"prompt_tokens": found["input_tokens"], "completion_tokens": found["output_tokens"],
            "total_tokens": found["input_tokens"] + found["output_tokens"]}


def _text_blocks(deltas: Sequence[Delta]) -> list[str]:
    blocks: list[str] = []
    for delta in deltas:
        if isinstance(delta, ExtraDelta) and delta.kind == "block" and delta.data and delta.data["type"] == "text":
            blocks.append("")
        elif isinstance(delta, TextDelta):
            blocks[-1] += delta.text
    return blocks


def _choices(deltas: Sequence[Delta]) -> list[dict[str, Any]]:
    first = {"index": 0, "text": h.text(deltas), "tool_calls": h.tool_calls(deltas), "finish_reason": _finish(deltas)}
    (ignored,) = h.extras(deltas, "ignored_choices")
    assert ignored.data is not None
    return [first, *ignored.data["choices"]]


def _server_tools(deltas: Sequence[Delta]) -> list[dict[str, Any]]:
    return [{"id": d.data["id"], "name": d.data["name"], "arguments": d.data["input"]}
            for d in h.extras(deltas, "server_tool") if d.data and d.data["type"] == "server_tool_use"]


def _observed(outcome: h.Outcome, provider: str) -> dict[str, Any]:
    deltas = outcome.deltas
    refusals = h.extras(deltas, "refusal")
    return {
        "text": h.text(deltas),
        "tool_calls": h.tool_calls(deltas),
        "finish_reason": _finish(deltas),
        "usage": _usage(deltas, provider),
        "done_marker": outcome.error is None,
        "logprobs_content_tokens": [t.token for d in deltas if isinstance(d, TextDelta) for t in d.logprobs or ()],
        "refusal": "".join(d.text for d in refusals),
        "logprobs_refusal_tokens": [t["token"] for d in refusals for t in (d.data or {})["logprobs"]],
        "reasoning": "".join(d.text for d in h.extras(deltas, "reasoning")),
        "block_types": [d.data["type"] for d in h.extras(deltas, "block") if d.data],
    }


# What a recording without the key must show: nothing of that kind.
ABSENT = {"refusal": "", "logprobs_content_tokens": [], "logprobs_refusal_tokens": [], "usage": None, "block_types": []}


def _compare(expected: dict[str, Any], outcome: h.Outcome, provider: str) -> None:
    assert set(expected) <= CHECKED_KEYS, f"manifest has keys this test does not check: {set(expected) - CHECKED_KEYS}"
    observed = _observed(outcome, provider)
    for key in sorted(set(observed) - {"reasoning"}):
        assert observed[key] == expected.get(key, ABSENT.get(key, observed[key])), key
    # OpenAI-compatible servers call it reasoning, Anthropic thinking: both arrive as "reasoning".
    assert observed["reasoning"] == expected.get("reasoning", expected.get("thinking", ""))
    if "text_blocks" in expected:
        assert _text_blocks(outcome.deltas) == expected["text_blocks"]
    assert _server_tools(outcome.deltas) == expected.get("server_tool_calls", [])
    if "choices" in expected:
        assert _choices(outcome.deltas) == expected["choices"]
    else:
        assert h.extras(outcome.deltas, "ignored_choices") == []


def _check_error(expected: dict[str, Any], outcome: h.Outcome) -> None:
    if "error" not in expected:
        assert outcome.error is None, outcome.error
        return
    error = outcome.error
    assert isinstance(error, APIErrorEvent)
    assert (error.kind, error.started, error.payload) == ("api_error", True, expected["error"])
    assert expected["error_sse_event"] == "error"
    assert expected["error"]["error"]["message"][:60] in str(error)


@pytest.mark.parametrize("split", [False, True], ids=["whole-body", "event-per-write"])
@pytest.mark.parametrize("entry", MANIFEST, ids=[entry["file"] for entry in MANIFEST])
def test_recording_matches_manifest(entry: dict[str, Any], split: bool, sse_server: SSEServer) -> None:
    provider = _serve(sse_server, entry, split)
    outcome = h.run(h.tier(sse_server.url, provider))
    _check_error(entry["expected"], outcome)
    _compare(entry["expected"], outcome, provider)
    assert len(sse_server.requests) == 1


def test_manifest_lists_every_recording() -> None:
    files = {path.name for path in PROVIDER_STREAMS.glob("*.sse")}
    assert files == {entry["file"] for entry in MANIFEST}
    assert len(MANIFEST) == 20
