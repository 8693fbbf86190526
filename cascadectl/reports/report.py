"""Eval reports: built from trace files alone; the JSON report is the source of truth
and every other format (Markdown, CSV, JUnit XML, HTML) is rendered from it."""
from __future__ import annotations

import gc
import json
import math
import os
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping, Sequence

from cascadectl.errors import UsageError

REPORT_SCHEMA = "cascadectl.eval-report"
REPORT_VERSION = 1
FORMATS: dict[str, str] = {  # format -> file name in the report directory
    "json": "report.json",
    "md": "report.md",
    "csv": "queries.csv",
    "junit": "junit.xml",
    "html": "report.html",
}
_QUERIES_MARK = "@@cascadectl-report-queries@@"  # placeholder while the rest is indented
_ROW_FLOATS = ("score", "decision_score", "total_cost", "verifier_only_cost", "latency_ms", "ttft_ms")
SIGNIFICANT_DIGITS = 6  # floats are rounded so that equal inputs give byte-equal reports


def build_report(traces: Sequence[Path], *, rescore: bool = False, created: str | None = None) -> dict[str, Any]:
    """The report of the eval runs in these trace files (several files merge)."""
    with no_cyclic_gc():
        return _build(traces, rescore, created)


@contextmanager
def no_cyclic_gc() -> Iterator[None]:
    # A big trace makes hundreds of thousands of small acyclic dicts; the cyclic
    # collector would rescan them all again and again (a third of the time).
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _build(traces: Sequence[Path], rescore: bool, created: str | None) -> dict[str, Any]:
    from cascadectl.reports.metrics import compute_metrics
    from cascadectl.reports.rows import query_rows, tier_rows
    from cascadectl.reports.scan import scan_traces

    scan = scan_traces(traces)
    rows = query_rows(scan.records, rescore)
    metrics = compute_metrics(rows, tier_rows(scan.records))
    report: dict[str, Any] = {
        "schema": REPORT_SCHEMA,
        "version": REPORT_VERSION,
        "created": created or created_now(),
        "evalset": ", ".join(scan.evalsets) or None,
        "cascade": ", ".join(scan.cascades) or None,
        "run_ids": scan.run_ids,
        "runs": list(metrics["runs"]),
        "rescored": rescore,
        "trace_lines": scan.lines,
        "counts": {run: _counts(m) for run, m in metrics["runs"].items()},
        "metrics": metrics["runs"],
        "comparison": metrics["comparison"],
        "breakdowns": metrics["breakdowns"],
    }
    report = clean(report)
    report["queries"] = [clean_row(row) for row in rows]
    return report


