"""Prompts, stop sequences and tool-call splitting of the llamacpp provider (no model)."""
from __future__ import annotations

import json
from typing import NamedTuple

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cascadectl.providers.llamacpp.assets import FEW_SHOT_QA_TEMPLATE
from cascadectl.streaming.deltas import TextDelta, ToolCallDelta
from cascadectl.tools.jsonstream import JSONStreamError, parse_complete
from cascadectl.providers.llamacpp.text import (
    CompletionTemplate,
    StopScanner,
    TextEmitter,
    ToolCallSplitter,
    chat_messages,
    split_conversation,
    tool_call_schema,
)


def _pieces(text: str, cuts: list[int]) -> list[str]:
    points = sorted({c % (len(text) + 1) for c in cuts} | {0, len(text)})
    return [text[a:b] for a, b in zip(points, points[1:])]


@given(st.text(alphabet="ab\nQ:", max_size=40), st.lists(st.integers(0, 60), max_size=8))
def test_stop_scanner_emits_exactly_the_text_before_the_first_stop(text: str, cuts: list[int]) -> None:
    stops = ["\nQ:", "bb"]
    scanner = StopScanner(stops)
    out = ""
    for piece in _pieces(text, cuts):
        out += scanner.feed(piece)
        if scanner.stopped:
            break
    if not scanner.stopped:
        out += scanner.flush()
    first = min((i for i in (text.find(s) for s in stops) if i >= 0), default=len(text))
    assert out == text[:first]
    assert scanner.stopped == (first < len(text))


def test_stop_scanner_holds_back_a_possible_stop_prefix() -> None:
    scanner = StopScanner(["\nQuestion:"])
    assert scanner.feed("Paris\nQue") == "Paris"
    assert scanner.feed("en") == "\nQueen"
    assert not scanner.stopped


def test_emitter_strips_leading_space_and_keeps_logprobs_with_their_text() -> None:
    emitter = TextEmitter(StopScanner(["\n\n"]), strip_leading=True)
    assert emitter.feed(" ", -0.5) is None
    delta = emitter.feed(" Rome", -0.1)
    assert delta is not None and delta.text == "Rome"
    assert [lp.logprob for lp in delta.logprobs or ()] == [-0.5, -0.1]
    assert emitter.feed("\n", -0.2) is None  # could start "\n\n": held back
    assert emitter.feed("\n", -0.3) is None and emitter.stopped
    assert emitter.finish() is None


def test_emitter_without_logprobs_sends_none() -> None:
    emitter = TextEmitter(StopScanner([]))
    assert emitter.feed(" a", None) == TextDelta(" a", None)


def test_completion_template_fills_system_history_and_query() -> None:
    messages = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "What is 2+2?"},
        {"role": "assistant", "content": "4"},
        {"role": "user", "content": [{"type": "text", "text": "And 3+3?"}]},
    ]
    prompt = CompletionTemplate(FEW_SHOT_QA_TEMPLATE).render(messages)
    assert prompt.startswith("Be brief.\n\nAnswer each question")
    assert prompt.endswith("Question: What is 2+2?\nAnswer: 4\n\nQuestion: And 3+3?\nAnswer:")


def test_template_without_history_slot_keeps_earlier_turns_with_the_query() -> None:
    messages = [
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": "hello"},
        {"role": "user", "content": "bye"},
    ]
    prompt = CompletionTemplate("Q: {query}\nA:").render(messages)
    assert prompt == "Q: Question: hi\nAnswer: hello\n\nbye\nA:"


def test_template_braces_are_not_format_fields() -> None:
    prompt = CompletionTemplate('JSON {"a": 1} {system}{query}').render([{"role": "user", "content": "x"}])
    assert prompt == 'JSON {"a": 1} x'


def test_tool_results_after_the_last_question_join_the_query() -> None:
    system, history, query = split_conversation([
        {"role": "user", "content": "weather?"},
        {"role": "assistant", "content": None, "tool_calls": [{"id": "c1"}]},
        {"role": "tool", "content": "sunny"},
    ])
    assert (system, history) == ("", [])
    assert query == 'weather?\nTool call: [{"id": "c1"}]\nTool result: sunny'


