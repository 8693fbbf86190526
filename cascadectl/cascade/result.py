"""The result of one query: what COMPLETE carries and what run() returns."""
from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any, Mapping


@dataclass(frozen=True)
class CascadeResult:
    content: str
    model_used: str
    tier_used: str
    draft_accepted: bool
    routing_strategy: str  # cascade | direct
    complexity: str
    total_cost: float | None  # USD; None when a used tier's price is unknown
    latency_ms: float
    ttft_ms: float | None  # time to the first chunk the consumer was shown
    tiers: list[dict[str, Any]] = field(default_factory=list)  # per tier called, in order
    tool_calls: list[dict[str, Any]] = field(default_factory=list)
    incomplete_tool_calls: list[dict[str, Any]] = field(default_factory=list)
    decision: dict[str, Any] | None = None  # the last draft decision
    verifier_only_cost: float | None = None
    verifier_only_cost_estimated: bool = True
    finish_reason: str | None = None
    input_tokens: int = 0
    output_tokens: int = 0
    tokens_estimated: bool = False

    @property
    def cascaded(self) -> bool:
        return len(self.tiers) > 1

    @property
    def savings(self) -> float | None:
        """Share of the verifier-only cost saved, e.g. 0.8 for 80% cheaper."""
        if self.total_cost is None or not self.verifier_only_cost:
            return None
        return 1.0 - self.total_cost / self.verifier_only_cost

    def to_dict(self) -> dict[str, Any]:
        # Shallow on purpose: the nested lists and dicts are built fresh for each
        # result, and dataclasses.asdict's deep copy cost ~0.3 ms per query.
        out = {name: getattr(self, name) for name in _FIELDS}
        out["cascaded"] = self.cascaded
        out["savings"] = None if self.savings is None else round(self.savings, 6)
        return out

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> CascadeResult:
        return cls(**{k: v for k, v in raw.items() if k in _FIELDS})


_FIELDS = tuple(f.name for f in fields(CascadeResult))
