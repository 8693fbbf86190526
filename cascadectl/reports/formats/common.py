"""What the Markdown and HTML reports share: the tables, built from the report dict
alone as lists of strings, and the number formats."""
from __future__ import annotations

import math
from typing import Any, Mapping, NamedTuple

RUN_LABELS = {"cascade": "cascade", "drafter": "drafter only", "verifier": "verifier only"}
FAILURES_SHOWN = 20
CELL_LIMIT = 60
NA = "n/a"


class Table(NamedTuple):
    headers: list[str]
    rows: list[list[str]]


def label(run: str) -> str:
    return RUN_LABELS.get(run, run)


def money(value: Any) -> str:
    if not isinstance(value, (int, float)):
        return NA
    if value == 0:
        return "$0"
    # Enough decimals for three significant digits of sub-cent amounts.
    decimals = min(8, max(2, 2 - int(math.floor(math.log10(abs(value))))))
    return f"${value:.{decimals}f}"


def pct(value: Any) -> str:
    return f"{value * 100:.1f}%" if isinstance(value, (int, float)) else NA


def num(value: Any, digits: int = 3) -> str:
    return f"{value:.{digits}f}" if isinstance(value, (int, float)) else NA


def ms(value: Any) -> str:
    if not isinstance(value, (int, float)):
        return NA
    return f"{value:.1f} ms" if abs(value) < 10 else f"{value:,.0f} ms"


def count(value: Any) -> str:
    return f"{value:,}" if isinstance(value, int) else NA


