"""Pure text helpers of the llamacpp provider: prompts, stop sequences, tool-call JSON.

Nothing here touches llama_cpp, so all of it is tested without a model.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping, Sequence

from cascadectl.streaming.deltas import TextDelta, TokenLogprob, ToolCallDelta
from cascadectl.tools.jsonstream import IncrementalJSONParser, JSONStreamError

DEFAULT_TURN_TEMPLATE = "Question: {user}\nAnswer: {assistant}\n\n"


def message_text(message: Mapping[str, Any]) -> str:
    """A message's content as plain text (OpenAI-style content parts are joined)."""
    content = message.get("content")
    if isinstance(content, str) and (content or not message.get("tool_calls")):
        return content
    if isinstance(content, list):
        return "".join(_part_text(part) for part in content)
    calls = message.get("tool_calls")
    return json.dumps(calls, sort_keys=True) if calls else ""


def _part_text(part: Any) -> str:
    if isinstance(part, Mapping):
        return str(part.get("text") or "")
    return str(part) if isinstance(part, str) else ""


def chat_messages(messages: Sequence[Mapping[str, Any]], tool_note: str = "") -> list[dict[str, str]]:
    """Messages as role/content strings for a chat template. Tool results become user
    turns because small models' templates rarely know a tool role."""
    out = [_chat_message(m) for m in messages]
    if tool_note:
        out = _with_system_note(out, tool_note)
    return out


def _chat_message(message: Mapping[str, Any]) -> dict[str, str]:
    role = str(message.get("role") or "user")
    text = message_text(message)
    if role == "tool":
        return {"role": "user", "content": f"Tool result: {text}"}
    return {"role": role if role in ("system", "user", "assistant") else "user", "content": text}


def _with_system_note(messages: list[dict[str, str]], note: str) -> list[dict[str, str]]:
    if messages and messages[0]["role"] == "system":
        first = {"role": "system", "content": f"{messages[0]['content']}\n\n{note}"}
        return [first] + messages[1:]
    return [{"role": "system", "content": note}] + messages


@dataclass(frozen=True)
class CompletionTemplate:
    """A prompt template for base models: `{query}`, optional `{system}` and `{history}`."""

    template: str
    turn_template: str = DEFAULT_TURN_TEMPLATE

    def render(self, messages: Sequence[Mapping[str, Any]], tool_note: str = "") -> str:
        system, history, query = split_conversation(messages)
        system = "\n\n".join(part for part in (system, tool_note) if part)
        turns = "".join(self._turn(user, assistant) for user, assistant in history)
        if "{history}" not in self.template and turns:
            # The template has no slot for earlier turns: keep them with the question.
            query = f"{turns.rstrip()}\n\n{query}"
            turns = ""
        values = {"{system}": f"{system}\n\n" if system else "", "{history}": turns, "{query}": query}
        return _substitute(self.template, values)

    def _turn(self, user: str, assistant: str) -> str:
        return _substitute(self.turn_template, {"{user}": user, "{assistant}": assistant})


def _substitute(template: str, values: Mapping[str, str]) -> str:
    # Plain replacement, not str.format: templates may hold JSON braces.
    out = template
    for key, value in values.items():
        out = out.replace(key, value)
    return out


def split_conversation(messages: Sequence[Mapping[str, Any]]) -> tuple[str, list[tuple[str, str]], str]:
    """(system text, earlier (user, assistant) turns, the question to answer now)."""
    system = "\n".join(message_text(m) for m in messages if m.get("role") == "system")
    rest = [m for m in messages if m.get("role") != "system"]
    last_user = max((i for i, m in enumerate(rest) if m.get("role") == "user"), default=-1)
    tail = [_after_question(m) for m in rest[last_user + 1 :]]
    query = "\n".join(([message_text(rest[last_user])] if last_user >= 0 else []) + tail)
    return system, _pairs(rest[: max(last_user, 0)]), query


def _after_question(message: Mapping[str, Any]) -> str:
    # What happened since the question: the model's tool calls and their results.
    if message.get("role") == "assistant":
        prefix = "Tool call" if message.get("tool_calls") else "Answer so far"
        return f"{prefix}: {message_text(message)}"
    return f"Tool result: {message_text(message)}"


def _pairs(messages: Iterable[Mapping[str, Any]]) -> list[tuple[str, str]]:
    turns: list[tuple[str, str]] = []
    pending: list[str] = []
    for message in messages:
        text = message_text(message)
        if message.get("role") == "assistant":
            turns.append(("\n".join(pending), text))
            pending = []
        else:
            pending.append(text if message.get("role") == "user" else f"Tool result: {text}")
    if pending:
        turns.append(("\n".join(pending), ""))
    return turns


