"""`run_eval`: an evalset through a cascade (and its measured baselines), traced as it goes.

Concurrency is a fixed pool of `concurrency` worker tasks pulling jobs from one
iterator, so at most that many queries are in flight and memory does not grow
with the evalset. Each finished query's lines are written whole and flushed.
Ctrl-C cancels the queries in flight (their lines so far are flushed; with no
score line they count as not run and `resume` runs them again), then the
partial report is written and the summary says `interrupted`.
"""
from __future__ import annotations

import asyncio
import os
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

from cascadectl.config.model import CascadeConfig
from cascadectl.evals.jobs import Job, Outcome, run_job
from cascadectl.evals.plan import DEFAULT_FORMATS, RunPlan, plan_run
from cascadectl.traces.writer import TraceWriter

__all__ = ["DEFAULT_FORMATS", "Progress", "RunSummary", "run_eval"]


@dataclass(frozen=True)
class Progress:
    done: int  # queries finished in this session (all run kinds)
    total: int  # queries this session has to run
    skipped: int  # finished by an earlier session (resume)
    errors: int
    cost: float  # USD spent so far in this session, judge calls included
    cost_unknown: int  # queries whose cost is unknown (no price)
    decided: int  # cascade queries whose draft was judged
    accepted: int
    elapsed_s: float

    @property
    def acceptance(self) -> float | None:
        return self.accepted / self.decided if self.decided else None


@dataclass(frozen=True)
class RunSummary:
    out_dir: Path
    traces: Path
    run_id: str
    progress: Progress
    interrupted: bool
    report: dict[str, Any] | None = None
    report_paths: tuple[Path, ...] = ()
    stopped_by: str | None = None  # why an interrupted run stopped: ctrl_c | max_cost

    @property
    def markdown(self) -> Path | None:
        return next((p for p in self.report_paths if p.suffix == ".md"), None)


ProgressCallback = Callable[[Progress], None]


@dataclass
class _Tally:
    """Running counts, updated by the workers (one event loop: no locks needed)."""

    total: int
    skipped: int
    t0: float = field(default_factory=time.perf_counter)
    done: int = 0
    errors: int = 0
    cost: float = 0.0
    cost_unknown: int = 0
    decided: int = 0
    accepted: int = 0

    def add(self, outcome: Outcome) -> None:
        self.done += 1
        self.errors += outcome.failed
        if outcome.cost is None:
            self.cost_unknown += 1
        else:
            self.cost += outcome.cost
        result = outcome.result
        if outcome.kind == "cascade" and result is not None and result.get("decision") is not None:
            self.decided += 1
            self.accepted += bool(result.get("draft_accepted"))

    def snapshot(self) -> Progress:
        return Progress(
            self.done, self.total, self.skipped, self.errors, round(self.cost, 10), self.cost_unknown,
            self.decided, self.accepted, time.perf_counter() - self.t0,
        )


def run_eval(
    cascade: CascadeConfig | str | os.PathLike[str],
    evalset: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    *,
    concurrency: int = 8,
    resume: bool = False,
    limit: int | None = None,
    tags: Sequence[str] = (),
    baselines: Sequence[str] = (),
    progress: ProgressCallback | None = None,
    formats: Sequence[str] = DEFAULT_FORMATS,
    tools: Any = None,
    max_cost: float | None = None,
) -> RunSummary:
    """Run, trace and report. Raises ConfigError/UsageError (exit 2) before any
    query when the cascade, the evalset or the options are wrong. `tools`: a
    ToolExecutor the items' tool loops run (`--tools`). `max_cost`: once this session
    has spent that many USD, the run stops as at Ctrl-C (queries in flight end
    unscored, `--resume` runs them); `stopped_by` then says "max_cost"."""
    plan = plan_run(cascade, evalset, Path(out_dir), concurrency=concurrency, resume=resume, limit=limit, tags=tags,
                    baselines=baselines, tools=tools, max_cost=max_cost)
    tally = _Tally(total=len(plan.jobs), skipped=plan.skipped)
    writer = TraceWriter(plan.traces, run_id=plan.run_id)
    stopped_by: str | None = None
    try:
        stopped_by = asyncio.run(_execute(plan, writer, tally, progress or _quiet))
    except KeyboardInterrupt:
        stopped_by = "ctrl_c"  # a second Ctrl-C, or no way to catch the first one in the loop
    finally:
        writer.close()
    report, paths = _report(plan, formats) if formats else (None, ())
    return RunSummary(plan.out_dir, plan.traces, writer.run_id, tally.snapshot(), stopped_by is not None, report, paths,
                      stopped_by)


