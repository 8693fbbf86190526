"""The provider-neutral stream vocabulary: the deltas a provider yields and the usage
it reports. Plain data, importable by the engine, quality, pricing and traces without
importing any provider."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Union


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
    estimated: bool = False  # the provider's figures are themselves estimates (e.g. a replay of estimated ones)


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
