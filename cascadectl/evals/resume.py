"""What an earlier, interrupted run of the same out dir already finished.

Finished is what traces/attempts.py says (the one definition: a result line and,
for an eval query, its score line); anything else, such as a query cut off
mid-stream, runs again.
"""
from __future__ import annotations

import os
from contextlib import closing
from pathlib import Path
from typing import BinaryIO, NamedTuple

from cascadectl.traces.attempts import read_attempts
from cascadectl.traces.reader import read_trace


class PriorRun(NamedTuple):
    run_id: str | None  # reused so that the resumed lines belong to the same run
    scored: frozenset[tuple[str, str]]  # (run kind, query id)
    torn_bytes: int  # bytes of a half-written last line that were dropped


def scan_prior_run(traces: Path) -> PriorRun:
    if not traces.exists():
        return PriorRun(None, frozenset(), 0)
    torn = drop_torn_tail(traces)
    with closing(read_trace(traces, frozenset({"query"}))) as lines:
        first = next(lines, None)
    run_id = str(first["run_id"]) if first is not None and first.get("run_id") else None
    return PriorRun(run_id, read_attempts([traces]).finished_keys(), torn)


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
