"""JSONL traces: one JSON object per line, append-only, whole lines only.

Lines are buffered per query and written with one write() per batch (at each
non-chunk event and at the end of the query), then flushed, so an interrupted
run leaves only whole lines behind.
"""
from __future__ import annotations

import json
import os
import threading
import time
import uuid
from pathlib import Path
from typing import IO, Any, Mapping

from cascadectl.streaming.events import StreamEvent

TRACE_SCHEMA_VERSION = 1
_BATCH = 64  # chunk lines held before a write
# A line's own keys, in order; `extra` keys that repeat one take the slow path.
_KEYS = frozenset(("v", "run_id", "query_id", "seq", "t_ms", "type", "phase", "model", "data", "content", "delta"))
_encode_str = json.encoder.encode_basestring  # a str, as json.dumps(..., ensure_ascii=False) writes it (C in CPython)
_SCALARS = (str, int, float, bool, type(None))  # exact types whose encoding a cache can keep
_NAME_TYPES = (str, type(None))  # phase and model values a text line's cached middle may hold
_MIDDLES: dict[Any, str] = {}  # a text line's type, phase, model and data, by (type, phase, model)


def new_run_id() -> str:
    return time.strftime("%Y%m%dT%H%M%S") + "-" + uuid.uuid4().hex[:8]


class TraceWriter:
    """Thread-safe JSONL writer shared by the CLI and the library (`trace=`)."""

    def __init__(self, target: str | os.PathLike[str] | IO[str], run_id: str | None = None) -> None:
        self.run_id = run_id or new_run_id()
        self._own = not hasattr(target, "write")
        if self._own:
            Path(target).parent.mkdir(parents=True, exist_ok=True)  # type: ignore[arg-type]
        self._file: IO[str] = open(target, "a", encoding="utf-8") if self._own else target  # type: ignore[arg-type]
        self._lock = threading.Lock()

    def query(self, query_id: str, extra: Mapping[str, Any] | None = None, hold: bool = False) -> QueryTrace:
        """A query's lines. With `hold`, nothing is written until `commit()` (a replay
        writes a query only once it knows the query replays)."""
        return QueryTrace(self, query_id, extra or {}, hold)

    def write_lines(self, lines: list[str]) -> None:
        if not lines:
            return
        with self._lock:
            self._file.write("".join(lines))
            self._file.flush()

    def close(self) -> None:
        if self._own and not self._file.closed:
            self._file.close()

    def __enter__(self) -> TraceWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class QueryTrace:
    """The lines of one query: `start` first (query and parameters), then every event."""

    def __init__(self, writer: TraceWriter, query_id: str, extra: Mapping[str, Any], hold: bool = False) -> None:
        self.writer = writer
        self.hold = hold
        self.query_id = query_id
        self.extra = dict(extra)
        self.seq = 0
        self.t0 = time.perf_counter()
        self.pending: list[str] = []
        self._head = (f'{{"v": {TRACE_SCHEMA_VERSION}, "run_id": {_encode(writer.run_id)}, '
                      f'"query_id": {_encode(query_id)}, "seq": ')
        self._extra_items: tuple[Any, ...] | None = None
        self._extra_tail = ""

    def _line(self, type_: str, phase: str | None, model: str | None, data: Mapping[str, Any], **more: Any) -> None:
        record = {
            "v": TRACE_SCHEMA_VERSION,
            "run_id": self.writer.run_id,
            "query_id": self.query_id,
            "seq": self.seq,
            "t_ms": round((time.perf_counter() - self.t0) * 1000.0, 3),
            "type": type_,
            "phase": phase,
            "model": model,
            "data": data,
            **more,
            **self.extra,
        }
        self.seq += 1
        self.pending.append(json.dumps(record, ensure_ascii=False, default=_jsonable) + "\n")

    def start(self, params: Mapping[str, Any]) -> None:
        self._line("query", None, None, dict(params))
        self.flush()

    def event(self, event: StreamEvent) -> None:
        content = event.content
        # A plain StreamEvent has no `delta` slot: getattr's miss would cost a caught AttributeError.
        delta = None if type(event) is StreamEvent else getattr(event, "delta", None)
        tail = self._tail() if content and type(content) is str and delta is None and not event.data else None
        if tail is not None:
            self._text_line(event, content, tail)
        else:
            more: dict[str, Any] = {}
            if content:
                more["content"] = content
            if delta is not None:
                more["delta"] = delta
            self._line(event.type._value_, event.phase, event.model, event.data, **more)
        if not content or len(self.pending) >= _BATCH:
            self.flush()

    def _text_line(self, event: StreamEvent, content: str, tail: str) -> None:
        """A text event's line (nearly every line of a trace), byte for byte what
        `_line` writes, built around the one value that needs encoding: about a
        quarter of the cost of encoding the whole record."""
        t_ms = round((time.perf_counter() - self.t0) * 1000.0, 3)
        phase, model = event.phase, event.model
        cacheable = type(phase) in _NAME_TYPES and type(model) in _NAME_TYPES  # 1 == True == 1.0 as keys
        key = (event.type, phase, model)
        middle = _MIDDLES.get(key) if cacheable else None
        if middle is None:
            middle = (f'"type": "{event.type._value_}", "phase": {_encode(phase)}, "model": {_encode(model)}, '
                      '"data": {}, "content": ')
            if cacheable and len(_MIDDLES) < 256:
                _MIDDLES[key] = middle
        self.pending.append(f'{self._head}{self.seq}, "t_ms": {t_ms!r}, {middle}{_encode_str(content)}{tail}}}\n')
        self.seq += 1

    def _tail(self) -> str | None:
        """`extra`, encoded to follow a line's own keys; None when a key repeats one."""
        extra = self.extra
        if not extra:
            return ""
        if any(type(value) not in _SCALARS for value in extra.values()):  # a list or dict may change in place
            self._extra_items = None
            if not _KEYS.isdisjoint(extra):
                return None
            return ", " + json.dumps(extra, ensure_ascii=False, default=_jsonable)[1:-1]
        items = tuple((key, type(value), value) for key, value in extra.items())  # 1, True and 1.0 differ here
        if items != self._extra_items:
            self._extra_items = items
            clash = not _KEYS.isdisjoint(extra)
            self._extra_tail = "" if clash else ", " + json.dumps(extra, ensure_ascii=False, default=_jsonable)[1:-1]
            if clash:
                self._extra_items = None
                return None
        return self._extra_tail

    def record(self, type_: str, data: Mapping[str, Any]) -> None:
        """A line that is not a stream event (e.g. an eval's `score`), written at once."""
        self._line(type_, None, None, dict(data))
        self.flush()

    def flush(self) -> None:
        if not self.hold:
            self.writer.write_lines(self.pending)
            self.pending = []

    def commit(self) -> None:
        """Write every held line (and stop holding)."""
        self.hold = False
        self.flush()

    def discard(self) -> None:
        """Drop every held line and start the query over (seq 0)."""
        self.pending, self.seq = [], 0


def _encode(value: Any) -> str:
    """Any value as the generic path encodes it; a str by the C encoder alone."""
    if type(value) is str:
        return _encode_str(value)  # type: ignore[no-any-return]
    return json.dumps(value, ensure_ascii=False, default=_jsonable)


def _jsonable(value: Any) -> Any:
    if hasattr(value, "to_dict"):
        return value.to_dict()
    if hasattr(value, "_asdict"):
        return value._asdict()
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    return str(value)
