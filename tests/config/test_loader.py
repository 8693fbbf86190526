from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from cascadectl.config import (
    ConfigIssue,
    InvalidCascadeError,
    check_cascade_text,
    load_cascade,
    load_cascade_text,
    validate_cascade_file,
)
from cascadectl.config.model import DEFAULT_THRESHOLDS, PriceSpec, Timeouts
from cascadectl.errors import ConfigError

FULL = """\
version: 1
name: demo
tiers:
  - name: drafter
    provider: openai
    model: gpt-4o-mini
    base_url: https://api.openai.com/v1
    api_key_env: OPENAI_API_KEY
    price: {input: 0.15, output: 1, cached_input: 0.075}
    max_tokens: 512
    temperature: 1
    timeout: 30
    retries: 0
    logprobs: false
    options: {seed: 7, logit_bias: {50256: -100}}
  - name: verifier
    provider: anthropic
    model: claude-sonnet-4-5
    timeout: {connect: 2, total: 90}
routing:
  default: direct
  direct_tier: verifier
  rules:
    - {complexity: hard, route: direct, tier: verifier}
    - {complexity: [trivial, simple], query_regex: "(?i)hi", has_tools: false, route: cascade}
quality:
  draft_mode: buffered
  early_abort: false
  thresholds: {hard: 0.9}
  validators:
    - type: non_empty
    - {type: format, regex: "^\\\\d+$"}
    - {type: confidence, weight: 2}
    - {type: judge, tier: verifier, prompt: Grade it.}
tools:
  - {name: get_weather, description: Weather., parameters: {type: object, properties: {city: {type: string}}}}
  - {type: function, function: {name: add, parameters: {type: object}}}
  - {name: mul, input_schema: {type: object}}
defaults: {max_tokens: 256, temperature: 0, system: Be brief.}
gates: {max_cost_increase: "10%", max_error_rate: 0.01}
"""

TWO_TIERS = """\
tiers:
  - {name: a, provider: fake, model: m1}
  - {name: b, provider: fake, model: m2}
"""


def test_full_file_builds_typed_config() -> None:
    config = load_cascade_text(FULL, source="demo.yaml")
    drafter, verifier = config.tiers
    assert (config.name, config.source) == ("demo", "demo.yaml")
    assert drafter.price == PriceSpec(input=0.15, output=1.0, cached_input=0.075)
    assert isinstance(drafter.price.output, float) and isinstance(drafter.temperature, float)
    assert (drafter.max_tokens, drafter.retries, drafter.logprobs) == (512, 0, False)
    assert drafter.options == {"seed": 7, "logit_bias": {"50256": -100}}
    assert verifier.price is None and verifier.api_key_env is None


def test_timeout_number_caps_every_part() -> None:
    drafter, verifier = load_cascade_text(FULL).tiers
    assert drafter.timeout == Timeouts(connect=10.0, read=30.0, stall=30.0, total=30.0)
    assert verifier.timeout == Timeouts(connect=2.0, read=60.0, stall=30.0, total=90.0)


def test_routing_rules() -> None:
    routing = load_cascade_text(FULL).routing
    assert (routing.default, routing.direct_tier) == ("direct", "verifier")
    first, second = routing.rules
    assert (first.complexity, first.route, first.tier) == (("hard",), "direct", "verifier")
    assert second.complexity == ("trivial", "simple")
    assert (second.query_regex, second.has_tools, second.tier) == ("(?i)hi", False, None)


def test_quality_thresholds_merge_with_defaults() -> None:
    quality = load_cascade_text(FULL).quality
    assert (quality.draft_mode, quality.early_abort) == ("buffered", False)
    assert quality.thresholds == {**DEFAULT_THRESHOLDS, "hard": 0.9}


def test_validator_options_are_everything_but_type_and_weight() -> None:
    validators = load_cascade_text(FULL).quality.validators
    assert [v.type for v in validators] == ["non_empty", "format", "confidence", "judge"]
    assert validators[1].options == {"regex": "^\\d+$"}
    assert (validators[2].weight, validators[2].options) == (2.0, {})
    assert validators[3].options == {"tier": "verifier", "prompt": "Grade it."}


def test_tools_of_all_three_shapes_stay_plain_dicts() -> None:
    tools = load_cascade_text(FULL).tools
    assert [type(t) for t in tools] == [dict, dict, dict]
    assert tools[1] == {"type": "function", "function": {"name": "add", "parameters": {"type": "object"}}}
    assert tools[2]["input_schema"] == {"type": "object"}


def test_defaults_and_gates() -> None:
    config = load_cascade_text(FULL)
    assert (config.defaults.max_tokens, config.defaults.temperature, config.defaults.system) == (256, 0.0, "Be brief.")
    assert config.gates == {"max_cost_increase": "10%", "max_error_rate": 0.01}


def test_minimal_file_takes_model_defaults() -> None:
    config = load_cascade_text(TWO_TIERS)
    assert config.name == "cascade" and config.tools == () and config.gates == {}
    assert config.tiers[0].timeout == Timeouts() and config.tiers[0].retries == 2
    assert config.quality.thresholds == DEFAULT_THRESHOLDS and config.quality.validators == ()


def test_name_defaults_to_file_stem(tmp_path: Path) -> None:
    path = tmp_path / "fast-and-cheap.yaml"
    path.write_text(TWO_TIERS)
    config = load_cascade(path)
    assert (config.name, config.source) == ("fast-and-cheap", str(path))


