"""Which recorded call each tier replays, for one query of an eval trace.

A tier the cascade run called replays that call: its judged draft (from the
DRAFT_DECISION line: text in its streamed pieces, logprobs, tool calls), its answer
(the result), or its failure (the tier record's error, and what it had streamed).
A tier the cascade run never reached takes the answer of the eval's baseline run of
it, if one was recorded: `verifier` for the last tier, `drafter` for the first.
"""
from __future__ import annotations

from typing import Mapping

from cascadectl.config.model import CascadeConfig
from cascadectl.traces.attempts import Attempt
from cascadectl.traces.recording import ReadRecording, RecordedStep, TierRecording, calls_signature
from cascadectl.traces.records import DraftRecord, TierRecord


def recordings(
    config: CascadeConfig, cascade: Attempt, drafter: Attempt | None, verifier: Attempt | None
) -> dict[str, TierRecording]:
    called = {record.tier: record for record in cascade.tier_records() if record.phase != "score"}
    drafts = {d.tier: d.draft for d in cascade.decisions()}
    partials = _partials(cascade)
    out: dict[str, TierRecording] = {}
    for position, tier in enumerate(config.tiers):
        record = called.get(tier.name)
        if record is not None:
            found = _called(cascade, record, drafts.get(tier.name), partials.get(tier.name))
        else:
            baseline = verifier if position == len(config.tiers) - 1 else drafter if position == 0 else None
            found = _baseline(baseline)
        if found is not None:
            out[tier.name] = found
    return out


def recorded_steps(
    config: CascadeConfig, cascade: Attempt, drafter: Attempt | None, verifier: Attempt | None
) -> list[RecordedStep]:
    """A tool-loop query's recordings, step by step. A baseline's step stands in for a
    tier only when the baseline's earlier steps asked for the same tool calls."""
    mine = cascade.steps()
    theirs = {name: _steps_of(b) for name, b in (("drafter", drafter), ("verifier", verifier))}
    out: list[RecordedStep] = []
    for step, attempt in enumerate(mine):
        before = calls_signature(_calls(mine[:step]))
        match = {name: s[step] if len(s) > step and calls_signature(_calls(s[:step])) == before else None
                 for name, s in theirs.items()}
        out.append(RecordedStep(recordings(config, attempt, match["drafter"], match["verifier"]), reads(attempt), before))
    return out


def _steps_of(attempt: Attempt | None) -> list[Attempt]:
    return attempt.steps() if attempt is not None and attempt.finished else []


def _calls(steps: list[Attempt]) -> list[dict]:
    return [dict(c) for s in steps for c in (s.result or {}).get("tool_calls") or ()]


def reads(cascade: Attempt) -> list[ReadRecording]:
    """The reads of drafts (the likelihood signal) the recorded run made."""
    records = [r for r in cascade.tier_records() if r.phase == "score"]
    signals = [d.signals.get("likelihood") for d in cascade.decisions()]
    logprobs = {str(s.get("tier")): s.get("logprobs") or () for s in signals if s}
    return [ReadRecording.of(r, logprobs.get(r.tier, ())) for r in records]


def _called(attempt: Attempt, record: TierRecord, draft: DraftRecord | None, partial: DraftRecord | None) -> TierRecording | None:
    if draft is not None:
        return TierRecording.of_draft(draft, record, attempt.run)
    if record.status == "failed":
        return TierRecording.of_failure(record, attempt.run, partial)
    result = attempt.result
    if result is not None and result.get("tier_used") == record.tier:
        return TierRecording.of_answer(result, record, attempt.run)
    return None


def _baseline(attempt: Attempt | None) -> TierRecording | None:
    if attempt is None or not attempt.finished:
        return None
    records = attempt.tier_records()
    if not records:
        return None
    record = records[0]
    if record.status == "failed":
        return TierRecording.of_failure(record, attempt.run, _partials(attempt).get(record.tier))
    result = attempt.result
    return TierRecording.of_answer(result, record, attempt.run) if result is not None else None


def _partials(attempt: Attempt) -> Mapping[str, DraftRecord]:
    """What failed tiers had streamed before failing (switch and error lines)."""
    out = {s.from_tier: s.partial for s in attempt.switches() if s.partial is not None}
    error = attempt.error_record()
    if error is not None and error.partial is not None and error.tiers:
        out[error.tiers[-1].tier] = error.partial
    return out
