"""The cascade engine: route, draft, decide, switch, account. One query at a time.

Event order for a query: ROUTING; then per tier called, its chunks (and tool-call
events); for a judged draft DRAFT_DECISION, then either COMPLETE (accepted) or
SWITCH to the next tier; the last tier's output ends in COMPLETE. In buffered
mode a draft's chunks are held and released after an accepting DRAFT_DECISION.
A tier that fails switches to the next with the reason; if none is left: ERROR.
"""
from __future__ import annotations

import time
from contextlib import aclosing
from dataclasses import dataclass
from typing import Any, AsyncIterator, Callable, Mapping, Sequence

from cascadectl.cascade.events import EventMaker
from cascadectl.cascade.signals import read_draft
from cascadectl.cascade.tier_run import CHARS_PER_TOKEN, TierRun, total_cost
from cascadectl.cascade.routing import Route, route
from cascadectl.config.model import CascadeConfig
from cascadectl.errors import ProviderError
from cascadectl.pricing import Price, cost_usd
from cascadectl.providers.base import Provider, ProviderRequest
from cascadectl.streaming.deltas import ExtraDelta, FinishDelta, TextDelta, ToolCallDelta, Usage, UsageDelta
from cascadectl.quality.checks import CheckResult
from cascadectl.quality.decision import Decider, Decision
from cascadectl.quality.draft import DecisionContext, ScoredText
from cascadectl.streaming.events import StreamEvent, ToolStreamEventType
from cascadectl.traces.records import CascadeResult, DecisionRecord, ErrorRecord, SwitchRecord
from cascadectl.traces.writer import QueryTrace

Clock = Callable[[], float]  # seconds, monotonic; time.perf_counter live, the recorded times in a replay

EARLY_FIRST_CHECK = 24  # characters of draft text before the first early-abort check
BUDGET_OUTPUT_GUESS = 512  # output tokens assumed for an escalation with no max_tokens and nothing written yet


@dataclass(frozen=True)
class Query:
    text: str  # the last user message: what routing and validators read
    messages: Sequence[Mapping[str, Any]]
    max_tokens: int | None = None
    temperature: float | None = None
    complexity_hint: str | None = None
    force_direct: bool = False
    tools: Sequence[Mapping[str, Any]] = ()  # universal format
    tool_choice: Any = None  # a ToolChoice or None
    draft_mode: str | None = None  # live | buffered; None: the config's
    made_calls: frozenset[str] = frozenset()  # the tool loop: the calls earlier steps made (toolchecks.call_key)


class Engine:
    def __init__(
        self,
        config: CascadeConfig,
        provider: Callable[[int], Provider],
        prices: Sequence[Price],
        decider: Decider,
        clock: Clock = time.perf_counter,
        budget: float | None = None,
    ) -> None:
        """`budget`: USD this query may spend; an escalation that would pass it is not
        made (the draft so far is the answer, marked `budget_exhausted`). Every tier's
        price must be known (preflight.check_budget)."""
        self.config = config
        self.provider = provider
        self.prices = prices
        self.decider = decider
        self.clock = clock
        self.budget = budget

    async def stream(self, query: Query, trace: QueryTrace | None = None) -> AsyncIterator[StreamEvent]:
        """All of a query's events. The per-chunk path lives in this one generator on
        purpose: every async-generator layer between the provider and the consumer
        costs about half a microsecond per chunk."""
        state = _QueryState(self, query)
        record = trace.event if trace is not None else None
        try:
            for event in state.opening():
                if record:
                    record(event)
                yield event
            clock = self.clock
            for index in range(state.route.start, len(self.config.tiers)):
                run, live, early = state.begin(index)
                held: list[StreamEvent] = []
                make_text, model, phase = state.events.text, run.tier.model, run.phase
                parts, logprobs, spans, decider = run.parts, run.logprobs, run.spans, self.decider
                next_check, chars, abort = EARLY_FIRST_CHECK, 0, None
                provider = self.provider(index)
                try:
                    async with aclosing(provider.stream(state.request(index, run))) as deltas:
                        async for delta in deltas:
                            if type(delta) is TextDelta:
                                if run.first_token is None:
                                    run.first_token = clock()
                                text = delta.text
                                parts.append(text)
                                count = 0
                                if delta.logprobs:
                                    # Rounded as the trace records them: a replay decides on the same values.
                                    for lp in delta.logprobs:
                                        logprobs.append(round(lp.logprob, 5))
                                    count = len(delta.logprobs)
                                spans.append((len(text), count))
                                chars += len(text)
                                if early and chars >= next_check:
                                    next_check *= 2
                                    abort = decider.early_abort_reason("".join(parts), logprobs)
                                event = make_text(text, model, phase)
                                if not live:
                                    held.append(event)
                                else:
                                    if state.first_shown is None:
                                        state.first_shown = clock()
                                    run.shown += 1
                                    if record:
                                        record(event)
                                    yield event
                                if abort:
                                    break
                                continue
                            for event in state.other_delta(run, delta):
                                if not live:
                                    held.append(event)
                                    continue
                                run.shown += 1
                                if record:
                                    record(event)
                                yield event
                except ProviderError as exc:
                    run.runtime = getattr(provider, "runtime", None)
                    closing = state.failed(run, index, exc)
                else:
                    run.runtime = getattr(provider, "runtime", None)
                    if run.judged and abort is None and decider.likelihood is not None:
                        run.ended_call()
                        state.signals = await read_draft(state, run, index)
                    closing = state.finish(run, index, live, abort, held)
                for event in closing:
                    if record:
                        record(event)
                    yield event
                if state.done:
                    return
        finally:
            if trace is not None:
                trace.flush()


