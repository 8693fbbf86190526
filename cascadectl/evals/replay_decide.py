"""Re-deciding one recorded query under a new cascade config, without any model call.

Routing runs again (it is a pure function of the query and the config); each
judged tier's recorded draft is re-judged by the new config's Decider; the
answer of the tier that ends the query comes from the trace: the cascade run's
own result when it ended at that tier, else the `verifier` (or `drafter`)
baseline run. Costs are recomputed from the recorded token counts at the new
config's prices; times are the recorded per-tier times added up.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Sequence

from cascadectl.cascade.routing import Route, route
from cascadectl.cascade.toolcalls import ToolCallAssembler
from cascadectl.config.model import CascadeConfig
from cascadectl.evals.replay_load import Attempt
from cascadectl.evals.replay_result import TierUse, build_result, tier_use
from cascadectl.streaming.deltas import ToolCallDelta
from cascadectl.quality.checks import CheckResult
from cascadectl.quality.decision import Decider, Decision
from cascadectl.quality.draft import DecisionContext, Draft


class Unreplayable(Exception):
    """The trace lacks what the new config needs (a draft, or a tier's answer)."""


@dataclass(frozen=True)
class Step:
    """One tier of the replayed query, in call order."""

    index: int
    use: TierUse
    status: str  # accepted | rejected | aborted | failed | answered
    decision: Decision | None = None
    draft: Mapping[str, Any] | None = None
    answer: Mapping[str, Any] | None = None  # content, tool calls, finish reason if this tier ends the query


@dataclass(frozen=True)
class Replayed:
    route: Route
    steps: tuple[Step, ...]
    result: dict[str, Any] | None  # None when the query ended in an error
    error: dict[str, Any] | None


@dataclass(frozen=True)
class Sources:
    cascade: Attempt
    drafter: Attempt | None = None
    verifier: Attempt | None = None


class Redecider:
    def __init__(self, config: CascadeConfig, prices: Sequence[Any]) -> None:
        self.config = config
        self.prices = prices
        self.decider = Decider(config.quality)
        self.last = len(config.tiers) - 1

    def replay(self, sources: Sources) -> Replayed:
        query = sources.cascade.query
        item = query.get("item") or {}
        new_route = route(
            self.config, str(query.get("query") or ""), complexity_hint=query.get("complexity_hint"),
            force_direct=bool(query.get("force_direct")), has_tools=bool(query.get("tools")),
        )
        steps: list[Step] = []
        for index in range(new_route.start, self.last + 1):
            step = self._step(index, new_route, sources, item)
            steps.append(step)
            if step.status in ("accepted", "answered"):
                break
        return self._finish(new_route, tuple(steps), query)

    def _step(self, index: int, new_route: Route, sources: Sources, item: Mapping[str, Any]) -> Step:
        name = self.config.tiers[index].name
        judged = index < self.last and new_route.strategy == "cascade"
        if judged:
            return self._judge(index, name, new_route, sources, item)
        return self._answer(index, name, sources)

    def _judge(self, index: int, name: str, new_route: Route, sources: Sources, item: Mapping[str, Any]) -> Step:
        record = next((d for d in sources.cascade.all("draft_decision") if d.get("tier") == name), None)
        use = tier_use(_tier_entry(sources.cascade, name))
        if use is not None and use.status == "failed":
            return Step(index, use, "failed")
        if record is None or use is None:
            raise Unreplayable(f"no recorded draft from tier {name!r} (the recorded run did not draft this query there)")
        ctx = self._context(new_route, sources.cascade.query, item)
        draft = to_draft(record["draft"])
        decision = self.decider.decide(draft, ctx, _early_abort(record))
        status = "accepted" if decision.accepted else ("aborted" if _early_abort(record) else "rejected")
        return Step(index, use, status, decision, record["draft"], _draft_answer(draft))

    def _answer(self, index: int, name: str, sources: Sources) -> Step:
        for attempt in self._answer_sources(index, sources):
            entry = _tier_entry(attempt, name)
            use = tier_use(entry)
            if use is None:
                continue
            if use.status == "failed":
                return Step(index, use, "failed")
            if attempt.result is not None and attempt.result.get("tier_used") == name:
                return Step(index, use, "answered", answer=attempt.result)
        raise Unreplayable(f"no recorded answer from tier {name!r} (run the eval with --baselines verifier to record one)")

    def _answer_sources(self, index: int, sources: Sources) -> list[Attempt]:
        extra = sources.verifier if index == self.last else sources.drafter if index == 0 else None
        return [a for a in (sources.cascade, extra) if a is not None]

    def _context(self, new_route: Route, query: Mapping[str, Any], item: Mapping[str, Any]) -> DecisionContext:
        tools = _tool_specs(self.config, item)
        schemas = {t["name"]: t.get("parameters") or {} for t in tools}
        threshold = self.decider.threshold(new_route.complexity)
        choice = _tool_choice(item.get("tool_choice"), tools)
        return DecisionContext(str(query.get("query") or ""), new_route.complexity, threshold, schemas, choice)

    def _finish(self, new_route: Route, steps: tuple[Step, ...], query: Mapping[str, Any]) -> Replayed:
        mode = query.get("draft_mode") or self.config.quality.draft_mode
        result, error = build_result(self.config, self.prices, new_route, steps, mode == "buffered")
        return Replayed(new_route, steps, result, error)


def to_draft(record: Mapping[str, Any]) -> Draft:
    """The recorded draft as the Decider saw it; tool-call arguments go through the
    same incremental parser the engine uses."""
    assembler = ToolCallAssembler()
    for index, call in enumerate(record.get("tool_calls") or ()):
        assembler.feed(ToolCallDelta(index, call.get("id"), call.get("name"), str(call.get("raw_arguments") or "")))
    return Draft(
        str(record.get("text") or ""),
        tuple(float(lp) for lp in record.get("logprobs") or ()),
        tuple(assembler.drafts()),
        record.get("finish_reason"),
        record.get("refusal"),
    )


def _draft_answer(draft: Draft) -> dict[str, Any]:
    calls = draft.tool_calls
    return {
        "content": draft.text,
        "tool_calls": [{"id": c.id, "name": c.name, "arguments": c.arguments} for c in calls if c.complete],
        "incomplete_tool_calls": [
            {"id": c.id, "name": c.name, "raw_arguments": c.raw_arguments, "error": c.parse_error} for c in calls if not c.complete
        ],
        "finish_reason": draft.finish_reason,
    }


def _early_abort(record: Mapping[str, Any]) -> tuple[CheckResult, ...]:
    """A draft cut short live stays cut short: its full text was never generated."""
    for check in record.get("checks") or ():
        if check.get("name") == "early_abort":
            return (CheckResult("early_abort", "hard", False, None, check.get("value")),)
    return ()


def _tier_entry(attempt: Attempt, name: str) -> Mapping[str, Any] | None:
    source = attempt.result or attempt.error or {}
    return next((t for t in source.get("tiers") or () if t.get("tier") == name), None)


def _tool_specs(config: CascadeConfig, item: Mapping[str, Any]) -> list[dict[str, Any]]:
    raw = [*config.tools, *(item.get("tools") or ())]
    if not raw:
        return []
    from cascadectl.tools import normalize_tools

    specs, _notices = normalize_tools(raw)
    merged = {spec.to_dict()["name"]: spec.to_dict() for spec in specs}
    return list(merged.values())


def _tool_choice(choice: Any, tools: Sequence[Mapping[str, Any]]) -> Any:
    if choice is None:
        return None
    from cascadectl.tools import normalize_tool_choice

    return normalize_tool_choice(choice, tools)
