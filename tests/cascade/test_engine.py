from __future__ import annotations

import asyncio

import pytest

from cascadectl import AllTiersFailedError
from cascadectl.config.model import QualityConfig, RoutingConfig, RoutingRule
from tests.support.fakes import Fakes, collect, kinds, normalised

WORDS = {"text": "Paris is the capital of France.", "logprob": -0.05}
GOOD = {"text": "Paris.", "logprob": -0.01, "usage": {"input": 20, "output": 3}}


def result_of(events):
    assert events[-1].type.name == "COMPLETE"
    return events[-1].data["result"]


def test_accepted_draft_streams_then_completes_at_the_drafter(fakes: Fakes) -> None:
    fakes.script("small", {**WORDS, "usage": {"input": 10, "output": 7}})
    events = collect(fakes.agent())
    assert kinds(events) == ["ROUTING"] + ["CHUNK:draft"] * 6 + ["DRAFT_DECISION:draft", "COMPLETE:draft"]
    result = result_of(events)
    assert result["content"] == "Paris is the capital of France."
    assert result["draft_accepted"] is True and result["model_used"] == "small"
    assert [t["status"] for t in result["tiers"]] == ["accepted"]
    # 10 in at $1/1M + 7 out at $2/1M
    assert result["total_cost"] == pytest.approx(24e-6)
    # verifier-only is priced from the same token counts at $10/$20 per 1M: an estimate
    assert result["verifier_only_cost"] == pytest.approx(240e-6)
    assert result["verifier_only_cost_estimated"] is True
    assert result["savings"] == pytest.approx(0.9)
    assert fakes.requests("big") == []


def test_rejected_draft_switches_and_counts_both_tiers(fakes: Fakes) -> None:
    fakes.script("small", {"text": "I think maybe it could be Lyon, not sure.", "logprob": -2.5, "usage": {"input": 10, "output": 12}})
    fakes.script("big", GOOD)
    events = collect(fakes.agent())
    names = kinds(events)
    switch = names.index("SWITCH:draft")
    assert names[switch - 1] == "DRAFT_DECISION:draft"
    assert names[switch + 1 :] == ["CHUNK:verify", "COMPLETE:verify"]
    decision = events[switch - 1].data
    assert decision["accepted"] is False and decision["score"] < decision["threshold"]
    assert {c["name"] for c in decision["checks"]} >= {"non_empty", "refusal", "confidence", "hedging"}
    assert decision["draft"]["text"].startswith("I think")
    assert events[switch].data["from_model"] == "small" and events[switch].data["to_model"] == "big"
    assert events[switch].data["retract"] is True
    result = result_of(events)
    assert result["content"] == "Paris." and result["draft_accepted"] is False
    assert [t["status"] for t in result["tiers"]] == ["rejected", "answered"]
    draft_cost, verify_cost = 10e-6 + 24e-6, 200e-6 + 60e-6
    assert result["total_cost"] == pytest.approx(draft_cost + verify_cost)
    assert result["verifier_only_cost"] == pytest.approx(verify_cost)
    assert result["verifier_only_cost_estimated"] is False


def test_force_direct_goes_to_the_last_tier_without_a_decision(fakes: Fakes) -> None:
    fakes.script("big", GOOD)
    events = collect(fakes.agent(), force_direct=True)
    assert kinds(events) == ["ROUTING", "CHUNK:direct", "COMPLETE:direct"]
    assert events[0].data["strategy"] == "direct" and events[0].data["reason"] == "force_direct"
    assert fakes.requests("small") == []


def test_routing_rule_sends_hard_queries_direct(fakes: Fakes) -> None:
    rules = RoutingConfig(rules=(RoutingRule(route="direct", complexity=("hard", "expert")),))
    agent = fakes.agent("a", "b", "c", routing=rules)
    fakes.script("c", GOOD)
    events = collect(agent, "Prove that there are infinitely many primes.")
    assert events[0].data["complexity"] == "expert"
    assert events[0].data["tier"] == "c" and "routing.rules[0]" in events[0].data["reason"]
    assert result_of(events)["tier_used"] == "c"


def test_complexity_hint_overrides_the_estimate(fakes: Fakes) -> None:
    fakes.script("small", WORDS)
    events = collect(fakes.agent(), complexity_hint="expert")
    assert events[0].data["complexity"] == "expert"
    assert events[0].data["complexity_source"] == "hint"
    assert events[-2].data["threshold"] == QualityConfig().thresholds["expert"]


