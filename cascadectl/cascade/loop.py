"""The tool loop: with a tool executor, a query runs in steps until an answer asks for no tool.

Each step is a fresh cascade decision over the conversation so far, so the drafter
takes the easy steps and the verifier only the hard ones. A step's tool calls run
only once its answer is final (a rejected draft's calls never run). Each goes to
the executor; its result, or its error, goes back into the conversation as the
neutral tool message that providers convert (OpenAI `role: tool` with
`tool_call_id`, Anthropic `tool_result` blocks). A tool that raises, times out or
gets invalid arguments never ends the loop: the model reads the error.

Events of step k carry `step=k`. Per call the loop adds TOOL_EXECUTING, then
TOOL_RESULT or TOOL_ERROR. Only the last step's COMPLETE (or an ERROR) reaches the
consumer, carrying every step's record and the totals; the trace keeps each
intermediate step's result as a `step` line. The loop stops when an answer asks for
no tool (stop_reason "answered"), at `max_steps` ("max_steps": the last answer's
calls are reported, not run), or when the budget is spent ("budget_exhausted").
"""
from __future__ import annotations

import asyncio
import logging
from contextlib import aclosing
from dataclasses import dataclass, replace
from typing import Any, AsyncIterator, Callable, Mapping, Protocol

from cascadectl.cascade.engine import Clock, Engine, Query
from cascadectl.quality.toolchecks import call_key
from cascadectl.streaming.events import StreamEvent, ToolStreamEvent, ToolStreamEventType
from cascadectl.tools.executor import ToolResult
from cascadectl.traces.records import CascadeResult, StepRecord
from cascadectl.traces.writer import QueryTrace

log = logging.getLogger("cascadectl.loop")
T = ToolStreamEventType
_CHUNKS = frozenset({"chunk", "text_chunk"})


class ToolRunner(Protocol):
    """What the loop needs of an executor: ToolExecutor, or canned results (evals)."""

    async def execute(self, call: Mapping[str, Any]) -> ToolResult: ...


@dataclass(frozen=True)
class LoopPlan:
    executor: ToolRunner
    max_steps: int = 8
    budget: float | None = None  # USD for the whole task, every step included
    on_step: Callable[[int, list[dict[str, Any]]], None] | None = None  # (step, calls so far): a replay's deck


async def tool_loop(
    make_engine: Callable[[float | None], Engine],
    query: Query,
    plan: LoopPlan,
    trace: QueryTrace | None,
    clock: Clock,
) -> AsyncIterator[StreamEvent]:
    """`make_engine(budget_left)` gives the engine for one step."""
    loop = _Loop(query, plan, clock)
    for step in range(plan.max_steps):
        if trace is not None:
            trace.extra["step"] = step  # on every line of this step
        if step and loop.budget_spent():
            yield loop.finish(loop.last_event, "budget_exhausted", trace)
            return
        if plan.on_step is not None:
            plan.on_step(step, [dict(c) for r in loop.records for c in r.tool_calls])
        final: StreamEvent | None = None
        engine = make_engine(loop.budget_left())
        async with aclosing(engine.stream(loop.query(), _StepTrace(trace) if trace else None)) as events:
            async for event in events:
                event.step = step
                kind = event.type.value
                if kind == "complete":
                    final = event
                elif kind == "error":
                    yield loop.failed(event, trace)
                    return
                else:
                    if loop.first_shown is None and kind in _CHUNKS:
                        loop.first_shown = clock()
                    yield event
        assert final is not None  # the engine ends every stream in COMPLETE or ERROR
        result = final.data["result"]
        loop.add(step, result, final)
        calls = result.get("tool_calls") or []
        if not calls or result.get("budget_exhausted"):
            yield loop.finish(final, "budget_exhausted" if result.get("budget_exhausted") else "answered", trace)
            return
        if step == plan.max_steps - 1:
            log.warning("tool loop stopped at max_steps=%d with %d tool call(s) not run", plan.max_steps, len(calls))
            yield loop.finish(final, "max_steps", trace)
            return
        for event in loop.executing(calls, final):
            _record(trace, event)
            yield event
        outcomes = await asyncio.gather(*(_execute(plan.executor, call) for call in calls))
        for event in loop.outcomes(calls, outcomes, final):
            _record(trace, event)
            yield event
        if trace is not None:  # the finished step: what it answered and the tools it ran
            trace.record("step", {"step": step, "record": loop.records[-1].to_dict(), "result": result})


