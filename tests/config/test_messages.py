from __future__ import annotations

import pytest

from cascadectl.config import ConfigIssue, check_cascade_text
from cascadectl.config.issues import WARNING, format_path
from cascadectl.config.messages import show, suggest

TWO_TIERS = """\
tiers:
  - {name: a, provider: fake, model: m1}
  - {name: b, provider: fake, model: m2}
"""


def messages(extra: str) -> list[str]:
    return [f"{i.path}: {i.message}" for i in check_cascade_text(TWO_TIERS + extra, env={}).issues]


@pytest.mark.parametrize(
    ("path", "text"),
    [
        ((), ""),
        (("tiers", 1, "price", "input"), "tiers[1].price.input"),
        (("tools", 0, "parameters", "properties", "my key"), "tools[0].parameters.properties['my key']"),
        (("$schema",), "$schema"),
    ],
)
def test_format_path(path: tuple[str | int, ...], text: str) -> None:
    assert format_path(path) == text


def test_issue_lines() -> None:
    assert str(ConfigIssue("c.yaml", 3, 7, "tiers[0]", "bad")) == "c.yaml:3:7: tiers[0]: bad"
    assert str(ConfigIssue("c.yaml", 1, 1, "", "empty")) == "c.yaml:1:1: empty"
    assert str(ConfigIssue("c.yaml", 0, 0, "", "cannot read")) == "c.yaml: cannot read"
    assert str(ConfigIssue("c.yaml", 2, 3, "tiers", "one", WARNING)) == "c.yaml:2:3: warning: tiers: one"


@pytest.mark.parametrize(
    ("word", "guess"),
    [("temprature", "temperature"), ("Model", "model"), ("temp", "temperature"), ("max", None), ("zzz", None)],
)
def test_suggest(word: str, guess: str | None) -> None:
    keys = ["model", "temperature", "max_tokens", "max_chars"]
    assert suggest(word, keys) == guess


@pytest.mark.parametrize(
    ("value", "text"),
    [(True, "true"), (None, "null"), ("x", "'x'"), (1.5, "1.5"), ({}, "a mapping"), ([], "a list"), ("y" * 80, repr("y" * 57 + "..."))],
)
def test_show(value: object, text: str) -> None:
    assert show(value) == text


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ("gates: {max_cost_increase: 10 percent}", "gates.max_cost_increase: expected a percentage like '10%', got '10 percent'"),
        ("gates: {max_cost_increase: -1}", "gates.max_cost_increase: expected a number >= 0, got -1"),
        ("gates: {max_cost_increase: [1]}", "gates.max_cost_increase: expected a number or a string, got a list"),
        ("routing: {rules: [{complexity: [hard, hardd], route: direct}]}",
         "routing.rules[0].complexity[1]: expected one of: trivial, simple, moderate, hard, expert; got 'hardd' (did you mean 'hard'?)"),
        ("routing: {rules: [{complexity: [], route: direct}]}", "routing.rules[0].complexity: expected at least 1 item, got 0"),
        ("tools: [{type: function, function: {name: f}, extra: 1}]", "tools[0]: unknown key 'extra' (expected one of: type, function)"),
        ("tools: [{type: tool, function: {name: f}}]", "tools[0].type: expected 'function', got 'tool'"),
        ("tools: [{name: f, input_schema: {type: object}, parameters: {}}]",
         "tools[0]: unknown key 'parameters' (expected one of: name, description, input_schema, cache_control)"),
        ("tools: [{name: 'bad name'}]", "tools[0].name: expected a tool name of 1 to 64 letters, digits, '_' or '-', got 'bad name'"),
        ("version: '1'", "version: expected an integer, got '1'"),
        ("name: ''", "name: expected a non-empty string"),
        ("routing: []", "routing: expected a mapping, got a list"),
        ("quality: {validators: [{type: format, json_schema: {type: object, required: x}}]}",
         "quality.validators[0].json_schema.required: not a valid JSON Schema: 'x' is not of type 'array'"),
    ],
)
def test_schema_messages(extra: str, expected: str) -> None:
    assert messages(extra + "\n") == [expected]


def test_timeout_mapping_branch_is_chosen_for_a_mapping() -> None:
    assert messages("defaults: {}\n") == []
    text = TWO_TIERS.replace("model: m2}", "model: m2, timeout: {stall: slow}}")
    (issue,) = check_cascade_text(text).issues
    assert (issue.path, issue.message) == ("tiers[1].timeout.stall", "expected a number, got 'slow'")
