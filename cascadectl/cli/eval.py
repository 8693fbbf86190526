"""`cascadectl eval EVALSET`: run an evalset through a cascade; write traces and a report.

Progress goes to stderr (a `\\r` bar on a terminal, a plain line every few
seconds otherwise); the summary table and the report paths go to stdout.
Exit codes: 0 ok, 1 a gate failed, 2 bad input, 4 stopped at --max-cost, 130
interrupted (both after the partial report is written; --resume continues).
"""
from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Callable, List, Mapping, NamedTuple, Optional

import typer

from cascadectl.errors import UsageError

if TYPE_CHECKING:
    from cascadectl.config.model import CascadeConfig

DEFAULT_CASCADE = Path("cascades/default.yaml")
REPORTS_DIR = Path("reports")
BAR_WIDTH = 24


def eval_command(
    paths: List[Path] = typer.Argument(..., metavar="EVALSET | TRACES...", help="The evalset (JSONL); with --replay, trace files or eval out dirs.", show_default=False),
    cascade: Path = typer.Option(DEFAULT_CASCADE, "--cascade", "-c", help="Cascade YAML file."),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="Run directory. Default: reports/<evalset>-<YYYYmmdd-HHMMSS>."),
    concurrency: int = typer.Option(4, "-j", "--concurrency", min=1, help="Queries in flight at once."),
    resume: bool = typer.Option(False, "--resume", help="Continue an interrupted run in --out (default: the latest run of this evalset)."),
    limit: Optional[int] = typer.Option(None, "--limit", min=1, help="Run only the first N items (after --tag)."),
    tag: List[str] = typer.Option([], "--tag", "-t", help="Run only items with this tag (repeatable: any of them)."),
    baselines: Optional[str] = typer.Option(None, "--baselines", help="Also measure drafter and/or verifier alone: drafter,verifier."),
    baseline: Optional[Path] = typer.Option(None, "--baseline", "-b", help="Baseline report.json to gate against (gates from the cascade's `gates:` and the flags below)."),
    gate: List[str] = typer.Option([], "--gate", help="A gate as NAME=LIMIT, e.g. max_cost_increase=10% (repeatable)."),
    max_cost_increase: Optional[str] = typer.Option(None, "--max-cost-increase", help="Largest rise in cost per query, e.g. 10%."),
    max_quality_drop: Optional[str] = typer.Option(None, "--max-quality-drop", help="Largest fall in mean score, e.g. 0.02."),
    min_acceptance: Optional[str] = typer.Option(None, "--min-acceptance", help="Lowest draft acceptance rate, e.g. 0.5."),
    max_acceptance_drop: Optional[str] = typer.Option(None, "--max-acceptance-drop", help="Largest fall in acceptance rate."),
    max_p95_latency_increase: Optional[str] = typer.Option(None, "--max-p95-latency-increase", help="Largest rise in p95 latency, e.g. 20%."),
    max_error_rate: Optional[str] = typer.Option(None, "--max-error-rate", help="Largest share of queries ending in an error."),
    replay: bool = typer.Option(False, "--replay", help="Re-decide the drafts recorded in TRACES under --cascade, calling no model."),
    formats: Optional[str] = typer.Option(None, "--format", "-f", help="Report formats, comma-separated: json,md,csv,junit,html (default all)."),
    tools: Optional[str] = typer.Option(None, "--tools", help="module:attr naming a ToolExecutor (or ToolConfigs, functions): every item runs the tool loop with it."),
    max_cost: Optional[float] = typer.Option(None, "--max-cost", help="Stop the run (resumable) once it has spent this many USD; every tier's price must be known."),
) -> int:
    """Run an evalset through a cascade, or (--replay) re-decide recorded traces."""
    from cascadectl.reports.report import FORMATS, parse_formats

    chosen = parse_formats(formats) if formats else list(FORMATS)
    if "json" not in chosen:
        chosen.insert(0, "json")  # the source of truth: gates and `cascadectl check` read it
    flags = {
        "max_cost_increase": max_cost_increase, "max_quality_drop": max_quality_drop,
        "min_acceptance": min_acceptance, "max_acceptance_drop": max_acceptance_drop,
        "max_p95_latency_increase": max_p95_latency_increase, "max_error_rate": max_error_rate,
    }
    if replay:
        _refuse_with_replay(resume=resume, limit=limit, tag=tag, baselines=baselines, tools=tools, max_cost=max_cost)
    elif len(paths) != 1:
        raise UsageError(f"give one evalset (got {len(paths)} paths); to re-decide traces use --replay")
    from cascadectl.config.loader import load_cascade

    config = load_cascade(cascade)  # once: the gates, the run and the report all use this one
    request = _GateRequest(baseline, {**_gate_flags(gate), **{k: v for k, v in flags.items() if v is not None}})
    gating = _prepare_gates(request, config, cascade)
    if replay:
        return _replay(paths, config, cascade, out, chosen, gating)
    executor = None
    if tools is not None:
        from cascadectl.tools.loading import load_tools

        executor = load_tools(tools)
    return _run(paths[0], config, cascade, out, chosen, gating, concurrency=concurrency, resume=resume, limit=limit,
                tags=tag, baselines=baselines, tools=executor, max_cost=max_cost)


