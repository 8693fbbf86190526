from __future__ import annotations

from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Iterator, NoReturn

import pytest

from cascadectl.errors import UsageError
from cascadectl.evals.replay import replay_eval
from cascadectl.evals.runner import run_eval
from cascadectl.providers.base import ProviderRequest
from cascadectl.providers.fake import FakeProvider
from cascadectl.traces.reader import read_trace, trace_line_problems
from tests.support.eval_fakes import ITEMS, fake_cascade, scrub, write_evalset

STRICT = {k: 0.999 for k in ("trivial", "simple", "moderate", "hard", "expert")}
JSON_ONLY = ("json",)


@pytest.fixture
def recorded(tmp_path: Path) -> Path:
    summary = run_eval(fake_cascade(), write_evalset(tmp_path / "set.jsonl"), tmp_path / "rec", baselines=["verifier"], formats=JSON_ONLY)
    return summary.out_dir


def cascade_rows(report: dict) -> dict[str, dict]:
    return {row["query_id"]: row for row in report["queries"] if row["run"] == "cascade"}


@contextmanager
def no_model_called() -> Iterator[None]:
    """Inside, any fake provider that streams fails the test: a replay reads recordings only."""
    def stream(self: FakeProvider, request: ProviderRequest) -> NoReturn:
        raise AssertionError(f"the replay called model {request.model!r}")

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(FakeProvider, "stream", stream)
        yield


def test_replay_under_the_same_config_reproduces_the_recorded_report(recorded: Path, tmp_path: Path) -> None:
    original = run_report(recorded)
    with no_model_called():
        summary = replay_eval([recorded], fake_cascade(), tmp_path / "same", formats=JSON_ONLY)
    assert (summary.replayed, summary.changed, summary.not_replayable) == (len(ITEMS), 0, ())
    assert scrub(summary.report)["metrics"] == scrub(original)["metrics"]
    assert scrub(cascade_rows(summary.report)) == scrub(cascade_rows(original))


def test_a_stricter_threshold_escalates_more_and_recomputes_cost(recorded: Path, tmp_path: Path) -> None:
    before = cascade_rows(run_report(recorded))
    with no_model_called():
        summary = replay_eval([recorded], fake_cascade(thresholds=STRICT), tmp_path / "strict", formats=JSON_ONLY)
    after = cascade_rows(summary.report)
    assert summary.changed == 3  # q1, q3, q4 were accepted and now are not
    assert [q for q, r in before.items() if r["accepted"]] == ["q1", "q3", "q4"]
    assert not [q for q, r in after.items() if r["accepted"]]
    # q4: the drafter's wrong "Barcelona." is now rejected; the recorded verifier answer is right
    assert before["q4"]["correct"] is False and after["q4"]["correct"] is True
    assert after["q4"]["answer"] == "Madrid."
    # q1 now pays for the rejected draft (10 in, 2 out at $1/$2 per 1M) plus the verifier (10 in, 2 out at $10/$20)
    assert after["q1"]["total_cost"] == pytest.approx(14e-6 + 140e-6)
    assert before["q1"]["total_cost"] == pytest.approx(14e-6)
    metrics = summary.report["metrics"]["cascade"]
    assert metrics["escalation_rate"] > run_report(recorded)["metrics"]["cascade"]["escalation_rate"]


def test_replayed_traces_are_valid_and_copy_the_baseline(recorded: Path, tmp_path: Path) -> None:
    summary = replay_eval([recorded], fake_cascade(thresholds=STRICT), tmp_path / "strict", formats=JSON_ONLY)
    lines = list(read_trace(summary.traces))
    assert not [p for line in lines for p in trace_line_problems(line)]
    assert {l["run"] for l in lines} == {"cascade", "verifier"}
    q1 = [l["type"] for l in lines if l["query_id"] == "q1" and l["run"] == "cascade"]
    # The engine's own lines, chunks included, as a live run writes them.
    assert [t for t in q1 if t != "chunk"] == ["query", "routing", "draft_decision", "switch", "complete", "score"]
    assert "chunk" in q1
    first = next(l for l in lines if l["type"] == "query" and l["run"] == "cascade")
    assert first["data"]["replay"]["status"] == "replayed"


def test_replay_is_deterministic(recorded: Path, tmp_path: Path) -> None:
    config = fake_cascade(thresholds=STRICT)
    one = replay_eval([recorded], config, tmp_path / "one", formats=JSON_ONLY)
    two = replay_eval([recorded], config, tmp_path / "two", formats=JSON_ONLY)
    assert scrub(one.report) == scrub(two.report)


def test_without_a_verifier_answer_a_now_rejected_draft_is_not_replayable(tmp_path: Path) -> None:
    plain = run_eval(fake_cascade(), write_evalset(tmp_path / "set.jsonl"), tmp_path / "rec", formats=JSON_ONLY).out_dir
    summary = replay_eval([plain / "traces.jsonl"], fake_cascade(thresholds=STRICT), tmp_path / "strict", formats=JSON_ONLY)
    assert [q for q, _ in summary.not_replayable] == ["q1", "q3", "q4"]
    assert "--baselines verifier" in summary.not_replayable[0][1]
    assert summary.report["counts"]["cascade"]["not_run"] == 3


def test_replay_refuses_a_cascade_with_other_models(recorded: Path, tmp_path: Path) -> None:
    config = fake_cascade()
    other = replace(config, tiers=(replace(config.tiers[0], model="tiny"), config.tiers[1]))
    with pytest.raises(UsageError, match="tier 'drafter' was 'small' in the recorded run but is 'tiny'"):
        replay_eval([recorded], other, tmp_path / "x", formats=JSON_ONLY)


def test_replay_refuses_missing_traces_and_a_used_out_dir(recorded: Path, tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="no trace file there"):
        replay_eval([tmp_path / "nowhere"], fake_cascade(), tmp_path / "x", formats=JSON_ONLY)
    with pytest.raises(UsageError, match="already exists"):
        replay_eval([recorded], fake_cascade(), recorded, formats=JSON_ONLY)


def run_report(out_dir: Path) -> dict:
    from cascadectl.reports.report import load_report

    return load_report(out_dir / "report.json")
