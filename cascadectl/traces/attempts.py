"""Queries read back from traces, as attempts: the one reader that report, replay and
resume share, with the one definition of a finished query.

A (run, query_id) pair may appear more than once: a resumed run re-runs an
interrupted query, merged traces may repeat one. A `query` line starts a new
attempt. An attempt is **finished** when it has its result line (`complete` or
`error`) and, for an eval query (its query line carries an evalset `item`), its
`score` line too, the last line an eval writes for a query. The attempt that counts
for a pair is the last finished one, else the last one (which then counts as not run).

Only the lines of the wanted types are parsed; chunk lines, most of a trace, are
skipped without parsing JSON. `keep` may slim each kept line (a report drops what
it never reads), so memory grows with queries, not lines.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, AbstractSet, Callable, Iterable, Mapping, Sequence

from cascadectl.traces.reader import TraceFile
from cascadectl.traces.records import CascadeResult, DecisionRecord, ErrorRecord, SwitchRecord, TierRecord

QUERY_LINES = frozenset({"query", "routing", "draft_decision", "switch", "complete", "error", "score"})
LOOP_LINES = frozenset({"step", "tool_result", "tool_error"})  # the tool loop's, which a replay reads
Line = dict[str, Any]


@dataclass
class Attempt:
    run: str  # cascade, or an eval's baseline run kind (drafter, verifier)
    query_id: str
    run_id: str = ""
    lines: list[Line] = field(default_factory=list)

    def first(self, kind: str) -> dict[str, Any] | None:
        return next((line["data"] for line in self.lines if line.get("type") == kind), None)

    def all(self, kind: str) -> list[dict[str, Any]]:
        return [line["data"] for line in self.lines if line.get("type") == kind]

    @property
    def query(self) -> dict[str, Any]:
        return self.first("query") or {}

    @property
    def result(self) -> dict[str, Any] | None:
        complete = self.first("complete")
        return None if complete is None else complete.get("result")

    @property
    def error(self) -> dict[str, Any] | None:
        return self.first("error")

    @property
    def score(self) -> dict[str, Any] | None:
        return self.first("score")

    @property
    def finished(self) -> bool:
        ended = self.result is not None or self.error is not None
        return ended and (self.score is not None or not self.query.get("item"))

    def result_record(self) -> CascadeResult | None:
        result = self.result
        return None if result is None else CascadeResult.from_dict(result)

    def error_record(self) -> ErrorRecord | None:
        error = self.error
        return None if error is None else ErrorRecord.from_dict(error)

    def tier_records(self) -> list[TierRecord]:
        source = self.result or self.error or {}
        return [TierRecord.from_dict(t) for t in source.get("tiers") or () if isinstance(t, Mapping)]

    def decisions(self) -> list[DecisionRecord]:
        return [DecisionRecord.from_dict(d) for d in self.all("draft_decision")]

    def switches(self) -> list[SwitchRecord]:
        return [SwitchRecord.from_dict(s) for s in self.all("switch")]

    @property
    def looped(self) -> bool:
        """Run through the tool loop: its result lists steps."""
        return bool((self.result or self.error or {}).get("steps"))

    def steps(self) -> list[Attempt]:
        """A tool-loop query as one attempt per step, each ending in that step's own result
        (a `step` line's, or for the last step the final result with that step's tiers),
        so that what reads one-step attempts reads each step alike."""
        if not self.looped:
            return [self]
        ends = {int(line["data"]["step"]): line["data"]["result"] for line in self.lines if line.get("type") == "step"}
        last = max([int(line.get("step") or 0) for line in self.lines] or [0])
        out = []
        for step in range(last + 1):
            lines = [l for l in self.lines if int(l.get("step") or 0) == step and l.get("type") not in ("step", "complete", "error", "score", "query")]
            if step in ends:
                end = {"type": "complete", "data": {"result": ends[step]}}
            else:
                end = self._last_step_end(step)
            query = {k: v for k, v in self.query.items() if k != "item"}  # finished without a score line
            out.append(Attempt(self.run, self.query_id, self.run_id, [{"type": "query", "data": query}, *lines, end]))
        return out

    def _last_step_end(self, step: int) -> Line:
        kind = "complete" if self.result is not None else "error"
        source = dict(self.result if self.result is not None else self.error or {})
        source["tiers"] = [t for t in source.get("tiers") or () if int(t.get("step") or 0) == step]
        return {"type": kind, "data": {"result": source} if kind == "complete" else source}

    def tool_outcomes(self) -> list[dict[str, Any]]:
        """What each tool call returned, as canned results: {name, arguments, result | error}."""
        out = []
        for line in self.lines:
            if line.get("type") in ("tool_result", "tool_error"):
                d = line["data"]
                entry = {"name": d.get("name"), "arguments": d.get("arguments")}
                entry.update({"error": d["error"]} if d.get("error") is not None else {"result": d.get("result", d.get("content"))})
                out.append(entry)
        return out


@dataclass(frozen=True)
class Attempts:
    chosen: dict[tuple[str, str], Attempt]  # (run, query id) -> the attempt that counts
    order: list[str]  # query ids in first-seen order
    lines: int  # lines read

    def get(self, run: str, query_id: str) -> Attempt | None:
        return self.chosen.get((run, query_id))

    def finished(self, run: str, query_id: str) -> Attempt | None:
        attempt = self.get(run, query_id)
        return attempt if attempt is not None and attempt.finished else None

    def finished_keys(self) -> frozenset[tuple[str, str]]:
        return frozenset(key for key, attempt in self.chosen.items() if attempt.finished)

    @property
    def run_ids(self) -> list[str]:
        return sorted({a.run_id for a in self.chosen.values() if a.run_id})


def read_attempts(
    paths: Iterable[str | Path],
    types: AbstractSet[str] = QUERY_LINES | LOOP_LINES,
    keep: Callable[[Line], Line] | None = None,
) -> Attempts:
    reader = _Reader(keep)
    for path in paths:
        trace = TraceFile(path)
        for line in trace.records(types | {"query"}):
            reader.feed(line)
        reader.lines += trace.lines
    return reader.result()


class _Reader:
    def __init__(self, keep: Callable[[Line], Line] | None) -> None:
        self.keep = keep
        self.current: dict[tuple[str, str], Attempt] = {}
        self.done: dict[tuple[str, str], Attempt] = {}
        self.order: dict[str, None] = {}
        self.lines = 0

    def feed(self, line: Line) -> None:
        key = (str(line.get("run") or "cascade"), str(line["query_id"]))
        if line["type"] == "query":
            self._retire(key)
            self.order.setdefault(key[1])
        attempt = self.current.get(key)
        if attempt is None:
            attempt = self.current[key] = Attempt(key[0], key[1], str(line.get("run_id") or ""))
        attempt.lines.append(self.keep(line) if self.keep is not None else line)

    def _retire(self, key: tuple[str, str]) -> None:
        previous = self.current.pop(key, None)
        if previous is not None and previous.finished:
            self.done[key] = previous

    def result(self) -> Attempts:
        chosen: dict[tuple[str, str], Attempt] = {}
        for key in set(self.current) | set(self.done):
            current = self.current.get(key)
            use_current = current is not None and (current.finished or key not in self.done)
            chosen[key] = current if use_current else self.done[key]  # type: ignore[assignment]
        return Attempts(chosen, list(self.order), self.lines)


def trace_paths(paths: Sequence[Path]) -> list[Path]:
    """Trace files from arguments: a file as is, a directory's traces.jsonl."""
    from cascadectl.errors import UsageError

    out: list[Path] = []
    for path in paths:
        candidate = path / "traces.jsonl" if path.is_dir() else path
        if not candidate.is_file():
            raise UsageError(f"{path}: no trace file there (give a traces.jsonl or the eval's out directory)")
        out.append(candidate)
    return out
