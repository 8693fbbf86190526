"""Reading eval traces back for a replay: per (run, query id), the last attempt that finished.

Chunk lines are skipped unparsed (a replay needs only the query, routing,
decision, switch, result and score lines), so a large trace loads in seconds.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

from cascadectl.errors import UsageError
from cascadectl.traces.reader import read_trace

WANTED = frozenset({"query", "routing", "draft_decision", "switch", "complete", "error", "score"})


@dataclass
class Attempt:
    run: str
    query_id: str
    lines: list[dict[str, Any]] = field(default_factory=list)

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
    def finished(self) -> bool:
        return self.result is not None or self.error is not None

    @property
    def run_id(self) -> str:
        return str(self.lines[0].get("run_id", "")) if self.lines else ""


@dataclass(frozen=True)
class Recorded:
    attempts: dict[tuple[str, str], Attempt]  # (run, query id) -> last finished attempt
    order: list[str]  # query ids in first-seen order

    def get(self, run: str, query_id: str) -> Attempt | None:
        return self.attempts.get((run, query_id))


def load_recorded(paths: Sequence[Path]) -> Recorded:
    current: dict[tuple[str, str], Attempt] = {}
    finished: dict[tuple[str, str], Attempt] = {}
    order: dict[str, None] = {}
    for path in paths:
        for line in read_trace(path, WANTED):
            key = (str(line.get("run") or "cascade"), str(line["query_id"]))
            if line["type"] == "query":
                _retire(current, finished, key)
                current[key] = Attempt(*key)
                order.setdefault(key[1])
            current.setdefault(key, Attempt(*key)).lines.append(line)
    for key in list(current):
        _retire(current, finished, key)
    return Recorded(finished, list(order))


def _retire(current: dict[tuple[str, str], Attempt], finished: dict[tuple[str, str], Attempt], key: tuple[str, str]) -> None:
    attempt = current.pop(key, None)
    if attempt is not None and attempt.finished:
        finished[key] = attempt


def trace_paths(paths: Sequence[Path]) -> list[Path]:
    """Trace files from the arguments: a file as is, a directory's traces.jsonl."""
    out: list[Path] = []
    for path in paths:
        candidate = path / "traces.jsonl" if path.is_dir() else path
        if not candidate.is_file():
            raise UsageError(f"{path}: no trace file there (give a traces.jsonl or the eval's out directory)")
        out.append(candidate)
    return out
