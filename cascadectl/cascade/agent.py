"""The Python API: CascadeAgent and ModelConfig, named as in the streaming guide."""
from __future__ import annotations

import asyncio
import itertools
import os
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, AsyncIterator, Callable, Mapping, Sequence

from cascadectl.cascade.engine import Engine, Query
from cascadectl.cascade.preflight import check_budget, check_tiers, normalize_tools_dicts as _normalize
from cascadectl.cascade.result import CascadeResult
from cascadectl.config.model import (
    CascadeConfig,
    Defaults,
    PriceSpec,
    QualityConfig,
    RoutingConfig,
    TierConfig,
    Timeouts,
)
from cascadectl.errors import AllTiersFailedError, ConfigError, UsageError
from cascadectl.pricing import blended_per_1k_to_price, resolve_price
from cascadectl.providers.base import Provider
from cascadectl.quality.decision import Decider
from cascadectl.streaming.events import StreamEvent
from cascadectl.traces.writer import QueryTrace, TraceWriter

if TYPE_CHECKING:
    from cascadectl.traces.recording import ReplayDeck

HTTP_PROVIDERS = frozenset({"openai", "anthropic"})


@dataclass(frozen=True)
class ModelConfig:
    """One tier. `cost` is the guide's blended USD per 1K tokens; explicit
    `input_price`/`output_price` (USD per 1M tokens) are preferred when given."""

    name: str
    provider: str
    cost: float | None = None
    input_price: float | None = None
    output_price: float | None = None
    cached_input_price: float | None = None
    base_url: str | None = None
    api_key_env: str | None = None
    max_tokens: int | None = None
    temperature: float | None = None
    timeout: float | Timeouts | None = None
    retries: int = 2
    tier_name: str | None = None
    options: Mapping[str, Any] = field(default_factory=dict)

    def to_tier(self) -> TierConfig:
        """Through the one tier builder, with the YAML's checks: `timeout=5` caps every
        part of the call at 5 s, exactly as `timeout: 5` does in a cascade file."""
        from cascadectl.config.loader import load_tier

        data: dict[str, Any] = {"name": self.tier_name or "tier", "provider": self.provider, "model": self.name,
                                "retries": self.retries, "options": dict(self.options)}
        price = self._price()
        if price is not None:
            data["price"] = {k: v for k, v in (("input", price.input), ("output", price.output),
                                                ("cached_input", price.cached_input)) if v is not None}
        for key in ("base_url", "api_key_env", "max_tokens", "temperature"):
            if getattr(self, key) is not None:
                data[key] = getattr(self, key)
        if self.timeout is not None:
            data["timeout"] = self.timeout if not isinstance(self.timeout, Timeouts) else vars(self.timeout)
        tier = load_tier(data, f"ModelConfig(name={self.name!r})")
        # A tier named after its model keeps the model's name, whatever characters it has.
        return tier if self.tier_name else replace(tier, name=self.name)

    def _price(self) -> PriceSpec | None:
        explicit = PriceSpec(self.input_price, self.output_price, self.cached_input_price)
        if self.cost is None:
            return explicit if explicit != PriceSpec() else None
        blended = blended_per_1k_to_price(self.cost)
        return PriceSpec(
            _first(self.input_price, blended.input),
            _first(self.output_price, blended.output),
            self.cached_input_price,
        )


class StreamingManager:
    """What `agent.text_streaming_manager` / `agent.tool_streaming_manager` give: a
    handle to stream through the cascade. The text manager streams answers and refuses
    tools (they would turn its events into tool events); the tool manager streams
    ToolStreamEvents and needs tools, given here or in the cascade."""

    def __init__(self, agent: CascadeAgent, tools: bool) -> None:
        self.agent = agent
        self.tools = tools

    def stream(self, query: str, **kwargs: Any) -> AsyncIterator[StreamEvent]:
        offered = bool(kwargs.get("tools")) or bool(self.agent.config.tools)
        if self.tools and not offered:
            raise UsageError("tool_streaming_manager.stream needs tools=[...] (or tools in the cascade)")
        if not self.tools and kwargs.get("tools"):
            raise UsageError("text_streaming_manager streams text only: use agent.tool_streaming_manager for tools")
        return self.agent.stream_events(query, **kwargs)


