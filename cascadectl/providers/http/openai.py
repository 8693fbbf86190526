"""OpenAI Chat Completions streaming, for OpenAI and every server that speaks it
(Groq, Together, Fireworks, OpenRouter, DeepSeek, vLLM, Ollama /v1, llama.cpp
server, LM Studio, Gemini's OpenAI endpoint)."""
from __future__ import annotations

import json
from contextlib import aclosing
from typing import Any, AsyncIterator, Mapping, Sequence

import httpx

from cascadectl.config.model import TierConfig
from cascadectl.providers.base import ProviderRequest
from cascadectl.streaming.deltas import Delta, ExtraDelta, FinishDelta, TextDelta, TokenLogprob, ToolCallDelta, UsageDelta
from cascadectl.providers.http.credentials import api_key
from cascadectl.providers.http.transport import (
    CallSite, Hooks, HTTPStream,
)
from cascadectl.providers.http.checks import check_openai
from cascadectl.providers.http.sse import SSEEvent
from cascadectl.tools.spec import normalize_tool_choice, normalize_tools

_loads = json.loads
# json.loads is this plus ~1 µs of pure-Python whitespace and end checks per call.
_raw_decode = json.JSONDecoder().raw_decode

# Finish reasons as OpenAI names them; other servers' words for the same thing.
FINISH_REASONS = {
    "stop": "stop", "length": "length", "tool_calls": "tool_calls", "content_filter": "content_filter",
    "function_call": "tool_calls", "eos": "stop", "eos_token": "stop", "end_turn": "stop",
    "stop_sequence": "stop", "max_tokens": "length", "tool_use": "tool_calls",
}


class OpenAIProvider:
    name = "openai"

    def __init__(self, tier: TierConfig, client: httpx.AsyncClient | None = None, hooks: Hooks | None = None) -> None:
        self.tier = tier
        base_url = check_openai(tier)
        key = api_key(tier)  # raises MissingAPIKeyError before any request
        self._url = f"{base_url}/chat/completions"
        self._headers = _headers(tier, key)
        self._site = CallSite(tier.name, self.name, key)
        self._http = HTTPStream(tier, client, self._site, hooks)

    def __repr__(self) -> str:
        return f"OpenAIProvider(tier={self.tier.name!r}, model={self.tier.model!r}, url={self._url!r})"

    async def stream(self, request: ProviderRequest) -> AsyncIterator[Delta]:
        parser = ChunkParser(self._site)
        body = build_body(self.tier, request)
        async with aclosing(self._http.events(self._url, self._headers, body, _is_done)) as events:
            async for batch in events:
                for event in batch:
                    for delta in parser.feed(event):
                        yield delta
        for delta in parser.end():
            yield delta

    async def aclose(self) -> None:
        await self._http.aclose()


def _headers(tier: TierConfig, key: str | None) -> dict[str, str]:
    headers = {"Accept": "text/event-stream", **dict(tier.options.get("headers") or {})}
    if key:
        headers["Authorization"] = f"Bearer {key}"
    return headers


