"""A tier's price (config over table, field by field) and the cost of a call."""
from __future__ import annotations

import math
from typing import TYPE_CHECKING

from cascadectl.errors import ConfigError
from cascadectl.pricing.loader import default_table
from cascadectl.pricing.table import UNKNOWN, Price, PriceTable

if TYPE_CHECKING:  # config may pull in yaml/jsonschema; pricing stays light
    from cascadectl.config.model import PriceSpec
    from cascadectl.streaming.deltas import Usage

_FIELDS = ("input", "output", "cached_input")
_PER = 1_000_000


def resolve_price(model: str, override: PriceSpec | None, table: PriceTable | None = None) -> Price:
    found = (table if table is not None else default_table()).lookup(model) or UNKNOWN
    mine = {name: getattr(override, name, None) for name in _FIELDS}
    values = {name: _first(mine[name], getattr(found, name)) for name in _FIELDS}
    from_config = any(value is not None for value in mine.values())
    from_table = any(mine[name] is None and getattr(found, name) is not None for name in _FIELDS)
    return Price(**values, source=_source(from_config, from_table, found.source))


def _first(mine: float | None, theirs: float | None) -> float | None:
    return mine if mine is not None else theirs


def _source(from_config: bool, from_table: bool, table_source: str) -> str:
    if from_config and from_table:
        return f"config+{table_source}"
    if from_config:
        return "config"
    return table_source if from_table else "unknown"


def cost_usd(usage: Usage, price: Price) -> float | None:
    """USD for one call, or None when a price it needs is unknown (never a guess)."""
    cached = max(usage.cached_input_tokens, 0)
    # Usage.input_tokens includes the cached ones (OpenAI's convention); a
    # provider reporting more cached than input must not yield a negative cost.
    uncached = max(usage.input_tokens - cached, 0)
    cached_rate = _first(price.cached_input, price.input)
    total = 0.0
    for tokens, rate in ((uncached, price.input), (cached, cached_rate), (usage.output_tokens, price.output)):
        if tokens <= 0:
            continue  # no tokens of a kind need no price for it
        if rate is None:
            return None
        total += tokens * rate
    return total / _PER


def blended_per_1k_to_price(cost_per_1k: float) -> PriceSpec:
    """One blended USD per 1K tokens (ModelConfig(cost=...)) as a per-1M PriceSpec."""
    from cascadectl.config.model import PriceSpec

    valid = isinstance(cost_per_1k, (int, float)) and not isinstance(cost_per_1k, bool)
    if not valid or not math.isfinite(cost_per_1k) or cost_per_1k < 0:
        raise ConfigError(f"cost: expected a number >= 0 (USD per 1K tokens), got {cost_per_1k!r}")
    per_1m = cost_per_1k * 1000
    # Blended means every token costs the same, cached input included: leaving
    # cached_input unset would let the table's cached rate creep in.
    return PriceSpec(input=per_1m, output=per_1m, cached_input=per_1m)
