"""What the guide's snippets run on: its two-tier agent, and the responses scripted
into the loopback OpenAI endpoint (text comes from tests/support/wire; tool calls
and errors are here)."""
from __future__ import annotations

import asyncio
import json
from typing import Any, Awaitable, Callable, TypeVar

from cascadectl import CascadeAgent, ModelConfig
from tests.support.sse_server import Scripted, SSEServer, json_response, openai_events

PATH = "/v1/chat/completions"
T = TypeVar("T")
_BASE = {"id": "chatcmpl-2", "object": "chat.completion.chunk", "created": 1, "model": "m"}


def openai_tool_call(arguments: dict[str, Any], *, call_id: str = "call_abc123", name: str = "get_weather",
                     text: str = "", pieces: int = 4) -> Scripted:
    """One streamed tool call as OpenAI sends it: id and name first, then the
    arguments' JSON in fragments under the same index, then finish and usage."""
    raw = json.dumps(arguments)
    step = max(1, -(-len(raw) // pieces))
    head = {"role": "assistant", "content": text or None,
            "tool_calls": [{"index": 0, "id": call_id, "type": "function", "function": {"name": name, "arguments": ""}}]}
    deltas: list[dict[str, Any]] = [head]
    deltas += [{"tool_calls": [{"index": 0, "function": {"arguments": raw[i:i + step]}}]} for i in range(0, len(raw), step)]
    payloads: list[Any] = [{**_BASE, "choices": [{"index": 0, "delta": d, "finish_reason": None}]} for d in deltas]
    payloads.append({**_BASE, "choices": [{"index": 0, "delta": {}, "finish_reason": "tool_calls"}]})
    payloads.append({**_BASE, "choices": [], "usage": {"prompt_tokens": 40, "completion_tokens": 10, "total_tokens": 50}})
    return Scripted(200, tuple(openai_events(payloads)))


def server_error() -> Scripted:
    """HTTP 500 with `retry-after: 0`: the tier's retries run at once, with no backoff wait."""
    return json_response(500, {"error": {"message": "upstream exploded", "type": "server_error"}}, [("retry-after", "0")])


def models_called(server: SSEServer) -> list[str]:
    return [request.json["model"] for request in server.requests]


def guide_agent() -> CascadeAgent:
    """`agent` where a snippet leaves it to the reader (`CascadeAgent(models=[...])`):
    the guide's own two tiers."""
    return CascadeAgent(models=[
        ModelConfig(name="gpt-4o-mini", provider="openai", cost=0.00015),
        ModelConfig(name="gpt-4o", provider="openai", cost=0.00625),
    ])


def run_with_agent(snippet: Callable[[CascadeAgent], Awaitable[T]]) -> T:
    """Run a snippet on the guide's agent, closed afterwards (the snippets never close theirs)."""
    async def go() -> T:
        async with guide_agent() as agent:
            return await snippet(agent)

    return asyncio.run(go())
