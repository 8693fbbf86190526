"""The fake provider: a tier's own script first, then options.responses/default."""
from __future__ import annotations

import asyncio
from typing import Any

import pytest

from cascadectl import CascadeAgent, ModelConfig
from cascadectl.config.model import TierConfig
from cascadectl.errors import ConfigError
from cascadectl.providers import create_provider
from cascadectl.providers.base import ProviderRequest
from cascadectl.providers.fake import FakeProvider, FakeScript
from cascadectl.streaming.deltas import TextDelta


def fake_tier(**options: Any) -> TierConfig:
    return TierConfig(name="t", provider="fake", model="m", options=options)


def request(query: str) -> ProviderRequest:
    return ProviderRequest(model="m", messages=[{"role": "user", "content": query}])


def answers(provider: FakeProvider, *requests: ProviderRequest) -> list[str]:
    async def go() -> list[str]:
        return ["".join([d.text async for d in provider.stream(r) if isinstance(d, TextDelta)]) for r in requests]

    return asyncio.run(go())


def test_a_script_in_the_options_is_served_first_in_first_out_and_records_requests() -> None:
    script = FakeScript().enqueue("one", {"text": "two"})
    provider = create_provider(fake_tier(script=script, default="fallback"))
    sent = [request("a"), request("b"), request("c")]
    assert answers(provider, *sent) == ["one", "two", "fallback"]
    assert script.requests == sent and not script.queue
    assert provider.script is script


def test_agents_with_their_own_scripts_for_one_model_name_do_not_share() -> None:
    def agent(script: FakeScript) -> CascadeAgent:
        return CascadeAgent(models=[ModelConfig(name="same", provider="fake", options={"script": script})])

    first, second = FakeScript().enqueue("first"), FakeScript().enqueue("second")
    one, two = agent(first), agent(second)
    assert asyncio.run(two.run("Which?")).content == "second"
    assert asyncio.run(one.run("Which?")).content == "first"
    assert len(first.requests) == len(second.requests) == 1


def test_a_tier_without_a_script_falls_back_to_responses_then_default() -> None:
    tier = fake_tier(responses=[{"match": "France", "text": "Paris."}], default="No idea.")
    provider, other = FakeProvider(tier), FakeProvider(tier)
    sent = [request("capital of France?"), request("capital of Peru?")]
    assert answers(provider, *sent) == ["Paris.", "No idea."]
    assert provider.script.requests == sent
    assert other.script.requests == []  # each provider's script is its own


@pytest.mark.parametrize("script", ["Paris.", ["Paris."], {"queue": []}])
def test_a_script_option_that_is_not_a_fake_script_is_refused(script: object) -> None:
    with pytest.raises(ConfigError) as caught:
        create_provider(fake_tier(script=script))
    assert str(caught.value) == (
        f"tier 't': options.script must be a cascadectl.providers.fake.FakeScript, got {script!r}"
    )


def test_an_agent_refuses_a_bad_script_option_naming_the_tier() -> None:
    agent = CascadeAgent(models=[ModelConfig(name="small", provider="fake", options={"script": "Paris."})])
    with pytest.raises(ConfigError, match="tier 'small': options.script must be a"):
        asyncio.run(agent.run("What is the capital of France?"))
