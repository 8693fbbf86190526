"""Prices (USD per 1M tokens) and the longest-prefix lookup over a price table."""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Iterable, Iterator, Mapping

from cascadectl.errors import ConfigError

# A key prices a longer name only where the name continues with one of these:
# "gpt-4o" prices "gpt-4o-2024-08-06" and Vertex's "claude-3-5-sonnet@20240620",
# but "gpt-4" must not price "gpt-4o", nor "gpt-5" price "gpt-5.1" (other models).
SEPARATORS = frozenset("-:@")


@dataclass(frozen=True)
class Price:
    """USD per 1M tokens; None is unknown. source: "config", "table:<key>",
    "config+table:<key>" or "unknown"."""

    input: float | None
    output: float | None
    cached_input: float | None
    source: str

    @property
    def known(self) -> bool:
        return self.input is not None and self.output is not None

    def to_dict(self) -> dict[str, Any]:
        return {
            "input": self.input,
            "output": self.output,
            "cached_input": self.cached_input,
            "source": self.source,
        }


UNKNOWN = Price(None, None, None, "unknown")


@dataclass(frozen=True)
class _Entry:
    price: Price | None  # None: a name we know a shorter key would misprice
    exact: bool


class PriceTable:
    """Model-name keys (case-insensitive) to prices.

    `prices` maps a key to its Price, or to None for a name that must stay
    unknown; keys in `exact` price only that very name, never a longer one.
    """

    def __init__(
        self,
        prices: Mapping[str, Price | None],
        *,
        exact: Iterable[str] = (),
        as_of: str | None = None,
        sources: Mapping[str, str] | None = None,
    ) -> None:
        exact_keys = {key.lower() for key in exact}
        self._entries: dict[str, _Entry] = {}
        for key, price in prices.items():
            self._add(key, price, key.lower() in exact_keys)
        self.as_of = as_of
        self.sources: Mapping[str, str] = dict(sources or {})

    def _add(self, key: str, price: Price | None, exact: bool) -> None:
        folded = key.strip().lower()
        if not folded:
            raise ConfigError("price table: a model key is empty")
        if folded in self._entries:
            raise ConfigError(f"price table: model key {key!r} appears twice (keys ignore case)")
        priced = None if price is None else replace(price, source=f"table:{key}")
        self._entries[folded] = _Entry(priced, exact)

    def __len__(self) -> int:
        return len(self._entries)

    def lookup(self, model: str) -> Price | None:
        # The full name first ("meta-llama/Llama-3.3-70B-Instruct-Turbo" is a
        # Together key), then without each leading "vendor/" ("openai/gpt-4o-mini").
        for candidate in _candidates(model.strip().lower()):
            entry = self._longest(candidate)
            if entry is not None:
                return entry.price
        return None

    def _longest(self, name: str) -> _Entry | None:
        for end in _cut_points(name):
            entry = self._entries.get(name[:end])
            if entry is None:
                continue
            if entry.exact and end != len(name):
                # The name is in an exact key's family but is not that key:
                # a shorter key would be a guess, so it stays unknown.
                return _Entry(None, True)
            return entry
        return None


def _candidates(name: str) -> Iterator[str]:
    yield name
    rest = name
    while "/" in rest:
        rest = rest.split("/", 1)[1]
        if rest:
            yield rest


def _cut_points(name: str) -> Iterator[int]:
    """Prefix lengths a key may end at, longest first."""
    yield len(name)
    for end in range(len(name) - 1, 0, -1):
        if name[end] in SEPARATORS:
            yield end
