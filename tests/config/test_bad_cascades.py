"""Each broken cascade in tests/fixtures/bad-cascades gives exactly these messages."""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from cascadectl.config import validate_cascade_file
from cascadectl.config import yamlsource
from tests.conftest import FIXTURES, REPO

BAD = FIXTURES / "bad-cascades"
RAW_KEY = "sk-proj-Abc123def456ghi789jkl012mno345"

EXPECTED: dict[str, list[str]] = {
    "empty.yaml": ["1:1: the file is empty; expected a mapping with at least 'tiers'"],
    "top-level-list.yaml": ["1:1: expected a mapping at the top level, got a list"],
    "two-documents.yaml": ["2:1: invalid YAML: expected a single document in the stream, but found another document"],
    "price-not-a-number.yaml": [
        "12:14: tiers[1].price.input: expected a number, got 'cheap'",
        "13:15: tiers[1].price.output: expected a number >= 0, got -1",
    ],
    "unknown-key.yaml": [
        "5:5: tiers[0]: unknown key 'temprature' (did you mean 'temperature'?)",
        "9:5: tiers[1]: unknown key 'colour' (expected one of: name, provider, model, base_url, "
        "api_key_env, price, max_tokens, temperature, timeout, retries, logprobs, options)",
    ],
    "missing-model.yaml": [
        "2:5: tiers[0]: missing required key 'model'",
        "4:5: tiers[1]: missing required key 'name'",
    ],
    "missing-tiers.yaml": ["1:1: missing required key 'tiers'"],
    "no-tiers.yaml": ["1:8: tiers: expected at least 1 item, got 0"],
    "enum-values.yaml": [
        "2:31: tiers[0].provider: expected one of: openai, anthropic, llamacpp, fake; "
        "got 'opneai' (did you mean 'openai'?)",
        "5:12: routing.default: expected one of: cascade, direct; got 'sideways'",
        "7:15: quality.draft_mode: expected one of: live, buffered; got 'stream'",
    ],
    "api-key-in-file.yaml": [
        "5:18: tiers[0].api_key_env: expected the NAME of an environment variable (like OPENAI_API_KEY), "
        "but this looks like an API key itself (not shown): remove it from the file and rotate it",
        "9:18: tiers[1].api_key_env: expected the NAME of an environment variable (like OPENAI_API_KEY), "
        "in capitals, digits and '_' (the value is not shown)",
    ],
    "tier-references.yaml": [
        "3:12: tiers[1].name: duplicate tier name 'drafter' (also tiers[0])",
        "5:16: routing.direct_tier: unknown tier 'verifer' (tiers: drafter)",
        "7:47: routing.rules[0].tier: unknown tier 'boss' (tiers: drafter)",
        "8:41: routing.rules[1]: 'tier' applies only to route: direct (a cascade starts at the first tier)",
        "11:27: quality.validators[0].tier: unknown tier 'verifier' (tiers: drafter)",
    ],
    "unset-variable.yaml": [
        "4:12: tiers[0].model: environment variable CASCADECTL_TEST_MODEL is not set "
        "(or write ${CASCADECTL_TEST_MODEL:-default})",
        "5:15: tiers[0].base_url: expected an http:// or https:// URL, "
        "got a string from ${CASCADECTL_TEST_HOST} (value not shown)",
        "9:18: tiers[1].api_key_env: unclosed '${' (expected ${NAME} or ${NAME:-default}; write $${ for a literal ${)",
    ],
    "bad-regex.yaml": [
        "6:21: routing.rules[0].query_regex: invalid regular expression: missing ), unterminated subpattern at position 0",
        "9:29: quality.validators[0].regex: invalid regular expression: unterminated character set at position 0",
    ],
    "timeouts.yaml": [
        "5:14: tiers[0].timeout: expected a number or a mapping, got '30s'",
        "9:22: tiers[1].timeout.total: expected a number > 0, got 0",
        "9:25: tiers[1].timeout: unknown key 'conect' (did you mean 'connect'?)",
    ],
    "numbers-out-of-range.yaml": [
        "2:72: tiers[0].temperature: expected a number <= 2, got 2.5",
        "2:89: tiers[0].max_tokens: expected an integer >= 1, got 0",
        "3:64: tiers[1].retries: expected an integer >= 0, got -1",
        "5:22: quality.thresholds.hard: expected a number <= 1, got 1.5",
        "5:27: quality.thresholds: unknown key 'expret' (did you mean 'expert'?)",
    ],
    "yaml-types.yaml": [
        "4:12: tiers[0].model: expected a string, got 3.5 (put it in quotes to make it a string)",
        "5:15: tiers[0].logprobs: expected true or false, got 'maybe'",
        "10:7: tiers[1].options: expected a string key, got 'on' "
        "(YAML reads yes/no/on/off/true/false/null and numbers as non-strings; quote the key)",
    ],
    "llamacpp-options.yaml": [
        "6:30: tiers[0].options.extra_buffers: expected one of: auto, on, off; got 'fast'",
        "6:36: tiers[0].options: unknown key 'n_thread' (did you mean 'n_threads'?)",
    ],
    "duplicate-key.yaml": ["5:5: tiers[0]: duplicate key 'model' (first at line 4)"],
    "validators.yaml": [
        "6:22: quality.validators[0]: 'regex' does not apply to a 'length' validator (its options: min_chars, max_chars)",
        "6:60: quality.validators[0].max_chars: expected max_chars >= min_chars (10), got 5",
        "7:7: quality.validators[1]: a 'format' validator needs exactly one of 'regex' or 'json_schema'",
        "8:14: quality.validators[2].type: expected one of: non_empty, refusal, format, tool_calls, confidence, "
        "hedging, length, alignment, likelihood, judge; got 'confidance' (did you mean 'confidence'?)",
        "9:7: quality.validators[3]: missing required key 'type'",
    ],
    "tools.yaml": [
        "6:24: tools[0].parameters.type: expected 'object', got 'array'",
        "8:15: tools[1].function: missing required key 'name'",
        "13:21: tools[2].input_schema.properties.key.type: not a valid JSON Schema: unknown type 'strin' "
        "(did you mean 'string'?)",
        "14:5: tools[3]: expected a mapping, got 'just a string'",
        "15:11: tools[4].name: duplicate tool name 'search' (also tools[0])",
        "17:5: tools[4]: unknown key 'extra' (expected one of: name, description, parameters)",
    ],
}

