from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cascadectl.evals.answers import extract_json, pick_number, to_number
from cascadectl.evals.scorers import SCORERS, Score, canonical_scorer, normalize_text, score_answer


def run(scorer: str, expected: Any, answer: str = "", tool_calls: list[Any] | None = None, judge: float | None = None, **options: Any) -> Score:
    item = {"id": "x", "query": "?", "expected": expected, "scorer": scorer, **options}
    return score_answer(item, {"content": answer, "tool_calls": tool_calls or []}, judge)


@pytest.mark.parametrize("answer", ["Paris", "paris.", "  PARIS!  ", "**Paris**", '"Paris"', "Paris\n"])
def test_exact_ignores_case_whitespace_quotes_and_trailing_punctuation(answer: str) -> None:
    assert run("exact", "Paris", answer) == Score("exact", 1.0, True, "")


def test_exact_fails_on_a_different_or_longer_answer() -> None:
    assert run("exact", "Paris", "Paris, France").correct is False
    wrong = run("exact", "Paris", "Lyon")
    assert (wrong.score, wrong.correct, wrong.detail) == (0.0, False, "got 'lyon'")


def test_exact_case_sensitive_option_and_alternatives() -> None:
    assert run("exact", "Paris", "paris", case_sensitive=True).correct is False
    assert run("exact", ["NYC", "New York City"], "new york city").correct is True
    assert run("exact", 42, "42.").correct is True


def test_contains_finds_the_reference_inside_the_answer() -> None:
    assert run("contains", "Paris", "The capital is PARIS, of course.").correct is True
    assert run("contains", "Paris.", "It is Paris").correct is True  # trailing punctuation of the reference is ignored
    assert run("contains", "Rome", "It is Milan").correct is False
    assert run("contains", "Rome", "rome", case_sensitive=True).correct is False


def test_regex_searches_ignoring_case_unless_asked() -> None:
    assert run("regex", r"^\s*(paris|lutetia)\b", "Paris is the answer").correct is True
    assert run("regex", r"^paris", "Paris", case_sensitive=True).correct is False
    assert run("regex", r"\d{4}", "no digits").detail == "no match"


def test_regex_that_does_not_compile_is_invalid_not_a_crash() -> None:
    score = run("regex", "(unclosed", "anything")
    assert score.correct is False and score.detail.startswith("invalid: bad regular expression")


@pytest.mark.parametrize(
    ("answer", "number"),
    [
        ("42", 42.0),
        ("The answer is 42. That is 6 times 7.", 42.0),  # the marked number, not the last
        ("3 + 4 = 7", 7.0),
        ("First 3 apples, then 4 more: 7 in all", 7.0),  # no marker: the last number
        ("The total of 3 and 4 is 7", 7.0),
        ("It costs $1,234.50", 1234.5),
        ("x = -5", -5.0),
        ("between 3-4 hours", 4.0),  # a hyphen in a range is not a minus sign
        ("1.5e3", 1500.0),
        ("Four.", 4.0),  # number words only when there are no digits
        ("answer: **12**", 12.0),
        ("no number here", None),
    ],
)
def test_pick_number(answer: str, number: float | None) -> None:
    assert pick_number(answer) == number


def test_numeric_default_tolerance_is_tight() -> None:
    assert run("numeric", 7, "3 + 4 = 7").correct is True
    assert run("numeric", "7", "7.0").correct is True
    assert run("numeric", 7, "7.001").correct is False
    assert run("numeric", 7, "I don't know").detail == "no number in the answer"


def test_numeric_absolute_and_relative_tolerance() -> None:
    assert run("numeric", 3.14159, "about 3.14", tolerance=0.01).correct is True
    assert run("numeric", 3.14159, "about 3.1", tolerance=0.01).correct is False
    assert run("numeric", 1000, "1,009", tolerance="1%").correct is True  # 10 allowed
    assert run("numeric", 1000, "1,011", tolerance="1%").correct is False
    assert run("numeric", 100, "101", tolerance=1).correct is True  # exactly at the limit passes


def test_numeric_bad_reference_or_tolerance_is_invalid() -> None:
    assert run("numeric", "seven", "7").detail.startswith("invalid: expected is not a number")
    assert run("numeric", 7, "7", tolerance="-1%").detail.startswith("invalid: bad tolerance")


def test_to_number() -> None:
    assert to_number("1,234") == 1234.0 and to_number("$12") == 12.0 and to_number(3) == 3.0
    assert to_number(True) is None and to_number("abc") is None and to_number(float("nan")) is None


def test_json_match_exact_and_subset() -> None:
    expected = {"name": "Ada", "tags": ["a", "b"]}
    assert run("json-match", expected, '{"tags": ["a", "b"], "name": "Ada"}').correct is True
    extra = '{"name": "Ada", "tags": ["a", "b"], "age": 36}'
    assert run("json-match", expected, extra).detail == "$: unexpected keys ['age']"
    assert run("json-match", expected, extra, subset=True).correct is True


