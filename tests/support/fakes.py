"""Shared helpers for engine tests: agents over the scriptable fake provider."""
from __future__ import annotations

import asyncio
from typing import Any, Iterable

from cascadectl import CascadeAgent, ModelConfig
from cascadectl.config.model import QualityConfig
from cascadectl.providers.fake import fake_script
from cascadectl.streaming.events import StreamEvent

VOLATILE = {"latency_ms", "ttft_ms", "t_ms"}


def fake_agent(*names: str, quality: QualityConfig | None = None, **kwargs: Any) -> CascadeAgent:
    """An agent whose tiers are fake models with list prices 1/2, 10/20, 100/200 per 1M."""
    names = names or ("small", "big")
    models = [
        ModelConfig(name=name, provider="fake", input_price=10.0**i, output_price=2 * 10.0**i)
        for i, name in enumerate(names)
    ]
    return CascadeAgent(models=models, quality=quality, **kwargs)


def script(model: str, *responses: Any) -> None:
    fake_script(model).enqueue(*responses)


def collect(agent: CascadeAgent, query: str | None = "What is the capital of France?", **kwargs: Any) -> list[StreamEvent]:
    async def go() -> list[StreamEvent]:
        return [event async for event in agent.stream_events(query, **kwargs)]

    return asyncio.run(go())


def kinds(events: Iterable[StreamEvent]) -> list[str]:
    return [f"{e.type.name}:{e.phase}" if e.phase else e.type.name for e in events]


def normalised(events: Iterable[StreamEvent]) -> list[dict[str, Any]]:
    """Events as dicts with times removed and floats rounded: stable for snapshots."""
    return [_scrub(event.to_dict()) for event in events]


def _scrub(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: ("<t>" if k in VOLATILE and v is not None else _scrub(v)) for k, v in sorted(value.items())}
    if isinstance(value, list):
        return [_scrub(v) for v in value]
    if isinstance(value, float):
        return round(value, 6)
    return value
