from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cascadectl.config import check_cascade_text, load_cascade_text
from cascadectl.config.interpolate import InterpolationError, expand

TIERS = """\
tiers:
  - name: drafter
    provider: openai
    model: {model}
    {extra}
  - {{name: verifier, provider: openai, model: gpt-4o}}
"""


def cascade(model: str = "gpt-4o-mini", extra: str = "retries: 1") -> str:
    return TIERS.format(model=model, extra=extra)


@pytest.mark.parametrize(
    ("text", "env", "result"),
    [
        ("${A}", {"A": "x"}, "x"),
        ("pre-${A}-post", {"A": "x"}, "pre-x-post"),
        ("${A}${B}", {"A": "1", "B": "2"}, "12"),
        ("${A:-dflt}", {}, "dflt"),
        ("${A:-dflt}", {"A": ""}, "dflt"),
        ("${A:-dflt}", {"A": "set"}, "set"),
        ("${A:-}", {}, ""),
        ("${A:-http://h:1/v1}", {}, "http://h:1/v1"),
        ("${A}", {"A": ""}, ""),
        ("$${A}", {}, "${A}"),
        ("$$${A}", {"A": "x"}, "$${A}"),
        ("cost $5", {}, "cost $5"),
        ("$A {A}", {"A": "x"}, "$A {A}"),
    ],
)
def test_expand(text: str, env: dict[str, str], result: str) -> None:
    assert expand(text, env).text == result


def test_expand_names_the_variables_it_used() -> None:
    assert expand("${A}/${B:-b}", {"A": "a"}).variables == ("A", "B")
    assert expand("$${A} plain", {}).variables == ()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("${MISSING}", "environment variable MISSING is not set (or write ${MISSING:-default})"),
        ("${1ABC}", "invalid variable reference '${1ABC}' (expected ${NAME} or ${NAME:-default}; write $${ for a literal ${)"),
        ("${A-B}", "invalid variable reference '${A-B}' (expected ${NAME} or ${NAME:-default}; write $${ for a literal ${)"),
        ("${}", "invalid variable reference '${}' (expected ${NAME} or ${NAME:-default}; write $${ for a literal ${)"),
        ("x ${OPEN", "unclosed '${' (expected ${NAME} or ${NAME:-default}; write $${ for a literal ${)"),
    ],
)
def test_expand_errors(text: str, message: str) -> None:
    with pytest.raises(InterpolationError) as caught:
        expand(text, {})
    assert str(caught.value) == message


@given(st.text().filter(lambda t: "$" not in t))
def test_text_without_dollar_is_unchanged(text: str) -> None:
    assert expand(text, {}).text == text


@given(st.text())
def test_a_variable_expands_to_exactly_its_value(value: str) -> None:
    assert expand("<${V}>", {"V": value}).text == f"<{value}>"


def test_unquoted_reference_is_typed_like_yaml() -> None:
    config = load_cascade_text(cascade(extra="max_tokens: ${MAX:-64}\n    temperature: ${T}"), env={"T": "0.5"})
    assert (config.tiers[0].max_tokens, config.tiers[0].temperature) == (64, 0.5)


def test_quoted_reference_stays_a_string() -> None:
    issues = check_cascade_text(cascade(extra='max_tokens: "${MAX:-64}"'), env={}).issues
    assert [i.message for i in issues] == ["expected an integer, got a string from ${MAX} (value not shown)"]


def test_expanded_text_never_changes_structure() -> None:
    # A value that looks like YAML stays one string: expansion happens after parsing.
    config = load_cascade_text(cascade(model="${M}"), env={"M": "a: [b, c]\n- d"})
    assert config.tiers[0].model == "a: [b, c]\n- d"


def test_unset_variable_names_the_variable_and_place() -> None:
    (issue,) = check_cascade_text(cascade(model="${NOT_SET_ANYWHERE}"), "c.yaml", env={}).issues
    assert str(issue) == (
        "c.yaml:4:12: tiers[0].model: environment variable NOT_SET_ANYWHERE is not set "
        "(or write ${NOT_SET_ANYWHERE:-default})"
    )


def test_failed_reference_is_not_also_reported_by_the_schema() -> None:
    issues = check_cascade_text(cascade(extra="max_tokens: ${NOPE}"), env={}).issues
    assert [i.message for i in issues] == ["environment variable NOPE is not set (or write ${NOPE:-default})"]


SECRET = "sk-live-Zyx987-not-for-logs"


@pytest.mark.parametrize(
    "text",
    [
        cascade(extra="max_tokens: ${SECRET}"),
        cascade(extra="temperature: ${SECRET}"),
        cascade(extra="base_url: ${SECRET}"),
        cascade(extra="provider: ${SECRET}"),
        cascade(extra="api_key_env: ${SECRET}"),
        cascade(extra="timeout: ${SECRET}"),
        cascade() + "routing: {direct_tier: '${SECRET}'}\n",
        cascade().replace("name: verifier", "name: '${SECRET}'").replace("name: drafter", "name: ${SECRET}"),
        cascade() + "routing: {rules: [{complexity: ['${SECRET}', '${SECRET}'], route: direct}]}\n",
        cascade() + "quality: {validators: [{type: format, json_schema: {type: '${SECRET}'}}]}\n",
    ],
)
def test_interpolated_values_are_never_echoed(text: str) -> None:
    issues = check_cascade_text(text, env={"SECRET": SECRET}).issues
    assert issues, "each case must produce at least one problem"
    assert all(SECRET not in str(issue) and "sk-live" not in str(issue) for issue in issues)


def test_escaped_reference_is_literal_in_options() -> None:
    config = load_cascade_text(cascade(extra="options: {template: '$${USER} said ${WORD:-hi}'}"), env={})
    assert config.tiers[0].options == {"template": "${USER} said hi"}
