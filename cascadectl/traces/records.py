"""The records the engine reports, one frozen dataclass each, serialised one way.

The engine makes them; traces carry their `to_dict()`; replay, resume and reports
read them back with `from_dict()`, which takes what older traces wrote (missing
fields get their defaults). Nothing else builds these dicts by hand.
"""
from __future__ import annotations

from dataclasses import dataclass, field, fields
from functools import lru_cache
from typing import Any, Mapping, Sequence


@lru_cache(maxsize=None)
def _names(cls: type) -> frozenset[str]:
    return frozenset(f.name for f in fields(cls))


@lru_cache(maxsize=None)
def _ordered(cls: type) -> tuple[str, ...]:
    return tuple(f.name for f in fields(cls))


def _known(cls: type, raw: Mapping[str, Any]) -> dict[str, Any]:
    names = _names(cls)
    return {k: v for k, v in raw.items() if k in names}


def _shallow(record: Any) -> dict[str, Any]:
    # Shallow on purpose: nested lists are built fresh per record, and a deep
    # dataclasses.asdict costs tenths of a millisecond per query.
    return {name: getattr(record, name) for name in _ordered(type(record))}


@dataclass(frozen=True)
class TierRecord:
    """One tier's call in a query: tokens, cost, time, outcome."""

    tier: str
    model: str
    provider: str
    phase: str  # draft | verify | direct
    status: str  # answered | accepted | rejected | aborted | failed
    input_tokens: int = 0
    output_tokens: int = 0
    cached_input_tokens: int = 0
    tokens_estimated: bool = False
    cost: float | None = None
    price_source: str | None = None
    latency_ms: float = 0.0
    ttft_ms: float | None = None
    finish_reason: str | None = None
    error: dict[str, Any] | None = None
    runtime: dict[str, Any] | None = None  # what the provider reports of how it ran
    step: int = 0  # the tool loop: the step (model call) it belongs to

    def to_dict(self) -> dict[str, Any]:
        return _shallow(self)

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> TierRecord:
        return cls(**_known(cls, raw))


@dataclass(frozen=True)
class DraftRecord:
    """A judged draft as the decision saw it: enough to re-decide it from the trace.

    `chunks` is one [characters, logprobs] pair per text delta, in order, so that a
    replay streams the text in the same pieces (early abort checks depend on them);
    None in traces written before it was recorded."""

    text: str
    logprobs: Sequence[float] = ()
    tool_calls: Sequence[Mapping[str, Any]] = ()  # {id, name, raw_arguments}
    finish_reason: str | None = None
    refusal: str | None = None
    chunks: Sequence[Sequence[int]] | None = None

    def to_dict(self) -> dict[str, Any]:
        out = _shallow(self)
        out["logprobs"], out["tool_calls"] = list(self.logprobs), [dict(c) for c in self.tool_calls]
        return out

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> DraftRecord:
        return cls(**_known(cls, raw))


@dataclass(frozen=True)
class DecisionRecord:
    """What DRAFT_DECISION carries: the decision, every check's value, and the draft."""

    accepted: bool
    score: float
    confidence: float | None
    threshold: float
    reason: str
    checks: Sequence[Mapping[str, Any]]
    tier: str
    complexity: str
    draft: DraftRecord
    signals: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)  # name -> {tier, logprobs}

    def to_dict(self) -> dict[str, Any]:
        out = _shallow(self)
        out["checks"], out["draft"] = [dict(c) for c in self.checks], self.draft.to_dict()
        out["signals"] = {k: dict(v) for k, v in self.signals.items()}
        return out

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> DecisionRecord:
        known = _known(cls, raw)
        known["draft"] = DraftRecord.from_dict(raw.get("draft") or {"text": ""})
        return cls(**known)


@dataclass(frozen=True)
class SwitchRecord:
    """What SWITCH carries. `retract`: the consumer was shown this tier's output live."""

    from_model: str
    to_model: str
    from_tier: str
    to_tier: str
    reason: str
    kind: str  # rejected | early_abort | provider_error
    retract: bool
    partial: DraftRecord | None = None  # provider_error: what the tier streamed before it failed

    def to_dict(self) -> dict[str, Any]:
        out = _shallow(self)
        out["partial"] = None if self.partial is None else self.partial.to_dict()
        return out

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> SwitchRecord:
        known = _known(cls, raw)
        known["partial"] = _draft_or_none(raw.get("partial"))
        return cls(**known)


