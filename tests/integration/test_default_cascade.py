"""cascades/default.yaml (Qwen2.5-Coder 0.5B drafting for 1.5B) for real, and the same
lineup with the verifier reading the draft: the shape of what happened and the
bookkeeping, not the texts."""
from __future__ import annotations

import asyncio
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from cascadectl import CascadeAgent
from cascadectl.config import load_cascade
from cascadectl.config.model import ValidatorSpec

DEFAULT = Path(__file__).resolve().parents[2] / "cascades" / "default.yaml"
pytestmark = pytest.mark.usefixtures("local_models")


def stream(agent: CascadeAgent, query: str) -> list[Any]:
    async def go() -> list[Any]:
        try:
            return [e async for e in agent.stream_events(query)]
        finally:
            await agent.aclose()

    return asyncio.run(go())


def test_the_default_cascade_answers_and_counts_every_call() -> None:
    events = stream(CascadeAgent.from_yaml(DEFAULT), "What is the capital of France?")
    decision = next(e.data for e in events if e.type.name == "DRAFT_DECISION")
    assert decision["tier"] == "qwen-0.5b" and decision["confidence"] is not None
    result = events[-1].data["result"]
    assert result["total_cost"] == pytest.approx(sum(t["cost"] for t in result["tiers"]))
    assert result["tokens_estimated"] is False and "Paris" in result["content"]


def test_with_the_likelihood_validator_the_verifier_reads_the_draft() -> None:
    config = load_cascade(DEFAULT)
    validators = (*config.quality.validators, ValidatorSpec("likelihood", 4.0))
    agent = CascadeAgent(config=replace(config, quality=replace(config.quality, validators=validators)))
    events = stream(agent, "What is the capital of France?")
    decision = next(e.data for e in events if e.type.name == "DRAFT_DECISION")
    likelihood = next(c for c in decision["checks"] if c["name"] == "likelihood")
    assert likelihood["value"]["tier"] == "qwen-1.5b" and 0.0 < likelihood["score"] <= 1.0
    assert len(decision["signals"]["likelihood"]["logprobs"]) == likelihood["value"]["tokens"]
    result = events[-1].data["result"]
    read = next(t for t in result["tiers"] if t["phase"] == "score")
    assert read["status"] == "scored" and read["input_tokens"] > likelihood["value"]["tokens"]
    assert read["output_tokens"] == 0 and read["cost"] > 0
    assert result["total_cost"] == pytest.approx(sum(t["cost"] for t in result["tiers"]))


def test_the_tool_loop_runs_on_the_embedded_models() -> None:
    """The drafter's first answer is a call of the offered tool; its canned result goes
    back, and the loop ends with every step counted, whatever the models then say."""
    from cascadectl.tools.canned import CannedTools

    weather = {"name": "get_weather", "description": "Current weather for a city", "parameters": {
        "type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}
    canned = CannedTools([{"name": "get_weather", "result": {"condition": "heavy rain", "temp_c": 14}}])
    agent = CascadeAgent.from_yaml(DEFAULT)

    async def go() -> list[Any]:
        try:
            return [e async for e in agent.stream_events("What is the weather in Paris? Use the tool.", tools=[weather],
                                                         tool_executor=canned, max_steps=2, max_tokens=48)]
        finally:
            await agent.aclose()

    events = asyncio.run(go())
    assert canned.calls and canned.calls[0]["name"] == "get_weather"
    assert [e.type.name for e in events if e.type.name.startswith("TOOL_") and "CALL" not in e.type.name][:2] == [
        "TOOL_EXECUTING", "TOOL_RESULT"]
    result = events[-1].data["result"]
    assert events[-1].type.name == "COMPLETE" and len(result["steps"]) == 2
    assert {t["step"] for t in result["tiers"]} == {0, 1}
    assert result["total_cost"] == pytest.approx(sum(t["cost"] for t in result["tiers"]))
