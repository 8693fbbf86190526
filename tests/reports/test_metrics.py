"""Metrics of small runs, worked out by hand (see SCENARIO in report_traces.py)."""
from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from cascadectl.reports.comparison import auroc
from cascadectl.reports.report import build_report
from cascadectl.evals.scorers import score_answer
from cascadectl.reports.scan import scan_traces
from cascadectl.traces.reader import line_type
from cascadectl.traces.writer import TraceWriter
from tests.reports.report_traces import BIG, SCENARIO, SMALL, Q, q, write_trace
from tests.support.fakes import Fakes


def approx(value: float) -> Any:
    # Reports round to 6 significant digits.
    return pytest.approx(value, rel=1e-5)


@pytest.fixture
def report(tmp_path: Path) -> dict[str, Any]:
    return build_report([write_trace(tmp_path / "traces.jsonl", SCENARIO)], created="2025-01-01T00:00:00Z")


def test_quality_per_run_and_per_scorer(report: dict[str, Any]) -> None:
    cascade, drafter, verifier = (report["metrics"][r] for r in ("cascade", "drafter", "verifier"))
    # cascade right on q1 q3 q4 q5; q2 wrong, q6 an error (scores 0)
    assert cascade["quality"] == approx(4 / 6) and cascade["accuracy"] == approx(4 / 6)
    assert drafter["quality"] == approx(3 / 6) and verifier["quality"] == approx(1.0)
    assert cascade["by_scorer"] == {
        "exact": {"queries": 5, "quality": approx(3 / 5), "accuracy": approx(3 / 5)},
        "numeric": {"queries": 1, "quality": 1.0, "accuracy": 1.0},
    }


def test_acceptance_escalation_direct_and_errors(report: dict[str, Any]) -> None:
    m = report["metrics"]["cascade"]
    assert (m["drafted"], m["accepted"], m["acceptance_rate"]) == (4, 2, 0.5)
    assert (m["escalated"], m["escalation_rate"]) == (2, approx(2 / 6))
    assert (m["direct"], m["direct_rate"]) == (1, approx(1 / 6))
    assert (m["errors"], m["error_rate"], m["errors_by_kind"]) == (1, approx(1 / 6), {"server": 1})
    assert report["counts"]["cascade"] == {"queries": 6, "run": 6, "not_run": 0, "errors": 1, "scored": 6}


def test_costs_include_rejected_drafts(report: dict[str, Any]) -> None:
    cost = report["metrics"]["cascade"]["cost"]
    total = 2 * SMALL + 2 * (SMALL + BIG) + BIG  # q1 q2 | q3 q4 | q5; q6 failed before any output
    assert cost["total"] == approx(total) and cost["per_query"] == approx(total / 6)
    assert cost["wasted"] == {"calls": 4, "cost": approx(2 * SMALL)}  # two rejected drafts, two failed calls
    small, big = cost["per_tier"]["small"], cost["per_tier"]["big"]
    assert (small["calls"], small["cost"], small["wasted_cost"]) == (5, approx(4 * SMALL), approx(2 * SMALL))
    assert small["by_status"] == {"accepted": 2, "failed": 1, "rejected": 2}
    assert (big["calls"], big["cost"], big["input_tokens"], big["output_tokens"]) == (4, approx(3 * BIG), 40, 20)


def test_savings_measured_against_the_verifier_run(report: dict[str, Any]) -> None:
    savings = report["comparison"]["savings"]
    total = 2 * SMALL + 2 * (SMALL + BIG) + BIG
    assert savings["method"] == "measured" and savings["estimated"] is False and savings["queries"] == 6
    assert savings["verifier_only_cost"] == approx(6 * BIG)
    assert savings["savings"] == approx(1 - total / (6 * BIG))


