"""Where the parser is: `path` and the `on_bracket` offsets, the seam for callers
that cut raw JSON text out of a stream (the llamacpp tool-call splitter)."""
from __future__ import annotations

import json
from typing import Any

import pytest

from cascadectl.tools.jsonstream import IncrementalJSONParser

# Brackets, quotes and backslashes inside strings must not count as structure.
DOCS = [
    "{}",
    "[]",
    '[{"a": "]"}, [], {"b": [1, {}]}]',
    r'{"s": "}{][", "q": "\"}", "b": "\\", "bq": "\\\"{", "u": "\u007b\u005d\\u", "e": "\ud83d\ude00"}',
    '{\n  "name": "f",\n  "arguments": {"k{": {"}": [[], "]"]}, "n": -1.5e3}\n}',
    '  [ 1 , [ [ ] ] , { "x" : [ true , null ] } ]  ',
]


class Recorder:
    """Feeds a parser and keeps what its hook saw: (depth, offset, path) per bracket."""

    def __init__(self) -> None:
        self.parser = IncrementalJSONParser(on_bracket=self.bracket)
        self.seen: list[tuple[int, int, tuple[str | int, ...]]] = []

    def bracket(self, depth: int, offset: int) -> None:
        self.seen.append((depth, offset, self.parser.path))

    def feed_all(self, fragments: list[str]) -> Recorder:
        for fragment in fragments:
            self.parser.feed(fragment)
        return self


def spans(seen: list[tuple[int, int, tuple[str | int, ...]]]) -> list[tuple[int, int]]:
    """(start, end) of every container, in the order they opened."""
    opened: list[int] = []
    found: list[tuple[int, int]] = []
    depth = 0
    for new_depth, offset, _ in seen:
        if new_depth > depth:
            opened.append(len(found))
            found.append((offset, -1))
        else:
            index = opened.pop()
            found[index] = (found[index][0], offset + 1)
        depth = new_depth
    return found


def containers(value: Any) -> list[Any]:
    """Every dict and list in a value, in document order (pre-order)."""
    if isinstance(value, dict):
        return [value] + [c for v in value.values() for c in containers(v)]
    if isinstance(value, list):
        return [value] + [c for v in value for c in containers(v)]
    return []


@pytest.mark.parametrize("doc", DOCS)
def test_bracket_offsets_bound_the_text_of_every_container(doc: str) -> None:
    seen = Recorder().feed_all([doc]).seen
    texts = [doc[start:end] for start, end in spans(seen)]
    assert [json.loads(text) for text in texts] == containers(json.loads(doc))
    assert texts[0] == doc.strip()
    assert all(doc[offset] in "{}[]" for _, offset, _ in seen)


@pytest.mark.parametrize("doc", DOCS)
def test_bracket_events_do_not_depend_on_where_the_input_is_cut(doc: str) -> None:
    whole = Recorder().feed_all([doc]).seen
    assert Recorder().feed_all(list(doc)).seen == whole
    for cut in range(len(doc) + 1):
        assert Recorder().feed_all([doc[:cut], doc[cut:]]).seen == whole, cut


def test_hook_gets_the_depth_after_each_bracket_and_sees_the_container_path() -> None:
    seen = Recorder().feed_all(['{"a": [1, {"b": []}], "c": {}}']).seen
    assert seen == [
        (1, 0, ()),
        (2, 6, ("a",)),
        (3, 10, ("a", 1)),
        (4, 16, ("a", 1, "b")),
        (3, 17, ("a", 1)),
        (2, 18, ("a",)),
        (1, 19, ()),
        (2, 27, ("c",)),
        (1, 28, ()),
        (0, 29, ()),
    ]


def test_path_at_chosen_steps() -> None:
    parser = IncrementalJSONParser()
    steps: list[tuple[str, tuple[str | int, ...]]] = [
        ("  ", ()),
        ("{", ()),
        ('"na', ()),  # a key being read is not a place yet
        ('me"', ()),
        (" :", ("name",)),  # a member counts from its ':'
        (' "f', ("name",)),
        ('", ', ()),
        ('"arguments": ', ("arguments",)),
        ("{", ("arguments",)),
        ('"days": [', ("arguments", "days")),
        ("1", ("arguments", "days", 0)),
        (",", ("arguments", "days", 1)),
        (' {"n": tr', ("arguments", "days", 1, "n")),
        ("ue}", ("arguments", "days")),
        ("]}", ()),
        ("}", ()),
    ]
    for fragment, expected in steps:
        parser.feed(fragment)
        assert parser.path == expected, fragment
    assert parser.complete


def test_path_is_the_same_whether_or_not_a_read_showed_the_open_leaf() -> None:
    doc = '{"a": ["x", "yz", 12, [3, "w"]]}'
    reading, blind = IncrementalJSONParser(), IncrementalJSONParser()
    for ch in doc:
        reading.feed(ch)
        reading.value  # shows an open string or number as the list's last item
        blind.feed(ch)
        assert reading.path == blind.path
    assert reading.path == ()


@pytest.mark.parametrize("doc", DOCS)
def test_path_does_not_depend_on_where_the_input_is_cut(doc: str) -> None:
    by_char = IncrementalJSONParser()
    for i, ch in enumerate(doc):
        by_char.feed(ch)
        for cut in range(i + 1):
            split = IncrementalJSONParser()
            split.feed(doc[:cut])
            split.feed(doc[cut : i + 1])
            assert split.path == by_char.path, (doc[: i + 1], cut)
