"""Provider-neutral stream deltas and the Provider protocol.

A provider knows one wire protocol and nothing of the engine: it turns a
`ProviderRequest` into an async stream of the deltas below, and raises a
`ProviderError` (cascadectl.errors) when the call fails, including an error that
arrives after HTTP 200.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, AsyncIterator, Mapping, Protocol, Sequence, Union


# The two hot per-token types are not frozen: a frozen dataclass costs about
# 0.5 µs more to build, per token. Treat them as immutable all the same.
@dataclass(slots=True)
class TokenLogprob:
    token: str
    logprob: float


@dataclass(slots=True)
class TextDelta:
    text: str
    logprobs: tuple[TokenLogprob, ...] | None = None


@dataclass(frozen=True, slots=True)
class ToolCallDelta:
    """One fragment of a tool call. `index` is the provider's slot (normalised to
    0-based, assigned in arrival order when the provider omits it); `id` and `name`
    are set on the fragment that starts a call, `arguments` is raw JSON text."""

    index: int
    id: str | None = None
    name: str | None = None
    arguments: str = ""


@dataclass(frozen=True, slots=True)
class Usage:
    input_tokens: int
    output_tokens: int
    cached_input_tokens: int = 0
    estimated: bool = False

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens

    def to_dict(self) -> dict[str, Any]:
        return {
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "cached_input_tokens": self.cached_input_tokens,
            "estimated": self.estimated,
        }


@dataclass(frozen=True, slots=True)
class UsageDelta:
    """Usage so far. A later UsageDelta replaces an earlier one (Anthropic's
    message_delta usage is cumulative); fields the provider left out are None
    and keep the earlier value."""

    input_tokens: int | None = None
    output_tokens: int | None = None
    cached_input_tokens: int | None = None


@dataclass(frozen=True, slots=True)
class FinishDelta:
    """Why generation stopped, normalised: stop, length, tool_calls,
    content_filter, refusal, error, or the provider's own word."""

    reason: str


@dataclass(frozen=True, slots=True)
class ExtraDelta:
    """Anything else worth keeping: kind is refusal, reasoning, server_tool, ..."""

    kind: str
    text: str = ""
    data: Mapping[str, Any] | None = None


Delta = Union[TextDelta, ToolCallDelta, UsageDelta, FinishDelta, ExtraDelta]


@dataclass(frozen=True, slots=True)
class ProviderRequest:
    model: str
    messages: Sequence[Mapping[str, Any]]  # [{"role": "system|user|assistant|tool", "content": str, ...}]
    max_tokens: int | None = None
    temperature: float | None = None
    tools: Sequence[Mapping[str, Any]] | None = None  # universal format {name, description, parameters}
    tool_choice: Any = None  # None|"auto"|"required"|"none"|{"name": ...}
    logprobs: bool = False
    stop: Sequence[str] | None = None
    options: Mapping[str, Any] = field(default_factory=dict)


class Provider(Protocol):
    name: str

    def stream(self, request: ProviderRequest) -> AsyncIterator[Delta]: ...

    async def aclose(self) -> None: ...