def test_three_tiers_escalate_twice(fakes: Fakes) -> None:
    bad = {"text": "I don't know.", "logprob": -3.0}
    fakes.script("a", bad)
    fakes.script("b", bad)
    fakes.script("c", GOOD)
    events = collect(fakes.agent("a", "b", "c"))
    switches = [e.data for e in events if e.type.name == "SWITCH"]
    assert [(s["from_tier"], s["to_tier"]) for s in switches] == [("a", "b"), ("b", "c")]
    assert [e.phase for e in events if e.type.name == "DRAFT_DECISION"] == ["draft", "draft"]
    result = result_of(events)
    assert [t["status"] for t in result["tiers"]] == ["rejected", "rejected", "answered"]
    assert result["content"] == "Paris."


def test_drafter_failure_escalates_and_bills_nothing_for_it(fakes: Fakes) -> None:
    fakes.script("small", {"error": {"kind": "server", "status": 503, "message": "upstream unavailable"}})
    fakes.script("big", GOOD)
    events = collect(fakes.agent())
    assert kinds(events) == ["ROUTING", "SWITCH:draft", "CHUNK:verify", "COMPLETE:verify"]
    switch = events[1].data
    assert switch["kind"] == "provider_error" and "server" in switch["reason"] and switch["retract"] is False
    tiers = result_of(events)["tiers"]
    assert tiers[0]["status"] == "failed" and tiers[0]["cost"] == 0
    assert tiers[0]["error"]["status"] == 503


def test_every_tier_failing_gives_error_event_and_run_raises(fakes: Fakes) -> None:
    for _ in range(2):
        fakes.script("small", {"error": {"kind": "rate_limit", "status": 429}})
        fakes.script("big", {"error": {"kind": "server", "status": 500}})
    events = collect(fakes.agent())
    assert kinds(events) == ["ROUTING", "SWITCH:draft", "ERROR:verify"]
    error = events[-1].data
    assert [e["tier"] for e in error["errors"]] == ["small", "big"]
    assert error["total_cost"] == 0
    with pytest.raises(AllTiersFailedError) as info:
        asyncio.run(fakes.agent().run("What is the capital of France?"))
    assert len(info.value.errors) == 2


def test_failure_after_output_started_is_not_retried_and_retracts(fakes: Fakes) -> None:
    fakes.script("small", {"text": "Paris is the capital of France.", "error": {"kind": "connection", "after_chunks": 3}})
    fakes.script("big", GOOD)
    events = collect(fakes.agent())
    assert kinds(events)[:5] == ["ROUTING", "CHUNK:draft", "CHUNK:draft", "CHUNK:draft", "SWITCH:draft"]
    assert events[4].data["retract"] is True
    assert len(fakes.requests("small")) == 1
    tiers = result_of(events)["tiers"]
    # the partial draft is billed: prompt and three chunks, estimated
    assert tiers[0]["output_tokens"] == 3 and tiers[0]["tokens_estimated"] is True and tiers[0]["cost"] > 0


def test_refusal_aborts_the_draft_early(fakes: Fakes) -> None:
    refusal = "I'm sorry, but I can't help with that. " + "filler " * 200
    fakes.script("small", {"text": refusal, "logprob": -0.01})
    fakes.script("big", GOOD)
    events = collect(fakes.agent())
    draft_chunks = [e for e in events if e.phase == "draft" and e.type.name == "CHUNK"]
    assert len(draft_chunks) < 20  # stopped long before the 208 chunks the model had
    decision = next(e.data for e in events if e.type.name == "DRAFT_DECISION")
    assert decision["accepted"] is False
    assert any(c["name"] == "early_abort" and c["value"] == "refusal" for c in decision["checks"])
    switch = next(e.data for e in events if e.type.name == "SWITCH")
    assert switch["kind"] == "early_abort"
    assert result_of(events)["tiers"][0]["status"] == "aborted"


def test_collapsing_confidence_aborts_the_draft_early(fakes: Fakes) -> None:
    fakes.script("small", {"text": "word " * 100, "logprob": -4.0})
    fakes.script("big", GOOD)
    events = collect(fakes.agent())
    decision = next(e.data for e in events if e.type.name == "DRAFT_DECISION")
    early = next(c for c in decision["checks"] if c["name"] == "early_abort")
    assert "confidence collapsed" in early["value"]
    assert len([e for e in events if e.phase == "draft" and e.type.name == "CHUNK"]) < 100


def test_buffered_accept_releases_chunks_after_the_decision(fakes: Fakes) -> None:
    fakes.script("small", WORDS)
    events = collect(fakes.agent(), draft_mode="buffered")
    assert kinds(events) == ["ROUTING", "DRAFT_DECISION:draft"] + ["CHUNK:draft"] * 6 + ["COMPLETE:draft"]


