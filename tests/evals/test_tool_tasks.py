"""Multi-step tool tasks in evals: canned results, `--tools module:attr`, scoring the
answer and the calls made, `--max-cost` stopping and resuming, replay of tool loops."""
from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Any

import pytest

from cascadectl.cli.main import main
from cascadectl.config.model import CascadeConfig, PriceSpec, TierConfig
from cascadectl.evals.replay import replay_eval
from cascadectl.evals.runner import run_eval
from cascadectl.evals.scorers import score_answer
from cascadectl.tools.canned import CannedTools
from cascadectl.tools.loading import load_tools
from cascadectl.errors import UsageError
from tests.support.eval_fakes import write_evalset

WEATHER = {"name": "get_weather", "description": "Weather", "parameters": {
    "type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}
CALL_PARIS = {"tool_calls": [{"id": "w1", "name": "get_weather", "arguments": {"city": "Paris"}}], "logprob": -0.01,
              "usage": {"input": 20, "output": 6}}
YES = {"text": "Yes, take an umbrella: it is raining.", "logprob": -0.01, "usage": {"input": 40, "output": 9}}
ITEM = {"id": "umbrella", "query": "Should I take an umbrella in Paris today?", "expected": "umbrella",
        "scorer": "contains", "tools": [WEATHER], "expected_calls": [{"name": "get_weather", "arguments": {"city": "Paris"}}],
        "tool_results": [{"name": "get_weather", "arguments": {"city": "Paris"}, "result": {"condition": "rain"}}]}


def tool_cascade(*replies: Any) -> CascadeConfig:
    rule = {"match": "umbrella|weather", "replies": list(replies or (CALL_PARIS, YES))}
    drafter = TierConfig(name="drafter", provider="fake", model="small", price=PriceSpec(1.0, 2.0),
                         options={"responses": [rule], "default": YES})
    verifier = TierConfig(name="verifier", provider="fake", model="big", price=PriceSpec(10.0, 20.0),
                          options={"default": YES})
    return CascadeConfig(tiers=(drafter, verifier), name="tools")


def lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_canned_results_match_by_name_and_arguments() -> None:
    canned = CannedTools([{"name": "get_weather", "arguments": {"city": "Oslo"}, "result": "snow"},
                          {"name": "get_weather", "error": "unknown city"}])
    oslo = asyncio.run(canned.execute({"id": "1", "name": "get_weather", "arguments": {"city": "Oslo"}}))
    rome = asyncio.run(canned.execute({"id": "2", "name": "get_weather", "arguments": {"city": "Rome"}}))
    other = asyncio.run(canned.execute({"id": "3", "name": "get_time", "arguments": {}}))
    assert (oslo.result, oslo.error) == ("snow", None)
    assert rome.error == "unknown city"
    assert other.error == ('no result for get_time({}); results exist for: get_weather({"city": "Oslo"}), '
                           "get_weather(any arguments)")


def test_a_multi_step_item_runs_the_loop_on_canned_results(tmp_path: Path) -> None:
    summary = run_eval(tool_cascade(), write_evalset(tmp_path / "t.jsonl", [ITEM]), tmp_path / "out", formats=("json",))
    trace = lines(summary.traces)
    result = next(l for l in trace if l["type"] == "complete")["data"]["result"]
    assert [s["tool_calls"][0]["name"] if s["tool_calls"] else None for s in result["steps"]] == ["get_weather", None]
    assert result["steps"][0]["tool_results"][0]["content"] == '{"condition": "rain"}'
    score = next(l for l in trace if l["type"] == "score")["data"]
    assert score["correct"] is True and score["score"] == 1.0
    report = summary.report
    assert report is not None and report["counts"]["cascade"]["run"] == 1
    assert report["metrics"]["cascade"]["cost"]["total"] == pytest.approx(result["total_cost"])
    assert report["metrics"]["cascade"]["cost"]["per_tier"]["drafter"]["calls"] == 2  # both steps


def test_the_calls_made_are_scored_with_the_answer() -> None:
    wrong_city = {"steps": [{"tool_calls": [{"id": "x", "name": "get_weather", "arguments": {"city": "Lyon"}}]},
                            {"tool_calls": []}], "content": "Yes, an umbrella."}
    score = score_answer(ITEM, wrong_city)
    assert score.correct is False and score.score == 0.5
    assert 'no call matches get_weather({"city": "Paris"})' in score.detail
    tool_item = {**ITEM, "scorer": "tool-call", "expected": {"name": "get_weather", "arguments": {"city": "Lyon"}}}
    assert score_answer({k: v for k, v in tool_item.items() if k != "expected_calls"}, wrong_city).correct is True


def write_tools_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    (tmp_path / "my_tools.py").write_text(
        "from cascadectl.tools import ToolConfig, ToolExecutor\n"
        "CALLS = []\n"
        "def get_weather(city: str) -> str:\n"
        "    CALLS.append(city)\n"
        "    return f'{city}: rain, 12C'\n"
        "executor = ToolExecutor([ToolConfig.from_function(get_weather)])\n")
    monkeypatch.chdir(tmp_path)
    sys.modules.pop("my_tools", None)
    return "my_tools:executor"


def test_tools_named_on_the_command_line_run_for_every_item(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    spec = write_tools_module(tmp_path, monkeypatch)
    item = {k: v for k, v in ITEM.items() if k != "tool_results"}
    summary = run_eval(tool_cascade(), write_evalset(tmp_path / "t.jsonl", [item]), tmp_path / "out",
                       formats=("json",), tools=load_tools(spec))
    assert sys.modules["my_tools"].CALLS == ["Paris"]
    score = next(l for l in lines(summary.traces) if l["type"] == "score")["data"]
    assert score["correct"] is True


@pytest.mark.parametrize("spec, message", [
    ("my_tools", "expected module:attribute"),
    ("no_such_module_here:x", "cannot import 'no_such_module_here'"),
    ("my_tools:nope", "module 'my_tools' has no attribute 'nope'"),
    ("my_tools:CALLS", "expected a ToolExecutor, ToolConfigs or functions, got"),
])
def test_bad_tools_specs_say_what_is_wrong(spec: str, message: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_tools_module(tmp_path, monkeypatch)
    with pytest.raises(UsageError, match=message):
        load_tools(spec)


def test_stream_runs_the_tool_loop_from_the_cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    spec = write_tools_module(tmp_path, monkeypatch)
    config = tmp_path / "c.yaml"
    rule = {"match": "umbrella", "replies": [CALL_PARIS, YES]}
    config.write_text(json.dumps({"tiers": [
        {"name": "drafter", "provider": "fake", "model": "small", "price": {"input": 1, "output": 2}, "options": {"responses": [rule]}},
        {"name": "verifier", "provider": "fake", "model": "big", "price": {"input": 10, "output": 20}, "options": {"default": YES}}]}))
    assert main(["stream", str(config), "Should I take an umbrella in Paris?", "--tools", spec]) == 0
    out, err = capsys.readouterr()
    assert out.strip() == YES["text"]  # the answer alone: the step's call is on stderr, not stdout
    assert '▶ running get_weather({"city": "Paris"})' in err and "◀ get_weather returned 'Paris: rain, 12C'" in err
    assert "→ step 1 route" in err and "2 steps (answered)" in err


def test_max_cost_stops_the_run_and_resume_finishes_it(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    items = [{"id": f"q{i}", "query": f"What is the weather like in town {i}?", "expected": "umbrella",
              "scorer": "contains", "tools": [WEATHER], "tool_results": [{"name": "get_weather", "result": "rain"}]}
             for i in range(5)]
    evalset = write_evalset(tmp_path / "t.jsonl", items)
    cascade = tmp_path / "c.yaml"
    cascade.write_text(json.dumps({"tiers": [
        {"name": "drafter", "provider": "fake", "model": "small", "price": {"input": 1, "output": 2},
         "options": {"default": YES}},
        {"name": "verifier", "provider": "fake", "model": "big", "price": {"input": 10, "output": 20}, "options": {"default": YES}}]}))
    per_query = (40 * 1 + 9 * 2) / 1e6
    out = tmp_path / "out"
    args = ["eval", str(evalset), "--cascade", str(cascade), "--out", str(out), "-j", "1", "--format", "json"]
    assert main([*args, "--max-cost", str(per_query * 2.5)]) == 4
    err = capsys.readouterr().err
    assert "stopped at --max-cost" in err and "--resume" in err
    scored = [l["query_id"] for l in lines(out / "traces.jsonl") if l["type"] == "score"]
    assert scored == ["q0", "q1", "q2"]  # the third passed the cap; nothing after it started
    assert main([*args, "--resume", "--max-cost", "1"]) == 0
    scored = [l["query_id"] for l in lines(out / "traces.jsonl") if l["type"] == "score"]
    assert scored == ["q0", "q1", "q2", "q3", "q4"]  # each query run once


def test_max_cost_with_an_unknown_price_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cascade = tmp_path / "c.yaml"
    cascade.write_text(json.dumps({"tiers": [{"name": "d", "provider": "fake", "model": "mystery", "options": {"default": "x"}}]}))
    evalset = write_evalset(tmp_path / "t.jsonl", [{"id": "a", "query": "q?", "expected": "x", "scorer": "contains"}])
    assert main(["eval", str(evalset), "--cascade", str(cascade), "--out", str(tmp_path / "o"), "--max-cost", "0.5"]) == 2
    assert "--max-cost 0.5 needs every tier's price, but tier 'd' (model mystery)" in capsys.readouterr().err
    assert not (tmp_path / "o" / "traces.jsonl").exists()


def test_a_tool_loop_replays_through_the_engine(tmp_path: Path) -> None:
    evalset = write_evalset(tmp_path / "t.jsonl", [ITEM])
    live = run_eval(tool_cascade(CALL_PARIS, {"text": "maybe", "logprob": -4.0}), evalset, tmp_path / "live",
                    formats=("json",))
    recorded = next(l for l in lines(live.traces) if l["type"] == "complete")["data"]["result"]
    assert [t["status"] for t in recorded["tiers"]] == ["accepted", "rejected", "answered"]
    replayed = replay_eval([tmp_path / "live"], tool_cascade(), tmp_path / "replay", formats=("json",))
    assert replayed.replayed == 1 and replayed.changed == 0 and replayed.not_replayable == ()
    again = next(l for l in lines(replayed.traces) if l["type"] == "complete")["data"]["result"]
    for key in ("content", "total_cost", "stop_reason"):
        assert again[key] == recorded[key]
    assert [(s["step"], s["tier_used"]) for s in again["steps"]] == [(0, "drafter"), (1, "verifier")]
    tools_run = [l for l in lines(replayed.traces) if l["type"] == "tool_result"]
    assert tools_run[0]["data"]["content"] == '{"condition": "rain"}'  # the recorded result, no tool called
