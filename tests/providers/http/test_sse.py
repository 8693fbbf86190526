"""The SSE parser and reader: the event-stream rules model APIs rely on, chunk
boundaries anywhere, and the stall/total guard."""
from __future__ import annotations

import asyncio
from typing import AsyncIterator, Sequence

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cascadectl.providers.http.sse import DeadlineExceeded, Guard, SSEEvent, SSEParser, iter_sse

M = "message"


def parse(*chunks: bytes) -> list[SSEEvent]:
    parser = SSEParser()
    events = [event for chunk in chunks for event in parser.feed(chunk)]
    return events + parser.close()


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b"data: {\"a\": 1}\n\n", [SSEEvent(M, '{"a": 1}')]),
        (b"data:{\"a\": 1}\n\n", [SSEEvent(M, '{"a": 1}')]),
        (b"data:  two spaces\n\n", [SSEEvent(M, " two spaces")]),
        (b"data: line one\ndata: line two\n\n", [SSEEvent(M, "line one\nline two")]),
        (b"data: a\ndata:\ndata: b\n\n", [SSEEvent(M, "a\n\nb")]),
        (b"data\n\n", [SSEEvent(M, "")]),
        (b": keep-alive comment\ndata: x\n\n:another\n\n", [SSEEvent(M, "x")]),
        (b"event: error\ndata: {}\n\n", [SSEEvent("error", "{}")]),
        (b"event:ping\ndata:{}\n\n", [SSEEvent("ping", "{}")]),
        (b"event: only-a-name\n\ndata: next\n\n", [SSEEvent(M, "next")]),
        (b"id: 7\nretry: 10\ndata: x\n\n", [SSEEvent(M, "x")]),
        (b"data: a\r\n\r\ndata: b\r\rdata: c\n\n", [SSEEvent(M, "a"), SSEEvent(M, "b"), SSEEvent(M, "c")]),
        (b"\xef\xbb\xbfdata: bom\n\n", [SSEEvent(M, "bom")]),
        (b"\n\n\ndata: after blanks\n\n\n\n", [SSEEvent(M, "after blanks")]),
        (b"data: [DONE]\n\n", [SSEEvent(M, "[DONE]")]),
        ("data: Pelé ☃\n\n".encode(), [SSEEvent(M, "Pelé ☃")]),
        (b"data: no blank line at the end\n", [SSEEvent(M, "no blank line at the end")]),
        (b"data: whole\n\ndata: cut off mid-li", [SSEEvent(M, "whole")]),
        (b"dat: unknown field\nevent:\ndata: x\n\n", [SSEEvent(M, "x")]),
    ],
    ids=lambda value: repr(value)[:40] if isinstance(value, bytes) else "",
)
def test_event_stream_rules(body: bytes, expected: list[SSEEvent]) -> None:
    assert parse(body) == expected


MIXED = (
    b": comment\r\n"
    b"event: content_block_delta\r\n"
    b"data: {\"text\": \"h\xc3\xa9\"}\r\n\r\n"
    b"data:first\ndata: second\n\n"
    b"data: cr only\r\r"
    b"event: error\ndata: {}\n\n"
    b"data: [DONE]\n\n"
)
MIXED_EVENTS = [
    SSEEvent("content_block_delta", '{"text": "hé"}'),
    SSEEvent(M, "first\nsecond"),
    SSEEvent(M, "cr only"),
    SSEEvent("error", "{}"),
    SSEEvent(M, "[DONE]"),
]


@pytest.mark.parametrize("cut", range(1, len(MIXED)))
def test_split_at_every_byte_boundary(cut: int) -> None:
    assert parse(MIXED[:cut], MIXED[cut:]) == MIXED_EVENTS


def test_one_byte_at_a_time() -> None:
    assert parse(*(MIXED[i : i + 1] for i in range(len(MIXED)))) == MIXED_EVENTS


@settings(max_examples=200, deadline=None, database=None)
@given(st.lists(st.integers(min_value=0, max_value=len(MIXED)), max_size=12))
def test_any_chunking_gives_the_same_events(cuts: list[int]) -> None:
    points = [0, *sorted(cuts), len(MIXED)]
    assert parse(*(MIXED[a:b] for a, b in zip(points, points[1:]))) == MIXED_EVENTS


def test_crlf_split_between_cr_and_lf_is_one_line_end() -> None:
    assert parse(b"data: a\r", b"\n\r", b"\ndata: b\r\n\r\n") == [SSEEvent(M, "a"), SSEEvent(M, "b")]


