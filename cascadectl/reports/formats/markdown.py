"""The Markdown report: short enough for a PR comment or $GITHUB_STEP_SUMMARY.

Order: headline (cascade vs drafter-only vs verifier-only), the cascade's
acceptance and escalation, cost per tier, breakdowns by tag and complexity, then
the failures (capped)."""
from __future__ import annotations

from typing import Any, Mapping

from cascadectl.reports.formats import common
from cascadectl.reports.formats.common import Table


def render_markdown(report: Mapping[str, Any]) -> str:
    parts = [f"## {_escape(common.title(report))}", _intro(report), _table(common.headline(report))]
    parts += _section("Acceptance and escalation", common.routing(report))
    parts += _section("Cost per tier", common.tiers(report))
    parts += _section("By tag", common.breakdown(report, "tag"))
    parts += _section("By complexity", common.breakdown(report, "complexity"))
    parts += _failures(report)
    return "\n\n".join(p for p in parts if p) + "\n"


def _intro(report: Mapping[str, Any]) -> str:
    runs = ", ".join(common.label(r) for r in report.get("runs") or ()) or "none"
    ids = ", ".join(f"`{i}`" for i in report.get("run_ids") or ()) or "none"
    rescored = " Scores recomputed from the recorded answers (--rescore)." if report.get("rescored") else ""
    return f"Runs: {runs}. Run ids: {ids}. Report created {report.get('created')}.{rescored}"


def _section(heading: str, table: Table | None) -> list[str]:
    return [] if table is None or not table.rows else [f"### {heading}", _table(table)]


def _failures(report: Mapping[str, Any]) -> list[str]:
    table, total, run = common.failures(report)
    if run is None:
        return []
    if not total:
        return ["### Failures", f"None: every {common.label(run)} query that ran was answered correctly."]
    shown = f"the first {len(table.rows)} of {total}" if total > len(table.rows) else f"all {total}"
    return [f"### Failures ({common.label(run)}: {shown})", _table(table)]


def _table(table: Table) -> str:
    from tabulate import tabulate

    rows = [[_escape(c) for c in row] for row in table.rows]
    return tabulate(rows, headers=[_escape(h) for h in table.headers], tablefmt="github", disable_numparse=True)


def _escape(text: str) -> str:
    # A pipe would end a table cell; angle brackets could open HTML in a PR comment.
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("<", "&lt;").replace(">", "&gt;")
