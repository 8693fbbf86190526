"""`cascadectl eval --replay TRACES --cascade NEW.yaml`: re-decide recorded queries under
a new config through the engine itself, without calling any model.

Each recorded cascade query runs through a `CascadeAgent` in replay mode: its tiers
are `replay` providers that stream the recorded calls again (traces/recording.py;
which call each tier replays: replay_sources.py), and the engine reads the deck's
clock, so routing, drafting, deciding, switching, costs and the trace lines are the
engine's own, exactly as a live run under the new config would make them from the
same model outputs. Only wall times differ: a replayed latency is the recorded one.

The replay writes a fresh run directory: its `traces.jsonl` holds, per query, the
replayed `cascade` run (its query line says `replay: {status, source_run_id}`),
then the recorded `drafter`/`verifier` baseline lines copied unchanged (they are
measurements, still valid). A query the trace cannot answer for (say, a draft the new
config rejects with no verifier answer recorded: run the eval with `--baselines
verifier`) gets only its query line, with the reason, and the report counts it as
not run. Same traces and config in, the same answers and scores out.
"""
from __future__ import annotations

import asyncio
import json
import os
from contextlib import aclosing
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

from cascadectl.config.model import CascadeConfig
from cascadectl.errors import NotReplayableError, UsageError
from cascadectl.evals.plan import DEFAULT_FORMATS, TRACES_NAME, cascade_config
from cascadectl.evals.replay_sources import reads, recorded_steps, recordings
from cascadectl.evals.scorers import score_answer
from cascadectl.traces.attempts import Attempt, Attempts, read_attempts, trace_paths
from cascadectl.traces.recording import ReplayDeck
from cascadectl.traces.writer import QueryTrace, TraceWriter, new_run_id

BASELINE_RUNS = ("drafter", "verifier")
# Query-line fields the agent writes from the query itself; the rest is carried over.
_PARAMS = frozenset({"query", "messages", "max_tokens", "temperature", "complexity_hint", "force_direct",
                     "tools", "tool_choice", "draft_mode"})


@dataclass(frozen=True)
class ReplaySummary:
    out_dir: Path
    traces: Path
    run_id: str
    replayed: int
    changed: int  # queries whose draft decisions came out differently
    not_replayable: tuple[tuple[str, str], ...]  # (query id, why)
    report: dict[str, Any] | None = None
    report_paths: tuple[Path, ...] = ()


@dataclass(frozen=True)
class Replayed:
    """One query's replay: what the engine decided and answered, and its score."""

    replayed: bool
    changed: bool = False  # its draft decisions came out differently from the recording
    reason: str = ""  # why it is not replayable
    result: Mapping[str, Any] | None = None
    decisions: tuple[Mapping[str, Any], ...] = ()  # DecisionRecord.to_dict() per judged draft
    score: Mapping[str, Any] | None = None


def replay_eval(
    traces: Sequence[str | os.PathLike[str]],
    cascade: CascadeConfig | str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    *,
    formats: Sequence[str] = DEFAULT_FORMATS,
) -> ReplaySummary:
    config = cascade_config(cascade)
    attempts = read_attempts(trace_paths([Path(t) for t in traces]))
    _check_same_models(config, attempts)
    out = Path(out_dir)
    target = out / TRACES_NAME
    if target.exists() and target.stat().st_size > 0:
        raise UsageError(f"{target} already exists: choose another --out for the replay")
    with TraceWriter(target, run_id=new_run_id()) as writer:
        outcomes = asyncio.run(replay_attempts(config, attempts, writer))
    report, paths = _report(target, out, formats)
    missing = tuple((qid, o.reason) for qid, o in outcomes.items() if not o.replayed)
    replayed = [o for o in outcomes.values() if o.replayed]
    return ReplaySummary(out, target, writer.run_id, len(replayed), sum(o.changed for o in replayed), missing, report, paths)


async def replay_attempts(
    config: CascadeConfig, attempts: Attempts, writer: TraceWriter | None,
    query_ids: Sequence[str] | None = None, copy_baselines: bool = True,
) -> dict[str, Replayed]:
    """Replay the recorded cascade queries (all, or `query_ids`) under `config`, writing
    their lines (and, with `copy_baselines`, the recorded baseline runs) to `writer`;
    with no writer, nothing is written (`tune` measures thousands of candidates)."""
    from cascadectl.cascade.agent import CascadeAgent

    deck = ReplayDeck()
    agent = CascadeAgent(config=config, replay=deck)
    outcomes: dict[str, Replayed] = {}
    try:
        for query_id in attempts.order if query_ids is None else query_ids:
            attempt = attempts.finished("cascade", query_id)
            if attempt is not None:
                outcomes[query_id] = await _replay_one(agent, deck, attempts, attempt, writer)
            for run in BASELINE_RUNS if copy_baselines and writer is not None else ():
                _copy(attempts.finished(run, query_id), writer)
    finally:
        await agent.aclose()
    return outcomes


