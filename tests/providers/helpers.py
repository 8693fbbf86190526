"""Shared helpers for the provider tests: building tiers, running a provider
to completion, and assembling its deltas into what a client would show."""
from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from typing import Any, Sequence

from cascadectl.config.model import TierConfig, Timeouts
from cascadectl.errors import ProviderError
from cascadectl.providers.http.anthropic import AnthropicProvider
from cascadectl.providers.base import Provider, ProviderRequest
from cascadectl.streaming.deltas import Delta, ExtraDelta, FinishDelta, TextDelta, ToolCallDelta, UsageDelta
from cascadectl.providers.http.transport import Hooks
from cascadectl.providers.http.openai import OpenAIProvider

KEY = "sk-test-SECRET-0123456789abcdef"
FAST = Timeouts(connect=5.0, read=5.0, stall=5.0, total=20.0)


def tier(url: str, provider: str = "openai", **changes: Any) -> TierConfig:
    base_url = url + "/v1" if provider == "openai" else url
    values: dict[str, Any] = dict(name="t", provider=provider, model="m", base_url=base_url,
                                  api_key_env="TEST_KEY", timeout=FAST, retries=2)
    values.update(changes)
    return TierConfig(**values)


def request(**changes: Any) -> ProviderRequest:
    values: dict[str, Any] = dict(model="m", messages=[{"role": "user", "content": "hi"}])
    values.update(changes)
    return ProviderRequest(**values)


@dataclass
class Recorder:
    """Injected sleep/random/now: records each wait instead of waiting."""

    sleeps: list[float] = field(default_factory=list)
    rand_value: float = 0.5

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)

    def hooks(self, now: Any = None) -> Hooks:
        return Hooks(sleep=self.sleep, rand=lambda: self.rand_value, now=now)


@dataclass
class Outcome:
    deltas: list[Delta]
    error: ProviderError | None


def make(config: TierConfig, recorder: Recorder | None = None) -> OpenAIProvider | AnthropicProvider:
    cls = OpenAIProvider if config.provider == "openai" else AnthropicProvider
    return cls(config, None, recorder.hooks() if recorder else None)


async def collect_async(provider: Provider, req: ProviderRequest) -> Outcome:
    deltas: list[Delta] = []
    try:
        async for delta in provider.stream(req):
            deltas.append(delta)
    except ProviderError as exc:
        return Outcome(deltas, exc)
    finally:
        await provider.aclose()
    return Outcome(deltas, None)


def run(config: TierConfig, req: ProviderRequest | None = None, recorder: Recorder | None = None) -> Outcome:
    async def go() -> Outcome:
        return await collect_async(make(config, recorder), req or request())

    return asyncio.run(go())


def tool_calls(deltas: Sequence[Delta], parse: bool = True) -> list[dict[str, Any]]:
    slots: dict[int, dict[str, Any]] = {}
    for delta in deltas:
        if isinstance(delta, ToolCallDelta):
            slot = slots.setdefault(delta.index, {"id": delta.id, "name": delta.name, "arguments": ""})
            slot["name"] = slot["name"] or delta.name
            slot["arguments"] += delta.arguments
    calls = [slots[index] for index in sorted(slots)]
    if parse:
        for call in calls:
            call["arguments"] = json.loads(call["arguments"])
    return calls


def text(deltas: Sequence[Delta]) -> str:
    return "".join(d.text for d in deltas if isinstance(d, TextDelta))


def extras(deltas: Sequence[Delta], kind: str) -> list[ExtraDelta]:
    return [d for d in deltas if isinstance(d, ExtraDelta) and d.kind == kind]


def finish_reasons(deltas: Sequence[Delta]) -> list[str]:
    return [d.reason for d in deltas if isinstance(d, FinishDelta)]


def usage(deltas: Sequence[Delta]) -> dict[str, int] | None:
    """The last value of each field, as a client keeps it."""
    found: dict[str, int] = {}
    for delta in deltas:
        if isinstance(delta, UsageDelta):
            for name in ("input_tokens", "output_tokens", "cached_input_tokens"):
                if getattr(delta, name) is not None:
                    found[name] = getattr(delta, name)
    return found or None


def text_chunk(content: str) -> dict[str, Any]:
    return {"object": "chat.completion.chunk", "choices": [{"index": 0, "delta": {"content": content}, "finish_reason": None}]}


def finish_chunk(reason: str = "stop") -> dict[str, Any]:
    return {"choices": [{"index": 0, "delta": {}, "finish_reason": reason}]}


def usage_chunk(prompt: int, completion: int) -> dict[str, Any]:
    return {"choices": [], "usage": {"prompt_tokens": prompt, "completion_tokens": completion}}


def tool_chunk(*calls: dict[str, Any]) -> dict[str, Any]:
    return {"choices": [{"index": 0, "delta": {"tool_calls": list(calls)}, "finish_reason": None}]}


HELLO = [text_chunk("Hel"), text_chunk("lo"), finish_chunk(), usage_chunk(3, 2)]
