"""Reading traces back: whole lines only; a torn last line (an interrupted write) is skipped."""
from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any, Iterator

from cascadectl.errors import UsageError

TRACE_SCHEMA_FILE = "trace-line.schema.json"


def trace_schema_text() -> str:
    return resources.files("cascadectl.traces").joinpath(TRACE_SCHEMA_FILE).read_text(encoding="utf-8")


@lru_cache(maxsize=1)
def trace_validator() -> Any:
    import jsonschema

    return jsonschema.Draft202012Validator(json.loads(trace_schema_text()))


def read_trace(path: str | Path) -> Iterator[dict[str, Any]]:
    """Yield each line as a dict. A bad line in the middle is an error naming file and line."""
    path = Path(path)
    try:
        handle = path.open(encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"{path}: cannot read trace ({exc.strerror})") from None
    with handle:
        for number, line in enumerate(handle, start=1):
            if not line.endswith("\n"):
                return  # torn final line of an interrupted run
            if line.strip():
                yield _parse(path, number, line)


def _parse(path: Path, number: int, line: str) -> dict[str, Any]:
    try:
        record = json.loads(line)
    except ValueError as exc:
        raise UsageError(f"{path}:{number}: not a JSON trace line ({exc.msg} at column {exc.colno})") from None
    if not isinstance(record, dict):
        raise UsageError(f"{path}:{number}: a trace line must be a JSON object")
    return record


def trace_line_problems(record: dict[str, Any]) -> list[str]:
    return [f"{'/'.join(map(str, e.absolute_path)) or '$'}: {e.message}" for e in trace_validator().iter_errors(record)]
