from __future__ import annotations

import json
import sys
from typing import Any, Iterable, Iterator

import pytest

from cascadectl.tools.jsonstream import (
    IncompleteJSONError,
    IncrementalJSONParser,
    JSONStreamError,
    parse_complete,
)

DOCS = [
    "{}",
    "[]",
    '""',
    "0",
    "-0",
    "12",
    "-3",
    "2.5e-3",
    "1E+10",
    "-0.0e0",
    "true",
    "false",
    "null",
    '{"location": "Paris", "unit": "celsius"}',
    '{"a": [1, 2.5, -3, true, false, null], "b": {"c": {}}, "d": [[], [{}]]}',
    '  {  "k"  :  [  1  ,  "x"  ,  { "y" : null }  ]  }  ',
    '\t\n\r{\n\t"spaced"\r\n:\n1\n}\n',
    r'"escapes: \" \\ \/ \b \f \n \r \t"',
    r'{"u": "caf\u00e9 \u00E9 \u4e1c\u4eac"}',
    r'{"emoji": "\ud83d\ude00", "two": "\ud83d\ude00\ud83d\ude01x"}',
    r'["lone high \ud83d", "lone low \ude00", "high then text \ud83dabc", "\ud83d\ud83d\ude00"]',
    r'["high then escape \ud83d\n"]',
    '{"unicode raw": "résumé 東京 😀", "k😀": "v"}',
    '{"dup": 1, "dup": 2, "other": 3}',
    '[12345678901234567890, 1.5e300, -1.25e-7, 0.1, 100]',
    '{"nested": {"deeper": {"deepest": [[[["bottom"]]]]}}}',
    '{"code": "def f(x):\\n    return \\"x\\" * 2\\n", "path": "C:\\\\tmp\\\\a.txt"}',
    '{"empty_key": {"": ""}, "sp ace": " "}',
    '[{"a": 1}, {"b": [2, {"c": "3"}]}, [], {}, ""]',
    '{"items": [{"id": 1, "tags": ["x", "y"]}, {"id": 2, "tags": []}], "total": 2}',
    '{"n": -0.5, "m": 0e0, "o": 7E-2, "p": 123.456e+7}',
    '"\\u0000 control escapes \\u001f"',
    '{"slash": "a/b", "esc_slash": "a\\/b"}',
]


def feed_all(fragments: Iterable[str]) -> IncrementalJSONParser:
    parser = IncrementalJSONParser()
    for fragment in fragments:
        parser.feed(fragment)
    return parser


def chunks(text: str, size: int) -> Iterator[str]:
    return (text[i : i + size] for i in range(0, len(text), size))


def same(a: Any, b: Any) -> bool:
    # repr tells 1 from 1.0 and keeps key order; == would not.
    return repr(a) == repr(b)


@pytest.mark.parametrize("doc", DOCS)
def test_every_two_way_split_gives_json_loads_value(doc: str) -> None:
    expected = json.loads(doc)
    for cut in range(len(doc) + 1):
        parser = feed_all([doc[:cut], doc[cut:]])
        assert same(parser.finish(), expected), (cut, doc)


@pytest.mark.parametrize("doc", DOCS)
@pytest.mark.parametrize("size", [1, 2, 3, 7, 16, 4096])
def test_fixed_size_fragments_give_json_loads_value(doc: str, size: int) -> None:
    parser = feed_all(chunks(doc, size))
    assert parser.complete
    assert same(parser.finish(), json.loads(doc))


@pytest.mark.parametrize("doc", DOCS)
def test_complete_matches_json_loads_at_every_prefix(doc: str) -> None:
    parser = IncrementalJSONParser()
    for i, ch in enumerate(doc):
        parser.feed(ch)
        assert parser.complete == _loads_ok(doc[: i + 1]), doc[: i + 1]


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")  # json.loads would accept NaN/Infinity


def _loads_ok(text: str) -> bool:
    try:
        json.loads(text, parse_constant=_reject_constant)
    except ValueError:
        return False
    return True


def test_surrogate_pair_split_inside_both_escapes() -> None:
    doc = r'{"e": "a\ud83d\ude00b"}'
    for first in range(len(doc)):
        for second in range(first, len(doc)):
            parser = feed_all([doc[:first], doc[first:second], doc[second:]])
            assert parser.finish() == {"e": "a\U0001f600b"}


