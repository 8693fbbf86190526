"""JSONL traces: one JSON object per line, append-only, whole lines only.

Lines are buffered per query and written with one write() per batch (at each
non-chunk event, every `_BATCH` chunks and at the end of the query), then flushed,
so an interrupted run leaves only whole lines behind.

An event whose line cannot change (text, and the records the engine builds for one
event: routing, decision, switch, complete, error) is kept as it is and encoded
when its batch is written, so whoever receives such an event must leave its data
as it is; tool-call events carry the live partial arguments and are encoded at once.

A writer made with `flush_interval` (the server's) writes no line on the caller's
path: on an event loop, a timer writes every line of the loop's queries within that
many seconds, in one write(); `close()` writes what is left. Lines of a loop that
ended before its timer fired are written at the next query's batch, or at close.
"""
from __future__ import annotations

import json
import logging
import os
import threading
import time
import uuid
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Mapping

from cascadectl.streaming.events import StreamEvent

if TYPE_CHECKING:
    import asyncio

TRACE_SCHEMA_VERSION = 1
log = logging.getLogger("cascadectl.traces")
_BATCH = 64  # chunk lines held before a write
# A line's own keys, in order; `extra` keys that repeat one take the slow path.
_KEYS = frozenset(("v", "run_id", "query_id", "seq", "t_ms", "type", "phase", "model", "data", "content", "delta"))
_encode_str = json.encoder.encode_basestring  # a str, as json.dumps(..., ensure_ascii=False) writes it (C in CPython)
_SCALARS = (str, int, float, bool, type(None))  # exact types whose encoding a cache can keep
_NAME_TYPES = (str, type(None))  # phase and model values a text line's cached middle may hold
_MIDDLES: dict[Any, str] = {}  # a text line's type, phase, model and data, by (type, phase, model)
# Events whose data the engine builds for that event alone: their lines may be encoded later.
_FRESH = frozenset(("routing", "draft_decision", "switch", "complete", "error"))


def new_run_id() -> str:
    return time.strftime("%Y%m%dT%H%M%S") + "-" + uuid.uuid4().hex[:8]


class TraceWriter:
    """Thread-safe JSONL writer shared by the CLI and the library (`trace=`)."""

    def __init__(self, target: str | os.PathLike[str] | IO[str], run_id: str | None = None,
                 flush_interval: float | None = None) -> None:
        self.run_id = run_id or new_run_id()
        self._own = not hasattr(target, "write")
        if self._own:
            Path(target).parent.mkdir(parents=True, exist_ok=True)  # type: ignore[arg-type]
        self._file: IO[str] = open(target, "a", encoding="utf-8") if self._own else target  # type: ignore[arg-type]
        self._lock = threading.Lock()
        self.flush_interval = flush_interval
        # Per event loop: the queries with lines to write, and the timer that writes them.
        self._due: dict[asyncio.AbstractEventLoop, list[QueryTrace]] = {}
        self._timers: dict[asyncio.AbstractEventLoop, asyncio.TimerHandle] = {}
        self._closed = False

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

    def later(self, trace: QueryTrace) -> None:
        """Write `trace`'s lines with its loop's next batch (at once off an event loop,
        or once the writer is closed)."""
        import asyncio  # here: `cascadectl validate` and the like never load asyncio

        try:
            loop: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            loop = None
        with self._lock:
            ended = [other for other in self._due if other.is_closed()]  # their timers will never fire
            orphans = [queued for other in ended for queued in self._due.pop(other)]
            for other in ended:
                self._timers.pop(other, None)
            if loop is None or self._closed:
                now = trace
            else:
                now = None
                self._due.setdefault(loop, []).append(trace)
                if loop not in self._timers:
                    self._timers[loop] = loop.call_later(self.flush_interval or 0.0, self._write_due, loop)
        self._write(orphans)
        if now is not None:
            self.write_lines(now.take())  # a closed file raises, as without a flush interval

    def _write_due(self, loop: asyncio.AbstractEventLoop) -> None:
        with self._lock:
            traces = self._due.pop(loop, [])
            self._timers.pop(loop, None)
        self._write(traces)

    def _write(self, traces: list[QueryTrace]) -> None:
        """Every line of `traces` in one write. A query whose lines fail to encode (data
        JSON cannot hold) loses that batch alone, and the log says so."""
        lines: list[str] = []
        for trace in traces:
            try:
                lines += trace.take()
            except Exception:  # noqa: BLE001 - a timer has no caller to raise to
                log.exception("trace lines of query %r could not be encoded and were dropped", trace.query_id)
        if lines:
            with self._lock:
                if not self._file.closed:
                    self._file.write("".join(lines))
                    self._file.flush()

    def close(self) -> None:
        """Write every batch still due, then close the file (if the writer opened it)."""
        with self._lock:
            self._closed = True
            due, self._due = self._due, {}
            timers, self._timers = self._timers, {}
        import asyncio

        try:
            running: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running in timers:
            timers[running].cancel()  # a timer of another loop finds nothing due and writes nothing
        self._write([trace for traces in due.values() for trace in traces])
        if self._own and not self._file.closed:
            self._file.close()

    def __enter__(self) -> TraceWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# A line encoded with its batch: (seq, perf_counter() at the event, the event, the extra's tail).
