from __future__ import annotations

import math
from typing import Any, Mapping

import pytest

from cascadectl.quality.checks import (
    HARD_CHECKS,
    SOFT_CHECKS,
    CheckResult,
    alignment,
    answer_format,
    confidence,
    hedging,
    length_fit,
    non_empty,
    refusal,
)
from cascadectl.quality.draft import Draft
from tests.quality.builders import call, context

CTX = context()


def test_registries_name_the_hard_and_soft_checks() -> None:
    assert set(HARD_CHECKS) == {"non_empty", "refusal", "format"}
    assert set(SOFT_CHECKS) == {"confidence", "hedging", "length", "alignment", "likelihood"}
    for name, check in {**HARD_CHECKS, **SOFT_CHECKS}.items():
        assert check(Draft("Paris."), CTX, {}).name == name


def test_check_result_to_dict_rounds_the_score() -> None:
    result = CheckResult("hedging", "soft", True, 2 / 3, 1, 0.5)
    assert result.to_dict() == {
        "name": "hedging",
        "kind": "soft",
        "passed": True,
        "score": 0.6667,
        "value": 1,
        "weight": 0.5,
    }
    assert CheckResult("refusal", "hard", False, None, True).to_dict()["score"] is None


# non_empty


@pytest.mark.parametrize(
    ("text", "passed", "size"),
    [("Paris", True, 5), ("  Paris \n", True, 5), ("", False, 0), (" \n\t", False, 0)],
)
def test_non_empty_measures_stripped_text(text: str, passed: bool, size: int) -> None:
    result = non_empty(Draft(text), CTX, {})
    assert (result.kind, result.passed, result.value) == ("hard", passed, size)


def test_non_empty_accepts_a_tool_call_without_text() -> None:
    assert non_empty(Draft("", tool_calls=(call(),)), CTX, {}).passed


# refusal


@pytest.mark.parametrize(
    "text",
    [
        "I'm sorry, but I can't help with that.",
        "Im sorry I cannot do this",
        "I cannot help with that request.",
        "I won't assist with this.",
        "I am unable to provide that information.",
        "As an AI language model, I cannot browse the web.",
        "As an AI I don't have opinions.",
        "I'm unable to answer that.",
        "Sorry, but I can't do that.",
        "  **I'm sorry, but I cannot** share that.",
    ],
)
def test_refusal_fails_on_refusal_phrasing_at_the_start(text: str) -> None:
    result = refusal(Draft(text), CTX, {})
    assert (result.kind, result.passed, result.value) == ("hard", False, True)


@pytest.mark.parametrize(
    "text",
    [
        "Paris is the capital of France.",
        "I'm sorry for the confusion earlier: the answer is 4.",
        "I cannot stress this enough: back up your data.",
        "The answer is 4. I can't help with anything beyond that.",
        "",
    ],
)
def test_refusal_passes_answers_and_refusals_not_at_the_start(text: str) -> None:
    result = refusal(Draft(text), CTX, {})
    assert (result.passed, result.value) == (True, False)


def test_refusal_fails_when_the_provider_flags_a_refusal() -> None:
    assert not refusal(Draft("Paris.", refusal="content policy"), CTX, {}).passed


# format


@pytest.mark.parametrize(("text", "passed"), [("42", True), ("  42\n", True), ("42 apples", False), ("", False)])
def test_format_regex_searches_the_stripped_text(text: str, passed: bool) -> None:
    result = answer_format(Draft(text), CTX, {"regex": "^[0-9]+$"})
    assert (result.name, result.kind, result.passed) == ("format", "hard", passed)
    assert result.value == ("ok" if passed else "does not match '^[0-9]+$'")


OBJECT_SCHEMA: Mapping[str, Any] = {
    "type": "object",
    "properties": {"answer": {"type": "integer"}},
    "required": ["answer"],
}