class CascadeAgent:
    def __init__(
        self,
        models: Sequence[ModelConfig] | None = None,
        *,
        config: CascadeConfig | None = None,
        quality: QualityConfig | None = None,
        routing: RoutingConfig | None = None,
        tools: Sequence[Any] | None = None,
        defaults: Defaults | None = None,
        trace: str | os.PathLike[str] | TraceWriter | None = None,
        replay: ReplayDeck | None = None,
        verbose: bool = False,
    ) -> None:
        """`replay`: re-run recorded calls instead of calling models. Every tier then
        streams from the deck's recordings (the `replay` provider) and the engine reads
        the deck's clock, so the events are what the recorded run's calls give under
        this config. No model is called and no API key is needed. `verbose`: log what
        the library does (retries, fail-overs) to stderr at INFO; quiet by default."""
        _set_verbosity(verbose)
        self.config = _build_config(models, config, quality, routing, tools, defaults)
        self._tools = _normalize(self.config.tools)
        check_tiers(self.config)
        self.prices = [resolve_price(t.model, t.price) for t in self.config.tiers]
        if self.config.budget_usd is not None:
            check_budget(self.config, self.prices, self.config.budget_usd, "budget_usd")
        self.decider = Decider(self.config.quality)
        self._trace = _trace_writer(trace)
        self._owns_trace = trace is not None and not isinstance(trace, TraceWriter)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._providers: dict[int, Provider] = {}
        self._client: Any = None
        self._ids = itertools.count(1)
        self._replay = replay
        self._clock: Callable[[], float] = replay.now if replay is not None else time.perf_counter
        if replay is None:
            self._check_keys()

    @classmethod
    def from_yaml(cls, path: str | os.PathLike[str], **kwargs: Any) -> CascadeAgent:
        from cascadectl.config import load_cascade

        return cls(config=load_cascade(Path(path)), **kwargs)

    @property
    def models(self) -> list[str]:
        return [t.model for t in self.config.tiers]

    @property
    def text_streaming_manager(self) -> StreamingManager | None:
        return StreamingManager(self, tools=False) if len(self.config.tiers) >= 2 else None

    @property
    def tool_streaming_manager(self) -> StreamingManager | None:
        return StreamingManager(self, tools=True) if len(self.config.tiers) >= 2 else None

    def stream_events(
        self,
        query: str | None = None,
        max_tokens: int | None = None,
        temperature: float | None = None,
        complexity_hint: str | None = None,
        force_direct: bool = False,
        tools: Sequence[Any] | None = None,
        tool_choice: Any = None,
        messages: Sequence[Mapping[str, Any]] | None = None,
        *,
        tool_executor: Any = None,
        max_steps: int = 8,
        budget_usd: float | None = None,
        system: str | None = None,
        draft_mode: str | None = None,
        trace: TraceWriter | QueryTrace | None = None,
        query_id: str | None = None,
        trace_extra: Mapping[str, Any] | None = None,
        trace_query_data: Mapping[str, Any] | None = None,
    ) -> AsyncIterator[StreamEvent]:
        """Stream one query's events. Tracing: `trace` is a writer (a new query
        trace is started, its lines tagged with `trace_extra`) or a QueryTrace the
        caller made with `writer.query(...)` so it can append its own lines after;
        `trace_query_data` is merged into the first line's data (e.g. an eval item).

        `tool_executor` (a ToolExecutor, or anything with `async execute(call)`) runs the
        tool loop (cascade/loop.py): the answer's tool calls are run and their results
        sent back, each step a fresh cascade decision, for at most `max_steps` model
        calls; its tools are offered when `tools` is not given. `budget_usd` caps what
        the query (every step) may spend, overriding the cascade's `budget_usd`."""
        budget = self.config.budget_usd if budget_usd is None else budget_usd
        if budget_usd is not None:
            check_budget(self.config, self.prices, budget_usd, "budget_usd=")
        if tool_executor is not None and not tools:
            tools = _executor_tools(tool_executor)
        q = self._query(query, messages, system, max_tokens, temperature, complexity_hint, force_direct, tools, tool_choice, draft_mode)
        writer = trace or self._trace
        qtrace = None
        if writer is not None:
            qtrace = writer if isinstance(writer, QueryTrace) else writer.query(query_id or f"q{next(self._ids)}", trace_extra)
            qtrace.start({**_query_params(q), **(trace_query_data or {})})
        if tool_executor is not None:
            from cascadectl.cascade.loop import LoopPlan, tool_loop

            if isinstance(max_steps, bool) or not isinstance(max_steps, int) or max_steps < 1:
                raise UsageError(f"max_steps must be a whole number >= 1, got {max_steps!r}")
            on_step = self._replay.at_step if self._replay is not None else None
            plan = LoopPlan(tool_executor, max_steps, budget, on_step)
            return tool_loop(self._engine, q, plan, qtrace, self._clock)
        # The engine's own generator, not a wrapper around it: one layer less per chunk.
        return self._engine(budget).stream(q, qtrace)

    def _engine(self, budget: float | None) -> Engine:
        return Engine(self.config, self._provider, self.prices, self.decider, self._clock, budget)

    async def run(self, query: str | None = None, **kwargs: Any) -> CascadeResult:
        """Run a query to the end and return what COMPLETE carries; raise if every tier failed."""
        async for event in self.stream_events(query, **kwargs):
            if event.type.value == "complete":
                return CascadeResult.from_dict(event.data["result"])
            if event.type.value == "error":
                raise AllTiersFailedError(str(event.data["error"]), list(event.data.get("errors", [])))
        raise AllTiersFailedError("the cascade ended without a result", [])

    async def aclose(self) -> None:
        for provider in self._providers.values():
            await provider.aclose()
        self._providers.clear()
        if self._client is not None:
            await self._client.aclose()
            self._client = None
        if self._trace is not None and self._owns_trace:
            self._trace.close()

    async def __aenter__(self) -> CascadeAgent:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    def _provider(self, index: int) -> Provider:
        loop = asyncio.get_running_loop()
        if loop is not self._loop:
            # httpx connections belong to one event loop: start afresh in a new one.
            self._loop, self._providers, self._client = loop, {}, None
        provider = self._providers.get(index)
        if provider is None:
            provider = self._providers[index] = self._create(self.config.tiers[index])
        return provider

    def _create(self, tier: TierConfig) -> Provider:
        from cascadectl.providers import create_provider

        if self._replay is not None:
            from cascadectl.providers.replay import ReplayProvider

            return ReplayProvider(tier, self._replay)
        if tier.provider in HTTP_PROVIDERS and self._client is None:
            from cascadectl.providers.http.pool import pooled_client

            self._client = pooled_client(max_connections=256, max_keepalive=64)
        return create_provider(tier, self._client if tier.provider in HTTP_PROVIDERS else None)

    def _check_keys(self) -> None:
        """Missing API keys fail here, before any request, naming the variable."""
        from cascadectl.providers.http.credentials import check_credentials

        for tier in self.config.tiers:
            check_credentials(tier)

    def _query(
        self,
        query: str | None,
        messages: Sequence[Mapping[str, Any]] | None,
        system: str | None,
        max_tokens: int | None,
        temperature: float | None,
        complexity_hint: str | None,
        force_direct: bool,
        tools: Sequence[Any] | None,
        tool_choice: Any,
        draft_mode: str | None,
    ) -> Query:
        msgs = _messages(query, messages, system or self.config.defaults.system)
        text = next((str(m.get("content") or "") for m in reversed(msgs) if m.get("role") == "user"), "")
        specs = _merge_tools(self._tools, _normalize(tools or ()))
        choice = _tool_choice(tool_choice, specs)
        if draft_mode not in (None, "live", "buffered"):
            raise UsageError(f"draft_mode must be 'live' or 'buffered', got {draft_mode!r}")
        return Query(text, msgs, max_tokens, temperature, complexity_hint, force_direct, specs, choice, draft_mode)


