"""Routing: start a query at tier 0 (cascade) or send it straight to a later tier (direct)."""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from cascadectl.config.model import CascadeConfig, RoutingRule
from cascadectl.errors import ConfigError
from cascadectl.quality.complexity import check_complexity, estimate_complexity


@dataclass(frozen=True)
class Route:
    strategy: str  # cascade | direct
    start: int  # index of the first tier called
    complexity: str
    complexity_source: str  # estimate | hint
    reason: str

    def to_data(self, config: CascadeConfig) -> dict[str, Any]:
        return {
            "strategy": self.strategy,
            "complexity": self.complexity,
            "complexity_source": self.complexity_source,
            "reason": self.reason,
            "tier": config.tiers[self.start].name,
            "tiers": [t.name for t in config.tiers[self.start :]],
        }


def route(
    config: CascadeConfig,
    query: str,
    *,
    complexity_hint: str | None = None,
    force_direct: bool = False,
    has_tools: bool = False,
) -> Route:
    if complexity_hint is not None:
        complexity, source, why = check_complexity(complexity_hint), "hint", "caller's hint"
    else:
        complexity, why = estimate_complexity(query)
        source = "estimate"
    if len(config.tiers) == 1:
        return Route("direct", 0, complexity, source, "single tier")
    if force_direct:
        return _direct(config, None, complexity, source, "force_direct")
    for index, rule in enumerate(config.routing.rules):
        if _matches(rule, complexity, query, has_tools):
            why_rule = f"routing.rules[{index}] ({_describe(rule)})"
            if rule.route == "direct":
                return _direct(config, rule.tier, complexity, source, why_rule)
            return Route("cascade", 0, complexity, source, why_rule)
    if config.routing.default == "direct":
        return _direct(config, None, complexity, source, "routing.default is direct")
    return Route("cascade", 0, complexity, source, f"{complexity} ({why}): draft first")


def _direct(config: CascadeConfig, tier: str | None, complexity: str, source: str, why: str) -> Route:
    name = tier or config.routing.direct_tier
    start = len(config.tiers) - 1 if name is None else _tier_index(config, name)
    return Route("direct", start, complexity, source, why)


def _tier_index(config: CascadeConfig, name: str) -> int:
    for index, tier in enumerate(config.tiers):
        if tier.name == name:
            return index
    raise ConfigError(f"routing names tier {name!r}, which is not among {[t.name for t in config.tiers]}")


def _matches(rule: RoutingRule, complexity: str, query: str, has_tools: bool) -> bool:
    if rule.complexity and complexity not in rule.complexity:
        return False
    if rule.has_tools is not None and rule.has_tools != has_tools:
        return False
    return rule.query_regex is None or bool(_regex(rule.query_regex).search(query))


@lru_cache(maxsize=64)
def _regex(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


def _describe(rule: RoutingRule) -> str:
    parts = []
    if rule.complexity:
        parts.append("complexity in " + "/".join(rule.complexity))
    if rule.query_regex:
        parts.append(f"query matches {rule.query_regex!r}")
    if rule.has_tools is not None:
        parts.append(f"has_tools={rule.has_tools}")
    return ", ".join(parts) + f" -> {rule.route}"
