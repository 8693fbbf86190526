"""Each judged tier can have its own thresholds (quality.tier_thresholds)."""
from __future__ import annotations

import asyncio
from typing import Any

import pytest

from cascadectl import CascadeAgent
from cascadectl.config.loader import load_cascade_text
from cascadectl.config.model import CascadeConfig, PriceSpec, QualityConfig, TierConfig, ValidatorSpec
from cascadectl.errors import ConfigError

SAME_DRAFT = {"default": {"text": "Paris is the capital", "logprob": -0.3}}  # confidence ~0.74


def three_tiers(tier_thresholds: dict[str, dict[str, float]]) -> CascadeAgent:
    tiers = tuple(TierConfig(name=n, provider="fake", model=n, price=PriceSpec(1.0, 1.0), options=SAME_DRAFT)
                  for n in ("small", "middle", "big"))
    quality = QualityConfig(thresholds={k: 0.5 for k in ("trivial", "simple", "moderate", "hard", "expert")},
                            validators=(ValidatorSpec("confidence"),), tier_thresholds=tier_thresholds)
    return CascadeAgent(config=CascadeConfig(tiers=tiers, quality=quality))


def decisions(agent: CascadeAgent) -> list[tuple[str, bool, float]]:
    async def go() -> list[Any]:
        return [e.data async for e in agent.stream_events("What is the capital of France?") if e.type.value == "draft_decision"]

    return [(d["tier"], d["accepted"], d["threshold"]) for d in asyncio.run(go())]


def test_a_tier_s_own_threshold_applies_to_its_drafts_only() -> None:
    # The same draft: rejected at the first tier (its own 0.9), accepted at the middle (the shared 0.5).
    assert decisions(three_tiers({"small": {"trivial": 0.9}})) == [("small", False, 0.9), ("middle", True, 0.5)]
    assert decisions(three_tiers({})) == [("small", True, 0.5)]


def test_unknown_tiers_in_tier_thresholds_are_config_errors() -> None:
    text = ("tiers:\n  - {name: a, provider: fake, model: a}\n  - {name: b, provider: fake, model: b}\n"
            "quality:\n  tier_thresholds: {c: {simple: 0.7}, a: {simpel: 0.7}}\n")
    with pytest.raises(ConfigError) as info:
        load_cascade_text(text)
    message = str(info.value)
    assert "quality.tier_thresholds: unknown tier 'c' (tiers: a, b)" in message
    assert "quality.tier_thresholds.a: unknown key 'simpel' (did you mean 'simple'?)" in message