class _Gating(NamedTuple):
    gates: list[Any]
    baseline: Mapping[str, Any] | None


class _GateRequest:
    def __init__(self, baseline: Path | None, flags: Mapping[str, str]) -> None:
        self.baseline = baseline
        self.flags = dict(flags)

    @property
    def wanted(self) -> bool:
        return self.baseline is not None or bool(self.flags)


def _gate_flags(raw: List[str]) -> dict[str, str]:
    from cascadectl.reports.gates import parse_gate_flags

    return parse_gate_flags(raw) if raw else {}


def _refuse_with_replay(**options: Any) -> None:
    given = [name for name, value in options.items() if value]
    if given:
        raise UsageError(f"--replay re-decides recorded queries; --{given[0]} does not apply to it")


def _run(
    evalset: Path, config: CascadeConfig, cascade: Path, out: Path | None, formats: list[str], gating: _Gating | None, **options: Any
) -> int:
    from cascadectl.evals.runner import run_eval

    out_dir = out or default_out_dir(evalset, options["resume"])
    bar = ProgressBar(sys.stderr)
    chosen = options.pop("baselines")
    baselines = [chosen] if chosen else []
    print(f"eval: {evalset} on {cascade} -> {out_dir}", file=sys.stderr)
    try:
        summary = run_eval(config, evalset, out_dir, progress=bar, formats=formats, baselines=baselines, **options)
    finally:
        bar.close()
    _print_result(summary.report, summary.report_paths)
    again = f"cascadectl eval {evalset} --resume --out {out_dir}"
    if summary.stopped_by == "max_cost":
        spent = summary.progress.cost
        print(f"cascadectl: stopped at --max-cost {options['max_cost']:g} USD (spent {spent:.6f}); partial report "
              f"written. Continue with: {again} --max-cost <USD>", file=sys.stderr)
        return 4
    if summary.interrupted:
        print(f"cascadectl: interrupted; partial report written. Continue with: {again}", file=sys.stderr)
        return 130
    return _gates(summary.report, gating)


def _replay(
    traces: List[Path], config: CascadeConfig, cascade: Path, out: Path | None, formats: list[str], gating: _Gating | None
) -> int:
    from cascadectl.evals.replay import replay_eval

    out_dir = out or REPORTS_DIR / f"replay-{cascade.stem}-{time.strftime('%Y%m%d-%H%M%S')}"
    summary = replay_eval(traces, config, out_dir, formats=formats)
    print(f"replay: {summary.replayed} queries re-decided under {cascade} ({summary.changed} decided differently), no model called", file=sys.stderr)
    for query_id, why in summary.not_replayable[:10]:
        print(f"  not replayable: {query_id}: {why}", file=sys.stderr)
    if len(summary.not_replayable) > 10:
        print(f"  ... and {len(summary.not_replayable) - 10} more not replayable (counted as not run)", file=sys.stderr)
    _print_result(summary.report, summary.report_paths)
    return _gates(summary.report, gating)


def _prepare_gates(gating: _GateRequest, config: CascadeConfig, cascade: Path) -> _Gating | None:
    """Gates and baseline, read before the run so that a wrong path or limit fails at
    once: the cascade's `gates:` section (with --baseline), overridden by flags."""
    if not gating.wanted:
        return None
    from cascadectl.reports.gates import select_gates
    from cascadectl.reports.report import load_report

    yaml_gates = dict(config.gates) if gating.baseline is not None else {}
    gates = select_gates({**yaml_gates, **gating.flags}, source=f"{cascade}: gates", flags=bool(gating.flags))
    base = load_report(gating.baseline) if gating.baseline is not None else None
    return _Gating(gates, base)