def test_chat_messages_map_tool_role_and_add_tool_note_to_system() -> None:
    out = chat_messages([{"role": "system", "content": "S"}, {"role": "tool", "content": "42"}], "TOOLS")
    assert out == [{"role": "system", "content": "S\n\nTOOLS"}, {"role": "user", "content": "Tool result: 42"}]
    assert chat_messages([{"role": "user", "content": "q"}], "T")[0] == {"role": "system", "content": "T"}


@given(st.lists(st.integers(0, 80), max_size=10))
def test_tool_call_splitter_streams_name_then_exact_arguments(cuts: list[int]) -> None:
    arguments = '{"city": "Pa\\"ris {x}", "days": [1, {"n": 2}]}'
    text = '{ "name" : "get_weather", "arguments" : ' + arguments + " }"
    splitter = ToolCallSplitter()
    deltas = [d for piece in _pieces(text, cuts) for d in splitter.feed(piece)]
    assert deltas[0] == ToolCallDelta(index=0, id="call_0", name="get_weather")
    assert all(d.id is None and d.name is None for d in deltas[1:])
    assert "".join(d.arguments for d in deltas).strip() == arguments
    assert splitter.done


Fed = list[tuple[list[ToolCallDelta], bool]]  # per piece: the deltas, then `done`


class Call(NamedTuple):
    """A tool-call text in parts, so that the expected deltas follow from positions
    alone: the piece holding the arguments' ':' announces the name, and each piece
    carries the part of the arguments object that falls inside it."""

    name: str
    before_colon: str
    after_colon: str
    arguments: str
    tail: str

    @property
    def text(self) -> str:
        return f"{self.before_colon}:{self.after_colon}{self.arguments}{self.tail}"

    def expected(self, pieces: list[str]) -> Fed:
        colon = len(self.before_colon)
        start = colon + 1 + len(self.after_colon)
        end = start + len(self.arguments)
        out: Fed = []
        at = 0
        for piece in pieces:
            upto = at + len(piece)
            deltas = [ToolCallDelta(index=0, id="call_0", name=self.name)] if at <= colon < upto else []
            arguments = self.text[max(at, start) : min(upto, end)]
            deltas += [ToolCallDelta(index=0, arguments=arguments)] if arguments else []
            out.append((deltas, upto >= end))
            at = upto
        return out


CALLS = [
    Call("get_weather", '{ "name" : "get_weather", "arguments" ', " ",
         '{"city": "Pa\\"ris {x}", "days": [1, {"n": 2}]}', " }"),
    Call("f", '{"name":"f","arguments"', "", "{}", "}"),
    Call("count", '{"name": "count", "arguments"', " ", '{"n": 12}', "}"),  # a number ends at the brace
    # Brackets, quotes and backslashes inside strings; \u escapes of '{', '}', '"';
    # an escaped backslash before 'u' (not an escape); a surrogate pair; raw unicode.
    Call("lookup", '{"name": "lookup", "arguments"', " ",
         r'{"s": "}{][", "q": "\"}", "b": "\\", "bq": "\\\"{", "u": "\u007b\u007d\u0022\\u",'
         r' "e": "\ud83d\ude00", "r": "é東京😀", "k{": {"}": ["]"]}}', "}"),
    # The layout llama.cpp's JSON grammar allows, and an escaped name.
    Call("té", '{\n  "name": "t\\u00e9",\n  "arguments" ', "\n    ",
         '{\n  "a": [ [], {}, [ {"x": null} ] ],\n  "n": -12.5e+3, "t": true,\n  "z": 0\n}', "\n}\n"),
]


def _split(pieces: list[str]) -> Fed:
    splitter = ToolCallSplitter()
    return [(splitter.feed(piece), splitter.done) for piece in pieces]


