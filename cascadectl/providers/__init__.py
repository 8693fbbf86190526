"""Providers by name. Each module is imported only when a tier uses it, so that
`cascadectl --help` never pays for httpx or llama_cpp."""
from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from cascadectl.errors import ConfigError

if TYPE_CHECKING:
    import httpx

    from cascadectl.config.model import TierConfig
    from cascadectl.providers.base import Provider

_REGISTRY: dict[str, tuple[str, str]] = {
    "openai": ("cascadectl.providers.http.openai", "OpenAIProvider"),
    "anthropic": ("cascadectl.providers.http.anthropic", "AnthropicProvider"),
    "llamacpp": ("cascadectl.providers.llamacpp.provider", "LlamaCppProvider"),
    "fake": ("cascadectl.providers.fake", "FakeProvider"),
}
PROVIDER_NAMES: tuple[str, ...] = tuple(sorted(_REGISTRY))
# Providers that can score a given text (Provider.score): the `likelihood` signal's readers.
# OpenAI's and Anthropic's chat APIs return no logprobs for text they did not generate.
SCORING_PROVIDERS = frozenset({"llamacpp", "fake"})
# Checks of a tier's settings that import neither httpx nor llama_cpp.
_CHECKS: dict[str, tuple[str, str]] = {
    "openai": ("cascadectl.providers.http.checks", "check_openai"),
    "anthropic": ("cascadectl.providers.http.checks", "check_anthropic"),
    "llamacpp": ("cascadectl.providers.llamacpp.options", "check_tier"),
}


def check_tier(tier: TierConfig) -> None:
    """Everything about a tier that can be checked before a request, without
    credentials: the provider exists and its options are right."""
    _lookup(tier)
    where = _CHECKS.get(tier.provider)
    if where is not None:  # the others (fake, test providers) are checked when built
        getattr(importlib.import_module(where[0]), where[1])(tier)


def _lookup(tier: TierConfig) -> tuple[str, str]:
    try:
        return _REGISTRY[tier.provider]
    except KeyError:
        raise ConfigError(
            f"tier {tier.name!r}: unknown provider {tier.provider!r} "
            f"(known providers: {', '.join(PROVIDER_NAMES)})"
        ) from None


def create_provider(tier: TierConfig, client: httpx.AsyncClient | None = None) -> Provider:
    """The tier's provider. `client` is the agent's shared httpx client (HTTP
    providers borrow it and leave it open; without one they own their own)."""
    module_name, class_name = _lookup(tier)
    provider_class = getattr(importlib.import_module(module_name), class_name)
    return provider_class(tier, client)  # type: ignore[no-any-return]
