"""Trace lines of text events take a short path (traces/writer.py `_text_line`): every
line must be byte for byte what encoding the whole record writes."""
from __future__ import annotations

import io
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cascadectl.streaming.events import StreamEvent, StreamEventType, ToolStreamEventType
from cascadectl.traces.writer import TraceWriter


def _reference(line: str, query_id: str, run_id: str, event: StreamEvent, extra: dict[str, Any]) -> str:
    """The line json.dumps makes of the record, with the t_ms the writer measured."""
    written = json.loads(line)
    record: dict[str, Any] = {"v": 1, "run_id": run_id, "query_id": query_id, "seq": written["seq"],
                              "t_ms": written["t_ms"], "type": event.type.value, "phase": event.phase,
                              "model": event.model, "data": event.data}
    if event.content:
        record["content"] = event.content
    return json.dumps({**record, **extra}, ensure_ascii=False) + "\n"


def _lines(events: list[StreamEvent], extra: dict[str, Any]) -> tuple[list[str], str]:
    out = io.StringIO()
    writer = TraceWriter(out, run_id="run-1")
    trace = writer.query("q-\u00e9\"1", extra=extra)
    for event in events:
        trace.event(event)
    trace.flush()
    return [line + "\n" for line in out.getvalue().split("\n")[:-1]], writer.run_id  # not splitlines: U+0085 is text here


texts = st.text(alphabet=st.characters(codec="utf-8"), min_size=1, max_size=30)
names = st.one_of(st.none(), st.sampled_from(["draft", "verify", "tier \"x\"", "mod\u00e8le"]))


@settings(max_examples=200, deadline=None)
@given(contents=st.lists(texts, min_size=1, max_size=5), phase=names, model=names,
       kind=st.sampled_from([StreamEventType.CHUNK, ToolStreamEventType.TEXT_CHUNK]),
       extra=st.sampled_from([{}, {"step": 2}, {"item": "a\nb", "tags": ["x", "\u2603"]}]))
def test_text_lines_are_what_encoding_the_record_writes(contents: list[str], phase: str | None, model: str | None,
                                                        kind: Any, extra: dict[str, Any]) -> None:
    events = [StreamEvent(kind, content=c, phase=phase, model=model) for c in contents]
    lines, run_id = _lines(events, extra)
    assert lines == [_reference(line, "q-\u00e9\"1", run_id, e, extra) for line, e in zip(lines, events)]
    assert [json.loads(line)["seq"] for line in lines] == list(range(len(events)))


@pytest.mark.parametrize("extra", [{"model": "overridden"}, {"content": "x"}, {"seq": 9}])
def test_an_extra_key_that_repeats_a_line_key_takes_the_general_path(extra: dict[str, Any]) -> None:
    event = StreamEvent(StreamEventType.CHUNK, content="hi", phase="draft", model="m")
    lines, run_id = _lines([event], extra)
    assert lines == [_reference(lines[0], "q-\u00e9\"1", run_id, event, extra)]
    assert lines[0].count(f'"{next(iter(extra))}"') == 1  # one key, as a dict has


def test_extra_that_changes_between_lines_is_re_encoded() -> None:
    out = io.StringIO()
    writer = TraceWriter(out, run_id="r")
    trace = writer.query("q", extra={"step": 0})
    trace.event(StreamEvent(StreamEventType.CHUNK, content="a"))
    trace.extra["step"] = 1
    trace.event(StreamEvent(StreamEventType.CHUNK, content="b"))
    trace.flush()
    assert [json.loads(line)["step"] for line in out.getvalue().split("\n")[:-1]] == [0, 1]


def test_values_equal_as_keys_but_not_as_json_are_not_confused() -> None:
    events = [StreamEvent(StreamEventType.CHUNK, content="a", model=m) for m in (1, True, 1.0, "1", None)]  # type: ignore[arg-type]
    lines, run_id = _lines(events, {})
    assert lines == [_reference(line, "q-\u00e9\"1", run_id, e, {}) for line, e in zip(lines, events)]


def test_extra_changed_in_place_or_to_an_equal_value_of_another_type_is_re_encoded() -> None:
    out = io.StringIO()
    trace = TraceWriter(out, run_id="r").query("q", extra={"tags": ["a"], "n": 1})
    trace.event(StreamEvent(StreamEventType.CHUNK, content="x"))
    trace.extra["tags"].append("b")
    trace.extra["n"] = True
    trace.event(StreamEvent(StreamEventType.CHUNK, content="y"))
    trace.flush()
    second = json.loads(out.getvalue().split("\n")[1])
    assert second["tags"] == ["a", "b"] and second["n"] is True


def test_ids_that_are_not_strings_are_encoded_as_the_generic_path_does() -> None:
    out = io.StringIO()
    trace = TraceWriter(out, run_id="r").query(7)  # type: ignore[arg-type]
    trace.event(StreamEvent(StreamEventType.CHUNK, content="x"))
    trace.flush()
    assert json.loads(out.getvalue())["query_id"] == 7