class _QueryState:
    def __init__(self, engine: Engine, query: Query) -> None:
        self.engine = engine
        self.config = engine.config
        self.query = query
        self.clock = engine.clock
        self.t0 = self.clock()
        self.events = EventMaker(bool(query.tools))
        self.route: Route = route(
            self.config,
            query.text,
            complexity_hint=query.complexity_hint,
            force_direct=query.force_direct,
            has_tools=bool(query.tools),
        )
        self.last = len(self.config.tiers) - 1
        self.runs: list[TierRun] = []  # the tiers that drafted or answered, in order
        self.spent: list[TierRun] = []  # every call, in order: those and the signals' reads
        self.signals: dict[str, ScoredText] = {}
        self.first_shown: float | None = None
        self.decision: Decision | None = None
        self.budget_exhausted = False
        self.done = False
        self.prompt_chars = sum(len(str(m.get("content") or "")) for m in query.messages)
        self.tool_schemas = {t["name"]: t.get("parameters") or {} for t in query.tools}
        mode = query.draft_mode or self.config.quality.draft_mode
        self.buffered = mode == "buffered"

    def opening(self) -> list[StreamEvent]:
        return [self.events.make(self.events.routing, self.route.to_data(self.config), None, None)]

    def phase(self, index: int) -> str:
        if self.route.strategy == "direct":
            return "direct"
        return "verify" if index == self.last else "draft"

    def begin(self, index: int) -> tuple[TierRun, bool, bool]:
        """Start a tier: its run record, whether its output is shown live, and
        whether it may be aborted early."""
        judged = index < self.last and self.route.strategy == "cascade"
        prices = self.engine.prices
        run = TierRun(self.config.tiers[index], index, self.phase(index), prices[index], self.prompt_chars, self.clock)
        run.judged = judged
        self.runs.append(run)
        self.spent.append(run)
        self.signals = {}
        live = not (judged and self.buffered)
        return run, live, judged and self.config.quality.early_abort

    def request(self, index: int, run: TierRun) -> ProviderRequest:
        tier, defaults, q = self.config.tiers[index], self.config.defaults, self.query
        return ProviderRequest(
            model=tier.model,
            messages=q.messages,
            max_tokens=_first(q.max_tokens, tier.max_tokens, defaults.max_tokens),
            temperature=_first(q.temperature, tier.temperature, defaults.temperature),
            tools=q.tools or None,
            tool_choice=_wire_choice(q.tool_choice),
            logprobs=tier.logprobs and (self.engine.decider.confidence_wanted or not run.judged),
            options=tier.options,
        )

    def other_delta(self, run: TierRun, delta: Any) -> list[StreamEvent]:
        kind = type(delta)
        if kind is ToolCallDelta:
            if run.first_token is None:
                run.first_token = self.clock()
            return self._tool_events(run, delta)
        if kind is UsageDelta:
            run.add_usage(delta)
        elif kind is FinishDelta:
            run.finish_reason = delta.reason
        elif kind is ExtraDelta and delta.kind == "refusal":
            run.refusal = (run.refusal or "") + delta.text
        return []

    def finish(self, run: TierRun, index: int, live: bool, abort: str | None, held: list[StreamEvent]) -> list[StreamEvent]:
        """The events that close a tier whose stream ended (or was aborted)."""
        completions = self._tool_completions(run)
        if not run.judged:
            run.finish("answered")
            self.done = True
            return [*completions, self._complete()]
        if not live:
            held.extend(completions)
            completions = []
        return [*completions, *self._judge(run, index, abort, held)]

    def _tool_events(self, run: TierRun, delta: ToolCallDelta) -> list[StreamEvent]:
        slot, started = run.tools.feed(delta)
        if not self.events.tool_mode:
            return []
        model, phase, T = run.tier.model, run.phase, ToolStreamEventType
        out: list[StreamEvent] = []
        if started:
            data = {"id": slot.id, "name": slot.name, "index": slot.index}
            out.append(self.events.tool(T.TOOL_CALL_START, data, model, phase))
        if delta.arguments:
            data = {"id": slot.id, "name": slot.name, "index": slot.index, "partial": slot.partial()}
            out.append(self.events.tool(T.TOOL_CALL_DELTA, data, model, phase, delta.arguments))
        if slot.complete and not slot.announced_complete:
            slot.announced_complete = True
            out.append(self._tool_complete(slot.as_call(), run))
        return out

    def _tool_complete(self, call: dict[str, Any], run: TierRun) -> StreamEvent:
        T = ToolStreamEventType
        return self.events.tool(T.TOOL_CALL_COMPLETE, {"tool_call": call}, run.tier.model, run.phase)

    def _tool_completions(self, run: TierRun) -> list[StreamEvent]:
        """At the end of a stream: calls complete only now (e.g. no argument text at all)."""
        if not self.events.tool_mode:
            return []
        return [self._tool_complete(call, run) for call in run.tools.pending_complete()]

    def context(self, run: TierRun) -> DecisionContext:
        threshold = self.engine.decider.threshold(self.route.complexity, run.tier.name)
        return DecisionContext(self.query.text, self.route.complexity, threshold, self.tool_schemas,
                               self.query.tool_choice, self.signals, self.query.made_calls)

    def _judge(self, run: TierRun, index: int, abort: str | None, held: list[StreamEvent]) -> list[StreamEvent]:
        draft = run.draft()
        extra = (CheckResult("early_abort", "hard", False, None, abort),) if abort else ()
        decision = self.engine.decider.decide(draft, self.context(run), extra)
        self.decision = decision
        signals = {k: {"tier": v.tier, "logprobs": list(v.logprobs)} for k, v in self.signals.items()}
        record = DecisionRecord(**decision.to_dict(), tier=run.tier.name, complexity=self.route.complexity,
                                draft=run.draft_record(), signals=signals)
        out = [self.events.make(self.events.decision, record.to_dict(), run.tier.model, run.phase)]
        if not decision.accepted:
            run.finish("aborted" if abort else "rejected")
            if not self._over_budget(run, index):
                out.append(self._switch(run, index, decision.reason, "early_abort" if abort else "rejected"))
                return out
            self.budget_exhausted = True  # the rejected draft is the best answer the budget allows
        else:
            run.finish("accepted")
        if held and self.first_shown is None:
            self.first_shown = self.clock()
        self.done = True
        return [*out, *held, self._complete()]

    def _over_budget(self, run: TierRun, index: int) -> bool:
        """Would calling the next tier pass the budget? Its cost is priced from this call:
        the same prompt tokens at the next tier's input price, and the request's
        max_tokens (else as many tokens as this tier wrote, else BUDGET_OUTPUT_GUESS)
        at its output price."""
        budget = self.engine.budget
        if budget is None:
            return False
        usage = run.usage()
        prompt = usage.input_tokens or self.prompt_chars // CHARS_PER_TOKEN
        output = self.request(index + 1, run).max_tokens or usage.output_tokens or BUDGET_OUTPUT_GUESS
        spent = total_cost(self.spent)
        step = cost_usd(Usage(prompt, output, 0, True), self.engine.prices[index + 1])
        if spent is None or step is None:  # prices are checked before any query; unknown is never zero
            return True
        return spent + step > budget

    def _switch(self, run: TierRun, index: int, reason: str, kind: str) -> StreamEvent:
        nxt = self.config.tiers[index + 1]
        partial = run.draft_record() if kind == "provider_error" and run.started_output else None
        record = SwitchRecord(run.tier.model, nxt.model, run.tier.name, nxt.name, reason, kind, run.shown > 0, partial)
        return self.events.make(self.events.switch, record.to_dict(), run.tier.model, run.phase)

    def failed(self, run: TierRun, index: int, exc: ProviderError) -> list[StreamEvent]:
        run.error = exc.to_dict()
        run.finish("failed")
        reason = f"provider error ({exc.kind}): {exc}"
        over = index < self.last and self._over_budget(run, index)
        if index < self.last and not over:
            return [self._switch(run, index, reason, "provider_error")]
        self.done = True
        errors = [{"tier": r.tier.name, **r.error} for r in self.runs if r.error]
        message = f"the budget left no tier to fail over to; {reason}" if over else f"every tier failed; last: {reason}"
        record = ErrorRecord(
            message, "budget_exhausted" if over else exc.kind, errors, [r.record() for r in self.spent],
            total_cost(self.spent), run.shown > 0, run.draft_record() if run.started_output else None,
        )
        return [self.events.make(self.events.error, record.to_dict(), run.tier.model, run.phase)]

    def _complete(self) -> StreamEvent:
        result = self.result()
        final = self.runs[-1]
        return self.events.make(self.events.complete, {"result": result.to_dict()}, final.tier.model, final.phase)

    def result(self) -> CascadeResult:
        final = self.runs[-1]
        usages = [r.usage() for r in self.spent]
        vo_cost, vo_estimated = self._verifier_only()
        now = self.clock()
        drafts = final.tools.drafts()
        return CascadeResult(
            content=final.text,
            model_used=final.tier.model,
            tier_used=final.tier.name,
            draft_accepted=final.status == "accepted",
            routing_strategy=self.route.strategy,
            complexity=self.route.complexity,
            total_cost=total_cost(self.spent),
            latency_ms=round((now - self.t0) * 1000.0, 3),
            ttft_ms=None if self.first_shown is None else round((self.first_shown - self.t0) * 1000.0, 3),
            tiers=[r.record().to_dict() for r in self.spent],
            tool_calls=[{"id": d.id, "name": d.name, "arguments": d.arguments} for d in drafts if d.complete],
            incomplete_tool_calls=[_incomplete(d) for d in drafts if not d.complete],
            decision=None if self.decision is None else self.decision.to_dict(),
            verifier_only_cost=vo_cost,
            verifier_only_cost_estimated=vo_estimated,
            finish_reason=final.finish_reason,
            input_tokens=sum(u.input_tokens for u in usages),
            output_tokens=sum(u.output_tokens for u in usages),
            tokens_estimated=any(u.estimated for u in usages),
            budget_exhausted=self.budget_exhausted,
        )

    def _verifier_only(self) -> tuple[float | None, bool]:
        """The cost of sending this query to the last tier alone: measured when the
        last tier answered it, else priced from the answering tier's token counts."""
        last = [r for r in self.runs if r.index == self.last and r.status == "answered"]
        if last:
            return last[0].cost(), False
        usage = self.runs[-1].usage()
        estimate = Usage(usage.input_tokens, usage.output_tokens, 0, True)
        return cost_usd(estimate, self.engine.prices[self.last]), True


def _first(*values: Any) -> Any:
    for value in values:
        if value is not None:
            return value
    return None


def _wire_choice(choice: Any) -> Any:
    """The neutral form providers take: "auto" | "required" | "none" | {"name": X}."""
    if choice is None:
        return None
    return {"name": choice.name} if choice.mode == "function" else choice.mode


def _incomplete(draft: Any) -> dict[str, Any]:
    return {"id": draft.id, "name": draft.name, "raw_arguments": draft.raw_arguments, "error": draft.parse_error}
