"""Which environment variable holds a tier's API key, and a check that it is set.

Keys are read from the environment only, at the moment a request is built, and
never stored on objects that get printed.
"""
from __future__ import annotations

import os

from cascadectl.config.model import TierConfig
from cascadectl.errors import MissingAPIKeyError

OPENAI_BASE_URL = "https://api.openai.com/v1"
ANTHROPIC_BASE_URL = "https://api.anthropic.com"
DEFAULT_KEY_ENV = {"openai": "OPENAI_API_KEY", "anthropic": "ANTHROPIC_API_KEY"}


def key_env(tier: TierConfig) -> str | None:
    """The variable that must hold the key, or None when the tier needs no key
    (local providers, and OpenAI-compatible servers other than OpenAI's own
    unless `api_key_env` names one)."""
    if tier.api_key_env:
        return tier.api_key_env
    if tier.provider == "anthropic":
        return DEFAULT_KEY_ENV["anthropic"]
    if tier.provider == "openai" and (tier.base_url or OPENAI_BASE_URL).rstrip("/") == OPENAI_BASE_URL:
        return DEFAULT_KEY_ENV["openai"]
    return None


def check_credentials(tier: TierConfig) -> None:
    variable = key_env(tier)
    if variable and not os.environ.get(variable):
        raise MissingAPIKeyError(variable, tier.name)


def api_key(tier: TierConfig) -> str | None:
    variable = key_env(tier)
    if variable is None:
        return None
    check_credentials(tier)
    return os.environ[variable]