def plural(n: Any, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")


def cell(text: Any, limit: int = CELL_LIMIT) -> str:
    text = " ".join(str("" if text is None else text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def title(report: Mapping[str, Any]) -> str:
    evalset = report.get("evalset") or "evalset"
    cascade = report.get("cascade")
    return f"cascadectl eval: {evalset}" + (f" on {cascade}" if cascade else "")


def main_run(report: Mapping[str, Any]) -> str | None:
    runs = list(report.get("runs") or ())
    return "cascade" if "cascade" in runs else (runs[0] if runs else None)


def _metric(report: Mapping[str, Any], run: str, *path: str) -> Any:
    value: Any = (report.get("metrics") or {}).get(run) or {}
    for key in path:
        value = value.get(key) if isinstance(value, Mapping) else None
    return value


def headline(report: Mapping[str, Any]) -> Table:
    runs = list(report.get("runs") or ())
    lines = [
        ("queries run", lambda r: f"{_metric(report, r, 'run')}/{_metric(report, r, 'queries')}"),
        ("quality (mean score)", lambda r: num(_metric(report, r, "quality"))),
        ("accuracy", lambda r: pct(_metric(report, r, "accuracy"))),
        ("cost per query", lambda r: money(_metric(report, r, "cost", "per_query"))),
        ("total cost", lambda r: money(_metric(report, r, "cost", "total"))),
        ("latency p50", lambda r: ms(_metric(report, r, "latency_ms", "p50"))),
        ("latency p95", lambda r: ms(_metric(report, r, "latency_ms", "p95"))),
        ("TTFT p95", lambda r: ms(_metric(report, r, "ttft_ms", "p95"))),
        ("errors", lambda r: f"{_metric(report, r, 'errors')} ({pct(_metric(report, r, 'error_rate'))})"),
    ]
    return Table(["", *map(label, runs)], [[name, *(fmt(r) for r in runs)] for name, fmt in lines])


def savings_text(report: Mapping[str, Any]) -> str:
    saving = (report.get("comparison") or {}).get("savings") or {}
    if saving.get("savings") is None:
        return f"{NA} ({saving.get('reason') or 'no data'})"
    how = "measured against the verifier-only run" if saving.get("method") == "measured" else "estimated from token counts"
    return f"{pct(saving['savings'])} ({how}, {saving.get('queries')} queries)"


def gap_text(report: Mapping[str, Any]) -> str:
    gap = (report.get("comparison") or {}).get("quality_gap_recovered") or {}
    if gap.get("value") is None:
        return f"{NA} ({gap.get('reason') or 'no data'})"
    parts = ", ".join(f"{k} {num(gap.get(k))}" for k in ("cascade", "drafter", "verifier"))
    return f"{num(gap['value'], 2)} ({parts})"


def routing(report: Mapping[str, Any]) -> Table | None:
    if "cascade" not in (report.get("runs") or ()):
        return None
    m = (report.get("metrics") or {}).get("cascade") or {}
    decision = (report.get("comparison") or {}).get("decision") or {}
    wasted = (m.get("cost") or {}).get("wasted") or {}
    why = f" ({decision['reason']})" if decision.get("reason") else ""
    rows = [
        ["acceptance rate", f"{pct(m.get('acceptance_rate'))} ({m.get('accepted')} of {plural(m.get('drafted'), 'draft')})"],
        ["escalation rate", f"{pct(m.get('escalation_rate'))} ({_queries(m.get('escalated'))})"],
        ["direct-route rate", f"{pct(m.get('direct_rate'))} ({_queries(m.get('direct'))})"],
        ["spent on rejected drafts and failed calls", f"{money(wasted.get('cost'))} ({plural(wasted.get('calls', 0), 'call')})"],
        ["savings against verifier-only", savings_text(report)],
        ["quality gap recovered", gap_text(report)],
        ["decision precision (accepted drafts that were right)", pct(decision.get("precision")) + why],
        ["decision recall (right drafts that were accepted)", pct(decision.get("recall")) + why],
        ["decision AUROC (score vs draft correctness)", num(decision.get("auroc")) + why],
    ]
    return Table(["cascade", "value"], rows)


def _queries(n: Any) -> str:
    return f"{n} {'query' if n == 1 else 'queries'}"


def tiers(report: Mapping[str, Any]) -> Table | None:
    run = main_run(report)
    per_tier = _metric(report, run, "cost", "per_tier") if run else None
    if not per_tier:
        return None
    rows = [
        [name, str(t.get("calls")), money(t.get("cost")), f"{count(t.get('input_tokens'))} / {count(t.get('output_tokens'))}", money(t.get("wasted_cost"))]
        for name, t in per_tier.items()
    ]
    return Table(["tier", "calls", "cost", "tokens in / out", "of which wasted"], rows)


def breakdown(report: Mapping[str, Any], kind: str) -> Table | None:
    groups = ((report.get("breakdowns") or {}).get(kind)) or {}
    runs, main = list(report.get("runs") or ()), main_run(report)
    if not groups or main is None:
        return None
    headers = [kind, "queries", *(f"quality ({label(r)})" for r in runs), "acceptance", "escalation", "cost/query", "p95 latency", "errors"]
    return Table(headers, [_breakdown_row(name, group, runs, main) for name, group in groups.items()])


def _breakdown_row(name: str, group: Mapping[str, Any], runs: list[str], main: str) -> list[str]:
    m = group.get(main) or {}
    qualities = [num((group.get(r) or {}).get("quality")) for r in runs]
    tail = [pct(m.get("acceptance_rate")), pct(m.get("escalation_rate")), money(m.get("cost_per_query")), ms(m.get("latency_p95_ms")), pct(m.get("error_rate"))]
    return [name, str(m.get("queries", 0)), *qualities, *tail]


def failures(report: Mapping[str, Any], cap: int = FAILURES_SHOWN) -> tuple[Table, int, str | None]:
    """Wrong answers and errors of the main run: the first `cap`, and how many in all."""
    run = main_run(report)
    failed = [q for q in report.get("queries") or () if q.get("run") == run and _failed(q)]
    rows = [_failure_row(q) for q in failed[:cap]]
    return Table(["id", "outcome", "scorer", "detail", "answer", "expected"], rows), len(failed), run


def _failed(query: Mapping[str, Any]) -> bool:
    return query.get("status") == "error" or query.get("correct") is False


def _failure_row(q: Mapping[str, Any]) -> list[str]:
    error = q.get("status") == "error"
    detail = f"{q.get('error_kind')}: {q.get('error_message')}" if error else q.get("detail")
    return [str(q.get("query_id")), "error" if error else "wrong", str(q.get("scorer") or ""), cell(detail), cell(q.get("answer")), cell(q.get("expected"))]