@pytest.mark.parametrize(
    ("text", "passed", "value"),
    [
        ('{"answer": 4}', True, "ok"),
        ('\n{"answer": 4}\n', True, "ok"),
        ("{}", False, "$: 'answer' is a required property"),
        ('{"answer": "four"}', False, "answer: 'four' is not of type 'integer'"),
        ("[4]", False, "$: [4] is not of type 'object'"),
    ],
)
def test_format_json_schema_reports_where_the_value_breaks_the_schema(text: str, passed: bool, value: str) -> None:
    result = answer_format(Draft(text), CTX, {"json_schema": OBJECT_SCHEMA})
    assert (result.passed, result.value) == (passed, value)


@pytest.mark.parametrize("text", ["answer: 4", '```json\n{"answer": 4}\n```', ""])
def test_format_json_schema_fails_on_text_that_is_not_json(text: str) -> None:
    result = answer_format(Draft(text), CTX, {"json_schema": OBJECT_SCHEMA})
    assert not result.passed
    assert result.value.startswith("not JSON: ")


def test_format_checks_the_regex_before_the_schema() -> None:
    result = answer_format(Draft('{"answer": 4}'), CTX, {"regex": "^[0-9]+$", "json_schema": OBJECT_SCHEMA})
    assert result.value == "does not match '^[0-9]+$'"


def test_format_without_options_passes() -> None:
    assert answer_format(Draft("anything"), CTX, {}).passed


# confidence


def test_confidence_without_logprobs_has_no_signal() -> None:
    result = confidence(Draft("Paris."), CTX, {})
    assert (result.kind, result.passed, result.score, result.value) == ("soft", True, None, None)


def test_confidence_blends_mean_and_min_token_probability() -> None:
    result = confidence(Draft("Paris.", logprobs=(math.log(0.9), math.log(0.5))), CTX, {})
    mean_p = math.sqrt(0.9 * 0.5)  # geometric mean of the token probabilities
    assert result.score == pytest.approx(0.8 * mean_p + 0.2 * 0.5)
    assert result.value == {"mean_prob": 0.6708, "min_prob": 0.5, "tokens": 2}
    assert result.passed


def test_confidence_of_certain_tokens_is_one() -> None:
    assert confidence(Draft("Paris.", logprobs=(0.0, 0.0, 0.0)), CTX, {}).score == pytest.approx(1.0)


def test_one_unlikely_token_pulls_confidence_down() -> None:
    steady = confidence(Draft("x", logprobs=(math.log(0.9),) * 4), CTX, {}).score
    spiky = confidence(Draft("x", logprobs=(math.log(0.9),) * 3 + (math.log(0.01),)), CTX, {}).score
    assert steady is not None and spiky is not None
    assert spiky < steady


# hedging


@pytest.mark.parametrize(
    ("text", "score", "count"),
    [
        ("Paris is the capital of France.", 1.0, 0),
        ("It is probably Paris.", 0.7, 1),
        ("Maybe Paris, perhaps Lyon.", 0.4, 2),
        ("MAYBE Paris.", 0.7, 1),
        ("I think it might be Paris, as far as I know.", 0.1, 3),
        ("I think maybe perhaps possibly.", 0.0, 4),
    ],
)
def test_hedging_costs_three_tenths_per_hedge(text: str, score: float, count: int) -> None:
    result = hedging(Draft(text), CTX, {})
    assert (result.kind, result.passed, result.value) == ("soft", True, count)
    assert result.score == pytest.approx(score)


@pytest.mark.parametrize(
    "text",
    ["I don't know.", "Honestly, no idea.", "I'm not sure, maybe Paris.", "I\u2019m not sure.", "I am not sure it is Paris"],
)
def test_hedging_scores_an_admitted_not_knowing_as_zero(text: str) -> None:
    result = hedging(Draft(text), CTX, {})
    assert (result.score, result.value) == (0.0, "admits not knowing")


def test_hedging_matches_whole_words_only() -> None:
    assert hedging(Draft("Maybelline sells perhapsish products."), CTX, {}).score == 1.0


# length


@pytest.mark.parametrize(
    ("complexity", "size", "score"),
    [
        ("trivial", 1, 1.0),
        ("trivial", 400, 1.0),
        ("trivial", 800, 0.5),
        ("simple", 800, 1.0),
        ("moderate", 10, 0.5),
        ("moderate", 20, 1.0),
        ("hard", 30, 0.5),
        ("hard", 12000, 0.5),
        ("expert", 25, 0.25),
        ("unknown", 4000, 1.0),
        ("unknown", 8000, 0.5),
    ],
)
def test_length_scores_the_distance_from_the_complexity_band(complexity: str, size: int, score: float) -> None:
    result = length_fit(Draft("x" * size), context(complexity=complexity), {})
    assert (result.kind, result.value) == ("soft", size)
    assert result.score == pytest.approx(score)


