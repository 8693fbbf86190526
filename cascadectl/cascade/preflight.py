"""What building an agent checks, short of credentials, kept light (no httpx,
no asyncio) so that `cascadectl validate` can run it: a file validate passes is
one an agent accepts."""
from __future__ import annotations

from typing import Any, Sequence

from cascadectl.config.model import CascadeConfig
from cascadectl.errors import ConfigError
from cascadectl.quality.decision import Decider


def preflight(config: CascadeConfig) -> None:
    """Tools, validators, and each tier's provider and options; raises ConfigError."""
    normalize_tools_dicts(config.tools)
    Decider(config.quality)
    check_tiers(config)
    if config.budget_usd is not None:
        from cascadectl.pricing import resolve_price

        check_budget(config, [resolve_price(t.model, t.price) for t in config.tiers], config.budget_usd, "budget_usd")


def check_budget(config: CascadeConfig, prices: Sequence[Any], budget: Any, where: str) -> None:
    """A budget needs every tier's price: an unknown price is unknown, never zero, so a
    cap over it could not be kept. Raises ConfigError naming the tier."""
    if isinstance(budget, bool) or not isinstance(budget, (int, float)) or budget < 0:
        raise ConfigError(f"{where}: expected a cost in USD >= 0, got {budget!r}")
    source = f"{config.source}: " if config.source and where == "budget_usd" else ""
    for tier, price in zip(config.tiers, prices):
        missing = [name for name in ("input", "output") if getattr(price, name) is None]
        if missing:
            raise ConfigError(
                f"{source}{where} {budget:g} needs every tier's price, but tier {tier.name!r} (model {tier.model}) "
                f"has no known {' or '.join(missing)} price: set `price: {{input: ..., output: ...}}` (USD per 1M "
                "tokens) on it, or drop the budget"
            )


def check_tiers(config: CascadeConfig) -> None:
    from cascadectl.providers import check_tier

    for tier in config.tiers:
        check_tier(tier)
    check_readers(config)


def check_readers(config: CascadeConfig) -> None:
    """A `likelihood` validator needs a reading tier whose provider can score a text it
    did not write; say which before any request."""
    from cascadectl.cascade.signals import reader_index
    from cascadectl.providers import SCORING_PROVIDERS

    for spec in config.quality.validators:
        if spec.type != "likelihood":
            continue
        for drafting in range(len(config.tiers) - 1):
            reader = config.tiers[reader_index(config, spec, drafting)]
            if reader.provider not in SCORING_PROVIDERS:
                raise ConfigError(
                    f"quality.validators: likelihood: tier {reader.name!r} (provider {reader.provider}) cannot score "
                    f"a text it did not write, which this signal needs; the reading tier must use one of: "
                    f"{', '.join(sorted(SCORING_PROVIDERS))} (set the validator's `tier`, or drop the validator)"
                )


def normalize_tools_dicts(tools: Sequence[Any]) -> tuple[dict[str, Any], ...]:
    if not tools:
        return ()
    from cascadectl.tools import normalize_tools

    specs, _notices = normalize_tools(list(tools))
    return tuple(spec.to_dict() for spec in specs)
