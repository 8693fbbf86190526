"""OPENAI_BASE_URL and ANTHROPIC_BASE_URL, as the official SDKs honour them: used when a
tier sets no base_url; a tier's own base_url wins."""
from __future__ import annotations

import pytest

from cascadectl.config.model import TierConfig
from cascadectl.providers.http.checks import check_anthropic, check_openai
from cascadectl.providers.http.credentials import api_key, key_env


def test_openai_base_url_redirects_a_tier_without_its_own(monkeypatch: pytest.MonkeyPatch) -> None:
    tier = TierConfig(name="t", provider="openai", model="m")
    assert check_openai(tier) == "https://api.openai.com/v1"
    assert key_env(tier) == "OPENAI_API_KEY"  # OpenAI's own endpoint needs its key
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:8080/v1/")
    assert check_openai(tier) == "http://127.0.0.1:8080/v1"
    assert key_env(tier) is None and api_key(tier) is None  # a local server may need none
    monkeypatch.setenv("OPENAI_API_KEY", "sk-local-0000")
    assert api_key(tier) == "sk-local-0000"  # sent when set, as the SDK does


def test_a_tier_s_own_base_url_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:8080/v1")
    monkeypatch.setenv("ANTHROPIC_BASE_URL", "http://127.0.0.1:9090")
    assert check_openai(TierConfig(name="t", provider="openai", model="m", base_url="https://api.groq.com/openai/v1")) == "https://api.groq.com/openai/v1"
    assert check_anthropic(TierConfig(name="a", provider="anthropic", model="c")) == "http://127.0.0.1:9090"
    assert check_anthropic(TierConfig(name="a", provider="anthropic", model="c", base_url="https://x.example/v1")) == "https://x.example/v1"


def test_a_bad_url_in_the_variable_is_a_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    from cascadectl.errors import ConfigError

    monkeypatch.setenv("OPENAI_BASE_URL", "localhost:8080")
    with pytest.raises(ConfigError, match="is not an http"):
        check_openai(TierConfig(name="t", provider="openai", model="m"))