def _quiet(progress: Progress) -> None:
    return None


async def _execute(plan: RunPlan, writer: TraceWriter, tally: _Tally, progress: ProgressCallback) -> str | None:
    """Why the run stopped early (ctrl_c | max_cost), or None when every job ran."""
    jobs = iter(plan.jobs)
    progress(tally.snapshot())
    workers: list[asyncio.Task[None]] = []
    stop = _CtrlC(workers)
    workers.extend(
        asyncio.create_task(_worker(jobs, plan, writer, tally, progress, stop))
        for _ in range(min(plan.concurrency, len(plan.jobs)))
    )
    try:
        await _wait_all(workers)
    finally:
        stop.uninstall()
        await _close(plan)
    return stop.reason


async def _worker(
    jobs: Iterator[Job], plan: RunPlan, writer: TraceWriter, tally: _Tally, progress: ProgressCallback, stop: _CtrlC
) -> None:
    for job in jobs:  # one shared iterator: each job is taken by exactly one worker
        outcome = await run_job(job, plan.agents[job.kind], writer, plan.judges, plan.labels, plan.tools)
        tally.add(outcome)
        progress(tally.snapshot())
        if plan.max_cost is not None and tally.cost >= plan.max_cost:
            stop.fire("max_cost")  # cancels this worker too: nothing after this line runs
            return


async def _wait_all(workers: list[asyncio.Task[None]]) -> None:
    """Wait for every worker; if one crashes, cancel the rest and re-raise its error."""
    if not workers:
        return
    done, pending = await asyncio.wait(workers, return_when=asyncio.FIRST_EXCEPTION)
    for task in pending:
        task.cancel()
    await asyncio.gather(*pending, return_exceptions=True)
    for task in done:
        if not task.cancelled() and task.exception() is not None:
            raise task.exception()  # type: ignore[misc]


async def _close(plan: RunPlan) -> None:
    for agent in plan.agents.values():
        await agent.aclose()
    await plan.judges.aclose()


class _CtrlC:
    """The first Ctrl-C (or the --max-cost cap) cancels the workers (in-flight queries
    end cleanly); the handler then steps aside so that a second Ctrl-C stops at once."""

    def __init__(self, workers: list[asyncio.Task[None]]) -> None:
        self.workers = workers
        self.reason: str | None = None
        self.loop = asyncio.get_running_loop()
        try:
            self.loop.add_signal_handler(signal.SIGINT, self.fire)
            self.installed = True
        except (NotImplementedError, RuntimeError, ValueError):
            self.installed = False  # not the main thread, or no signals here: KeyboardInterrupt it is

    @property
    def fired(self) -> bool:
        return self.reason is not None

    def fire(self, reason: str = "ctrl_c") -> None:
        """Stop the run: cancel every worker (their queries in flight end unscored)."""
        if self.reason is None:
            self.reason = reason
        self.uninstall()
        for task in self.workers:
            task.cancel()

    def uninstall(self) -> None:
        if self.installed:
            self.installed = False
            self.loop.remove_signal_handler(signal.SIGINT)


def _report(plan: RunPlan, formats: Sequence[str]) -> tuple[dict[str, Any] | None, tuple[Path, ...]]:
    if not plan.traces.exists():
        return None, ()
    from cascadectl.reports.report import build_report, write_report

    report = build_report([plan.traces])
    return report, tuple(write_report(report, plan.out_dir, formats))
