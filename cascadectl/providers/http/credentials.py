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
# The official SDKs' own variables for another endpoint: used when a tier sets no base_url.
BASE_URL_ENV = {"openai": "OPENAI_BASE_URL", "anthropic": "ANTHROPIC_BASE_URL"}
_DEFAULT_BASE = {"openai": OPENAI_BASE_URL, "anthropic": ANTHROPIC_BASE_URL}


def base_url(tier: TierConfig) -> str:
    """The tier's base_url; else the SDK's variable (OPENAI_BASE_URL, ANTHROPIC_BASE_URL)
    when set; else the provider's own endpoint."""
    env = BASE_URL_ENV.get(tier.provider)
    return tier.base_url or (os.environ.get(env) if env else None) or _DEFAULT_BASE.get(tier.provider, "")


def key_env(tier: TierConfig) -> str | None:
    """The variable that must hold the key, or None when the tier needs no key
    (local providers, and OpenAI-compatible servers other than OpenAI's own
    unless `api_key_env` names one)."""
    if tier.api_key_env:
        return tier.api_key_env
    if tier.provider == "anthropic":
        return DEFAULT_KEY_ENV["anthropic"]
    if tier.provider == "openai" and base_url(tier).rstrip("/") == OPENAI_BASE_URL:
        return DEFAULT_KEY_ENV["openai"]
    return None


def check_credentials(tier: TierConfig) -> None:
    variable = key_env(tier)
    if variable and not os.environ.get(variable):
        raise MissingAPIKeyError(variable, tier.name)


def api_key(tier: TierConfig) -> str | None:
    variable = key_env(tier)
    if variable is None:
        # An endpoint named by OPENAI_BASE_URL gets OPENAI_API_KEY when it is set, as the
        # SDK sends it; such servers (vLLM, llama.cpp, Ollama) may need none.
        from_env = tier.base_url is None and tier.provider == "openai" and os.environ.get(BASE_URL_ENV["openai"])
        return os.environ.get(DEFAULT_KEY_ENV["openai"]) or None if from_env else None
    check_credentials(tier)
    return os.environ[variable]
