"""JUnit XML: one testsuite per run kind, one testcase per query.

A wrong answer is a <failure>, a query that ended in an error an <error> (so CI
tools show them apart), and an interrupted query is <skipped>."""
from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any, Mapping, Sequence

_FAILURE_TEXT = ("scorer", "score", "detail", "expected", "answer")


def render_junit(report: Mapping[str, Any]) -> str:
    queries = list(report.get("queries") or ())
    root = ET.Element("testsuites", name=_suite_name(report))
    for run in report.get("runs") or ():
        root.append(_suite(report, run, [q for q in queries if q.get("run") == run]))
    _set_counts(root, queries)
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def _suite_name(report: Mapping[str, Any]) -> str:
    return f"cascadectl eval {report.get('evalset') or ''}".strip()


def _suite(report: Mapping[str, Any], run: str, queries: Sequence[Mapping[str, Any]]) -> ET.Element:
    suite = ET.Element("testsuite", name=run)
    _set_counts(suite, queries)
    # No dots but the one before the run: CI tools read dots as package levels.
    evalset = str(report.get("evalset") or "eval").removesuffix(".jsonl").replace(".", "_")
    classname = f"{evalset}.{run}"
    for query in queries:
        suite.append(_case(query, classname))
    return suite


def _set_counts(element: ET.Element, queries: Sequence[Mapping[str, Any]]) -> None:
    statuses = [_outcome(q) for q in queries]
    element.set("tests", str(len(queries)))
    for name in ("failures", "errors", "skipped"):
        element.set(name, str(statuses.count(name)))
    element.set("time", _seconds(sum(q.get("latency_ms") or 0.0 for q in queries)))


def _outcome(query: Mapping[str, Any]) -> str:
    status = query.get("status")
    if status == "error":
        return "errors"
    if status == "not_run":
        return "skipped"
    return "failures" if query.get("correct") is False else "passed"


def _case(query: Mapping[str, Any], classname: str) -> ET.Element:
    case = ET.Element("testcase", classname=classname, name=str(query.get("query_id")))
    case.set("time", _seconds(query.get("latency_ms") or 0.0))
    outcome = _outcome(query)
    if outcome == "errors":
        message = f"{query.get('error_kind')}: {query.get('error_message')}"
        ET.SubElement(case, "error", message=message, type=str(query.get("error_kind") or "error")).text = message
    elif outcome == "skipped":
        ET.SubElement(case, "skipped", message="not run (the eval was interrupted before this query finished)")
    elif outcome == "failures":
        failure = ET.SubElement(case, "failure", message=str(query.get("detail") or "wrong answer"), type="wrong_answer")
        failure.text = "\n".join(f"{k}: {query.get(k)}" for k in _FAILURE_TEXT)
    return case


def _seconds(milliseconds: float) -> str:
    return f"{milliseconds / 1000.0:.3f}"