class _Loop:
    def __init__(self, query: Query, plan: LoopPlan, clock: Clock) -> None:
        self.base = query
        self.plan = plan
        self.clock = clock
        self.started = clock()
        self.first_shown: float | None = None
        self.conversation = list(query.messages)
        self.results: list[dict[str, Any]] = []
        self.records: list[StepRecord] = []
        self.last_event: StreamEvent | None = None

    def query(self) -> Query:
        made = frozenset(call_key(c.get("name"), c.get("arguments")) for r in self.records for c in r.tool_calls)
        return replace(self.base, messages=tuple(self.conversation), made_calls=made)

    def spent(self) -> float | None:
        return _sum([r.get("total_cost") for r in self.results])

    def budget_left(self) -> float | None:
        if self.plan.budget is None:
            return None
        spent = self.spent()
        return 0.0 if spent is None else self.plan.budget - spent

    def budget_spent(self) -> bool:
        left = self.budget_left()
        return left is not None and left <= 0

    def add(self, step: int, result: Mapping[str, Any], event: StreamEvent) -> None:
        self.results.append(dict(result))
        self.last_event = event
        self.records.append(StepRecord(
            step, result["model_used"], result["tier_used"], bool(result["draft_accepted"]),
            result.get("total_cost"), result.get("verifier_only_cost"), float(result.get("latency_ms") or 0.0),
            int(result.get("input_tokens") or 0), int(result.get("output_tokens") or 0),
            str(result.get("content") or ""), list(result.get("tool_calls") or ()), (),
            bool(result.get("budget_exhausted")),
        ))
        self.conversation.append(_assistant_message(result))

    def executing(self, calls: list[Mapping[str, Any]], final: StreamEvent) -> list[StreamEvent]:
        return [self._event(T.TOOL_EXECUTING, {"id": c.get("id"), "name": c.get("name"), "tool_call": dict(c)}, final)
                for c in calls]

    def outcomes(self, calls: list[Mapping[str, Any]], outcomes: list[ToolResult], final: StreamEvent) -> list[StreamEvent]:
        events, summaries = [], []
        for call, outcome in zip(calls, outcomes):
            content = outcome.content_text()
            summary = {"id": call.get("id"), "name": call.get("name"), "arguments": call.get("arguments"),
                       "content": content, "error": outcome.error, "execution_time_ms": outcome.execution_time_ms}
            summaries.append(summary)
            if outcome.error is None:
                events.append(self._event(T.TOOL_RESULT, {**summary, "result": outcome.result}, final))
            else:
                log.info("tool %s failed: %s", call.get("name"), outcome.error)
                events.append(self._event(T.TOOL_ERROR, summary, final))
            self.conversation.append(_tool_message(call, content, outcome.error is not None))
        self.records[-1] = replace(self.records[-1], tool_results=summaries)
        return events

    def _event(self, kind: ToolStreamEventType, data: dict[str, Any], final: StreamEvent) -> StreamEvent:
        return ToolStreamEvent(kind, "", data, final.model, final.phase, None, final.step)

    def finish(self, final: StreamEvent | None, stop: str, trace: QueryTrace | None) -> StreamEvent:
        assert final is not None
        final.data = {"result": self._merged(stop)}
        _record(trace, final)
        return final

    def failed(self, error: StreamEvent, trace: QueryTrace | None) -> StreamEvent:
        """Every tier of a step failed: the ERROR, with what every step spent."""
        data = dict(error.data)
        prior = [t for step, r in enumerate(self.results) for t in _tiers_of(r, step)]
        data["tiers"] = prior + [{**t, "step": error.step} for t in data.get("tiers") or ()]
        data["total_cost"] = _sum([self.spent(), data.get("total_cost")])
        data["steps"] = [r.to_dict() for r in self.records]
        error.data = data
        _record(trace, error)
        return error

    def _merged(self, stop: str) -> dict[str, Any]:
        last = dict(self.results[-1])
        now = self.clock()
        last.update(
            total_cost=self.spent(),
            verifier_only_cost=_sum([r.get("verifier_only_cost") for r in self.results]),
            verifier_only_cost_estimated=any(r.get("verifier_only_cost_estimated") for r in self.results),
            latency_ms=round((now - self.started) * 1000.0, 3),
            ttft_ms=None if self.first_shown is None else round((self.first_shown - self.started) * 1000.0, 3),
            tiers=[t for step, r in enumerate(self.results) for t in _tiers_of(r, step)],
            input_tokens=sum(int(r.get("input_tokens") or 0) for r in self.results),
            output_tokens=sum(int(r.get("output_tokens") or 0) for r in self.results),
            tokens_estimated=any(r.get("tokens_estimated") for r in self.results),
            budget_exhausted=stop == "budget_exhausted",
            stop_reason=stop,
            steps=[r.to_dict() for r in self.records],
        )
        return CascadeResult.from_dict(last).to_dict()


class _StepTrace:
    """A step's view of the query trace: every event but COMPLETE and ERROR, which the
    loop writes itself once it knows whether the task ends there."""

    __slots__ = ("trace",)

    def __init__(self, trace: QueryTrace) -> None:
        self.trace = trace

    def event(self, event: StreamEvent) -> None:
        if event.type.value not in ("complete", "error"):
            self.trace.event(event)

    def flush(self) -> None:
        self.trace.flush()


async def _execute(executor: ToolRunner, call: Mapping[str, Any]) -> ToolResult:
    """The executor's result; an executor that itself raises is the tool's error too."""
    try:
        return await executor.execute(call)
    except Exception as exc:  # a user's executor: its failure goes to the model, not up the loop
        return ToolResult(str(call.get("id") or ""), str(call.get("name") or ""), error=f"{type(exc).__name__}: {exc}")


def _assistant_message(result: Mapping[str, Any]) -> dict[str, Any]:
    calls = [{"id": c.get("id"), "name": c.get("name"), "arguments": c.get("arguments")} for c in result.get("tool_calls") or ()]
    message: dict[str, Any] = {"role": "assistant", "content": result.get("content") or None}
    if calls:
        message["tool_calls"] = calls
    return message


def _tool_message(call: Mapping[str, Any], content: str, is_error: bool) -> dict[str, Any]:
    message = {"role": "tool", "tool_call_id": call.get("id"), "name": call.get("name"), "content": content}
    if is_error:
        message["is_error"] = True
    return message


def _tiers_of(result: Mapping[str, Any], step: int) -> list[dict[str, Any]]:
    return [{**t, "step": step} for t in result.get("tiers") or ()]


def _sum(values: list[float | None]) -> float | None:
    return None if any(v is None for v in values) else round(sum(v for v in values if v is not None), 10)


def _record(trace: QueryTrace | None, event: StreamEvent) -> None:
    if trace is not None:
        trace.event(event)
