"""What an HTTP tier's settings must be, checked without httpx (so that
`cascadectl validate` stays fast) and without a key."""
from __future__ import annotations

from typing import Mapping
from urllib.parse import urlsplit

from cascadectl.config.model import TierConfig
from cascadectl.errors import ConfigError
from cascadectl.providers.http.credentials import base_url

OPENAI_OPTIONS = ("extra_body", "headers", "max_tokens_field")  # what tier.options may hold
ANTHROPIC_OPTIONS = ("extra_body", "headers")
_OPTION_TYPES: dict[str, type] = {"extra_body": Mapping, "headers": Mapping, "max_tokens_field": str}


def check_base_url(tier: TierConfig, base_url: str) -> str:
    parts = urlsplit(base_url) if "://" in base_url else None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(
            f"tier {tier.name!r}: base_url {base_url!r} is not an http(s) URL "
            "(expected something like https://api.example.com/v1)"
        )
    return base_url.rstrip("/")


def check_options(tier: TierConfig, allowed: tuple[str, ...]) -> None:
    """A misspelt or misplaced option fails at start-up instead of being ignored."""
    for key, value in tier.options.items():
        if key not in allowed:
            raise ConfigError(
                f"tier {tier.name!r}: unknown option {key!r} for provider {tier.provider!r} "
                f"(allowed: {', '.join(allowed)}; request fields go under options.extra_body)"
            )
        if not isinstance(value, _OPTION_TYPES[key]):
            raise ConfigError(f"tier {tier.name!r}: options.{key} must be a {_OPTION_TYPES[key].__name__}, got {value!r}")


def check_openai(tier: TierConfig) -> str:
    """Options and base URL checked without a client or a key; returns the base URL."""
    check_options(tier, OPENAI_OPTIONS)
    return check_base_url(tier, base_url(tier))


def check_anthropic(tier: TierConfig) -> str:
    check_options(tier, ANTHROPIC_OPTIONS)
    return check_base_url(tier, base_url(tier))
