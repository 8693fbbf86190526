"""Anthropic Messages API streaming."""
from __future__ import annotations

import json
from contextlib import aclosing
from dataclasses import dataclass, field
from typing import Any, AsyncIterator, Callable, Mapping, Sequence

import httpx

from cascadectl.config.model import TierConfig
from cascadectl.providers.base import ProviderRequest
from cascadectl.streaming.deltas import Delta, ExtraDelta, FinishDelta, TextDelta, ToolCallDelta, UsageDelta
from cascadectl.providers.http.credentials import api_key
from cascadectl.providers.http.transport import (
    CallSite, Hooks, HTTPStream,
)
from cascadectl.providers.http.checks import check_anthropic
from cascadectl.providers.http.sse import SSEEvent
from cascadectl.tools.spec import normalize_tool_choice, normalize_tools


API_VERSION = "2023-06-01"
DEFAULT_MAX_TOKENS = 1024  # the API requires max_tokens
STOP_REASONS = {
    "end_turn": "stop", "stop_sequence": "stop", "max_tokens": "length", "tool_use": "tool_calls",
    "refusal": "refusal", "model_context_window_exceeded": "length",
}
_TOOL_CHOICES = {"auto": "auto", "required": "any", "none": "none"}


class AnthropicProvider:
    name = "anthropic"

    def __init__(self, tier: TierConfig, client: httpx.AsyncClient | None = None, hooks: Hooks | None = None) -> None:
        self.tier = tier
        base_url = check_anthropic(tier)
        key = api_key(tier)  # raises MissingAPIKeyError before any request
        self._url = f"{base_url}/messages" if base_url.endswith("/v1") else f"{base_url}/v1/messages"
        self._headers = {"Accept": "text/event-stream", "anthropic-version": API_VERSION,
                         **dict(tier.options.get("headers") or {}), "x-api-key": key or ""}
        self._site = CallSite(tier.name, self.name, key)
        self._http = HTTPStream(tier, client, self._site, hooks)

    def __repr__(self) -> str:
        return f"AnthropicProvider(tier={self.tier.name!r}, model={self.tier.model!r}, url={self._url!r})"

    async def stream(self, request: ProviderRequest) -> AsyncIterator[Delta]:
        parser = EventParser(self._site)
        body = build_body(self.tier, request)
        async with aclosing(self._http.events(self._url, self._headers, body, _is_stop)) as events:
            async for batch in events:
                for event in batch:
                    for delta in parser.feed(event):
                        yield delta
        parser.end()

    async def aclose(self) -> None:
        await self._http.aclose()


def build_body(tier: TierConfig, request: ProviderRequest) -> dict[str, Any]:
    system = [str(m.get("content") or "") for m in request.messages if m.get("role") == "system"]
    body: dict[str, Any] = {
        "model": request.model or tier.model,
        "messages": anthropic_messages([m for m in request.messages if m.get("role") != "system"]),
        "max_tokens": _first(request.max_tokens, tier.max_tokens, DEFAULT_MAX_TOKENS),
        "stream": True,
    }
    optional = {
        "system": "\n\n".join(system) or None,
        "temperature": _first(request.temperature, tier.temperature),
        "stop_sequences": list(request.stop) if request.stop else None,
        "tools": anthropic_tools(request.tools) if request.tools else None,
        "tool_choice": anthropic_tool_choice(request.tool_choice, request.tools),
    }
    body.update((key, value) for key, value in optional.items() if value is not None)
    body.update(tier.options.get("extra_body") or {})
    return body


def _first(*values: Any) -> Any:
    return next((value for value in values if value is not None), None)


def anthropic_tools(tools: Sequence[Any]) -> list[dict[str, Any]]:
    """Tools in any form cascadectl.tools accepts, as Anthropic client tools."""
    specs, _notices = normalize_tools(list(tools))
    out = [{"name": spec.name, "input_schema": dict(spec.parameters)} for spec in specs]
    for tool, spec in zip(out, specs):
        if spec.description:
            tool["description"] = spec.description
    return out


