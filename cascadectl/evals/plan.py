"""Everything checked before the first query: cascade, evalset, selection, agents, resume state.

`run.json` in the out dir records the options of a run, so that `--resume`
with different options (which would mix two different runs in one trace) is
refused with a message saying what differs.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

from cascadectl.config.model import CascadeConfig
from cascadectl.errors import UsageError
from cascadectl.evals.evalset import EvalItem, load_evalset
from cascadectl.evals.jobs import BASELINES, Job, kind_config
from cascadectl.evals.judge import Judges
from cascadectl.evals.resume import scan_prior_run
from cascadectl.traces.writer import new_run_id

TRACES_NAME = "traces.jsonl"
DEFAULT_FORMATS = ("json", "md", "csv", "junit", "html")
MANIFEST_NAME = "run.json"
_COMPARED = ("evalset", "cascade", "baselines", "tags", "limit")


@dataclass(frozen=True)
class RunPlan:
    config: CascadeConfig
    out_dir: Path
    traces: Path
    run_id: str
    jobs: tuple[Job, ...]
    skipped: int
    concurrency: int
    agents: Mapping[str, Any]  # run kind -> CascadeAgent
    judges: Judges
    labels: Mapping[str, str]  # evalset and cascade names, put in every query line
    tools: Any = None  # a ToolExecutor for every item (`--tools`), or None
    max_cost: float | None = None  # USD this session may spend (`--max-cost`)


def plan_run(
    cascade: CascadeConfig | str | os.PathLike[str],
    evalset: str | os.PathLike[str],
    out_dir: Path,
    *,
    concurrency: int,
    resume: bool,
    limit: int | None,
    tags: Sequence[str],
    baselines: Sequence[str],
    tools: Any = None,
    max_cost: float | None = None,
) -> RunPlan:
    _check_numbers(concurrency, limit)
    if max_cost is not None and (isinstance(max_cost, bool) or max_cost <= 0):
        raise UsageError(f"--max-cost must be a positive amount of USD, got {max_cost}")
    kinds = ("cascade", *check_baselines(baselines))
    config = cascade_config(cascade)
    items = select_items(load_evalset(Path(evalset)), tags, limit, Path(evalset))
    judges = Judges(config)
    judges.check(items)
    agents = _agents(config, kinds)
    if max_cost is not None:
        _check_prices(agents, max_cost)
    manifest = _manifest(config, Path(evalset), kinds, tags, limit)
    run_id, scored = _prior(out_dir, resume, manifest)
    jobs = tuple(Job(kind, item) for item in items for kind in kinds if (kind, item.id) not in scored)
    _write_manifest(out_dir, {**manifest, "run_id": run_id})
    skipped = len(items) * len(kinds) - len(jobs)
    labels = {"evalset": manifest["evalset"], "cascade": manifest["cascade"]}
    return RunPlan(config, out_dir, out_dir / TRACES_NAME, run_id, jobs, skipped, concurrency, agents, judges, labels,
                   tools, max_cost)


def check_baselines(baselines: Sequence[str]) -> tuple[str, ...]:
    names = [b.strip() for entry in baselines for b in entry.split(",") if b.strip()]
    unknown = [b for b in names if b not in BASELINES]
    if unknown:
        raise UsageError(f"--baselines: unknown baseline {unknown[0]!r} (choose from: {', '.join(BASELINES)})")
    return tuple(b for b in BASELINES if b in names)


def select_items(items: list[EvalItem], tags: Sequence[str], limit: int | None, source: Path) -> list[EvalItem]:
    """Items having any of `tags` (all items when none are given), the first `limit` of them."""
    wanted = {t.strip() for entry in tags for t in entry.split(",") if t.strip()}
    chosen = [item for item in items if not wanted or wanted & set(item.tags)]
    if not chosen:
        known = sorted({t for item in items for t in item.tags})
        raise UsageError(f"--tag {', '.join(sorted(wanted))}: no item of {source} has it (tags there: {', '.join(known) or 'none'})")
    return chosen[:limit] if limit is not None else chosen


def _check_numbers(concurrency: int, limit: int | None) -> None:
    if concurrency < 1:
        raise UsageError(f"-j/--concurrency must be at least 1, got {concurrency}")
    if limit is not None and limit < 1:
        raise UsageError(f"--limit must be at least 1, got {limit}")


def cascade_config(cascade: CascadeConfig | str | os.PathLike[str]) -> CascadeConfig:
    if isinstance(cascade, CascadeConfig):
        return cascade
    from cascadectl.config.loader import load_cascade

    return load_cascade(Path(cascade))


def _agents(config: CascadeConfig, kinds: Sequence[str]) -> dict[str, Any]:
    """Built before the run, so a missing API key fails here, naming the variable."""
    from cascadectl.cascade.agent import CascadeAgent

    return {kind: CascadeAgent(config=kind_config(config, kind)) for kind in kinds}


def _check_prices(agents: Mapping[str, Any], max_cost: float) -> None:
    """A spending cap counts every call's cost: a tier with an unknown price would count
    as nothing, so it is refused before the run."""
    from cascadectl.cascade.preflight import check_budget

    for agent in agents.values():
        check_budget(agent.config, agent.prices, max_cost, "--max-cost")


def _manifest(config: CascadeConfig, evalset: Path, kinds: Sequence[str], tags: Sequence[str], limit: int | None) -> dict[str, Any]:
    return {
        # Names, not paths: a checkout that moved can still resume.
        "evalset": evalset.name,
        "cascade": Path(config.source).name if config.source else config.name,
        "baselines": list(kinds[1:]),
        "tags": sorted({t.strip() for entry in tags for t in entry.split(",") if t.strip()}),
        "limit": limit,
    }


def _prior(out_dir: Path, resume: bool, manifest: Mapping[str, Any]) -> tuple[str, frozenset[tuple[str, str]]]:
    traces = out_dir / TRACES_NAME
    if not resume:
        if traces.exists() and traces.stat().st_size > 0:
            raise UsageError(f"{traces} already holds a run: add --resume to continue it, or choose another --out")
        return new_run_id(), frozenset()
    _check_same_options(out_dir, manifest)
    prior = scan_prior_run(traces)
    return prior.run_id or new_run_id(), prior.scored


def _check_same_options(out_dir: Path, manifest: Mapping[str, Any]) -> None:
    path = out_dir / MANIFEST_NAME
    if not path.exists():
        return
    try:
        before = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return  # an unreadable manifest only loses this safety check
    changed = [key for key in _COMPARED if key in before and before[key] != manifest[key]]
    if changed:
        was = "; ".join(f"{key} was {before[key]!r}, now {manifest[key]!r}" for key in changed)
        raise UsageError(f"--resume {out_dir}: the options differ from the interrupted run ({was}); resume with the same options")


def _write_manifest(out_dir: Path, manifest: Mapping[str, Any]) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / MANIFEST_NAME).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n", encoding="utf-8")
