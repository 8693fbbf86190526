"""OpenAI Chat Completions requests -> `stream_events` arguments.

Messages keep OpenAI's shape (the library's providers take it: roles system, user,
assistant with `tool_calls`, tool with `tool_call_id`); text content parts are joined
into one string; tools and tool_choice go to the library as given, which normalises
them. Fields the cascade cannot honour are refused (`n` > 1, non-text content) or
ignored as documented in docs/serve.md.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any, Mapping

from cascadectl.serve.errors import APIError, bad_request

ROLES = frozenset({"system", "developer", "user", "assistant", "tool"})
COMPLEXITIES = ("trivial", "simple", "moderate", "hard", "expert")


@dataclass(frozen=True)
class ChatRequest:
    model: str
    messages: tuple[dict[str, Any], ...]
    max_tokens: int | None = None
    temperature: float | None = None
    tools: tuple[Any, ...] | None = None
    tool_choice: Any = None
    stream: bool = False
    include_usage: bool = False
    complexity_hint: str | None = None
    force_direct: bool = False

    def stream_kwargs(self, draft_mode: str) -> dict[str, Any]:
        """Keyword arguments for `agent.stream_events`."""
        return {
            "messages": list(self.messages),
            "max_tokens": self.max_tokens,
            "temperature": self.temperature,
            "complexity_hint": self.complexity_hint,
            "force_direct": self.force_direct,
            "tools": list(self.tools) if self.tools else None,
            "tool_choice": self.tool_choice,
            "draft_mode": draft_mode,
        }


def parse_body(raw: bytes) -> Any:
    try:
        return json.loads(raw)
    except UnicodeDecodeError:
        raise bad_request("the request body is not UTF-8 JSON") from None
    except json.JSONDecodeError as exc:
        raise bad_request(f"the request body is not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})") from None


def parse_chat(body: Any) -> ChatRequest:
    if not isinstance(body, Mapping):
        raise bad_request("the request body must be a JSON object")
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise bad_request("'model' is required: the name of a cascade this server serves (GET /v1/models)", "model")
    _refuse_n(body.get("n"))
    cascade = _mapping(body.get("cascade"), "cascade")
    stream = _flag(body.get("stream"), "stream")
    options = _mapping(body.get("stream_options"), "stream_options")
    return ChatRequest(
        model=model,
        messages=_messages(body.get("messages")),
        max_tokens=_max_tokens(body),
        temperature=_temperature(body.get("temperature")),
        tools=_tools(body.get("tools")),
        tool_choice=body.get("tool_choice"),
        stream=stream,
        include_usage=stream and _flag(options.get("include_usage"), "stream_options.include_usage"),
        complexity_hint=_complexity(cascade.get("complexity_hint")),
        force_direct=_flag(cascade.get("force_direct"), "cascade.force_direct"),
    )


def _messages(raw: Any) -> tuple[dict[str, Any], ...]:
    if not isinstance(raw, list) or not raw:
        raise bad_request("'messages' is required: a non-empty array of {role, content} objects", "messages")
    return tuple(_message(item, f"messages[{index}]") for index, item in enumerate(raw))


def _message(raw: Any, where: str) -> dict[str, Any]:
    if not isinstance(raw, Mapping):
        raise bad_request(f"{where} must be an object with 'role' and 'content'", where)
    role = raw.get("role")
    if role not in ROLES:
        raise bad_request(f"{where}.role must be one of {', '.join(sorted(ROLES))}, got {role!r}", f"{where}.role")
    out: dict[str, Any] = {"role": "system" if role == "developer" else role}
    calls = raw.get("tool_calls") if role == "assistant" else None
    out["content"] = _content(raw.get("content"), f"{where}.content", optional=bool(calls))
    if calls:
        out["tool_calls"] = _calls(calls, f"{where}.tool_calls")
    if role == "tool":
        call_id = raw.get("tool_call_id")
        if not isinstance(call_id, str) or not call_id:
            raise bad_request(f"{where}.tool_call_id is required for a tool message", f"{where}.tool_call_id")
        out["tool_call_id"] = call_id
    if isinstance(raw.get("name"), str):
        out["name"] = raw["name"]
    return out


def _content(raw: Any, where: str, optional: bool) -> str:
    if isinstance(raw, str):
        return raw
    if raw is None and optional:
        return ""
    if isinstance(raw, list):
        return "\n".join(_text_part(part, f"{where}[{index}]") for index, part in enumerate(raw))
    raise bad_request(f"{where} must be a string or an array of text parts", where)


def _text_part(part: Any, where: str) -> str:
    if isinstance(part, Mapping) and part.get("type") == "text" and isinstance(part.get("text"), str):
        return str(part["text"])
    kind = part.get("type") if isinstance(part, Mapping) else type(part).__name__
    raise bad_request(f"{where}: only text content parts are supported, got {kind!r}", where)


def _calls(raw: Any, where: str) -> list[dict[str, Any]]:
    if not isinstance(raw, list):
        raise bad_request(f"{where} must be an array", where)
    return [_call(call, f"{where}[{index}]") for index, call in enumerate(raw)]


def _call(raw: Any, where: str) -> dict[str, Any]:
    function = raw.get("function") if isinstance(raw, Mapping) else None
    if not isinstance(function, Mapping) or not isinstance(function.get("name"), str):
        raise bad_request(f"{where} must be {{id, type: function, function: {{name, arguments}}}}", where)
    arguments = function.get("arguments", "{}")
    text = arguments if isinstance(arguments, str) else json.dumps(arguments)
    return {"id": str(raw.get("id") or ""), "type": "function", "function": {"name": function["name"], "arguments": text}}


def _max_tokens(body: Mapping[str, Any]) -> int | None:
    for key in ("max_completion_tokens", "max_tokens"):  # the newer name wins
        value = body.get(key)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise bad_request(f"'{key}' must be a positive integer, got {value!r}", key)
        return value
    return None


def _temperature(value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or not 0 <= value <= 2:
        raise bad_request(f"'temperature' must be a number from 0 to 2, got {value!r}", "temperature")
    return float(value)


def _tools(value: Any) -> tuple[Any, ...] | None:
    if value is None:
        return None
    if not isinstance(value, list):
        raise bad_request("'tools' must be an array of function tools", "tools")
    return tuple(value)


def _refuse_n(value: Any) -> None:
    if value is not None and value != 1:
        raise bad_request(f"'n' must be 1: a cascade gives one answer per request, got {value!r}", "n")


def _complexity(value: Any) -> str | None:
    if value is None or value in COMPLEXITIES:
        return value
    raise bad_request(f"'cascade.complexity_hint' must be one of {', '.join(COMPLEXITIES)}, got {value!r}",
                      "cascade.complexity_hint")


def _flag(value: Any, name: str) -> bool:
    if value is None or isinstance(value, bool):
        return bool(value)
    raise bad_request(f"'{name}' must be true or false, got {value!r}", name)


def _mapping(value: Any, name: str) -> Mapping[str, Any]:
    if value is None:
        return {}
    if isinstance(value, Mapping):
        return value
    raise bad_request(f"'{name}' must be an object", name)


def library_error(exc: Exception) -> APIError:
    """A request the library refused (tools, tool_choice): the library's message, as a 400."""
    message = str(exc)
    param = "tool_choice" if message.startswith("tool_choice") else "tools" if message.startswith("tools") else None
    return bad_request(message, param)