def test_savings_estimated_without_a_verifier_run(tmp_path: Path) -> None:
    cascade_only = [x for x in SCENARIO if x.run == "cascade"]
    report = build_report([write_trace(tmp_path / "t.jsonl", cascade_only)])
    savings = report["comparison"]["savings"]
    # q6 has no result, so no verifier-only figure: the five others at BIG each
    assert savings["method"] == "estimated" and savings["estimated"] is True and savings["queries"] == 5
    assert savings["savings"] == approx(1 - (2 * SMALL + 2 * (SMALL + BIG) + BIG) / (5 * BIG))


def test_quality_gap_recovered(report: dict[str, Any]) -> None:
    gap = report["comparison"]["quality_gap_recovered"]
    assert gap["value"] == approx((4 / 6 - 3 / 6) / (1.0 - 3 / 6))
    assert (gap["cascade"], gap["drafter"], gap["verifier"], gap["queries"]) == (approx(4 / 6), 0.5, 1.0, 6)


def test_quality_gap_needs_both_baselines_and_a_gap(tmp_path: Path) -> None:
    no_verifier = [x for x in SCENARIO if x.run != "verifier"]
    gap = build_report([write_trace(tmp_path / "a.jsonl", no_verifier)])["comparison"]["quality_gap_recovered"]
    assert gap["value"] is None and "--baselines drafter,verifier" in gap["reason"]
    same = [q("q1"), q("q1", "drafter"), q("q1", "verifier")]
    gap = build_report([write_trace(tmp_path / "b.jsonl", same)])["comparison"]["quality_gap_recovered"]
    assert gap["value"] is None and gap["reason"].startswith("drafter and verifier have the same quality")


def test_decision_quality_against_the_drafters_correctness(report: dict[str, Any]) -> None:
    # first-tier decisions: q1 0.9 accepted (draft right), q2 0.8 accepted (wrong),
    # q3 0.3 rejected (wrong), q4 0.4 rejected (right)
    decision = report["comparison"]["decision"]
    assert (decision["queries"], decision["accepted"], decision["draft_correct"], decision["true_accepts"]) == (4, 2, 2, 1)
    assert decision["precision"] == 0.5 and decision["recall"] == 0.5
    # right drafts above wrong ones in 3 of the 4 (right, wrong) pairs
    assert decision["auroc"] == 0.75 and decision["reason"] is None


def test_decision_quality_needs_the_drafter_baseline(tmp_path: Path) -> None:
    cascade_only = [x for x in SCENARIO if x.run == "cascade"]
    decision = build_report([write_trace(tmp_path / "t.jsonl", cascade_only)])["comparison"]["decision"]
    assert decision["precision"] is None and decision["auroc"] is None and "--baselines drafter" in decision["reason"]


@pytest.mark.parametrize(
    ("scores", "labels", "expected"),
    [
        ([0.1, 0.2, 0.8, 0.9], [0, 0, 1, 1], 1.0),
        ([0.9, 0.8, 0.2, 0.1], [0, 0, 1, 1], 0.0),
        ([0.5, 0.5, 0.5, 0.5], [0, 1, 0, 1], 0.5),  # all tied: chance
        ([0.3, 0.5, 0.5, 0.7], [0, 0, 1, 1], 0.875),  # one tied pair counts half: 3.5 of 4
        ([0.4, 0.6], [1, 1], None),  # no wrong drafts: undefined
    ],
)
def test_auroc_is_rank_based_with_ties_halved(scores: list[float], labels: list[int], expected: float | None) -> None:
    assert auroc(pd.Series(scores), pd.Series(labels).astype(bool)) == expected


def test_latency_and_ttft_percentiles_over_answered_queries(report: dict[str, Any]) -> None:
    latency, ttft = report["metrics"]["cascade"]["latency_ms"], report["metrics"]["cascade"]["ttft_ms"]
    # answered: 100 120 300 400 200 (q6 errored); linear interpolation between ranks
    assert (latency["p50"], latency["p95"], latency["p99"]) == (200.0, approx(380.0), approx(396.0))
    assert latency["mean"] == approx(224.0)
    assert (ttft["p50"], ttft["p95"], ttft["p99"]) == (20.0, approx(38.0), approx(39.6))


