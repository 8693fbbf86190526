from __future__ import annotations

import json
import os
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cascadectl.tools.jsonstream import IncompleteJSONError, IncrementalJSONParser, JSONStreamError

SETTINGS = settings(max_examples=int(os.environ.get("JSONSTREAM_EXAMPLES", "150")), deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12)
)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=6), inner, max_size=5),
    max_leaves=25,
)
layouts = st.sampled_from(
    [
        {},
        {"ensure_ascii": False},
        {"indent": 2},
        {"indent": "\t", "ensure_ascii": False},
        {"separators": (",", ":")},
        {"separators": (" ,\r\n", " : ")},
    ]
)


def split(text: str, cuts: list[int]) -> list[str]:
    points = sorted({min(c, len(text)) for c in cuts})
    bounds = [0, *points, len(text)]
    return [text[a:b] for a, b in zip(bounds, bounds[1:])]


def is_partial_of(partial: Any, final: Any) -> bool:
    """Whether `partial` is what a reader may see of `final` mid-stream."""
    if isinstance(final, dict):
        if not isinstance(partial, dict) or list(partial) != list(final)[: len(partial)]:
            return False
        return _partial_items(list(partial.values()), list(final.values()))
    if isinstance(final, list):
        return isinstance(partial, list) and _partial_items(partial, final)
    if isinstance(final, str):
        return isinstance(partial, str) and final.startswith(partial)
    if isinstance(final, (int, float)) and not isinstance(final, bool):
        return isinstance(partial, (int, float)) and not isinstance(partial, bool)
    return repr(partial) == repr(final)


def _partial_items(partial: list[Any], final: list[Any]) -> bool:
    if len(partial) > len(final):
        return False
    if not partial:
        return True
    whole = all(repr(p) == repr(f) for p, f in zip(partial[:-1], final))
    return whole and is_partial_of(partial[-1], final[len(partial) - 1])


@SETTINGS
@given(values, layouts, st.lists(st.integers(min_value=0, max_value=400), max_size=12))
def test_random_documents_and_random_splits_match_json_loads(value: Any, layout: dict, cuts: list[int]) -> None:
    text = json.dumps(value, **layout)
    parser = IncrementalJSONParser()
    for fragment in split(text, cuts):
        parser.feed(fragment)
    assert repr(parser.finish()) == repr(json.loads(text))


@SETTINGS
@given(values, st.lists(st.integers(min_value=0, max_value=200), max_size=20))
def test_every_partial_value_is_a_prefix_of_the_final_one(value: Any, cuts: list[int]) -> None:
    text = json.dumps(value, ensure_ascii=False)
    final = json.loads(text)
    parser = IncrementalJSONParser()
    for fragment in split(text, cuts):
        parser.feed(fragment)
        snap = parser.snapshot()
        if snap is None and not isinstance(final, (dict, list)):
            continue  # a top-level literal or a bare '-' shows nothing yet
        if parser.started:
            assert is_partial_of(snap, final), (fragment, snap)
    assert repr(parser.finish()) == repr(final)


JSONISH = st.text(alphabet='{}[],:" \n\\/ubnrtfe0123456789-+.Easlx\u00e9', max_size=30)


def _strict_loads(text: str) -> Any:
    return json.loads(text, parse_constant=lambda name: (_ for _ in ()).throw(ValueError(name)))


@SETTINGS
@given(JSONISH, st.lists(st.integers(min_value=0, max_value=30), max_size=6))
def test_arbitrary_text_is_accepted_exactly_when_json_loads_accepts_it(text: str, cuts: list[int]) -> None:
    try:
        expected: Any = _strict_loads(text)
    except ValueError:
        expected = None
        ok = False
    else:
        ok = True
    parser = IncrementalJSONParser()
    try:
        for fragment in split(text, cuts):
            parser.feed(fragment)
        got = parser.finish()
    except JSONStreamError as exc:
        assert not ok, (text, exc)
        assert 0 <= exc.offset <= len(text)
        return
    assert ok, text
    assert repr(got) == repr(expected)


@SETTINGS
@given(JSONISH, st.lists(st.integers(min_value=0, max_value=30), max_size=6))
def test_error_offset_does_not_depend_on_how_the_text_was_split(text: str, cuts: list[int]) -> None:
    assert _outcome(split(text, cuts)) == _outcome([text])


def _outcome(fragments: list[str]) -> tuple[str, int]:
    parser = IncrementalJSONParser()
    try:
        for fragment in fragments:
            parser.feed(fragment)
        parser.finish()
    except IncompleteJSONError as exc:
        return ("incomplete", exc.offset)
    except JSONStreamError as exc:
        return (exc.message, exc.offset)
    return ("ok", -1)


@SETTINGS
@given(JSONISH)
def test_error_offset_is_the_first_character_no_json_can_follow(text: str) -> None:
    outcome = _outcome([text])
    if outcome[0] in ("ok", "incomplete"):
        return
    offset = outcome[1]
    assert _outcome([text[:offset]])[0] in ("ok", "incomplete")  # still a viable prefix
    assert _outcome([text[: offset + 1]])[1] == offset
