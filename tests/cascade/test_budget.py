"""budget_usd: an escalation that would pass the cap is not made; unknown prices are a config error."""
from __future__ import annotations

from pathlib import Path

import pytest

from cascadectl import CascadeAgent, ModelConfig
from cascadectl.config import load_cascade
from cascadectl.errors import ConfigError
from cascadectl.tools import ToolConfig, ToolExecutor
from tests.support.fakes import Fakes, collect

UNSURE = {"text": "I think maybe it is sunny perhaps", "logprob": -3.0, "usage": {"input": 100, "output": 7}}
SURE = {"text": "Paris is sunny and 22C today.", "logprob": -0.01}
# small: 1 / 2 USD per 1M tokens, big: 10 / 20 (tests/support/fakes.py)
DRAFT_COST = (100 * 1 + 7 * 2) / 1e6
ESCALATION = (100 * 10 + 50 * 20) / 1e6  # same prompt at big's price, max_tokens=50 out


def test_an_escalation_past_the_budget_is_not_made(fakes: Fakes) -> None:
    fakes.script("small", UNSURE)
    fakes.script("big", SURE)
    events = collect(fakes.agent(), max_tokens=50, budget_usd=DRAFT_COST + ESCALATION * 0.99)
    assert [e.type.name for e in events][-2:] == ["DRAFT_DECISION", "COMPLETE"]
    result = events[-1].data["result"]
    assert result["budget_exhausted"] is True and result["draft_accepted"] is False
    assert result["content"] == UNSURE["text"] and result["total_cost"] == pytest.approx(DRAFT_COST)
    assert fakes.requests("big") == []


def test_an_escalation_within_the_budget_is_made(fakes: Fakes) -> None:
    fakes.script("small", UNSURE)
    fakes.script("big", SURE)
    events = collect(fakes.agent(), max_tokens=50, budget_usd=DRAFT_COST + ESCALATION * 1.01)
    result = events[-1].data["result"]
    assert result["budget_exhausted"] is False and result["content"] == SURE["text"]
    assert len(fakes.requests("big")) == 1


def test_a_failed_tier_is_not_failed_over_past_the_budget(fakes: Fakes) -> None:
    fakes.script("small", {"error": {"kind": "server", "status": 500, "message": "boom"}})
    fakes.script("big", SURE)
    events = collect(fakes.agent(), max_tokens=50, budget_usd=1e-9)
    assert events[-1].type.name == "ERROR"
    assert events[-1].data["kind"] == "budget_exhausted" and "budget" in events[-1].data["error"]
    assert fakes.requests("big") == []


def test_the_budget_covers_every_step_of_the_tool_loop(fakes: Fakes) -> None:
    calls = [{"tool_calls": [{"id": f"c{i}", "name": "lookup", "arguments": {"page": i}}],
              "usage": {"input": 100, "output": 7}, "logprob": -0.01} for i in range(3)]
    fakes.script("small", *calls)
    ran: list[int] = []
    tools = ToolExecutor([ToolConfig("lookup", "Look up", {"type": "object", "properties": {"page": {"type": "integer"}}},
                                      lambda page: ran.append(page) or "ok")])
    events = collect(fakes.agent(), tool_executor=tools, budget_usd=DRAFT_COST * 1.5)
    result = events[-1].data["result"]
    assert result["stop_reason"] == "budget_exhausted" and result["budget_exhausted"] is True
    assert len(result["steps"]) == 2 and len(ran) == 2  # the second step spent the rest; no third
    assert result["total_cost"] == pytest.approx(2 * DRAFT_COST)


def test_a_budget_with_an_unknown_price_is_a_config_error() -> None:
    models = [ModelConfig(name="mystery-small", provider="fake"), ModelConfig(name="mystery-big", provider="fake", cost=0.01)]
    agent = CascadeAgent(models=models)
    with pytest.raises(ConfigError, match=r"tier 'mystery-small' \(model mystery-small\) has no known input or output price"):
        collect(agent, budget_usd=0.01)


def test_a_yaml_budget_needs_known_prices(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("budget_usd: 0.002\ntiers:\n  - {name: a, provider: fake, model: mystery-a}\n"
                    "  - {name: b, provider: fake, model: mystery-b, price: {input: 1, output: 2}}\n")
    with pytest.raises(ConfigError, match=r"c\.yaml: budget_usd 0\.002 needs every tier's price, but tier 'a'"):
        CascadeAgent(config=load_cascade(path))


def test_a_yaml_budget_is_read_and_checked_by_the_schema(tmp_path: Path) -> None:
    good = tmp_path / "good.yaml"
    good.write_text("budget_usd: 0.002\ntiers:\n  - {name: a, provider: fake, model: m, price: {input: 1, output: 2}}\n")
    assert load_cascade(good).budget_usd == 0.002
    bad = tmp_path / "bad.yaml"
    bad.write_text("budget_usd: -1\ntiers:\n  - {name: a, provider: fake, model: m}\n")
    with pytest.raises(ConfigError, match=r"bad\.yaml:1.*budget_usd"):
        load_cascade(bad)
