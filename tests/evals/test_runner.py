from __future__ import annotations

import json
from pathlib import Path

import pytest

from cascadectl.errors import ConfigError, UsageError
from cascadectl.reports.report import build_report
from cascadectl.evals.runner import run_eval
from cascadectl.traces.reader import read_trace, trace_line_problems
from tests.support.eval_fakes import (
    ITEMS,
    cut_trace,
    fake_cascade,
    many_items,
    scrub,
    use_counting_provider,
    write_evalset,
)

JSON_ONLY = ("json",)


def lines_of(path: Path) -> list[dict]:
    return list(read_trace(path))


def run(tmp_path: Path, name: str = "run", **kwargs) -> object:
    evalset = kwargs.pop("evalset", None) or write_evalset(tmp_path / "set.jsonl")
    config = kwargs.pop("config", None) or fake_cascade()
    kwargs.setdefault("formats", JSON_ONLY)
    return run_eval(config, evalset, tmp_path / name, **kwargs)


def test_every_item_is_run_traced_and_scored(tmp_path: Path) -> None:
    summary = run(tmp_path, concurrency=3)
    lines = lines_of(summary.traces)
    scores = {l["query_id"]: l["data"] for l in lines if l["type"] == "score"}
    assert sorted(scores) == [item["id"] for item in ITEMS]
    assert all(l["run"] == "cascade" for l in lines)
    assert scores["q1"]["correct"] is True and scores["q2"]["correct"] is True
    assert scores["q4"]["correct"] is False  # the drafter's confident "Barcelona." was accepted
    assert not [p for l in lines for p in trace_line_problems(l)]
    first = next(l for l in lines if l["query_id"] == "q3" and l["type"] == "query")
    assert first["data"]["item"]["expected"] == "Rome" and first["data"]["evalset"] == "set.jsonl"


def test_a_failing_query_is_an_error_and_the_run_goes_on(tmp_path: Path) -> None:
    summary = run(tmp_path)
    assert summary.progress.done == len(ITEMS) and summary.progress.errors == 1
    boom = [l for l in lines_of(summary.traces) if l["query_id"] == "q6"]
    assert [l["type"] for l in boom][-2:] == ["error", "score"]
    assert boom[-1]["data"] == {"scorer": "contains", "score": 0.0, "correct": False, "detail": "error"}
    assert summary.report["metrics"]["cascade"]["errors"] == 1
    assert summary.report["metrics"]["cascade"]["run"] == len(ITEMS)


def test_progress_counts_cost_and_acceptance(tmp_path: Path) -> None:
    seen = []
    summary = run(tmp_path, progress=seen.append, concurrency=2)
    assert [p.done for p in seen] == list(range(len(ITEMS) + 1))
    final = seen[-1]
    # drafted: q1..q5 (q6 failed at the drafter); accepted: q1, q3, q4
    assert (final.decided, final.accepted) == (5, 3)
    assert final.cost == pytest.approx(summary.report["metrics"]["cascade"]["cost"]["total"], rel=1e-5)


@pytest.mark.parametrize("concurrency", [1, 4])
def test_concurrency_bound_is_reached_and_never_exceeded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, concurrency: int) -> None:
    gauge = use_counting_provider(monkeypatch)
    evalset = write_evalset(tmp_path / "many.jsonl", many_items(20))
    summary = run(tmp_path, evalset=evalset, config=fake_cascade("counting"), concurrency=concurrency)
    assert summary.progress.done == 20
    assert gauge.peak == concurrency
    assert gauge.now == 0


def test_baselines_run_each_end_of_the_cascade_alone(tmp_path: Path) -> None:
    summary = run(tmp_path, baselines=["drafter,verifier"])
    lines = lines_of(summary.traces)
    by_run = {kind: [l for l in lines if l["run"] == kind] for kind in ("cascade", "drafter", "verifier")}
    for kind, model in (("drafter", "small"), ("verifier", "big")):
        scored = {l["query_id"] for l in by_run[kind] if l["type"] == "score"}
        assert scored == {item["id"] for item in ITEMS}
        assert {l["model"] for l in by_run[kind] if l["model"]} == {model}
        assert not [l for l in by_run[kind] if l["type"] == "draft_decision"]
    assert summary.report["comparison"]["savings"]["method"] == "measured"


def test_tags_and_limit_select_items(tmp_path: Path) -> None:
    summary = run(tmp_path, tags=["factual", "arithmetic"], limit=3)
    ids = [l["query_id"] for l in lines_of(summary.traces) if l["type"] == "score"]
    assert sorted(ids) == ["q1", "q2", "q3"]
    with pytest.raises(UsageError, match="no item .* has it"):
        run(tmp_path, name="none", tags=["nope"])


