"""`cascadectl report TRACES...`: rebuild an eval report from trace files.

Without --out, one format (Markdown unless --format says otherwise) goes to
stdout, ready for `>> $GITHUB_STEP_SUMMARY`. With --out DIR, every format asked
for (all five by default) is written into DIR and the paths go to stderr.
"""
from __future__ import annotations

import sys
from datetime import datetime
from pathlib import Path
from typing import List, Optional

import typer

from cascadectl.errors import UsageError


def report(
    traces: List[Path] = typer.Argument(..., metavar="TRACES...", help="Trace files (traces.jsonl) of eval runs; several merge.", show_default=False),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="Write the report files into this directory."),
    formats: Optional[str] = typer.Option(None, "--format", "-f", help="Comma-separated: md,json,csv,junit,html. Default: all with --out, md without."),
    rescore: bool = typer.Option(False, "--rescore", help="Score the recorded answers again (e.g. after a scorer fix) instead of using the recorded scores."),
    fixed_time: Optional[str] = typer.Option(None, "--fixed-time", help="Creation time to record, ISO 8601 (for reproducible reports)."),
) -> int:
    """Rebuild an eval report (JSON, Markdown, CSV, JUnit XML, HTML) from traces alone."""
    from cascadectl.reports.report import FORMATS, no_cyclic_gc, parse_formats

    chosen = parse_formats(formats) if formats else (list(FORMATS) if out else ["md"])
    if out is None and len(chosen) > 1:
        raise UsageError(f"--format {formats}: several formats need --out DIR (stdout takes one)")
    created = _created(fixed_time)
    with no_cyclic_gc():
        return _report(traces, out, chosen, rescore, created)


def _report(traces: List[Path], out: Optional[Path], chosen: List[str], rescore: bool, created: Optional[str]) -> int:
    from cascadectl.reports.report import build_report, render, write_report

    built = build_report(traces, rescore=rescore, created=created)
    if not built["queries"]:
        raise UsageError(f"no eval queries found in {', '.join(map(str, traces))} (expected trace lines of type 'query'; is this a trace file?)")
    if out is None:
        sys.stdout.write(render(built, chosen[0]))
        return 0
    for path in write_report(built, out, chosen):
        print(f"wrote {path}", file=sys.stderr)
    return 0


def _created(text: str | None) -> str | None:
    if text is None:
        return None
    try:
        datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise UsageError(f"--fixed-time {text!r}: expected an ISO 8601 time such as 2025-01-01T00:00:00Z") from None
    return text.strip()
