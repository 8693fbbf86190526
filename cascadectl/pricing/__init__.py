"""Prices in USD per 1M tokens: a built-in table matched on the longest model-name
prefix, per-field overrides from the cascade YAML, and the cost of a call."""
from __future__ import annotations

from cascadectl.pricing.cost import blended_per_1k_to_price, cost_usd, resolve_price
from cascadectl.pricing.loader import default_table, parse_table
from cascadectl.pricing.table import UNKNOWN, Price, PriceTable

__all__ = [
    "UNKNOWN",
    "Price",
    "PriceTable",
    "blended_per_1k_to_price",
    "cost_usd",
    "default_table",
    "parse_table",
    "resolve_price",
]