class StopScanner:
    """Cuts text at the first stop sequence, holding back any tail that could be the
    start of one so that no part of a stop sequence is ever emitted."""

    def __init__(self, stops: Sequence[str]) -> None:
        self.stops = tuple(s for s in stops if s)
        self.held = ""
        self.stopped = False

    def feed(self, piece: str) -> str:
        text = self.held + piece
        cut = min((i for i in (text.find(s) for s in self.stops) if i >= 0), default=-1)
        if cut >= 0:
            self.stopped, self.held = True, ""
            return text[:cut]
        keep = self._partial_stop_length(text)
        self.held = text[len(text) - keep :] if keep else ""
        return text[: len(text) - keep]

    def flush(self) -> str:
        text, self.held = self.held, ""
        return text

    def _partial_stop_length(self, text: str) -> int:
        best = 0
        for stop in self.stops:
            for size in range(min(len(stop) - 1, len(text)), best, -1):
                if text.endswith(stop[:size]):
                    best = size
                    break
        return best


@dataclass
class TextEmitter:
    """Turns per-token text pieces into TextDeltas: applies stop sequences, optionally
    strips the whitespace a base model puts after "Answer:", and attaches each token's
    logprob to the delta that carries its text."""

    scanner: StopScanner
    strip_leading: bool = False
    pending: list[TokenLogprob] = field(default_factory=list)
    started: bool = False

    def feed(self, piece: str, logprob: float | None) -> TextDelta | None:
        if logprob is not None:
            self.pending.append(TokenLogprob(piece, logprob))
        return self._emit(self.scanner.feed(piece))

    def finish(self) -> TextDelta | None:
        return self._emit(self.scanner.flush())

    @property
    def stopped(self) -> bool:
        return self.scanner.stopped

    def _emit(self, text: str) -> TextDelta | None:
        if self.strip_leading and not self.started:
            text = text.lstrip()
        if not text:
            return None
        self.started = True
        logprobs, self.pending = tuple(self.pending), []
        return TextDelta(text, logprobs or None)


_ARGUMENTS = ("arguments",)  # the parser's path while it reads the wrapper's arguments


class ToolCallSplitter:
    """Streams a constrained `{"name": ..., "arguments": {...}}` generation as ToolCallDelta
    fragments: one carrying id and name once the arguments' ':' is read, then the raw JSON
    text of the arguments object as it grows (the closing brace of the wrapper is not
    part of the arguments). jsonstream does the lexing; this only cuts each piece at
    the offsets where the arguments open and close."""

    def __init__(self, call_id: str = "call_0") -> None:
        self.call_id = call_id
        self.name: str | None = None
        self._parser = IncrementalJSONParser(on_bracket=self._bracket)
        self._start: int | None = None  # absolute offsets of the arguments' text
        self._end: int | None = None

    @property
    def done(self) -> bool:
        return self._end is not None

    def feed(self, piece: str) -> list[ToolCallDelta]:
        if self.done:
            return []  # the wrapper's closing brace, or whatever follows it
        base = self._parser.offset
        self._parse(piece)
        deltas = self._head()
        text = self._arguments_in(piece, base)
        if text:
            deltas.append(ToolCallDelta(index=0, arguments=text))
        return deltas

    def _parse(self, piece: str) -> None:
        try:
            self._parser.feed(piece)
        except JSONStreamError as exc:
            if self._start is None:
                raise  # a broken head: there is no call to report
            if self._end is None:
                # Broken arguments end at the faulty character, passed on so that
                # the consumer's own parser reports the same fault.
                self._end = exc.offset + 1
            # else: the fault is after the arguments, which are all we read

    def _bracket(self, depth: int, offset: int) -> None:
        # The container opened at the arguments' path, up to the next closing back to depth 1.
        if self._start is None:
            if self._parser.path == _ARGUMENTS:
                self._start = offset
        elif self._end is None and depth == 1:
            self._end = offset + 1

    def _head(self) -> list[ToolCallDelta]:
        # Announced from the ':' on, so that a stream cut off before the '{' still names its call.
        if self.name is not None or (self._start is None and self._parser.path != _ARGUMENTS):
            return []
        self.name = str(self._parser.value["name"])
        return [ToolCallDelta(index=0, id=self.call_id, name=self.name)]

    def _arguments_in(self, piece: str, base: int) -> str:
        if self._start is None:
            return ""
        stop = len(piece) if self._end is None else self._end - base
        return piece[max(self._start - base, 0) : stop]


def tool_call_schema(tools: Sequence[Mapping[str, Any]], choice: Any) -> dict[str, Any]:
    """The JSON Schema a constrained tool call must match: the wrapper object, with the
    named tool's parameters when only one tool can be chosen."""
    names = [str(t["name"]) for t in tools]
    if isinstance(choice, Mapping) and choice.get("name"):
        names = [str(choice["name"])]
    arguments: Mapping[str, Any] = {"type": "object"}
    if len(names) == 1:
        tool = next((t for t in tools if t["name"] == names[0]), {})
        arguments = tool.get("parameters") or arguments
    return {
        "type": "object",
        "properties": {"name": {"enum": names}, "arguments": dict(arguments)},
        "required": ["name", "arguments"],
    }


def tool_note(tools: Sequence[Mapping[str, Any]]) -> str:
    """Instructions that tell a small model which tools exist and how to call one."""
    lines = ["You can call these tools. Reply with one JSON object: {\"name\": ..., \"arguments\": {...}}."]
    for tool in tools:
        params = json.dumps(tool.get("parameters") or {}, sort_keys=True)
        lines.append(f"- {tool['name']}: {tool.get('description') or ''} Parameters: {params}")
    return "\n".join(lines)
