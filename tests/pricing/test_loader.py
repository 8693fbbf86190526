from __future__ import annotations

import datetime
import json
import math
from importlib import resources
from typing import Any

import pytest

from cascadectl.errors import ConfigError
from cascadectl.pricing import default_table, parse_table

PROVIDERS = {"openai", "anthropic", "groq", "together", "mistral", "deepseek"}


def _raw() -> dict[str, Any]:
    text = resources.files("cascadectl.pricing").joinpath("prices.json").read_text(encoding="utf-8")
    return json.loads(text)


def _is_rate(value: object) -> bool:
    number = isinstance(value, (int, float)) and not isinstance(value, bool)
    return number and math.isfinite(value) and value >= 0  # type: ignore[arg-type,operator]


def test_data_file_header() -> None:
    data = _raw()
    as_of = datetime.date.fromisoformat(data["as_of"])
    assert datetime.date(2024, 1, 1) <= as_of <= datetime.date.today()
    assert data["unit"] == "USD per 1M tokens"
    assert set(data["sources"]) == PROVIDERS
    assert all(url.startswith("https://") for url in data["sources"].values())


def test_every_entry_has_valid_prices() -> None:
    for name, entry in _raw()["models"].items():
        assert _is_rate(entry["input"]) and _is_rate(entry["output"]), name
        assert entry["provider"] in PROVIDERS, name
        cached = entry.get("cached_input")
        # A cached token that costs more than a fresh one is a typo.
        assert cached is None or (_is_rate(cached) and cached <= entry["input"]), name


def test_every_provider_has_models() -> None:
    providers = {entry["provider"] for entry in _raw()["models"].values()}
    assert providers == PROVIDERS


def test_unpriced_names_each_shadow_a_priced_key() -> None:
    data = _raw()
    for name in data["unpriced"]:
        shorter = [key for key in data["models"] if name.startswith(key + "-")]
        assert shorter, f"{name} blocks nothing; drop it"
        assert default_table().lookup(name) is None


def test_builtin_table_loads_once() -> None:
    table = default_table()
    assert table is default_table()
    assert table.as_of == _raw()["as_of"]
    assert len(table) == len(_raw()["models"]) + len(_raw()["unpriced"])


def _table_text(**models: Any) -> str:
    return json.dumps({"as_of": "2025-01-01", "unit": "USD per 1M tokens", "models": models})


def test_parse_minimal_table() -> None:
    table = parse_table(_table_text(m={"input": 1, "output": 2, "exact": True}), "t.json")
    assert table.lookup("m") is not None and table.lookup("m-x") is None


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"input": -1, "output": 1}, r"t.json: models\['m'\].input: expected a number >= 0"),
        ({"input": True, "output": 1}, r"models\['m'\].input: expected a number >= 0 .*True"),
        ({"input": 1}, r"models\['m'\].output: expected a number >= 0 .*None"),
        ({"input": 1, "output": "2"}, r"models\['m'\].output"),
        ({"input": 1, "output": 1, "cached_input": -0.5}, r"models\['m'\].cached_input"),
        ({"input": 1, "ouput": 1}, r"unknown field 'ouput'"),
        ({"input": 1, "output": 1, "exact": "yes"}, r"exact: expected true or false"),
        ("cheap", r"models\['m'\]: expected an object, got str"),
    ],
)
def test_bad_entries_name_the_field(entry: object, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_table(_table_text(m=entry), "t.json")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"as_of": "2025-01-01",\n "unit": }', r"t.json:2:10: not valid JSON"),
        ("[]", r"top level: expected an object, got list"),
        ('{"as_of": "2025-13-01", "unit": "USD per 1M tokens", "models": {}}', r"as_of: expected a date"),
        ('{"unit": "USD per 1M tokens", "models": {}}', r"as_of: expected a date YYYY-MM-DD, got None"),
        ('{"as_of": "2025-01-01", "unit": "USD per 1K tokens", "models": {}}', r"unit: expected 'USD per 1M"),
        ('{"as_of": "2025-01-01", "unit": "USD per 1M tokens"}', r"models: expected an object, got NoneType"),
        (
            '{"as_of": "2025-01-01", "unit": "USD per 1M tokens", "models": '
            '{"m": {"input": 1, "output": 1}, "m": {"input": 2, "output": 2}}}',
            r"key 'm' appears twice",
        ),
        (
            '{"as_of": "2025-01-01", "unit": "USD per 1M tokens", "models": '
            '{"m": {"input": 1, "output": 1}}, "unpriced": ["m"]}',
            r"unpriced: 'm' is also priced",
        ),
        ('{"as_of": "2025-01-01", "unit": "USD per 1M tokens", "models": {}, "unpriced": "m"}', r"unpriced: expected a list"),
    ],
)
def test_bad_tables_are_reported(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_table(text, "t.json")
