"""Reading a price table from JSON, checked field by field; the built-in table."""
from __future__ import annotations

import datetime
import json
import math
from functools import lru_cache
from importlib import resources
from typing import Any, Mapping

from cascadectl.errors import ConfigError
from cascadectl.pricing.table import Price, PriceTable

UNIT = "USD per 1M tokens"
BUILTIN = "cascadectl/pricing/prices.json"
_ENTRY_FIELDS = frozenset({"input", "output", "cached_input", "provider", "exact", "note"})


@lru_cache(maxsize=1)
def default_table() -> PriceTable:
    text = resources.files("cascadectl.pricing").joinpath("prices.json").read_text(encoding="utf-8")
    return parse_table(text, BUILTIN)


def parse_table(text: str, origin: str) -> PriceTable:
    data = _decode(text, origin)
    _check_header(data, origin)
    models = _mapping(data.get("models"), f"{origin}: models")
    prices: dict[str, Price | None] = {}
    exact: list[str] = []
    for name, raw in models.items():
        prices[name] = _entry_price(raw, f"{origin}: models[{name!r}]")
        if raw.get("exact"):
            exact.append(name)
    for name in _unpriced(data.get("unpriced", []), origin):
        if name in prices:
            raise ConfigError(f"{origin}: unpriced: {name!r} is also priced under models")
        prices[name] = None
    sources = _mapping(data.get("sources", {}), f"{origin}: sources")
    return PriceTable(prices, exact=exact, as_of=data["as_of"], sources=sources)


def _decode(text: str, origin: str) -> dict[str, Any]:
    try:
        data = json.loads(text, object_pairs_hook=lambda pairs: _no_duplicates(pairs, origin))
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{origin}:{exc.lineno}:{exc.colno}: not valid JSON: {exc.msg}") from None
    return _mapping(data, f"{origin}: top level")


def _no_duplicates(pairs: list[tuple[str, Any]], origin: str) -> dict[str, Any]:
    # json.loads would silently keep the last of two equal keys: a price typo.
    seen: dict[str, Any] = {}
    for key, value in pairs:
        if key in seen:
            raise ConfigError(f"{origin}: key {key!r} appears twice in one object")
        seen[key] = value
    return seen


def _check_header(data: Mapping[str, Any], origin: str) -> None:
    if data.get("unit") != UNIT:
        raise ConfigError(f"{origin}: unit: expected {UNIT!r}, got {data.get('unit')!r}")
    as_of = data.get("as_of")
    try:
        datetime.date.fromisoformat(as_of)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ConfigError(f"{origin}: as_of: expected a date YYYY-MM-DD, got {as_of!r}") from None


def _mapping(value: object, where: str) -> Mapping[str, Any]:
    if not isinstance(value, dict):
        raise ConfigError(f"{where}: expected an object, got {type(value).__name__}")
    return value


def _entry_price(raw: object, where: str) -> Price:
    entry = _mapping(raw, where)
    unknown = sorted(set(entry) - _ENTRY_FIELDS)
    if unknown:
        raise ConfigError(f"{where}: unknown field {unknown[0]!r} (allowed: {', '.join(sorted(_ENTRY_FIELDS))})")
    if not isinstance(entry.get("exact", False), bool):
        raise ConfigError(f"{where}.exact: expected true or false, got {entry['exact']!r}")
    cached = entry.get("cached_input")
    return Price(
        input=_rate(entry.get("input"), f"{where}.input"),
        output=_rate(entry.get("output"), f"{where}.output"),
        cached_input=None if cached is None else _rate(cached, f"{where}.cached_input"),
        source="table",
    )


def _rate(value: object, where: str) -> float:
    # bool is an int in Python; `true` as a price is a mistake, not 1.0.
    valid = isinstance(value, (int, float)) and not isinstance(value, bool)
    if not valid or not math.isfinite(value) or value < 0:  # type: ignore[arg-type]
        raise ConfigError(f"{where}: expected a number >= 0 (USD per 1M tokens), got {value!r}")
    return float(value)  # type: ignore[arg-type]


def _unpriced(value: object, origin: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(name, str) for name in value):
        raise ConfigError(f"{origin}: unpriced: expected a list of model names, got {value!r}")
    return value