def _draft_or_none(raw: Any) -> DraftRecord | None:
    return DraftRecord.from_dict(raw) if isinstance(raw, Mapping) else None


@dataclass(frozen=True)
class ErrorRecord:
    """What ERROR carries when every tier failed: each tier's error, and what was spent."""

    error: str
    kind: str
    errors: Sequence[Mapping[str, Any]] = ()  # {tier, kind, message, ...} per failed tier
    tiers: Sequence[TierRecord] = ()
    total_cost: float | None = 0.0
    retract: bool = False
    partial: DraftRecord | None = None  # what the last tier streamed before it failed

    def to_dict(self) -> dict[str, Any]:
        out = _shallow(self)
        out["errors"], out["tiers"] = [dict(e) for e in self.errors], [t.to_dict() for t in self.tiers]
        out["partial"] = None if self.partial is None else self.partial.to_dict()
        return out

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> ErrorRecord:
        known = _known(cls, raw)
        known["tiers"] = tuple(TierRecord.from_dict(t) for t in raw.get("tiers") or ())
        known["partial"] = _draft_or_none(raw.get("partial"))
        known.setdefault("error", "")
        known.setdefault("kind", "error")
        return cls(**known)


@dataclass(frozen=True)
class StepRecord:
    """One step of the tool loop: one cascade decision, its answer, and the tools it ran."""

    step: int
    model_used: str
    tier_used: str
    draft_accepted: bool
    total_cost: float | None
    verifier_only_cost: float | None
    latency_ms: float
    input_tokens: int
    output_tokens: int
    content: str = ""
    tool_calls: Sequence[Mapping[str, Any]] = ()  # {id, name, arguments} the answer asked for
    tool_results: Sequence[Mapping[str, Any]] = ()  # {id, name, content, error, execution_time_ms} per call run
    budget_exhausted: bool = False

    def to_dict(self) -> dict[str, Any]:
        out = _shallow(self)
        out["tool_calls"], out["tool_results"] = [dict(c) for c in self.tool_calls], [dict(r) for r in self.tool_results]
        return out

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> StepRecord:
        return cls(**_known(cls, raw))


@dataclass(frozen=True)
class CascadeResult:
    """The result of one query: what COMPLETE carries and what run() returns."""

    content: str
    model_used: str
    tier_used: str
    draft_accepted: bool
    routing_strategy: str  # cascade | direct
    complexity: str
    total_cost: float | None  # USD; None when a used tier's price is unknown
    latency_ms: float
    ttft_ms: float | None  # time to the first chunk the consumer was shown
    tiers: list[dict[str, Any]] = field(default_factory=list)  # TierRecord.to_dict() per tier called, in order
    tool_calls: list[dict[str, Any]] = field(default_factory=list)
    incomplete_tool_calls: list[dict[str, Any]] = field(default_factory=list)
    decision: dict[str, Any] | None = None  # the last draft decision
    verifier_only_cost: float | None = None
    verifier_only_cost_estimated: bool = True
    finish_reason: str | None = None
    input_tokens: int = 0
    output_tokens: int = 0
    tokens_estimated: bool = False
    budget_exhausted: bool = False  # escalating would have passed the budget: this is the best answer so far
    stop_reason: str | None = None  # the tool loop: answered | max_steps | budget_exhausted
    steps: list[dict[str, Any]] = field(default_factory=list)  # the tool loop: StepRecord.to_dict() per step

    @property
    def cascaded(self) -> bool:
        """A tier after the first was called for one of the steps (one step without the loop)."""
        seen: set[int] = set()
        for tier in self.tiers:
            step = int(tier.get("step") or 0)
            if step in seen:
                return True
            seen.add(step)
        return False

    @property
    def savings(self) -> float | None:
        """Share of the verifier-only cost saved, e.g. 0.8 for 80% cheaper."""
        if self.total_cost is None or not self.verifier_only_cost:
            return None
        return 1.0 - self.total_cost / self.verifier_only_cost

    def tier_records(self) -> list[TierRecord]:
        return [TierRecord.from_dict(t) for t in self.tiers]

    def to_dict(self) -> dict[str, Any]:
        out = _shallow(self)
        out["cascaded"] = self.cascaded
        out["savings"] = None if self.savings is None else round(self.savings, 6)
        return out

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> CascadeResult:
        return cls(**_known(cls, raw))
