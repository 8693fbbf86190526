from __future__ import annotations

import csv
import io
import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from cascadectl.errors import UsageError
from cascadectl.reports.report import FORMATS, build_report, load_report, parse_formats, render, round_sig, to_json, write_report
from tests.reports.report_traces import SCENARIO, Q, q, write_trace

CREATED = "2025-01-01T00:00:00Z"


@pytest.fixture
def report(tmp_path: Path) -> dict[str, Any]:
    return build_report([write_trace(tmp_path / "traces.jsonl", SCENARIO)], created=CREATED)


def test_markdown_snapshot(report: dict[str, Any], snapshot: Any) -> None:
    assert render(report, "md") == snapshot


def test_junit_snapshot(report: dict[str, Any], snapshot: Any) -> None:
    assert render(report, "junit") == snapshot


def test_json_snapshot(report: dict[str, Any], snapshot: Any) -> None:
    assert render(report, "json") == snapshot


def test_html_snapshot(report: dict[str, Any], snapshot: Any) -> None:
    assert render(report, "html") == snapshot


def test_same_traces_give_byte_identical_reports(tmp_path: Path) -> None:
    first = build_report([write_trace(tmp_path / "a.jsonl", SCENARIO)], created=CREATED)
    second = build_report([write_trace(tmp_path / "b.jsonl", SCENARIO)], created=CREATED)
    assert all(render(first, f) == render(second, f) for f in FORMATS)


def test_json_report_header_and_round_trip(report: dict[str, Any], tmp_path: Path) -> None:
    assert (report["schema"], report["version"], report["created"]) == ("cascadectl.eval-report", 1, CREATED)
    assert (report["evalset"], report["cascade"], report["run_ids"]) == ("qa.jsonl", "default.yaml", ["run-1"])
    assert report["runs"] == ["cascade", "drafter", "verifier"] and len(report["queries"]) == 18
    (path,) = write_report(report, tmp_path / "out", ["json"])
    assert load_report(path) == report


def test_json_keeps_one_query_per_line(report: dict[str, Any]) -> None:
    text = to_json(report)
    query_lines = [line for line in text.splitlines() if line.startswith('    {"accepted"')]
    assert len(query_lines) == 18 and json.loads(text)["queries"][0] == json.loads(query_lines[0].strip().rstrip(","))


def test_csv_has_one_row_per_query(report: dict[str, Any]) -> None:
    rows = list(csv.DictReader(io.StringIO(render(report, "csv"))))
    assert len(rows) == 18
    q2 = next(r for r in rows if r["run"] == "cascade" and r["query_id"] == "q2")
    assert (q2["correct"], q2["accepted"], q2["answer"], q2["tags"], q2["total_cost"]) == ("false", "true", "Lyon", "geo", "1e-05")
    q6 = next(r for r in rows if r["run"] == "cascade" and r["query_id"] == "q6")
    assert (q6["status"], q6["error_kind"], q6["latency_ms"]) == ("error", "server", "")


def test_junit_separates_failures_errors_and_skipped(tmp_path: Path) -> None:
    queries = [q("q1"), q("q2", answer="Lyon"), q("q3", error="server"), q("q4", finished=False)]
    root = ET.fromstring(render(build_report([write_trace(tmp_path / "t.jsonl", queries)]), "junit"))
    (suite,) = root.findall("testsuite")
    assert {k: suite.get(k) for k in ("name", "tests", "failures", "errors", "skipped")} == {
        "name": "cascade", "tests": "4", "failures": "1", "errors": "1", "skipped": "1"}
    cases = {case.get("name"): case for case in suite}
    assert list(cases["q1"]) == []
    assert cases["q2"].find("failure").get("message") == "got 'lyon'"
    assert cases["q3"].find("error").get("type") == "server" and cases["q3"].find("failure") is None
    assert cases["q4"].find("skipped") is not None