def test_buffered_reject_never_shows_the_draft(fakes: Fakes) -> None:
    fakes.script("small", {"text": "I don't know, maybe Lyon.", "logprob": -3.0})
    fakes.script("big", GOOD)
    events = collect(fakes.agent(), draft_mode="buffered")
    assert kinds(events) == ["ROUTING", "DRAFT_DECISION:draft", "SWITCH:draft", "CHUNK:verify", "COMPLETE:verify"]
    assert events[2].data["retract"] is False
    assert result_of(events)["ttft_ms"] is not None


def test_missing_usage_is_estimated_and_marked(fakes: Fakes) -> None:
    fakes.script("small", {**WORDS, "usage": "none"})
    result = result_of(collect(fakes.agent()))
    tier = result["tiers"][0]
    assert tier["tokens_estimated"] is True and result["tokens_estimated"] is True
    assert tier["output_tokens"] == 6  # one logprob per chunk


def test_unknown_price_is_reported_as_unknown(fakes: Fakes) -> None:
    from cascadectl import CascadeAgent, ModelConfig

    drafter = ModelConfig(name="mystery-a", provider="fake", options={"script": fakes.script("mystery-a", WORDS)})
    agent = CascadeAgent(models=[drafter, ModelConfig(name="mystery-b", provider="fake")])
    result = result_of(collect(agent))
    assert result["total_cost"] is None and result["tiers"][0]["price_source"] == "unknown"


def test_streaming_managers_need_two_tiers(fakes: Fakes) -> None:
    assert fakes.agent().text_streaming_manager and fakes.agent().tool_streaming_manager
    single = fakes.agent("only")
    assert single.text_streaming_manager is None and single.tool_streaming_manager is None
    fakes.script("only", GOOD)
    events = collect(single)
    assert kinds(events) == ["ROUTING", "CHUNK:direct", "COMPLETE:direct"]


def test_run_returns_the_complete_result(fakes: Fakes) -> None:
    fakes.script("small", WORDS)
    result = asyncio.run(fakes.agent().run("What is the capital of France?"))
    assert result.content == "Paris is the capital of France." and result.draft_accepted
    assert result.to_dict()["tiers"][0]["tier"] == "small"


def test_messages_and_system_prompt_reach_the_provider(fakes: Fakes) -> None:
    fakes.script("small", WORDS)
    history = [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello!"}]
    collect(fakes.agent(), "And the capital of France?", messages=history, system="Be brief.")
    sent = fakes.requests("small")[0].messages
    assert [m["role"] for m in sent] == ["system", "user", "assistant", "user"]
    assert sent[0]["content"] == "Be brief." and sent[-1]["content"] == "And the capital of France?"


def test_event_sequence_snapshot(snapshot, fakes: Fakes) -> None:
    fakes.script("small", {"text": "Maybe Lyon?", "logprob": -1.5, "usage": {"input": 9, "output": 3}})
    fakes.script("big", GOOD)
    assert normalised(collect(fakes.agent(), draft_mode="live")) == snapshot


def test_the_two_streaming_managers_differ(fakes: Fakes) -> None:
    from cascadectl.errors import UsageError

    agent = fakes.agent()
    tool = {"name": "get_weather", "description": "w", "parameters": {"type": "object", "properties": {}}}
    with pytest.raises(UsageError, match="use agent.tool_streaming_manager"):
        agent.text_streaming_manager.stream("q?", tools=[tool])  # type: ignore[union-attr]
    with pytest.raises(UsageError, match="needs tools"):
        agent.tool_streaming_manager.stream("q?")  # type: ignore[union-attr]


def test_verbose_is_accepted_as_the_guide_writes_it(fakes: Fakes, caplog: pytest.LogCaptureFixture) -> None:
    import logging

    quiet = fakes.agent(verbose=False)
    assert quiet.models == ["small", "big"]
    assert logging.getLogger("cascadectl").getEffectiveLevel() >= logging.WARNING
    logger = logging.getLogger("cascadectl")
    try:
        fakes.agent(verbose=True)
        assert logger.getEffectiveLevel() == logging.INFO
        fakes.agent(verbose=True)
        assert sum(getattr(h, "_cascadectl_verbose", False) for h in logger.handlers) == 1  # one handler, however often
        fakes.agent(verbose=False)
        assert logger.getEffectiveLevel() == logging.WARNING
    finally:  # leave no handler behind for other tests
        logger.handlers = [h for h in logger.handlers if not getattr(h, "_cascadectl_verbose", False)]
        logger.setLevel(logging.NOTSET)
