"""cascades/small.yaml streamed for real: the embedded models, no network.

Texts are not asserted (they belong to the models); the shape of what happened
and the bookkeeping are: events in order, tokens and costs that add up, and a
trace that validates line by line.
"""
from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from cascadectl import CascadeAgent
from cascadectl.traces import TraceWriter, read_trace, trace_line_problems

SMALL = Path(__file__).resolve().parents[2] / "cascades" / "small.yaml"
pytestmark = pytest.mark.usefixtures("local_models")


def stream(query: str, trace: Path) -> list:
    async def go() -> list:
        agent = CascadeAgent.from_yaml(SMALL)
        with TraceWriter(trace) as writer:
            events = [e async for e in agent.stream_events(query, trace=writer)]
        await agent.aclose()
        return events

    return asyncio.run(go())


def check_bookkeeping(events: list, trace: Path) -> dict:
    result = events[-1].data["result"]
    tiers = result["tiers"]
    assert result["total_cost"] == pytest.approx(sum(t["cost"] for t in tiers))
    assert result["input_tokens"] == sum(t["input_tokens"] for t in tiers)
    assert result["output_tokens"] == sum(t["output_tokens"] for t in tiers)
    assert result["tokens_estimated"] is False  # the embedded provider counts exactly
    for tier in tiers:
        assert tier["cost"] > 0 and tier["output_tokens"] > 0
    shown = "".join(e.content for e in events if e.type.name == "CHUNK" and e.phase == tiers[-1]["phase"])
    assert shown == result["content"] and result["content"].strip()
    lines = list(read_trace(trace))
    assert all(trace_line_problems(line) == [] for line in lines)
    assert [line["type"] for line in lines[1:]] == [e.type.value for e in events]
    return result


def test_a_good_draft_is_accepted_at_the_drafter(tmp_path: Path) -> None:
    trace = tmp_path / "t.jsonl"
    events = stream("What is the capital of France?", trace)
    kinds = [e.type.name for e in events]
    assert kinds[0] == "ROUTING" and kinds[-2:] == ["DRAFT_DECISION", "COMPLETE"]
    decision = events[-2].data
    assert decision["accepted"] is True and decision["score"] >= decision["threshold"]
    assert decision["confidence"] is not None  # real logprobs from llama.cpp
    result = check_bookkeeping(events, trace)
    assert result["model_used"] == "smollm2-135m-instruct" and result["verifier_only_cost_estimated"] is True
    assert result["total_cost"] < result["verifier_only_cost"]


def test_a_weak_draft_escalates_to_the_verifier(tmp_path: Path) -> None:
    trace = tmp_path / "t.jsonl"
    events = stream("What is the capital of Germany?", trace)
    kinds = [e.type.name for e in events]
    switch = kinds.index("SWITCH")
    assert kinds[switch - 1] == "DRAFT_DECISION" and events[switch - 1].data["accepted"] is False
    assert events[switch].data["from_model"] == "smollm2-135m-instruct"
    assert events[switch].data["to_model"] == "gemma3-270m"
    assert kinds[-1] == "COMPLETE" and all(e.phase == "verify" for e in events[switch + 1 :])
    result = check_bookkeeping(events, trace)
    assert [t["status"] for t in result["tiers"]] == ["rejected", "answered"]
    assert result["verifier_only_cost_estimated"] is False
    assert result["verifier_only_cost"] == pytest.approx(result["tiers"][1]["cost"])
