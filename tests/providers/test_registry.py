"""create_provider: a registry by name, importing each provider only when used."""
from __future__ import annotations

import asyncio
import subprocess
import sys

import httpx
import pytest

from cascadectl.errors import ConfigError
from cascadectl.providers import PROVIDER_NAMES, create_provider
from cascadectl.providers.http.anthropic import AnthropicProvider
from cascadectl.providers.http.openai import OpenAIProvider
from tests.providers import helpers as h


def test_known_names() -> None:
    assert PROVIDER_NAMES == ("anthropic", "fake", "llamacpp", "openai")


@pytest.mark.parametrize(("name", "cls"), [("openai", OpenAIProvider), ("anthropic", AnthropicProvider)])
def test_http_providers_borrow_the_given_client(name: str, cls: type) -> None:
    async def go() -> bool:
        async with httpx.AsyncClient() as client:
            provider = create_provider(h.tier("http://127.0.0.1:9", name), client)
            assert isinstance(provider, cls)
            await provider.aclose()
            return client.is_closed

    assert asyncio.run(go()) is False


def test_unknown_provider_lists_the_known_ones() -> None:
    with pytest.raises(ConfigError) as caught:
        create_provider(h.tier("http://x", "opnai"))
    assert str(caught.value) == (
        "tier 't': unknown provider 'opnai' (known providers: anthropic, fake, llamacpp, openai)"
    )


def test_importing_the_registry_imports_no_provider() -> None:
    code = (
        "import sys, cascadectl.providers as p; "
        "print(sorted(m for m in sys.modules if m.startswith('cascadectl.providers.')), 'httpx' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["[]", "False"]
