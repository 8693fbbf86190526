"""ToolCall: a model's request to run one tool, read from any provider's shape."""
from __future__ import annotations

import copy
import uuid
from dataclasses import dataclass
from enum import Enum
from typing import Any, Callable, Mapping

from cascadectl.tools.jsonstream import IncompleteJSONError, JSONStreamError, parse_complete


class ToolCallFormat(str, Enum):
    OPENAI = "openai"  # OpenAI and every OpenAI-compatible server (Groq, Together, llama.cpp, ...)
    ANTHROPIC = "anthropic"
    OLLAMA = "ollama"
    VLLM = "vllm"
    HUGGINGFACE = "huggingface"
    UNIVERSAL = "universal"  # our own {id, name, arguments: dict}


# Provider names people pass instead of a format.
_ALIASES = {
    "groq": ToolCallFormat.OPENAI,
    "together": ToolCallFormat.OPENAI,
    "openrouter": ToolCallFormat.OPENAI,
    "deepseek": ToolCallFormat.OPENAI,
    "llamacpp": ToolCallFormat.OPENAI,
    "fake": ToolCallFormat.UNIVERSAL,
    "replay": ToolCallFormat.UNIVERSAL,
}


class ToolCallError(ValueError):
    """A provider's tool call that cannot be read: missing field, bad or cut-off JSON."""


def new_call_id() -> str:
    return f"call_{uuid.uuid4().hex[:24]}"


def resolve_format(provider: ToolCallFormat | str) -> ToolCallFormat:
    if isinstance(provider, ToolCallFormat):
        return provider
    key = str(provider).lower()
    if key in _ALIASES:
        return _ALIASES[key]
    try:
        return ToolCallFormat(key)
    except ValueError:
        known = ", ".join(sorted([f.value for f in ToolCallFormat] + list(_ALIASES)))
        raise ToolCallError(f"unknown tool-call format {provider!r} (known: {known})") from None


@dataclass(frozen=True)
class ToolCall:
    id: str
    name: str
    arguments: dict[str, Any]
    provider_format: ToolCallFormat = ToolCallFormat.UNIVERSAL

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "arguments": copy.deepcopy(self.arguments)}

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> ToolCall:
        where = _where(raw)
        name = _require_str(raw, "name", where)
        arguments = _arguments(raw.get("arguments", {}), f"{name!r} {where}")
        return cls(_call_id(raw, where), name, arguments, ToolCallFormat.UNIVERSAL)

    @classmethod
    def from_openai(cls, raw: Mapping[str, Any]) -> ToolCall:
        return _openai_like(raw, ToolCallFormat.OPENAI)

    @classmethod
    def from_anthropic(cls, raw: Mapping[str, Any]) -> ToolCall:
        where = _where(raw)
        if raw.get("type", "tool_use") != "tool_use":
            raise ToolCallError(f"tool call {where}: expected a 'tool_use' block, got type {raw.get('type')!r}")
        name = _require_str(raw, "name", where)
        arguments = _arguments(raw.get("input", {}), f"{name!r} {where}")
        return cls(_require_str(raw, "id", where), name, arguments, ToolCallFormat.ANTHROPIC)

    @classmethod
    def from_ollama(cls, raw: Mapping[str, Any]) -> ToolCall:
        # Ollama sends arguments as an object and often no id.
        return _openai_like(raw, ToolCallFormat.OLLAMA)

    @classmethod
    def from_vllm(cls, raw: Mapping[str, Any]) -> ToolCall:
        return _openai_like(raw, ToolCallFormat.VLLM)

    @classmethod
    def from_huggingface(cls, raw: Mapping[str, Any]) -> ToolCall:
        return _openai_like(raw, ToolCallFormat.HUGGINGFACE)

    @classmethod
    def from_provider(cls, provider: ToolCallFormat | str, raw: Mapping[str, Any]) -> ToolCall:
        if not isinstance(raw, Mapping):
            raise ToolCallError(f"tool call: expected a mapping, got {type(raw).__name__}")
        return _PARSERS[resolve_format(provider)](raw)


_PARSERS: dict[ToolCallFormat, Callable[[Mapping[str, Any]], ToolCall]] = {
    ToolCallFormat.OPENAI: ToolCall.from_openai,
    ToolCallFormat.ANTHROPIC: ToolCall.from_anthropic,
    ToolCallFormat.OLLAMA: ToolCall.from_ollama,
    ToolCallFormat.VLLM: ToolCall.from_vllm,
    ToolCallFormat.HUGGINGFACE: ToolCall.from_huggingface,
    ToolCallFormat.UNIVERSAL: ToolCall.from_dict,
}


def _openai_like(raw: Mapping[str, Any], fmt: ToolCallFormat) -> ToolCall:
    where = _where(raw)
    function = raw.get("function")
    if not isinstance(function, Mapping):
        raise ToolCallError(f"tool call {where}: missing 'function' object with name and arguments")
    name = _require_str(function, "name", where)
    arguments = _arguments(function.get("arguments", ""), f"{name!r} {where}")
    return ToolCall(_call_id(raw, where), name, arguments, fmt)


def _arguments(raw: Any, where: str) -> dict[str, Any]:
    if isinstance(raw, str):
        raw = _parse_arguments(raw, where)
    if not isinstance(raw, Mapping):
        raise ToolCallError(f"tool call {where}: arguments must be a JSON object, got {type(raw).__name__}")
    return copy.deepcopy(dict(raw))


def _parse_arguments(text: str, where: str) -> Any:
    if not text.strip():
        # Some OpenAI-compatible servers send "" for a call without arguments.
        return {}
    try:
        return parse_complete(text)
    except IncompleteJSONError as exc:
        raise ToolCallError(f"tool call {where}: arguments are incomplete JSON (cut off?): {exc}") from exc
    except JSONStreamError as exc:
        raise ToolCallError(f"tool call {where}: arguments are not valid JSON: {exc}") from exc


def _require_str(raw: Mapping[str, Any], key: str, where: str) -> str:
    value = raw.get(key)
    if not isinstance(value, str) or not value:
        raise ToolCallError(f"tool call {where}: missing or empty {key!r}")
    return value


def _call_id(raw: Mapping[str, Any], where: str) -> str:
    value = raw.get("id")
    if value is None or value == "":
        return new_call_id()
    if not isinstance(value, str):
        raise ToolCallError(f"tool call {where}: 'id' must be a string, got {type(value).__name__}")
    return value


def _where(raw: Mapping[str, Any]) -> str:
    value = raw.get("id")
    return f"(id {value})" if isinstance(value, str) and value else "(no id)"
