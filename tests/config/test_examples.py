"""The example cascades in cascades/ are valid and say what they promise."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from cascadectl.config import check_cascade_file, load_cascade
from tests.conftest import REPO

CASCADES = REPO / "cascades"
MINE = ["openai.yaml", "anthropic.yaml", "groq.yaml", "ollama.yaml", "mixed.yaml"]
SCHEMA_COMMENT = re.compile(r"^# yaml-language-server: \$schema=(\S+)$", re.MULTILINE)


def test_the_examples_exist() -> None:
    assert set(MINE) <= {p.name for p in CASCADES.glob("*.yaml")}


@pytest.mark.parametrize("path", sorted(CASCADES.glob("*.yaml")), ids=lambda p: p.name)
def test_every_example_is_valid_without_warnings(path: Path) -> None:
    check = check_cascade_file(path, env={})
    assert [str(i) for i in check.issues] == []
    assert check.config is not None and len(check.config.tiers) >= 2


@pytest.mark.parametrize("name", MINE)
def test_example_points_editors_at_the_schema(name: str) -> None:
    match = SCHEMA_COMMENT.search((CASCADES / name).read_text())
    assert match is not None
    assert (CASCADES / match.group(1)).resolve() == REPO / "cascadectl" / "config" / "cascade.schema.json"


@pytest.mark.parametrize("name", MINE)
def test_example_prices_are_set_and_dated(name: str) -> None:
    text = (CASCADES / name).read_text()
    assert re.search(r"as of \w+ \d{4}", text)
    for tier in load_cascade(CASCADES / name, env={}).tiers:
        assert tier.price is not None and tier.price.input is not None and tier.price.output is not None


@pytest.mark.parametrize(
    ("name", "models"),
    [
        ("openai.yaml", ["gpt-4o-mini", "gpt-4o"]),
        ("anthropic.yaml", ["claude-haiku-4-5", "claude-sonnet-4-5"]),
        ("groq.yaml", ["llama-3.1-8b-instant", "llama-3.3-70b-versatile"]),
        ("mixed.yaml", ["gpt-4o-mini", "claude-sonnet-4-5"]),
    ],
)
def test_example_models(name: str, models: list[str]) -> None:
    assert [t.model for t in load_cascade(CASCADES / name, env={}).tiers] == models


def test_groq_uses_its_openai_compatible_endpoint() -> None:
    tiers = load_cascade(CASCADES / "groq.yaml", env={}).tiers
    assert {(t.provider, t.base_url, t.api_key_env) for t in tiers} == {
        ("openai", "https://api.groq.com/openai/v1", "GROQ_API_KEY")
    }


def test_ollama_is_local_free_and_keyless_with_an_override() -> None:
    tiers = load_cascade(CASCADES / "ollama.yaml", env={}).tiers
    assert {(t.base_url, t.api_key_env, t.price.input, t.price.output) for t in tiers if t.price} == {
        ("http://localhost:11434/v1", None, 0.0, 0.0)
    }
    moved = load_cascade(CASCADES / "ollama.yaml", env={"OLLAMA_BASE_URL": "http://gpu-box:11434/v1"})
    assert {t.base_url for t in moved.tiers} == {"http://gpu-box:11434/v1"}


def test_mixed_crosses_providers() -> None:
    tiers = load_cascade(CASCADES / "mixed.yaml", env={}).tiers
    assert [(t.provider, t.api_key_env) for t in tiers] == [
        ("openai", "OPENAI_API_KEY"),
        ("anthropic", "ANTHROPIC_API_KEY"),
    ]