def test_breakdowns_by_tag_and_complexity(report: dict[str, Any]) -> None:
    geo, math_ = report["breakdowns"]["tag"]["geo"], report["breakdowns"]["tag"]["math"]
    assert geo["cascade"]["quality"] == approx(2 / 3) and geo["drafter"]["quality"] == approx(1 / 3)
    assert geo["cascade"]["acceptance_rate"] == approx(2 / 3) and math_["cascade"]["acceptance_rate"] == 0.0
    assert math_["cascade"]["error_rate"] == approx(1 / 3) and math_["verifier"]["quality"] == 1.0
    assert geo["cascade"]["cost_per_query"] == approx((2 * SMALL + SMALL + BIG) / 3)
    assert list(report["breakdowns"]["complexity"]) == ["trivial", "simple", "hard"]
    assert report["breakdowns"]["complexity"]["hard"]["cascade"]["queries"] == 3


def test_interrupted_query_counts_as_not_run_and_resume_replaces_it(tmp_path: Path) -> None:
    trace = write_trace(tmp_path / "t.jsonl", [q("q1"), q("q2", finished=False)])
    before = build_report([trace])
    assert before["counts"]["cascade"] == {"queries": 2, "run": 1, "not_run": 1, "errors": 0, "scored": 1}
    assert [r["status"] for r in before["queries"]] == ["ok", "not_run"]
    write_trace(trace, [q("q2", answer="Lyon")])  # --resume appends the re-run
    after = build_report([trace])
    assert after["counts"]["cascade"]["not_run"] == 0 and after["metrics"]["cascade"]["quality"] == 0.5


def test_a_finished_attempt_is_kept_over_a_later_interrupted_one(tmp_path: Path) -> None:
    trace = write_trace(tmp_path / "t.jsonl", [q("q1"), q("q1", answer="Lyon", finished=False)])
    rows = build_report([trace])["queries"]
    assert [(r["status"], r["correct"]) for r in rows] == [("ok", True)]


def test_torn_last_line_is_ignored_and_its_query_counts_as_not_run(tmp_path: Path) -> None:
    trace = write_trace(tmp_path / "t.jsonl", [q("q1"), q("q2")])
    text = trace.read_text(encoding="utf-8").rstrip("\n")
    trace.write_text(text[: len(text) - 20], encoding="utf-8")  # cut inside q2's score line
    rows = build_report([trace])["queries"]
    # One definition of finished (traces/attempts.py): an eval query without its score
    # line is not finished, here as for `eval --resume`, which runs it again.
    assert [(r["query_id"], r["status"], r["correct"]) for r in rows] == [("q1", "ok", True), ("q2", "not_run", None)]


def test_shards_merge(tmp_path: Path) -> None:
    first = write_trace(tmp_path / "a.jsonl", SCENARIO[:3])
    second = write_trace(tmp_path / "b.jsonl", SCENARIO[3:])
    merged = build_report([first, second], created="x")
    whole = build_report([write_trace(tmp_path / "all.jsonl", SCENARIO)], created="x")
    assert merged == {**whole, "trace_lines": merged["trace_lines"]}


def test_chunk_lines_are_told_apart_by_their_own_type_only(tmp_path: Path) -> None:
    sneaky = Q("q1", answer='{"type": "chunk"}', expected={"type": "chunk"}, scorer="json-match")
    trace = write_trace(tmp_path / "t.jsonl", [sneaky])
    assert [line_type(x) for x in trace.read_text().splitlines()] == ["query", "routing", "chunk", "draft_decision", "complete", "score"]
    assert build_report([trace])["queries"][0]["correct"] is True


