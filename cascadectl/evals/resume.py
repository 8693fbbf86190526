"""What an earlier, interrupted run of the same out dir already finished.

A (run, query_id) pair is finished when it has a `score` line; anything else
(a query cut off mid-stream, with no complete/error/score line) runs again.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import BinaryIO, NamedTuple

from cascadectl.traces.reader import read_trace


class PriorRun(NamedTuple):
    run_id: str | None  # reused so that the resumed lines belong to the same run
    scored: frozenset[tuple[str, str]]  # (run kind, query id)
    torn_bytes: int  # bytes of a half-written last line that were dropped


def scan_prior_run(traces: Path) -> PriorRun:
    if not traces.exists():
        return PriorRun(None, frozenset(), 0)
    torn = drop_torn_tail(traces)
    run_id: str | None = None
    scored: set[tuple[str, str]] = set()
    for line in read_trace(traces):
        run_id = run_id or line.get("run_id")
        if line.get("type") == "score":
            scored.add((str(line.get("run", "cascade")), str(line.get("query_id"))))
    return PriorRun(run_id, frozenset(scored), torn)


def drop_torn_tail(path: Path) -> int:
    """Cut a half-written last line (a run killed mid-write) so that appending starts
    on a fresh line. The fragment was never a line, so no recorded line changes."""
    size = path.stat().st_size
    if size == 0:
        return 0
    with path.open("rb") as handle:
        keep = _last_newline_end(handle, size)
    if keep < size:
        os.truncate(path, keep)
    return size - keep


def _last_newline_end(handle: BinaryIO, size: int) -> int:
    """Offset just past the last b"\\n", reading backwards in blocks."""
    block = 1 << 16
    end = size
    while end > 0:
        start = max(0, end - block)
        handle.seek(start)
        data = handle.read(end - start)
        found = data.rfind(b"\n")
        if found >= 0:
            return start + found + 1
        end = start
    return 0
