"""Typed, frozen configuration objects that a cascade YAML file loads into."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

COMPLEXITIES = ("trivial", "simple", "moderate", "hard", "expert")
DRAFT_MODES = ("live", "buffered")
ROUTES = ("cascade", "direct")


@dataclass(frozen=True)
class Timeouts:
    """Seconds. connect: TCP/TLS; read: until response headers arrive;
    stall: longest gap between two chunks of a streaming body; total: whole call."""

    connect: float = 10.0
    read: float = 60.0
    stall: float = 30.0
    total: float = 600.0


@dataclass(frozen=True)
class PriceSpec:
    """USD per 1M tokens. None means not set here (fall back to the built-in table)."""

    input: float | None = None
    output: float | None = None
    cached_input: float | None = None


@dataclass(frozen=True)
class TierConfig:
    name: str
    provider: str  # openai | anthropic | llamacpp | fake
    model: str
    base_url: str | None = None
    api_key_env: str | None = None
    price: PriceSpec | None = None
    max_tokens: int | None = None
    temperature: float | None = None
    timeout: Timeouts = field(default_factory=Timeouts)
    retries: int = 2
    logprobs: bool = True  # ask for token logprobs where the provider offers them
    options: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class RoutingRule:
    """A rule matches when every condition it sets holds; the first match wins."""

    route: str  # cascade | direct
    complexity: tuple[str, ...] = ()
    query_regex: str | None = None
    has_tools: bool | None = None
    tier: str | None = None  # for direct: which tier (default: the last)


@dataclass(frozen=True)
class RoutingConfig:
    default: str = "cascade"
    direct_tier: str | None = None  # default: the last tier
    rules: tuple[RoutingRule, ...] = ()


@dataclass(frozen=True)
class ValidatorSpec:
    """type is one of: non_empty, refusal, format, tool_calls (hard);
    confidence, hedging, length, alignment, judge (soft, weighted)."""

    type: str
    weight: float = 1.0
    options: Mapping[str, Any] = field(default_factory=dict)


DEFAULT_THRESHOLDS: Mapping[str, float] = {
    "trivial": 0.55,
    "simple": 0.6,
    "moderate": 0.65,
    "hard": 0.7,
    "expert": 0.75,
}


@dataclass(frozen=True)
class QualityConfig:
    draft_mode: str = "live"
    early_abort: bool = True
    thresholds: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_THRESHOLDS))
    validators: tuple[ValidatorSpec, ...] = ()  # empty: the default set
    # Per drafting tier: its own thresholds by complexity (levels left out: `thresholds`).
    tier_thresholds: Mapping[str, Mapping[str, float]] = field(default_factory=dict)


@dataclass(frozen=True)
class Defaults:
    max_tokens: int | None = None
    temperature: float | None = None
    system: str | None = None


@dataclass(frozen=True)
class CascadeConfig:
    tiers: tuple[TierConfig, ...]
    name: str = "cascade"
    routing: RoutingConfig = field(default_factory=RoutingConfig)
    quality: QualityConfig = field(default_factory=QualityConfig)
    tools: tuple[Mapping[str, Any], ...] = ()  # universal format {name, description, parameters}
    defaults: Defaults = field(default_factory=Defaults)
    gates: Mapping[str, Any] = field(default_factory=dict)
    source: str | None = None  # the file it was loaded from
    budget_usd: float | None = None  # what one query (every tool-loop step) may spend; escalations past it are not made

    def tier(self, name: str) -> TierConfig:
        for tier in self.tiers:
            if tier.name == name:
                return tier
        raise KeyError(name)