def test_judge_scorer_asks_the_last_tier_and_records_its_cost(tmp_path: Path) -> None:
    item = {"id": "j1", "query": "What is the capital of France?", "expected": "Paris", "scorer": "judge"}
    summary = run(tmp_path, evalset=write_evalset(tmp_path / "j.jsonl", [item]))
    score = next(l["data"] for l in lines_of(summary.traces) if l["type"] == "score")
    assert score["score"] == 1.0 and score["correct"] is True
    assert score["judge"]["tier"] == "verifier" and score["judge"]["verdict"] == 1.0
    assert score["judge"]["cost"] == pytest.approx(40 * 10e-6 + 1 * 20e-6)
    assert "cost $0.000420" in score["detail"]


def test_a_judge_naming_an_unknown_tier_fails_before_any_query(tmp_path: Path) -> None:
    item = {"id": "j1", "query": "q?", "expected": "x", "scorer": "judge", "judge": "oracle"}
    with pytest.raises(ConfigError, match=r"line 1 .*no tier named 'oracle'"):
        run(tmp_path, evalset=write_evalset(tmp_path / "j.jsonl", [item]))
    assert not (tmp_path / "run" / "traces.jsonl").exists()


def test_resume_after_a_killed_run_gives_the_same_report(tmp_path: Path) -> None:
    whole = run(tmp_path, name="whole", baselines=["verifier"])
    lines = whole.traces.read_text(encoding="utf-8").splitlines()
    cut = tmp_path / "killed" / "traces.jsonl"
    cut_trace(whole.traces, cut, keep_lines=len(lines) // 2)
    resumed = run(tmp_path, name="killed", baselines=["verifier"], resume=True)
    assert 0 < resumed.progress.skipped < 2 * len(ITEMS)
    assert resumed.progress.done + resumed.progress.skipped == 2 * len(ITEMS)
    assert scrub(resumed.report) == scrub(whole.report)
    assert resumed.traces.read_text(encoding="utf-8").endswith("\n")
    assert lines_of(resumed.traces)  # every line whole again: the torn tail was cut


def test_resume_refuses_other_options_and_plain_rerun_refuses_a_used_dir(tmp_path: Path) -> None:
    run(tmp_path, name="r", limit=2)
    with pytest.raises(UsageError, match="already holds a run"):
        run(tmp_path, name="r", limit=2)
    with pytest.raises(UsageError, match="limit was 2, now 3"):
        run(tmp_path, name="r", limit=3, resume=True)
    again = run(tmp_path, name="r", limit=2, resume=True)
    assert (again.progress.total, again.progress.skipped) == (0, 2)


def test_ctrl_c_stops_cleanly_and_leaves_a_partial_report(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    use_counting_provider(monkeypatch, interrupt_at=5)
    evalset = write_evalset(tmp_path / "many.jsonl", many_items(30))
    summary = run(tmp_path, evalset=evalset, config=fake_cascade("counting"), concurrency=2)
    assert summary.interrupted is True
    assert 0 < summary.progress.done < 30
    counts = summary.report["counts"]["cascade"]
    assert counts["run"] == summary.progress.done and counts["not_run"] >= 1
    assert json.loads((summary.out_dir / "report.json").read_text())["counts"] == summary.report["counts"]
    finished = run(tmp_path, evalset=evalset, config=fake_cascade("counting"), resume=True)
    assert finished.interrupted is False
    assert finished.report["counts"]["cascade"]["run"] == 30
    assert finished.report["counts"]["cascade"]["not_run"] == 0


def test_report_rebuilt_from_the_traces_matches_the_run(tmp_path: Path) -> None:
    summary = run(tmp_path, baselines=["drafter"])
    rebuilt = build_report([summary.traces])
    assert scrub(rebuilt) == scrub(summary.report)


@pytest.mark.parametrize(
    ("judge", "message"),
    [
        # The checks of a tier in a cascade file: the one tier builder.
        ({"provider": "magic", "model": "m"}, r"judge: provider: expected one of: openai, anthropic, llamacpp, fake; got 'magic'"),
        ({"provider": "fake", "model": "m", "price": {"input": "cheap"}}, r"judge: price.input: expected a number, got 'cheap'"),
        ({"provider": "llamacpp", "model": "m.gguf", "options": {"n_thread": 2}}, r"judge: options: unknown key 'n_thread'"),
    ],
)
def test_an_inline_judge_is_checked_before_the_run(tmp_path: Path, judge: dict, message: str) -> None:
    item = {"id": "j1", "query": "q?", "expected": "x", "scorer": "judge", "judge": judge}
    with pytest.raises(ConfigError, match=message):
        run(tmp_path, evalset=write_evalset(tmp_path / "j.jsonl", [item]))


def test_an_inline_judge_model_is_called_and_priced(tmp_path: Path) -> None:
    judge = {"provider": "fake", "model": "grader", "price": {"input": 1.0, "output": 1.0}, "options": {"default": "no"}}
    item = {"id": "j1", "query": "What is the capital of France?", "expected": "Lyon", "scorer": "judge", "judge": judge}
    summary = run(tmp_path, evalset=write_evalset(tmp_path / "j.jsonl", [item]))
    score = next(l["data"] for l in lines_of(summary.traces) if l["type"] == "score")
    assert (score["score"], score["correct"], score["judge"]["model"]) == (0.0, False, "grader")
    assert score["judge"]["cost"] > 0