_Later = tuple[int, float, StreamEvent, str]


class QueryTrace:
    """The lines of one query: `start` first (query and parameters), then every event."""

    def __init__(self, writer: TraceWriter, query_id: str, extra: Mapping[str, Any], hold: bool = False) -> None:
        self.writer = writer
        self.hold = hold
        self.query_id = query_id
        self.extra = dict(extra)
        self.seq = 0
        self.t0 = time.perf_counter()
        self.pending: list[str | _Later] = []  # encoded lines, and events to encode when written
        self._queued = False  # in the writer's next batch
        self._batched = writer.flush_interval is not None  # every line goes to the writer's timer
        self._head = (f'{{"v": {TRACE_SCHEMA_VERSION}, "run_id": {_encode(writer.run_id)}, '
                      f'"query_id": {_encode(query_id)}, "seq": ')
        self._extra_items: tuple[Any, ...] | None = None
        self._extra_tail = ""

    def _line(self, type_: str, phase: str | None, model: str | None, data: Mapping[str, Any], **more: Any) -> None:
        """A line encoded now."""
        self.pending.append(self._record(self.seq, time.perf_counter(), type_, phase, model, data, more, None))
        self.seq += 1

    def _record(self, seq: int, t: float, type_: str, phase: str | None, model: str | None, data: Mapping[str, Any],
                more: Mapping[str, Any], tail: str | None) -> str:
        """The generic line; `tail`, when given, is the extra as it was at the event."""
        record = {
            "v": TRACE_SCHEMA_VERSION,
            "run_id": self.writer.run_id,
            "query_id": self.query_id,
            "seq": seq,
            "t_ms": round((t - self.t0) * 1000.0, 3),
            "type": type_,
            "phase": phase,
            "model": model,
            "data": data,
            **more,
        }
        if tail is None:
            record.update(self.extra)
            return json.dumps(record, ensure_ascii=False, default=_jsonable) + "\n"
        return json.dumps(record, ensure_ascii=False, default=_jsonable)[:-1] + tail + "}\n"

    def start(self, params: Mapping[str, Any]) -> None:
        self._line("query", None, None, dict(params))
        self.flush()

    def event(self, event: StreamEvent) -> None:
        tail = self._tail()
        item = (self.seq, time.perf_counter(), event, tail)
        self.seq += 1
        if tail is None or (event.data and event.type._value_ not in _FRESH):
            self.pending.append(self._event_line(*item))  # a tool call's live arguments, or a clashing extra
        else:
            self.pending.append(item)
        if not event.content or self._batched or len(self.pending) >= _BATCH:
            self.flush()

    def _event_line(self, seq: int, t: float, event: StreamEvent, tail: str | None) -> str:
        content = event.content
        # A plain StreamEvent has no `delta` slot: getattr's miss would cost a caught AttributeError.
        delta = None if type(event) is StreamEvent else getattr(event, "delta", None)
        if tail is not None and content and type(content) is str and delta is None and not event.data:
            return self._text_line(seq, t, event, content, tail)
        more: dict[str, Any] = {}
        if content:
            more["content"] = content
        if delta is not None:
            more["delta"] = delta
        return self._record(seq, t, event.type._value_, event.phase, event.model, event.data, more, tail)

    def _text_line(self, seq: int, t: float, event: StreamEvent, content: str, tail: str) -> str:
        """A text event's line (nearly every line of a trace), byte for byte what
        `_record` writes, built around the one value that needs encoding: about a
        quarter of the cost of encoding the whole record."""
        t_ms = round((t - self.t0) * 1000.0, 3)
        phase, model = event.phase, event.model
        cacheable = type(phase) in _NAME_TYPES and type(model) in _NAME_TYPES  # 1 == True == 1.0 as keys
        key = (event.type, phase, model)
        middle = _MIDDLES.get(key) if cacheable else None
        if middle is None:
            middle = (f'"type": "{event.type._value_}", "phase": {_encode(phase)}, "model": {_encode(model)}, '
                      '"data": {}, "content": ')
            if cacheable and len(_MIDDLES) < 256:
                _MIDDLES[key] = middle
        return f'{self._head}{seq}, "t_ms": {t_ms!r}, {middle}{_encode_str(content)}{tail}}}\n'

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
        """A line that is not a stream event (e.g. an eval's `score`), written at once
        (with the next batch, by a writer with a flush interval)."""
        self._line(type_, None, None, dict(data))
        self.flush()

    def flush(self) -> None:
        if self.hold or not self.pending:
            return
        if not self._batched:
            self.writer.write_lines(self.take())
        elif not self._queued:
            self._queued = True
            self.writer.later(self)

    def take(self) -> list[str]:
        """The lines not yet written, encoded (none while held); they are the caller's to write."""
        self._queued = False
        if self.hold:
            return []
        pending, self.pending = self.pending, []
        return [item if type(item) is str else self._event_line(*item) for item in pending]

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