def _build_config(
    models: Sequence[ModelConfig] | None,
    config: CascadeConfig | None,
    quality: QualityConfig | None,
    routing: RoutingConfig | None,
    tools: Sequence[Any] | None,
    defaults: Defaults | None,
) -> CascadeConfig:
    if (models is None) == (config is None):
        raise UsageError("CascadeAgent needs exactly one of models=[ModelConfig, ...] or config=")
    if config is None:
        if not models:
            raise UsageError("CascadeAgent(models=...) needs at least one ModelConfig")
        config = CascadeConfig(tiers=tuple(m.to_tier() for m in models))
    _check_unique(config)
    changes: dict[str, Any] = {}
    for key, value in (("quality", quality), ("routing", routing), ("defaults", defaults)):
        if value is not None:
            changes[key] = value
    if tools is not None:
        changes["tools"] = tuple(tools)
    return replace(config, **changes) if changes else config


def _check_unique(config: CascadeConfig) -> None:
    names = [t.name for t in config.tiers]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ConfigError(f"tier names must be unique; repeated: {', '.join(dupes)} (set tier_name= to tell them apart)")


def _messages(query: str | None, messages: Sequence[Mapping[str, Any]] | None, system: str | None) -> list[dict[str, Any]]:
    msgs = [dict(m) for m in messages or ()]
    if query is not None:
        msgs.append({"role": "user", "content": query})
    if not msgs:
        raise UsageError("give a query or messages")
    if system and not any(m.get("role") == "system" for m in msgs):
        msgs.insert(0, {"role": "system", "content": system})
    return msgs