def test_length_ignores_surrounding_whitespace() -> None:
    assert length_fit(Draft("\n  Paris  \n"), CTX, {}).value == 5


def test_length_of_empty_text_scores_zero() -> None:
    assert length_fit(Draft(""), CTX, {}).score == 0.0


def test_length_options_override_the_band() -> None:
    opts = {"min_chars": 10, "max_chars": 20}
    assert length_fit(Draft("x" * 5), CTX, opts).score == pytest.approx(0.5)
    assert length_fit(Draft("x" * 15), CTX, opts).score == 1.0
    assert length_fit(Draft("x" * 40), CTX, opts).score == pytest.approx(0.5)


def test_length_halves_the_score_of_a_draft_cut_off_by_max_tokens() -> None:
    assert length_fit(Draft("Paris", finish_reason="length"), CTX, {}).score == 0.5
    assert length_fit(Draft("x" * 10, finish_reason="length"), context(complexity="moderate"), {}).score == 0.25


def test_length_has_no_signal_for_a_tool_call_without_text() -> None:
    result = length_fit(Draft("", tool_calls=(call(),)), CTX, {})
    assert (result.score, result.value) == (None, 0)


# alignment


def test_alignment_gives_a_short_answer_the_neutral_base() -> None:
    result = alignment(Draft("Paris."), CTX, {})
    assert (result.kind, result.score, result.value) == ("soft", pytest.approx(0.7), 0.0)


@pytest.mark.parametrize(
    ("answer", "overlap"),
    [
        ("The capital of France is Paris.", 1.0),
        ("Its capital is Paris.", 0.5),
        ("France's capital city is Paris.", 0.5),
    ],
)
def test_alignment_adds_the_share_of_query_terms_in_the_answer(answer: str, overlap: float) -> None:
    # Query terms: "capital", "france" ("what", "the" are stopwords; "is", "of" too short).
    result = alignment(Draft(answer), CTX, {})
    assert result.value == overlap
    assert result.score == pytest.approx(0.7 + 0.3 * overlap)


def test_alignment_penalises_an_answer_that_echoes_the_query() -> None:
    result = alignment(Draft("What is the capital of France? The capital of France is Paris."), CTX, {})
    assert (result.score, result.value) == (0.1, "echoes the query")


def test_alignment_does_not_call_an_answer_to_a_short_query_an_echo() -> None:
    # " who is ada  " is 13 characters folded: too short to count as an echo.
    result = alignment(Draft("Who is Ada? A mathematician."), context("Who is Ada?"), {})
    assert (result.score, result.value) == (pytest.approx(1.0), 1.0)


def test_alignment_has_no_signal_when_the_query_has_no_content_words() -> None:
    result = alignment(Draft("Paris."), context("Who is it?"), {})
    assert (result.score, result.value) == (None, None)


def test_likelihood_reads_the_other_tier_s_logprobs_mean_or_min() -> None:
    import math

    from cascadectl.quality.checks import likelihood
    from cascadectl.quality.draft import DecisionContext, ScoredText

    read = ScoredText("big", (-0.1, -0.3, -2.0))
    ctx = DecisionContext("q?", "simple", 0.7, signals={"likelihood": read})
    mean = likelihood(Draft("a b c"), ctx, {})
    assert mean.score == pytest.approx(math.exp(-2.4 / 3))
    assert mean.value == {"tier": "big", "mean_prob": round(math.exp(-0.8), 4), "min_prob": round(math.exp(-2.0), 4), "tokens": 3}
    assert likelihood(Draft("a b c"), ctx, {"stat": "min"}).score == pytest.approx(math.exp(-2.0))
    unread = likelihood(Draft("a b c"), DecisionContext("q?", "simple", 0.7), {})
    assert (unread.score, unread.value, unread.passed) == (None, None, True)
