from __future__ import annotations

from cascadectl.quality.checks import CheckResult
from cascadectl.quality.complexity import ComplexityEstimate, estimate_complexity
from cascadectl.quality.decision import DEFAULT_VALIDATORS, Decider, Decision
from cascadectl.quality.draft import DecisionContext, Draft, DraftToolCall

__all__ = [
    "CheckResult",
    "ComplexityEstimate",
    "DEFAULT_VALIDATORS",
    "Decider",
    "Decision",
    "DecisionContext",
    "Draft",
    "DraftToolCall",
    "estimate_complexity",
]
