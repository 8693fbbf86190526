"""Recorded tier calls, as a replay re-emits them, and the deck a replay plays from.

A `TierRecording` is what one tier's call left in a trace: its text in the pieces it
streamed (with their logprobs), its tool-call fragments, refusal, usage, finish
reason, times and error. The `replay` provider turns one back into the deltas the
live provider sent, so the engine itself re-decides it (evals/replay.py). The
`ReplayDeck` holds the recordings of the query being replayed and the replay's clock:
the engine reads time from it, and the replay provider moves it to the recorded
first-token and end times, so replayed latencies are the recorded ones.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

from cascadectl.traces.records import DraftRecord, TierRecord

Chunk = tuple[str, tuple[float, ...]]
ToolFragment = tuple[str | None, str | None, str]  # id, name, raw JSON arguments


@dataclass(frozen=True)
class TierRecording:
    tier: str
    source: str  # the run it was recorded in: cascade | drafter | verifier
    draft: bool  # recorded as a judged draft (chunks and logprobs), not only as an answer
    chunks: tuple[Chunk, ...]
    tool_calls: tuple[ToolFragment, ...]
    usage: tuple[int, int, int, bool] | None  # input, output, cached input, estimated
    finish_reason: str | None
    refusal: str | None
    ttft_ms: float | None
    latency_ms: float
    aborted: bool  # cut short by early abort: the rest was never generated
    error: Mapping[str, Any] | None  # ProviderError.to_dict() of a failed call
    runtime: Mapping[str, Any] | None = None  # what the live provider reported of how it ran

    @classmethod
    def of_draft(cls, draft: DraftRecord, tier: TierRecord, source: str) -> TierRecording:
        calls = tuple((c.get("id"), c.get("name"), str(c.get("raw_arguments") or "")) for c in draft.tool_calls)
        return cls(
            tier.tier, source, True, split_chunks(draft), calls, _usage(tier), draft.finish_reason,
            draft.refusal, tier.ttft_ms, tier.latency_ms, tier.status == "aborted", tier.error, tier.runtime,
        )

    @classmethod
    def of_answer(cls, result: Mapping[str, Any], tier: TierRecord, source: str) -> TierRecording:
        content = str(result.get("content") or "")
        calls = tuple(
            (c.get("id"), c.get("name"), _raw(c.get("arguments"))) for c in result.get("tool_calls") or ()
        ) + tuple((c.get("id"), c.get("name"), str(c.get("raw_arguments") or "")) for c in result.get("incomplete_tool_calls") or ())
        chunks = ((content, ()),) if content else ()
        return cls(tier.tier, source, False, chunks, calls, _usage(tier), result.get("finish_reason"), None,
                   tier.ttft_ms, tier.latency_ms, False, None, tier.runtime)

    @classmethod
    def of_failure(cls, tier: TierRecord, source: str, partial: DraftRecord | None = None) -> TierRecording:
        """A call that failed; `partial` is the output it had streamed before failing."""
        chunks = split_chunks(partial) if partial is not None else ()
        billed = tier.input_tokens or tier.output_tokens
        return cls(tier.tier, source, False, chunks, (), _usage(tier) if billed else None, None, None,
                   tier.ttft_ms, tier.latency_ms, False, tier.error or {"kind": "api_error", "message": "failed"},
                   tier.runtime)


@dataclass(frozen=True)
class ReadRecording:
    """A tier's recorded read of a draft (the `likelihood` signal): what it scored."""

    tier: str
    logprobs: tuple[float, ...]
    input_tokens: int
    latency_ms: float
    error: Mapping[str, Any] | None
    runtime: Mapping[str, Any] | None = None

    @classmethod
    def of(cls, tier: TierRecord, logprobs: Sequence[float]) -> ReadRecording:
        return cls(tier.tier, tuple(float(lp) for lp in logprobs), tier.input_tokens, tier.latency_ms, tier.error,
                   tier.runtime)


