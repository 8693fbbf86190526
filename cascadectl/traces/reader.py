"""Reading traces back: the one trace reader. Whole lines only; a torn last line
(an interrupted write) is skipped; a bad line elsewhere names its file and line."""
from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import AbstractSet, Any, Iterator

from cascadectl.errors import UsageError

TRACE_SCHEMA_FILE = "trace-line.schema.json"
# How json.dumps (the writer's default separators) and compact writers spell the key.
_TYPE_KEYS = ('"type": "', '"type":"')


def trace_schema_text() -> str:
    return resources.files("cascadectl.traces").joinpath(TRACE_SCHEMA_FILE).read_text(encoding="utf-8")


@lru_cache(maxsize=1)
def trace_validator() -> Any:
    import jsonschema

    return jsonschema.Draft202012Validator(json.loads(trace_schema_text()))


def line_type(line: str) -> str | None:
    """A line's `type` without parsing it: the record's own `type` key is the
    first one on the line, since the writer puts it before `data`."""
    for key in _TYPE_KEYS:
        index = line.find(key)
        if index >= 0:
            start = index + len(key)
            return line[start : line.find('"', start)]
    return None


class TraceFile:
    """One trace file. `records(types)` parses only the lines of those types
    (chunk lines, most of a trace, are skipped with one find()); `lines` counts
    the lines read so far."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.lines = 0

    def records(self, types: AbstractSet[str] | None = None) -> Iterator[dict[str, Any]]:
        try:
            handle = self.path.open(encoding="utf-8")
        except OSError as exc:
            raise UsageError(f"{self.path}: cannot read trace ({exc.strerror})") from None
        with handle:
            for number, line in enumerate(handle, start=1):
                self.lines = number
                if not line.endswith("\n"):
                    return  # the torn last line of an interrupted run
                if types is not None:
                    kind = line_type(line)
                    if kind is not None and kind not in types:
                        continue  # a line with no type falls through to be reported
                if line.strip():
                    record = self._parse(number, line)
                    if types is None or record.get("type") in types:
                        yield record

    def _parse(self, number: int, line: str) -> dict[str, Any]:
        try:
            record = json.loads(line)
        except ValueError as exc:
            raise UsageError(f"{self.path}:{number}: not a JSON trace line ({exc.msg} at column {exc.colno})") from None
        if not isinstance(record, dict) or not isinstance(record.get("query_id"), (str, int)) or not isinstance(record.get("data"), dict):
            raise UsageError(f"{self.path}:{number}: not a trace line (expected a JSON object with query_id, type and data)")
        return record


def read_trace(path: str | Path, types: AbstractSet[str] | None = None) -> Iterator[dict[str, Any]]:
    """Yield each line (of the given types) as a dict."""
    return TraceFile(path).records(types)


def trace_line_problems(record: dict[str, Any]) -> list[str]:
    return [f"{'/'.join(map(str, e.absolute_path)) or '$'}: {e.message}" for e in trace_validator().iter_errors(record)]
