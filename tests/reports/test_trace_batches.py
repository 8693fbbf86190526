"""When trace lines are encoded and written (traces/writer.py): an event whose line
cannot change is encoded with its batch, a tool call's live arguments at once, and a
writer with a flush interval writes nothing on the caller's path, only from a timer
of the loop (one write for every query) and at close."""
from __future__ import annotations

import asyncio
import io
import json
from typing import Any

from cascadectl.streaming.events import StreamEvent, StreamEventType as S, ToolStreamEvent, ToolStreamEventType as T
from cascadectl.traces.writer import TraceWriter


class CountingIO(io.StringIO):
    def __init__(self) -> None:
        super().__init__()
        self.writes = 0

    def write(self, text: str) -> int:
        self.writes += 1
        return super().write(text)


def lines(out: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in out.getvalue().splitlines()]


def test_a_line_encoded_with_its_batch_is_the_event_and_the_extra_as_they_were_at_the_event() -> None:
    out = io.StringIO()
    trace = TraceWriter(out, run_id="r").query("q", extra={"step": 0})
    decision = {"accepted": True, "score": 0.9}
    trace.event(StreamEvent(S.CHUNK, content="Paris", phase="draft", model="m"))
    trace.event(StreamEvent(S.DRAFT_DECISION, data=decision, phase="draft", model="m"))
    trace.extra["step"] = 1
    trace.event(StreamEvent(S.CHUNK, content=".", phase="draft", model="m"))
    trace.flush()
    written = lines(out)
    assert [(w["type"], w.get("content"), w["step"], w["seq"]) for w in written] == [
        ("chunk", "Paris", 0, 0), ("draft_decision", None, 0, 1), ("chunk", ".", 1, 2)]
    assert written[1]["data"] == decision


def test_a_tool_call_delta_is_encoded_at_once_its_arguments_as_they_were() -> None:
    out = io.StringIO()
    trace = TraceWriter(out, run_id="r").query("q")
    partial: dict[str, Any] = {"city": "Par"}  # the call parser's value, which grows in place
    trace.event(ToolStreamEvent(T.TOOL_CALL_DELTA, data={"id": "c1", "partial": partial}, delta='{"city": "Par'))
    partial["city"] = "Paris"
    trace.flush()
    assert lines(out)[0]["data"]["partial"] == {"city": "Par"}


def test_without_a_flush_interval_a_decision_is_written_when_it_happens() -> None:
    out = CountingIO()
    trace = TraceWriter(out, run_id="r").query("q")
    trace.event(StreamEvent(S.CHUNK, content="a"))
    assert out.writes == 0  # chunks wait for a batch
    trace.event(StreamEvent(S.DRAFT_DECISION, data={"accepted": True}))
    assert out.writes == 1 and [w["type"] for w in lines(out)] == ["chunk", "draft_decision"]


def test_with_a_flush_interval_the_loop_writes_every_query_in_one_batch() -> None:
    out = CountingIO()
    writer = TraceWriter(out, run_id="r", flush_interval=0.0)

    async def main() -> list[int]:
        seen = []
        traces = [writer.query(f"q{i}") for i in range(3)]
        for trace in traces:
            trace.start({"query": "x"})
            trace.event(StreamEvent(S.ROUTING, data={"tiers": ["a"]}))
            trace.flush()
        seen.append(out.writes)  # nothing on the caller's path
        for _ in range(3):
            await asyncio.sleep(0)  # the loop's turn: the timer is due at once
        seen.append(out.writes)
        return seen

    assert asyncio.run(main()) == [0, 1]
    assert [(w["query_id"], w["type"]) for w in lines(out)] == [
        (q, t) for q in ("q0", "q1", "q2") for t in ("query", "routing")]


def test_close_writes_what_is_still_due_and_the_timer_then_writes_nothing() -> None:
    out = CountingIO()
    writer = TraceWriter(out, run_id="r", flush_interval=0.0)

    async def main() -> None:
        trace = writer.query("q")
        trace.start({"query": "x"})
        trace.event(StreamEvent(S.COMPLETE, data={"result": {"content": "Paris."}}))
        trace.flush()
        assert out.writes == 0
        writer.close()
        assert out.writes == 1 and [w["type"] for w in lines(out)] == ["query", "complete"]
        for _ in range(3):
            await asyncio.sleep(0)  # past the timer's time

    asyncio.run(main())
    assert out.writes == 1


def test_a_held_query_is_not_written_by_the_batch_until_committed() -> None:
    out = io.StringIO()
    writer = TraceWriter(out, run_id="r", flush_interval=0.0)

    async def main() -> None:
        trace = writer.query("q", hold=True)
        trace.start({"query": "x"})
        for _ in range(2):
            await asyncio.sleep(0)
        assert out.getvalue() == ""
        trace.commit()
        for _ in range(2):
            await asyncio.sleep(0)

    asyncio.run(main())
    assert [w["type"] for w in lines(out)] == ["query"]


def test_off_an_event_loop_a_flush_interval_writes_at_once() -> None:
    out = io.StringIO()
    trace = TraceWriter(out, run_id="r", flush_interval=3600.0).query("q")
    trace.start({"query": "x"})
    assert [w["type"] for w in lines(out)] == ["query"]


def test_a_query_whose_lines_fail_to_encode_loses_its_batch_alone(caplog: Any) -> None:
    out = io.StringIO()
    writer = TraceWriter(out, run_id="r", flush_interval=0.0)

    async def main() -> None:
        bad, good = writer.query("bad"), writer.query("good")
        bad.event(StreamEvent(S.ROUTING, data={("a", "tuple"): "key"}))  # JSON has no tuple keys
        good.event(StreamEvent(S.ROUTING, data={"tiers": ["a"]}))
        for _ in range(3):
            await asyncio.sleep(0)
        good.event(StreamEvent(S.COMPLETE, data={"result": {}}))  # queued again: not lost behind the failure
        bad.event(StreamEvent(S.COMPLETE, data={"result": {}}))
        for _ in range(3):
            await asyncio.sleep(0)

    asyncio.run(main())
    assert [(w["query_id"], w["type"]) for w in lines(out)] == [("good", "routing"), ("good", "complete"),
                                                                 ("bad", "complete")]
    assert "'bad'" in caplog.text


def test_lines_of_a_loop_that_ended_before_its_timer_are_written_by_the_next_batch_or_close() -> None:
    out = io.StringIO()
    writer = TraceWriter(out, run_id="r", flush_interval=3600.0)

    async def query(name: str) -> None:
        writer.query(name).event(StreamEvent(S.COMPLETE, data={"result": {}}))

    asyncio.run(query("first"))  # its loop closes long before the timer's hour
    assert out.getvalue() == ""
    asyncio.run(query("second"))
    assert [w["query_id"] for w in lines(out)] == ["first"]
    writer.close()
    assert [w["query_id"] for w in lines(out)] == ["first", "second"]


def test_with_a_flush_interval_text_lines_are_due_with_the_next_batch_too() -> None:
    out = io.StringIO()
    writer = TraceWriter(out, run_id="r", flush_interval=0.0)

    async def main() -> None:
        trace = writer.query("q")
        trace.event(StreamEvent(S.CHUNK, content="Par"))
        trace.event(StreamEvent(S.CHUNK, content="is"))
        for _ in range(3):
            await asyncio.sleep(0)

    asyncio.run(main())
    assert [w["content"] for w in lines(out)] == ["Par", "is"]
