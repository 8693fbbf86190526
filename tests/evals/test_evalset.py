from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cascadectl.errors import ConfigError
from cascadectl.evals.evalset import (
    EvalItem,
    _validator,
    check_evalset,
    load_evalset,
    plainly_valid,
    schema_text,
    validate_evalset,
)
from cascadectl.evals.scorers import SCORERS

REPO = Path(__file__).resolve().parents[2]
GOOD = {"id": "a", "query": "What is 2 + 2?", "expected": 4, "scorer": "numeric", "tags": ["arithmetic"]}


def write(tmp_path: Path, *lines: object) -> Path:
    path = tmp_path / "set.jsonl"
    path.write_text("".join((l if isinstance(l, str) else json.dumps(l)) + "\n" for l in lines), encoding="utf-8")
    return path


def only_problem(tmp_path: Path, line: object) -> str:
    problems = validate_evalset(write(tmp_path, GOOD, line))
    assert len(problems) == 1, problems
    return problems[0]


def test_loads_items_in_order_skipping_blank_lines(tmp_path: Path) -> None:
    second = {"id": 7, "messages": [{"role": "user", "content": "Hi"}], "expected": "hello", "scorer": "contains"}
    items = load_evalset(write(tmp_path, GOOD, "", "   ", second))
    assert [i.id for i in items] == ["a", "7"]
    assert [i.line for i in items] == [1, 4]
    assert items[1].messages == ({"role": "user", "content": "Hi"},) and items[1].query is None


def test_to_dict_is_the_line_the_scorers_read() -> None:
    item = EvalItem.from_dict({**GOOD, "tolerance": "1%", "complexity_hint": "simple"}, 3)
    assert item.to_dict() == {
        "id": "a", "query": "What is 2 + 2?", "expected": 4, "scorer": "numeric", "tolerance": "1%",
        "tags": ["arithmetic"], "complexity_hint": "simple", "tools": [],
    }


@pytest.mark.parametrize(
    ("line", "where", "message"),
    [
        ('{"id": "b", "query": "x"', ":2:", "not valid JSON"),
        ("[1, 2]", ":2:1:", "expected a JSON object, got an array"),
        ({"id": "b", "expected": "y", "scorer": "exact"}, ":2:1:", "give exactly one of 'query' or 'messages'"),
        ({"id": "b", "query": "q", "scorer": "exact"}, ":2:1: expected:", "missing (required)"),
        ({"id": "b", "query": "q", "expected": "y", "scorer": "fuzzy"}, ": scorer:", "expected one of exact, contains"),
        ({"id": "b", "query": "q", "expected": "y", "scorer": "exact", "tolerence": 1}, ": tolerence:", "did you mean 'tolerance'?"),
        ({"id": "b", "query": "q", "expected": 1, "scorer": "numeric", "tolerance": "lots"}, ": tolerance:", "percentage string"),
        ({"id": "b", "query": "q", "expected": "x", "scorer": "numeric"}, ": expected:", "expected a number"),
        ({"id": "b", "query": "q", "expected": "(a", "scorer": "regex"}, ": expected:", "not a valid regular expression"),
        ({"id": "b", "query": "q", "expected": "a", "scorer": "tool-call"}, ": expected:", "a JSON object or a JSON array"),
        ({"id": "b", "query": "q", "expected": "a", "scorer": "exact", "complexity_hint": "easy"}, ": complexity_hint:", "got \"easy\""),
        ({"id": "b", "query": "", "expected": "a", "scorer": "exact"}, ": query:", "must not be empty"),
        ({"id": "b", "query": "q", "expected": "a", "scorer": "exact", "tags": ["a b"]}, ": tags[0]:", "without commas or spaces"),
        ({"id": "b", "messages": [{"role": "system", "content": "s"}], "expected": "a", "scorer": "exact"}, ": messages:", "role 'user'"),
        ({"id": "a", "query": "q", "expected": "a", "scorer": "exact"}, ":2:2: id:", "duplicate id 'a' (first used on line 1)"),
    ],
)
def test_a_bad_line_names_file_line_field_and_problem(tmp_path: Path, line: object, where: str, message: str) -> None:
    problem = only_problem(tmp_path, line)
    assert problem.startswith(str(tmp_path / "set.jsonl") + ":2:")
    assert where in problem and message in problem


def test_load_raises_one_config_error_listing_every_bad_line(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD, "nope", {"id": "c", "query": "q", "expected": "y", "scorer": "bogus"}, {**GOOD, "id": "d"})
    with pytest.raises(ConfigError) as caught:
        load_evalset(path)
    message = str(caught.value)
    assert f"{path}:2:" in message and f"{path}:3:" in message
    assert f"{path}:4:" not in message and f"{path}:1:" not in message


def test_unreadable_and_empty_evalsets_are_clear_errors(tmp_path: Path) -> None:
    assert "cannot read evalset" in validate_evalset(tmp_path / "missing.jsonl")[0]
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="has no items"):
        load_evalset(empty)


def test_schema_scorers_match_the_scorers_module() -> None:
    schema = json.loads(schema_text())
    assert tuple(schema["properties"]["scorer"]["enum"]) == SCORERS


def test_the_shipped_qa_evalset_is_valid_and_broad() -> None:
    check = check_evalset(REPO / "evalsets" / "qa.jsonl")
    assert check.issues == []
    items = check.items
    assert len(items) >= 60
    tags = {t for i in items for t in i.tags}
    assert {"factual", "arithmetic", "reasoning", "easy", "hard"} <= tags
    easy = [i for i in items if "easy" in i.tags]
    assert len(easy) >= 30  # plenty that a 135M-parameter drafter can get right
    assert {i.scorer for i in items} >= {"contains", "numeric", "regex", "exact"}


@pytest.mark.parametrize("name", ["tools.jsonl"])
def test_other_shipped_evalsets_stay_valid(name: str) -> None:
    path = REPO / "evalsets" / name
    if not path.exists():
        pytest.skip(f"evalsets/{name} is not in this checkout")
    assert validate_evalset(path) == []


KEYS = st.sampled_from(["id", "query", "expected", "scorer", "tags", "notes", "complexity_hint", "messages", "tolerance", "judge"])
VALUES = st.one_of(
    st.none(), st.booleans(), st.integers(-3, 3), st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=6), st.sampled_from(["exact", "numeric", "tool-call", "judge", "simple", "easy", " ", "a,b", "a\\n"]),
    st.lists(st.one_of(st.text(max_size=4), st.integers(0, 2)), max_size=3),
)


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(KEYS, VALUES, max_size=8))
def test_the_fast_path_accepts_only_lines_the_schema_accepts(raw: dict) -> None:
    if plainly_valid(raw):
        assert not list(_validator().iter_errors(raw)), raw


def test_the_fast_path_takes_the_usual_lines() -> None:
    assert plainly_valid(GOOD)
    assert plainly_valid({"id": 3, "query": "q", "expected": "x", "scorer": "contains", "complexity_hint": "hard"})
    assert not plainly_valid({**GOOD, "tags": ["a", "a"]})
    assert not plainly_valid({**GOOD, "expected": True})