def _response(
    chunks: Sequence[bytes], gate: asyncio.Event | None = None, stalled: asyncio.Event | None = None
) -> httpx.Response:
    async def body() -> AsyncIterator[bytes]:
        for chunk in chunks:
            yield chunk
        if stalled is not None:
            stalled.set()
        if gate is not None:
            await gate.wait()  # a stalled server: never set

    return httpx.Response(200, headers={"content-type": "text/event-stream"}, content=body())


async def _read(response: httpx.Response, guard: Guard, stall: float) -> list[SSEEvent]:
    return [event async for event in iter_sse(response, guard, stall)]


def test_iter_sse_over_a_response() -> None:
    async def go() -> list[SSEEvent]:
        guard = Guard(10.0)
        return await _read(_response([b"data: a\n", b"\ndata: b\n\n"]), guard, 5.0)

    assert asyncio.run(go()) == [SSEEvent(M, "a"), SSEEvent(M, "b")]


def test_stall_between_chunks_raises_stall() -> None:
    async def go() -> tuple[list[SSEEvent], DeadlineExceeded]:
        seen: list[SSEEvent] = []
        guard = Guard(10.0)
        with pytest.raises(DeadlineExceeded) as caught:
            async for event in iter_sse(_response([b"data: a\n\n"], asyncio.Event()), guard, 0.05):
                seen.append(event)
        guard.close()
        task = asyncio.current_task()
        # The guard's own cancellation is taken back (3.11+), so timeouts and task groups still work.
        assert task is not None and getattr(task, "cancelling", lambda: 0)() == 0
        return seen, caught.value

    seen, error = asyncio.run(go())
    assert seen == [SSEEvent(M, "a")]
    assert error.kind == "stall"
    assert "no data for 0.05s" in str(error)


def test_total_deadline_wins_over_a_longer_stall_limit() -> None:
    async def go() -> DeadlineExceeded:
        guard = Guard(0.05)
        with pytest.raises(DeadlineExceeded) as caught:
            await _read(_response([b"data: a\n\n"], asyncio.Event()), guard, 30.0)
        return caught.value

    error = asyncio.run(go())
    assert error.kind == "timeout"
    assert "total timeout of 0.05s" in str(error)


def test_time_spent_by_the_consumer_is_not_a_stall() -> None:
    """Only waiting for the server counts: a slow consumer must not trip the guard."""

    async def go() -> list[SSEEvent]:
        guard = Guard(10.0)
        seen = []
        async for event in iter_sse(_response([b"data: a\n\n", b"data: b\n\n"]), guard, 0.02):
            seen.append(event)
            await _busy_elsewhere(0.05)
        return seen

    assert asyncio.run(go()) == [SSEEvent(M, "a"), SSEEvent(M, "b")]


async def _busy_elsewhere(seconds: float) -> None:
    """The consumer awaiting something of its own for longer than the stall limit."""
    try:
        await asyncio.wait_for(asyncio.Event().wait(), seconds)
    except asyncio.TimeoutError:
        pass


def test_an_outside_cancellation_is_not_turned_into_a_timeout() -> None:
    async def go() -> None:
        guard = Guard(10.0)
        stalled = asyncio.Event()
        task = asyncio.ensure_future(_read(_response([], asyncio.Event(), stalled), guard, 5.0))
        await stalled.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        guard.close()

    asyncio.run(go())


@settings(max_examples=300, deadline=None, database=None)
@given(st.lists(st.one_of(st.text(max_size=8).map(str.encode), st.binary(max_size=4),
                          st.sampled_from([b"\xef\xbb\xbf", b"\xef", b"\xe2\x82", b"\xac", b"\n\n", b"data: "])),
                max_size=12),
       st.lists(st.integers(min_value=0, max_value=200), max_size=8))
def test_chunks_decode_as_the_incremental_decoder_decodes_the_whole_body(pieces: list[bytes], cuts: list[int]) -> None:
    # Random bytes (a byte-order mark, characters split across reads, invalid UTF-8) cut anywhere.
    import codecs

    body = b"".join(pieces)
    points = [0, *sorted(min(c, len(body)) for c in cuts), len(body)]
    parser = SSEParser()
    decoded = "".join(parser._text(body[a:b]) for a, b in zip(points, points[1:])) + parser._decode(b"", True)
    whole = codecs.getincrementaldecoder("utf-8-sig")("replace")
    assert decoded == whole.decode(body) + whole.decode(b"", True)
