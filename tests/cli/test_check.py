from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from cascadectl.cli.main import main
from cascadectl.reports.report import build_report, write_report
from tests.reports.report_traces import SCENARIO, q, write_trace


@pytest.fixture
def baseline(tmp_path: Path) -> Path:
    report = build_report([write_trace(tmp_path / "base.jsonl", SCENARIO)])
    return write_report(report, tmp_path / "base", ["json"])[0]


def report_of(tmp_path: Path, queries: list[Any]) -> Path:
    report = build_report([write_trace(tmp_path / "now.jsonl", queries)])
    return write_report(report, tmp_path / "now", ["json"])[0]


def test_same_report_passes_the_chosen_gates(baseline: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["check", str(baseline), "--baseline", str(baseline), "--max-cost-increase", "10%", "--max-quality-drop", "0.02"]
    assert main(args) == 0
    out, err = capsys.readouterr()
    assert [line.split("|")[1].strip() for line in out.splitlines()[2:]] == ["max_cost_increase", "max_quality_drop"]
    assert "FAIL" not in out and err == "all 2 gates passed\n"


def test_default_gates_run_when_none_is_given(baseline: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # the scenario's cascade has a 1-in-6 error rate and 50% acceptance
    assert main(["check", str(baseline), "--baseline", str(baseline)]) == 1
    out, err = capsys.readouterr()
    rows = {line.split("|")[1].strip(): line.split("|")[5].strip() for line in out.splitlines()[2:]}
    assert rows == {"max_cost_increase": "pass", "max_quality_drop": "pass", "min_acceptance": "pass",
                    "max_p95_latency_increase": "pass", "max_error_rate": "FAIL"}
    assert err == "1 of 5 gates failed\n"


def test_a_worse_report_fails(baseline: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    worse = report_of(tmp_path, [x if x.qid != "q1" or x.run != "cascade" else q("q1", answer="Nice") for x in SCENARIO])
    assert main(["check", str(worse), "--baseline", str(baseline), "--max-quality-drop", "0.1"]) == 1
    assert "| max_quality_drop | 0.667      | 0.500 | -0.1    | FAIL" in capsys.readouterr().out


def test_without_a_baseline_relative_gates_fail_for_lack_of_data(baseline: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", str(baseline), "--max-cost-increase", "10%"]) == 1
    assert "no data: no baseline report given (--baseline)" in capsys.readouterr().out
    assert main(["check", str(baseline), "--min-acceptance", "0.5"]) == 0


@pytest.mark.parametrize(
    ("setup", "args", "message"),
    [
        (None, ["missing.json"], "missing.json: cannot read report"),
        ("{oops", ["bad.json"], "bad.json:1:2: not valid JSON"),
        (json.dumps({"a": 1}), ["other.json"], "not a cascadectl eval report"),
        (None, ["BASE", "--max-error-rate", "2"], "--max-error-rate: '2' is a proportion above 1"),
        (None, ["BASE", "--baseline", "missing.json"], "missing.json: cannot read report"),
    ],
)
def test_bad_input_exits_2(setup: str | None, args: list[str], message: str, baseline: Path, tmp_path: Path,
                           monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    if setup is not None:
        (tmp_path / args[0]).write_text(setup)
    assert main(["check", *[str(baseline) if a == "BASE" else a for a in args]]) == 2
    assert message in capsys.readouterr().err
