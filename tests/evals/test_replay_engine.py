"""Replay runs the engine users run: recorded calls come back through the `replay`
provider, so a replay's events are the engine's own. Checked against live runs of
deterministic fake models, event by event."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

import pytest

from cascadectl.config.model import CascadeConfig, PriceSpec, QualityConfig, TierConfig, ValidatorSpec
from cascadectl.evals.replay import replay_eval
from cascadectl.evals.runner import run_eval
from cascadectl.traces.reader import read_trace
from tests.support.eval_fakes import write_evalset

CASCADE_EVENTS = ("routing", "draft_decision", "switch", "complete", "error")
JSON_ONLY = ("json",)
WEATHER = {"name": "get_weather", "description": "Weather for a city",
           "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}

DRAFTER = [
    {"match": "capital of France", "text": "Paris is the capital.", "logprobs": [-0.01, -0.02, -0.01, -0.3],
     "usage": {"input": 12, "output": 4}},
    {"match": "capital of Spain", "text": "Madrid.", "logprob": -1.6, "usage": {"input": 12, "output": 2}},
    {"match": "weather", "text": "", "tool_calls": [{"id": "c1", "name": "get_weather", "arguments": {"city": "Oslo"},
                                                     "fragments": ['{"ci', 'ty": "Os', 'lo"}']}],
     "usage": {"input": 30, "output": 9}},
    {"match": "poem", "text": "I'm sorry, but I can't help with writing that poem for you today.",
     "usage": {"input": 12, "output": 14}},
    {"match": "stream fails", "chunks": ["The ", "answer ", "is "], "error": {"kind": "connection", "after_chunks": 2,
                                                                              "message": "connection reset"}},
    {"match": "no usage", "text": "Forty two is the answer here.", "logprob": -0.05, "usage": "none"},
    {"match": "collapse", "chunks": ["word "] * 20, "logprob": -4.0, "usage": {"input": 12, "output": 20}},
    {"match": "boom", "error": {"kind": "server", "status": 500, "message": "scripted outage"}},
]
VERIFIER = [
    {"match": "boom", "error": {"kind": "server", "status": 503, "message": "still down"}},
    {"match": "weather", "text": "", "tool_calls": [{"id": "v1", "name": "get_weather", "arguments": {"city": "Oslo"}}],
     "usage": {"input": 30, "output": 9}},
    {"match": "capital", "text": "Madrid is the capital of Spain.", "usage": {"input": 12, "output": 7}},
]
VERIFIER_DEFAULT = {"text": "The answer is 42.", "logprob": -0.01, "usage": {"input": 12, "output": 5}}
ITEMS = [
    {"id": "accepted", "query": "What is the capital of France?", "expected": "Paris", "scorer": "contains"},
    {"id": "borderline", "query": "What is the capital of Spain?", "expected": "Madrid", "scorer": "contains"},
    {"id": "tool", "query": "What is the weather in Oslo?", "expected": {"name": "get_weather", "arguments": {"city": "Oslo"}},
     "scorer": "tool-call", "tools": [WEATHER], "tool_choice": "required"},
    {"id": "refusal", "query": "Write a poem about the sea", "expected": "sea", "scorer": "contains"},
    {"id": "partial", "query": "This stream fails halfway", "expected": "42", "scorer": "contains"},
    {"id": "estimated", "query": "Answer with no usage please", "expected": "42", "scorer": "contains"},
    {"id": "collapse", "query": "Let confidence collapse", "expected": "42", "scorer": "contains"},
    {"id": "boom", "query": "Please boom now", "expected": "x", "scorer": "contains"},
]


READS = [{"match": "Madrid", "logprob": -0.05}, {"match": "Forty", "logprob": -2.0}]
WITH_READS = (ValidatorSpec("non_empty"), ValidatorSpec("refusal"), ValidatorSpec("confidence", 2.0),
              ValidatorSpec("hedging"), ValidatorSpec("likelihood", 2.0, {}))


def cascade(threshold: float, mode: str = "live", validators: tuple[ValidatorSpec, ...] = ()) -> CascadeConfig:
    tiers = (
        TierConfig(name="drafter", provider="fake", model="small", price=PriceSpec(1.0, 2.0),
                   options={"responses": DRAFTER, "default": {"text": "Maybe 6?", "logprob": -2.0}}),
        TierConfig(name="verifier", provider="fake", model="big", price=PriceSpec(10.0, 20.0),
                   options={"responses": VERIFIER, "default": VERIFIER_DEFAULT, "score": READS}),
    )
    thresholds = {k: threshold for k in ("trivial", "simple", "moderate", "hard", "expert")}
    quality = QualityConfig(draft_mode=mode, thresholds=thresholds, validators=validators)
    return CascadeConfig(tiers=tiers, name="replayable", quality=quality)


def live(tmp_path: Path, name: str, config: CascadeConfig, baselines: tuple[str, ...] = ()) -> Path:
    evalset = write_evalset(tmp_path / "set.jsonl", ITEMS)
    return run_eval(config, evalset, tmp_path / name, baselines=list(baselines), concurrency=1, formats=JSON_ONLY).traces


def cascade_events(traces: Path, volatile: frozenset[str]) -> dict[str, list[tuple[str, Any]]]:
    out: dict[str, list[tuple[str, Any]]] = {}
    for line in read_trace(traces):
        if line.get("run") == "cascade" and line["type"] in CASCADE_EVENTS:
            out.setdefault(line["query_id"], []).append((line["type"], _scrub(line["data"], volatile)))
    return out


def _scrub(value: Any, volatile: frozenset[str], depth: int = 0) -> Any:
    if isinstance(value, Mapping):
        return {k: _scrub(v, volatile, depth + 1) for k, v in value.items() if not (k in volatile and _timed(depth, k))}
    if isinstance(value, list):
        return [_scrub(v, volatile, depth + 1) for v in value]
    return value


def _timed(depth: int, key: str) -> bool:
    return key in ("latency_ms", "ttft_ms")


WALL = frozenset({"latency_ms", "ttft_ms"})


def _result_wall_times(events: dict[str, list[tuple[str, Any]]]) -> dict[str, list[tuple[str, Any]]]:
    """The query's own wall times (they include the decision's CPU time); tier times stay."""
    out = {}
    for qid, items in events.items():
        fixed = []
        for kind, data in items:
            if kind == "complete":
                data = {"result": {k: v for k, v in data["result"].items() if k not in WALL}}
            fixed.append((kind, data))
        out[qid] = fixed
    return out


@pytest.mark.parametrize(("mode", "validators"), [("live", ()), ("buffered", ()), ("live", WITH_READS)])
def test_replay_under_the_same_cascade_reproduces_every_cascade_event(
    tmp_path: Path, mode: str, validators: tuple[ValidatorSpec, ...]
) -> None:
    config = cascade(0.7, mode, validators)
    recorded = live(tmp_path, "rec", config)
    replayed = replay_eval([recorded], config, tmp_path / "replay", formats=JSON_ONLY)
    assert replayed.not_replayable == () and replayed.replayed == len(ITEMS) and replayed.changed == 0
    before = _result_wall_times(cascade_events(recorded, frozenset()))
    after = _result_wall_times(cascade_events(replayed.traces, frozenset()))
    assert after == before  # decisions, switches (retract too), results, per-tier tokens, costs and times
    kinds = {qid: [k for k, _ in items] for qid, items in after.items()}
    assert kinds["boom"] == ["routing", "switch", "error"]
    assert kinds["accepted"] == ["routing", "draft_decision", "complete"]


def test_the_scenarios_cover_what_a_replay_must_get_right(tmp_path: Path) -> None:
    events = cascade_events(live(tmp_path, "rec", cascade(0.7)), frozenset())
    switches = {qid: data for qid, items in events.items() for kind, data in items if kind == "switch"}
    assert switches["partial"]["kind"] == "provider_error" and switches["partial"]["retract"] is True
    assert switches["partial"]["partial"]["text"] == "The answer "
    assert switches["refusal"]["kind"] == "early_abort" and switches["refusal"]["retract"] is True
    assert switches["collapse"]["kind"] == "early_abort"
    assert switches["borderline"]["kind"] == "rejected"
    estimated = next(d for k, d in events["estimated"] if k == "complete")["result"]
    assert estimated["tiers"][0]["tokens_estimated"] is True


@pytest.mark.parametrize(("recorded_at", "replayed_at", "validators"),
                         [(0.7, 0.3, ()), (0.3, 0.99, ()), (0.7, 0.4, WITH_READS), (0.4, 0.95, WITH_READS)])
def test_a_changed_threshold_replays_to_what_a_live_run_with_it_gives(
    tmp_path: Path, recorded_at: float, replayed_at: float, validators: tuple[ValidatorSpec, ...]
) -> None:
    # Looser: drafts rejected then are accepted now. Stricter: drafts accepted then are
    # rejected now, and the verifier's answer comes from the recorded baseline run.
    recorded = live(tmp_path, "rec", cascade(recorded_at, validators=validators), baselines=("verifier",))
    changed = cascade(replayed_at, validators=validators)
    replayed = replay_eval([recorded], changed, tmp_path / "replay", formats=JSON_ONLY)
    direct = live(tmp_path, "direct", changed)
    # Tier times come from other calls here (the recorded run's against the live one's).
    assert cascade_events(replayed.traces, WALL) == cascade_events(direct, WALL)
    assert replayed.changed >= 1 and replayed.not_replayable == ()


def test_an_early_aborted_draft_that_a_new_cascade_would_let_run_on_is_not_replayable(tmp_path: Path) -> None:
    recorded = live(tmp_path, "rec", cascade(0.7), baselines=("verifier",))
    no_abort = cascade(0.7)
    no_abort = CascadeConfig(tiers=no_abort.tiers, name=no_abort.name,
                             quality=QualityConfig(thresholds=no_abort.quality.thresholds, early_abort=False))
    replayed = replay_eval([recorded], no_abort, tmp_path / "replay", formats=JSON_ONLY)
    reasons = dict(replayed.not_replayable)
    assert set(reasons) == {"refusal", "collapse"}
    assert "cut short by early abort" in reasons["refusal"]
    lines = [l for l in read_trace(replayed.traces) if l["query_id"] == "refusal" and l.get("run") == "cascade"]
    assert [l["type"] for l in lines] == ["query"]  # nothing of the abandoned replay is left
    assert lines[0]["data"]["replay"]["status"] == "not_replayable"


def test_what_the_provider_reported_of_how_it_ran_is_replayed_too(tmp_path: Path) -> None:
    import json

    recorded = live(tmp_path, "rec", cascade(0.7, validators=WITH_READS))
    # Stand in for a provider that reports how it ran (llamacpp's buffers and threads).
    lines = recorded.read_text(encoding="utf-8").splitlines()
    stamped = []
    for text in lines:
        line = json.loads(text)
        tiers = (line["data"].get("result") or line["data"]).get("tiers") if line["type"] in ("complete", "error") else None
        for tier in tiers or ():
            tier["runtime"] = {"n_threads": 1, "tier": tier["tier"], "phase": tier["phase"]}
        stamped.append(json.dumps(line))
    recorded.write_text("\n".join(stamped) + "\n", encoding="utf-8")
    replayed = replay_eval([recorded], cascade(0.7, validators=WITH_READS), tmp_path / "replay", formats=JSON_ONLY)
    for qid, items in cascade_events(replayed.traces, WALL).items():
        for kind, data in items:
            for tier in (data.get("result") or data).get("tiers") or () if kind in ("complete", "error") else ():
                assert tier["runtime"] == {"n_threads": 1, "tier": tier["tier"], "phase": tier["phase"]}, qid