def test_load_raises_config_error_listing_every_problem(tmp_path: Path) -> None:
    path = tmp_path / "x.yaml"
    path.write_text("tiers:\n  - {name: a, provider: fake}\n  - {name: b, provider: nope, model: m}\n")
    with pytest.raises(InvalidCascadeError) as caught:
        load_cascade(path)
    assert isinstance(caught.value, ConfigError) and caught.value.exit_code == 2
    lines = str(caught.value).splitlines()
    assert lines == [
        f"{path}:2:5: tiers[0]: missing required key 'model'",
        f"{path}:3:25: tiers[1].provider: expected one of: openai, anthropic, llamacpp, fake; got 'nope'",
    ]
    assert [str(i) for i in caught.value.issues] == lines


def test_validate_returns_issues_in_file_order(tmp_path: Path) -> None:
    path = tmp_path / "x.yaml"
    path.write_text(TWO_TIERS.replace("m2}", "m2, retries: x}") + "quality: {draft_mode: no}\n")
    issues = validate_cascade_file(path)
    assert [(i.line, i.col, i.path) for i in issues] == [(3, 51, "tiers[1].retries"), (4, 23, "quality.draft_mode")]
    assert all(isinstance(i, ConfigIssue) and i.is_error for i in issues)


def test_single_tier_is_a_warning_not_an_error() -> None:
    check = check_cascade_text("tiers:\n  - {name: only, provider: fake, model: m}\n", "one.yaml")
    (issue,) = check.issues
    assert not issue.is_error and check.config is not None
    assert str(issue) == (
        "one.yaml:2:3: warning: tiers: only one tier: every query goes to it and nothing is cascaded; "
        "add a cheaper or stronger tier"
    )


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        (lambda p: None, "cannot read: no such file"),
        (lambda p: p.mkdir(), "cannot read: it is a directory"),
        (lambda p: p.write_bytes(b"tiers: \xff\n"), "cannot read: not UTF-8 text (byte 0xff at offset 7)"),
    ],
)
def test_unreadable_files(tmp_path: Path, setup: object, message: str) -> None:
    path = tmp_path / "c.yaml"
    setup(path)  # type: ignore[operator]
    (issue,) = validate_cascade_file(path)
    assert str(issue) == f"{path}: {message}"


def test_byte_order_mark_is_ignored(tmp_path: Path) -> None:
    path = tmp_path / "bom.yaml"
    path.write_bytes(b"\xef\xbb\xbf" + TWO_TIERS.encode())
    assert validate_cascade_file(path) == []


def test_merge_keys_may_be_overridden_without_duplicate_error() -> None:
    text = """\
tiers:
  - &base {name: a, provider: openai, model: gpt-4o-mini, temperature: 0.1}
  - <<: *base
    name: b
    model: gpt-4o
"""
    config = load_cascade_text(text)
    assert [(t.name, t.model, t.temperature) for t in config.tiers] == [
        ("a", "gpt-4o-mini", 0.1),
        ("b", "gpt-4o", 0.1),
    ]


def test_recursive_alias_is_an_error_not_a_hang() -> None:
    (issue,) = check_cascade_text("tiers: &t\n  - *t\n").issues
    assert "recursive" in issue.message and issue.line == 1


def test_unknown_tag_is_reported_at_its_position() -> None:
    (issue,) = check_cascade_text("tiers:\n  - !include other.yaml\n").issues
    assert (issue.line, issue.col) == (2, 5)
    assert issue.message == "invalid YAML: could not determine a constructor for the tag '!include'"


def test_complex_keys_are_rejected() -> None:
    check = check_cascade_text(TWO_TIERS + "gates: {[a, b]: 1}\n")
    assert [i.message for i in check.issues] == ["expected a plain key, got a mapping or list as a key"]


def test_wrong_type_is_reported_once_not_with_every_sibling_check() -> None:
    check = check_cascade_text(TWO_TIERS + "routing: {rules: [{complexity: 5, route: direct}]}\n")
    assert [i.message for i in check.issues] == ["expected a string or a list, got 5"]


def test_problems_are_all_reported_in_one_pass() -> None:
    text = "tiers:\n  - {name: a, provider: x, model: m}\n  - {name: a, provider: fake, model: m}\nextra: 1\n"
    messages = [i.message for i in check_cascade_text(text).issues]
    assert len(messages) == 3
    assert messages[2] == (
        "unknown key 'extra' (expected one of: $schema, version, name, description, budget_usd, tiers, "
        "routing, quality, tools, defaults, gates)"
    )


def test_control_character_is_located() -> None:
    (issue,) = check_cascade_text("tiers:\n  - a\x07b\n").issues
    assert (issue.line, issue.col) == (2, 6)
    # The reason's wording differs between libyaml and pure-Python PyYAML.
    assert issue.message.startswith("invalid YAML: ") and issue.message.endswith("(character #x0007)")


_SCALARS = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8)
_KEYS = st.sampled_from(["tiers", "name", "provider", "model", "price", "input", "timeout", "routing", "rules",
                         "quality", "validators", "type", "tools", "function", "parameters", "input_schema", "x"])
_DATA = st.recursive(_SCALARS, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_KEYS, inner, max_size=4),
                     max_leaves=12)


@settings(max_examples=60, deadline=None)
@given(st.dictionaries(_KEYS, _DATA, max_size=5))
def test_any_structure_gives_issues_never_a_crash(data: dict[str, object]) -> None:
    check = check_cascade_text(yaml.safe_dump(data), env={})
    assert all(issue.line >= 1 and issue.col >= 1 and issue.message for issue in check.issues)
    assert (check.config is None) == any(issue.is_error for issue in check.issues)


@settings(max_examples=60, deadline=None)
@given(st.text(max_size=40))
def test_any_text_gives_issues_never_a_crash(text: str) -> None:
    check = check_cascade_text(text, env={})
    assert check.config is None and check.errors