def _merge_tools(base: Sequence[dict[str, Any]], extra: Sequence[dict[str, Any]]) -> tuple[dict[str, Any], ...]:
    merged = {t["name"]: t for t in base}
    merged.update((t["name"], t) for t in extra)
    return tuple(merged.values())


def _tool_choice(choice: Any, tools: Sequence[dict[str, Any]]) -> Any:
    if choice is None:
        return None
    from cascadectl.tools import normalize_tool_choice

    return normalize_tool_choice(choice, tools)


def _query_params(q: Query) -> dict[str, Any]:
    return {
        "query": q.text,
        "messages": list(q.messages),
        "max_tokens": q.max_tokens,
        "temperature": q.temperature,
        "complexity_hint": q.complexity_hint,
        "force_direct": q.force_direct,
        "tools": [t["name"] for t in q.tools],
        "tool_choice": None if q.tool_choice is None else str(q.tool_choice),
        "draft_mode": q.draft_mode,
    }


def _executor_tools(executor: Any) -> list[dict[str, Any]]:
    """The tools a ToolExecutor runs, as the schemas offered to the model."""
    tools = getattr(executor, "tools", None)
    if not tools:
        raise UsageError("tool_executor= needs tools=[...] too (or a ToolExecutor, which knows its tools)")
    return [t.to_dict() if hasattr(t, "to_dict") else dict(t) for t in tools]


def _trace_writer(trace: str | os.PathLike[str] | TraceWriter | None) -> TraceWriter | None:
    if trace is None or isinstance(trace, TraceWriter):
        return trace
    return TraceWriter(trace)


def _set_verbosity(verbose: bool) -> None:
    import logging

    logger = logging.getLogger("cascadectl")
    if verbose:
        if not any(getattr(h, "_cascadectl_verbose", False) for h in logger.handlers):
            handler = logging.StreamHandler()
            handler._cascadectl_verbose = True  # type: ignore[attr-defined]
            handler.setFormatter(logging.Formatter("cascadectl: %(levelname)s %(name)s: %(message)s"))
            logger.addHandler(handler)
        logger.setLevel(logging.INFO)
    elif logger.level in (logging.NOTSET, logging.INFO):
        logger.setLevel(logging.WARNING)


def _first(*values: Any) -> Any:
    return next((v for v in values if v is not None), None)