def test_rescore_recomputes_scores_from_recorded_answers(tmp_path: Path) -> None:
    stale = q("q1", answer="paris", score={"scorer": "exact", "score": 0.0, "correct": False, "detail": "old bug"})
    trace = write_trace(tmp_path / "t.jsonl", [stale])
    assert build_report([trace])["queries"][0]["correct"] is False
    assert build_report([trace], rescore=True)["queries"][0]["correct"] is True


def test_rescore_keeps_a_recorded_judge_verdict(tmp_path: Path) -> None:
    judged = Q("q1", scorer="judge", expected="a capital", score={"scorer": "judge", "score": 0.9, "correct": True, "detail": "judge 0.90"})
    rows = build_report([write_trace(tmp_path / "t.jsonl", [judged])], rescore=True)["queries"]
    assert (rows[0]["score"], rows[0]["correct"]) == (0.9, True)


def test_bad_line_in_the_middle_names_file_and_line(tmp_path: Path) -> None:
    from cascadectl.errors import UsageError

    trace = write_trace(tmp_path / "t.jsonl", [q("q1")])
    with trace.open("a") as handle:
        handle.write('{"type": "score", broken\n')
        handle.write(json.dumps({"v": 1}) + "\n")
    with pytest.raises(UsageError, match=r"t\.jsonl:7: not a JSON trace line"):
        scan_traces([trace])


def test_report_of_a_real_engine_run_with_the_fake_provider(tmp_path: Path, fakes: Fakes) -> None:
    """Traces the engine itself wrote: the report agrees with the results it returned."""
    items = [{"id": "a", "query": "What is the capital of France?", "expected": "Paris", "scorer": "exact", "tags": ["geo"]},
             {"id": "b", "query": "What is the capital of Italy?", "expected": "Rome", "scorer": "exact", "tags": ["geo"]}]
    fakes.script("small", {"text": "Paris.", "logprob": -0.01}, {"text": "I think maybe it could be Milan, not sure.", "logprob": -2.5})
    fakes.script("big", {"text": "Rome", "logprob": -0.01})
    results = asyncio.run(_run_items(fakes.agent(), items, tmp_path / "t.jsonl"))
    report = build_report([tmp_path / "t.jsonl"])
    m = report["metrics"]["cascade"]
    assert (m["drafted"], m["accepted"], m["escalated"], m["quality"]) == (2, 1, 1, 1.0)
    assert m["cost"]["total"] == approx(sum(r["total_cost"] for r in results))
    assert report["comparison"]["savings"]["savings"] == approx(
        1 - sum(r["total_cost"] for r in results) / sum(r["verifier_only_cost"] for r in results))
    assert m["cost"]["wasted"]["cost"] == approx(results[1]["tiers"][0]["cost"])


async def _run_items(agent: Any, items: list[dict[str, Any]], path: Path) -> list[dict[str, Any]]:
    results = []
    with TraceWriter(path, run_id="fake-run") as writer:
        for item in items:
            qtrace = writer.query(item["id"], {"run": "cascade"})
            async for event in agent.stream_events(item["query"], trace=qtrace, trace_query_data={"item": item}):
                if event.type.value == "complete":
                    results.append(event.data["result"])
            qtrace.record("score", score_answer(item, results[-1]).to_dict())
    return results


def test_quality_gap_is_not_reported_when_the_verifier_is_worse() -> None:
    import pandas as pd

    from cascadectl.reports.comparison import quality_gap

    index = pd.Index(["a", "b"], name="query_id")
    frame = lambda scores: pd.DataFrame({"score": scores}, index=index)  # noqa: E731
    worse = quality_gap(frame([0.5, 0.5]), frame([1.0, 0.0]), frame([0.0, 0.0]))
    assert worse["value"] is None and "below the drafter" in worse["reason"]
    better = quality_gap(frame([1.0, 0.5]), frame([0.0, 0.5]), frame([1.0, 1.0]))
    assert better["value"] == pytest.approx((0.75 - 0.25) / (1.0 - 0.25))
