"""One eval query: run it through an agent with tracing, judge it if asked, score it.

Run kinds: `cascade` (the cascade as configured), `drafter` (the first tier
alone) and `verifier` (the last tier alone). Every line of a query carries its
kind as `run`, and the query id is the evalset item's id.
"""
from __future__ import annotations

from contextlib import aclosing
from dataclasses import dataclass, replace
from typing import Any, Mapping

from cascadectl.config.model import CascadeConfig
from cascadectl.errors import CascadeError, ConfigError
from cascadectl.evals.evalset import EvalItem
from cascadectl.evals.judge import Judges
from cascadectl.evals.scorers import Score, score_answer
from cascadectl.traces.records import ErrorRecord
from cascadectl.traces.writer import QueryTrace, TraceWriter

RUN_KINDS = ("cascade", "drafter", "verifier")
BASELINES = ("drafter", "verifier")


@dataclass(frozen=True)
class Job:
    kind: str
    item: EvalItem


@dataclass(frozen=True)
class Outcome:
    kind: str
    result: Mapping[str, Any] | None  # what COMPLETE carried; None when the query failed
    failed: bool
    score: Score
    cost: float | None  # the query's cost plus the judge's; None when a price is unknown


def kind_config(config: CascadeConfig, kind: str) -> CascadeConfig:
    """The cascade itself, or one of its ends alone for a measured baseline."""
    if kind == "cascade":
        return config
    tier = config.tiers[0] if kind == "drafter" else config.tiers[-1]
    return replace(config, tiers=(tier,), name=f"{config.name}:{kind}")


def query_args(item: EvalItem, tools: Any = None) -> dict[str, Any]:
    """The item as stream_events arguments. An item with canned `tool_results`, or any
    item when the run has `tools` (a ToolExecutor, `--tools`), runs the tool loop; a
    call the canned results do not cover goes to `tools`."""
    args: dict[str, Any] = {
        "query": item.query,
        "messages": [dict(m) for m in item.messages] or None,
        "complexity_hint": item.complexity_hint,
        "tools": [dict(t) for t in item.tools] or None,
        "tool_choice": item.tool_choice,
        "max_tokens": item.max_tokens,
    }
    if item.tool_results or tools is not None:
        from cascadectl.tools.canned import CannedTools

        args["tool_executor"] = CannedTools(item.tool_results, tools) if item.tool_results else tools
        if item.max_steps is not None:
            args["max_steps"] = item.max_steps
    return args


async def run_job(
    job: Job, agent: Any, writer: TraceWriter, judges: Judges, labels: Mapping[str, Any] | None = None,
    tools: Any = None,
) -> Outcome:
    """`labels` (e.g. evalset and cascade names) go into the query line next to the item."""
    item = job.item
    qtrace = writer.query(item.id, {"run": job.kind})
    result, error = await _stream(agent, item, qtrace, {**(labels or {}), "item": item.to_dict()}, tools)
    verdict = None
    if item.scorer == "judge" and result is not None:
        verdict = await judges.ask(item, str(result.get("content") or ""))
    score = score_answer(item.to_dict(), result, judge=None if verdict is None else verdict.verdict)
    data = score.to_dict()
    if verdict is not None:
        data.update(detail=_join(data["detail"], verdict.describe()), judge=verdict.to_dict())
    qtrace.record("score", data)
    cost = _cost(result, error, None if verdict is None else verdict)
    return Outcome(job.kind, result, result is None, score, cost)


async def _stream(
    agent: Any, item: EvalItem, qtrace: QueryTrace, query_data: Mapping[str, Any], tools: Any
) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """(result, None) or (None, error data). A problem with this one query (bad
    input for it) is recorded as its error; a broken setup (ConfigError) stops the run."""
    result: dict[str, Any] | None = None
    error: dict[str, Any] | None = None
    events = agent.stream_events(**query_args(item, tools), trace=qtrace, trace_query_data=query_data)
    try:
        async with aclosing(events) as stream:
            async for event in stream:
                kind = event.type.value
                if kind == "complete":
                    result = event.data["result"]
                elif kind == "error":
                    error = event.data
    except ConfigError:
        raise
    except CascadeError as exc:
        error = _record_failure(qtrace, item, exc, query_data)
    return result, error


def _record_failure(qtrace: QueryTrace, item: EvalItem, exc: CascadeError, query_data: Mapping[str, Any]) -> dict[str, Any]:
    if qtrace.seq == 0:  # failed before the engine wrote the query line
        qtrace.start({"query": item.query or "", "messages": [dict(m) for m in item.messages], **query_data})
    data = ErrorRecord(str(exc), "input").to_dict()
    qtrace.record("error", data)
    return data


def _cost(result: Mapping[str, Any] | None, error: Mapping[str, Any] | None, verdict: Any) -> float | None:
    source = result if result is not None else error or {}
    costs = [source.get("total_cost")]
    if verdict is not None:
        costs.append(verdict.cost)
    return None if any(c is None for c in costs) else float(sum(costs))


def _join(*parts: str) -> str:
    return "; ".join(p for p in parts if p)