# The wording of YAML syntax errors comes from libyaml; the position does not.
SYNTAX: dict[str, tuple[str, str]] = {
    "yaml-syntax.yaml": (
        "4:4",
        "invalid YAML: while parsing a block collection, did not find expected '-' indicator (check the indentation)",
    ),
    "tab-indent.yaml": (
        "2:1",
        "invalid YAML: while scanning for the next token, found character that cannot start any token "
        "(a tab: YAML indents with spaces only)",
    ),
}


def _lines(name: str) -> list[str]:
    prefix = f"tests/fixtures/bad-cascades/{name}:"
    lines = [str(issue) for issue in validate_cascade_file(Path(prefix[:-1]), env={})]
    assert all(line.startswith(prefix) for line in lines)
    return [line[len(prefix) :] for line in lines]


@pytest.fixture(autouse=True)
def _in_repo(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO)


def test_every_fixture_has_an_expectation() -> None:
    assert sorted(p.name for p in BAD.glob("*.yaml")) == sorted([*EXPECTED, *SYNTAX])
    assert len(EXPECTED) + len(SYNTAX) >= 12


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_messages_are_exact(name: str) -> None:
    assert _lines(name) == EXPECTED[name]


@pytest.mark.parametrize("name", sorted(SYNTAX))
def test_syntax_errors_give_position(name: str) -> None:
    where, message = SYNTAX[name]
    (line,) = _lines(name)
    assert line.startswith(f"{where}: invalid YAML: ")
    if yamlsource._Loader is getattr(yaml, "CSafeLoader", None):
        assert line == f"{where}: {message}"


def test_api_key_value_is_never_echoed() -> None:
    assert RAW_KEY in (BAD / "api-key-in-file.yaml").read_text()
    text = "\n".join(_lines("api-key-in-file.yaml"))
    assert RAW_KEY not in text and "sk-" not in text and "openai_api_key" not in text
