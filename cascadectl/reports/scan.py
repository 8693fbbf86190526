"""The report's pass over traces: each query's attempt that counts (traces/attempts.py,
the one reader, with its one definition of a finished query), boiled down at once to
the few fields a report reads, so memory grows with the number of queries, not of
lines. Chunk lines are never parsed.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

from cascadectl.traces.attempts import QUERY_LINES, Attempt, read_attempts

RUN_ORDER = ("cascade", "drafter", "verifier")
_RESULT_KEYS = (
    "content", "tool_calls", "total_cost", "verifier_only_cost", "verifier_only_cost_estimated",
    "latency_ms", "ttft_ms", "draft_accepted", "routing_strategy", "complexity", "model_used",
    "input_tokens", "output_tokens",
)
_TIER_KEYS = ("tier", "model", "phase", "status", "input_tokens", "output_tokens", "cost", "latency_ms", "ttft_ms")


@dataclass
class QueryRecord:
    """What one attempt at one (run, query_id) left in the trace."""

    run: str
    query_id: str
    run_id: str = ""
    item: dict[str, Any] | None = None
    query: str = ""
    routing: dict[str, Any] | None = None
    decisions: list[dict[str, Any]] = field(default_factory=list)
    switches: list[str] = field(default_factory=list)
    result: dict[str, Any] | None = None
    error: dict[str, Any] | None = None
    score: dict[str, Any] | None = None
    finished: bool = False  # as traces/attempts.py defines it


@dataclass(frozen=True)
class Scan:
    records: list[QueryRecord]  # sorted by run kind, then query id
    run_ids: list[str]
    evalsets: list[str]
    cascades: list[str]
    lines: int


def scan_traces(paths: Sequence[str | Path]) -> Scan:
    attempts = read_attempts(paths, QUERY_LINES, keep=_slim)
    records = [_record(attempt) for attempt in attempts.chosen.values()]
    records.sort(key=lambda r: (_run_rank(r.run), natural_key(r.query_id)))
    evalsets: set[str] = set()
    cascades: set[str] = set()
    for attempt in attempts.chosen.values():
        for names, name in ((evalsets, "evalset"), (cascades, "cascade")):
            value = attempt.query.get(name)
            if isinstance(value, str) and value:
                names.add(value)
    return Scan(records, attempts.run_ids, sorted(evalsets), sorted(cascades), attempts.lines)


def _slim(line: dict[str, Any]) -> dict[str, Any]:
    """Only what a report reads of a line: no messages, drafts or answer text."""
    data = line.get("data") if isinstance(line.get("data"), dict) else {}
    kind = line.get("type")
    if kind == "query":
        keep = {k: data.get(k) for k in ("query", "item", "evalset", "cascade") if k in data}
    elif kind == "draft_decision":
        keep = {k: data.get(k) for k in ("accepted", "score", "confidence", "tier")}
    elif kind == "complete":
        raw = data.get("result") if isinstance(data.get("result"), dict) else {}
        keep = {"result": {**{k: raw.get(k) for k in _RESULT_KEYS}, "tiers": _tiers(raw.get("tiers"))}}
    elif kind == "error":
        keep = {k: data.get(k) for k in ("error", "kind", "total_cost")} | {"tiers": _tiers(data.get("tiers"))}
    else:
        keep = data
    return {"type": kind, "query_id": line.get("query_id"), "run_id": line.get("run_id"), "data": keep}


def _record(attempt: Attempt) -> QueryRecord:
    record = QueryRecord(attempt.run, attempt.query_id, attempt.run_id)
    query = attempt.query
    item = query.get("item")
    record.item = dict(item) if isinstance(item, dict) else None
    record.query = str(query.get("query") or "")
    record.finished = attempt.finished
    for line in attempt.lines:
        handler = _HANDLERS.get(str(line.get("type")))
        if handler is not None:
            handler(record, line["data"] if isinstance(line.get("data"), dict) else {})
    return record


def _on_routing(attempt: QueryRecord, data: dict[str, Any]) -> None:
    attempt.routing = {"strategy": data.get("strategy"), "complexity": data.get("complexity")}


def _on_decision(attempt: QueryRecord, data: dict[str, Any]) -> None:
    keep = ("accepted", "score", "confidence", "tier")
    attempt.decisions.append({k: data.get(k) for k in keep})


def _on_switch(attempt: QueryRecord, data: dict[str, Any]) -> None:
    attempt.switches.append(str(data.get("kind") or ""))


def _on_complete(attempt: QueryRecord, data: dict[str, Any]) -> None:
    raw = data.get("result") if isinstance(data.get("result"), dict) else {}
    result = {k: raw.get(k) for k in _RESULT_KEYS}
    result["tiers"] = _tiers(raw.get("tiers"))
    attempt.result, attempt.error = result, None


def _on_error(attempt: QueryRecord, data: dict[str, Any]) -> None:
    error = {"error": str(data.get("error") or ""), "kind": str(data.get("kind") or "error")}
    error.update(total_cost=data.get("total_cost"), tiers=_tiers(data.get("tiers")))
    attempt.error, attempt.result = error, None


def _on_score(attempt: QueryRecord, data: dict[str, Any]) -> None:
    attempt.score = {k: data.get(k) for k in ("scorer", "score", "correct", "detail")}


def _tiers(raw: Any) -> list[dict[str, Any]]:
    if not isinstance(raw, list):
        return []
    return [{k: tier.get(k) for k in _TIER_KEYS} for tier in raw if isinstance(tier, dict)]


_HANDLERS: dict[str, Callable[[QueryRecord, dict[str, Any]], None]] = {
    "routing": _on_routing,
    "draft_decision": _on_decision,
    "switch": _on_switch,
    "complete": _on_complete,
    "error": _on_error,
    "score": _on_score,
}


def _run_rank(run: str) -> tuple[int, str]:
    return (RUN_ORDER.index(run), "") if run in RUN_ORDER else (len(RUN_ORDER), run)


def natural_key(text: str) -> tuple[Any, ...]:
    """q2 before q10."""
    return tuple((0, int(part), "") if part.isdigit() else (1, 0, part) for part in re.split(r"(\d+)", text) if part)


def ordered_runs(runs: Iterable[str]) -> list[str]:
    return sorted(set(runs), key=_run_rank)