def anthropic_tool_choice(choice: Any, tools: Sequence[Any] | None = None) -> dict[str, Any] | None:
    parsed = normalize_tool_choice(choice, tools)
    if parsed is None:
        return None
    return {"type": "tool", "name": parsed.name} if parsed.mode == "function" else {"type": _TOOL_CHOICES[parsed.mode]}


def anthropic_messages(messages: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Neutral messages to Anthropic's: tool results become tool_result blocks in
    one user turn; an assistant's tool calls become tool_use blocks."""
    out: list[dict[str, Any]] = []
    for message in messages:
        if message.get("role") == "tool":
            _add_tool_result(out, message)
        elif message.get("role") == "assistant" and message.get("tool_calls"):
            out.append({"role": "assistant", "content": _tool_use_blocks(message)})
        else:
            out.append({"role": message.get("role"), "content": message.get("content")})
    return out


def _add_tool_result(out: list[dict[str, Any]], message: Mapping[str, Any]) -> None:
    block = {"type": "tool_result", "tool_use_id": message.get("tool_call_id"), "content": message.get("content")}
    if message.get("is_error"):
        block["is_error"] = True
    last = out[-1] if out else None
    if last and last.get("role") == "user" and isinstance(last.get("content"), list):
        last["content"].append(block)
    else:
        out.append({"role": "user", "content": [block]})


def _tool_use_blocks(message: Mapping[str, Any]) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = [{"type": "text", "text": message["content"]}] if message.get("content") else []
    for call in message["tool_calls"]:
        spec = call.get("function") or call
        arguments = spec.get("arguments", spec.get("raw_arguments")) or {}
        arguments = json.loads(arguments) if isinstance(arguments, str) else arguments
        blocks.append({"type": "tool_use", "id": call.get("id"), "name": spec.get("name"), "input": arguments})
    return blocks


@dataclass
class Block:
    """A content block being streamed. kind: text, tool, thinking or server."""

    kind: str
    slot: int = -1
    has_input: bool = False
    data: dict[str, Any] = field(default_factory=dict)
    parts: list[str] = field(default_factory=list)


def _usage(usage: Mapping[str, Any]) -> UsageDelta:
    """Anthropic counts cache reads and writes apart from input_tokens; ours
    (like OpenAI's) include them, with cache reads as cached_input_tokens."""
    raw = usage.get("input_tokens")
    read = usage.get("cache_read_input_tokens")
    written = usage.get("cache_creation_input_tokens")
    total = None if raw is None else raw + (read or 0) + (written or 0)
    return UsageDelta(total, usage.get("output_tokens"), read)


class EventParser:
    """Turns Messages API events into deltas; unknown event types are skipped,
    as Anthropic's versioning policy asks of clients."""

    def __init__(self, site: CallSite) -> None:
        self._site = site
        self._blocks: dict[int, Block] = {}
        self._slots = 0
        self._count = 0
        self.done = False  # saw message_stop
        self.stopped = False  # saw a stop_reason
        self._handlers: dict[str, Callable[[dict[str, Any]], list[Delta]]] = {
            "message_start": self._message_start, "content_block_start": self._block_start,
            "content_block_delta": self._block_delta, "content_block_stop": self._block_stop,
            "message_delta": self._message_delta, "message_stop": self._message_stop,
        }

    def feed(self, event: SSEEvent) -> list[Delta]:
        self._count += 1
        if event.event == "ping" or self.done:  # nothing after message_stop counts
            return []
        payload = self._json(event.data, event.event == "error")
        kind = payload.get("type", event.event)
        if kind == "error" or event.event == "error":
            raise self._site.stream_error(payload, "error")
        handler = self._handlers.get(kind)
        try:
            return handler(payload) if handler else []
        except (AttributeError, TypeError, KeyError, ValueError) as exc:
            problem = f"event {self._count} ({kind}) has an unexpected shape ({exc!r})"
            raise self._site.protocol_error(f"{problem}: {event.data[:200]!r}") from None

    def end(self) -> None:
        if not (self.done or self.stopped):
            raise self._site.truncated("message_stop")

    def _json(self, data: str, lenient: bool) -> dict[str, Any]:
        try:
            payload = json.loads(data)
        except ValueError as exc:
            if lenient:
                return {"type": "error", "error": {"message": data}}
            raise self._site.protocol_error(f"event {self._count} is not valid JSON ({exc}): {data[:200]!r}") from None
        if not isinstance(payload, dict):
            raise self._site.protocol_error(f"event {self._count} is not a JSON object: {data[:200]!r}")
        return payload

    def _message_start(self, payload: dict[str, Any]) -> list[Delta]:
        usage = payload["message"].get("usage")
        return [_usage(usage)] if usage else []

    def _block_start(self, payload: dict[str, Any]) -> list[Delta]:
        index, block = payload["index"], payload["content_block"]
        kind = block["type"]
        out: list[Delta] = [ExtraDelta("block", data={"index": index, "type": kind})]
        if kind == "tool_use":
            state = self._blocks[index] = Block("tool", self._slots, data={"input": block.get("input")})
            self._slots += 1
            out.append(ToolCallDelta(state.slot, block.get("id"), block.get("name")))
        elif kind in ("text", "thinking"):
            self._blocks[index] = Block(kind)
            text = block.get(kind)
            out.extend(self._text(kind, text) if text else ())
        elif kind == "redacted_thinking":
            out.append(ExtraDelta("reasoning_redacted", data={"data": block.get("data")}))
        else:  # server_tool_use, web_search_tool_result, ...: the server ran these itself
            self._blocks[index] = Block("server", data=dict(block))
        return out

    def _text(self, kind: str, text: str) -> list[Delta]:
        return [TextDelta(text)] if kind == "text" else [ExtraDelta("reasoning", text)]

    def _block_delta(self, payload: dict[str, Any]) -> list[Delta]:
        delta = payload["delta"]
        kind = delta["type"]
        if kind == "text_delta":
            return [TextDelta(delta["text"])] if delta["text"] else []
        if kind == "input_json_delta":
            return self._input(payload["index"], delta["partial_json"])
        if kind == "thinking_delta":
            return [ExtraDelta("reasoning", delta["thinking"])] if delta["thinking"] else []
        if kind == "signature_delta":
            return [ExtraDelta("reasoning_signature", delta["signature"])]
        if kind == "citations_delta":
            return [ExtraDelta("citation", data=delta.get("citation"))]
        return []

    def _input(self, index: int, partial: str) -> list[Delta]:
        block = self._blocks.get(index)
        if block is None:
            raise self._site.protocol_error(
                f"event {self._count}: input_json_delta for block {index}, which never started")
        if block.kind != "tool":
            block.parts.append(partial)
            return []
        if not partial:
            return []
        block.has_input = True
        return [ToolCallDelta(block.slot, arguments=partial)]

    def _block_stop(self, payload: dict[str, Any]) -> list[Delta]:
        block = self._blocks.pop(payload["index"], None)
        if block is None or block.kind in ("text", "thinking"):
            return []
        if block.kind == "server":
            return [ExtraDelta("server_tool", data=_server_block(block))]
        if block.has_input:
            return []
        # No input_json_delta carried anything: the call takes no arguments.
        return [ToolCallDelta(block.slot, arguments=json.dumps(block.data["input"]) if block.data["input"] else "{}")]

    def _message_delta(self, payload: dict[str, Any]) -> list[Delta]:
        out: list[Delta] = []
        delta = payload.get("delta") or {}
        reason = delta.get("stop_reason")
        if reason:
            self.stopped = True
            normal = STOP_REASONS.get(reason, reason)
            out.append(FinishDelta(normal))
            out.append(ExtraDelta("native_finish_reason", reason, {"stop_sequence": delta.get("stop_sequence")}))
        usage = payload.get("usage")
        if usage:
            out.append(_usage(usage))  # cumulative: it replaces what message_start said
        return out

    def _message_stop(self, payload: dict[str, Any]) -> list[Delta]:
        self.done = True
        return []


def _server_block(block: Block) -> dict[str, Any]:
    data = dict(block.data)
    raw = "".join(block.parts)
    if raw:
        try:
            data["input"] = json.loads(raw)
        except ValueError:
            data["partial_json"] = raw
    return data


def _is_stop(event: SSEEvent) -> bool:
    return event.event == "message_stop"