def test_numbers_split_across_fragments() -> None:
    parser = feed_all(['{"n": 1', "2", ".5e", "-", "3", ', "m": -', "0", "]"[:0], "}"])
    assert same(parser.finish(), {"n": 12.5e-3, "m": 0})


def test_partial_values_at_chosen_steps() -> None:
    parser = IncrementalJSONParser()
    steps: list[tuple[str, Any]] = [
        ('{"loc', {}),
        ('ation": "Pa', {"location": "Pa"}),
        ('ris", "days": [', {"location": "Paris", "days": []}),
        ("1", {"location": "Paris", "days": [1]}),
        ("2, tr", {"location": "Paris", "days": [12]}),
        ('ue, "a\\', {"location": "Paris", "days": [12, True, "a"]}),
        ('u00e9', {"location": "Paris", "days": [12, True, "aé"]}),
        ('\\ud83d', {"location": "Paris", "days": [12, True, "aé"]}),
        ('\\ude00"], "unit": ', {"location": "Paris", "days": [12, True, "aé😀"]}),
        ('{"x": -', {"location": "Paris", "days": [12, True, "aé😀"], "unit": {}}),
        ("1.", {"location": "Paris", "days": [12, True, "aé😀"], "unit": {"x": -1}}),
        ("5e", {"location": "Paris", "days": [12, True, "aé😀"], "unit": {"x": -1.5}}),
        ("2}}", {"location": "Paris", "days": [12, True, "aé😀"], "unit": {"x": -150.0}}),
    ]
    for fragment, expected in steps:
        parser.feed(fragment)
        assert same(parser.value, expected), fragment
    assert parser.complete


def test_keys_without_a_started_value_are_omitted() -> None:
    parser = feed_all(['{"a": 1, "b"'])
    assert parser.value == {"a": 1}
    parser.feed(": ")
    assert parser.value == {"a": 1}
    parser.feed('"')
    assert parser.value == {"a": 1, "b": ""}


def test_open_literal_and_bare_minus_are_not_shown() -> None:
    parser = feed_all(['[1, nu'])
    assert parser.value == [1]
    parser.feed("ll, -")
    assert parser.value == [1, None]
    parser.feed("7")
    assert parser.value == [1, None, -7]


def test_top_level_scalars_partial_and_complete() -> None:
    parser = feed_all(['"ab'])
    assert parser.value == "ab" and not parser.complete
    number = feed_all(["-12"])
    assert number.value == -12 and number.complete  # input may end here
    number.feed(".")
    assert number.value == -12 and not number.complete
    number.feed("5")
    assert number.finish() == -12.5


def test_value_is_none_and_not_started_before_input() -> None:
    parser = feed_all(["  \n"])
    assert parser.value is None
    assert not parser.started
    assert not parser.complete


def test_snapshot_does_not_change_with_later_feeds() -> None:
    parser = feed_all(['{"a": [1'])
    snap = parser.snapshot()
    parser.feed(", 2]}")
    assert snap == {"a": [1]}
    assert parser.value == {"a": [1, 2]}


def test_whitespace_after_complete_value_is_fine_and_finish_is_repeatable() -> None:
    parser = feed_all(['{"a": 1}', "  \n\t "])
    assert parser.finish() == {"a": 1}
    assert parser.finish() == {"a": 1}


TRUNCATED = [
    ("", "before any JSON value"),
    ("   ", "before any JSON value"),
    ('{"location": "Par', "inside a string; still open: object"),
    ('{"loc', "inside an object key; still open: object"),
    ('{"a": [1, 2', "inside a number; still open: object > array"),
    ('{"a": [1, 2]', "between tokens; still open: object"),
    ('{"a": tr', "inside 'true'; still open: object"),
    ('{"a": "x\\u00', "inside a string; still open: object"),
    ("-", "inside a number"),
    ("1.", "inside a number"),
    ("1e+", "inside a number"),
    ('{"a": 1,', "between tokens; still open: object"),
]


@pytest.mark.parametrize(("text", "where"), TRUNCATED)
def test_truncated_input_is_incomplete_never_complete(text: str, where: str) -> None:
    parser = feed_all(chunks(text, 1))
    assert not parser.complete
    with pytest.raises(IncompleteJSONError) as info:
        parser.finish()
    assert info.value.offset == len(text)
    assert where in info.value.message


