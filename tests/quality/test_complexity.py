from __future__ import annotations

import pytest

from cascadectl.config.model import COMPLEXITIES
from cascadectl.errors import UsageError
from cascadectl.quality.complexity import ComplexityEstimate, check_complexity, estimate_complexity


def words(n: int, first: str = "cats") -> str:
    return " ".join([first] + ["cats"] * (n - 1))


@pytest.mark.parametrize(
    ("query", "level", "reason"),
    [
        # At most six words and no task keyword: short and factual.
        ("hi", "trivial", "short factual query (1 words)"),
        ("What is the capital of France?", "trivial", "short factual query (6 words)"),
        ("What is 2+2?", "trivial", "short factual query (3 words)"),
        # Seven to thirty words, one question, no keyword.
        ("Who was the first person to walk on the moon?", "simple", "short query (10 words)"),
        (words(30), "simple", "short query (30 words)"),
        # An explanation keyword, two questions, or more than thirty words.
        ("Why is the sky blue?", "moderate", "explanation or multi-part question"),
        ("Explain how a hash map works.", "moderate", "explanation or multi-part question"),
        ("What is Rust? What is Go?", "moderate", "explanation or multi-part question"),
        (words(31), "moderate", "explanation or multi-part question"),
        # A task keyword, code in a longer query, or more than 120 words.
        ("Implement a binary search tree in Rust.", "hard", "task keyword or code"),
        ("Compare and contrast TCP and UDP.", "hard", "task keyword or code"),
        ("Write a function that reverses a string.", "hard", "task keyword or code"),
        (
            "Why does `x == None` behave differently from `x is None` in my Python code here?",
            "hard",
            "task keyword or code",
        ),
        (words(121), "hard", "long query (121 words)"),
        (words(121, first="Debug"), "hard", "long task"),
        # Expert keywords win over everything else.
        ("Prove that there are infinitely many primes.", "expert", "expert keyword"),
        ("Implement a quantum circuit simulator.", "expert", "expert keyword"),
        ("Optimise the algorithm for speed", "expert", "expert keyword"),
    ],
)
def test_estimate_complexity(query: str, level: str, reason: str) -> None:
    assert estimate_complexity(query) == ComplexityEstimate(level, reason)


def test_short_code_is_not_hard_on_its_own() -> None:
    # Code counts only in queries over twelve words; here "explain" decides.
    assert estimate_complexity("Explain `a == b` in Python.").level == "moderate"


@pytest.mark.parametrize("query", ["PROVE it", "prove it", "Derive the formula"])
def test_keywords_match_case_insensitively(query: str) -> None:
    assert estimate_complexity(query).level == "expert"


def test_keywords_match_whole_words_only() -> None:
    # "improve" contains "prove"; "redesigned" contains "design".
    assert estimate_complexity("Improve my redesigned garden").level == "trivial"


def test_every_estimate_is_a_known_level() -> None:
    queries = ["hi", "Why?", "Implement it", "Prove it", words(200)]
    assert {estimate_complexity(q).level for q in queries} <= set(COMPLEXITIES)


@pytest.mark.parametrize("level", COMPLEXITIES)
def test_check_complexity_returns_a_known_level(level: str) -> None:
    assert check_complexity(level) == level


def test_check_complexity_refuses_an_unknown_level() -> None:
    with pytest.raises(UsageError, match=r"complexity must be one of trivial, simple, moderate, hard, expert; got 'easy'"):
        check_complexity("easy")