def test_json_match_reports_where_it_differs() -> None:
    assert run("json-match", {"a": {"b": 1}}, '{"a": {"b": 2}}').detail == "$.a.b: expected 1, got 2"
    assert run("json-match", {"a": [1, 2]}, '{"a": [1]}').detail == "$.a: expected a list of 2, got 1"
    assert run("json-match", {"a": 1}, '{"a": true}').correct is False  # true is not 1


def test_json_match_reads_fenced_or_embedded_json_and_string_references() -> None:
    assert run("json-match", '{"a": 1}', 'Sure:\n```json\n{"a": 1}\n```').correct is True
    assert run("json-match", [1, 2], "The list is [1, 2] as asked.").correct is True
    assert run("json-match", {"a": 1}, "not json at all").detail.startswith("the answer is not JSON")


def test_extract_json_prefers_the_whole_answer() -> None:
    assert extract_json('  {"a": [1, {"b": null}]}  ') == ({"a": [1, {"b": None}]}, None)


def test_tool_call_matches_name_and_arguments_in_any_order() -> None:
    expected = [{"name": "weather", "arguments": {"city": "Paris"}}, {"name": "stock", "arguments": {"ticker": "ACME"}}]
    calls = [{"id": "1", "name": "stock", "arguments": {"ticker": "ACME"}}, {"id": "2", "name": "weather", "arguments": {"city": "Paris"}}]
    assert run("tool-call", expected, tool_calls=calls) == Score("tool-call", 1.0, True, "")


def test_tool_call_partial_credit_and_extra_calls() -> None:
    expected = {"name": "weather", "arguments": {"city": "Paris"}}
    wrong_args = run("tool-call", expected, tool_calls=[{"name": "weather", "arguments": {"city": "Rome"}}])
    assert (wrong_args.score, wrong_args.correct) == (0.0, False)
    assert "no call matches weather" in wrong_args.detail
    extra = [{"name": "weather", "arguments": {"city": "Paris"}}, {"name": "other", "arguments": {}}]
    assert run("tool-call", expected, tool_calls=extra).score == 0.5
    assert run("tool-call", expected, tool_calls=[]).score == 0.0


def test_tool_call_accepts_openai_format_name_only_and_subset() -> None:
    openai = [{"type": "function", "function": {"name": "weather", "arguments": '{"city": "Paris", "unit": "C"}'}}]
    assert run("tool-call", {"name": "weather"}, tool_calls=openai).correct is True
    assert run("tool-call", {"name": "weather", "arguments": {"city": "Paris"}}, tool_calls=openai).correct is False
    assert run("tool-call", {"name": "weather", "arguments": {"city": "Paris"}}, tool_calls=openai, subset=True).correct is True


def test_judge_uses_the_given_verdict() -> None:
    assert run("judge", "a good answer", "x", judge=0.8) == Score("judge", 0.8, True, "judge 0.80")
    assert run("judge", "a good answer", "x", judge=0.5).correct is True  # the pass mark is inclusive
    assert run("judge", "a good answer", "x", judge=0.2).correct is False
    missing = run("judge", "a good answer", "x")
    assert (missing.score, missing.correct, missing.detail) == (0.0, False, "error: no judge verdict")
    assert run("judge", "ref", "x", judge=1.5).detail.startswith("invalid")


def test_an_errored_query_scores_zero() -> None:
    item = {"id": "x", "expected": "Paris", "scorer": "exact"}
    assert score_answer(item, None) == Score("exact", 0.0, False, "error")


def test_unknown_scorer_and_missing_reference_are_invalid() -> None:
    assert score_answer({"expected": "x", "scorer": "fuzzy"}, {"content": "x"}).detail.startswith("invalid: unknown scorer 'fuzzy'")
    assert score_answer({"scorer": "exact"}, {"content": "x"}).detail == "invalid: the item has no `expected` reference"


def test_scorer_names_and_aliases() -> None:
    assert [canonical_scorer(n) for n in SCORERS] == list(SCORERS)
    assert canonical_scorer("tool_call_match") == "tool-call" and canonical_scorer("JSON") == "json-match"
    assert canonical_scorer("nope") is None


def test_score_round_trips_through_a_dict() -> None:
    score = Score("numeric", 1 / 3, False, "got 2")
    assert score.to_dict() == {"scorer": "numeric", "score": 0.333333, "correct": False, "detail": "got 2"}
    assert Score.from_dict(score.to_dict()).detail == "got 2"


@given(st.text(max_size=40))
def test_normalize_is_idempotent_and_exact_accepts_its_own_reference(text: str) -> None:
    once = normalize_text(text)
    assert normalize_text(once) == once
    if once:
        assert run("exact", text, f"  {text.upper()}  ").correct is (normalize_text(text.upper()) == once)
