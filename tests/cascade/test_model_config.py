"""ModelConfig goes through the one tier builder: the YAML's checks and meanings."""
from __future__ import annotations

import pytest

from cascadectl import ModelConfig
from cascadectl.config.loader import load_cascade_text
from cascadectl.config.model import Timeouts
from cascadectl.errors import ConfigError


def test_a_single_timeout_means_what_it_means_in_yaml() -> None:
    tier = ModelConfig(name="m", provider="fake", timeout=5).to_tier()
    from_yaml = load_cascade_text("tiers:\n  - {name: m, provider: fake, model: m, timeout: 5}\n").tiers[0]
    assert tier.timeout == from_yaml.timeout == Timeouts(connect=5.0, read=5.0, stall=5.0, total=5.0)


def test_a_timeouts_object_and_prices_carry_over() -> None:
    tier = ModelConfig(name="m", provider="fake", timeout=Timeouts(connect=1, read=2, stall=3, total=4),
                       input_price=0.5, output_price=1.5).to_tier()
    assert tier.timeout == Timeouts(1.0, 2.0, 3.0, 4.0)
    assert (tier.price.input, tier.price.output) == (0.5, 1.5)  # type: ignore[union-attr]


def test_a_tier_named_after_its_model_keeps_the_model_s_name() -> None:
    assert ModelConfig(name="meta-llama/Llama-3.3-70B", provider="openai").to_tier().name == "meta-llama/Llama-3.3-70B"
    assert ModelConfig(name="x/y", provider="fake", tier_name="drafter").to_tier().name == "drafter"


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"provider": "opneai"}, "provider: expected one of: openai, anthropic, llamacpp, fake; got 'opneai' (did you mean 'openai'?)"),
        ({"provider": "fake", "temperature": 3.0}, "temperature: expected a number <= 2, got 3.0"),
        ({"provider": "fake", "retries": -1}, "retries: expected an integer >= 0, got -1"),
        ({"provider": "llamacpp", "options": {"extra_buffers": "fast"}}, "options.extra_buffers: expected one of: auto, on, off"),
        ({"provider": "fake", "tier_name": "has space"}, "name: expected a tier name"),
    ],
)
def test_bad_settings_are_the_yaml_s_errors(fields: dict, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        ModelConfig(name="m", **fields).to_tier()
    assert str(info.value).startswith("ModelConfig(name='m'): ")
    assert message in str(info.value)
