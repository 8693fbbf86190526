"""Shared helpers for engine tests: agents over the scriptable fake provider."""
from __future__ import annotations

import asyncio
from typing import Any, Iterable

from cascadectl import CascadeAgent, ModelConfig
from cascadectl.config.model import QualityConfig
from cascadectl.providers.base import ProviderRequest
from cascadectl.providers.fake import FakeScript, Response
from cascadectl.streaming.events import StreamEvent

VOLATILE = {"latency_ms", "ttft_ms", "t_ms"}


class Fakes:
    """One test's scripts for fake models, one per model name: the agents made here
    give each tier its script through `options["script"]`, so nothing is shared
    with other tests."""

    def __init__(self) -> None:
        self.scripts: dict[str, FakeScript] = {}

    def script(self, model: str, *responses: Response | str) -> FakeScript:
        return self.scripts.setdefault(model, FakeScript()).enqueue(*responses)

    def requests(self, model: str) -> list[ProviderRequest]:
        return self.script(model).requests

    def agent(self, *names: str, quality: QualityConfig | None = None, **kwargs: Any) -> CascadeAgent:
        """Tiers that are fake models with list prices 1/2, 10/20, 100/200 per 1M."""
        names = names or ("small", "big")
        models = [
            ModelConfig(name=name, provider="fake", input_price=10.0**i, output_price=2 * 10.0**i,
                        options={"script": self.script(name)})
            for i, name in enumerate(names)
        ]
        return CascadeAgent(models=models, quality=quality, **kwargs)


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
