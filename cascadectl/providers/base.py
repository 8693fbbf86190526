"""The Provider protocol and the request a provider takes (its deltas: streaming/deltas.py).

A provider knows one wire protocol and nothing of the engine: it turns a
`ProviderRequest` into an async stream of the deltas below, and raises a
`ProviderError` (cascadectl.errors) when the call fails, including an error that
arrives after HTTP 200.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, AsyncIterator, Mapping, Protocol, Sequence

from cascadectl.streaming.deltas import Delta


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


@dataclass(frozen=True, slots=True)
class Scored:
    """A provider's reading of a given text after a conversation: the log-probability
    of each of the text's tokens, and the tokens it read (prompt and text)."""

    logprobs: tuple[float, ...]
    input_tokens: int


class Scorer(Protocol):
    """A provider that can score a text it did not write (one prefill, no sampling)."""

    async def score(self, request: ProviderRequest, text: str) -> Scored: ...


class Provider(Protocol):
    name: str

    def stream(self, request: ProviderRequest) -> AsyncIterator[Delta]: ...

    async def aclose(self) -> None: ...
