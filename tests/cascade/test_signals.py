"""The likelihood signal: the next tier reads the draft before the decision, and the
read is a call like any other (tokens, cost and time counted, errors recorded)."""
from __future__ import annotations

import asyncio
from typing import Any

import pytest

from cascadectl import CascadeAgent
from cascadectl.config.model import CascadeConfig, PriceSpec, QualityConfig, TierConfig, ValidatorSpec
from cascadectl.errors import ConfigError

LIKELIHOOD = (ValidatorSpec("non_empty"), ValidatorSpec("likelihood", 1.0, {}))


def agent(reader_score: list[dict[str, Any]], validators: tuple[ValidatorSpec, ...] = LIKELIHOOD,
          reader_provider: str = "fake") -> CascadeAgent:
    small = TierConfig(name="small", provider="fake", model="small", price=PriceSpec(1.0, 2.0),
                       options={"default": {"text": "Paris is the capital", "usage": {"input": 10, "output": 4}}})
    options = {"default": {"text": "Paris.", "usage": {"input": 10, "output": 2}}, "score": reader_score}
    big = TierConfig(name="big", provider=reader_provider, model="big", price=PriceSpec(10.0, 20.0),
                     options=options if reader_provider == "fake" else {})
    quality = QualityConfig(thresholds={k: 0.5 for k in ("trivial", "simple", "moderate", "hard", "expert")},
                            validators=validators)
    return CascadeAgent(config=CascadeConfig(tiers=(small, big), quality=quality))


def events(a: CascadeAgent, query: str = "What is the capital of France?") -> dict[str, Any]:
    async def go() -> dict[str, Any]:
        out: dict[str, Any] = {}
        async for event in a.stream_events(query):
            out.setdefault(event.type.value, event.data)
        return out

    return asyncio.run(go())


def test_a_likely_draft_is_accepted_and_the_read_is_paid_for() -> None:
    seen = events(agent([{"match": "Paris", "logprob": -0.1}]))
    check = next(c for c in seen["draft_decision"]["checks"] if c["name"] == "likelihood")
    assert check["score"] == pytest.approx(0.9048, abs=1e-4)  # exp(-0.1)
    assert check["value"] == {"tier": "big", "mean_prob": 0.9048, "min_prob": 0.9048, "tokens": 4}
    assert seen["draft_decision"]["signals"]["likelihood"] == {"tier": "big", "logprobs": [-0.1] * 4}
    result = seen["complete"]["result"]
    assert result["draft_accepted"] is True
    read = result["tiers"][1]
    assert (read["tier"], read["phase"], read["status"]) == ("big", "score", "scored")
    # The prompt's words and the draft's, at the reader's input price: $10 per 1M.
    assert read["input_tokens"] == 6 + 4 and read["output_tokens"] == 0
    assert read["cost"] == pytest.approx(10 * 10e-6 / 1)
    assert result["total_cost"] == pytest.approx((10 * 1 + 4 * 2) / 1e6 + 10 * 10 / 1e6)


def test_an_unlikely_draft_is_rejected_and_the_reader_answers() -> None:
    seen = events(agent([{"match": "Paris", "logprob": -3.0}]))
    assert seen["draft_decision"]["accepted"] is False
    result = seen["complete"]["result"]
    assert [(t["tier"], t["phase"], t["status"]) for t in result["tiers"]] == [
        ("small", "draft", "rejected"), ("big", "score", "scored"), ("big", "verify", "answered"),
    ]
    assert result["content"] == "Paris." and result["tier_used"] == "big"


def test_a_failed_read_leaves_the_signal_out_and_is_recorded() -> None:
    seen = events(agent([{"match": "Paris", "error": {"kind": "server", "status": 500}}]))
    check = next(c for c in seen["draft_decision"]["checks"] if c["name"] == "likelihood")
    assert check["score"] is None
    read = seen["complete"]["result"]["tiers"][1]
    assert read["status"] == "failed" and read["error"]["kind"] == "server" and read["cost"] == 0


def test_without_the_validator_nothing_is_read() -> None:
    seen = events(agent([{"match": "Paris", "logprob": -3.0}], validators=(ValidatorSpec("non_empty"),)))
    assert [t["phase"] for t in seen["complete"]["result"]["tiers"]] == ["draft"]


def test_a_reader_that_cannot_score_is_a_config_error_naming_it() -> None:
    with pytest.raises(ConfigError, match=r"likelihood: tier 'big' \(provider openai\) cannot score a text"):
        agent([], reader_provider="openai")


@pytest.mark.parametrize(("band", "read"), [({}, True), ({"read_below": 0.5}, False), ({"read_below": 1.0}, False),
                                            ({"read_above": 0.99}, True), ({"read_above": 0.2, "read_below": 1.5}, True)])
def test_the_read_happens_only_inside_its_band_of_free_scores(band: dict[str, float], read: bool) -> None:
    # Free signals here: hedging alone, 1.0 for this draft, so the band decides.
    validators = (ValidatorSpec("non_empty"), ValidatorSpec("hedging"), ValidatorSpec("likelihood", 1.0, band))
    seen = events(agent([{"match": "Paris", "logprob": -0.1}], validators=validators))
    phases = [t["phase"] for t in seen["complete"]["result"]["tiers"]]
    assert ("score" in phases) is read
    assert bool(seen["draft_decision"]["signals"]) is read