def build_body(tier: TierConfig, request: ProviderRequest) -> dict[str, Any]:
    body: dict[str, Any] = {
        "model": request.model or tier.model,
        "messages": [_message(message) for message in request.messages],
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    _put(body, str(tier.options.get("max_tokens_field") or "max_tokens"), _first(request.max_tokens, tier.max_tokens))
    _put(body, "temperature", _first(request.temperature, tier.temperature))
    _put(body, "stop", list(request.stop) if request.stop else None)
    if request.logprobs:
        body.update(logprobs=True, top_logprobs=0)
    if request.tools:
        body["tools"] = openai_tools(request.tools)
    _put(body, "tool_choice", openai_tool_choice(request.tool_choice, request.tools))
    body.update(tier.options.get("extra_body") or {})
    return body


def _first(*values: Any) -> Any:
    return next((value for value in values if value is not None), None)


def _put(body: dict[str, Any], key: str, value: Any) -> None:
    if value is not None:
        body[key] = value


def _message(message: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(message)
    out.pop("is_error", None)  # the neutral tool message's flag; OpenAI reads the error from the content
    calls = out.get("tool_calls")
    if calls:  # neutral {id, name, arguments} calls become OpenAI's function calls
        out["tool_calls"] = [call if "function" in call else _openai_call(call) for call in calls]
    return out


def _openai_call(call: Mapping[str, Any]) -> dict[str, Any]:
    arguments = call.get("arguments", call.get("raw_arguments", {}))
    text = arguments if isinstance(arguments, str) else json.dumps(arguments)
    return {"id": call.get("id", ""), "type": "function", "function": {"name": call.get("name"), "arguments": text}}


def openai_tools(tools: Sequence[Any]) -> list[dict[str, Any]]:
    """Tools in any form cascadectl.tools accepts, as OpenAI function tools."""
    specs, _notices = normalize_tools(list(tools))
    return [{"type": "function", "function": _function(spec.name, spec.description, spec.parameters)} for spec in specs]


def _function(name: str, description: str, parameters: Mapping[str, Any]) -> dict[str, Any]:
    function: dict[str, Any] = {"name": name, "parameters": dict(parameters)}
    if description:
        function["description"] = description
    return function


def openai_tool_choice(choice: Any, tools: Sequence[Any] | None = None) -> Any:
    parsed = normalize_tool_choice(choice, tools)
    if parsed is None:
        return None
    return {"type": "function", "function": {"name": parsed.name}} if parsed.mode == "function" else parsed.mode


class ToolSlots:
    """Gives each tool call a 0-based slot in arrival order. Calls are told apart
    by id first, then by the provider's index; servers that omit both (Ollama,
    Gemini) send whole calls, so a fragment with a new name starts a new call."""

    __slots__ = ("_by_id", "_by_index", "_names", "_last")

    def __init__(self) -> None:
        self._by_id: dict[str, int] = {}
        self._by_index: dict[Any, int] = {}
        self._names: list[str | None] = []
        self._last: int | None = None

    def feed(self, entries: list[Mapping[str, Any]], out: list[Delta]) -> None:
        for entry in entries:
            function = entry.get("function") or {}
            name = function.get("name") or None
            arguments = function.get("arguments") or ""
            if not isinstance(arguments, str):  # some servers send the object itself
                arguments = json.dumps(arguments)
            self._emit(entry, name, arguments, out)

    def _emit(self, entry: Mapping[str, Any], name: str | None, arguments: str, out: list[Delta]) -> None:
        call_id, index = entry.get("id"), entry.get("index")
        slot = self._find(call_id, index, name)
        if slot is None:
            out.append(ToolCallDelta(self._open(call_id, index, name), call_id, name, arguments))
        elif name and self._names[slot] is None:
            self._names[slot] = name
            out.append(ToolCallDelta(slot, name=name, arguments=arguments))
        elif arguments:
            out.append(ToolCallDelta(slot, arguments=arguments))

    def _find(self, call_id: Any, index: Any, name: str | None) -> int | None:
        if call_id:
            return self._by_id.get(call_id)
        slot = self._by_index.get(index) if index is not None else self._last
        if slot is None or (name and self._names[slot] not in (None, name)):
            return None  # a new index, or a different tool under a reused index
        if index is None and name and self._names[slot] is not None:
            return None  # no id, no index: a named fragment is a whole new call
        return slot

    def _open(self, call_id: Any, index: Any, name: str | None) -> int:
        slot = self._last = len(self._names)
        self._names.append(name)
        if call_id:
            self._by_id[call_id] = slot
        if index is not None:
            self._by_index[index] = slot
        return slot


class OtherChoice:
    """A choice other than 0 (n > 1): kept for the ignored_choices summary."""

    def __init__(self, index: int) -> None:
        self.index = index
        self.text: list[str] = []
        self.tools = ToolSlots()
        self.calls: list[Delta] = []
        self.finish_reason: str | None = None

    def summary(self) -> dict[str, Any]:
        calls: dict[int, dict[str, Any]] = {}
        for call in self.calls:
            if not isinstance(call, ToolCallDelta):
                continue
            slot = calls.setdefault(call.index, {"id": call.id, "name": call.name, "arguments": ""})
            slot["name"] = slot["name"] or call.name
            slot["arguments"] += call.arguments
        return {"index": self.index, "text": "".join(self.text), "tool_calls": list(calls.values()),
                "finish_reason": self.finish_reason}


class ChunkParser:
    """Turns chat.completion.chunk events into deltas. Only choice 0 is streamed."""

    def __init__(self, site: CallSite) -> None:
        self._site = site
        self._tools = ToolSlots()
        self._others: dict[int, OtherChoice] = {}
        self._count = 0
        self.done = False  # saw [DONE]
        self.finished = False  # saw choice 0's finish_reason

    def feed(self, event: SSEEvent) -> list[Delta]:
        self._count += 1
        data = event.data
        if self.done or data == "[DONE]" or event.event == "error":
            return self._control(event)
        try:
            chunk = _json(data)
        except ValueError as exc:
            raise self._site.protocol_error(f"event {self._count} is not valid JSON ({exc}): {data[:200]!r}") from None
        try:
            text = _plain_text(chunk) if type(chunk) is dict else None
            return [text] if text is not None else self._chunk(chunk)
        except (AttributeError, TypeError, KeyError, ValueError) as exc:
            problem = f"event {self._count} has an unexpected shape ({exc!r})"
            raise self._site.protocol_error(f"{problem}: {data[:200]!r}") from None

    def end(self) -> list[Delta]:
        if not (self.done or self.finished):
            raise self._site.truncated("[DONE] and without a finish reason")
        if not self._others:
            return []
        choices = [self._others[index].summary() for index in sorted(self._others)]
        return [ExtraDelta("ignored_choices", f"{len(choices)} more choices (n > 1): only choice 0 is used",
                           {"choices": choices})]

    def _control(self, event: SSEEvent) -> list[Delta]:
        if self.done:  # nothing after [DONE] counts
            return []
        if event.event == "error":
            raise self._site.stream_error(self._error_payload(event.data), "error")
        self.done = True  # [DONE]
        return []

    def _error_payload(self, data: str) -> Any:
        try:
            return json.loads(data)
        except ValueError:
            return {"error": {"message": data}}

    def _chunk(self, chunk: dict[str, Any]) -> list[Delta]:
        if type(chunk) is not dict:
            raise TypeError(f"expected a JSON object, got {type(chunk).__name__}")
        if chunk.get("error"):
            raise self._site.stream_error(chunk, "data")
        out: list[Delta] = []
        for choice in chunk.get("choices") or ():
            if choice.get("index", 0) == 0:
                self._primary(choice, out)
            else:
                self._other(choice)
        usage = chunk.get("usage")
        if usage:
            cached = (usage.get("prompt_tokens_details") or {}).get("cached_tokens")
            out.append(UsageDelta(usage.get("prompt_tokens"), usage.get("completion_tokens"), cached))
        return out

    def _primary(self, choice: Mapping[str, Any], out: list[Delta]) -> None:
        delta = choice.get("delta")
        if delta:
            self._delta(delta, choice.get("logprobs"), out)
        reason = choice.get("finish_reason")
        if reason:
            self.finished = True
            self._finish(reason, out)

    def _delta(self, delta: Mapping[str, Any], logprobs: Any, out: list[Delta]) -> None:
        content = delta.get("content")
        if content and len(delta) == 1:  # the common chunk: nothing else to look for
            out.append(TextDelta(content, _logprobs(logprobs, "content") if logprobs else None))
            return
        reasoning = delta.get("reasoning") or delta.get("reasoning_content")
        if reasoning:
            out.append(ExtraDelta("reasoning", reasoning))
        if content:
            out.append(TextDelta(content, _logprobs(logprobs, "content")))
        refusal = delta.get("refusal")
        if refusal:
            tokens = [{"token": t.token, "logprob": t.logprob} for t in _logprobs(logprobs, "refusal") or ()]
            out.append(ExtraDelta("refusal", refusal, {"logprobs": tokens}))
        calls = delta.get("tool_calls")
        if calls:
            self._tools.feed(calls, out)

    def _finish(self, reason: str, out: list[Delta]) -> None:
        normal = FINISH_REASONS.get(reason, reason)
        out.append(FinishDelta(normal))
        if normal != reason:
            out.append(ExtraDelta("native_finish_reason", reason))

    def _other(self, choice: Mapping[str, Any]) -> None:
        index = choice["index"]
        other = self._others.get(index)
        if other is None:
            other = self._others[index] = OtherChoice(index)
        delta = choice.get("delta") or {}
        other.text.append(delta.get("content") or "")
        if delta.get("tool_calls"):
            other.tools.feed(delta["tool_calls"], other.calls)
        if choice.get("finish_reason"):
            other.finish_reason = FINISH_REASONS.get(choice["finish_reason"], choice["finish_reason"])


def _json(data: str) -> Any:
    """json.loads(data), faster on the usual event (a JSON object and nothing
    else); anything unusual goes to json.loads, so results and errors are its own."""
    try:
        value, end = _raw_decode(data)
    except ValueError:
        return _loads(data)
    return value if end == len(data) else _loads(data)


def _plain_text(chunk: dict[str, Any]) -> TextDelta | None:
    """The chunk almost every event is: one choice 0 whose delta is only content,
    no finish reason, no usage, no error. Its TextDelta, with the fewest lookups;
    None sends the chunk down the general path, which gives the same result."""
    choices = chunk.get("choices")
    if type(choices) is not list or len(choices) != 1 or chunk.get("usage") or chunk.get("error"):
        return None
    choice = choices[0]
    delta = choice.get("delta") if type(choice) is dict else None
    if type(delta) is not dict or len(delta) != 1 or choice.get("finish_reason") or choice.get("index", 0) != 0:
        return None
    content = delta.get("content")
    if not content:
        return None
    logprobs = choice.get("logprobs")
    items = logprobs.get("content") if logprobs else None
    if not items:
        return TextDelta(content, None)
    return TextDelta(content, tuple([TokenLogprob(item["token"], item["logprob"]) for item in items]))


def _logprobs(logprobs: Any, field: str) -> tuple[TokenLogprob, ...] | None:
    items = logprobs.get(field) if logprobs else None
    if not items:
        return None
    # A list comprehension: a generator inside tuple() costs about 1 µs more a chunk.
    return tuple([TokenLogprob(item["token"], item["logprob"]) for item in items])


def _is_done(event: SSEEvent) -> bool:
    return event.data == "[DONE]"
