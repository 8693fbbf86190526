"""The one SSE reader both HTTP providers share, and the guard that bounds each wait.

Ours rather than httpx-sse: on a 2,000-event body served at once over loopback,
httpx-sse added 1.7 us/event (CPU) over raw httpx line reading + json.loads,
this parser 0.2-0.35, against an engine budget of 3 us/event; and httpx-sse
reads the response itself, leaving no place to bound the wait for each chunk.

It follows the WHATWG event-stream rules that model APIs rely on: `data:` with
or without the space, multi-line data joined by "\\n", `:` comments, CR, LF and
CRLF line ends (also when a CRLF is split across two reads), a leading BOM, and
events split across reads anywhere. `id` and `retry` fields are ignored: model
APIs never resume a stream.
"""
from __future__ import annotations

import asyncio
import codecs
import math
from contextlib import aclosing
from typing import AsyncGenerator, AsyncIterator, Awaitable, Callable, NamedTuple, TypeVar, cast

import httpx

from cascadectl.providers.http.h1 import ResponseBody

T = TypeVar("T")
_LATE_TOLERANCE = 0.001  # loop timers may fire this much early; do not re-arm for it
_DRAIN_LIMIT = 1.0  # after the final event, how long to wait for the body's end


class SSEEvent(NamedTuple):
    event: str  # "message" when the event had no `event:` field
    data: str


_new_event = tuple.__new__  # builds an SSEEvent at half the cost of SSEEvent(...)


class DeadlineExceeded(Exception):
    """A wait ran past its limit. kind: timeout (headers, total) or stall (between chunks)."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


class SSEParser:
    """Incremental parser: feed() body chunks, get the events they complete.

    It decodes each chunk once (an incremental decoder keeps a character split
    across reads whole) and splits on blank lines first: almost every event a
    model API sends is one `data:` line, which then costs one slice; anything
    else takes the line-by-line path."""

    __slots__ = ("_decode", "_fed", "_plain", "_parts", "_skip_lf")

    def __init__(self) -> None:
        # utf-8-sig drops a leading byte-order mark, as the spec asks.
        self._decode = codecs.getincrementaldecoder("utf-8-sig")("replace").decode
        self._fed = 0  # bytes the incremental decoder has seen
        self._plain = False  # past the byte-order mark, and the decoder holds no part of a character
        self._parts: list[str] = []  # the unfinished event, CR already turned into LF
        self._skip_lf = False  # the last chunk ended in CR: a leading LF belongs to it

    def feed(self, chunk: bytes) -> list[SSEEvent]:
        text = self._newlines(self._text(chunk))
        parts = self._parts
        if "\n\n" not in text and not (text[:1] == "\n" and parts and parts[-1][-1] == "\n"):
            if text:
                parts.append(text)  # no event ends here: keep it without re-scanning the rest
            return []
        if parts:
            parts.append(text)
            text = "".join(parts)
        blocks = text.split("\n\n")
        tail = blocks.pop()
        self._parts = [tail] if tail else []
        return _events(blocks)

    def _text(self, chunk: bytes) -> str:
        """The chunk decoded. A chunk that ends in an ASCII byte, after the decoder's
        own state is clear, decodes whole (nearly every chunk: events end in "\n"):
        what the incremental decoder would return, without its two Python layers."""
        if self._plain and chunk and chunk[-1] < 0x80:
            return chunk.decode("utf-8", "replace")
        text = self._decode(chunk)
        self._fed += len(chunk)
        # 3 bytes settle whether a byte-order mark leads; an ASCII last byte leaves nothing buffered.
        self._plain = self._fed >= 3 and bool(chunk) and chunk[-1] < 0x80
        return text

    def _newlines(self, text: str) -> str:
        """CR and CRLF as LF, also when a CRLF is split across two reads."""
        if self._skip_lf and text:
            self._skip_lf = False
            text = text[1:] if text[0] == "\n" else text
        if "\r" in text:
            self._skip_lf = text[-1] == "\r"
            text = text.replace("\r\n", "\n").replace("\r", "\n")
        return text

    def close(self) -> list[SSEEvent]:
        """End of body. An event whose lines all ended is dispatched even without
        the final blank line (some local servers omit it); a cut-off event is dropped."""
        tail = "".join(self._parts) + self._decode(b"", True)
        self._parts = []
        events: list[SSEEvent] = []
        if tail.endswith("\n"):
            _block(tail, events)
        return events


def _events(blocks: list[str]) -> list[SSEEvent]:
    events: list[SSEEvent] = []
    for block in blocks:
        if block.startswith("data: ") and "\n" not in block:
            events.append(_new_event(SSEEvent, ("message", block[6:])))
        elif block:
            _block(block, events)
    return events


def _block(block: str, events: list[SSEEvent]) -> None:
    """One event's lines (a leading empty line ends nothing: there is no data yet)."""
    name, data = "", []
    for line in block.split("\n"):
        if line.startswith("data:"):
            data.append(line[6:] if line[5:6] == " " else line[5:])
        elif not line or line[0] == ":":  # a comment
            continue
        else:
            field, _, value = line.partition(":")
            value = value[1:] if value[:1] == " " else value
            if field == "event":
                name = value
            elif field == "data":  # "data" with no colon: an empty data line
                data.append("")
    if data:
        events.append(_new_event(SSEEvent, (name or "message", "\n".join(data))))