def _gates(report: Mapping[str, Any] | None, prepared: _Gating | None) -> int:
    if prepared is None or report is None:
        return 0
    from cascadectl.reports.gates import check_gates, gates_exit_code, render_gate_table

    results = check_gates(report, prepared.baseline, prepared.gates)
    print(render_gate_table(results))
    failed = sum(not r.passed for r in results)
    print(f"{failed} of {len(results)} gates failed" if failed else f"all {len(results)} gates passed", file=sys.stderr)
    return gates_exit_code(results)


def default_out_dir(evalset: Path, resume: bool) -> Path:
    if not resume:
        return REPORTS_DIR / f"{evalset.stem}-{time.strftime('%Y%m%d-%H%M%S')}"
    runs = sorted(p for p in REPORTS_DIR.glob(f"{evalset.stem}-*") if (p / "traces.jsonl").is_file())
    if not runs:
        raise UsageError(f"--resume: no earlier run of {evalset.name} under {REPORTS_DIR}/ (give --out DIR)")
    return runs[-1]  # names end in a sortable timestamp


def _print_result(report: Mapping[str, Any] | None, paths: tuple[Path, ...]) -> None:
    if report is not None:
        print(summary_table(report))
    for path in paths:
        print(f"wrote {path}")


def summary_table(report: Mapping[str, Any]) -> str:
    from tabulate import tabulate

    from cascadectl.reports.formats.common import headline, pct, savings_text

    table = headline(report)
    cascade = (report.get("metrics") or {}).get("cascade") or {}
    lines = [tabulate(table.rows, headers=table.headers, tablefmt="github", disable_numparse=True)]
    if cascade:
        lines.append(f"acceptance {pct(cascade.get('acceptance_rate'))} · savings against verifier-only {savings_text(report)}")
    return "\n".join(lines)


class ProgressBar:
    """A `\\r`-updated bar on a terminal; on a pipe or file, a plain line every
    `plain_every` seconds. The last state is always shown."""

    def __init__(self, stream: IO[str], clock: Callable[[], float] = time.monotonic, plain_every: float = 5.0) -> None:
        self.stream = stream
        self.clock = clock
        self.tty = stream.isatty()
        self.every = 0.1 if self.tty else plain_every
        self.last: float | None = None
        self.width = 0
        self.pending: Any = None

    def __call__(self, progress: Any) -> None:
        now = self.clock()
        finished = progress.done >= progress.total
        if self.last is not None and now - self.last < self.every and not finished:
            self.pending = progress
            return
        self.last, self.pending = now, None
        self._show(progress)

    def _show(self, progress: Any) -> None:
        text = format_progress(progress, bar=self.tty)
        if self.tty:
            self.stream.write("\r" + text.ljust(self.width))
            self.width = max(self.width, len(text))
        else:
            self.stream.write(text + "\n")
        self.stream.flush()

    def close(self) -> None:
        if self.pending is not None:
            self._show(self.pending)
        if self.tty and self.width:
            self.stream.write("\n")
            self.stream.flush()


def format_progress(progress: Any, bar: bool = True) -> str:
    total = max(progress.total, 1)
    share = progress.done / total
    head = f"[{'#' * round(share * BAR_WIDTH):<{BAR_WIDTH}}] " if bar else "eval: "
    parts = [f"{head}{progress.done}/{progress.total} ({share * 100:.0f}%)"]
    unknown = f" (+{progress.cost_unknown} unpriced)" if progress.cost_unknown else ""
    parts.append(f"cost ${progress.cost:.6f}{unknown}")
    acceptance = progress.acceptance
    parts.append("accepted n/a" if acceptance is None else f"accepted {acceptance * 100:.0f}% ({progress.accepted}/{progress.decided})")
    parts.append(f"{progress.errors} error{'' if progress.errors == 1 else 's'}")
    parts.append(f"{progress.elapsed_s:.1f}s")
    if progress.skipped:
        parts.append(f"{progress.skipped} done before")
    return " · ".join(parts)
