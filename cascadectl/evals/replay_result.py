"""The result (or error) a replayed query ends with, in the engine's own shapes:
a CascadeResult dict for `complete`, the engine's error data for `error`."""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Mapping, Sequence

from cascadectl.cascade.result import CascadeResult
from cascadectl.config.model import CascadeConfig
from cascadectl.pricing import Price, cost_usd
from cascadectl.streaming.deltas import Usage

if TYPE_CHECKING:
    from cascadectl.cascade.routing import Route
    from cascadectl.evals.replay_decide import Step


@dataclass(frozen=True)
class TierUse:
    """What one tier's recorded call used and took."""

    status: str
    usage: Usage
    latency_ms: float
    ttft_ms: float | None
    finish_reason: str | None
    error: Mapping[str, Any] | None


def tier_use(entry: Mapping[str, Any] | None) -> TierUse | None:
    if entry is None:
        return None
    usage = Usage(
        int(entry.get("input_tokens") or 0),
        int(entry.get("output_tokens") or 0),
        int(entry.get("cached_input_tokens") or 0),
        bool(entry.get("tokens_estimated")),
    )
    return TierUse(
        str(entry.get("status") or ""), usage, float(entry.get("latency_ms") or 0.0),
        entry.get("ttft_ms"), entry.get("finish_reason"), entry.get("error"),
    )


def build_result(
    config: CascadeConfig, prices: Sequence[Price], route: Route, steps: Sequence[Step], buffered: bool
) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    tiers = [_tier_dict(config, prices, route, step) for step in steps]
    total = _total([t["cost"] for t in tiers])
    final = steps[-1]
    if final.status == "failed":
        return None, _error(config, steps, tiers, total)
    answer = final.answer or {}
    vo_cost, vo_estimated = _verifier_only(prices, steps, len(config.tiers) - 1)
    decision = next((s.decision for s in reversed(steps) if s.decision is not None), None)
    result = CascadeResult(
        content=str(answer.get("content") or ""),
        model_used=config.tiers[final.index].model,
        tier_used=config.tiers[final.index].name,
        draft_accepted=final.status == "accepted",
        routing_strategy=route.strategy,
        complexity=route.complexity,
        total_cost=total,
        latency_ms=round(sum(s.use.latency_ms for s in steps), 3),
        ttft_ms=_ttft(steps, buffered),
        tiers=tiers,
        tool_calls=list(answer.get("tool_calls") or ()),
        incomplete_tool_calls=list(answer.get("incomplete_tool_calls") or ()),
        decision=None if decision is None else decision.to_dict(),
        verifier_only_cost=vo_cost,
        verifier_only_cost_estimated=vo_estimated,
        finish_reason=answer.get("finish_reason"),
        input_tokens=sum(s.use.usage.input_tokens for s in steps),
        output_tokens=sum(s.use.usage.output_tokens for s in steps),
        tokens_estimated=any(s.use.usage.estimated for s in steps),
    )
    return result.to_dict(), None


def phase_of(route: Route, index: int, last: int) -> str:
    if route.strategy == "direct":
        return "direct"
    return "verify" if index == last else "draft"


def _tier_dict(config: CascadeConfig, prices: Sequence[Price], route: Route, step: Step) -> dict[str, Any]:
    tier, price, use = config.tiers[step.index], prices[step.index], step.use
    cost = cost_usd(use.usage, price)  # a call that failed before any output recorded 0 tokens
    return {
        "tier": tier.name,
        "model": tier.model,
        "provider": tier.provider,
        "phase": phase_of(route, step.index, len(config.tiers) - 1),
        "status": step.status,
        "input_tokens": use.usage.input_tokens,
        "output_tokens": use.usage.output_tokens,
        "cached_input_tokens": use.usage.cached_input_tokens,
        "tokens_estimated": use.usage.estimated,
        "cost": None if cost is None else round(cost, 10),
        "price_source": price.source,
        "latency_ms": use.latency_ms,
        "ttft_ms": use.ttft_ms,
        "finish_reason": use.finish_reason,
        "error": dict(use.error) if use.error else None,
    }


def _total(costs: Sequence[float | None]) -> float | None:
    return None if any(c is None for c in costs) else round(sum(c for c in costs if c is not None), 10)


def _ttft(steps: Sequence[Step], buffered: bool) -> float | None:
    """When the user first saw output: a live draft shows its first token; a
    buffered draft shows only once accepted, at the end of its call."""
    offset = 0.0
    for step in steps:
        held = buffered and step.decision is not None
        if held and step.status == "accepted":
            return round(offset + step.use.latency_ms, 3)
        if not held and step.use.ttft_ms is not None:
            return round(offset + float(step.use.ttft_ms), 3)
        offset += step.use.latency_ms
    return None


def _verifier_only(prices: Sequence[Price], steps: Sequence[Step], last: int) -> tuple[float | None, bool]:
    """As the engine does: measured when the last tier answered, else the answering
    tier's tokens priced at the last tier's rates (an estimate)."""
    for step in steps:
        if step.index == last and step.status == "answered":
            return cost_usd(step.use.usage, prices[last]), False
    usage = steps[-1].use.usage
    return cost_usd(Usage(usage.input_tokens, usage.output_tokens, 0, True), prices[last]), True


def _error(config: CascadeConfig, steps: Sequence[Step], tiers: list[dict[str, Any]], total: float | None) -> dict[str, Any]:
    errors = [{"tier": config.tiers[s.index].name, **dict(s.use.error or {})} for s in steps if s.status == "failed"]
    last = errors[-1] if errors else {}
    return {
        "error": f"every tier failed; last: provider error ({last.get('kind', 'error')}): {last.get('message', '')}",
        "kind": str(last.get("kind") or "error"),
        "errors": errors,
        "tiers": tiers,
        "total_cost": total,
        "retract": False,
    }