def test_html_is_self_contained_with_a_point_per_run(report: dict[str, Any]) -> None:
    page = render(report, "html")
    assert "<script" not in page and "http://" not in page.replace("http://www.w3.org/2000/svg", "")
    assert page.count('r="6"') == 3  # one point per run on the cost-quality picture
    assert "cascade (0.667, $0.0000567)" in page and "verifier only (1.000, $0.000100)" in page


def test_html_draws_the_decision_scores_of_right_and_wrong_drafts_and_the_threshold_frontier(report: dict[str, Any]) -> None:
    from cascadectl.reports.formats.decision_svg import frontier, paired

    pairs = paired(report)
    assert pairs and {p.right for p in pairs} == {True, False}
    points = frontier(pairs)
    assert points[-1][1] == 0.0  # the last threshold accepts nothing: verifier-only quality
    assert points[-1][2] == pytest.approx(sum(p.verifier_correct for p in pairs) / len(pairs))
    assert [a for _, a, _, _ in points] == sorted((a for _, a, _, _ in points), reverse=True)
    page = render(report, "html")
    assert "<h2>The decision</h2>" in page and page.count("right drafts scoring") == 10


def test_markdown_failures_are_capped(tmp_path: Path) -> None:
    wrong = [Q(f"w{i}", answer="nope") for i in range(31)]
    text = render(build_report([write_trace(tmp_path / "t.jsonl", wrong)]), "md")
    assert "### Failures (cascade: the first 20 of 31)" in text
    assert text.count("| wrong ") == 20


def test_markdown_escapes_table_breaking_text(tmp_path: Path) -> None:
    text = render(build_report([write_trace(tmp_path / "t.jsonl", [q("q1", answer="a | b <script>")])]), "md")
    assert "a \\| b &lt;script&gt;" in text


def test_write_report_writes_every_format(report: dict[str, Any], tmp_path: Path) -> None:
    paths = write_report(report, tmp_path / "out")
    assert [p.name for p in paths] == ["report.json", "report.md", "queries.csv", "junit.xml", "report.html"]
    assert all(p.stat().st_size > 0 for p in paths) and not list((tmp_path / "out").glob("*.tmp"))


def test_formats_are_checked() -> None:
    assert parse_formats("md, json,md,markdown") == ["md", "json"]
    with pytest.raises(UsageError, match="unknown report format 'pdf'"):
        parse_formats("md,pdf")


def test_load_report_says_what_is_wrong(tmp_path: Path) -> None:
    cases = {
        "missing.json": (None, "cannot read report"),
        "bad.json": ("{not json", r"bad\.json:1:2: not valid JSON"),
        "other.json": ('{"hello": 1}', "not a cascadectl eval report"),
        "future.json": ('{"schema": "cascadectl.eval-report", "version": 99}', "version 99 is not supported"),
    }
    for name, (text, message) in cases.items():
        if text is not None:
            (tmp_path / name).write_text(text)
        with pytest.raises(UsageError, match=message):
            load_report(tmp_path / name)


def test_an_empty_trace_gives_an_empty_report(tmp_path: Path) -> None:
    (tmp_path / "t.jsonl").write_text("")
    report = build_report([tmp_path / "t.jsonl"])
    assert report["queries"] == [] and report["runs"] == []
    assert "Runs: none" in render(report, "md")


def test_round_sig() -> None:
    assert round_sig(0.000123456789) == 0.000123457 and round_sig(123456789.0) == 123457000.0
    assert round_sig(-0.0) == 0.0 and round_sig(float("nan")) is None


def test_report_modules_import_pandas_only_when_they_compute() -> None:
    import subprocess
    import sys

    code = ("import sys, cascadectl.cli.main, cascadectl.reports.report, cascadectl.reports.metrics, cascadectl.reports.gates;"
            "print('pandas' in sys.modules, 'tabulate' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=Path(__file__).parents[2])
    assert out.stdout.split() == ["False", "False"]