MALFORMED = [
    ('{"a" 1}', 5, "expected ':'"),
    ("[1,]", 3, "expected a JSON value"),
    ('{"a": 1,}', 8, "expected a string object key"),
    ("{,}", 1, "expected an object key"),
    ("01", 1, "invalid number"),
    ("-a", 1, "ends early"),
    ("[1.e5]", 3, "invalid number"),
    ("[1.]", 3, "ends early"),
    ("[1e]", 3, "ends early"),
    ("1-2", 1, "invalid number"),
    ('{"a": tru}', 9, "invalid literal"),
    ("nul1", 3, "invalid literal"),
    (r'"\x"', 2, "invalid escape"),
    (r'"\u12G4"', 5, "not a hex digit"),
    ('"a\nb"', 2, "control character"),
    ('"tab\tinside"', 4, "control character"),
    ("{} x", 3, "after the complete JSON value"),
    ("1 2", 2, "after the complete JSON value"),
    ("[1 2]", 3, "expected ',' or ']'"),
    ('{"a": 1]', 7, "expected ',' or '}'"),
    ("]", 0, "expected a JSON value"),
    ("NaN", 0, "expected a JSON value"),
    ("[Infinity]", 1, "expected a JSON value"),
    ("{'a': 1}", 1, "expected an object key"),
    ('{"a": [1, {"b": 2]}', 17, "expected ',' or '}'"),
    ("\ufeff{}", 0, "expected a JSON value"),
]


@pytest.mark.parametrize(("text", "offset", "message"), MALFORMED)
@pytest.mark.parametrize("size", [1, 2, 5, 4096])
def test_malformed_input_raises_with_offset(text: str, offset: int, message: str, size: int) -> None:
    with pytest.raises(JSONStreamError) as info:
        feed_all(chunks(text, size)).finish()
    assert not isinstance(info.value, IncompleteJSONError)
    assert info.value.offset == offset
    assert message in info.value.message
    assert f"at offset {offset}" in str(info.value)
    assert not _loads_ok(text)


def test_parser_stays_broken_after_an_error() -> None:
    parser = IncrementalJSONParser()
    with pytest.raises(JSONStreamError):
        parser.feed("[1,,")
    with pytest.raises(JSONStreamError) as info:
        parser.feed("2]")
    assert info.value.offset == 3


def test_feed_rejects_bytes() -> None:
    with pytest.raises(TypeError, match="takes str"):
        IncrementalJSONParser().feed(b"{}")  # type: ignore[arg-type]


def test_parse_complete_is_one_shot_parse() -> None:
    assert parse_complete('{"a": [1]}') == {"a": [1]}
    with pytest.raises(IncompleteJSONError):
        parse_complete('{"a": [1]')


def test_depth_and_offset_follow_the_input() -> None:
    parser = feed_all(['{"a": [', "{"])
    assert parser.depth == 3
    assert parser.offset == 8


# ----- linear time, by counting calls (never by timing) ----------------------

def _document(items: int) -> str:
    rows = [{"id": i, "name": f"item {i} \"q\" é", "tags": ["a", "b\\n"], "ok": True} for i in range(items)]
    return json.dumps({"rows": rows, "note": "x" * 50})


def _count_calls(doc: str, size: int, read_value: bool) -> tuple[int, int]:
    """Total profiler events while feeding, and the most events in one feed."""
    parser = IncrementalJSONParser()
    counter = [0]

    def profile(frame: Any, event: str, arg: Any) -> None:
        if event in ("call", "c_call"):
            counter[0] += 1

    most = 0
    for fragment in chunks(doc, size):
        before = counter[0]
        sys.setprofile(profile)
        try:
            parser.feed(fragment)
            if read_value:
                parser.value
        finally:
            sys.setprofile(None)
        most = max(most, counter[0] - before)
    assert parser.finish() == json.loads(doc)
    return counter[0], most


@pytest.mark.parametrize(("size", "read_value"), [(1, True), (4, True), (64, False)])
def test_work_grows_linearly_with_input(size: int, read_value: bool) -> None:
    small, small_most = _count_calls(_document(20), size, read_value)
    large, large_most = _count_calls(_document(160), size, read_value)
    ratio = large / small
    assert 6.0 < ratio < 10.0  # the large doc is ~8x the small one
    # No feed does more work late in a long stream than early on.
    assert large_most <= small_most * 1.5 + 5