def created_now() -> str:
    """UTC now; SOURCE_DATE_EPOCH (reproducible builds) wins when set."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH", "").strip()
    seconds = float(epoch) if epoch.isdigit() else time.time()
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seconds))


def _counts(metrics: Mapping[str, Any]) -> dict[str, int]:
    return {k: metrics[k] for k in ("queries", "run", "not_run", "errors", "scored")}


def clean(value: Any) -> Any:
    """JSON-ready: floats rounded to 6 significant digits, NaN/inf as null, tuples as lists."""
    if isinstance(value, dict):
        return {str(k): clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [clean(v) for v in value]
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if hasattr(value, "item"):  # numpy scalars
        value = value.item()
    if isinstance(value, float):
        return round_sig(value)
    return value


def clean_row(row: Mapping[str, Any]) -> dict[str, Any]:
    """clean() for a query row, quicker (rows are most of a big report). Row values are
    copied from the trace, so they need no rounding to be stable; tags become a list."""
    out = dict(row)
    out["tags"] = list(out.get("tags") or ())
    for key in _ROW_FLOATS:
        value = out.get(key)
        if type(value) is float and not math.isfinite(value):
            out[key] = None
    return out


def round_sig(value: float) -> float | None:
    if not math.isfinite(value):
        return None
    if value == 0:
        return 0.0
    digits = SIGNIFICANT_DIGITS - 1 - int(math.floor(math.log10(abs(value))))
    return round(value, digits) + 0.0  # + 0.0 turns -0.0 into 0.0


def render(report: Mapping[str, Any], fmt: str) -> str:
    return _renderer(fmt)(report)


def _renderer(fmt: str) -> Callable[[Mapping[str, Any]], str]:
    from cascadectl.reports.formats import csvfile, html, junit, markdown

    renderers: dict[str, Callable[[Mapping[str, Any]], str]] = {
        "json": to_json,
        "md": markdown.render_markdown,
        "csv": csvfile.render_csv,
        "junit": junit.render_junit,
        "html": html.render_html,
    }
    return renderers[check_format(fmt)]


def to_json(report: Mapping[str, Any]) -> str:
    """Indented, keys sorted; each query row on one line, which keeps big reports quick
    to write (the C encoder) and their diffs readable."""
    head = {**report, "queries": _QUERIES_MARK}
    text = json.dumps(head, indent=2, sort_keys=True, ensure_ascii=False, allow_nan=False)
    rows = ",\n".join("    " + json.dumps(q, sort_keys=True, ensure_ascii=False, allow_nan=False) for q in report.get("queries") or ())
    body = f"[\n{rows}\n  ]" if rows else "[]"
    return text.replace(f'"queries": "{_QUERIES_MARK}"', f'"queries": {body}', 1) + "\n"


def check_format(fmt: str) -> str:
    name = fmt.strip().lower()
    name = {"markdown": "md", "xml": "junit"}.get(name, name)
    if name not in FORMATS:
        raise UsageError(f"unknown report format {fmt!r} (known: {', '.join(FORMATS)})")
    return name


def parse_formats(text: str) -> list[str]:
    """'md,json' -> ['md', 'json'], each checked; duplicates dropped."""
    names = [check_format(part) for part in text.split(",") if part.strip()]
    if not names:
        raise UsageError(f"--format needs at least one of: {', '.join(FORMATS)}")
    return list(dict.fromkeys(names))


def write_report(report: Mapping[str, Any], out_dir: Path, formats: Sequence[str] = tuple(FORMATS)) -> list[Path]:
    """Write each format into out_dir (created if needed); return the paths written."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for fmt in dict.fromkeys(check_format(f) for f in formats):
        path = out_dir / FORMATS[fmt]
        _write_atomically(path, render(report, fmt))
        written.append(path)
    return written


def _write_atomically(path: Path, text: str) -> None:
    # A reader (CI, a browser) never sees half a report.
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(text, encoding="utf-8")
    os.replace(temporary, path)


def load_report(path: str | Path) -> dict[str, Any]:
    """A report written by build_report/write_report, or UsageError (exit 2) saying why not."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"{path}: cannot read report ({exc.strerror})") from None
    try:
        report = json.loads(text)
    except ValueError as exc:
        raise UsageError(f"{path}:{exc.lineno}:{exc.colno}: not valid JSON ({exc.msg})") from None
    _check_report(path, report)
    return report


def _check_report(path: Path, report: Any) -> None:
    if not isinstance(report, dict) or report.get("schema") != REPORT_SCHEMA:
        raise UsageError(f"{path}: not a cascadectl eval report (expected \"schema\": \"{REPORT_SCHEMA}\"; write one with `cascadectl report TRACES --out DIR`)")
    version = report.get("version")
    if not isinstance(version, int) or version > REPORT_VERSION:
        raise UsageError(f"{path}: report version {version!r} is not supported (this cascadectl reads up to {REPORT_VERSION}); upgrade cascadectl")
    if not isinstance(report.get("metrics", {}), dict) or not isinstance(report.get("runs", []), list):
        raise UsageError(f"{path}: report is damaged: `metrics` must be an object and `runs` a list")
