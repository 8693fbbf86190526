"""Validated plain data to the typed, frozen config objects of model.py."""
from __future__ import annotations

from dataclasses import fields
from typing import Any, Mapping

from cascadectl.config.model import (
    DEFAULT_THRESHOLDS,
    CascadeConfig,
    Defaults,
    PriceSpec,
    QualityConfig,
    RoutingConfig,
    RoutingRule,
    TierConfig,
    Timeouts,
    ValidatorSpec,
)

_TIMEOUT_DEFAULTS = {f.name: float(f.default) for f in fields(Timeouts)}  # type: ignore[arg-type]


def build_cascade(data: Mapping[str, Any], source: str | None, default_name: str) -> CascadeConfig:
    """`data` must already have passed the schema and semantic checks."""
    return CascadeConfig(
        tiers=tuple(build_tier(t) for t in data["tiers"]),
        name=data.get("name", default_name),
        routing=_routing(data.get("routing", {})),
        quality=_quality(data.get("quality", {})),
        tools=tuple(dict(t) for t in data.get("tools", ())),
        defaults=Defaults(**_floats(data.get("defaults", {}), "temperature")),
        gates=dict(data.get("gates", {})),
        source=source,
        budget_usd=None if data.get("budget_usd") is None else float(data["budget_usd"]),
    )


def build_tier(data: Mapping[str, Any]) -> TierConfig:
    plain = {k: v for k, v in data.items() if k not in ("price", "timeout", "options")}
    return TierConfig(
        **_floats(plain, "temperature"),
        price=PriceSpec(**_floats(data["price"], "input", "output", "cached_input")) if "price" in data else None,
        timeout=build_timeouts(data.get("timeout")),
        options=dict(data.get("options", {})),
    )


def build_timeouts(value: float | Mapping[str, float] | None) -> Timeouts:
    if value is None:
        return Timeouts()
    if isinstance(value, Mapping):
        return Timeouts(**{k: float(v) for k, v in value.items()})
    # A single number bounds the whole call, so no part may wait longer than it.
    total = float(value)
    parts = {k: min(v, total) for k, v in _TIMEOUT_DEFAULTS.items() if k != "total"}
    return Timeouts(**parts, total=total)


def _floats(data: Mapping[str, Any], *keys: str) -> dict[str, Any]:
    # YAML reads `1` as an int; the config objects promise floats.
    return {k: float(v) if k in keys and v is not None else v for k, v in data.items()}


def _routing(data: Mapping[str, Any]) -> RoutingConfig:
    return RoutingConfig(
        default=data.get("default", "cascade"),
        direct_tier=data.get("direct_tier"),
        rules=tuple(_rule(r) for r in data.get("rules", ())),
    )


def _rule(data: Mapping[str, Any]) -> RoutingRule:
    complexity = data.get("complexity", ())
    return RoutingRule(
        route=data["route"],
        complexity=(complexity,) if isinstance(complexity, str) else tuple(complexity),
        query_regex=data.get("query_regex"),
        has_tools=data.get("has_tools"),
        tier=data.get("tier"),
    )


def _quality(data: Mapping[str, Any]) -> QualityConfig:
    thresholds = {**DEFAULT_THRESHOLDS, **_floats(data.get("thresholds", {}), *DEFAULT_THRESHOLDS)}
    return QualityConfig(
        draft_mode=data.get("draft_mode", "live"),
        early_abort=data.get("early_abort", True),
        thresholds=thresholds,
        tier_thresholds={str(k): _floats(v, *DEFAULT_THRESHOLDS) for k, v in data.get("tier_thresholds", {}).items()},
        validators=tuple(_validator(v) for v in data.get("validators", ())),
    )


def _validator(data: Mapping[str, Any]) -> ValidatorSpec:
    options = {k: v for k, v in data.items() if k not in ("type", "weight")}
    return ValidatorSpec(type=data["type"], weight=float(data.get("weight", 1.0)), options=options)