def split_chunks(draft: DraftRecord) -> tuple[Chunk, ...]:
    """The draft's text and logprobs in the pieces they streamed in; one piece when the
    trace predates chunk boundaries."""
    logprobs = tuple(float(lp) for lp in draft.logprobs)
    if not draft.chunks:
        return ((draft.text, logprobs),) if draft.text or logprobs else ()
    out, at, lp_at = [], 0, 0
    for chars, count in draft.chunks:
        out.append((draft.text[at : at + chars], logprobs[lp_at : lp_at + count]))
        at, lp_at = at + chars, lp_at + count
    return tuple(out)


def _usage(tier: TierRecord) -> tuple[int, int, int, bool]:
    return (tier.input_tokens, tier.output_tokens, tier.cached_input_tokens, tier.tokens_estimated)


def _raw(arguments: Any) -> str:
    return arguments if isinstance(arguments, str) else json.dumps(arguments, ensure_ascii=False)


class ReplayDeck:
    """The recordings of the one query being replayed, by tier name, and its clock (in
    seconds from the query's start). Replays run one query at a time."""

    def __init__(self) -> None:
        self._now = 0.0
        self._recordings: dict[str, TierRecording] = {}
        self._reads: dict[str, ReadRecording] = {}
        self._steps: Sequence[RecordedStep] = ()
        self.played: list[TierRecording] = []

    def load(self, recordings: Mapping[str, TierRecording] | Sequence[TierRecording],
             reads: Sequence[ReadRecording] = ()) -> None:
        items = recordings.values() if isinstance(recordings, Mapping) else recordings
        self._recordings = {r.tier: r for r in items}
        self._reads = {r.tier: r for r in reads}
        self._steps = ()
        self.played = []
        self._now = 0.0

    def load_steps(self, steps: Sequence[RecordedStep]) -> None:
        """A tool-loop query: each step's recordings; the loop moves through them with
        `at_step`. The clock runs on across steps."""
        self.load(steps[0].recordings if steps else {}, steps[0].reads if steps else ())
        self._steps = tuple(steps)

    def at_step(self, step: int, calls_so_far: Sequence[Mapping[str, Any]]) -> None:
        """Play step `step`'s recordings; valid only if the replayed steps before it asked for
        the same tool calls (names and arguments) as the recorded ones, since what a
        recorded step answered depends on the conversation before it."""
        from cascadectl.errors import NotReplayableError

        if not self._steps:
            return
        if step >= len(self._steps):
            raise NotReplayableError(f"under this cascade the tool loop goes on to step {step}, which the recorded run never reached")
        recorded = self._steps[step]
        if calls_signature(calls_so_far) != recorded.calls_before:
            raise NotReplayableError(
                f"step {step}: under this cascade the earlier steps called tools differently from the recorded run, "
                "so its recorded answers belong to another conversation: run a fresh eval"
            )
        self._recordings = dict(recorded.recordings)
        self._reads = {r.tier: r for r in recorded.reads}


    def recording(self, tier: str) -> TierRecording | None:
        return self._recordings.get(tier)

    def read(self, tier: str) -> ReadRecording | None:
        return self._reads.get(tier)

    def now(self) -> float:
        return self._now

    def advance_to(self, t: float) -> None:
        self._now = max(self._now, t)


@dataclass(frozen=True)
class RecordedStep:
    """One tool-loop step of a recorded query: its calls by tier, and the tool calls (names
    and arguments, in order) the steps before it made."""

    recordings: Mapping[str, TierRecording]
    reads: Sequence[ReadRecording]
    calls_before: tuple[str, ...]


def calls_signature(calls: Sequence[Mapping[str, Any]]) -> tuple[str, ...]:
    from cascadectl.quality.toolchecks import call_key

    return tuple(call_key(c.get("name"), c.get("arguments")) for c in calls)