async def _replay_one(
    agent: Any, deck: ReplayDeck, attempts: Attempts, attempt: Attempt, writer: TraceWriter | None
) -> Replayed:
    qid, recorded = attempt.query_id, attempt.query
    qtrace = writer.query(qid, {"run": "cascade"}, hold=True) if writer is not None else None
    origin = {"source_run_id": attempt.run_id}
    item = recorded.get("item")
    try:
        if not isinstance(item, Mapping):
            raise NotReplayableError("not an eval trace line (the query line has no evalset item)")
        drafter, verifier = attempts.finished("drafter", qid), attempts.finished("verifier", qid)
        loop: dict[str, Any] = {}
        if attempt.looped:
            from cascadectl.tools.canned import CannedTools

            deck.load_steps(recorded_steps(agent.config, attempt, drafter, verifier))
            outcomes = [o for a in (attempt, drafter, verifier) if a is not None for o in a.tool_outcomes()]
            loop = {"tool_executor": CannedTools(outcomes), "max_steps": item.get("max_steps") or 8}
        else:
            deck.load(recordings(agent.config, attempt, drafter, verifier), reads(attempt))
        carried = {k: v for k, v in recorded.items() if k not in _PARAMS}
        data = {**carried, "replay": {**origin, "status": "replayed"}}
        result, decisions = await _run(agent, deck, recorded, item, qtrace, data, loop)
    except NotReplayableError as exc:
        if qtrace is not None:
            qtrace.discard()
            qtrace.start({**recorded, "replay": {**origin, "status": "not_replayable", "reason": str(exc)}})
            qtrace.commit()
        return Replayed(False, reason=str(exc))
    score = _score(item, result, (attempt, verifier, drafter))
    if qtrace is not None:
        qtrace.commit()
        qtrace.record("score", score)
    before = [d.accepted for d in attempt.decisions()]
    return Replayed(True, before != [bool(d["accepted"]) for d in decisions], "", result, tuple(decisions), score)


async def _run(
    agent: Any, deck: ReplayDeck, recorded: Mapping[str, Any], item: Mapping[str, Any],
    qtrace: QueryTrace | None, data: Mapping[str, Any], loop: Mapping[str, Any],
) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
    """The recorded query through the agent, as the live run sent it (with `loop`, the
    tool loop, its tools answering with the recorded results)."""
    events = agent.stream_events(
        None, messages=list(recorded.get("messages") or ()), max_tokens=recorded.get("max_tokens"),
        temperature=recorded.get("temperature"), complexity_hint=recorded.get("complexity_hint"),
        force_direct=bool(recorded.get("force_direct")), tools=list(item.get("tools") or ()) or None,
        tool_choice=item.get("tool_choice"), draft_mode=recorded.get("draft_mode"),
        trace=qtrace, trace_query_data=data, **loop,
    )
    result: dict[str, Any] | None = None
    decisions: list[dict[str, Any]] = []
    async with aclosing(events) as stream:
        async for event in stream:
            kind = event.type.value
            if kind == "draft_decision":
                _check_drafted(deck, str(event.data["tier"]))
                decisions.append(event.data)
            elif kind == "complete":
                result = event.data["result"]
    return result, decisions


def _check_drafted(deck: ReplayDeck, tier: str) -> None:
    recording = deck.recording(tier)
    if recording is None or not recording.draft:
        raise NotReplayableError(
            f"tier {tier!r} drafts under this cascade, but the recorded run has only its answer, without the "
            "logprobs and streamed pieces a decision reads: run a fresh eval"
        )


def _score(item: Mapping[str, Any], result: Mapping[str, Any] | None, sources: Sequence[Attempt | None]) -> dict[str, Any]:
    verdict = None
    judged = result is not None and item.get("scorer") == "judge"
    if judged:
        verdict = _recorded_verdict(sources, str(result.get("content") or ""))  # type: ignore[union-attr]
    data = score_answer(item, result, judge=verdict).to_dict()
    if judged and verdict is None:
        data["detail"] = "error: no recorded judge verdict for this answer (a replay calls no model)"
    return data


def _recorded_verdict(sources: Sequence[Attempt | None], content: str) -> float | None:
    """A judge verdict recorded for the very same answer text, reused as is."""
    for attempt in sources:
        if attempt is None or attempt.result is None or attempt.result.get("content") != content:
            continue
        judge = (attempt.score or {}).get("judge") or {}
        if judge.get("verdict") is not None:
            return float(judge["verdict"])
    return None


def _copy(attempt: Attempt | None, writer: TraceWriter) -> None:
    if attempt is not None:
        writer.write_lines([json.dumps(line, ensure_ascii=False) + "\n" for line in attempt.lines])


def _check_same_models(config: CascadeConfig, attempts: Attempts) -> None:
    """Recorded calls are only valid evidence for the models that made them."""
    models = {t.name: t.model for t in config.tiers}
    for attempt in attempts.chosen.values():
        for record in attempt.tier_records():
            if record.tier in models and record.model != models[record.tier]:
                raise UsageError(
                    f"--replay: tier {record.tier!r} was {record.model!r} in the recorded run but is "
                    f"{models[record.tier]!r} in {config.source or config.name}; a replay re-decides recorded "
                    "drafts, so the models must stay the same (run a fresh eval for a new model)"
                )


def _report(traces: Path, out_dir: Path, formats: Sequence[str]) -> tuple[dict[str, Any] | None, tuple[Path, ...]]:
    if not formats:
        return None, ()
    from cascadectl.reports.report import build_report, write_report

    report = build_report([traces])
    return report, tuple(write_report(report, out_dir, formats))
