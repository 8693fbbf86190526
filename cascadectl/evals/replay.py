"""`cascadectl eval --replay TRACES --cascade NEW.yaml`: re-decide recorded drafts
under new thresholds or validators, without calling any model.

The replay writes a fresh run directory: its `traces.jsonl` holds, for each
query, a `cascade` run re-decided under the new config (query, routing,
draft_decision, switch, complete or error, score; no chunk lines) followed by
the recorded `drafter`/`verifier` baseline lines copied unchanged (they are
measurements, still valid). Each replayed query line says `replay: {status,
source_run_id}`. A query the trace cannot answer for (e.g. a draft that the
new config rejects but no verifier answer was recorded: run the eval with
`--baselines verifier`) gets only its query line, so the report counts it as
not run. Same traces and config in, byte-identical answers and scores out.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

from cascadectl.config.model import CascadeConfig
from cascadectl.errors import UsageError
from cascadectl.evals.replay_decide import Redecider, Replayed, Sources, Unreplayable
from cascadectl.evals.replay_load import Attempt, Recorded, load_recorded, trace_paths
from cascadectl.evals.replay_result import phase_of
from cascadectl.evals.plan import DEFAULT_FORMATS, TRACES_NAME, cascade_config
from cascadectl.evals.scorers import score_answer
from cascadectl.streaming.events import StreamEvent, StreamEventType
from cascadectl.traces.writer import QueryTrace, TraceWriter, new_run_id

S = StreamEventType
BASELINE_RUNS = ("drafter", "verifier")


@dataclass(frozen=True)
class ReplaySummary:
    out_dir: Path
    traces: Path
    run_id: str
    replayed: int
    changed: int  # queries whose draft decision came out differently
    not_replayable: tuple[tuple[str, str], ...]  # (query id, why)
    report: dict[str, Any] | None = None
    report_paths: tuple[Path, ...] = ()


def replay_eval(
    traces: Sequence[str | os.PathLike[str]],
    cascade: CascadeConfig | str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    *,
    formats: Sequence[str] = DEFAULT_FORMATS,
) -> ReplaySummary:
    from cascadectl.pricing import resolve_price

    config = cascade_config(cascade)
    recorded = load_recorded(trace_paths([Path(t) for t in traces]))
    _check_same_models(config, recorded)
    out = Path(out_dir)
    target = out / TRACES_NAME
    if target.exists() and target.stat().st_size > 0:
        raise UsageError(f"{target} already exists: choose another --out for the replay")
    redecider = Redecider(config, [resolve_price(t.model, t.price) for t in config.tiers])
    with TraceWriter(target, run_id=new_run_id()) as writer:
        counts = _replay_all(redecider, recorded, writer)
    report, paths = _report(target, out, formats)
    return ReplaySummary(out, target, writer.run_id, counts[0], counts[1], counts[2], report, paths)


def _replay_all(redecider: Redecider, recorded: Recorded, writer: TraceWriter) -> tuple[int, int, tuple[tuple[str, str], ...]]:
    replayed = changed = 0
    missing: list[tuple[str, str]] = []
    for query_id in recorded.order:
        attempt = recorded.get("cascade", query_id)
        if attempt is not None:
            outcome = _replay_one(redecider, recorded, attempt, writer)
            if isinstance(outcome, str):
                missing.append((query_id, outcome))
            else:
                replayed += 1
                changed += _decision_changed(attempt, outcome)
        for run in BASELINE_RUNS:
            _copy(recorded.get(run, query_id), writer)
    return replayed, changed, tuple(missing)


def _replay_one(redecider: Redecider, recorded: Recorded, attempt: Attempt, writer: TraceWriter) -> Replayed | str:
    qid = attempt.query_id
    sources = Sources(attempt, recorded.get("drafter", qid), recorded.get("verifier", qid))
    qtrace = writer.query(qid, {"run": "cascade"})
    origin = {"source_run_id": attempt.run_id}
    try:
        if not attempt.query.get("item"):
            raise Unreplayable("not an eval trace line (the query line has no evalset item)")
        replayed = redecider.replay(sources)
    except Unreplayable as exc:
        qtrace.start({**attempt.query, "replay": {**origin, "status": "not_replayable", "reason": str(exc)}})
        return str(exc)
    qtrace.start({**attempt.query, "replay": {**origin, "status": "replayed"}})
    _write_events(redecider.config, replayed, qtrace)
    qtrace.record("score", _score(attempt.query["item"], replayed, sources))
    return replayed


def _write_events(config: CascadeConfig, replayed: Replayed, qtrace: QueryTrace) -> None:
    route, last = replayed.route, len(config.tiers) - 1
    qtrace.event(StreamEvent(S.ROUTING, "", route.to_data(config)))
    for step in replayed.steps:
        tier, phase = config.tiers[step.index], phase_of(route, step.index, last)
        if step.decision is not None:
            data = {**step.decision.to_dict(), "tier": tier.name, "complexity": route.complexity, "draft": step.draft}
            qtrace.event(StreamEvent(S.DRAFT_DECISION, "", data, tier.model, phase))
        if step.status in ("rejected", "aborted", "failed") and step.index < last:
            qtrace.event(StreamEvent(S.SWITCH, "", _switch(config, step), tier.model, phase))
    final = config.tiers[replayed.steps[-1].index]
    final_phase = phase_of(route, replayed.steps[-1].index, last)
    if replayed.result is not None:
        qtrace.event(StreamEvent(S.COMPLETE, "", {"result": replayed.result}, final.model, final_phase))
    else:
        qtrace.event(StreamEvent(S.ERROR, "", dict(replayed.error or {}), final.model, final_phase))


def _switch(config: CascadeConfig, step: Any) -> dict[str, Any]:
    here, nxt = config.tiers[step.index], config.tiers[step.index + 1]
    kinds = {"rejected": "rejected", "aborted": "early_abort", "failed": "provider_error"}
    reason = step.decision.reason if step.decision is not None else f"provider error: {(step.use.error or {}).get('message', '')}"
    return {
        "from_model": here.model, "to_model": nxt.model, "from_tier": here.name, "to_tier": nxt.name,
        "reason": reason, "kind": kinds[step.status], "retract": False,
    }


def _score(item: Mapping[str, Any], replayed: Replayed, sources: Sources) -> dict[str, Any]:
    verdict = None
    if replayed.result is not None and item.get("scorer") == "judge":
        verdict = _recorded_verdict(sources, str(replayed.result.get("content") or ""))
    data = score_answer(item, replayed.result, judge=verdict).to_dict()
    if verdict is None and item.get("scorer") == "judge" and replayed.result is not None:
        data["detail"] = "error: no recorded judge verdict for this answer (a replay calls no model)"
    return data


def _recorded_verdict(sources: Sources, content: str) -> float | None:
    """A judge verdict recorded for the very same answer text, reused as is."""
    for attempt in (sources.cascade, sources.verifier, sources.drafter):
        if attempt is None or attempt.result is None or attempt.result.get("content") != content:
            continue
        judge = (attempt.first("score") or {}).get("judge") or {}
        if judge.get("verdict") is not None:
            return float(judge["verdict"])
    return None


def _decision_changed(attempt: Attempt, replayed: Replayed) -> bool:
    before = [bool(d.get("accepted")) for d in attempt.all("draft_decision")]
    after = [step.decision.accepted for step in replayed.steps if step.decision is not None]
    return before != after


def _copy(attempt: Attempt | None, writer: TraceWriter) -> None:
    if attempt is not None:
        writer.write_lines([json.dumps(line, ensure_ascii=False) + "\n" for line in attempt.lines])


def _check_same_models(config: CascadeConfig, recorded: Recorded) -> None:
    """Recorded drafts are only valid evidence for the models that wrote them."""
    models = {t.name: t.model for t in config.tiers}
    for attempt in recorded.attempts.values():
        source = attempt.result or attempt.error or {}
        for entry in source.get("tiers") or ():
            name, model = entry.get("tier"), entry.get("model")
            if name in models and model != models[name]:
                raise UsageError(
                    f"--replay: tier {name!r} was {model!r} in the recorded run but is {models[name]!r} in "
                    f"{config.source or config.name}; a replay re-decides recorded drafts, so the models must "
                    "stay the same (run a fresh eval for a new model)"
                )


def _report(traces: Path, out_dir: Path, formats: Sequence[str]) -> tuple[dict[str, Any] | None, tuple[Path, ...]]:
    if not formats:
        return None, ()
    from cascadectl.reports.report import build_report, write_report

    report = build_report([traces])
    return report, tuple(write_report(report, out_dir, formats))
