"""The one acceptance function, used by streaming and by run() alike."""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Sequence

from cascadectl.config.model import QualityConfig, ValidatorSpec
from cascadectl.errors import ConfigError
from cascadectl.quality.checks import HARD_CHECKS, SOFT_CHECKS, Check, CheckResult, Options, _REFUSAL
from cascadectl.quality.draft import Draft, DecisionContext
from cascadectl.quality.toolchecks import tool_calls

DEFAULT_VALIDATORS = (
    ValidatorSpec("non_empty"),
    ValidatorSpec("refusal"),
    ValidatorSpec("confidence", weight=2.0),
    ValidatorSpec("hedging"),
    ValidatorSpec("length"),
    ValidatorSpec("alignment", weight=0.5),
)
# Early abort: judge a live draft once it has this many characters, then at each doubling.
EARLY_CHECK_FIRST = 24
EARLY_MIN_TOKENS = 12
EARLY_CONFIDENCE_FLOOR = 0.15


@dataclass(frozen=True)
class Decision:
    accepted: bool
    score: float
    confidence: float | None
    threshold: float
    reason: str
    checks: tuple[CheckResult, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "accepted": self.accepted,
            "score": round(self.score, 4),
            "confidence": None if self.confidence is None else round(self.confidence, 4),
            "threshold": self.threshold,
            "reason": self.reason,
            "checks": [c.to_dict() for c in self.checks],
        }


@dataclass(frozen=True)
class _Bound:
    check: Check
    weight: float
    options: Options


class Decider:
    def __init__(self, quality: QualityConfig) -> None:
        specs = quality.validators or DEFAULT_VALIDATORS
        self.quality = quality
        self._checks = tuple(_bind(spec) for spec in specs)
        self._tool_check = _Bound(tool_calls, 1.0, {})
        # Tool calls are always checked when tools are in play, configured or not.
        self._has_tool_check = any(spec.type == "tool_calls" for spec in specs)
        self.confidence_wanted = any(spec.type == "confidence" for spec in specs)
        # The likelihood signal needs another tier to read the draft: the engine asks it.
        self.likelihood = next((spec for spec in specs if spec.type == "likelihood"), None)

    def threshold(self, complexity: str, tier: str | None = None) -> float:
        """The drafting tier's own threshold for the complexity, else the cascade's."""
        own = self.quality.tier_thresholds.get(tier or "", {})
        return float(own.get(complexity, self.quality.thresholds.get(complexity, 0.6)))

    def decide(self, draft: Draft, ctx: DecisionContext, extra: Sequence[CheckResult] = ()) -> Decision:
        needs_tool_check = (ctx.tools or draft.tool_calls) and not self._has_tool_check
        bound = self._checks + ((self._tool_check,) if needs_tool_check else ())
        results = [b.check(draft, ctx, b.options)._replace(weight=b.weight) for b in bound]
        results.extend(extra)
        return _combine(tuple(results), ctx.threshold)

    def early_abort_reason(self, text: str, logprobs: Sequence[float]) -> str | None:
        """A reason to stop a live draft now, or None. Cheap: prefix regex and a mean."""
        if _REFUSAL.match(text[:200]):
            return "refusal"
        if len(logprobs) >= EARLY_MIN_TOKENS and self.confidence_wanted:
            mean_p = math.exp(math.fsum(logprobs) / len(logprobs))
            if mean_p < EARLY_CONFIDENCE_FLOOR:
                return f"confidence collapsed (mean token probability {mean_p:.2f})"
        return None


def _bind(spec: ValidatorSpec) -> _Bound:
    if spec.type == "judge":
        raise ConfigError(
            "quality.validators: the 'judge' validator is not available in the engine yet; "
            "remove it (judge scoring is available in evals as scorer: judge)"
        )
    check = HARD_CHECKS.get(spec.type) or SOFT_CHECKS.get(spec.type)
    if spec.type == "tool_calls":
        check = tool_calls
    if check is None:
        known = ", ".join(sorted({*HARD_CHECKS, *SOFT_CHECKS, "tool_calls", "judge"}))
        raise ConfigError(f"quality.validators: unknown validator type {spec.type!r} (known: {known})")
    return _Bound(check, spec.weight, spec.options)


def _combine(results: tuple[CheckResult, ...], threshold: float) -> Decision:
    confidence = next((r.score for r in results if r.name == "confidence"), None)
    failed = [r for r in results if r.kind == "hard" and not r.passed]
    score = _soft_score(results)
    if failed:
        reason = "rejected: " + "; ".join(f"{r.name} ({r.value})" for r in failed)
        return Decision(False, score, confidence, threshold, reason, results)
    if score >= threshold:
        return Decision(True, score, confidence, threshold, f"accepted: score {score:.2f} >= {threshold:.2f}", results)
    weakest = min((r for r in results if r.score is not None), key=lambda r: r.score or 0.0)
    reason = f"rejected: score {score:.2f} < {threshold:.2f} (weakest: {weakest.name} {weakest.score:.2f})"
    return Decision(False, score, confidence, threshold, reason, results)


def _soft_score(results: Sequence[CheckResult]) -> float:
    """Weighted geometric mean: one very weak signal (confidence collapsing, an
    admitted "I don't know") pulls the score down more than an average would."""
    total = weights = 0.0
    for r in results:
        if r.kind == "soft" and r.score is not None:
            total += r.weight * math.log(max(r.score, 0.01))
            weights += r.weight
    return math.exp(total / weights) if weights else 1.0
