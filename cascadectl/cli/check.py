"""`cascadectl check REPORT --baseline BASELINE`: CI gates on an eval report.

Prints one row per gate (baseline, now, limit, pass/fail). Exit 0 when all pass,
1 when any fails (a gate whose data is missing fails), 2 on bad input. With no
gate option given, the five default gates run (see cascadectl.reports.gates)."""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional

import typer


def check(
    report: Path = typer.Argument(..., help="The eval report to check (report.json).", show_default=False),
    baseline: Optional[Path] = typer.Option(None, "--baseline", "-b", help="The report to compare with, e.g. reports/baseline.json."),
    max_cost_increase: Optional[str] = typer.Option(None, "--max-cost-increase", help="Largest rise in cost per query, e.g. 10% or 0.1 (default 10%)."),
    max_quality_drop: Optional[str] = typer.Option(None, "--max-quality-drop", help="Largest fall in mean score, in points of 0..1 (default 0.02)."),
    min_acceptance: Optional[str] = typer.Option(None, "--min-acceptance", help="Lowest draft acceptance rate (default 0.5)."),
    max_acceptance_drop: Optional[str] = typer.Option(None, "--max-acceptance-drop", help="Largest fall in acceptance rate, in points (off by default)."),
    max_p95_latency_increase: Optional[str] = typer.Option(None, "--max-p95-latency-increase", help="Largest rise in p95 latency (default 20%)."),
    max_error_rate: Optional[str] = typer.Option(None, "--max-error-rate", help="Largest share of queries ending in an error (default 0.01)."),
) -> int:
    """Check an eval report against limits and a baseline; exit 1 if any gate fails."""
    from cascadectl.reports.gates import check_gates, gates_exit_code, render_gate_table, select_gates
    from cascadectl.reports.report import load_report

    given = {
        "max_cost_increase": max_cost_increase,
        "max_quality_drop": max_quality_drop,
        "min_acceptance": min_acceptance,
        "max_acceptance_drop": max_acceptance_drop,
        "max_p95_latency_increase": max_p95_latency_increase,
        "max_error_rate": max_error_rate,
    }
    gates = select_gates(given, source="command line", flags=True)
    current = load_report(report)
    base = load_report(baseline) if baseline is not None else None
    results = check_gates(current, base, gates)
    print(render_gate_table(results))
    failed = sum(not r.passed for r in results)
    print(f"{failed} of {len(results)} gates failed" if failed else f"all {len(results)} gates passed", file=sys.stderr)
    return gates_exit_code(results)