class Guard:
    """Bounds every wait of one call with a single event-loop timer.

    asyncio.wait_for would cost a task per body chunk on Python 3.10/3.11; here a
    chunk only stores when its wait ends, and the one timer re-arms itself when
    it fires early. When a wait overruns, the waiting task is cancelled and
    `raise_if_fired()` (called from the `except CancelledError`) turns that into
    DeadlineExceeded. Time outside a wait (the consumer working) never counts,
    except against the total deadline.
    """

    __slots__ = ("_loop", "_deadline", "_total", "_end", "_limit", "_kind", "_handle", "_task", "_fired")

    def __init__(self, total: float | None) -> None:
        self._loop = asyncio.get_running_loop()
        self._total = total
        self._deadline = self._loop.time() + total if total else math.inf
        self._end: float | None = None  # when the current wait expires; None between waits
        self._limit = 0.0
        self._kind = ""
        self._handle: asyncio.TimerHandle | None = None
        self._task: asyncio.Task[object] | None = None
        self._fired = False

    def remaining(self) -> float:
        return self._deadline - self._loop.time()

    def arm(self, limit: float | None, kind: str) -> None:
        now = self._loop.time()
        end = now + limit if limit else math.inf
        self._limit, self._kind = limit or 0.0, kind
        if end >= self._deadline:
            end, self._kind = self._deadline, "total"
            if now >= end:
                raise self._exceeded()
        self._end = end
        self._task = asyncio.current_task(self._loop)  # given the loop: no getpid() system call
        handle = self._handle
        if handle is None or handle.when() > end:
            self._schedule(end, handle)

    def disarm(self) -> None:
        self._end = None

    def raise_if_fired(self) -> None:
        """Call when CancelledError reaches the waiter: was it this guard's doing?"""
        if not self._fired:
            return
        self._fired = False
        task = asyncio.current_task()
        if task is not None and hasattr(task, "uncancel") and task.uncancel() > 0:
            return  # someone else cancelled the task as well: let that win
        raise self._exceeded()

    async def wait(self, awaitable: Awaitable[T], limit: float | None, kind: str) -> T:
        self.arm(limit, kind)
        try:
            return await awaitable
        except asyncio.CancelledError:
            self.raise_if_fired()
            raise
        finally:
            self.disarm()

    def close(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None

    def _schedule(self, end: float, old: asyncio.TimerHandle | None) -> None:
        if old is not None:
            old.cancel()
        self._handle = None if end == math.inf else self._loop.call_at(end, self._expire)

    def _expire(self) -> None:
        self._handle = None
        end = self._end
        if end is None:
            return  # not waiting: the next arm() schedules a fresh timer
        if self._loop.time() < end - _LATE_TOLERANCE:
            self._handle = self._loop.call_at(end, self._expire)
            return
        self._fired = True
        if self._task is not None:
            self._task.cancel()

    def _exceeded(self) -> DeadlineExceeded:
        if self._kind == "total":
            return DeadlineExceeded("timeout", f"the call exceeded its total timeout of {self._total:g}s")
        if self._kind == "stall":
            return DeadlineExceeded("stall", f"the stream stalled: no data for {self._limit:g}s")
        return DeadlineExceeded("timeout", f"no response within {self._limit:g}s")


async def sse_batches(
    response: httpx.Response,
    guard: Guard,
    stall: float | None,
    final: Callable[[SSEEvent], bool] | None = None,
) -> AsyncIterator[list[SSEEvent]]:
    """The events of each body chunk, as a list (one async step per chunk rather
    than per event). Each wait for a chunk is bounded by `stall` and the guard's
    total deadline. When a chunk's last event is one `final` accepts ([DONE],
    message_stop), the rest of the body is drained briefly so the connection
    goes back to the pool instead of being closed, and iteration ends."""
    parser = SSEParser()
    chunks = body_chunks(response)
    next_chunk = chunks.__anext__
    try:
        while True:
            # Each wait bounded by the guard; inline rather than a helper: a coroutine
            # frame less per body chunk.
            guard.arm(stall, "stall")
            try:
                chunk = await next_chunk()
            except StopAsyncIteration:
                break
            except asyncio.CancelledError:
                guard.raise_if_fired()
                raise
            finally:
                guard.disarm()
            events = parser.feed(chunk)
            if events:
                yield events
                if final is not None and final(events[-1]):
                    await _drain(chunks, guard, min(stall or _DRAIN_LIMIT, _DRAIN_LIMIT))
                    return
        events = parser.close()
        if events:
            yield events
    finally:
        await chunks.aclose()


def body_chunks(response: httpx.Response) -> AsyncGenerator[bytes, None]:
    """The response body as it arrives. From our HTTP/1.1 transport without a
    Content-Encoding to undo, straight from its body (a generator whose errors already
    carry the request): httpx's aiter_bytes would add two generator layers, a decoder
    and a chunker per body chunk that leave the bytes as they are. Any other stream
    goes through httpx."""
    coding = response.headers.get("content-encoding", "").strip().lower()
    stream = response.stream
    if coding in ("", "identity") and type(stream) is ResponseBody and not response.is_stream_consumed:
        response.is_stream_consumed = True  # as aiter_raw marks it: a second read fails the same way
        return cast(AsyncGenerator[bytes, None], stream.__aiter__())
    return cast(AsyncGenerator[bytes, None], response.aiter_bytes())  # httpx types it as a plain iterator


async def iter_sse(
    response: httpx.Response,
    guard: Guard,
    stall: float | None,
    final: Callable[[SSEEvent], bool] | None = None,
) -> AsyncIterator[SSEEvent]:
    """sse_batches, one event at a time."""
    async with aclosing(sse_batches(response, guard, stall, final)) as batches:
        async for batch in batches:
            for event in batch:
                yield event


async def _drain(chunks: AsyncIterator[bytes], guard: Guard, limit: float) -> None:
    try:
        while True:
            await guard.wait(chunks.__anext__(), limit, "stall")
    except (StopAsyncIteration, DeadlineExceeded, httpx.HTTPError):
        return  # the answer is complete: how the body ends no longer matters
