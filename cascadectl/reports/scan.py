"""One pass over eval traces, keeping only the few lines per query a report needs.

A trace is mostly chunk lines. Those are recognised by the line's `"type": "..."`
(the writer puts `type` before `data`, so the first occurrence is the line's own
type) and skipped without parsing JSON; only query, routing, draft_decision,
switch, complete, error and score lines are parsed, and each is boiled down to a
few fields at once, so memory grows with the number of queries, not of lines.

Attempts: a (run, query_id) pair may appear more than once (a resumed run re-runs
an interrupted query; merged runs may repeat one). A new `query` line starts a new
attempt; the report uses the last attempt that finished (has complete or error),
else the last one, which then counts as not run.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

from cascadectl.traces.reader import TraceFile

WANTED = frozenset({"query", "routing", "draft_decision", "switch", "complete", "error", "score"})
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

    @property
    def finished(self) -> bool:
        return self.result is not None or self.error is not None


@dataclass(frozen=True)
class Scan:
    records: list[QueryRecord]  # sorted by run kind, then query id
    run_ids: list[str]
    evalsets: list[str]
    cascades: list[str]
    lines: int


def scan_traces(paths: Sequence[str | Path]) -> Scan:
    scanner = _Scanner()
    for path in paths:
        trace = TraceFile(path)
        for record in trace.records(WANTED):
            scanner.feed(record)
        scanner.lines += trace.lines
    return scanner.result()


class _Scanner:
    def __init__(self) -> None:
        self.current: dict[tuple[str, str], QueryRecord] = {}
        self.done: dict[tuple[str, str], QueryRecord] = {}
        self.run_ids: set[str] = set()
        self.evalsets: set[str] = set()
        self.cascades: set[str] = set()
        self.lines = 0

    def feed(self, record: dict[str, Any]) -> None:
        key = (str(record.get("run") or "cascade"), str(record["query_id"]))
        data = record.get("data") if isinstance(record.get("data"), dict) else {}
        kind = record["type"]
        if kind == "query":
            self._start(key, record, data)
        else:
            _HANDLERS[kind](self._attempt(key, record), data)

    def _start(self, key: tuple[str, str], record: dict[str, Any], data: dict[str, Any]) -> None:
        self._retire(key)
        attempt = self._attempt(key, record)
        item = data.get("item")
        attempt.item = dict(item) if isinstance(item, dict) else None
        attempt.query = str(data.get("query") or "")
        for names, field_name in ((self.evalsets, "evalset"), (self.cascades, "cascade")):
            value = data.get(field_name) or record.get(field_name)
            if isinstance(value, str) and value:
                names.add(value)

    def _retire(self, key: tuple[str, str]) -> None:
        previous = self.current.pop(key, None)
        if previous is not None and previous.finished:
            self.done[key] = previous

    def _attempt(self, key: tuple[str, str], record: dict[str, Any]) -> QueryRecord:
        attempt = self.current.get(key)
        if attempt is None:
            run_id = str(record.get("run_id") or "")
            attempt = self.current[key] = QueryRecord(key[0], key[1], run_id)
            if run_id:
                self.run_ids.add(run_id)
        return attempt

    def result(self) -> Scan:
        keys = set(self.current) | set(self.done)
        chosen = [self._chosen(key) for key in keys]
        chosen.sort(key=lambda r: (_run_rank(r.run), natural_key(r.query_id)))
        return Scan(chosen, sorted(self.run_ids), sorted(self.evalsets), sorted(self.cascades), self.lines)

    def _chosen(self, key: tuple[str, str]) -> QueryRecord:
        current = self.current.get(key)
        if current is not None and (current.finished or key not in self.done):
            return current
        return self.done[key]


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
