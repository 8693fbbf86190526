"""The `replay` provider: a recorded tier call, streamed again as the deltas the live
provider sent. Its wire protocol is the trace (traces/recording.py).

Deltas come in the recorded order: text in its recorded pieces with their logprobs,
tool-call fragments, the refusal, usage (marked estimated where the live figures
were), the finish reason, then the recorded error if the call failed. The deck's
clock moves to the recorded first-token time before the first delta and to the
recorded end when the stream ends or is closed, so the engine measures the recorded
latencies. A draft that the live run cut short by early abort has no more text: if
the engine asks for more of it, the query is not replayable (NotReplayableError).
"""
from __future__ import annotations

from typing import Any, AsyncIterator, Mapping

from cascadectl.config.model import TierConfig
from cascadectl.errors import NotReplayableError, ProviderError
from cascadectl.providers.base import ProviderRequest, Scored
from cascadectl.streaming.deltas import Delta, ExtraDelta, FinishDelta, TextDelta, TokenLogprob, ToolCallDelta, UsageDelta
from cascadectl.traces.recording import ReplayDeck, TierRecording


class ReplayProvider:
    name = "replay"

    def __init__(self, tier: TierConfig, deck: ReplayDeck) -> None:
        self.tier = tier
        self.deck = deck
        self.runtime: Mapping[str, Any] | None = None  # the recorded call's, for its tier record

    async def aclose(self) -> None:
        return None

    async def score(self, request: ProviderRequest, text: str) -> Scored:
        read = self.deck.read(self.tier.name)
        if read is None:
            raise NotReplayableError(
                f"tier {self.tier.name!r} reads the draft under this cascade (the likelihood signal), but the "
                "recorded run has no such read: run a fresh eval with this validator"
            )
        self.runtime = read.runtime
        self.deck.advance_to(self.deck.now() + read.latency_ms / 1000.0)
        if read.error is not None:
            raise ProviderError.from_dict(read.error)
        return Scored(read.logprobs, read.input_tokens)

    async def stream(self, request: ProviderRequest) -> AsyncIterator[Delta]:
        recording = self.deck.recording(self.tier.name)
        if recording is None:
            raise NotReplayableError(
                f"tier {self.tier.name!r} is called under this cascade, but the recorded run has no call of it "
                "(run the eval with --baselines verifier to record the verifier's answers)"
            )
        self.deck.played.append(recording)
        self.runtime = recording.runtime
        start = self.deck.now()
        try:
            for delta in _deltas(recording, lambda: self.deck.advance_to(start + (recording.ttft_ms or 0.0) / 1000.0)):
                yield delta
        finally:
            self.deck.advance_to(start + recording.latency_ms / 1000.0)


def _deltas(rec: TierRecording, first_token: Any) -> Any:
    started = False
    for text, logprobs in rec.chunks:
        if not started:
            first_token()
            started = True
        yield TextDelta(text, tuple(TokenLogprob("", lp) for lp in logprobs) or None)
    for index, (call_id, name, arguments) in enumerate(rec.tool_calls):
        if not started:
            first_token()
            started = True
        yield ToolCallDelta(index, call_id, name, arguments)
    if rec.refusal:
        yield ExtraDelta("refusal", rec.refusal)
    if rec.aborted:
        raise NotReplayableError(
            f"tier {rec.tier!r}: the recorded draft was cut short by early abort, and under this cascade it "
            "would have gone on: the rest of it was never generated"
        )
    if rec.usage is not None:
        inp, out, cached, estimated = rec.usage
        yield UsageDelta(inp, out, cached, estimated)
    if rec.finish_reason:
        yield FinishDelta(rec.finish_reason)
    if rec.error is not None:
        raise ProviderError.from_dict(rec.error)
