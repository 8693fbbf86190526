from __future__ import annotations

import json
from pathlib import Path

import pytest

from cascadectl.cli.main import main
from cascadectl.reports.report import build_report, to_json
from tests.reports.report_traces import SCENARIO, q, write_trace

CREATED = "2025-01-01T00:00:00Z"


@pytest.fixture
def traces(tmp_path: Path) -> Path:
    return write_trace(tmp_path / "traces.jsonl", SCENARIO)


def test_markdown_goes_to_stdout_without_out(traces: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", str(traces), "--fixed-time", CREATED]) == 0
    out, err = capsys.readouterr()
    assert out.startswith("## cascadectl eval: qa.jsonl on default.yaml\n") and "| quality (mean score) | 0.667" in out
    assert err == ""


def test_json_on_stdout_is_the_report_the_library_builds(traces: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", str(traces), "--format", "json", "--fixed-time", CREATED]) == 0
    assert capsys.readouterr().out == to_json(build_report([traces], created=CREATED))


def test_out_writes_all_five_formats(traces: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", str(traces), "--out", str(tmp_path / "out")]) == 0
    names = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert names == ["junit.xml", "queries.csv", "report.html", "report.json", "report.md"]
    out, err = capsys.readouterr()
    assert out == "" and err.count("wrote ") == 5


def test_out_with_chosen_formats(traces: Path, tmp_path: Path) -> None:
    assert main(["report", str(traces), "--out", str(tmp_path / "out"), "--format", "junit,csv"]) == 0
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["junit.xml", "queries.csv"]


def test_several_trace_files_merge(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    first = write_trace(tmp_path / "a.jsonl", SCENARIO[:6])
    second = write_trace(tmp_path / "b.jsonl", SCENARIO[6:])
    assert main(["report", str(first), str(second), "--format", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["runs"] == ["cascade", "drafter", "verifier"] and len(report["queries"]) == 18


def test_rescore(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    stale = q("q1", score={"scorer": "exact", "score": 0.0, "correct": False, "detail": "old"})
    trace = write_trace(tmp_path / "t.jsonl", [stale])
    assert main(["report", str(trace), "--format", "json", "--rescore"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["rescored"] is True and report["metrics"]["cascade"]["quality"] == 1.0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--format", "md,json"], "several formats need --out DIR"),
        (["--format", "pdf"], "unknown report format 'pdf'"),
        (["--fixed-time", "yesterday"], "--fixed-time 'yesterday': expected an ISO 8601 time"),
    ],
)
def test_usage_errors_exit_2(traces: Path, args: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", str(traces), *args]) == 2
    assert message in capsys.readouterr().err


def test_bad_trace_files_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", str(tmp_path / "missing.jsonl")]) == 2
    assert "missing.jsonl: cannot read trace" in capsys.readouterr().err
    (tmp_path / "empty.jsonl").write_text("")
    assert main(["report", str(tmp_path / "empty.jsonl")]) == 2
    assert "no eval queries found" in capsys.readouterr().err
    (tmp_path / "junk.jsonl").write_text("hello\n")
    assert main(["report", str(tmp_path / "junk.jsonl")]) == 2
    assert "junk.jsonl:1: not a JSON trace line" in capsys.readouterr().err
