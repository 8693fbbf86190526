from __future__ import annotations

from cascadectl.traces.reader import read_trace, trace_line_problems, trace_schema_text
from cascadectl.traces.writer import TRACE_SCHEMA_VERSION, QueryTrace, TraceWriter, new_run_id

__all__ = [
    "TRACE_SCHEMA_VERSION",
    "QueryTrace",
    "TraceWriter",
    "new_run_id",
    "read_trace",
    "trace_line_problems",
    "trace_schema_text",
]