@pytest.mark.parametrize("call", CALLS, ids=lambda c: c.name)
def test_every_two_way_split_gives_the_deltas_the_positions_say(call: Call) -> None:
    text = call.text
    for cut in range(len(text) + 1):
        pieces = [text[:cut], text[cut:]]
        assert _split(pieces) == call.expected(pieces), cut
        # The first piece alone is a stream cut off there (max_tokens, cancel).
        assert _split(pieces[:1]) == call.expected(pieces[:1]), cut


@pytest.mark.parametrize("call", CALLS, ids=lambda c: c.name)
def test_one_piece_and_one_character_at_a_time_agree_with_the_positions(call: Call) -> None:
    text = call.text
    assert _split([text]) == call.expected([text])
    assert _split(list(text)) == call.expected(list(text))
    with_empty = [piece for ch in text for piece in ("", ch)]  # a token may decode to nothing yet
    assert _split(with_empty) == call.expected(with_empty)


@pytest.mark.parametrize("call", [CALLS[1], CALLS[2]], ids=lambda c: c.name)
def test_every_three_way_split_of_a_short_call(call: Call) -> None:
    text = call.text
    for first in range(len(text) + 1):
        for second in range(first, len(text) + 1):
            pieces = [text[:first], text[first:second], text[second:]]
            assert _split(pieces) == call.expected(pieces), (first, second)


@given(st.sampled_from(CALLS), st.lists(st.integers(0, 300), max_size=12))
def test_any_split_gives_the_deltas_the_positions_say(call: Call, cuts: list[int]) -> None:
    pieces = _pieces(call.text, cuts)
    assert _split(pieces) == call.expected(pieces)


def test_text_after_the_arguments_is_ignored_even_when_it_is_not_json() -> None:
    call = CALLS[0]
    assert _split([call.text + " trailing {junk"]) == call.expected([call.text])
    splitter = ToolCallSplitter()
    splitter.feed(call.text)
    assert splitter.feed("}} more ]") == [] and splitter.done


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ('{"name" "f", "arguments": {}}', ValueError),  # as json.loads of the head raised
        ('{"name": "f",, "arguments": {}}', ValueError),
        ('{"tool": "f", "arguments": {}}', KeyError),  # no name to announce
    ],
)
def test_a_broken_head_raises(text: str, error: type[Exception]) -> None:
    with pytest.raises(error):
        _split([text])


@pytest.mark.parametrize(
    ("arguments", "sent"),
    [
        ('{"a" 1}', '{"a" 1'),
        ('{"a": 1,}', '{"a": 1,}'),
        ('{"a": "x\ny"}', '{"a": "x\n'),
        ('{"a": [1}', '{"a": [1}'),
    ],
)
def test_broken_arguments_end_at_the_faulty_character(arguments: str, sent: str) -> None:
    text = '{"name": "f", "arguments": ' + arguments + "}"
    for cut in range(len(text) + 1):
        splitter = ToolCallSplitter()
        deltas = splitter.feed(text[:cut]) + splitter.feed(text[cut:]) + splitter.feed("}")
        assert deltas[0] == ToolCallDelta(index=0, id="call_0", name="f")
        assert "".join(d.arguments for d in deltas) == sent and splitter.done, cut
    # What was sent fails in the consumer's parser with the same fault.
    assert _fault(sent) == _fault(arguments)


def _fault(text: str) -> str:
    with pytest.raises(JSONStreamError) as info:
        parse_complete(text)
    return str(info.value)


def test_tool_call_schema_narrows_to_the_chosen_tool() -> None:
    tools = [{"name": "a", "parameters": {"type": "object", "properties": {"x": {"type": "integer"}}}}, {"name": "b"}]
    both = tool_call_schema(tools, "required")
    assert both["properties"]["name"] == {"enum": ["a", "b"]}
    assert both["properties"]["arguments"] == {"type": "object"}
    only_a = tool_call_schema(tools, {"name": "a"})
    assert only_a["properties"]["arguments"]["properties"] == {"x": {"type": "integer"}}
    assert json.loads(json.dumps(only_a))["required"] == ["name", "arguments"]
